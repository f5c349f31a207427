/*
 * endpoint.h: where Redis is and how to log in to it.
 *
 * Redis is reached over TCP (host and port) or over a Unix socket (path),
 * and may want credentials: a password alone (AUTH password) or a user
 * and its password (AUTH username password, Redis 6 ACLs). Every
 * connection pubsubd opens to Redis (the subscriber and shard connections,
 * the command connections, the one-shot raw ones) is made from an endpoint
 * and sends its AUTH before anything else. With redis.tls, every one of
 * them speaks TLS, made from the endpoint's client context (tls.h).
 *
 * A struct endpoint either borrows its strings and its TLS context (a
 * view, as main fills one in from the configuration) or is made by
 * endpoint_dup(), which owns the strings in the same allocation and one
 * reference to the context, freed by endpoint_free().
 */
#ifndef PUBSUBD_ENDPOINT_H
#define PUBSUBD_ENDPOINT_H

#include <stddef.h>

struct bufferevent;
struct event_base;
struct redisContext;
struct ssl_ctx_st;

struct endpoint {
	const char	*host;		/* TCP, when path is NULL */
	int		 port;
	const char	*path;		/* a Unix socket, or NULL */
	const char	*username;	/* or NULL: AUTH password */
	const char	*password;	/* or NULL: no AUTH */
	struct ssl_ctx_st *tls;		/* or NULL: plain; see above */
	const char	*tls_name;	/* or NULL: host; for SNI and checks */
	int		 tls_verify;	/* check the certificate's name */
};

/* The longest name endpoint_name() writes, with its NUL. */
#define ENDPOINT_NAME_MAX	320

/* Returns a copy of e that owns its strings, or NULL (out of memory). */
struct endpoint	*endpoint_dup(const struct endpoint *e);

/*
 * The same, with login's credentials and TLS but at host:port over TCP (a
 * node that a sentinel or a cluster named).
 */
struct endpoint	*endpoint_dup_at(const struct endpoint *login,
		    const char *host, int port);

/* Frees a copy made by endpoint_dup() (NULL is ignored). */
void		 endpoint_free(struct endpoint *e);

/* Whether a and b are the same place (address), and the same credentials. */
int		 endpoint_same_place(const struct endpoint *a,
		    const struct endpoint *b);
int		 endpoint_same_login(const struct endpoint *a,
		    const struct endpoint *b);

/* Whether a and b speak the same TLS (the same context and name), or none. */
int		 endpoint_same_tls(const struct endpoint *a,
		    const struct endpoint *b);

/*
 * Writes e's address for logs to buf ("host:port", or the socket's path;
 * never the credentials) and returns buf.
 */
const char	*endpoint_name(const struct endpoint *e, char *buf,
		    size_t len);

/*
 * Fills argv and argvlen (room for 3) with e's AUTH command, borrowing e's
 * strings, and returns its argc: 0 if e has no password.
 */
int		 endpoint_auth_argv(const struct endpoint *e,
		    const char *argv[3], size_t argvlen[3]);

/*
 * Returns a new bufferevent, owned by the caller, for a connection to e
 * (plain, or TLS as e says) that endpoint_connect_bev() starts; NULL if
 * out of memory. With TLS, BEV_EVENT_CONNECTED comes after the handshake.
 */
struct bufferevent *endpoint_bev_new(const struct endpoint *e,
		    struct event_base *base);

/*
 * Writes why a connection to e failed into buf and returns buf: the TLS
 * reason of bev (an endpoint_bev_new() one) if e has TLS, else the socket
 * error, or that Redis closed it (eof).
 */
const char	*endpoint_bev_error(const struct endpoint *e,
		    struct bufferevent *bev, int eof, char *buf, size_t len);

/*
 * Starts TLS, if e has it, on c: a hiredis context just made to connect
 * to e (the handshake runs as hiredis first writes and reads). Returns 0,
 * or -1 with why in buf (c is the caller's to free).
 */
int		 endpoint_start_tls(const struct endpoint *e,
		    struct redisContext *c, char *buf, size_t len);

/*
 * Returns why a hiredis connection to e failed: OpenSSL's reason, written
 * into buf, if e has TLS and OpenSSL left one (hiredis' own text for a
 * failed handshake is only errno's); else hiredis' errstr.
 */
const char	*endpoint_why(const struct endpoint *e, const char *errstr,
		    char *buf, size_t len);

/*
 * Starts connecting bev (from endpoint_bev_new()) to e.
 * Returns 0, or -1 if it cannot even start (the event callback is not
 * called then).
 */
int		 endpoint_connect_bev(const struct endpoint *e,
		    struct bufferevent *bev);

/*
 * Queues e's AUTH, formatted, on bev (before it connects: it is sent
 * first). Returns 1 if it did, 0 if e has no password, -1 if out of
 * memory.
 */
int		 endpoint_auth_bev(const struct endpoint *e,
		    struct bufferevent *bev);

#endif /* PUBSUBD_ENDPOINT_H */
