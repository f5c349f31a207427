/*
 * hub.c: channels, their subscribers, the upstream state machine of each
 * channel, and the batched fan-out.
 *
 * A channel (struct hub_chan) exists while anyone wants it or an upstream
 * operation on it is in flight. Its state says what Redis holds:
 *
 *	IDLE ----subscribe sent----> SUBSCRIBING --confirmed--> ACTIVE
 *	  ^                               |                       |
 *	  |   (failed: connection lost)   |                       |
 *	  +-------------------------------+                       |
 *	  +-----confirmed------ UNSUBSCRIBING <--unsubscribe sent--+
 *
 * hub_reconcile() compares what is wanted (ch_refs > 0) with that state and
 * sends at most one operation at a time; each confirmation calls it again.
 * So a subscribe during an in-flight unsubscribe waits for the unsubscribe's
 * confirmation and then subscribes again, and the end state is always what
 * the subscribers want.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "future.h"
#include "hub.h"
#include "log.h"
#include "pattern.h"
#include "pool.h"

#define HUB_BATCH_SIZE	(256 * 1024)	/* a batch is flushed when full */

/*
 * The segment pool: never smaller than HUB_SEGS_MIN; a batch that would
 * need more than HUB_SEGS_MAX is flushed early (unless one message alone
 * needs more); every HUB_SEGS_TRIM batches a pool that stayed under a
 * quarter of its size is halved.
 */
#define HUB_SEGS_MIN	1024
#define HUB_SEGS_MAX	(256 * 1024)	/* 3 MB */
#define HUB_SEGS_TRIM	1024

/*
 * While Redis has at least HUB_DEFER_BYTES waiting (one more full read:
 * pubsubd is behind), a batch is kept open over the next loop turns, up to
 * HUB_DEFER_NS old or until it is full, so that each subscriber gets more
 * messages per write. Behind, the backlog's wait dwarfs this one.
 */
#define HUB_DEFER_BYTES	(16 * 1024)	/* hiredis reads 16 KiB at a time */
#define HUB_DEFER_NS	10000000	/* 10 ms */

enum hub_chan_state {
	HUB_IDLE = 0,
	HUB_SUBSCRIBING,
	HUB_ACTIVE,
	HUB_UNSUBSCRIBING
};

/*
 * Encoded messages shared by every subscriber that received them. Owned by
 * its references: the hub's while it is the current batch, and one for each
 * evbuffer reference a subscriber keeps.
 */
struct hub_batch {
	unsigned int	 b_refs;
	size_t		 b_len;
	size_t		 b_cap;
	char		 b_data[];
};

/*
 * A piece of a batch one subscriber receives: bytes [sg_off, sg_off +
 * sg_len) of it; sg_next is the next of the same subscriber (0: none).
 */
struct hub_seg {
	uint32_t	 sg_off;
	uint32_t	 sg_len;
	uint32_t	 sg_next;
};

struct hub_chan {
	struct map_entry	  ch_entry;	/* in hub->h_chans[kind] */
	struct hub		 *ch_hub;	/* borrowed: the owner */
	enum upstream_kind	  ch_kind;
	enum hub_chan_state	  ch_state;
	uint32_t		  ch_refs;	/* pending + active subs */
	struct hub_sub		**ch_subs;	/* owned array of the active */
	uint32_t		  ch_nsubs;
	uint32_t		  ch_cap;
	struct future		 *ch_op;	/* owned: upstream op in flight */
	int			  ch_op_sub;	/* ch_op is a subscribe */
	struct future		 *ch_ready;	/* owned: waiters' confirmation */
	size_t			  ch_namelen;
	char			  ch_name[];	/* NUL-terminated too */
};

/*
 * A wait for the upstream operations that were in flight when they were
 * added to it (hub_settle_add()). Owned by itself: freed when the
 * last of them completes, after completing st_done.
 */
struct hub_settle {
	struct hub		*st_hub;	/* borrowed */
	struct future		*st_done;	/* owned ref */
	uint32_t		 st_left;	/* operations, + 1 while built */
};

struct hub {
	struct event_base		 *h_base;	/* borrowed */
	const struct hub_upstream	 *h_ops;	/* borrowed */
	void				 *h_up;		/* borrowed */
	struct map			  h_chans[UPSTREAM_KINDS];
	struct hub_batch		 *h_batch[2];	/* RESP2, RESP3: owned */
	struct hub_subscriber		**h_dirty;	/* owned array */
	uint32_t			  h_ndirty;
	uint32_t			  h_dirtycap;
	struct hub_seg			 *h_segs;	/* owned; [0] unused */
	uint32_t			  h_nsegs;	/* used, 0 included */
	uint32_t			  h_segcap;
	uint32_t			  h_segpeak;	/* since last trim */
	uint32_t			  h_segbatches;	/* flushes since then */
	struct event			 *h_flush_ev;	/* owned */
	struct event			 *h_defer_ev;	/* owned: next turn */
	int				  h_flush_scheduled;
	int				  h_deferred;	/* h_defer_ev added */
	uint32_t			  h_batch_msgs;	/* in this batch */
	uint64_t			  h_batch_t0;	/* its start, ns */
	struct hub_stats		  h_stats;
	struct pool			  h_subs;	/* of struct hub_sub */
};

