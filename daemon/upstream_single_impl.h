/*
 * upstream_single_impl.h: what the two files of the single upstream share:
 * upstream_single.c (the connections and subscriptions) and
 * upstream_single_health.c (the connect deadline and the heartbeat). Not
 * for anyone else.
 */
#ifndef PUBSUBD_UPSTREAM_SINGLE_IMPL_H
#define PUBSUBD_UPSTREAM_SINGLE_IMPL_H

#include <stddef.h>
#include <sys/queue.h>

#include <event2/util.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "map.h"
#include "upstream.h"

struct bufferevent;
struct cmdconn;
struct event;
struct future;
struct upstream_facts;
struct upstream_private;

/*
 * An operation in flight: its key is the kind's byte followed by the name.
 * A shard one also waits in up_shard_q, in the order sent, since an error
 * reply on the shard connection names no channel: it answers the oldest.
 */
struct upstream_op {
	struct map_entry	 op_entry;
	TAILQ_ENTRY(upstream_op) op_q;		/* shard ones: up_shard_q */
	struct future		*op_fut;	/* owned ref */
	int			 op_sub;	/* subscribe, not unsubscribe */
	size_t			 op_keylen;
	char			 op_key[];
};

/*
 * One Redis. Owned by whoever upstream_single_new() returned its up_if to,
 * freed through upstream_free().
 */
struct upstream_single {
	struct upstream		 up_if;		/* first: what callers hold */
	struct event_base	*up_base;	/* borrowed */
	struct endpoint		*up_ep;		/* owned: where and how */
	char			 up_name[ENDPOINT_NAME_MAX];	/* for logs */
	struct upstream_cbs	 up_cbs;
	void			*up_arg;	/* borrowed: the cbs' */
	redisAsyncContext	*up_ac;		/* owned while not NULL */
	struct bufferevent	*up_shard;	/* owned: shard connection */
	redisReader		*up_reader;	/* owned: parses up_shard */
	int			 up_ac_up;	/* the hiredis link is up */
	int			 up_shard_up;	/* the shard connection is up */
	int			 up_ac_auth;	/* its AUTH is unanswered */
	int			 up_shard_auth;	/* its AUTH is unanswered */
	int			 up_losing;	/* in upstream_single_lost() */
	int			 up_connected;
	int			 up_started;
	int			 up_freeing;
	struct map		 up_ops;	/* of struct upstream_op */
	TAILQ_HEAD(, upstream_op) up_shard_q;	/* the shard ones, oldest
						   first */
	int			 up_slot;	/* a cluster node's: the slot
						   of its private channel; -1 */
	struct event		*up_retry_ev;	/* owned: reconnect timer */
	struct event		*up_timeout_ev;	/* owned: connect deadline */
	struct event		*up_health_ev;	/* owned: heartbeat timer */
	struct future		*up_heartbeat;	/* owned: in flight, or NULL */
	unsigned long long	 up_rx;		/* replies read, both links */
	unsigned long long	 up_rx_seen;	/* up_rx at the last check */
	long long		 up_rx_ms;	/* when up_rx last moved */
	struct upstream_conf	 up_conf;	/* up_conf.redis is *up_ep */
	struct upstream_stats	 up_stats;
	int			 up_backoff_ms;
	struct cmdconn		*up_cmd;	/* owned: pubsubd's commands */
	struct upstream_facts	*up_facts;	/* owned */
	struct upstream_private	*up_private;	/* owned: our own channel */
	int			 up_private_asked;	/* subscribing it */
	int			 up_private_ok;	/* confirmations: 2 = held */
};

/*
 * Handles the loss (or failed making) of either connection: see
 * upstream_single.c.
 */
void		 upstream_single_lost(struct upstream_single *up,
		    const char *why);
/* The barrier operation (upstream.h). */
struct future	*upstream_single_barrier(struct upstream *u,
		    enum upstream_kind kind);

/* upstream_single_health.c. */
void		 upstream_single_timeout_cb(evutil_socket_t fd, short what,
		    void *arg);
void		 upstream_single_health_cb(evutil_socket_t fd, short what,
		    void *arg);
void		 upstream_single_heartbeat_done(struct future *fut, void *arg);
void		 upstream_single_heartbeat_drop(struct upstream_single *up);

#endif /* PUBSUBD_UPSTREAM_SINGLE_IMPL_H */
