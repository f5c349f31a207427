/*
 * hub.h: the registry of who is subscribed to what, and the fan-out.
 *
 * The hub maps each channel (or pattern, or shard channel) to its local
 * subscribers and holds ONE upstream subscription per name however many
 * subscribers want it: the first subscriber subscribes upstream, the last
 * one to leave unsubscribes. Each name has a small state machine (idle,
 * subscribing, active, unsubscribing) with at most one upstream operation in
 * flight, so a subscribe that arrives while the upstream UNSUBSCRIBE of the
 * same name is in flight still ends subscribed.
 *
 * Fan-out (hub_batch.c): each message is encoded once per output form
 * (enum hub_form: RESP2, RESP3) into a shared batch of that form, the bytes
 * of everything one loop turn read from Redis; each subscriber keeps only a
 * chain of the segments of the batch that are its own (a segment is extended
 * while the messages it receives are adjacent, so one channel's subscribers
 * keep one each), in a pool of segments the hub reuses from batch to batch.
 * At the end of the loop turn each subscriber is handed its chain once, as
 * an iovec array, to write with a single system call or to reference
 * without copying. Nothing is allocated or copied per message per
 * subscriber. While Redis has more messages waiting (pubsubd is behind),
 * the batch stays open over the next turns, up to 10 ms or until it is
 * full, so that each write carries more of them.
 *
 * Subscribing takes two steps so that a subscriber never receives a message
 * before its confirmation: hub_subscribe() registers the interest and
 * returns a future done when Redis has confirmed the upstream subscription;
 * after it is done the subscriber calls hub_activate() and queues its
 * confirmation in the same loop callback.
 *
 * The hub talks to Redis through the upstream interface (upstream.h: it
 * subscribes, unsubscribes, asks whether the upstream is connected and how
 * much waits unread; one Redis today, a scripted one in the unit tests),
 * and delivers into struct hub_subscriber, which a session embeds: the hub
 * never knows what a client is.
 */
#ifndef PUBSUBD_HUB_H
#define PUBSUBD_HUB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/uio.h>

#include "map.h"
#include "upstream.h"

struct event_base;
struct future;
struct hub;
struct hub_batch;
struct hub_chan;

struct hub_subscriber;

/*
 * The wire forms a subscriber takes messages in. A batch encodes each
 * message once per form that has a receiver of it, and every subscriber of
 * that form shares those bytes; another form (a WebSocket frame, an SSE
 * event) is one more value here and one more encoder in hub_batch.c.
 */
enum hub_form {
	HUB_FORM_RESP2 = 0,	/* arrays: Redis' own message frames */
	HUB_FORM_RESP3,		/* RESP3 pushes */
	HUB_FORM_SSE,		/* Server-Sent Events (client_web.c) */
	HUB_FORM_WS_JSON,	/* WebSocket text frames of JSON (ws.c) */
	HUB_FORM_WS_RESP2,	/* WebSocket binary frames of RESP2 arrays */
	HUB_FORM_WS_RESP3,	/* ... of RESP3 pushes */
	HUB_FORMS
};

/*
 * The forms from this one on are encoded only while some subscriber takes
 * them (the hub counts them: hub_subscriber_set_form(), _leave()).
 */
#define HUB_FORMS_ON_DEMAND	HUB_FORM_SSE

/* The most segments one deliver call hands over. */
#define HUB_IOV		128
/*
 * A SUBSCRIBE Redis refused while the connection stays up, of a name that
 * subscribers still hold (a resubscription after Redis dropped it, say),
 * is sent again this often until Redis takes it.
 */
#define HUB_RETRY_MS	1000

struct hub_subscriber_ops {
	/*
	 * Hands the subscriber its messages of one batch, in order: iovcnt
	 * (1 to HUB_IOV) pieces of batch, len bytes in all; a chain of more
	 * pieces comes in several calls. The array is the hub's, for the call
	 * only (the subscriber may change it, as writev's callers do); the
	 * bytes are valid for the call only, unless the subscriber takes a
	 * reference with hub_batch_ref() (released by hub_batch_release()).
	 */
	void	(*deliver)(struct hub_subscriber *hs, struct hub_batch *batch,
		    struct iovec *iov, int iovcnt, size_t len);
};

/*
 * The hub's part of a subscriber: embedded in its owner (a session), who
 * sets hs_ops and zeroes the rest with hub_subscriber_init(). While hs_batch
 * is set, hs_head and hs_tail index its chain of pending segments in the
 * hub's pool (0: none yet).
 */
struct hub_subscriber {
	const struct hub_subscriber_ops	*hs_ops;	/* borrowed */
	struct hub_batch		*hs_batch;	/* chain's, or NULL */
	uint32_t			 hs_head;	/* first segment */
	uint32_t			 hs_tail;	/* last: extended */
	uint32_t			 hs_dirty;	/* index in the hub's list */
	uint8_t				 hs_form;	/* enum hub_form */
};