/* The fan-out latency buckets' upper bounds: 50 us to 1 s. */
static const struct {
	uint64_t	 ns;
	const char	*text;
} hub_latency_bounds[HUB_LATENCY_BUCKETS] = {
	{ 50000, "0.00005" }, { 100000, "0.0001" }, { 250000, "0.00025" },
	{ 500000, "0.0005" }, { 1000000, "0.001" }, { 2500000, "0.0025" },
	{ 5000000, "0.005" }, { 10000000, "0.01" }, { 25000000, "0.025" },
	{ 50000000, "0.05" }, { 100000000, "0.1" }, { 250000000, "0.25" },
	{ 500000000, "0.5" }, { 1000000000, "1" }
};

static struct hub_chan *hub_chan_get(struct hub *, enum upstream_kind,
		    const char *, size_t);
static void	hub_chan_free(struct hub *, struct hub_chan *);
static void	hub_reconcile(struct hub *, struct hub_chan *);
static void	hub_op_done(struct future *, void *);
static void	hub_flush_cb(evutil_socket_t, short, void *);
static int	hub_reserve(struct hub *, size_t);
static int	hub_room(struct hub *, uint32_t);
static int	hub_segs_resize(struct hub *, uint32_t);
static void	hub_segs_trim(struct hub *);
static size_t	hub_encode(struct hub_batch *, const struct upstream_msg *, int);
static size_t	hub_frame_size(const struct upstream_msg *);
static char	*hub_put_bulk(char *, const char *, size_t);
static int	hub_deliver(struct hub *, struct hub_chan *,
		    const struct upstream_msg *);
static void	hub_chan_set_state(struct hub *, struct hub_chan *,
		    enum hub_chan_state);
static int	hub_chan_held(const struct hub_chan *);
static struct hub_chan *hub_chan_find(const struct hub *, enum upstream_kind,
		    const char *, size_t);
static void	hub_settle_put(struct hub_settle *);
static void	hub_settle_op_done(struct future *, void *);
static struct hub_settle *hub_settle_new(struct hub *);
static void	hub_settle_chan(struct hub *, struct hub_settle **,
		    struct hub_chan *);
static uint64_t	hub_now_ns(void);
static void	hub_observe(struct hub *, uint64_t, uint32_t);

/* The frames' fixed first elements. */
static const char *const hub_msg_type[UPSTREAM_KINDS] = {
	"message", "pmessage", "smessage"
};

/* Returns a new hub that reaches Redis through ops and up. */
struct hub *
hub_new(struct event_base *base, const struct hub_upstream *ops, void *up)
{
	struct hub	*hub;
	int		 k;

	if ((hub = calloc(1, sizeof(*hub))) == NULL)
		return NULL;
	hub->h_base = base;
	hub->h_ops = ops;
	hub->h_up = up;
	for (k = 0; k < UPSTREAM_KINDS; k++)
		map_init(&hub->h_chans[k]);
	hub->h_nsegs = 1;
	pool_init(&hub->h_subs, sizeof(struct hub_sub));
	hub->h_flush_ev = event_new(base, -1, 0, hub_flush_cb, hub);
	hub->h_defer_ev = evtimer_new(base, hub_flush_cb, hub);
	if (hub->h_flush_ev == NULL || hub->h_defer_ev == NULL ||
	    hub_segs_resize(hub, HUB_SEGS_MIN) == -1) {
		if (hub->h_flush_ev != NULL)
			event_free(hub->h_flush_ev);
		if (hub->h_defer_ev != NULL)
			event_free(hub->h_defer_ev);
		free(hub);
		return NULL;
	}
	return hub;
}

/* Frees the hub and the channels whose upstream operations are in flight. */
void
hub_free(struct hub *hub)
{
	struct map_iter		 it;
	struct map_entry	*e;
	struct hub_chan		*ch;
	int			 k;

	if (hub == NULL)
		return;
	for (k = 0; k < UPSTREAM_KINDS; k++) {
		map_iter_init(&it, &hub->h_chans[k]);
		while ((e = map_iter_next(&it)) != NULL) {
			ch = MAP_ITEM(e, struct hub_chan, ch_entry);
			if (ch->ch_refs != 0)
				log_warnx("hub freed with %u subscriptions of "
				    "'%s'", ch->ch_refs, ch->ch_name);
			hub_chan_free(hub, ch);
		}
		map_clear(&hub->h_chans[k]);
	}
	for (k = 0; k < 2; k++)
		if (hub->h_batch[k] != NULL)
			hub_batch_release(NULL, 0, hub->h_batch[k]);
	free(hub->h_dirty);
	free(hub->h_segs);
	event_free(hub->h_flush_ev);
	event_free(hub->h_defer_ev);
	pool_destroy(&hub->h_subs);
	free(hub);
}

