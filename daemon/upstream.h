/*
 * upstream.h: what the hub and the commands need of Redis, whatever Redis
 * is: the upstream interface.
 *
 * An upstream holds pubsubd's subscriptions in Redis and sends its
 * commands. Where a name's subscription goes is the upstream's business:
 * one Redis (upstream_single.c), the master a Sentinel names
 * (upstream_sentinel.c), or the cluster shard that serves the name's slot. The hub asks
 * for one name at a time and gets a future that Redis' confirmation
 * completes, or that fails; messages come back through on_message; and the
 * upstream says when it lost everything and got it back (on_state) or lost
 * one subscription only (on_lost), after which the hub subscribes again.
 * It knows nothing of clients or of who wants what.
 *
 * struct upstream is embedded, first, in each kind's own struct, whose
 * constructor fills in u_ops (a static table); the upstream_*() functions
 * below dispatch through it, so that callers never know which kind they
 * hold. The contract of each operation, which every kind keeps, is said
 * at struct upstream_ops.
 */
#ifndef PUBSUBD_UPSTREAM_H
#define PUBSUBD_UPSTREAM_H

#include <stddef.h>

#include "endpoint.h"

struct event_base;
struct future;
struct upstream;
struct upstream_facts;

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

/*
 * What an upstream tells its owner, with the arg given to its constructor:
 * from the event loop (a read, a timer), or from inside upstream_set_conf()
 * when a reload moves Redis. The owner must not free the upstream from
 * inside them.
 */
struct upstream_cbs {
	/* A message arrived, on a subscription Redis confirmed. */
	void	(*on_message)(void *arg, const struct upstream_msg *msg);
	/*
	 * The upstream came up (connected = 1): it takes subscriptions now,
	 * and holds none yet; or it went down (0): every future it had
	 * pending has already failed and Redis holds no subscription of
	 * ours any more. Up and down alternate, up first.
	 */
	void	(*on_state)(void *arg, int connected);
	/*
	 * Redis no longer holds this one subscription (its shard went away
	 * or the slot moved) while the upstream stays up: subscribe it
	 * again. name is borrowed for the call. An operation on the name
	 * that is in flight still completes, as it will. A kind that only
	 * ever loses everything at once (a single Redis) never calls it.
	 */
	void	(*on_lost)(void *arg, enum upstream_kind kind,
		    const char *name, size_t len);
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
	unsigned long long	switches;	/* moves to a new master that
						   Sentinel named; 0 for a
						   fixed address */
};

/*
 * The operations every kind of upstream implements, and what each must
 * guarantee. Futures returned are new and owned by the caller, who may
 * drop them at any time (the upstream keeps its own reference while it
 * needs one); each completes exactly once, from the event loop or at once.
 * A kind may leave out (NULL) only what its owner never calls: a test's
 * scripted upstream.
 *
 * start	Starts connecting; reconnects whenever the connection is
 *		lost, until free. on_state(1) once it takes subscriptions.
 * set_conf	Takes a new configuration (a reload); 0, or -1 on allocation
 *		failure with nothing changed. If the place or the credentials
 *		changed it drops what it holds (on_state(0)) and comes back
 *		(on_state(1)).
 * free		Frees the upstream: every pending future fails, on_state is
 *		not called. Never from inside one of its callbacks.
 * connected	Whether it takes subscriptions now: between on_state(1) and
 *		on_state(0).
 * pending	The bytes of messages waiting unread below it (0 if it
 *		cannot tell): while a full read's worth waits, the hub keeps
 *		its batch open over the next loop turns.
 * subscribe	Has Redis subscribe pubsubd to name (SUBSCRIBE, PSUBSCRIBE or
 *		SSUBSCRIBE by kind) wherever name's subscription belongs. The
 *		future is done (result NULL) when Redis confirmed it, from
 *		then on messages of name reach on_message; it fails if the
 *		upstream is not connected, is lost first, Redis refuses, or
 *		an operation on the same name (and kind) is already in flight:
 *		the caller keeps at most one per name. NULL only on
 *		allocation failure.
 * unsubscribe	The same for UNSUBSCRIBE, PUNSUBSCRIBE or SUNSUBSCRIBE.
 * command	Sends an ordinary command (PUBLISH, PUBSUB, COMMAND, ...) on a
 *		command connection of the upstream's own, made or remade as
 *		needed; done with a struct cmdconn_reply (cmdconn.h) as Redis
 *		sent it, owned by the future, or failed. NULL on allocation
 *		failure.
 * barrier	Done once every message of kind that Redis sent before now has
 *		been handed to on_message; done at once if not connected.
 * stats	Its outage counters, valid while it lives.
 * facts	What it learnt of Redis (upstream_facts.h), valid while it
 *		lives.
 * endpoint	Where its connections go now (the master a Sentinel named),
 *		for the connections of others (passthrough) and for logs;
 *		valid until the upstream next calls on_state or is freed.
 *		NULL while it does not know.
 * mode		Not an operation: the kind's name, for INFO and metrics.
 */
