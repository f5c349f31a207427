/*
 * listener.h: the sockets pubsubd accepts clients on, one evconnlistener
 * each, handing each new connection to the client set: TCP addresses
 * (IPv4 and IPv6) and Unix sockets it binds itself, or sockets systemd
 * passed already listening (TCP or Unix).
 */
#ifndef PUBSUBD_LISTENER_H
#define PUBSUBD_LISTENER_H

#include <stddef.h>

struct event_base;
struct client_set;
struct addrinfo;
struct listener;

/*
 * Resolves host:port as an address to bind (the first of getaddrinfo's
 * passive answers is the one to use). Returns 0 with *res owned by the
 * caller (freeaddrinfo), or -1 with "host: reason" in err.
 */
int		 listener_resolve(const char *host, int port,
		    struct addrinfo **res, char *err, size_t errlen);

/*
 * Binds host:port (port 0: any free port) and starts accepting into set,
 * with a listen(2) backlog of backlog (the kernel caps it at
 * net.core.somaxconn). With shared set, the socket takes SO_REUSEPORT so
 * that every worker process binds the same address and the kernel spreads
 * connections among them (any process of the same user could then bind it
 * too: only workers ask for it). Returns a new listener owned by the
 * caller, or NULL with err filled.
 */
struct listener	*listener_new(struct event_base *base, struct client_set *set,
		    const char *host, int port, int shared, int backlog,
		    char *err,
		    size_t errlen);

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
		    int backlog, char *err, size_t errlen);

/*
 * Accepts into set on fd, a stream socket already bound and listening (as
 * systemd passes them). Takes ownership of fd on every path: it is made
 * nonblocking and close-on-exec, and closed by listener_free() or on
 * failure. A Unix socket's file stays systemd's: it is never removed here.
 * Returns a new listener owned by the caller, or NULL with err.
 */
struct listener	*listener_new_fd(struct event_base *base,
		    struct client_set *set, int fd, char *err, size_t errlen);

/*
 * Sets the permissions of a Unix socket bound by listener_new_unix() (as a
 * reload does; other listeners are left alone); 0, or -1.
 */
int		 listener_chmod(struct listener *l, int mode);

/*
 * Whether the clients accepted from now on speak TLS (0 when made): a
 * reload that turns TLS on or off for an address keeps its socket.
 */
void		 listener_set_tls(struct listener *l, int tls);
/* Whether clients accepted from now on speak HTTP (WebSocket, SSE). */
void		 listener_set_http(struct listener *l, int http);
int		 listener_tls(const struct listener *l);

/*
 * Sets the listen(2) backlog of a socket bound by listener_new() or
 * listener_new_unix() (as a reload does; one systemd passed keeps the
 * Backlog= systemd gave it); 0, or -1 with errno.
 */
int		 listener_set_backlog(struct listener *l, int backlog);

/*
 * Stops accepting and closes the socket; the file of a Unix socket made by
 * listener_new_unix() is removed too (if it still is the one it made).
 */
void		 listener_free(struct listener *l);

/*
 * "host:port", "[v6]:port" or "unix:/path" as actually bound; borrowed,
 * valid while l is.
 */
const char	*listener_name(const struct listener *l);

/*
 * Whether l is a TCP socket on a loopback address (127.0.0.0/8, ::1, or
 * ::ffff:127.0.0.0/104), so reachable from this host only; -1 if l is a
 * Unix socket (no network at all).
 */
int		 listener_is_loopback(const struct listener *l);

/* The same for an address: 1 loopback, 0 not, -1 AF_UNIX. */
struct sockaddr;
int		 listener_addr_is_loopback(const struct sockaddr *sa);

#endif /* PUBSUBD_LISTENER_H */