/* Finds or makes the channel of a name. */
static struct hub_chan *
hub_chan_get(struct hub *hub, enum upstream_kind kind, const char *name,
    size_t len)
{
	struct map_entry	*e;
	struct hub_chan		*ch;

	if ((e = map_find(&hub->h_chans[kind], name, len)) != NULL)
		return MAP_ITEM(e, struct hub_chan, ch_entry);
	if ((ch = calloc(1, sizeof(*ch) + len + 1)) == NULL)
		return NULL;
	ch->ch_hub = hub;
	ch->ch_kind = kind;
	ch->ch_namelen = len;
	memcpy(ch->ch_name, name, len);
	if (map_insert(&hub->h_chans[kind], &ch->ch_entry, ch->ch_name,
	    len) == -1) {
		free(ch);
		return NULL;
	}
	return ch;
}

/* Unlinks and frees a channel, abandoning any operation in flight. */
static void
hub_chan_free(struct hub *hub, struct hub_chan *ch)
{
	hub_chan_set_state(hub, ch, HUB_IDLE);
	map_remove(&hub->h_chans[ch->ch_kind], &ch->ch_entry);
	if (ch->ch_op != NULL) {
		future_cancel(ch->ch_op);
		future_unref(ch->ch_op);
	}
	if (ch->ch_ready != NULL) {
		future_cancel(ch->ch_ready);
		future_unref(ch->ch_ready);
	}
	free(ch->ch_subs);
	free(ch);
}

/*
 * Moves a channel towards what its subscribers want: sends SUBSCRIBE or
 * UNSUBSCRIBE when nothing is in flight, or frees an unwanted idle channel.
 */
static void
hub_reconcile(struct hub *hub, struct hub_chan *ch)
{
	int	want = ch->ch_refs > 0;

	if (ch->ch_op != NULL)
		return;
	switch (ch->ch_state) {
	case HUB_IDLE:
		if (!want) {
			hub_chan_free(hub, ch);
			return;
		}
		if (!hub->h_ops->connected(hub->h_up))
			return;		/* hub_upstream_state() resumes */
		hub_chan_set_state(hub, ch, HUB_SUBSCRIBING);
		ch->ch_op_sub = 1;
		hub->h_stats.upstream_subscribes++;
		ch->ch_op = hub->h_ops->subscribe(hub->h_up, ch->ch_kind,
		    ch->ch_name, ch->ch_namelen);
		break;
	case HUB_ACTIVE:
		if (want)
			return;
		hub_chan_set_state(hub, ch, HUB_UNSUBSCRIBING);
		ch->ch_op_sub = 0;
		hub->h_stats.upstream_unsubscribes++;
		ch->ch_op = hub->h_ops->unsubscribe(hub->h_up, ch->ch_kind,
		    ch->ch_name, ch->ch_namelen);
		break;
	default:
		return;
	}
	if (ch->ch_op == NULL) {
		/* Out of memory in the upstream: treat as a failed op. */
		log_warnx("upstream operation on '%s' could not start",
		    ch->ch_name);
		hub_chan_set_state(hub, ch, ch->ch_op_sub ? HUB_IDLE :
		    HUB_ACTIVE);
		return;
	}
	future_add_callback(ch->ch_op, hub_op_done, ch);
}

/*
 * An upstream SUBSCRIBE or UNSUBSCRIBE completed. A confirmed subscribe
 * releases the waiters; a failed operation (the connection was lost) leaves
 * the channel idle until the upstream comes back, except that waiters are
 * told at once if the upstream is still connected (Redis refused).
 */
static void
hub_op_done(struct future *op, void *arg)
{
	struct hub_chan	*ch = arg;
	struct hub	*hub = ch->ch_hub;
	struct future	*ready;

	if (future_state(op) == FUTURE_CANCELLED)
		return;		/* hub_chan_free() is abandoning it */
	ch->ch_op = NULL;
	if (future_state(op) == FUTURE_DONE) {
		hub_chan_set_state(hub, ch, ch->ch_op_sub ? HUB_ACTIVE :
		    HUB_IDLE);
		if (ch->ch_op_sub && (ready = ch->ch_ready) != NULL) {
			ch->ch_ready = NULL;
			future_set_result(ready, NULL, NULL);
			future_unref(ready);
		}
		future_unref(op);
		hub_reconcile(hub, ch);
		return;
	}
	log_info("upstream %s of '%s' failed: %s",
	    ch->ch_op_sub ? "subscribe" : "unsubscribe", ch->ch_name,
	    future_error(op));
	hub_chan_set_state(hub, ch, HUB_IDLE);
	if ((ready = ch->ch_ready) != NULL &&
	    hub->h_ops->connected(hub->h_up)) {
		ch->ch_ready = NULL;
		future_set_error(ready, "upstream %s failed: %s",
		    ch->ch_op_sub ? "subscribe" : "unsubscribe",
		    future_error(op));
		future_unref(ready);
	}
	future_unref(op);
	if (ch->ch_refs == 0)
		hub_chan_free(hub, ch);
}

/* Registers interest in a name; see hub.h. */
struct hub_sub *
hub_subscribe(struct hub *hub, struct hub_subscriber *hs,
    enum upstream_kind kind, const char *name, size_t len,
    struct future **ready)
{
	struct hub_chan	*ch;
	struct hub_sub	*sub;
	struct future	*f;

