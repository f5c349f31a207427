/*
 * upstream.h: pubsubd's connection to Redis.
 *
 * The upstream owns the subscriber connection, a hiredis async context on
 * the daemon's event_base (hiredis' libevent adapter), and a command
 * connection for pubsubd's own commands (cmdconn.h). It connects, and
 * reconnects with capped exponential backoff and jitter whenever the
 * connection is lost. Each SUBSCRIBE or UNSUBSCRIBE it sends returns a
 * future that Redis' confirmation completes, or that fails when the
 * connection is lost first; every message Redis pushes is handed to the
 * message callback. It knows nothing of clients or of who wants what: after
 * a reconnect its owner (the hub) subscribes again.
 */
#ifndef PUBSUBD_UPSTREAM_H
#define PUBSUBD_UPSTREAM_H

#include <stddef.h>

#include "endpoint.h"

struct event_base;
struct future;
struct upstream;

/* What a subscription is to: a channel, a pattern, or a shard channel. */
enum upstream_kind {
	UPSTREAM_CHANNEL = 0,
	UPSTREAM_PATTERN,
	UPSTREAM_SHARD
};
#define UPSTREAM_KINDS	3

/* One message from Redis; every pointer is borrowed for the callback only. */
struct upstream_msg {
	enum upstream_kind	 kind;
	const char		*pattern;	/* for a pattern message, else NULL */
	size_t			 patternlen;
	const char		*channel;
	size_t			 channellen;
	const char		*payload;
	size_t			 payloadlen;
};

struct upstream_cbs {
	/* A message arrived. */
	void	(*on_message)(void *arg, const struct upstream_msg *msg);
	/*
	 * The connection came up (connected = 1) or went down (0). When it
	 * goes down, every pending future has already failed and Redis holds
	 * no subscription of ours any more.
	 */
	void	(*on_state)(void *arg, int connected);
};

/*
 * Where Redis is, how to log in, and how to keep the connection; times in
 * milliseconds.
 */
struct upstream_conf {
	struct endpoint	 redis;		/* its strings are copied */
	int		 connect_timeout;	/* to be connected and ready */
	int		 backoff_min;		/* first reconnect delay */
	int		 backoff_max;		/* the cap of its doubling */
	int		 health_interval;	/* heartbeat period; 0: none */
	int		 health_timeout;	/* silence that means hung, ms */
};

/* What the upstream counts of its outages. */
struct upstream_stats {
	unsigned long long	outages;	/* connections lost */
	long long		last_outage_ms;	/* the last one's length */
	long long		down_since_ms;	/* monotonic ms, 0 when up */
	unsigned long long	health_failures;
	unsigned long long	connects;	/* came up, the first included */
	unsigned long long	connect_failures;	/* attempts that failed */
};

/*
 * Returns a new upstream for Redis, owned by the caller, that calls cbs
 * with arg. It does not connect until upstream_start().
 */
struct upstream	*upstream_new(struct event_base *base,
		    const struct upstream_conf *conf,
		    const struct upstream_cbs *cbs, void *arg);

const struct upstream_stats *upstream_stats(const struct upstream *up);

/* How long, in ms, the upstream has been down now; 0 while it is up. */
long long	 upstream_down_ms(const struct upstream *up);

/*
 * Takes a new configuration (a reload): the timings apply from now on; a
 * new address or new credentials drop the connections and reconnect, after
 * which the owner subscribes everything again. Returns 0, or -1 on
 * allocation failure (nothing changed).
 */
int		 upstream_set_conf(struct upstream *up,
		    const struct upstream_conf *conf);

/* Starts connecting (and reconnecting whenever the connection is lost). */
void		 upstream_start(struct upstream *up);

/*
 * Disconnects and frees; pending futures fail and on_state is not called.
 * Never call it from inside one of the upstream's callbacks.
 */
void		 upstream_free(struct upstream *up);

/* Whether the subscriber connection is up. */
int		 upstream_connected(const struct upstream *up);

/*
 * The bytes waiting on the subscriber and shard connections that the loop
 * has not read yet: messages already on their way.
 */
size_t		 upstream_pending(const struct upstream *up);

/*
 * Sends SUBSCRIBE (or PSUBSCRIBE) for name. Returns a new future owned by
 * the caller: done when Redis confirms, failed if the upstream is not
 * connected, the connection is lost first, or an operation on the same name
 * is already in flight (the caller keeps one at a time per name).
 */
struct future	*upstream_subscribe(struct upstream *up,
		    enum upstream_kind kind, const char *name, size_t len);

/* Sends UNSUBSCRIBE (or PUNSUBSCRIBE); the future works as above. */
struct future	*upstream_unsubscribe(struct upstream *up,
		    enum upstream_kind kind, const char *name, size_t len);

/*
 * Sends an ordinary command (PUBLISH, PUBSUB, COMMAND, ...) on pubsubd's own
 * command connection, made or remade as needed. Returns a new future owned
 * by the caller, done with a struct cmdconn_reply (see cmdconn.h) or failed;
 * NULL on allocation failure.
 */
struct future	*upstream_command(struct upstream *up, int argc,
		    const char *const *argv, const size_t *argvlen);

/*
 * A barrier: returns a new future owned by the caller, done once every
 * message of kind that Redis sent before now has been handed to the message
 * callback (at once if not connected). It publishes a token to pubsubd's
 * private channel (UPSTREAM_PRIVATE_PREFIX and a random name, held on the
 * subscriber and shard connections) and waits for it to come back.
 */
struct future	*upstream_barrier(struct upstream *up, enum upstream_kind kind);

/* Every pubsubd's private channel starts so; they are never shown. */
#define UPSTREAM_PRIVATE_PREFIX	"__pubsubd__:"

/*
 * What pubsubd learnt of Redis when it connected: its version ("unknown"
 * before), its number of databases (16 before), and its command table:
 * upstream_command_arity() gives the arity of a command or a subcommand
 * ("client|getname"), lower case, and whether it has subcommands; it
 * returns 0, or -1 if Redis does not know name (or nothing is known yet:
 * upstream_commands_known() says which).
 */
const char	*upstream_redis_version(const struct upstream *up);
int		 upstream_databases(const struct upstream *up);
int		 upstream_command_arity(const struct upstream *up,
		    const char *name, size_t len, int *arity, int *container);
int		 upstream_commands_known(const struct upstream *up);

#endif /* PUBSUBD_UPSTREAM_H */
