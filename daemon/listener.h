/*
 * listener.h: the TCP sockets pubsubd accepts clients on (IPv4 and IPv6),
 * one evconnlistener per configured address, handing each new connection
 * to the client set.
 */
#ifndef PUBSUBD_LISTENER_H
#define PUBSUBD_LISTENER_H

#include <stddef.h>

struct event_base;
struct client_set;
struct listener;

/*
 * Binds host:port (port 0: any free port) and starts accepting into set.
 * Returns a new listener owned by the caller, or NULL with err filled.
 */
struct listener	*listener_new(struct event_base *base, struct client_set *set,
		    const char *host, int port, char *err, size_t errlen);

/* Stops accepting and closes the socket. */
void		 listener_free(struct listener *l);

/* "host:port" (or "[v6]:port") as actually bound; borrowed. */
const char	*listener_name(const struct listener *l);

#endif /* PUBSUBD_LISTENER_H */
