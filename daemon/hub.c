/*
 * hub.c: the registry: channels, their subscribers, and the upstream state
 * machine of each channel (the fan-out of their messages is hub_batch.c's).
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
 *
 * When Redis drops what it held, everything at once (hub_upstream_state(),
 * 0) or one name alone (hub_upstream_lost(): a shard gone, a slot moved),
 * the name goes back to IDLE and is subscribed again by the same
 * reconcile, its subscribers kept; a name whose operation is in flight at
 * that moment is marked (ch_lost) and goes back to IDLE when the operation
 * completes, whatever its outcome. A SUBSCRIBE refused while the
 * connection stays up fails its waiters; if subscribers still hold the
 * name (they were subscribed before Redis dropped it), it is sent again
 * every HUB_RETRY_MS until Redis takes it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "future.h"
#include "hub_impl.h"
#include "log.h"
#include "pattern.h"

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

static struct hub_chan *hub_chan_get(struct hub *, enum upstream_kind,
		    const char *, size_t);
static void	hub_chan_free(struct hub *, struct hub_chan *);
static void	hub_reconcile(struct hub *, struct hub_chan *);
static void	hub_op_done(struct future *, void *);
static void	hub_chan_lost(struct hub *, struct hub_chan *);
static void	hub_retry_cb(evutil_socket_t, short, void *);
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

/* Returns a new hub that reaches Redis through up. */
struct hub *
hub_new(struct event_base *base, struct upstream *up)
{
	struct hub	*hub;
	int		 k;

	if ((hub = calloc(1, sizeof(*hub))) == NULL)
		return NULL;
	hub->h_base = base;
	hub->h_up = up;
	for (k = 0; k < UPSTREAM_KINDS; k++)
		map_init(&hub->h_chans[k]);
	pool_init(&hub->h_subs, sizeof(struct hub_sub));
	if ((hub->h_retry_ev = evtimer_new(base, hub_retry_cb, hub)) == NULL ||
	    hub_batch_setup_(hub) == -1) {
		if (hub->h_retry_ev != NULL)
			event_free(hub->h_retry_ev);
		pool_destroy(&hub->h_subs);
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
	hub_batch_teardown_(hub);
	event_free(hub->h_retry_ev);
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
		if (!upstream_connected(hub->h_up))
			return;		/* hub_upstream_state() resumes */
		hub_chan_set_state(hub, ch, HUB_SUBSCRIBING);
		ch->ch_op_sub = 1;
		hub->h_stats.upstream_subscribes++;
		ch->ch_op = upstream_subscribe(hub->h_up, ch->ch_kind,
		    ch->ch_name, ch->ch_namelen);
		break;
	case HUB_ACTIVE:
		if (want)
			return;
		hub_chan_set_state(hub, ch, HUB_UNSUBSCRIBING);
		ch->ch_op_sub = 0;
		hub->h_stats.upstream_unsubscribes++;
		ch->ch_op = upstream_unsubscribe(hub->h_up, ch->ch_kind,
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
	if (ch->ch_lost) {
		/* Redis dropped the name meanwhile: it holds nothing now. */
		ch->ch_lost = 0;
		future_unref(op);
		hub_chan_lost(hub, ch);
		return;
	}
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
	    upstream_connected(hub->h_up)) {
		ch->ch_ready = NULL;
		future_set_error(ready, "upstream %s failed: %s",
		    ch->ch_op_sub ? "subscribe" : "unsubscribe",
		    future_error(op));
		future_unref(ready);
	}
	future_unref(op);
	if (ch->ch_refs == 0) {
		hub_chan_free(hub, ch);
		return;
	}
	if (upstream_connected(hub->h_up) &&
	    !evtimer_pending(hub->h_retry_ev, NULL)) {
		struct timeval	tv = { HUB_RETRY_MS / 1000,
				    (HUB_RETRY_MS % 1000) * 1000 };

		evtimer_add(hub->h_retry_ev, &tv);
	}
}

/*
 * Sends again the SUBSCRIBE of every idle name that subscribers hold (the
 * ones Redis refused; hub_reconcile() sends the others at once).
 */
static void
hub_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hub		*hub = arg;
	struct map_iter		 it;
	struct map_entry	*e;
	struct hub_chan		*ch;
	int			 k;

	(void)fd;
	(void)what;
	for (k = 0; k < UPSTREAM_KINDS; k++) {
		map_iter_init(&it, &hub->h_chans[k]);
		while ((e = map_iter_next(&it)) != NULL) {
			ch = MAP_ITEM(e, struct hub_chan, ch_entry);
			if (ch->ch_state == HUB_IDLE && ch->ch_op == NULL &&
			    ch->ch_refs > 0) {
				log_info("subscribing to '%s' again",
				    ch->ch_name);
				hub_reconcile(hub, ch);
			}
		}
	}
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

/*
 * Redis holds nothing of ch any more: unless an operation on it is in
 * flight (hub_op_done() goes on from its completion), it is idle, and
 * moves towards what its subscribers want: subscribed again if the upstream
 * is up, else once it comes back; freed if nobody wants it.
 */
static void
hub_chan_lost(struct hub *hub, struct hub_chan *ch)
{
	if (ch->ch_op == NULL)
		hub_chan_set_state(hub, ch, HUB_IDLE);
	hub_reconcile(hub, ch);
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
			if (!connected)
				hub_chan_lost(hub, ch);
			else
				hub_reconcile(hub, ch);
		}
	}
}

/*
 * Redis dropped one subscription while the upstream stays up: the name is
 * subscribed again, now or once the operation in flight on it completes
 * (whose outcome no longer says what Redis holds).
 */
void
hub_upstream_lost(struct hub *hub, enum upstream_kind kind, const char *name,
    size_t len)
{
	struct hub_chan	*ch;

	if ((ch = hub_chan_find(hub, kind, name, len)) == NULL)
		return;		/* not ours, or nobody wants it any more */
	log_info("redis dropped the subscription to '%s': subscribing again",
	    ch->ch_name);
	if (ch->ch_op != NULL)
		ch->ch_lost = 1;
	hub_chan_lost(hub, ch);
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

