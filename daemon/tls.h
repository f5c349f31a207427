/*
 * tls.h: TLS with OpenSSL, both ways. For clients: the server context made
 * from the tls group of the configuration, and the bufferevent that runs
 * one client's TLS over its socket (libevent's OpenSSL bufferevents). To
 * Redis (redis.tls): the client context, and the connections made from it,
 * for hiredis (an SSL handed to hiredis_ssl) or for a bufferevent.
 *
 * A context is OpenSSL's SSL_CTX, reference-counted by OpenSSL itself: the
 * daemon holds one reference to the current context, and every connection
 * made from it holds another (SSL_new() takes it) until the connection is
 * freed. A reload makes a new context and drops the daemon's reference to
 * the old one, which lives on exactly as long as the connections that use
 * it: new clients get the new certificate, connected ones keep theirs.
 */
#ifndef PUBSUBD_TLS_H
#define PUBSUBD_TLS_H

#include <stddef.h>

#include <event2/util.h>

struct bufferevent;
struct conf_rtls;
struct conf_tls;
struct event_base;
struct ssl_ctx_st;		/* OpenSSL's SSL_CTX */
struct ssl_st;			/* OpenSSL's SSL */

/* The length of a client context's identity (tls_client_ctx_new()). */
#define TLS_ID_LEN	32

/*
 * Loads the certificate, key and CA that t names and applies its settings.
 * Returns a new context (one reference, the caller's), or NULL with
 * "PATH:LINE: message" in err, PATH being the configuration file (path)
 * and LINE that of the setting at fault (a file that is not PEM, a key
 * that does not match the certificate, a cipher list OpenSSL refuses).
 */
struct ssl_ctx_st *tls_ctx_new(const struct conf_tls *t, const char *path,
		    char *err, size_t errlen);

/* Takes one more reference to ctx and returns it. */
struct ssl_ctx_st *tls_ctx_ref(struct ssl_ctx_st *ctx);

/* Drops one reference (NULL is ignored); the last frees the context. */
void		 tls_ctx_unref(struct ssl_ctx_st *ctx);

/*
 * Starts the server's side of a handshake on fd, a connected nonblocking
 * socket: returns a bufferevent, owned by the caller, that owns fd and its
 * own connection (which holds a reference to ctx) and frees both with
 * bufferevent_free(); or NULL (out of memory) with fd left open, the
 * caller's. Its callbacks and reading are for the caller to set and enable.
 */
struct bufferevent *tls_accept(struct event_base *base,
		    struct ssl_ctx_st *ctx, evutil_socket_t fd);

/*
 * Writes why bev's TLS connection failed into buf and returns buf:
 * OpenSSL's reasons (taken from bev's error queue, which this empties),
 * or the socket's error, or that the peer closed it.
 */
const char	*tls_error(struct bufferevent *bev, char *buf, size_t len);

/* Whether the kernel encrypts what bev's connection sends (kTLS). */
int		 tls_ktls_send(struct bufferevent *bev);

/*
 * Whether the kernel offers TLS to sockets now (the tls ULP in
 * /proc/sys/net/ipv4/tcp_available_ulp; the module may also load on
 * first use): 1 or 0, with the ULPs it offers written into buf.
 */
int		 tls_ktls_kernel(char *buf, size_t len);

/* Says in the log who will encrypt TLS records: the kernel or OpenSSL. */
void		 tls_log_ktls(int configured);

/* The protocol bev's connection speaks ("TLSv1.3"), once it is set up. */
const char	*tls_version(struct bufferevent *bev);

/*
 * Loads the CA, certificate and key that r names (r->ca NULL: the system's
 * CAs) and applies its settings, for connections to Redis. Returns a new
 * context (one reference, the caller's) and fills id with a digest of the
 * settings and of the files' contents (equal ids: the same context), or
 * NULL with "PATH:LINE: message" in err as tls_ctx_new() does.
 */
struct ssl_ctx_st *tls_client_ctx_new(const struct conf_rtls *r,
		    const char *path, unsigned char id[TLS_ID_LEN], char *err,
		    size_t errlen);

/*
 * Returns a new connection (owned by the caller) of client context ctx to
 * a server called name (a host name or an address): the name is sent by
 * SNI (host names only) and, if verify, checked against the server's
 * certificate. NULL if out of memory.
 */
struct ssl_st	*tls_client_new(struct ssl_ctx_st *ctx, const char *name,
		    int verify);

/* Frees a connection from tls_client_new() (NULL is ignored). */
void		 tls_client_free(struct ssl_st *ssl);

/*
 * Returns a bufferevent, owned by the caller, that will run a connection of
 * client context ctx to name (as tls_client_new()) over a socket it makes
 * when bufferevent_socket_connect*() is called on it; NULL if out of
 * memory. Its callbacks see BEV_EVENT_CONNECTED once the handshake is
 * done.
 */
struct bufferevent *tls_connect(struct event_base *base,
		    struct ssl_ctx_st *ctx, const char *name, int verify);

/*
 * Writes OpenSSL's latest reason in this thread's error queue into buf,
 * empties the queue and returns buf; or returns NULL if the queue was
 * empty. For connections whose errors OpenSSL leaves there (hiredis').
 */
const char	*tls_last_error(char *buf, size_t len);

#endif /* PUBSUBD_TLS_H */