	*ready = NULL;
	if ((ch = hub_chan_get(hub, kind, name, len)) == NULL)
		return NULL;
	sub = pool_get(&hub->h_subs);
	f = future_new();
	if (sub == NULL || f == NULL)
		goto fail;
	if (ch->ch_state == HUB_ACTIVE)
		future_set_result(f, NULL, NULL);
	else {
		if (ch->ch_ready == NULL && (ch->ch_ready = future_new()) == NULL)
			goto fail;
		future_chain(f, ch->ch_ready);
	}
	sub->hs_chan = ch;
	sub->hs_subscriber = hs;
	sub->hs_index = UINT32_MAX;
	ch->ch_refs++;
	*ready = f;
	hub_reconcile(hub, ch);
	return sub;
fail:
	pool_put(&hub->h_subs, sub);
	future_unref(f);
	if (ch->ch_refs == 0 && ch->ch_op == NULL)
		hub_chan_free(hub, ch);
	return NULL;
}

/* Starts delivering to a subscription whose ready future is done. */
void
hub_activate(struct hub *hub, struct hub_sub *sub)
{
	struct hub_chan	 *ch = sub->hs_chan;
	struct hub_sub	**subs;
	uint32_t	  cap;

	if (sub->hs_index != UINT32_MAX)
		return;
	if (ch->ch_nsubs == ch->ch_cap) {
		cap = ch->ch_cap ? ch->ch_cap * 2 : 4;
		subs = reallocarray(ch->ch_subs, cap, sizeof(*subs));
		if (subs == NULL) {
			log_warnx("out of memory activating '%s'", ch->ch_name);
			return;
		}
		ch->ch_subs = subs;
		ch->ch_cap = cap;
	}
	sub->hs_index = ch->ch_nsubs;
	ch->ch_subs[ch->ch_nsubs++] = sub;
	(void)hub;
}

/* Ends and frees a subscription; the last one unsubscribes upstream. */
void
hub_unsubscribe(struct hub *hub, struct hub_sub *sub)
{
	struct hub_chan	*ch = sub->hs_chan;
	struct hub_sub	*last;

	if (sub->hs_index != UINT32_MAX) {
		last = ch->ch_subs[--ch->ch_nsubs];
		ch->ch_subs[sub->hs_index] = last;
		last->hs_index = sub->hs_index;
		if (ch->ch_nsubs == 0) {
			free(ch->ch_subs);
			ch->ch_subs = NULL;
			ch->ch_cap = 0;
		}
	}
	pool_put(&hub->h_subs, sub);
	ch->ch_refs--;
	hub_reconcile(hub, ch);
}

/* Whether a subscription receives messages. */
int
hub_sub_active(const struct hub_sub *sub)
{
	return sub->hs_index != UINT32_MAX;
}

/* The name of a subscription's channel. */
const char *
hub_sub_name(const struct hub_sub *sub, size_t *len)
{
	*len = sub->hs_chan->ch_namelen;
	return sub->hs_chan->ch_name;
}

/* The kind of a subscription. */
enum upstream_kind
hub_sub_kind(const struct hub_sub *sub)
{
	return sub->hs_chan->ch_kind;
}

/* Prepares an embedded subscriber. */
void
hub_subscriber_init(struct hub_subscriber *hs,
    const struct hub_subscriber_ops *ops)
{
	memset(hs, 0, sizeof(*hs));
	hs->hs_ops = ops;
}

/*
 * Hands a subscriber its pending segments now, HUB_IOV at a time. The chain
 * is emptied first (the subscriber stays in the batch's dirty list), so a
 * deliver that forgets the subscriber finds nothing left to drop.
 */
void
hub_subscriber_flush(struct hub *hub, struct hub_subscriber *hs)
{
	struct hub_batch	*b = hs->hs_batch;
	const struct hub_seg	*sg;
	struct iovec		 iov[HUB_IOV];
	uint32_t		 i;
	size_t			 len = 0;
	int			 n = 0;

	if (b == NULL || (i = hs->hs_head) == 0)
		return;
	hs->hs_head = hs->hs_tail = 0;
	while (i != 0) {
		sg = &hub->h_segs[i];
		iov[n].iov_base = b->b_data + sg->sg_off;
		iov[n].iov_len = sg->sg_len;
		len += sg->sg_len;
		n++;
		i = sg->sg_next;
		if (n < HUB_IOV && i != 0)
			continue;
		hs->hs_ops->deliver(hs, b, iov, n, len);
		if (hs->hs_batch != b)
			return;		/* forgotten meanwhile */
		n = 0;
		len = 0;
	}
}

/* Switches a subscriber's protocol; its pending segments go out first. */
void
hub_subscriber_set_resp3(struct hub *hub, struct hub_subscriber *hs,
    int resp3)
{
	hub_subscriber_flush(hub, hs);
	/* Its chain is over; a new one starts in the other batch. */
	hub_subscriber_forget(hub, hs);
	hs->hs_resp3 = resp3 != 0;
}

/* Forgets a subscriber's pending segments; it is going away. */
void
hub_subscriber_forget(struct hub *hub, struct hub_subscriber *hs)
{
	if (hs->hs_batch == NULL)
		return;
	hub->h_dirty[hs->hs_dirty] = NULL;
	hs->hs_batch = NULL;
	hs->hs_head = hs->hs_tail = 0;
}

