/*
 * endpoint.c: Redis' address, credentials and TLS, and the few ways of
 * using them that the connections share: the raw (bufferevent) ones, and
 * hiredis' for TLS.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <event2/bufferevent.h>
#include <event2/util.h>
#include <hiredis/hiredis.h>
#ifdef HAVE_HIREDIS_SSL
#include <hiredis/hiredis_ssl.h>
#endif

#include "endpoint.h"
#include "tls.h"

static int	endpoint_streq(const char *, const char *);
static char	*endpoint_put(char **, const char *);

/* Whether two optional strings are equal (both NULL is equal). */
static int
endpoint_streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Copies s (if not NULL) to *p, advances *p past it; returns the copy. */
static char *
endpoint_put(char **p, const char *s)
{
	char	*copy = *p;
	size_t	 n;

	if (s == NULL)
		return NULL;
	n = strlen(s) + 1;
	memcpy(copy, s, n);
	*p += n;
	return copy;
}

/* Returns a copy of e that owns its strings (one allocation). */
struct endpoint *
endpoint_dup(const struct endpoint *e)
{
	const char	*s[5] = { e->host, e->path, e->username, e->password,
			    e->tls_name };
	struct endpoint	*d;
	size_t		 len = sizeof(*d);
	char		*p;
	int		 i;

	for (i = 0; i < 5; i++)
		if (s[i] != NULL)
			len += strlen(s[i]) + 1;
	if ((d = calloc(1, len)) == NULL)
		return NULL;
	p = (char *)(d + 1);
	d->host = endpoint_put(&p, e->host);
	d->port = e->port;
	d->path = endpoint_put(&p, e->path);
	d->username = endpoint_put(&p, e->username);
	d->password = endpoint_put(&p, e->password);
	d->tls_name = endpoint_put(&p, e->tls_name);
	d->tls_verify = e->tls_verify;
	if (e->tls != NULL)
		d->tls = tls_ctx_ref(e->tls);
	return d;
}

/* A copy of login at host:port; see endpoint.h. */
struct endpoint *
endpoint_dup_at(const struct endpoint *login, const char *host, int port)
{
	struct endpoint	e = *login;

	e.host = host;
	e.port = port;
	e.path = NULL;
	return endpoint_dup(&e);
}

/* Frees a copy, wiping the password it held. */
void
endpoint_free(struct endpoint *e)
{
	if (e == NULL)
		return;
	if (e->password != NULL)
		explicit_bzero((char *)e->password, strlen(e->password));
	tls_ctx_unref(e->tls);
	free(e);
}

/* Whether a and b are the same address. */
int
endpoint_same_place(const struct endpoint *a, const struct endpoint *b)
{
	if (a->path != NULL || b->path != NULL)
		return endpoint_streq(a->path, b->path);
	return a->port == b->port && endpoint_streq(a->host, b->host);
}

/* Whether a and b log in the same way. */
int
endpoint_same_login(const struct endpoint *a, const struct endpoint *b)
{
	return endpoint_streq(a->username, b->username) &&
	    endpoint_streq(a->password, b->password);
}

/* Whether a and b speak the same TLS. */
int
endpoint_same_tls(const struct endpoint *a, const struct endpoint *b)
{
	if (a->tls == NULL || b->tls == NULL)
		return a->tls == b->tls;
	return a->tls == b->tls && a->tls_verify == b->tls_verify &&
	    endpoint_streq(a->tls_name, b->tls_name);
}

/* Writes e's address (never its credentials) for logs. */
const char *
endpoint_name(const struct endpoint *e, char *buf, size_t len)
{
	if (e->path != NULL)
		snprintf(buf, len, "%s", e->path);
	else
		snprintf(buf, len, "%s:%d", e->host, e->port);
	return buf;
}

/* e's AUTH command, borrowing its strings; returns argc (0: none). */
int
endpoint_auth_argv(const struct endpoint *e, const char *argv[3],
    size_t argvlen[3])
{
	int	argc = 0, i;

	if (e->password == NULL)
		return 0;
	argv[argc++] = "AUTH";
	if (e->username != NULL)
		argv[argc++] = e->username;
	argv[argc++] = e->password;
	for (i = 0; i < argc; i++)
		argvlen[i] = strlen(argv[i]);
	return argc;
}

