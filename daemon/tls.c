/*
 * tls.c: OpenSSL contexts and connections for TLS clients, and for TLS to
 * Redis.
 *
 * Everything OpenSSL is kept here, so that client.c and the connections to
 * Redis only see a bufferevent, or an SSL to hand to hiredis. A context is
 * checked whole when it is made (every file read and parsed, the key
 * matched against the certificate): a reload with a bad new file fails
 * before anything changes.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>

#include "conf.h"
#include "log.h"
#include "tls.h"

/* Names pubsubd's sessions (OpenSSL resumes only within one name). */
static const unsigned char tls_session_ctx[] = "pubsubd";

static void	tls_fail(const char *, unsigned int, char *, size_t,
		    const char *, ...) __attribute__((format(printf, 5, 6)));
static int	tls_no_passphrase(char *, int, int, void *);
static int	tls_digest_file(EVP_MD_CTX *, const char *);
static int	tls_digest_str(EVP_MD_CTX *, const char *);
static int	tls_is_address(const char *);
static void	tls_ctx_options(SSL_CTX *, const struct conf_tls *);
static struct bufferevent *tls_bev_new(struct event_base *,
		    evutil_socket_t, SSL *, enum bufferevent_ssl_state);

/*
 * Writes "PATH:LINE: message: OpenSSL's last reason" into err and clears
 * OpenSSL's error queue (the reasons are this thread's, left by the call
 * that failed).
 */
static void
tls_fail(const char *path, unsigned int line, char *err, size_t errlen,
    const char *fmt, ...)
{
	char		msg[512], why[256];
	unsigned long	e;
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if ((e = ERR_peek_last_error()) != 0) {
		ERR_error_string_n(e, why, sizeof(why));
		snprintf(err, errlen, "%s:%u: %s: %s", path, line, msg, why);
	} else
		snprintf(err, errlen, "%s:%u: %s", path, line, msg);
	ERR_clear_error();
}

/*
 * OpenSSL asks for the passphrase of an encrypted key: a daemon has no one
 * to ask (OpenSSL's default would read the terminal), so loading fails.
 */
static int
tls_no_passphrase(char *buf, int size, int rwflag, void *arg)
{
	return 0;
}

/* The settings of a server context that no file or failure touches. */
static void
tls_ctx_options(SSL_CTX *ctx, const struct conf_tls *t)
{
	SSL_CTX_set_default_passwd_cb(ctx, tls_no_passphrase);
	/*
	 * No renegotiation (a client could make us redo the costly part of
	 * a handshake at will); buffers given back while a connection is
	 * idle (most subscribers are, most of the time).
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	/*
	 * OpenSSL 3 takes a peer that closes without close_notify (most
	 * clients, and any that is killed) for an error; it is their end of
	 * input, as libevent's dirty shutdown (tls_accept()) means it to be.
	 * Nothing is lost to a truncation: only whole requests are served.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/*
	 * No server-side session cache: it kept every client's session, up
	 * to 20,480 of them, also after the clients left (measured: 22.5 kB
	 * of RSS per idle TLS subscriber without it, 24.2 kB with it, 2,000
	 * subscribers). Clients resume with tickets, which the server does
	 * not keep (TLSv1.3, and TLSv1.2 with RFC 5077).
	 */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
#ifdef SSL_OP_ENABLE_KTLS
	/*
	 * Once the handshake is done, OpenSSL hands the keys to the kernel
	 * where it has the tls module and the cipher allows (the records are
	 * then encrypted in sendmsg()); where not, it goes on encrypting them
	 * itself, and nothing else changes.
	 */
	if (t->ktls)
		SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
#endif
}