/* The size of a message's frame (the same in RESP2 and RESP3). */
static size_t
hub_frame_size(const struct upstream_msg *m)
{
	/* "*N\r\n" + "$L\r\n" bodies "\r\n": 24 covers each header. */
	return 4 + 4 * 24 + 10 + m->patternlen + m->channellen + m->payloadlen;
}

/* Writes a bulk string at p; returns the end. */
static char *
hub_put_bulk(char *p, const char *s, size_t len)
{
	char	digits[24];
	int	n = 0;
	size_t	v = len;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	*p++ = '$';
	while (n > 0)
		*p++ = digits[--n];
	*p++ = '\r';
	*p++ = '\n';
	memcpy(p, s, len);
	p += len;
	*p++ = '\r';
	*p++ = '\n';
	return p;
}

/*
 * Makes sure both batches can take need more bytes without a flush in the
 * middle of a message's fan-out: flushes first if one cannot, and makes a
 * batch large enough for a message bigger than the usual size.
 */
static int
hub_reserve(struct hub *hub, size_t need)
{
	struct hub_batch	*b;
	size_t			 cap;
	int			 p;

	for (p = 0; p < 2; p++) {
		b = hub->h_batch[p];
		if (b != NULL && b->b_len + need > b->b_cap) {
			hub_flush(hub);
			break;
		}
	}
	for (p = 0; p < 2; p++) {
		b = hub->h_batch[p];
		if (b != NULL && b->b_len + need <= b->b_cap)
			continue;
		if (b != NULL) {
			hub_batch_release(NULL, 0, b);
			hub->h_batch[p] = NULL;
		}
		cap = need > HUB_BATCH_SIZE ? need : HUB_BATCH_SIZE;
		if ((b = malloc(sizeof(*b) + cap)) == NULL)
			return -1;
		b->b_refs = 1;
		b->b_len = 0;
		b->b_cap = cap;
		hub->h_batch[p] = b;
	}
	return 0;
}

/*
 * Appends a message's frame to batch b (RESP2 array or RESP3 push: they
 * differ only in the first byte) and returns its offset; room was reserved.
 */
static size_t
hub_encode(struct hub_batch *b, const struct upstream_msg *m, int resp3)
{
	const char	*type = hub_msg_type[m->kind];
	char		*start, *p;

	start = p = b->b_data + b->b_len;
	*p++ = resp3 ? '>' : '*';
	*p++ = m->kind == UPSTREAM_PATTERN ? '4' : '3';
	*p++ = '\r';
	*p++ = '\n';
	p = hub_put_bulk(p, type, strlen(type));
	if (m->kind == UPSTREAM_PATTERN)
		p = hub_put_bulk(p, m->pattern, m->patternlen);
	p = hub_put_bulk(p, m->channel, m->channellen);
	p = hub_put_bulk(p, m->payload, m->payloadlen);
	b->b_len += (size_t)(p - start);
	return (size_t)(start - b->b_data);
}

/* Resizes the segment pool to cap entries (at least those in use). */
static int
hub_segs_resize(struct hub *hub, uint32_t cap)
{
	struct hub_seg	*segs;

	segs = reallocarray(hub->h_segs, cap, sizeof(*segs));
	if (segs == NULL)
		return -1;
	hub->h_segs = segs;
	hub->h_segcap = cap;
	return 0;
}

/*
 * Makes room for n more receivers of a message in the dirty list and the
 * segment pool, growing them by doubling; flushes first if the pool would
 * pass HUB_SEGS_MAX (a batch of many channels' messages interleaved).
 * Called before hub_reserve(), whose room a flush would undo.
 */
static int
hub_room(struct hub *hub, uint32_t n)
{
	struct hub_subscriber	**dirty;
	uint32_t		  cap;

	if (hub->h_ndirty + n > hub->h_dirtycap) {
		cap = hub->h_dirtycap ? hub->h_dirtycap : 64;
		while (cap < hub->h_ndirty + n)
			cap *= 2;
		dirty = reallocarray(hub->h_dirty, cap, sizeof(*dirty));
		if (dirty == NULL)
			return -1;
		hub->h_dirty = dirty;
		hub->h_dirtycap = cap;
	}
	if (hub->h_nsegs + n <= hub->h_segcap)
		return 0;
	if (hub->h_nsegs > 1 && hub->h_nsegs + n > HUB_SEGS_MAX) {
		hub_flush(hub);
		if (hub->h_nsegs + n <= hub->h_segcap)
			return 0;
	}
	cap = hub->h_segcap;
	while (cap < hub->h_nsegs + n) {
		if (cap > UINT32_MAX / 2)
			return -1;
		cap *= 2;
	}
	return hub_segs_resize(hub, cap);
}

/*
 * Halves the segment pool when it stayed under a quarter full for
 * HUB_SEGS_TRIM batches, so that one burst does not keep it large.
 */
static void
hub_segs_trim(struct hub *hub)
{
	uint32_t	cap;

	if (hub->h_nsegs > hub->h_segpeak)
		hub->h_segpeak = hub->h_nsegs;
	if (++hub->h_segbatches < HUB_SEGS_TRIM)
		return;
	cap = hub->h_segcap / 2;
	if (cap >= HUB_SEGS_MIN && hub->h_segpeak < hub->h_segcap / 4)
		(void)hub_segs_resize(hub, cap);	/* kept if it fails */
	hub->h_segpeak = 0;
	hub->h_segbatches = 0;
}