/*
 * One subscriber's subscription to one name. Owned by the hub: created by
 * hub_subscribe(), freed by hub_unsubscribe(). hs_owner_link is the
 * owner's, to list its own subscriptions. There is one per subscriber per
 * name, so it is kept small: the name is the channel's (hub_sub_name()),
 * and an owner that indexes many by name keeps its own entries.
 */
struct hub_sub {
	TAILQ_ENTRY(hub_sub)	 hs_owner_link;	/* the owner's, in order */
	struct hub_chan		*hs_chan;	/* borrowed: lives while we do */
	struct hub_subscriber	*hs_subscriber;	/* borrowed */
	uint32_t		 hs_index;	/* in the channel's active list */
};

/* The fan-out latency histogram's buckets (and one more: +Inf). */
#define HUB_LATENCY_BUCKETS	14

/*
 * Counters the hub keeps: plain integers, bumped per message (never per
 * message per receiver) or per batch.
 *
 * The fan-out latency of a message is the time from the moment the first
 * message of its batch (what one loop turn, or a few while more was
 * waiting, read from Redis) reached the hub, just after hiredis parsed it,
 * to the moment every subscriber of the batch had been handed its part
 * (written to its socket with one sendmsg(), or queued behind the output
 * it already had). Every message of a batch is one observation of the same
 * value: an upper bound of its own latency.
 */
struct hub_stats {
	uint64_t	messages_in;	/* messages from Redis */
	uint64_t	deliveries;	/* messages x receivers */
	uint64_t	batches;	/* flushes */
	uint64_t	upstream_subscribes;
	uint64_t	upstream_unsubscribes;
	uint64_t	unrouted;	/* messages no active subscriber had */
	uint64_t	dropped;	/* messages lost: out of memory */
	uint64_t	held[UPSTREAM_KINDS];	/* names Redis holds, now */
	uint64_t	latency_count;	/* messages measured */
	uint64_t	latency_sum_ns;
	/* Per bucket (not cumulative); the last is above every bound. */
	uint64_t	latency[HUB_LATENCY_BUCKETS + 1];
};

/*
 * Returns a new hub on base that reaches Redis through up (both borrowed,
 * and must outlive the hub), or NULL. Owned by the caller, who hands the
 * upstream's callbacks to hub_message() and hub_upstream_state().
 */
struct hub	*hub_new(struct event_base *base, struct upstream *up);

/* Frees the hub; every subscription must have been released first. */
void		 hub_free(struct hub *hub);

/*
 * Registers hs's interest in name. Returns the pending subscription, and in
 * *ready a new future owned by the caller that is done once the upstream
 * subscription is confirmed (at once if it already is) or fails. Returns NULL
 * on allocation failure.
 */
struct hub_sub	*hub_subscribe(struct hub *hub, struct hub_subscriber *hs,
		    enum upstream_kind kind, const char *name, size_t len,
		    struct future **ready);

/* Starts delivering to sub; call once its ready future is done. */
void		 hub_activate(struct hub *hub, struct hub_sub *sub);

/* Ends and frees sub, pending or active; the last one unsubscribes upstream. */
void		 hub_unsubscribe(struct hub *hub, struct hub_sub *sub);

/* Whether sub receives messages (hub_activate() was called). */
int		 hub_sub_active(const struct hub_sub *sub);

/* The name of sub's channel (borrowed, valid while sub lives). */
const char	*hub_sub_name(const struct hub_sub *sub, size_t *len);
enum upstream_kind hub_sub_kind(const struct hub_sub *sub);

/* Prepares an embedded subscriber; ops is borrowed. */
void		 hub_subscriber_init(struct hub_subscriber *hs,
		    const struct hub_subscriber_ops *ops);

/*
 * Hands hs its pending segments at once (through deliver), so that what the
 * subscriber writes next comes after the messages it already received.
 */
void		 hub_subscriber_flush(struct hub *hub, struct hub_subscriber *hs);

/*
 * Switches the form hs takes messages in (HUB_FORM_RESP2 after
 * hub_subscriber_init()); its pending segments are delivered first.
 */
void		 hub_subscriber_set_form(struct hub *hub,
		    struct hub_subscriber *hs, enum hub_form form);

/*
 * Forgets hs's pending segments, and hs itself as a taker of its form;
 * call before freeing a subscriber.
 */
void		 hub_subscriber_forget(struct hub *hub, struct hub_subscriber *hs);

/* Upstream callbacks: a message arrived; the connection came up or went down. */
void		 hub_message(struct hub *hub, const struct upstream_msg *msg);
void		 hub_upstream_state(struct hub *hub, int connected);

