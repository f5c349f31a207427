/*
 * listener.c: accepting TCP clients with libevent's evconnlistener.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "client.h"
#include "listener.h"
#include "log.h"

struct listener {
	struct evconnlistener	*l_evl;		/* owned; owns the socket */
	struct client_set	*l_set;		/* borrowed */
	char			 l_name[INET6_ADDRSTRLEN + 16];
};

static void	listener_accept_cb(struct evconnlistener *, evutil_socket_t,
		    struct sockaddr *, int, void *);
static void	listener_error_cb(struct evconnlistener *, void *);

/* Binds host:port and starts accepting. */
struct listener *
listener_new(struct event_base *base, struct client_set *set,
    const char *host, int port, char *err, size_t errlen)
{
	struct listener		*l;
	struct addrinfo		 hints, *res = NULL;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof(ss);
	char			 portstr[16], addr[INET6_ADDRSTRLEN];
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
	getsockname(evconnlistener_get_fd(l->l_evl), (struct sockaddr *)&ss,
	    &sslen);
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof(addr));
		snprintf(l->l_name, sizeof(l->l_name), "[%s]:%u", addr,
		    ntohs(s6->sin6_port));
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr));
		snprintf(l->l_name, sizeof(l->l_name), "%s:%u", addr,
		    ntohs(s4->sin_port));
	}
	return l;
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