/*
 * Gives every active subscriber of ch the message, encoded at most once per
 * protocol: extends the last segment of the subscriber's chain when the
 * frame follows it, else appends a segment from the pool. This is the per
 * message x per subscriber path: no allocation, no copy, no system call.
 */
static int
hub_deliver(struct hub *hub, struct hub_chan *ch, const struct upstream_msg *m)
{
	struct hub_subscriber	*hs;
	struct hub_batch	*b;
	struct hub_seg		*sg;
	uint32_t		 i, n, start[2], len[2];
	int			 p, done[2] = { 0, 0 };

	if (hub_room(hub, ch->ch_nsubs) == -1 ||
	    hub_reserve(hub, hub_frame_size(m)) == -1)
		return -1;
	for (i = 0; i < ch->ch_nsubs; i++) {
		hs = ch->ch_subs[i]->hs_subscriber;
		p = hs->hs_resp3;
		b = hub->h_batch[p];
		if (!done[p]) {
			start[p] = (uint32_t)hub_encode(b, m, p);
			len[p] = (uint32_t)b->b_len - start[p];
			done[p] = 1;
		}
		if (hs->hs_batch != b) {
			hs->hs_batch = b;
			hs->hs_head = hs->hs_tail = 0;
			hs->hs_dirty = hub->h_ndirty;
			hub->h_dirty[hub->h_ndirty++] = hs;
		} else if (hs->hs_tail != 0) {
			sg = &hub->h_segs[hs->hs_tail];
			if (sg->sg_off + sg->sg_len == start[p]) {
				sg->sg_len += len[p];
				continue;
			}
		}
		n = hub->h_nsegs++;
		sg = &hub->h_segs[n];
		sg->sg_off = start[p];
		sg->sg_len = len[p];
		sg->sg_next = 0;
		if (hs->hs_tail != 0)
			hub->h_segs[hs->hs_tail].sg_next = n;
		else
			hs->hs_head = n;
		hs->hs_tail = n;
	}
	hub->h_stats.deliveries += ch->ch_nsubs;
	return 0;
}

/* A message arrived from Redis: encode it once and hand it to its receivers. */
void
hub_message(struct hub *hub, const struct upstream_msg *msg)
{
	struct map_entry	*e;
	struct hub_chan		*ch;
	const char		*key = msg->channel;
	size_t			 keylen = msg->channellen;

	hub->h_stats.messages_in++;
	if (msg->kind == UPSTREAM_PATTERN) {
		key = msg->pattern;
		keylen = msg->patternlen;
	}
	e = map_find(&hub->h_chans[msg->kind], key, keylen);
	ch = e != NULL ? MAP_ITEM(e, struct hub_chan, ch_entry) : NULL;
	if (ch == NULL || ch->ch_nsubs == 0) {
		hub->h_stats.unrouted++;
		return;
	}
	/* The first message of a loop turn starts the batch's clock. */
	if (hub->h_batch_msgs == 0)
		hub->h_batch_t0 = hub_now_ns();
	if (hub_deliver(hub, ch, msg) == -1) {
		hub->h_stats.dropped++;
		log_warnx("out of memory: message on '%s' dropped",
		    ch->ch_name);
		return;
	}
	hub->h_batch_msgs++;
	if (!hub->h_flush_scheduled) {
		hub->h_flush_scheduled = 1;
		event_active(hub->h_flush_ev, 0, 0);
	}
}

/*
 * Hands every subscriber its segments of the current batches, then resets
 * them and the segment pool.
 */
void
hub_flush(struct hub *hub)
{
	struct hub_subscriber	*hs;
	struct hub_batch	*b;
	uint64_t		 now;
	uint32_t		 i;
	int			 p;

	hub->h_flush_scheduled = 0;
	if (hub->h_deferred) {
		evtimer_del(hub->h_defer_ev);
		hub->h_deferred = 0;
	}
	if (hub->h_ndirty > 0) {
		/* deliver() may close a client, which forgets it. */
		for (i = 0; i < hub->h_ndirty; i++) {
			if ((hs = hub->h_dirty[i]) == NULL)
				continue;
			hub_subscriber_flush(hub, hs);
			hs->hs_batch = NULL;
		}
		hub->h_ndirty = 0;
		hub->h_stats.batches++;
		hub_segs_trim(hub);
		hub->h_nsegs = 1;
	}
	if (hub->h_batch_msgs > 0) {
		/* A flush in mid-turn (a full batch) starts the next one. */
		now = hub_now_ns();
		hub_observe(hub, now - hub->h_batch_t0, hub->h_batch_msgs);
		hub->h_batch_t0 = now;
		hub->h_batch_msgs = 0;
	}
	for (p = 0; p < 2; p++) {
		if ((b = hub->h_batch[p]) == NULL || b->b_len == 0)
			continue;
		if (b->b_refs == 1 && b->b_cap == HUB_BATCH_SIZE)
			b->b_len = 0;		/* nobody kept it: reuse */
		else {
			hub_batch_release(NULL, 0, b);
			hub->h_batch[p] = NULL;
		}
	}
}

