/*
 * ticket.h: signed, expiring login tickets for what cannot send a password
 * in a header or a first message (a browser's EventSource).
 *
 * A ticket is USER:EXPIRY:SIGNATURE: a user's name, the Unix time (in
 * seconds) until which the ticket is good, and HMAC-SHA256 of
 * "USER:EXPIRY" keyed with http.ticket_secret, in lower-case hex. The
 * application's server, which knows the secret, makes one for its user;
 * for instance
 *	printf %s "alice:1767225600" | openssl dgst -sha256 -hmac "$SECRET"
 * A ticket holds no password, and is worth nothing after its time.
 */
#ifndef PUBSUBD_TICKET_H
#define PUBSUBD_TICKET_H

#include <stddef.h>
#include <time.h>

/* The shortest http.ticket_secret accepted, in bytes. */
#define TICKET_SECRET_MIN	16

enum ticket_check {
	TICKET_OK = 0,
	TICKET_MALFORMED,	/* not USER:EXPIRY:64 hex digits */
	TICKET_EXPIRED,		/* its time has passed */
	TICKET_FORGED		/* the signature does not match */
};

/*
 * Checks the ticket of len bytes against secret at time now; on TICKET_OK
 * the user's name is in user (NUL-terminated; userlen bytes of room, more
 * is TICKET_MALFORMED). The signature is compared in constant time.
 */
enum ticket_check ticket_check(const char *secret, const char *ticket,
		    size_t len, time_t now, char *user, size_t userlen);

/* Writes the signature of "USER:EXPIRY" (64 hex digits and a NUL) to out. */
int		 ticket_sign(const char *secret, const char *text, size_t len,
		    char out[65]);

#endif /* PUBSUBD_TICKET_H */
