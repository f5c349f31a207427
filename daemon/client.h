/*
 * client.h: the clients' side of pubsubd.
 *
 * A client owns one connection (TCP or a Unix socket): a read event, its input buffer and
 * request parser, a coroutine that serves its commands one at a time in the
 * order they came, its subscriptions, and its pending output. Replies and
 * messages are written straight to the nonblocking socket at the end of a
 * loop turn; a write event is created (lazily) and waited for only when the
 * socket is full.
 *
 * struct client_set holds what all clients share: the event_base, the hub,
 * the list of clients, and the deferred work (flushing replies, freeing
 * closed clients on a later loop turn, never inside their own callbacks).
 */
#ifndef PUBSUBD_CLIENT_H
#define PUBSUBD_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <event2/util.h>

struct endpoint;
struct event_base;
struct hub;
struct upstream;
struct client;
struct client_set;

/* What the clients need to know of the configuration. */
struct client_conf {
	int		 passthrough;	/* forward other commands to Redis */
	const struct endpoint *redis;	/* borrowed: for passthrough */
	int		 command_timeout;	/* ms Redis has to answer */
	int		 maxclients;
	long long	 output_hard;		/* bytes; 0: none */
	long long	 output_soft;		/* bytes; 0: none */
	int		 output_soft_seconds;
	long long	 query_buffer;		/* bytes */
	long long	 multibulk_max;
	long long	 bulk_max;
	int		 max_subscriptions;	/* 0: none */
	int		 idle_timeout;		/* seconds; 0: off */
	int		 tcp_keepalive;		/* seconds; 0: off */
};

struct client_stats {
	uint64_t	connected;	/* clients now */
	uint64_t	accepted;	/* since start */
	uint64_t	commands;
	uint64_t	protocol_errors;
	uint64_t	cut_hard;	/* over the output hard limit */
	uint64_t	cut_soft;	/* over the soft limit too long */
	uint64_t	rejected_max;	/* maxclients */
	uint64_t	idle_closed;	/* idle_timeout */
	uint64_t	query_cut;	/* query buffer limit */
};

/*
 * Returns a new, empty set, owned by the caller; base, hub, up and conf are
 * borrowed and must outlive it.
 */
struct client_set *client_set_new(struct event_base *base, struct hub *hub,
		    struct upstream *up, const struct client_conf *conf);

/* Closes every client at once and frees the set. */
void		 client_set_free(struct client_set *set);

/*
 * Graceful stop: closes every client after it has been sent what it was
 * owed, and calls done(arg) once none is left (at once if none is).
 */
void		 client_set_shutdown(struct client_set *set,
		    void (*done)(void *), void *arg);

/* Serves a new connection; takes ownership of fd (closed on failure). */
struct client	*client_accept(struct client_set *set, evutil_socket_t fd);

/*
 * Closes a client: stops reading and serving at once; its subscriptions
 * are released and it is freed on a later loop turn. If flush is set, what
 * it has to write is sent first (for a bounded time). reason is logged.
 */
void		 client_close(struct client *c, int flush, const char *reason);

const struct client_stats *client_set_stats(const struct client_set *set);

#endif /* PUBSUBD_CLIENT_H */