/*
 * Upstream callback: Redis no longer holds pubsubd's subscription to name
 * (borrowed), though the upstream stays up (on_lost in upstream.h). The
 * name needs an upstream subscription again and gets one as after a
 * reconnect: at once, or once the operation on it in flight completes,
 * whatever that operation's outcome. Its subscribers stay subscribed and
 * receive its messages again once Redis confirms; what was published
 * meanwhile is lost. A name nobody wants is only forgotten.
 */
void		 hub_upstream_lost(struct hub *hub, enum upstream_kind kind,
		    const char *name, size_t len);

/*
 * Hands every subscriber its segments of the current batch now; the hub
 * does this by itself at the end of each loop turn that received messages.
 */
void		 hub_flush(struct hub *hub);

/*
 * Whether Redis holds pubsubd's own subscription to name (confirmed, and no
 * unsubscribe confirmed since), as Redis' counts include it.
 */
int		 hub_held(const struct hub *hub, enum upstream_kind kind,
		    const char *name, size_t len);

/* The number of active local subscriptions to name. */
uint32_t	 hub_local(const struct hub *hub, enum upstream_kind kind,
		    const char *name, size_t len);

/*
 * For a message published to channel (kind UPSTREAM_CHANNEL, or
 * UPSTREAM_SHARD): *own is how many of pubsubd's upstream subscriptions
 * Redis counts as receivers (the channel and every held pattern that
 * matches it), *local how many local subscribers receive it.
 */
void		 hub_receivers(const struct hub *hub, enum upstream_kind kind,
		    const char *channel, size_t len, long long *own,
		    long long *local);

/*
 * Waiting until Redis and the hub agree. An upstream SUBSCRIBE or
 * UNSUBSCRIBE travels on the subscriber connection, a PUBLISH or PUBSUB on
 * the command connection: while one is in flight, Redis may already have
 * done it when it answers the other, or not yet, and the hub cannot tell
 * which. Unless the count that answer gives is computed from what the hub
 * holds (hub_receivers(), hub_held(), hub_local()) once nothing that could
 * change it is in flight, it is off by one for every such operation.
 *
 * A settle is a future done when every operation that was in flight on the
 * names added to it when they were added has completed (confirmed or
 * failed); operations started later are not waited for, so a caller is
 * never starved by others subscribing and unsubscribing all the time:
 * those are concurrent with it, and either order gives a count that is
 * right for one of them.
 *
 *	HUB_SETTLE_NAME		the name of kind itself
 *	HUB_SETTLE_RECEIVERS	what a message published to channel name of
 *				kind reaches: the name, and for
 *				UPSTREAM_CHANNEL every pattern matching it
 *	HUB_SETTLE_MATCH	every name of kind that the glob name matches
 *				(NULL: every name of kind)
 */
enum hub_settle_scope {
	HUB_SETTLE_NAME,
	HUB_SETTLE_RECEIVERS,
	HUB_SETTLE_MATCH
};

struct hub_settle;

/*
 * Adds the operations now in flight that scope covers (name borrowed) to
 * *stp, a settle made the first time one is found; start with *stp NULL.
 * Nothing is allocated while nothing is in flight.
 */
void		 hub_settle_add(struct hub *hub, struct hub_settle **stp,
		    enum upstream_kind kind, enum hub_settle_scope scope,
		    const char *name, size_t len);

/*
 * Ends building st (NULL: nothing was in flight), which the hub then owns
 * and frees. Returns a new future owned by the caller, done once every
 * operation added has completed, or NULL if there is nothing to wait for
 * (the common case). The future completes from the callback of the last
 * operation, after the hub has taken in its outcome.
 */
struct future	*hub_settle_end(struct hub_settle *st);

/*
 * Calls fn for every name of kind the hub knows (wanted, or with an upstream
 * operation in flight): local is its number of active local subscribers,
 * held whether Redis holds pubsubd's subscription (see hub_held()).
 */
void		 hub_foreach(const struct hub *hub, enum upstream_kind kind,
		    void (*fn)(const char *name, size_t len, uint32_t local,
		    int held, void *arg), void *arg);

/* Number of names with local interest, of one kind. */
size_t		 hub_count(const struct hub *hub, enum upstream_kind kind);

/* Whether everything wanted is subscribed upstream (the health check). */
int		 hub_synced(const struct hub *hub);

const struct hub_stats *hub_stats(const struct hub *hub);

/*
 * The upper bound of fan-out latency bucket i (0 to HUB_LATENCY_BUCKETS - 1)
 * in nanoseconds; *text gets it in seconds, as a static string ("0.0001").
 */
uint64_t	 hub_latency_bound(int i, const char **text);

/* A reference on a batch, for subscribers that keep its bytes. */
void		 hub_batch_ref(struct hub_batch *batch);

/* Drops a reference; shaped as libevent's evbuffer_ref_cleanup_cb. */
void		 hub_batch_release(const void *data, size_t len, void *batch);

#endif /* PUBSUBD_HUB_H */