/* Makes the context of the tls group t. */
struct ssl_ctx_st *
tls_ctx_new(const struct conf_tls *t, const char *path, char *err,
    size_t errlen)
{
	SSL_CTX			*ctx;
	STACK_OF(X509_NAME)	*names;
	int			 mode;

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		tls_fail(path, t->line, err, errlen, "cannot make a TLS "
		    "context");
		return NULL;
	}
	tls_ctx_options(ctx, t);
	if (SSL_CTX_set_min_proto_version(ctx, t->min_version == 13 ?
	    TLS1_3_VERSION : TLS1_2_VERSION) != 1) {
		tls_fail(path, t->line, err, errlen, "cannot set the minimum "
		    "TLS version");
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, t->cert) != 1) {
		tls_fail(path, t->cert_line, err, errlen, "'certificate': "
		    "cannot load %s (a PEM certificate, then its chain)",
		    t->cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, t->key, SSL_FILETYPE_PEM) != 1) {
		/* OpenSSL matches the key to the certificate as it loads it. */
		if (ERR_GET_REASON(ERR_peek_last_error()) ==
		    X509_R_KEY_VALUES_MISMATCH) {
			tls_fail(path, t->key_line, err, errlen,
			    "'private_key': %s does not match the certificate "
			    "%s", t->key, t->cert);
			goto fail;
		}
		tls_fail(path, t->key_line, err, errlen, "'private_key': "
		    "cannot load %s (an unencrypted PEM key)", t->key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		tls_fail(path, t->key_line, err, errlen, "'private_key': %s "
		    "does not match the certificate %s", t->key, t->cert);
		goto fail;
	}
	if (t->ciphers != NULL &&
	    SSL_CTX_set_cipher_list(ctx, t->ciphers) != 1) {
		tls_fail(path, t->ciphers_line, err, errlen, "'ciphers': no "
		    "cipher OpenSSL knows in \"%s\"", t->ciphers);
		goto fail;
	}
	if (t->ciphersuites != NULL &&
	    SSL_CTX_set_ciphersuites(ctx, t->ciphersuites) != 1) {
		tls_fail(path, t->ciphersuites_line, err, errlen,
		    "'ciphersuites': not a TLSv1.3 cipher suite list OpenSSL "
		    "takes: \"%s\"", t->ciphersuites);
		goto fail;
	}
	if (t->ca != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, t->ca, NULL) != 1 ||
		    (names = SSL_load_client_CA_file(t->ca)) == NULL) {
			tls_fail(path, t->ca_line, err, errlen, "'ca_file': "
			    "cannot load %s (PEM certificates)", t->ca);
			goto fail;
		}
		/* Tells clients which CAs their certificate may come from. */
		SSL_CTX_set_client_CA_list(ctx, names);
	}
	if (t->verify != CONF_VERIFY_NO) {
		mode = SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE;
		if (t->verify == CONF_VERIFY_REQUIRED)
			mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
		SSL_CTX_set_verify(ctx, mode, NULL);
	}
	/* Resuming a verified session needs a name for the sessions. */
	if (SSL_CTX_set_session_id_context(ctx, tls_session_ctx,
	    sizeof(tls_session_ctx) - 1) != 1) {
		tls_fail(path, t->line, err, errlen, "cannot name the TLS "
		    "sessions");
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* One more reference. */
struct ssl_ctx_st *
tls_ctx_ref(struct ssl_ctx_st *ctx)
{
	SSL_CTX_up_ref(ctx);
	return ctx;
}

/* One reference less. */
void
tls_ctx_unref(struct ssl_ctx_st *ctx)
{
	SSL_CTX_free(ctx);	/* NULL-safe */
}

/*
 * A bufferevent for ssl on fd (-1: one it makes when connecting), in
 * state. It owns the socket and the SSL from then on (both freed with it:
 * BEV_OPT_CLOSE_ON_FREE); on failure it took neither, and ssl is freed
 * here. NULL on failure.
 */
static struct bufferevent *
tls_bev_new(struct event_base *base, evutil_socket_t fd, SSL *ssl,
    enum bufferevent_ssl_state state)
{
	struct bufferevent	*bev;

	bev = bufferevent_openssl_socket_new(base, fd, ssl, state,
	    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		ERR_clear_error();
		return NULL;
	}
	/*
	 * Most peers close without TLS' close_notify (redis-cli, or any
	 * killed process): that is their end of input, not an error.
	 */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

/* Starts a server handshake on fd. */
struct bufferevent *
tls_accept(struct event_base *base, struct ssl_ctx_st *ctx,
    evutil_socket_t fd)
{
	SSL	*ssl;

	if ((ssl = SSL_new(ctx)) == NULL) {
		ERR_clear_error();
		return NULL;
	}
	return tls_bev_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING);
}

/* Why bev's connection failed. */
const char *
tls_error(struct bufferevent *bev, char *buf, size_t len)
{
	unsigned long	e, reason = 0, code = 0;
	int		serr = EVUTIL_SOCKET_ERROR();

	/*
	 * libevent keeps SSL_get_error()'s code, then OpenSSL's reasons,
	 * and hands them back last first: the first real reason (one with
	 * a library) is the most precise ("certificate verify failed").
	 */
	while ((e = bufferevent_get_openssl_error(bev)) != 0) {
		if (ERR_GET_LIB(e) != 0) {
			if (reason == 0)
				reason = e;
		} else
			code = e;
	}
	if (reason != 0)
		ERR_error_string_n(reason, buf, len);
	else if (code == SSL_ERROR_SYSCALL && serr != 0 && serr != EAGAIN)
		snprintf(buf, len, "%s", evutil_socket_error_to_string(serr));
	else if (code == SSL_ERROR_SYSCALL || code == SSL_ERROR_ZERO_RETURN)
		snprintf(buf, len, "the peer closed the connection");
	else
		snprintf(buf, len, "TLS error %lu", code);
	return buf;
}

int
tls_ktls_send(struct bufferevent *bev)
{
	SSL	*ssl = bufferevent_openssl_get_ssl(bev);

	return ssl != NULL && SSL_get_wbio(ssl) != NULL &&
	    BIO_get_ktls_send(SSL_get_wbio(ssl)) > 0;
}

int
tls_ktls_kernel(char *buf, size_t len)
{
	char	 copy[256], *w, *save = NULL;
	FILE	*f;
	int	 found = 0;

	snprintf(buf, len, "none");
	if ((f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "r")) == NULL)
		return 0;
	if (fgets(copy, sizeof(copy), f) == NULL)
		copy[0] = '\0';
	fclose(f);
	copy[strcspn(copy, "\n")] = '\0';
	if (copy[0] != '\0')
		snprintf(buf, len, "%s", copy);
	for (w = strtok_r(copy, " ", &save); w != NULL;
	    w = strtok_r(NULL, " ", &save))
		found |= strcmp(w, "tls") == 0;
	return found;
}

