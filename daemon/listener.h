/*
 * listener.h: the sockets pubsubd accepts clients on, TCP (IPv4 and IPv6)
 * or Unix, one evconnlistener per configured address, handing each new
 * connection to the client set.
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

/*
 * Binds a Unix socket at path (absolute, shorter than sun_path) with
 * permissions mode, and starts accepting into set. A file already at path
 * is removed first if it is a socket nothing listens on (left by a process
 * that died); anything else there (a live socket, another kind of file) is
 * refused. Returns a new listener owned by the caller, or NULL with err
 * filled.
 */
struct listener	*listener_new_unix(struct event_base *base,
		    struct client_set *set, const char *path, int mode,
		    char *err, size_t errlen);

/* Sets a Unix socket's permissions (as a reload does); 0, or -1. */
int		 listener_chmod(struct listener *l, int mode);

/*
 * Stops accepting and closes the socket; a Unix socket's file is removed
 * too (if it still is the one this listener made).
 */
void		 listener_free(struct listener *l);

/* "host:port" (or "[v6]:port") as actually bound, or a path; borrowed. */
const char	*listener_name(const struct listener *l);

#endif /* PUBSUBD_LISTENER_H */