/*
 * The end of a loop turn that received messages: flushes, unless Redis has
 * a full read's worth more waiting and the batch is young; then the batch
 * stays open for the next turn, whose reads come before its timers
 * (libevent runs the events of one priority in the order they became
 * active).
 */
static void
hub_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	static const struct timeval	 zero = { 0, 0 };
	struct hub			*hub = arg;

	hub->h_deferred = 0;
	if (hub->h_ops->pending != NULL && hub->h_batch_msgs > 0 &&
	    hub_now_ns() - hub->h_batch_t0 < HUB_DEFER_NS &&
	    hub->h_ops->pending(hub->h_up) >= HUB_DEFER_BYTES &&
	    evtimer_add(hub->h_defer_ev, &zero) == 0) {
		hub->h_deferred = 1;
		return;
	}
	hub_flush(hub);
}

/* The upstream connection came up (subscribe everything) or went down. */
void
hub_upstream_state(struct hub *hub, int connected)
{
	struct map_iter		 it;
	struct map_entry	*e;
	struct hub_chan		*ch;
	int			 k;

	for (k = 0; k < UPSTREAM_KINDS; k++) {
		map_iter_init(&it, &hub->h_chans[k]);
		while ((e = map_iter_next(&it)) != NULL) {
			ch = MAP_ITEM(e, struct hub_chan, ch_entry);
			if (!connected && ch->ch_op == NULL)
				hub_chan_set_state(hub, ch, HUB_IDLE);
			hub_reconcile(hub, ch);
		}
	}
}

/* Finds the channel of a name, or NULL. */
static struct hub_chan *
hub_chan_find(const struct hub *hub, enum upstream_kind kind,
    const char *name, size_t len)
{
	struct map_entry	*e;

	if ((e = map_find(&hub->h_chans[kind], name, len)) == NULL)
		return NULL;
	return MAP_ITEM(e, struct hub_chan, ch_entry);
}

/* Whether Redis counts pubsubd's own subscription to a name. */
static int
hub_chan_held(const struct hub_chan *ch)
{
	return ch->ch_state == HUB_ACTIVE || ch->ch_state == HUB_UNSUBSCRIBING;
}

/* Whether Redis holds pubsubd's subscription to name. */
int
hub_held(const struct hub *hub, enum upstream_kind kind, const char *name,
    size_t len)
{
	const struct hub_chan	*ch = hub_chan_find(hub, kind, name, len);

	return ch != NULL && hub_chan_held(ch);
}

/* The number of active local subscriptions to name. */
uint32_t
hub_local(const struct hub *hub, enum upstream_kind kind, const char *name,
    size_t len)
{
	const struct hub_chan	*ch = hub_chan_find(hub, kind, name, len);

	return ch != NULL ? ch->ch_nsubs : 0;
}

/* Who receives a message published to channel; see hub.h. */
void
hub_receivers(const struct hub *hub, enum upstream_kind kind,
    const char *channel, size_t len, long long *own, long long *local)
{
	const struct hub_chan	*ch;
	struct map_iter		 it;
	struct map_entry	*e;

	*own = *local = 0;
	if ((ch = hub_chan_find(hub, kind, channel, len)) != NULL) {
		*own += hub_chan_held(ch);
		*local += ch->ch_nsubs;
	}
	if (kind != UPSTREAM_CHANNEL)
		return;		/* patterns never match shard channels */
	map_iter_init(&it, &hub->h_chans[UPSTREAM_PATTERN]);
	while ((e = map_iter_next(&it)) != NULL) {
		ch = MAP_ITEM(e, struct hub_chan, ch_entry);
		if (!pattern_match(ch->ch_name, ch->ch_namelen, channel, len))
			continue;
		*own += hub_chan_held(ch);
		*local += ch->ch_nsubs;
	}
}

/*
 * Makes a settle, its waiters' count at one (the builder's own, so that it
 * cannot reach zero before hub_settle_end()); NULL when out of memory.
 */
static struct hub_settle *
hub_settle_new(struct hub *hub)
{
	struct hub_settle	*st;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		return NULL;
	if ((st->st_done = future_new()) == NULL) {
		free(st);
		return NULL;
	}
	st->st_hub = hub;
	st->st_left = 1;
	return st;
}

/* Drops one count of a settle; the last completes its future and frees it. */
static void
hub_settle_put(struct hub_settle *st)
{
	if (--st->st_left > 0)
		return;
	future_set_result(st->st_done, NULL, NULL);
	future_unref(st->st_done);
	free(st);
}

/*
 * An operation a settle waits for completed (confirmed, failed, or
 * abandoned with its channel). It runs after hub_op_done(), which was added
 * first, so the channel's state is already the new one.
 */
static void
hub_settle_op_done(struct future *op, void *arg)
{
	(void)op;
	hub_settle_put(arg);
}

/*
 * Makes *stp (made now if NULL) wait for the operation in flight on ch, if
 * there is one. Out of memory, the operation is not waited for: the count
 * Redis then gives may be off by it, nothing worse.
 */
static void
hub_settle_chan(struct hub *hub, struct hub_settle **stp, struct hub_chan *ch)
{
	if (ch->ch_op == NULL || !future_is_pending(ch->ch_op))
		return;
	if (*stp == NULL && (*stp = hub_settle_new(hub)) == NULL) {
		log_warnx("out of memory: not waiting for the upstream "
		    "operation on '%s'", ch->ch_name);
		return;
	}
	(*stp)->st_left++;
	if (future_add_callback(ch->ch_op, hub_settle_op_done, *stp) == NULL)
		(*stp)->st_left--;
}