void
tls_log_ktls(int configured)
{
	char	ulps[256];

	if (!configured)
		log_notice("TLS: kTLS off (tls.ktls = false): OpenSSL encrypts "
		    "every record");
	else if (tls_ktls_kernel(ulps, sizeof(ulps)))
		log_notice("TLS: kTLS on: the kernel encrypts the records of "
		    "connections whose cipher it has (INFO: "
		    "total_tls_ktls_connections)");
	else
		log_notice("TLS: kTLS asked for, but the kernel offers no tls "
		    "(tcp_available_ulp: %s): OpenSSL encrypts every record, "
		    "unless the module loads on first use", ulps);
}

/* The connection's protocol version. */
const char *
tls_version(struct bufferevent *bev)
{
	SSL	*ssl = bufferevent_openssl_get_ssl(bev);

	return ssl != NULL ? SSL_get_version(ssl) : "?";
}

/*
 * Adds a string (NULL too, told apart from "") to the digest md. Returns 1,
 * or 0 on failure.
 */
static int
tls_digest_str(EVP_MD_CTX *md, const char *str)
{
	unsigned char	tag = str != NULL;

	if (EVP_DigestUpdate(md, &tag, 1) != 1)
		return 0;
	return str == NULL || EVP_DigestUpdate(md, str, strlen(str) + 1) == 1;
}

/*
 * Adds the name and the contents of file path (NULL: none) to the digest
 * md. Returns 1, or 0 if it cannot be read (the load reports why).
 */
static int
tls_digest_file(EVP_MD_CTX *md, const char *path)
{
	unsigned char	 buf[4096];
	size_t		 n;
	FILE		*f;
	int		 ok = 1;

	if (!tls_digest_str(md, path) || path == NULL)
		return path == NULL;
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (ok && (n = fread(buf, 1, sizeof(buf), f)) > 0)
		ok = EVP_DigestUpdate(md, buf, n) == 1;
	if (ferror(f))
		ok = 0;
	fclose(f);
	return ok;
}

/* Whether name is an IPv4 or IPv6 address rather than a host name. */
static int
tls_is_address(const char *name)
{
	unsigned char	addr[16];

	return inet_pton(AF_INET, name, addr) == 1 ||
	    inet_pton(AF_INET6, name, addr) == 1;
}

