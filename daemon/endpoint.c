/*
 * endpoint.c: Redis' address and credentials, and the few ways of using
 * them that the raw (bufferevent) connections share.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <event2/bufferevent.h>
#include <hiredis/hiredis.h>

#include "endpoint.h"

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
	const char	*s[4] = { e->host, e->path, e->username, e->password };
	struct endpoint	*d;
	size_t		 len = sizeof(*d);
	char		*p;
	int		 i;

	for (i = 0; i < 4; i++)
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
	return d;
}

/* Frees a copy, wiping the password it held. */
void
endpoint_free(struct endpoint *e)
{
	if (e == NULL)
		return;
	if (e->password != NULL)
		explicit_bzero((char *)e->password, strlen(e->password));
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