struct upstream_ops {
	void		 (*start)(struct upstream *up);
	int		 (*set_conf)(struct upstream *up,
			    const struct upstream_conf *conf);
	void		 (*free)(struct upstream *up);
	int		 (*connected)(const struct upstream *up);
	size_t		 (*pending)(const struct upstream *up);
	struct future	*(*subscribe)(struct upstream *up,
			    enum upstream_kind kind, const char *name,
			    size_t len);
	struct future	*(*unsubscribe)(struct upstream *up,
			    enum upstream_kind kind, const char *name,
			    size_t len);
	struct future	*(*command)(struct upstream *up, int argc,
			    const char *const *argv, const size_t *argvlen);
	struct future	*(*barrier)(struct upstream *up,
			    enum upstream_kind kind);
	const struct upstream_stats *(*stats)(const struct upstream *up);
	const struct upstream_facts *(*facts)(const struct upstream *up);
	const struct endpoint *(*endpoint)(const struct upstream *up);
	const char	 *mode;		/* what INFO says it is: "single",
					   "sentinel" */
};

/*
 * An upstream of any kind: the first member of its kind's struct, which
 * the ops cast back to.
 */
struct upstream {
	const struct upstream_ops	*u_ops;		/* borrowed: static */
};

/*
 * The calls, each the operation of the same name (see struct upstream_ops).
 * upstream_free() takes NULL too.
 */
void		 upstream_start(struct upstream *up);
int		 upstream_set_conf(struct upstream *up,
		    const struct upstream_conf *conf);
void		 upstream_free(struct upstream *up);
int		 upstream_connected(const struct upstream *up);
size_t		 upstream_pending(const struct upstream *up);
struct future	*upstream_subscribe(struct upstream *up,
		    enum upstream_kind kind, const char *name, size_t len);
struct future	*upstream_unsubscribe(struct upstream *up,
		    enum upstream_kind kind, const char *name, size_t len);
struct future	*upstream_command(struct upstream *up, int argc,
		    const char *const *argv, const size_t *argvlen);
struct future	*upstream_barrier(struct upstream *up, enum upstream_kind kind);
const struct upstream_stats *upstream_stats(const struct upstream *up);
const struct endpoint *upstream_endpoint(const struct upstream *up);
const char	*upstream_mode(const struct upstream *up);

/* How long, in ms, the upstream has been down now; 0 while it is up. */
long long	 upstream_down_ms(const struct upstream *up);

/* Now on the clock of struct upstream_stats (monotonic ms). */
long long	 upstream_now_ms(void);

/*
 * Every pubsubd's private channel starts so; they are never shown. A
 * barrier may travel through one (upstream_private.h).
 */
#define UPSTREAM_PRIVATE_PREFIX	"__pubsubd__:"

/*
 * What pubsubd learnt of Redis when it connected (upstream_facts.h): its
 * version ("unknown" before), its number of databases (16 before), and its
 * command table: upstream_command_arity() gives the arity of a command or a
 * subcommand ("client|getname"), lower case, and whether it has
 * subcommands; it returns 0, or -1 if Redis does not know name (or nothing
 * is known yet: upstream_commands_known() says which).
 */
const char	*upstream_redis_version(const struct upstream *up);
int		 upstream_databases(const struct upstream *up);
int		 upstream_command_arity(const struct upstream *up,
		    const char *name, size_t len, int *arity, int *container);
int		 upstream_commands_known(const struct upstream *up);

#endif /* PUBSUBD_UPSTREAM_H */