/* Adds the operations in flight that scope covers to st; see hub.h. */
void
hub_settle_add(struct hub *hub, struct hub_settle **stp,
    enum upstream_kind kind, enum hub_settle_scope scope, const char *name,
    size_t len)
{
	struct hub_chan		*ch;
	struct map_iter		 it;
	struct map_entry	*e;

	if (scope != HUB_SETTLE_MATCH) {
		if ((ch = hub_chan_find(hub, kind, name, len)) != NULL)
			hub_settle_chan(hub, stp, ch);
		if (scope == HUB_SETTLE_NAME || kind != UPSTREAM_CHANNEL)
			return;
		kind = UPSTREAM_PATTERN;
	}
	map_iter_init(&it, &hub->h_chans[kind]);
	while ((e = map_iter_next(&it)) != NULL) {
		ch = MAP_ITEM(e, struct hub_chan, ch_entry);
		if (ch->ch_op == NULL)
			continue;
		if (scope == HUB_SETTLE_RECEIVERS ? pattern_match(ch->ch_name,
		    ch->ch_namelen, name, len) : name == NULL ||
		    pattern_match(name, len, ch->ch_name, ch->ch_namelen))
			hub_settle_chan(hub, stp, ch);
	}
}

/* Ends building st; see hub.h. */
struct future *
hub_settle_end(struct hub_settle *st)
{
	struct future	*f;

	if (st == NULL)
		return NULL;	/* nothing in flight: no wait */
	if (st->st_left == 1) {
		/* What it waited for failed to be added. */
		future_unref(st->st_done);
		free(st);
		return NULL;
	}
	f = future_ref(st->st_done);
	hub_settle_put(st);
	return f;
}

/* Calls fn for every name of kind the hub knows. */
void
hub_foreach(const struct hub *hub, enum upstream_kind kind,
    void (*fn)(const char *, size_t, uint32_t, int, void *), void *arg)
{
	const struct hub_chan	*ch;
	struct map_iter		 it;
	struct map_entry	*e;

	map_iter_init(&it, &hub->h_chans[kind]);
	while ((e = map_iter_next(&it)) != NULL) {
		ch = MAP_ITEM(e, struct hub_chan, ch_entry);
		fn(ch->ch_name, ch->ch_namelen, ch->ch_nsubs,
		    hub_chan_held(ch), arg);
	}
}

/* Number of names of a kind with local interest or an operation in flight. */
size_t
hub_count(const struct hub *hub, enum upstream_kind kind)
{
	return map_count(&hub->h_chans[kind]);
}

/* Whether every wanted name is subscribed upstream and nothing else is. */
int
hub_synced(const struct hub *hub)
{
	struct map_iter		 it;
	struct map_entry	*e;
	struct hub_chan		*ch;
	int			 k;

	for (k = 0; k < UPSTREAM_KINDS; k++) {
		map_iter_init(&it, &hub->h_chans[k]);
		while ((e = map_iter_next(&it)) != NULL) {
			ch = MAP_ITEM(e, struct hub_chan, ch_entry);
			if (ch->ch_state != (ch->ch_refs ? HUB_ACTIVE :
			    HUB_IDLE))
				return 0;
		}
	}
	return 1;
}

/* The hub's counters. */
const struct hub_stats *
hub_stats(const struct hub *hub)
{
	return &hub->h_stats;
}

/* The upper bound of a latency bucket. */
uint64_t
hub_latency_bound(int i, const char **text)
{
	*text = hub_latency_bounds[i].text;
	return hub_latency_bounds[i].ns;
}

/* Nanoseconds of a monotonic clock (the latency's; the others use ms). */
static uint64_t
hub_now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

/* Records n messages that took ns each to fan out. */
static void
hub_observe(struct hub *hub, uint64_t ns, uint32_t n)
{
	int	i;

	for (i = 0; i < HUB_LATENCY_BUCKETS; i++)
		if (ns <= hub_latency_bounds[i].ns)
			break;
	hub->h_stats.latency[i] += n;
	hub->h_stats.latency_count += n;
	hub->h_stats.latency_sum_ns += ns * n;
}

/* Moves a channel to a state, keeping the count of held names. */
static void
hub_chan_set_state(struct hub *hub, struct hub_chan *ch,
    enum hub_chan_state st)
{
	int	was = hub_chan_held(ch);

	ch->ch_state = st;
	if (was && !hub_chan_held(ch))
		hub->h_stats.held[ch->ch_kind]--;
	else if (!was && hub_chan_held(ch))
		hub->h_stats.held[ch->ch_kind]++;
}

/* Takes a reference on a batch. */
void
hub_batch_ref(struct hub_batch *batch)
{
	batch->b_refs++;
}

/* Drops a reference on a batch (an evbuffer_ref_cleanup_cb). */
void
hub_batch_release(const void *data, size_t len, void *arg)
{
	struct hub_batch	*b = arg;

	if (--b->b_refs == 0)
		free(b);
}
