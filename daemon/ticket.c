/*
 * ticket.c: login tickets (see ticket.h), signed with OpenSSL's HMAC.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ticket.h"

int
ticket_sign(const char *secret, const char *text, size_t len, char out[65])
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 mac[EVP_MAX_MD_SIZE];
	unsigned int		 n = 0, i;

	if (HMAC(EVP_sha256(), secret, (int)strlen(secret),
	    (const unsigned char *)text, len, mac, &n) == NULL || n != 32)
		return -1;
	for (i = 0; i < n; i++) {
		out[2 * i] = hex[mac[i] >> 4];
		out[2 * i + 1] = hex[mac[i] & 15];
	}
	out[64] = '\0';
	OPENSSL_cleanse(mac, sizeof(mac));
	return 0;
}

enum ticket_check
ticket_check(const char *secret, const char *ticket, size_t len, time_t now,
    char *user, size_t userlen)
{
	const char	*c1, *c2, *p;
	char		 want[65];
	long long	 expiry = 0;
	size_t		 ulen, signedlen;
	int		 same;

	if ((c2 = memrchr(ticket, ':', len)) == NULL || c2 == ticket ||
	    (c1 = memrchr(ticket, ':', (size_t)(c2 - ticket))) == NULL ||
	    c1 == ticket || (size_t)(ticket + len - c2 - 1) != 64 ||
	    c2 - c1 - 1 < 1 || c2 - c1 - 1 > 18)
		return TICKET_MALFORMED;
	for (p = c1 + 1; p < c2; p++) {
		if (*p < '0' || *p > '9')
			return TICKET_MALFORMED;
		expiry = expiry * 10 + (*p - '0');
	}
	ulen = (size_t)(c1 - ticket);
	if (ulen >= userlen || memchr(ticket, '\0', ulen) != NULL)
		return TICKET_MALFORMED;
	signedlen = (size_t)(c2 - ticket);
	if (ticket_sign(secret, ticket, signedlen, want) == -1)
		return TICKET_FORGED;
	same = CRYPTO_memcmp(want, c2 + 1, 64) == 0;
	OPENSSL_cleanse(want, sizeof(want));
	if (!same)
		return TICKET_FORGED;
	if ((long long)now > expiry)
		return TICKET_EXPIRED;
	memcpy(user, ticket, ulen);
	user[ulen] = '\0';
	return TICKET_OK;
}