/* Makes the context for connections to Redis of redis.tls r. */
struct ssl_ctx_st *
tls_client_ctx_new(const struct conf_rtls *r, const char *path,
    unsigned char id[TLS_ID_LEN], char *err, size_t errlen)
{
	SSL_CTX		*ctx;
	EVP_MD_CTX	*md = NULL;
	unsigned char	 flags[2];
	unsigned int	 idlen = 0;

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		tls_fail(path, r->line, err, errlen, "'tls' in 'redis': cannot "
		    "make a TLS context");
		return NULL;
	}
	SSL_CTX_set_default_passwd_cb(ctx, tls_no_passphrase);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	/* A Redis that goes away without close_notify has just gone away. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
	if (SSL_CTX_set_min_proto_version(ctx, r->min_version == 13 ?
	    TLS1_3_VERSION : TLS1_2_VERSION) != 1) {
		tls_fail(path, r->line, err, errlen, "'tls' in 'redis': cannot "
		    "set the minimum TLS version");
		goto fail;
	}
	if (r->ca != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, r->ca, NULL) != 1) {
			tls_fail(path, r->ca_line, err, errlen, "'ca_file': "
			    "cannot load %s (PEM certificates)", r->ca);
			goto fail;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		tls_fail(path, r->line, err, errlen, "'tls' in 'redis': cannot "
		    "load the system's CA certificates (give a 'ca_file')");
		goto fail;
	}
	if (r->cert != NULL) {
		if (SSL_CTX_use_certificate_chain_file(ctx, r->cert) != 1) {
			tls_fail(path, r->cert_line, err, errlen,
			    "'certificate': cannot load %s (a PEM "
			    "certificate, then its chain)", r->cert);
			goto fail;
		}
		if (SSL_CTX_use_PrivateKey_file(ctx, r->key,
		    SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(ctx) != 1) {
			tls_fail(path, r->key_line, err, errlen,
			    "'private_key': cannot load %s (an unencrypted PEM "
			    "key that matches the certificate %s)", r->key,
			    r->cert);
			goto fail;
		}
	}
	SSL_CTX_set_verify(ctx, r->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
	    NULL);
	/*
	 * The identity: what was asked for and what the files hold now, so
	 * that a reload tells a renewed certificate from an unchanged one.
	 */
	flags[0] = (unsigned char)r->verify;
	flags[1] = (unsigned char)r->min_version;
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, flags, sizeof(flags)) != 1 ||
	    !tls_digest_str(md, r->server_name) ||
	    !tls_digest_file(md, r->ca) || !tls_digest_file(md, r->cert) ||
	    !tls_digest_file(md, r->key) ||
	    EVP_DigestFinal_ex(md, id, &idlen) != 1 || idlen != TLS_ID_LEN) {
		tls_fail(path, r->line, err, errlen, "'tls' in 'redis': cannot "
		    "read its files again");
		goto fail;
	}
	EVP_MD_CTX_free(md);
	return ctx;
fail:
	EVP_MD_CTX_free(md);
	SSL_CTX_free(ctx);
	return NULL;
}

/* A new client connection of ctx to name. */
struct ssl_st *
tls_client_new(struct ssl_ctx_st *ctx, const char *name, int verify)
{
	SSL	*ssl;
	int	 addr = tls_is_address(name);

	if ((ssl = SSL_new(ctx)) == NULL)
		goto fail;
	/* SNI carries host names only (RFC 6066). */
	if (!addr && SSL_set_tlsext_host_name(ssl, name) != 1)
		goto fail;
	if (verify) {
		/*
		 * OpenSSL checks the chain; the name is ours to ask for: the
		 * certificate must be for this server, not any the CA signed.
		 */
		if (addr ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
		    name) != 1 : SSL_set1_host(ssl, name) != 1)
			goto fail;
	}
	return ssl;
fail:
	SSL_free(ssl);
	ERR_clear_error();
	return NULL;
}

/* Frees a client connection. */
void
tls_client_free(struct ssl_st *ssl)
{
	SSL_free(ssl);		/* NULL-safe */
}

/* A bufferevent for a connection of ctx to name, to be connected. */
struct bufferevent *
tls_connect(struct event_base *base, struct ssl_ctx_st *ctx,
    const char *name, int verify)
{
	SSL	*ssl;

	if ((ssl = tls_client_new(ctx, name, verify)) == NULL)
		return NULL;
	/* It makes the socket itself (fd -1), once connecting. */
	return tls_bev_new(base, -1, ssl, BUFFEREVENT_SSL_CONNECTING);
}

/* OpenSSL's latest reason, or NULL. */
const char *
tls_last_error(char *buf, size_t len)
{
	unsigned long	e;

	if ((e = ERR_peek_last_error()) == 0)
		return NULL;
	ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}
