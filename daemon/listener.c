/*
 * listener.c: accepting clients with libevent's evconnlistener, on a socket
 * bound here (TCP) or on one handed over already listening (systemd's
 * socket activation: TCP or a Unix socket).
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "client.h"
#include "listener.h"
#include "log.h"

/* "unix:" and a path (sun_path is 108 bytes), or "[v6]:port". */
#define LISTENER_NAME_MAX	128

struct listener {
	struct evconnlistener	*l_evl;		/* owned; owns the socket */
	struct client_set	*l_set;		/* borrowed */
	char			 l_name[LISTENER_NAME_MAX];
};

static void	listener_accept_cb(struct evconnlistener *, evutil_socket_t,
		    struct sockaddr *, int, void *);
static void	listener_error_cb(struct evconnlistener *, void *);
static void	listener_set_name(struct listener *);

/* Binds host:port and starts accepting. */
struct listener *
listener_new(struct event_base *base, struct client_set *set,
    const char *host, int port, char *err, size_t errlen)
{
	struct listener		*l;
	struct addrinfo		 hints, *res = NULL;
	char			 portstr[16];
	int			 rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%d", port);
	if ((rc = getaddrinfo(host, portstr, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s: %s", host, gai_strerror(rc));
		return NULL;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		snprintf(err, errlen, "out of memory");
		freeaddrinfo(res);
		return NULL;
	}
	l->l_set = set;
	l->l_evl = evconnlistener_new_bind(base, listener_accept_cb, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    511, res->ai_addr, (int)res->ai_addrlen);
	freeaddrinfo(res);
	if (l->l_evl == NULL) {
		snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port,
		    strerror(errno));
		free(l);
		return NULL;
	}
	evconnlistener_set_error_cb(l->l_evl, listener_error_cb);
	listener_set_name(l);
	return l;
}

/* Accepts on fd, a socket already bound and listening; owns it. */
struct listener *
listener_new_fd(struct event_base *base, struct client_set *set, int fd,
    char *err, size_t errlen)
{
	struct listener	*l;

	/* libevent's accept loop needs a nonblocking socket. */
	if (evutil_make_socket_nonblocking(fd) == -1 ||
	    evutil_make_socket_closeonexec(fd) == -1) {
		snprintf(err, errlen, "socket %d: %s", fd, strerror(errno));
		evutil_closesocket(fd);
		return NULL;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		snprintf(err, errlen, "out of memory");
		evutil_closesocket(fd);
		return NULL;
	}
	l->l_set = set;
	/* A backlog of 0: it listens already, with the backlog it was given. */
	l->l_evl = evconnlistener_new(base, listener_accept_cb, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (l->l_evl == NULL) {
		snprintf(err, errlen, "cannot accept on socket %d: %s", fd,
		    strerror(errno));
		evutil_closesocket(fd);
		free(l);
		return NULL;
	}
	evconnlistener_set_error_cb(l->l_evl, listener_error_cb);
	listener_set_name(l);
	return l;
}

/* Names l by its socket's address: "ip:port", "[v6]:port" or a path. */
static void
listener_set_name(struct listener *l)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof(ss);
	char			 addr[INET6_ADDRSTRLEN];

	memset(&ss, 0, sizeof(ss));
	if (getsockname(evconnlistener_get_fd(l->l_evl),
	    (struct sockaddr *)&ss, &sslen) == -1) {
		snprintf(l->l_name, sizeof(l->l_name), "socket %d",
		    (int)evconnlistener_get_fd(l->l_evl));
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof(addr));
		snprintf(l->l_name, sizeof(l->l_name), "[%s]:%u", addr,
		    ntohs(s6->sin6_port));
	} else if (ss.ss_family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr));
		snprintf(l->l_name, sizeof(l->l_name), "%s:%u", addr,
		    ntohs(s4->sin_port));
	} else if (ss.ss_family == AF_UNIX) {
		struct sockaddr_un *su = (struct sockaddr_un *)&ss;

		/* An abstract socket's name starts with a NUL: show '@'. */
		if (sslen > offsetof(struct sockaddr_un, sun_path) &&
		    su->sun_path[0] == '\0')
			snprintf(l->l_name, sizeof(l->l_name), "unix:@%.*s",
			    (int)(sslen - offsetof(struct sockaddr_un,
			    sun_path) - 1), su->sun_path + 1);
		else
			snprintf(l->l_name, sizeof(l->l_name), "unix:%.*s",
			    (int)sizeof(su->sun_path), su->sun_path);
	} else
		snprintf(l->l_name, sizeof(l->l_name), "socket %d",
		    (int)evconnlistener_get_fd(l->l_evl));
}

/* Stops accepting. */
void
listener_free(struct listener *l)
{
	if (l == NULL)
		return;
	evconnlistener_free(l->l_evl);
	free(l);
}

/* The bound address. */
const char *
listener_name(const struct listener *l)
{
	return l->l_name;
}

/* A connection was accepted. */
static void
listener_accept_cb(struct evconnlistener *evl, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct listener	*l = arg;

	client_accept(l->l_set, fd);
}

/*
 * accept() failed: out of descriptors or a transient error. libevent keeps
 * the listener enabled; log and go on (the peer is retried by the kernel).
 */
static void
listener_error_cb(struct evconnlistener *evl, void *arg)
{
	struct listener	*l = arg;

	log_warn("accept on %s", l->l_name);
}