/* The name TLS asks for and checks: server_name, else the host. */
static const char *
endpoint_tls_name(const struct endpoint *e)
{
	return e->tls_name != NULL ? e->tls_name : e->host;
}

/* A bufferevent for a connection to e, plain or TLS. */
struct bufferevent *
endpoint_bev_new(const struct endpoint *e, struct event_base *base)
{
	if (e->tls == NULL || e->path != NULL)
		return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	return tls_connect(base, e->tls, endpoint_tls_name(e), e->tls_verify);
}

/* Why a connection from endpoint_bev_new() failed. */
const char *
endpoint_bev_error(const struct endpoint *e, struct bufferevent *bev,
    int eof, char *buf, size_t len)
{
	if (e->tls != NULL && e->path == NULL)
		return tls_error(bev, buf, len);
	snprintf(buf, len, "%s", eof ? "connection closed" :
	    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	return buf;
}

/* Starts TLS on a hiredis context, if e has it. */
int
endpoint_start_tls(const struct endpoint *e, struct redisContext *c,
    char *buf, size_t len)
{
#ifdef HAVE_HIREDIS_SSL
	struct ssl_st	*ssl;

	if (e->tls == NULL || e->path != NULL)
		return 0;
	if ((ssl = tls_client_new(e->tls, endpoint_tls_name(e),
	    e->tls_verify)) == NULL) {
		snprintf(buf, len, "cannot start TLS: out of memory");
		return -1;
	}
	/* hiredis owns ssl once this succeeds, and never if it fails. */
	if (redisInitiateSSL(c, ssl) != REDIS_OK) {
		tls_client_free(ssl);
		snprintf(buf, len, "cannot start TLS: %s", c->errstr[0] ?
		    c->errstr : "hiredis refused");
		return -1;
	}
	return 0;
#else
	/* conf.c refuses redis.tls in such builds: never reached with TLS. */
	if (e->tls == NULL)
		return 0;
	snprintf(buf, len, "this build has no TLS to Redis");
	return -1;
#endif
}

/* Why a hiredis connection to e failed. */
const char *
endpoint_why(const struct endpoint *e, const char *errstr, char *buf,
    size_t len)
{
	char	why[256];

	if (e->tls != NULL && tls_last_error(why, sizeof(why)) != NULL) {
		snprintf(buf, len, "TLS: %s", why);
		return buf;
	}
	return errstr[0] != '\0' ? errstr : "connection closed";
}

/* Starts connecting bev to e: a Unix socket, or a TCP host (resolved). */
int
endpoint_connect_bev(const struct endpoint *e, struct bufferevent *bev)
{
	struct sockaddr_un	sun;

	if (e->path == NULL)
		return bufferevent_socket_connect_hostname(bev, NULL,
		    AF_UNSPEC, e->host, e->port);
	if (strlen(e->path) >= sizeof(sun.sun_path))
		return -1;	/* conf.c refuses such paths */
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, e->path, strlen(e->path) + 1);
	return bufferevent_socket_connect(bev, (struct sockaddr *)&sun,
	    (int)sizeof(sun));
}

/* Queues e's AUTH on bev, to be sent first. */
int
endpoint_auth_bev(const struct endpoint *e, struct bufferevent *bev)
{
	const char	*argv[3];
	size_t		 argvlen[3];
	char		*cmd;
	int		 argc, n, rc;

	if ((argc = endpoint_auth_argv(e, argv, argvlen)) == 0)
		return 0;
	if ((n = redisFormatCommandArgv(&cmd, argc, argv, argvlen)) < 0)
		return -1;
	rc = bufferevent_write(bev, cmd, (size_t)n) == 0 ? 1 : -1;
	/* The formatted command holds the password: wipe it. */
	explicit_bzero(cmd, (size_t)n);
	redisFreeCommand(cmd);
	return rc;
}
