/*
 * test_hub.c: Check suite for daemon/hub.c.
 *
 * The hub talks to a scripted upstream, an implementation of struct
 * upstream_ops (upstream.h) with the operations the hub calls, that records
 * every SUBSCRIBE and UNSUBSCRIBE it is asked for and returns a future the
 * test completes itself: a result stands for Redis' confirmation, an error
 * for a lost connection. Whether the upstream is connected is a flag the
 * test sets.
 * Subscribers record the bytes they are handed and how many times. Each test
 * builds a fresh event_base and hub, and drives the end-of-turn flush with
 * one non-blocking loop turn (or hub_flush()).
 *
 * The channel state machine (idle, subscribing, active, unsubscribing) has
 * one test per transition, and one per state for a single name lost while
 * the upstream stays up (hub_upstream_lost()); the delivery tests check DESIGN.md's rules 2
 * (nothing before activation) and 4 (subscribe during an unsubscribe), the
 * exact RESP2 frames, and the batching: one deliver call per subscriber per
 * turn, carrying all its frames in order.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <check.h>

#include "check_run.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "future.h"
#include "hub.h"

#define MAX_OPS		128
#define MAX_KEPT	8
#define FANOUT		1000
#define BIG_PAYLOAD	(1024 * 1024)

/* One operation the hub asked of the scripted upstream. */
struct op {
	enum upstream_kind	 kind;
	int			 sub;		/* SUBSCRIBE, not UNSUBSCRIBE */
	char			 name[64];
	size_t			 len;
	struct future		*fut;		/* the test's own reference */
};

/*
 * The scripted upstream: what it was asked, and whether it is up; its
 * struct upstream first, as every kind of upstream has it.
 */
struct script {
	struct upstream	 base;
	struct op	 ops[MAX_OPS];
	int		 nops;
	int		 connected;
	size_t		 pending;	/* bytes of messages waiting */
};

/* A growing byte buffer. */
struct sbuf {
	char	*p;		/* owned */
	size_t	 len;
	size_t	 cap;
};

/* A reference a subscriber keeps on a batch, and the bytes it covers. */
struct kept {
	struct hub_batch	*batch;
	const char		*data;
	size_t			 len;
};

/* A test subscriber: the hub's part first, then what it observed. */
struct tsub {
	struct hub_subscriber	 hs;
	struct sbuf		 out;		/* every byte delivered */
	int			 calls;		/* deliver calls */
	int			 pieces;	/* iovecs delivered */
	int			 keep;		/* reference every batch */
	struct kept		 kept[MAX_KEPT];
	int			 nkept;
	struct hub		*hub;		/* borrowed, for victim */
	struct tsub		*victim;	/* forgotten from deliver */
};

/* What each test builds: a loop, the scripted upstream and a hub. */
struct env {
	struct event_base	*base;
	struct script		 up;
	struct hub		*hub;
};

static struct future	*script_op(struct script *, enum upstream_kind, int,
			    const char *, size_t);
static struct future	*script_subscribe(struct upstream *,
			    enum upstream_kind, const char *, size_t);
static struct future	*script_unsubscribe(struct upstream *,
			    enum upstream_kind, const char *, size_t);
static int		 script_connected(const struct upstream *);
static size_t		 script_pending(const struct upstream *);
static void		 env_init(struct env *);
static void		 env_done(struct env *);
static void		 sbuf_add(struct sbuf *, const void *, size_t);
static void		 sbuf_free(struct sbuf *);
static void		 bulk_add(struct sbuf *, const char *, size_t);
static void		 frame_add(struct sbuf *, enum upstream_kind,
			    const char *, size_t, const char *, size_t,
			    const char *, size_t);
static void		 frame_text(struct sbuf *, const char *, const char *);
static void		 tsub_init(struct tsub *);
static void		 tsub_done(struct tsub *);
static void		 tsub_deliver(struct hub_subscriber *,
			    struct hub_batch *, struct iovec *, int, size_t);
static void		 expect_op(struct env *, int, enum upstream_kind, int,
			    const char *, size_t);
static int		 find_op(struct env *, int, enum upstream_kind, int,
			    const char *, size_t);
static void		 confirm(struct env *, int);
static void		 fail_op(struct env *, int);
static void		 lose(struct env *);
static void		 drop(struct env *, enum upstream_kind, const char *);
static int		 settle(struct env *);
static void		 turn(struct env *);
static struct hub_sub	*sub_ready(struct env *, struct tsub *,
			    enum upstream_kind, const char *, size_t);
static void		 publish(struct env *, enum upstream_kind,
			    const char *, const char *, size_t);
static void		 publish_bin(struct env *, enum upstream_kind,
			    const char *, size_t, const char *, size_t,
			    const char *, size_t);
static void		 pub(struct env *, const char *, const char *);
static void		 expect_out(struct tsub *, const struct sbuf *);
static void		 count_held(const char *, size_t, uint32_t, int,
			    void *);
static void		 expect_held(struct env *, uint64_t, uint64_t,
			    uint64_t);
static void		 expect_latency(struct env *, uint64_t);
static void		 push_text(struct sbuf *, const char *, const char *);
static void		 sub_many(struct env *, struct tsub *,
			    struct hub_sub **, int, const char *);
static void		 pub_rounds(struct env *, int, int, struct sbuf *);
static long long	 now_us(void);
static void		 turn_once(struct env *);

/* The operations the hub calls; it never starts, frees or asks more. */
static const struct upstream_ops script_ops = {
	.connected = script_connected,
	.pending = script_pending,
	.subscribe = script_subscribe,
	.unsubscribe = script_unsubscribe
};

static const struct hub_subscriber_ops tsub_ops = { tsub_deliver };

/* Records an operation and returns its future (the hub's reference). */
static struct future *
script_op(struct script *sc, enum upstream_kind kind, int sub,
    const char *name, size_t len)
{
	struct op	*op;
	struct future	*fut;

	ck_assert_int_lt(sc->nops, MAX_OPS);
	op = &sc->ops[sc->nops];
	ck_assert_uint_lt(len, sizeof(op->name));
	fut = future_new();
	ck_assert_ptr_nonnull(fut);
	op->kind = kind;
	op->sub = sub;
	memcpy(op->name, name, len);
	op->name[len] = '\0';
	op->len = len;
	op->fut = future_ref(fut);
	sc->nops++;
	return fut;
}

/* The scripted SUBSCRIBE. */
static struct future *
script_subscribe(struct upstream *up, enum upstream_kind kind,
    const char *name, size_t len)
{
	return script_op((struct script *)(void *)up, kind, 1, name, len);
}

/* The scripted UNSUBSCRIBE. */
static struct future *
script_unsubscribe(struct upstream *up, enum upstream_kind kind,
    const char *name, size_t len)
{
	return script_op((struct script *)(void *)up, kind, 0, name, len);
}

/* Whether the scripted upstream is up: the test's flag. */
static int
script_connected(const struct upstream *up)
{
	return ((const struct script *)(const void *)up)->connected;
}

/* The bytes waiting upstream: the test's figure. */
static size_t
script_pending(const struct upstream *up)
{
	return ((const struct script *)(const void *)up)->pending;
}

/* Builds a fresh loop and hub on a connected scripted upstream. */
static void
env_init(struct env *env)
{
	memset(env, 0, sizeof(*env));
	env->up.base.u_ops = &script_ops;
	env->up.connected = 1;
	env->base = event_base_new();
	ck_assert_ptr_nonnull(env->base);
	env->hub = hub_new(env->base, &env->up.base);
	ck_assert_ptr_nonnull(env->hub);
}

/* Frees the hub, the test's references on the operations, and the loop. */
static void
env_done(struct env *env)
{
	int	i;

	hub_free(env->hub);
	for (i = 0; i < env->up.nops; i++)
		future_unref(env->up.ops[i].fut);
	event_base_free(env->base);
}

/* Appends len bytes to sb. */
static void
sbuf_add(struct sbuf *sb, const void *data, size_t len)
{
	size_t	 cap;
	char	*p;

	if (len == 0)
		return;
	if (sb->len + len > sb->cap) {
		cap = sb->cap ? sb->cap : 256;
		while (cap < sb->len + len)
			cap *= 2;
		p = realloc(sb->p, cap);
		ck_assert_ptr_nonnull(p);
		sb->p = p;
		sb->cap = cap;
	}
	memcpy(sb->p + sb->len, data, len);
	sb->len += len;
}

/* Frees what sb holds. */
static void
sbuf_free(struct sbuf *sb)
{
	free(sb->p);
	memset(sb, 0, sizeof(*sb));
}

/* Appends a RESP2 bulk string. */
static void
bulk_add(struct sbuf *sb, const char *s, size_t len)
{
	char	hdr[32];
	int	n;

	n = snprintf(hdr, sizeof(hdr), "$%zu\r\n", len);
	sbuf_add(sb, hdr, (size_t)n);
	sbuf_add(sb, s, len);
	sbuf_add(sb, "\r\n", 2);
}

/* Appends the frame Redis would send for a message (the expected bytes). */
static void
frame_add(struct sbuf *sb, enum upstream_kind kind, const char *pattern,
    size_t patternlen, const char *channel, size_t channellen,
    const char *payload, size_t payloadlen)
{
	static const char *const type[] = { "message", "pmessage", "smessage" };

	sbuf_add(sb, kind == UPSTREAM_PATTERN ? "*4\r\n" : "*3\r\n", 4);
	bulk_add(sb, type[kind], strlen(type[kind]));
	if (kind == UPSTREAM_PATTERN)
		bulk_add(sb, pattern, patternlen);
	bulk_add(sb, channel, channellen);
	bulk_add(sb, payload, payloadlen);
}

/* Appends the frame of a text message on a channel. */
static void
frame_text(struct sbuf *sb, const char *channel, const char *payload)
{
	frame_add(sb, UPSTREAM_CHANNEL, NULL, 0, channel, strlen(channel),
	    payload, strlen(payload));
}

/* Prepares a test subscriber. */
static void
tsub_init(struct tsub *ts)
{
	memset(ts, 0, sizeof(*ts));
	hub_subscriber_init(&ts->hs, &tsub_ops);
}

/* Frees what a test subscriber holds, releasing any kept batches. */
static void
tsub_done(struct tsub *ts)
{
	int	i;

	for (i = 0; i < ts->nkept; i++)
		hub_batch_release(ts->kept[i].data, ts->kept[i].len,
		    ts->kept[i].batch);
	ts->nkept = 0;
	sbuf_free(&ts->out);
}

/*
 * Records a delivery (checking its pieces and their total); keeps a
 * reference on the first piece or forgets a victim if told to.
 */
static void
tsub_deliver(struct hub_subscriber *hs, struct hub_batch *batch,
    struct iovec *iov, int iovcnt, size_t len)
{
	struct tsub	*ts = (struct tsub *)(void *)hs;
	size_t		 total = 0;
	int		 i;

	ck_assert_uint_gt(len, 0);
	ck_assert_int_gt(iovcnt, 0);
	ck_assert_int_le(iovcnt, HUB_IOV);
	ts->calls++;
	ts->pieces += iovcnt;
	for (i = 0; i < iovcnt; i++) {
		ck_assert_uint_gt(iov[i].iov_len, 0);
		sbuf_add(&ts->out, iov[i].iov_base, iov[i].iov_len);
		total += iov[i].iov_len;
	}
	ck_assert_uint_eq(total, len);
	if (ts->keep && ts->nkept < MAX_KEPT) {
		hub_batch_ref(batch);
		ts->kept[ts->nkept].batch = batch;
		ts->kept[ts->nkept].data = iov[0].iov_base;
		ts->kept[ts->nkept].len = iov[0].iov_len;
		ts->nkept++;
	}
	if (ts->victim != NULL) {
		hub_subscriber_forget(ts->hub, &ts->victim->hs);
		ts->victim = NULL;
	}
}

/* Checks operation i: its kind, direction and name. */
static void
expect_op(struct env *env, int i, enum upstream_kind kind, int sub,
    const char *name, size_t len)
{
	struct op	*op;

	ck_assert_int_lt(i, env->up.nops);
	op = &env->up.ops[i];
	ck_assert_int_eq(op->kind, kind);
	ck_assert_int_eq(op->sub, sub);
	ck_assert_uint_eq(op->len, len);
	ck_assert_mem_eq(op->name, name, len);
}

/* Returns the first operation from index from that matches, or -1. */
static int
find_op(struct env *env, int from, enum upstream_kind kind, int sub,
    const char *name, size_t len)
{
	struct op	*op;
	int		 i;

	for (i = from; i < env->up.nops; i++) {
		op = &env->up.ops[i];
		if (op->kind == kind && op->sub == sub && op->len == len &&
		    memcmp(op->name, name, len) == 0)
			return i;
	}
	return -1;
}

/* Redis confirms operation i. */
static void
confirm(struct env *env, int i)
{
	ck_assert_int_lt(i, env->up.nops);
	ck_assert_int_eq(future_set_result(env->up.ops[i].fut, NULL, NULL), 0);
}

/* Operation i fails, as when the connection is lost. */
static void
fail_op(struct env *env, int i)
{
	ck_assert_int_lt(i, env->up.nops);
	ck_assert_int_eq(future_set_error(env->up.ops[i].fut,
	    "connection to redis lost"), 0);
}

/*
 * The connection goes down as upstream_single.c reports it: not connected
 * any more, every pending operation failed, then the state callback.
 */
static void
lose(struct env *env)
{
	int	i;

	env->up.connected = 0;
	for (i = 0; i < env->up.nops; i++)
		if (future_is_pending(env->up.ops[i].fut))
			fail_op(env, i);
	hub_upstream_state(env->hub, 0);
}

/* Confirms operations until none is pending; returns how many. */
static int
settle(struct env *env)
{
	int	i, n = 0, more = 1;

	while (more) {
		more = 0;
		for (i = 0; i < env->up.nops; i++) {
			if (future_is_pending(env->up.ops[i].fut)) {
				confirm(env, i);
				n++;
				more = 1;
			}
		}
	}
	return n;
}

/* Runs one loop turn: the hub's end-of-turn flush. */
static void
turn(struct env *env)
{
	ck_assert_int_ne(event_base_loop(env->base, EVLOOP_NONBLOCK), -1);
}

/*
 * Subscribes ts to name and makes it receive: confirms the upstream
 * SUBSCRIBE if one was sent, then activates.
 */
static struct hub_sub *
sub_ready(struct env *env, struct tsub *ts, enum upstream_kind kind,
    const char *name, size_t len)
{
	struct hub_sub	*sub;
	struct future	*ready;
	int		 n = env->up.nops;

	sub = hub_subscribe(env->hub, &ts->hs, kind, name, len, &ready);
	ck_assert_ptr_nonnull(sub);
	ck_assert_ptr_nonnull(ready);
	if (env->up.nops > n) {
		ck_assert_int_eq(env->up.nops, n + 1);
		expect_op(env, n, kind, 1, name, len);
		ck_assert(future_is_pending(ready));
		confirm(env, n);
	}
	ck_assert_int_eq(future_state(ready), FUTURE_DONE);
	future_unref(ready);
	hub_activate(env->hub, sub);
	ck_assert(hub_sub_active(sub));
	return sub;
}

/* Redis pushes a text message (a channel, or a shard channel). */
static void
publish(struct env *env, enum upstream_kind kind, const char *channel,
    const char *payload, size_t payloadlen)
{
	publish_bin(env, kind, NULL, 0, channel, strlen(channel), payload,
	    payloadlen);
}

/* Redis pushes a message with any bytes in it. */
static void
publish_bin(struct env *env, enum upstream_kind kind, const char *pattern,
    size_t patternlen, const char *channel, size_t channellen,
    const char *payload, size_t payloadlen)
{
	struct upstream_msg	m;

	memset(&m, 0, sizeof(m));
	m.kind = kind;
	m.pattern = pattern;
	m.patternlen = patternlen;
	m.channel = channel;
	m.channellen = channellen;
	m.payload = payload;
	m.payloadlen = payloadlen;
	hub_message(env->hub, &m);
}

/* Publishes a NUL-terminated payload on a plain channel. */
static void
pub(struct env *env, const char *channel, const char *payload)
{
	publish(env, UPSTREAM_CHANNEL, channel, payload, strlen(payload));
}

/* Checks that ts received exactly the bytes of want. */
static void
expect_out(struct tsub *ts, const struct sbuf *want)
{
	ck_assert_uint_eq(ts->out.len, want->len);
	if (want->len > 0)
		ck_assert(memcmp(ts->out.p, want->p, want->len) == 0);
}

/* hub_foreach() callback: counts the names Redis holds. */
static void
count_held(const char *name, size_t len, uint32_t local, int held, void *arg)
{
	*(uint64_t *)arg += held != 0;
}

/*
 * Checks the held-names gauges (what the metrics report as upstream
 * subscriptions) against the names' states, and against the values given.
 */
static void
expect_held(struct env *env, uint64_t channels, uint64_t patterns,
    uint64_t shards)
{
	const struct hub_stats	*st = hub_stats(env->hub);
	uint64_t		 want[UPSTREAM_KINDS], n;
	int			 k;

	want[UPSTREAM_CHANNEL] = channels;
	want[UPSTREAM_PATTERN] = patterns;
	want[UPSTREAM_SHARD] = shards;
	for (k = 0; k < UPSTREAM_KINDS; k++) {
		n = 0;
		hub_foreach(env->hub, k, count_held, &n);
		ck_assert_uint_eq(st->held[k], n);
		ck_assert_uint_eq(st->held[k], want[k]);
	}
}

/* Checks the latency histogram: count messages, in buckets that sum up. */
static void
expect_latency(struct env *env, uint64_t count)
{
	const struct hub_stats	*st = hub_stats(env->hub);
	const char		*text;
	uint64_t		 sum = 0, prev = 0, bound;
	int			 i;

	for (i = 0; i <= HUB_LATENCY_BUCKETS; i++)
		sum += st->latency[i];
	ck_assert_uint_eq(st->latency_count, count);
	ck_assert_uint_eq(sum, count);
	if (count > 0)
		ck_assert_uint_gt(st->latency_sum_ns, 0);
	for (i = 0; i < HUB_LATENCY_BUCKETS; i++) {
		bound = hub_latency_bound(i, &text);
		ck_assert_uint_gt(bound, prev);
		ck_assert_ptr_nonnull(text);
		prev = bound;
	}
	ck_assert_uint_eq(prev, 1000000000);
}

/* The first subscriber of a name sends SUBSCRIBE: idle -> subscribing. */
START_TEST(test_first_subscribe_sends_subscribe)
{
	struct env	 env;
	struct tsub	 a;
	struct hub_sub	*sub;
	struct future	*ready;
	const char	*name;
	size_t		 len;

	env_init(&env);
	tsub_init(&a);
	ck_assert(hub_synced(env.hub));
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_CHANNEL), 0);

	sub = hub_subscribe(env.hub, &a.hs, UPSTREAM_CHANNEL, "news", 4,
	    &ready);
	ck_assert_ptr_nonnull(sub);
	ck_assert_int_eq(env.up.nops, 1);
	expect_op(&env, 0, UPSTREAM_CHANNEL, 1, "news", 4);
	ck_assert(future_is_pending(ready));
	ck_assert(!hub_sub_active(sub));
	ck_assert(!hub_synced(env.hub));
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_CHANNEL), 1);
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_PATTERN), 0);
	name = hub_sub_name(sub, &len);
	ck_assert_uint_eq(len, 4);
	ck_assert_str_eq(name, "news");
	ck_assert_int_eq(hub_sub_kind(sub), UPSTREAM_CHANNEL);
	ck_assert_uint_eq(hub_stats(env.hub)->upstream_subscribes, 1);

	/* The confirmation: subscribing -> active, the waiter is ready. */
	confirm(&env, 0);
	ck_assert_int_eq(future_state(ready), FUTURE_DONE);
	ck_assert(hub_synced(env.hub));
	ck_assert_int_eq(env.up.nops, 1);
	hub_activate(env.hub, sub);
	ck_assert(hub_sub_active(sub));
	future_unref(ready);

	hub_unsubscribe(env.hub, sub);
	ck_assert_int_eq(env.up.nops, 2);
	ck_assert_int_eq(settle(&env), 1);
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_CHANNEL), 0);
	tsub_done(&a);
	env_done(&env);
}
END_TEST

/*
 * A second subscriber while the SUBSCRIBE is in flight sends nothing and
 * waits for the same confirmation (DESIGN: pitfall of early acks).
 */
START_TEST(test_second_subscriber_while_subscribing)
{
	struct env	 env;
	struct tsub	 a, b;
	struct hub_sub	*sa, *sb;
	struct future	*ra, *rb;

	env_init(&env);
	tsub_init(&a);
	tsub_init(&b);
	sa = hub_subscribe(env.hub, &a.hs, UPSTREAM_CHANNEL, "ch", 2, &ra);
	sb = hub_subscribe(env.hub, &b.hs, UPSTREAM_CHANNEL, "ch", 2, &rb);
	ck_assert_ptr_nonnull(sa);
	ck_assert_ptr_nonnull(sb);
	ck_assert_int_eq(env.up.nops, 1);
	ck_assert(future_is_pending(ra));
	ck_assert(future_is_pending(rb));
	turn(&env);
	ck_assert(future_is_pending(ra));
	ck_assert(future_is_pending(rb));
	ck_assert(!hub_synced(env.hub));

	confirm(&env, 0);
	ck_assert_int_eq(future_state(ra), FUTURE_DONE);
	ck_assert_int_eq(future_state(rb), FUTURE_DONE);
	ck_assert_int_eq(env.up.nops, 1);
	ck_assert(hub_synced(env.hub));
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_CHANNEL), 1);
	ck_assert_uint_eq(hub_stats(env.hub)->upstream_subscribes, 1);
	future_unref(ra);
	future_unref(rb);

	hub_unsubscribe(env.hub, sa);
	ck_assert_int_eq(env.up.nops, 1);	/* b still wants it */
	hub_unsubscribe(env.hub, sb);
	ck_assert_int_eq(env.up.nops, 2);
	ck_assert_int_eq(settle(&env), 1);
	tsub_done(&a);
	tsub_done(&b);
	env_done(&env);
}
END_TEST

/* Subscribing to an active name is ready at once, with no upstream op. */
START_TEST(test_subscribe_active_ready_at_once)
{
	struct env	 env;
	struct tsub	 a, b;
	struct hub_sub	*sa, *sb;
	struct future	*rb;

	env_init(&env);
	tsub_init(&a);
	tsub_init(&b);
	sa = sub_ready(&env, &a, UPSTREAM_CHANNEL, "ch", 2);
	ck_assert_int_eq(env.up.nops, 1);
	sb = hub_subscribe(env.hub, &b.hs, UPSTREAM_CHANNEL, "ch", 2, &rb);
	ck_assert_ptr_nonnull(sb);
	ck_assert_int_eq(future_state(rb), FUTURE_DONE);
	ck_assert_int_eq(env.up.nops, 1);
	ck_assert(hub_synced(env.hub));
	ck_assert(!hub_sub_active(sb));
	future_unref(rb);
	hub_unsubscribe(env.hub, sb);
	hub_unsubscribe(env.hub, sa);
	ck_assert_int_eq(settle(&env), 1);
	tsub_done(&a);
	tsub_done(&b);
	env_done(&env);
}
END_TEST

/*
 * The last subscriber to leave sends UNSUBSCRIBE (active -> unsubscribing);
 * its confirmation frees the name (unsubscribing -> idle, gone).
 */
START_TEST(test_last_unsubscribe_sends_unsubscribe)
{
	struct env	 env;
	struct tsub	 a, b;
	struct hub_sub	*sa, *sb;

	env_init(&env);
	tsub_init(&a);
	tsub_init(&b);
	sa = sub_ready(&env, &a, UPSTREAM_CHANNEL, "ch", 2);
	sb = sub_ready(&env, &b, UPSTREAM_CHANNEL, "ch", 2);
	ck_assert_int_eq(env.up.nops, 1);

	hub_unsubscribe(env.hub, sa);
	ck_assert_int_eq(env.up.nops, 1);
	ck_assert(hub_synced(env.hub));

	hub_unsubscribe(env.hub, sb);
	ck_assert_int_eq(env.up.nops, 2);
	expect_op(&env, 1, UPSTREAM_CHANNEL, 0, "ch", 2);
	ck_assert(!hub_synced(env.hub));
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_CHANNEL), 1);
	ck_assert_uint_eq(hub_stats(env.hub)->upstream_unsubscribes, 1);

	confirm(&env, 1);
	ck_assert_int_eq(env.up.nops, 2);
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_CHANNEL), 0);
	ck_assert(hub_synced(env.hub));
	tsub_done(&a);
	tsub_done(&b);
	env_done(&env);
}
END_TEST

/*
 * DESIGN rule 4: a subscribe while the UNSUBSCRIBE of the same name is in
 * flight sends nothing until it is confirmed, then SUBSCRIBE, and ends
 * active with the new subscriber receiving.
 */
START_TEST(test_subscribe_during_unsubscribe)
{
	struct env	 env;
	struct tsub	 a, b;
	struct hub_sub	*sa, *sb;
	struct future	*rb;
	struct sbuf	 want = { NULL, 0, 0 };

	env_init(&env);
	tsub_init(&a);
	tsub_init(&b);
	sa = sub_ready(&env, &a, UPSTREAM_CHANNEL, "ch", 2);
	hub_unsubscribe(env.hub, sa);
	ck_assert_int_eq(env.up.nops, 2);
	expect_op(&env, 1, UPSTREAM_CHANNEL, 0, "ch", 2);

	sb = hub_subscribe(env.hub, &b.hs, UPSTREAM_CHANNEL, "ch", 2, &rb);
	ck_assert_ptr_nonnull(sb);
	ck_assert_int_eq(env.up.nops, 2);
	ck_assert(future_is_pending(rb));
	ck_assert(!hub_synced(env.hub));
	turn(&env);
	ck_assert_int_eq(env.up.nops, 2);

	/* The UNSUBSCRIBE is confirmed: now SUBSCRIBE again. */
	confirm(&env, 1);
	ck_assert_int_eq(env.up.nops, 3);
	expect_op(&env, 2, UPSTREAM_CHANNEL, 1, "ch", 2);
	ck_assert(future_is_pending(rb));
	ck_assert(!hub_synced(env.hub));
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_CHANNEL), 1);

	confirm(&env, 2);
	ck_assert_int_eq(future_state(rb), FUTURE_DONE);
	ck_assert(hub_synced(env.hub));
	ck_assert_int_eq(env.up.nops, 3);
	hub_activate(env.hub, sb);
	future_unref(rb);

	pub(&env, "ch", "back");
	turn(&env);
	frame_text(&want, "ch", "back");
	expect_out(&b, &want);
	ck_assert_int_eq(b.calls, 1);
	ck_assert_int_eq(a.calls, 0);

	hub_unsubscribe(env.hub, sb);
	ck_assert_int_eq(settle(&env), 1);
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_CHANNEL), 0);
	sbuf_free(&want);
	tsub_done(&a);
	tsub_done(&b);
	env_done(&env);
}
END_TEST

/*
 * Interest that comes and goes several times while an UNSUBSCRIBE is in
 * flight still yields at most one operation at a time, and the end state
 * is what is wanted at the confirmation.
 */
START_TEST(test_flapping_during_unsubscribe)
{
	struct env	 env;
	struct tsub	 a, b, c;
	struct hub_sub	*sa, *sb, *sc;
	struct future	*rb, *rc;

	env_init(&env);
	tsub_init(&a);
	tsub_init(&b);
	tsub_init(&c);
	sa = sub_ready(&env, &a, UPSTREAM_CHANNEL, "ch", 2);
	hub_unsubscribe(env.hub, sa);
	ck_assert_int_eq(env.up.nops, 2);

	/* Wanted, then not: at the confirmation nothing is sent. */
	sb = hub_subscribe(env.hub, &b.hs, UPSTREAM_CHANNEL, "ch", 2, &rb);
	hub_unsubscribe(env.hub, sb);
	future_unref(rb);
	ck_assert_int_eq(env.up.nops, 2);
	confirm(&env, 1);
	ck_assert_int_eq(env.up.nops, 2);
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_CHANNEL), 0);
	ck_assert(hub_synced(env.hub));

	/* Again, but ending wanted: exactly one SUBSCRIBE. */
	sa = sub_ready(&env, &a, UPSTREAM_CHANNEL, "ch", 2);
	ck_assert_int_eq(env.up.nops, 3);
	hub_unsubscribe(env.hub, sa);
	ck_assert_int_eq(env.up.nops, 4);
	sb = hub_subscribe(env.hub, &b.hs, UPSTREAM_CHANNEL, "ch", 2, &rb);
	hub_unsubscribe(env.hub, sb);
	future_unref(rb);
	sc = hub_subscribe(env.hub, &c.hs, UPSTREAM_CHANNEL, "ch", 2, &rc);
	ck_assert_int_eq(env.up.nops, 4);
	confirm(&env, 3);
	ck_assert_int_eq(env.up.nops, 5);
	expect_op(&env, 4, UPSTREAM_CHANNEL, 1, "ch", 2);
	confirm(&env, 4);
	ck_assert_int_eq(future_state(rc), FUTURE_DONE);
	ck_assert(hub_synced(env.hub));
	future_unref(rc);

	hub_unsubscribe(env.hub, sc);
	ck_assert_int_eq(settle(&env), 1);
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_CHANNEL), 0);
	tsub_done(&a);
	tsub_done(&b);
	tsub_done(&c);
	env_done(&env);
}
END_TEST

/*
 * Everyone leaves while the SUBSCRIBE is in flight: at its confirmation
 * UNSUBSCRIBE is sent, and at that one's the name is gone.
 */
START_TEST(test_all_leave_while_subscribing)
{
	struct env	 env;
	struct tsub	 a, b;
	struct hub_sub	*sa, *sb;
	struct future	*ra, *rb;

	env_init(&env);
	tsub_init(&a);
	tsub_init(&b);
	sa = hub_subscribe(env.hub, &a.hs, UPSTREAM_CHANNEL, "ch", 2, &ra);
	sb = hub_subscribe(env.hub, &b.hs, UPSTREAM_CHANNEL, "ch", 2, &rb);
	ck_assert_int_eq(env.up.nops, 1);
	hub_unsubscribe(env.hub, sa);
	hub_unsubscribe(env.hub, sb);
	future_unref(ra);
	future_unref(rb);
	ck_assert_int_eq(env.up.nops, 1);
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_CHANNEL), 1);
	ck_assert(!hub_synced(env.hub));

	confirm(&env, 0);
	ck_assert_int_eq(env.up.nops, 2);
	expect_op(&env, 1, UPSTREAM_CHANNEL, 0, "ch", 2);
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_CHANNEL), 1);
	ck_assert(!hub_synced(env.hub));

	confirm(&env, 1);
	ck_assert_int_eq(env.up.nops, 2);
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_CHANNEL), 0);
	ck_assert(hub_synced(env.hub));
	tsub_done(&a);
	tsub_done(&b);
	env_done(&env);
}
END_TEST

/*
 * A pending subscription (ready, or still waiting) can be dropped; the
 * others are unaffected and the last one out still unsubscribes upstream.
 */
START_TEST(test_unsubscribe_pending)
{
	struct env	 env;
	struct tsub	 a, b, c;
	struct hub_sub	*sa, *sb, *sc;
	struct future	*ra, *rb, *rc;
	struct sbuf	 want = { NULL, 0, 0 };

	env_init(&env);
	tsub_init(&a);
	tsub_init(&b);
	tsub_init(&c);
	/* Waiting for the confirmation. */
	sa = hub_subscribe(env.hub, &a.hs, UPSTREAM_CHANNEL, "ch", 2, &ra);
	sb = hub_subscribe(env.hub, &b.hs, UPSTREAM_CHANNEL, "ch", 2, &rb);
	hub_unsubscribe(env.hub, sa);
	future_unref(ra);
	ck_assert_int_eq(env.up.nops, 1);
	confirm(&env, 0);
	ck_assert_int_eq(env.up.nops, 1);
	ck_assert_int_eq(future_state(rb), FUTURE_DONE);
	future_unref(rb);
	hub_activate(env.hub, sb);

	/* Ready but never activated. */
	sc = hub_subscribe(env.hub, &c.hs, UPSTREAM_CHANNEL, "ch", 2, &rc);
	ck_assert_int_eq(future_state(rc), FUTURE_DONE);
	future_unref(rc);
	hub_unsubscribe(env.hub, sc);
	ck_assert_int_eq(env.up.nops, 1);

	pub(&env, "ch", "m");
	turn(&env);
	frame_text(&want, "ch", "m");
	expect_out(&b, &want);
	ck_assert_int_eq(a.calls, 0);
	ck_assert_int_eq(c.calls, 0);

	/* The last one, pending, leaving an active name: UNSUBSCRIBE. */
	sc = hub_subscribe(env.hub, &c.hs, UPSTREAM_CHANNEL, "ch", 2, &rc);
	ck_assert_int_eq(future_state(rc), FUTURE_DONE);
	future_unref(rc);
	hub_unsubscribe(env.hub, sb);
	ck_assert_int_eq(env.up.nops, 1);
	hub_unsubscribe(env.hub, sc);
	ck_assert_int_eq(env.up.nops, 2);
	expect_op(&env, 1, UPSTREAM_CHANNEL, 0, "ch", 2);
	confirm(&env, 1);
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_CHANNEL), 0);
	sbuf_free(&want);
	tsub_done(&a);
	tsub_done(&b);
	tsub_done(&c);
	env_done(&env);
}
END_TEST

/*
 * The upstream is lost with names in every state: on reconnect each name
 * still wanted is subscribed again, and nothing else.
 */
START_TEST(test_reconnect_resubscribes)
{
	struct env	 env;
	struct tsub	 a, b, c, e, p, s;
	struct hub_sub	*sa, *sb, *sc, *se, *sp, *ss;
	struct future	*rb, *re;
	struct sbuf	 want = { NULL, 0, 0 };
	int		 n0, i;

	env_init(&env);
	tsub_init(&a);
	tsub_init(&b);
	tsub_init(&c);
	tsub_init(&e);
	tsub_init(&p);
	tsub_init(&s);
	/* a: active. */
	sa = sub_ready(&env, &a, UPSTREAM_CHANNEL, "a", 1);
	/* b: subscribing, with a waiter. */
	sb = hub_subscribe(env.hub, &b.hs, UPSTREAM_CHANNEL, "b", 1, &rb);
	/* c: unsubscribing, nobody wants it. */
	sc = sub_ready(&env, &c, UPSTREAM_CHANNEL, "c", 1);
	hub_unsubscribe(env.hub, sc);
	/* e: unsubscribing, with a new waiter. */
	se = sub_ready(&env, &e, UPSTREAM_CHANNEL, "e", 1);
	hub_unsubscribe(env.hub, se);
	se = hub_subscribe(env.hub, &e.hs, UPSTREAM_CHANNEL, "e", 1, &re);
	/* A pattern and a shard channel, active. */
	sp = sub_ready(&env, &p, UPSTREAM_PATTERN, "p*", 2);
	ss = sub_ready(&env, &s, UPSTREAM_SHARD, "s", 1);
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_CHANNEL), 4);
	ck_assert(!hub_synced(env.hub));
	expect_held(&env, 3, 1, 1);	/* a, and c and e until confirmed */

	lose(&env);
	expect_held(&env, 0, 0, 0);
	n0 = env.up.nops;
	/* Waiters wait for the reconnect; they are not failed. */
	ck_assert(future_is_pending(rb));
	ck_assert(future_is_pending(re));
	/* c is gone. */
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_CHANNEL), 3);
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_PATTERN), 1);
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_SHARD), 1);
	ck_assert(!hub_synced(env.hub));
	hub_upstream_state(env.hub, 0);		/* twice is harmless */
	ck_assert_int_eq(env.up.nops, n0);

	env.up.connected = 1;
	hub_upstream_state(env.hub, 1);
	ck_assert_int_eq(env.up.nops, n0 + 5);
	ck_assert_int_ge(find_op(&env, n0, UPSTREAM_CHANNEL, 1, "a", 1), n0);
	ck_assert_int_ge(find_op(&env, n0, UPSTREAM_CHANNEL, 1, "b", 1), n0);
	ck_assert_int_ge(find_op(&env, n0, UPSTREAM_CHANNEL, 1, "e", 1), n0);
	ck_assert_int_ge(find_op(&env, n0, UPSTREAM_PATTERN, 1, "p*", 2), n0);
	ck_assert_int_ge(find_op(&env, n0, UPSTREAM_SHARD, 1, "s", 1), n0);
	ck_assert(!hub_synced(env.hub));
	ck_assert(future_is_pending(rb));

	expect_held(&env, 0, 0, 0);
	for (i = n0; i < n0 + 5; i++)
		confirm(&env, i);
	ck_assert_int_eq(env.up.nops, n0 + 5);
	ck_assert(hub_synced(env.hub));
	expect_held(&env, 3, 1, 1);
	ck_assert_int_eq(future_state(rb), FUTURE_DONE);
	ck_assert_int_eq(future_state(re), FUTURE_DONE);
	future_unref(rb);
	future_unref(re);
	hub_activate(env.hub, sb);
	hub_activate(env.hub, se);

	/* The subscriptions active before the loss still receive. */
	pub(&env, "a", "1");
	pub(&env, "b", "2");
	pub(&env, "e", "3");
	publish_bin(&env, UPSTREAM_PATTERN, "p*", 2, "px", 2, "4", 1);
	publish(&env, UPSTREAM_SHARD, "s", "5", 1);
	turn(&env);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(b.calls, 1);
	ck_assert_int_eq(e.calls, 1);
	ck_assert_int_eq(p.calls, 1);
	ck_assert_int_eq(s.calls, 1);
	ck_assert_int_eq(c.calls, 0);
	frame_add(&want, UPSTREAM_SHARD, NULL, 0, "s", 1, "5", 1);
	expect_out(&s, &want);

	hub_unsubscribe(env.hub, sa);
	hub_unsubscribe(env.hub, sb);
	hub_unsubscribe(env.hub, se);
	hub_unsubscribe(env.hub, sp);
	hub_unsubscribe(env.hub, ss);
	expect_held(&env, 3, 1, 1);	/* until Redis confirms */
	ck_assert_int_eq(settle(&env), 5);
	expect_held(&env, 0, 0, 0);
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_CHANNEL), 0);
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_PATTERN), 0);
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_SHARD), 0);
	sbuf_free(&want);
	tsub_done(&a);
	tsub_done(&b);
	tsub_done(&c);
	tsub_done(&e);
	tsub_done(&p);
	tsub_done(&s);
	env_done(&env);
}
END_TEST

/* A SUBSCRIBE lost with the connection is sent again after the reconnect. */
START_TEST(test_lost_while_subscribing)
{
	struct env	 env;
	struct tsub	 a;
	struct hub_sub	*sa;
	struct future	*ra;

	env_init(&env);
	tsub_init(&a);
	sa = hub_subscribe(env.hub, &a.hs, UPSTREAM_CHANNEL, "ch", 2, &ra);
	ck_assert_int_eq(env.up.nops, 1);
	lose(&env);
	ck_assert(future_is_pending(ra));
	ck_assert_int_eq(env.up.nops, 1);
	ck_assert(!hub_synced(env.hub));

	env.up.connected = 1;
	hub_upstream_state(env.hub, 1);
	ck_assert_int_eq(env.up.nops, 2);
	expect_op(&env, 1, UPSTREAM_CHANNEL, 1, "ch", 2);
	confirm(&env, 1);
	ck_assert_int_eq(future_state(ra), FUTURE_DONE);
	ck_assert(hub_synced(env.hub));
	future_unref(ra);

	hub_unsubscribe(env.hub, sa);
	ck_assert_int_eq(settle(&env), 1);
	tsub_done(&a);
	env_done(&env);
}
END_TEST

/*
 * An UNSUBSCRIBE lost with the connection: Redis holds nothing any more, so
 * the name is gone and the reconnect sends nothing for it.
 */
START_TEST(test_lost_while_unsubscribing)
{
	struct env	 env;
	struct tsub	 a;

	env_init(&env);
	tsub_init(&a);
	hub_unsubscribe(env.hub, sub_ready(&env, &a, UPSTREAM_CHANNEL, "ch",
	    2));
	ck_assert_int_eq(env.up.nops, 2);
	lose(&env);
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_CHANNEL), 0);
	ck_assert(hub_synced(env.hub));
	env.up.connected = 1;
	hub_upstream_state(env.hub, 1);
	ck_assert_int_eq(env.up.nops, 2);
	ck_assert(hub_synced(env.hub));
	tsub_done(&a);
	env_done(&env);
}
END_TEST

/*
 * While disconnected a subscribe waits without an upstream op, and is sent
 * when the connection comes up; leaving while disconnected sends nothing.
 */
START_TEST(test_subscribe_while_disconnected)
{
	struct env	 env;
	struct tsub	 a, b;
	struct hub_sub	*sa, *sb;
	struct future	*ra, *rb;
	struct sbuf	 want = { NULL, 0, 0 };

	env_init(&env);
	tsub_init(&a);
	tsub_init(&b);
	env.up.connected = 0;
	hub_upstream_state(env.hub, 0);
	sa = hub_subscribe(env.hub, &a.hs, UPSTREAM_CHANNEL, "ch", 2, &ra);
	ck_assert_ptr_nonnull(sa);
	ck_assert_int_eq(env.up.nops, 0);
	ck_assert(future_is_pending(ra));
	ck_assert(!hub_synced(env.hub));
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_CHANNEL), 1);
	turn(&env);
	ck_assert(future_is_pending(ra));

	/* Wanted and unwanted again while down: no trace, nothing sent. */
	sb = hub_subscribe(env.hub, &b.hs, UPSTREAM_CHANNEL, "other", 5, &rb);
	hub_unsubscribe(env.hub, sb);
	future_unref(rb);
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_CHANNEL), 1);

	env.up.connected = 1;
	hub_upstream_state(env.hub, 1);
	ck_assert_int_eq(env.up.nops, 1);
	expect_op(&env, 0, UPSTREAM_CHANNEL, 1, "ch", 2);
	ck_assert(future_is_pending(ra));
	confirm(&env, 0);
	ck_assert_int_eq(future_state(ra), FUTURE_DONE);
	ck_assert(hub_synced(env.hub));
	future_unref(ra);
	hub_activate(env.hub, sa);
	pub(&env, "ch", "up");
	turn(&env);
	frame_text(&want, "ch", "up");
	expect_out(&a, &want);

	hub_unsubscribe(env.hub, sa);
	ck_assert_int_eq(settle(&env), 1);
	sbuf_free(&want);
	tsub_done(&a);
	tsub_done(&b);
	env_done(&env);
}
END_TEST

/*
 * Redis refuses a SUBSCRIBE while the connection stays up: every waiter's
 * ready future fails with the reason; the hub does not claim to be synced.
 */
START_TEST(test_failed_subscribe_while_connected)
{
	struct env	 env;
	struct tsub	 a, b;
	struct hub_sub	*sa, *sb;
	struct future	*ra, *rb;
	int		 i;

	env_init(&env);
	tsub_init(&a);
	tsub_init(&b);
	sa = hub_subscribe(env.hub, &a.hs, UPSTREAM_CHANNEL, "ch", 2, &ra);
	sb = hub_subscribe(env.hub, &b.hs, UPSTREAM_CHANNEL, "ch", 2, &rb);
	ck_assert_int_eq(env.up.nops, 1);
	ck_assert_int_eq(future_set_error(env.up.ops[0].fut,
	    "NOPERM no permissions"), 0);
	ck_assert_int_eq(future_state(ra), FUTURE_FAILED);
	ck_assert_int_eq(future_state(rb), FUTURE_FAILED);
	ck_assert_ptr_nonnull(strstr(future_error(ra), "NOPERM"));
	ck_assert_ptr_nonnull(strstr(future_error(rb), "NOPERM"));
	ck_assert(!hub_synced(env.hub));
	ck_assert_int_eq(env.up.nops, 1);
	future_unref(ra);
	future_unref(rb);

	/* The waiters give up, as client.c does; the name goes away. */
	hub_unsubscribe(env.hub, sa);
	hub_unsubscribe(env.hub, sb);
	settle(&env);
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_CHANNEL), 0);
	ck_assert(hub_synced(env.hub));
	/* A retried SUBSCRIBE, if any, was undone by an UNSUBSCRIBE. */
	i = find_op(&env, 1, UPSTREAM_CHANNEL, 1, "ch", 2);
	if (i >= 0)
		ck_assert_int_gt(find_op(&env, i, UPSTREAM_CHANNEL, 0, "ch",
		    2), i);
	tsub_done(&a);
	tsub_done(&b);
	env_done(&env);
}
END_TEST

/* hub_synced() in each state of a name. */
START_TEST(test_synced_each_state)
{
	struct env	 env;
	struct tsub	 a, b;
	struct hub_sub	*sa, *sb;
	struct future	*ra;

	env_init(&env);
	tsub_init(&a);
	tsub_init(&b);
	ck_assert(hub_synced(env.hub));		/* empty */
	sa = hub_subscribe(env.hub, &a.hs, UPSTREAM_PATTERN, "x*", 2, &ra);
	ck_assert(!hub_synced(env.hub));	/* subscribing */
	confirm(&env, 0);
	ck_assert(hub_synced(env.hub));		/* active */
	future_unref(ra);
	hub_activate(env.hub, sa);
	sb = sub_ready(&env, &b, UPSTREAM_CHANNEL, "y", 1);
	ck_assert(hub_synced(env.hub));		/* two active */
	hub_unsubscribe(env.hub, sa);
	ck_assert(!hub_synced(env.hub));	/* unsubscribing */
	confirm(&env, 2);
	ck_assert(hub_synced(env.hub));		/* gone */
	env.up.connected = 0;
	hub_upstream_state(env.hub, 0);
	ck_assert(!hub_synced(env.hub));	/* lost */
	env.up.connected = 1;
	hub_upstream_state(env.hub, 1);
	ck_assert(!hub_synced(env.hub));	/* resubscribing */
	confirm(&env, 3);
	ck_assert(hub_synced(env.hub));
	hub_unsubscribe(env.hub, sb);
	settle(&env);
	ck_assert(hub_synced(env.hub));
	tsub_done(&a);
	tsub_done(&b);
	env_done(&env);
}
END_TEST

/* A channel, a pattern and a shard channel of the same name are separate. */
START_TEST(test_kinds_are_separate)
{
	struct env	 env;
	struct tsub	 a, b, c;
	struct hub_sub	*sa, *sb, *sc;
	struct sbuf	 wa = { NULL, 0, 0 }, wb = { NULL, 0, 0 };
	struct sbuf	 wc = { NULL, 0, 0 };

	env_init(&env);
	tsub_init(&a);
	tsub_init(&b);
	tsub_init(&c);
	sa = sub_ready(&env, &a, UPSTREAM_CHANNEL, "x", 1);
	sb = sub_ready(&env, &b, UPSTREAM_PATTERN, "x", 1);
	sc = sub_ready(&env, &c, UPSTREAM_SHARD, "x", 1);
	ck_assert_int_eq(env.up.nops, 3);
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_CHANNEL), 1);
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_PATTERN), 1);
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_SHARD), 1);
	ck_assert_int_eq(hub_sub_kind(sb), UPSTREAM_PATTERN);

	/* As Redis does for a channel matching a pattern: both frames. */
	pub(&env, "x", "1");
	publish_bin(&env, UPSTREAM_PATTERN, "x", 1, "x", 1, "1", 1);
	publish(&env, UPSTREAM_SHARD, "x", "2", 1);
	turn(&env);
	frame_text(&wa, "x", "1");
	frame_add(&wb, UPSTREAM_PATTERN, "x", 1, "x", 1, "1", 1);
	frame_add(&wc, UPSTREAM_SHARD, NULL, 0, "x", 1, "2", 1);
	expect_out(&a, &wa);
	expect_out(&b, &wb);
	expect_out(&c, &wc);

	hub_unsubscribe(env.hub, sb);
	ck_assert_int_eq(env.up.nops, 4);
	expect_op(&env, 3, UPSTREAM_PATTERN, 0, "x", 1);
	hub_unsubscribe(env.hub, sa);
	hub_unsubscribe(env.hub, sc);
	expect_op(&env, 4, UPSTREAM_CHANNEL, 0, "x", 1);
	expect_op(&env, 5, UPSTREAM_SHARD, 0, "x", 1);
	ck_assert_int_eq(settle(&env), 3);
	sbuf_free(&wa);
	sbuf_free(&wb);
	sbuf_free(&wc);
	tsub_done(&a);
	tsub_done(&b);
	tsub_done(&c);
	env_done(&env);
}
END_TEST

/*
 * DESIGN rule 2: a subscription that is not activated receives nothing,
 * even on an active name; from its activation on it receives.
 */
START_TEST(test_pending_receives_nothing)
{
	struct env	 env;
	struct tsub	 a, b, w;
	struct hub_sub	*sa, *sb, *sw;
	struct future	*rb, *rw;
	struct sbuf	 wa = { NULL, 0, 0 }, wb = { NULL, 0, 0 };

	env_init(&env);
	tsub_init(&a);
	tsub_init(&b);
	tsub_init(&w);
	/* Waiting on a name still subscribing: nothing, and no batch. */
	sw = hub_subscribe(env.hub, &w.hs, UPSTREAM_CHANNEL, "new", 3, &rw);
	pub(&env, "new", "early");
	turn(&env);
	ck_assert_int_eq(w.calls, 0);
	ck_assert_uint_eq(hub_stats(env.hub)->batches, 0);

	sa = sub_ready(&env, &a, UPSTREAM_CHANNEL, "ch", 2);
	sb = hub_subscribe(env.hub, &b.hs, UPSTREAM_CHANNEL, "ch", 2, &rb);
	ck_assert_int_eq(future_state(rb), FUTURE_DONE);
	ck_assert(!hub_sub_active(sb));
	pub(&env, "ch", "one");
	turn(&env);
	ck_assert_int_eq(b.calls, 0);
	ck_assert_int_eq(a.calls, 1);

	hub_activate(env.hub, sb);
	hub_activate(env.hub, sb);	/* twice is harmless */
	ck_assert(hub_sub_active(sb));
	pub(&env, "ch", "two");
	turn(&env);
	frame_text(&wa, "ch", "one");
	frame_text(&wa, "ch", "two");
	frame_text(&wb, "ch", "two");
	expect_out(&a, &wa);
	expect_out(&b, &wb);
	ck_assert_int_eq(b.calls, 1);

	future_unref(rb);
	future_unref(rw);
	hub_unsubscribe(env.hub, sw);
	hub_unsubscribe(env.hub, sa);
	hub_unsubscribe(env.hub, sb);
	settle(&env);
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_CHANNEL), 0);
	sbuf_free(&wa);
	sbuf_free(&wb);
	tsub_done(&a);
	tsub_done(&b);
	tsub_done(&w);
	env_done(&env);
}
END_TEST

/* The exact RESP2 frames of message, pmessage and smessage. */
START_TEST(test_frame_bytes)
{
	static const char msg[] = "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n"
	    "$5\r\nhello\r\n";
	static const char pmsg[] = "*4\r\n$8\r\npmessage\r\n$6\r\nnews.*\r\n"
	    "$9\r\nnews.tech\r\n$2\r\nhi\r\n";
	static const char smsg[] = "*3\r\n$8\r\nsmessage\r\n$2\r\nsh\r\n"
	    "$0\r\n\r\n";
	struct env	 env;
	struct tsub	 a, p, s;
	struct hub_sub	*sa, *sp, *ss;

	env_init(&env);
	tsub_init(&a);
	tsub_init(&p);
	tsub_init(&s);
	sa = sub_ready(&env, &a, UPSTREAM_CHANNEL, "ch", 2);
	sp = sub_ready(&env, &p, UPSTREAM_PATTERN, "news.*", 6);
	ss = sub_ready(&env, &s, UPSTREAM_SHARD, "sh", 2);

	pub(&env, "ch", "hello");
	publish_bin(&env, UPSTREAM_PATTERN, "news.*", 6, "news.tech", 9,
	    "hi", 2);
	publish(&env, UPSTREAM_SHARD, "sh", "", 0);
	turn(&env);
	ck_assert_uint_eq(a.out.len, sizeof(msg) - 1);
	ck_assert_mem_eq(a.out.p, msg, sizeof(msg) - 1);
	ck_assert_uint_eq(p.out.len, sizeof(pmsg) - 1);
	ck_assert_mem_eq(p.out.p, pmsg, sizeof(pmsg) - 1);
	ck_assert_uint_eq(s.out.len, sizeof(smsg) - 1);
	ck_assert_mem_eq(s.out.p, smsg, sizeof(smsg) - 1);

	hub_unsubscribe(env.hub, sa);
	hub_unsubscribe(env.hub, sp);
	hub_unsubscribe(env.hub, ss);
	settle(&env);
	tsub_done(&a);
	tsub_done(&p);
	tsub_done(&s);
	env_done(&env);
}
END_TEST

/*
 * RESP3 subscribers get pushes (">"), RESP2 ones arrays, from the same
 * messages in the same turn; switching a subscriber's protocol hands over
 * what it had first, and later messages come in the new form.
 */
START_TEST(test_resp3_pushes)
{
	static const char two[] = "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n"
	    "$1\r\nx\r\n";
	static const char three[] = ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n"
	    "$1\r\nx\r\n";
	static const char pthree[] = ">4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n"
	    "$2\r\nch\r\n$1\r\nx\r\n";
	struct env	 env;
	struct tsub	 a, b;
	struct hub_sub	*sa, *sb, *sp;

	env_init(&env);
	tsub_init(&a);
	tsub_init(&b);
	sa = sub_ready(&env, &a, UPSTREAM_CHANNEL, "ch", 2);
	sb = sub_ready(&env, &b, UPSTREAM_CHANNEL, "ch", 2);
	sp = sub_ready(&env, &b, UPSTREAM_PATTERN, "c*", 2);
	hub_subscriber_set_form(env.hub, &b.hs, HUB_FORM_RESP3);

	pub(&env, "ch", "x");
	publish_bin(&env, UPSTREAM_PATTERN, "c*", 2, "ch", 2, "x", 1);
	turn(&env);
	ck_assert_uint_eq(a.out.len, sizeof(two) - 1);
	ck_assert_mem_eq(a.out.p, two, sizeof(two) - 1);
	ck_assert_uint_eq(b.out.len, sizeof(three) - 1 + sizeof(pthree) - 1);
	ck_assert_mem_eq(b.out.p, three, sizeof(three) - 1);
	ck_assert_mem_eq(b.out.p + sizeof(three) - 1, pthree,
	    sizeof(pthree) - 1);

	/* Back to RESP2 in the middle of a turn: the run goes out first. */
	pub(&env, "ch", "x");
	hub_subscriber_set_form(env.hub, &b.hs, HUB_FORM_RESP2);
	ck_assert_uint_eq(b.out.len, 2 * (sizeof(three) - 1) +
	    sizeof(pthree) - 1);
	pub(&env, "ch", "x");
	turn(&env);
	ck_assert_uint_eq(b.out.len, 2 * (sizeof(three) - 1) +
	    sizeof(pthree) - 1 + sizeof(two) - 1);
	ck_assert_mem_eq(b.out.p + b.out.len - (sizeof(two) - 1), two,
	    sizeof(two) - 1);
	ck_assert_uint_eq(a.out.len, 3 * (sizeof(two) - 1));

	hub_unsubscribe(env.hub, sa);
	hub_unsubscribe(env.hub, sb);
	hub_unsubscribe(env.hub, sp);
	settle(&env);
	tsub_done(&a);
	tsub_done(&b);
	env_done(&env);
}
END_TEST

/*
 * Several messages of one channel in one turn reach each subscriber in ONE
 * deliver call with every frame in order; nothing is handed over before the
 * end of the turn.
 */
START_TEST(test_one_run_per_turn)
{
	struct env	 env;
	struct tsub	 a, b;
	struct hub_sub	*sa, *sb;
	struct sbuf	 want = { NULL, 0, 0 };
	char		 payload[32];
	int		 i;

	env_init(&env);
	tsub_init(&a);
	tsub_init(&b);
	sa = sub_ready(&env, &a, UPSTREAM_CHANNEL, "ch", 2);
	sb = sub_ready(&env, &b, UPSTREAM_CHANNEL, "ch", 2);
	for (i = 0; i < 50; i++) {
		snprintf(payload, sizeof(payload), "message %d", i);
		pub(&env, "ch", payload);
		frame_text(&want, "ch", payload);
	}
	ck_assert_int_eq(a.calls, 0);
	ck_assert_int_eq(b.calls, 0);
	turn(&env);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(b.calls, 1);
	expect_out(&a, &want);
	expect_out(&b, &want);

	/* The next turn is a new run. */
	pub(&env, "ch", "next");
	frame_text(&want, "ch", "next");
	turn(&env);
	ck_assert_int_eq(a.calls, 2);
	expect_out(&a, &want);
	turn(&env);
	ck_assert_int_eq(a.calls, 2);

	hub_unsubscribe(env.hub, sa);
	hub_unsubscribe(env.hub, sb);
	settle(&env);
	sbuf_free(&want);
	tsub_done(&a);
	tsub_done(&b);
	env_done(&env);
}
END_TEST

/*
 * Two channels interleaved in one turn: a subscriber of both gets all the
 * frames in one piece, a subscriber of one gets only its frames, in order,
 * in one call.
 */
START_TEST(test_interleaved_channels)
{
	struct env	 env;
	struct tsub	 both, one, two;
	struct hub_sub	*s[4];
	struct sbuf	 wboth = { NULL, 0, 0 }, wone = { NULL, 0, 0 };
	struct sbuf	 wtwo = { NULL, 0, 0 };
	char		 payload[16];
	int		 i;

	env_init(&env);
	tsub_init(&both);
	tsub_init(&one);
	tsub_init(&two);
	s[0] = sub_ready(&env, &both, UPSTREAM_CHANNEL, "c1", 2);
	s[1] = sub_ready(&env, &both, UPSTREAM_CHANNEL, "c2", 2);
	s[2] = sub_ready(&env, &one, UPSTREAM_CHANNEL, "c1", 2);
	s[3] = sub_ready(&env, &two, UPSTREAM_CHANNEL, "c2", 2);
	for (i = 0; i < 6; i++) {
		snprintf(payload, sizeof(payload), "m%d", i);
		pub(&env, i % 2 ? "c2" : "c1", payload);
		frame_text(&wboth, i % 2 ? "c2" : "c1", payload);
		frame_text(i % 2 ? &wtwo : &wone, i % 2 ? "c2" : "c1",
		    payload);
	}
	pub(&env, "c3", "nobody");
	turn(&env);
	expect_out(&both, &wboth);
	expect_out(&one, &wone);
	expect_out(&two, &wtwo);
	ck_assert_int_eq(both.calls, 1);
	ck_assert_int_eq(both.pieces, 1);
	ck_assert_int_eq(one.calls, 1);		/* three pieces, one call */
	ck_assert_int_eq(one.pieces, 3);
	ck_assert_int_eq(two.calls, 1);

	for (i = 0; i < 4; i++)
		hub_unsubscribe(env.hub, s[i]);
	ck_assert_int_eq(settle(&env), 2);
	sbuf_free(&wboth);
	sbuf_free(&wone);
	sbuf_free(&wtwo);
	tsub_done(&both);
	tsub_done(&one);
	tsub_done(&two);
	env_done(&env);
}
END_TEST

/*
 * hub_subscriber_flush() hands over the pending run at once, so a reply
 * the subscriber writes next comes after those messages.
 */
START_TEST(test_subscriber_flush)
{
	struct env	 env;
	struct tsub	 a, b;
	struct hub_sub	*sa, *sb;
	struct sbuf	 wa = { NULL, 0, 0 }, wb = { NULL, 0, 0 };

	env_init(&env);
	tsub_init(&a);
	tsub_init(&b);
	sa = sub_ready(&env, &a, UPSTREAM_CHANNEL, "ch", 2);
	sb = sub_ready(&env, &b, UPSTREAM_CHANNEL, "ch", 2);

	hub_subscriber_flush(env.hub, &a.hs);		/* nothing pending */
	ck_assert_int_eq(a.calls, 0);

	pub(&env, "ch", "m1");
	pub(&env, "ch", "m2");
	hub_subscriber_flush(env.hub, &a.hs);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(b.calls, 0);
	hub_subscriber_flush(env.hub, &a.hs);		/* handed over once */
	ck_assert_int_eq(a.calls, 1);
	sbuf_add(&a.out, "+OK\r\n", 5);			/* a reply */

	pub(&env, "ch", "m3");
	turn(&env);
	frame_text(&wa, "ch", "m1");
	frame_text(&wa, "ch", "m2");
	sbuf_add(&wa, "+OK\r\n", 5);
	frame_text(&wa, "ch", "m3");
	frame_text(&wb, "ch", "m1");
	frame_text(&wb, "ch", "m2");
	frame_text(&wb, "ch", "m3");
	expect_out(&a, &wa);
	expect_out(&b, &wb);
	ck_assert_int_eq(a.calls, 2);
	ck_assert_int_eq(b.calls, 1);
	hub_subscriber_flush(env.hub, &a.hs);		/* after the turn */
	ck_assert_int_eq(a.calls, 2);

	hub_unsubscribe(env.hub, sa);
	hub_unsubscribe(env.hub, sb);
	settle(&env);
	sbuf_free(&wa);
	sbuf_free(&wb);
	tsub_done(&a);
	tsub_done(&b);
	env_done(&env);
}
END_TEST

/*
 * hub_subscriber_forget() drops the pending run, also when another
 * subscriber's deliver does it in the middle of the flush.
 */
START_TEST(test_subscriber_forget)
{
	struct env	 env;
	struct tsub	 a, b, c;
	struct hub_sub	*sa, *sb, *sc;
	struct sbuf	 w1 = { NULL, 0, 0 }, w2 = { NULL, 0, 0 };

	env_init(&env);
	tsub_init(&a);
	tsub_init(&b);
	tsub_init(&c);
	sb = sub_ready(&env, &b, UPSTREAM_CHANNEL, "ch", 2);
	sa = sub_ready(&env, &a, UPSTREAM_CHANNEL, "ch", 2);
	sc = sub_ready(&env, &c, UPSTREAM_CHANNEL, "ch", 2);

	hub_subscriber_forget(env.hub, &a.hs);		/* nothing pending */
	pub(&env, "ch", "one");
	hub_subscriber_forget(env.hub, &a.hs);
	turn(&env);
	ck_assert_int_eq(a.calls, 0);
	ck_assert_int_eq(b.calls, 1);
	ck_assert_int_eq(c.calls, 1);

	/* Forgetting is not unsubscribing: the next turn delivers again. */
	pub(&env, "ch", "two");
	turn(&env);
	frame_text(&w1, "ch", "two");
	expect_out(&a, &w1);

	/* b is handed its run first and forgets a, which comes later. */
	b.hub = env.hub;
	b.victim = &a;
	pub(&env, "ch", "three");
	turn(&env);
	expect_out(&a, &w1);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(b.calls, 3);
	ck_assert_int_eq(c.calls, 3);
	frame_text(&w2, "ch", "one");
	frame_text(&w2, "ch", "two");
	frame_text(&w2, "ch", "three");
	expect_out(&c, &w2);

	hub_unsubscribe(env.hub, sa);
	hub_unsubscribe(env.hub, sb);
	hub_unsubscribe(env.hub, sc);
	settle(&env);
	sbuf_free(&w1);
	sbuf_free(&w2);
	tsub_done(&a);
	tsub_done(&b);
	tsub_done(&c);
	env_done(&env);
}
END_TEST

/*
 * A subscriber that is forgotten and then freed (as client.c tears one
 * down) is never touched again by the flush of the batch it was in.
 */
START_TEST(test_forget_then_free)
{
	struct env	 env;
	struct tsub	*gone, b;
	struct hub_sub	*sg, *sb;
	unsigned char	*p;
	size_t		 i;

	env_init(&env);
	gone = malloc(sizeof(*gone));
	ck_assert_ptr_nonnull(gone);
	tsub_init(gone);
	tsub_init(&b);
	sg = sub_ready(&env, gone, UPSTREAM_CHANNEL, "ch", 2);
	sb = sub_ready(&env, &b, UPSTREAM_CHANNEL, "ch", 2);
	pub(&env, "ch", "m");
	hub_subscriber_forget(env.hub, &gone->hs);
	hub_unsubscribe(env.hub, sg);
	tsub_done(gone);
	memset(gone, 0xa5, sizeof(*gone));	/* "freed": any use shows */
	turn(&env);
	for (p = (unsigned char *)gone, i = 0; i < sizeof(*gone); i++)
		ck_assert_uint_eq(p[i], 0xa5);
	free(gone);
	ck_assert_int_eq(b.calls, 1);

	hub_unsubscribe(env.hub, sb);
	settle(&env);
	tsub_done(&b);
	env_done(&env);
}
END_TEST

/*
 * A subscriber that references a batch keeps its bytes valid through later
 * batches (and after the hub is gone), until it releases them.
 */
START_TEST(test_batch_ref_keeps_bytes)
{
	struct env	 env;
	struct tsub	 k, o;
	struct hub_sub	*sk, *so;
	struct sbuf	 first = { NULL, 0, 0 }, second = { NULL, 0, 0 };
	char		 payload[64];
	int		 i, j;

	env_init(&env);
	tsub_init(&k);
	tsub_init(&o);
	k.keep = 1;
	sk = sub_ready(&env, &k, UPSTREAM_CHANNEL, "ch", 2);
	so = sub_ready(&env, &o, UPSTREAM_CHANNEL, "ch", 2);

	pub(&env, "ch", "kept across batches");
	frame_text(&first, "ch", "kept across batches");
	turn(&env);
	ck_assert_int_eq(k.nkept, 1);
	k.keep = 0;

	/* Many more batches, each of which o alone receives or both do. */
	for (i = 0; i < 20; i++) {
		for (j = 0; j < 10; j++) {
			snprintf(payload, sizeof(payload),
			    "overwrite %d %d XXXXXXXXXXXXXXXXXXXXXXXX", i, j);
			pub(&env, "ch", payload);
		}
		if (i % 2)
			turn(&env);
		else
			hub_flush(env.hub);
	}
	turn(&env);
	ck_assert_uint_eq(k.kept[0].len, first.len);
	ck_assert_mem_eq(k.kept[0].data, first.p, first.len);

	/* One more, kept while the hub goes away. */
	k.keep = 1;
	pub(&env, "ch", "outlives the hub");
	frame_text(&second, "ch", "outlives the hub");
	turn(&env);
	ck_assert_int_eq(k.nkept, 2);
	hub_batch_release(k.kept[0].data, k.kept[0].len, k.kept[0].batch);

	hub_unsubscribe(env.hub, sk);
	hub_unsubscribe(env.hub, so);
	settle(&env);
	env_done(&env);
	ck_assert_uint_eq(k.kept[1].len, second.len);
	ck_assert_mem_eq(k.kept[1].data, second.p, second.len);
	hub_batch_release(k.kept[1].data, k.kept[1].len, k.kept[1].batch);
	k.nkept = 0;
	sbuf_free(&first);
	sbuf_free(&second);
	tsub_done(&k);
	tsub_done(&o);
}
END_TEST

/* Names and payloads are bytes: NUL and CRLF inside pass unchanged. */
START_TEST(test_binary_payload)
{
	static const char name[] = "a\0b\r\n";
	static const char payload[] = "\0x\r\n*3\r\n$1\r\n\0\0\r\ny\0";
	static const char pattern[] = "a\0*";
	struct env	 env;
	struct tsub	 a, prefix, p;
	struct hub_sub	*sa, *sprefix, *sp;
	struct sbuf	 wa = { NULL, 0, 0 }, wp = { NULL, 0, 0 };

	env_init(&env);
	tsub_init(&a);
	tsub_init(&prefix);
	tsub_init(&p);
	sa = sub_ready(&env, &a, UPSTREAM_CHANNEL, name, sizeof(name) - 1);
	sprefix = sub_ready(&env, &prefix, UPSTREAM_CHANNEL, "a", 1);
	sp = sub_ready(&env, &p, UPSTREAM_PATTERN, pattern,
	    sizeof(pattern) - 1);
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_CHANNEL), 2);

	publish_bin(&env, UPSTREAM_CHANNEL, NULL, 0, name, sizeof(name) - 1,
	    payload, sizeof(payload) - 1);
	publish_bin(&env, UPSTREAM_PATTERN, pattern, sizeof(pattern) - 1,
	    name, sizeof(name) - 1, payload, sizeof(payload) - 1);
	turn(&env);
	frame_add(&wa, UPSTREAM_CHANNEL, NULL, 0, name, sizeof(name) - 1,
	    payload, sizeof(payload) - 1);
	frame_add(&wp, UPSTREAM_PATTERN, pattern, sizeof(pattern) - 1,
	    name, sizeof(name) - 1, payload, sizeof(payload) - 1);
	expect_out(&a, &wa);
	expect_out(&p, &wp);
	ck_assert_int_eq(prefix.calls, 0);

	hub_unsubscribe(env.hub, sa);
	expect_op(&env, 3, UPSTREAM_CHANNEL, 0, name, sizeof(name) - 1);
	hub_unsubscribe(env.hub, sprefix);
	hub_unsubscribe(env.hub, sp);
	ck_assert_int_eq(settle(&env), 3);
	sbuf_free(&wa);
	sbuf_free(&wp);
	tsub_done(&a);
	tsub_done(&prefix);
	tsub_done(&p);
	env_done(&env);
}
END_TEST

/* A payload larger than a batch is delivered intact, in order with others. */
START_TEST(test_large_payload)
{
	struct env	 env;
	struct tsub	 a, b;
	struct hub_sub	*sa, *sb;
	struct sbuf	 want = { NULL, 0, 0 };
	char		*big;
	size_t		 i;

	env_init(&env);
	tsub_init(&a);
	tsub_init(&b);
	sa = sub_ready(&env, &a, UPSTREAM_CHANNEL, "big", 3);
	sb = sub_ready(&env, &b, UPSTREAM_CHANNEL, "big", 3);
	big = malloc(BIG_PAYLOAD);
	ck_assert_ptr_nonnull(big);
	for (i = 0; i < BIG_PAYLOAD; i++)
		big[i] = (char)(i * 31 % 251);

	pub(&env, "big", "before");
	publish(&env, UPSTREAM_CHANNEL, "big", big, BIG_PAYLOAD);
	pub(&env, "big", "after");
	frame_text(&want, "big", "before");
	frame_add(&want, UPSTREAM_CHANNEL, NULL, 0, "big", 3, big,
	    BIG_PAYLOAD);
	frame_text(&want, "big", "after");
	turn(&env);
	expect_out(&a, &want);
	expect_out(&b, &want);

	/* Alone in its turn, and then the batches are small again. */
	publish(&env, UPSTREAM_CHANNEL, "big", big, BIG_PAYLOAD);
	frame_add(&want, UPSTREAM_CHANNEL, NULL, 0, "big", 3, big,
	    BIG_PAYLOAD);
	turn(&env);
	pub(&env, "big", "small");
	frame_text(&want, "big", "small");
	turn(&env);
	expect_out(&a, &want);
	expect_out(&b, &want);

	hub_unsubscribe(env.hub, sa);
	hub_unsubscribe(env.hub, sb);
	settle(&env);
	free(big);
	sbuf_free(&want);
	tsub_done(&a);
	tsub_done(&b);
	env_done(&env);
}
END_TEST

/*
 * More bytes in one turn than a batch holds: the hub hands over the full
 * batch early, and every frame still arrives once, in order.
 */
START_TEST(test_batch_overflow_in_one_turn)
{
	struct env	 env;
	struct tsub	 a;
	struct hub_sub	*sa;
	struct sbuf	 want = { NULL, 0, 0 };
	char		 payload[2001];
	int		 i;

	env_init(&env);
	tsub_init(&a);
	sa = sub_ready(&env, &a, UPSTREAM_CHANNEL, "ch", 2);
	for (i = 0; i < 400; i++) {
		memset(payload, 'a' + i % 26, sizeof(payload) - 1);
		payload[sizeof(payload) - 1] = '\0';
		snprintf(payload, 16, "%d:", i);
		payload[strlen(payload)] = '.';
		pub(&env, "ch", payload);
		frame_text(&want, "ch", payload);
	}
	turn(&env);
	expect_out(&a, &want);
	ck_assert_int_ge(a.calls, 2);
	ck_assert_int_le(a.calls, 5);
	/* Mid-turn flushes measure their messages, none twice or lost. */
	expect_latency(&env, 400);

	hub_unsubscribe(env.hub, sa);
	settle(&env);
	sbuf_free(&want);
	tsub_done(&a);
	env_done(&env);
}
END_TEST

/* 1000 subscribers of one channel each get every message, in one run. */
START_TEST(test_thousand_subscribers)
{
	struct env	  env;
	struct tsub	 *ts;
	struct hub_sub	**subs;
	struct future	 *ready;
	struct sbuf	  want = { NULL, 0, 0 };
	char		  payload[16];
	int		  i;

	env_init(&env);
	ts = calloc(FANOUT, sizeof(*ts));
	subs = calloc(FANOUT, sizeof(*subs));
	ck_assert_ptr_nonnull(ts);
	ck_assert_ptr_nonnull(subs);
	for (i = 0; i < FANOUT; i++) {
		tsub_init(&ts[i]);
		subs[i] = hub_subscribe(env.hub, &ts[i].hs, UPSTREAM_CHANNEL,
		    "fan", 3, &ready);
		ck_assert_ptr_nonnull(subs[i]);
		future_unref(ready);
	}
	ck_assert_int_eq(env.up.nops, 1);
	confirm(&env, 0);
	for (i = 0; i < FANOUT; i++)
		hub_activate(env.hub, subs[i]);
	for (i = 0; i < 10; i++) {
		snprintf(payload, sizeof(payload), "m%d", i);
		pub(&env, "fan", payload);
		frame_text(&want, "fan", payload);
	}
	turn(&env);
	for (i = 0; i < FANOUT; i++) {
		ck_assert_int_eq(ts[i].calls, 1);
		expect_out(&ts[i], &want);
	}
	ck_assert_uint_eq(hub_stats(env.hub)->deliveries, 10 * FANOUT);

	for (i = 0; i < FANOUT; i++)
		hub_unsubscribe(env.hub, subs[i]);
	ck_assert_int_eq(env.up.nops, 2);
	ck_assert_int_eq(settle(&env), 1);
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_CHANNEL), 0);
	for (i = 0; i < FANOUT; i++)
		tsub_done(&ts[i]);
	free(ts);
	free(subs);
	sbuf_free(&want);
	env_done(&env);
}
END_TEST

/*
 * Removing subscribers from the middle, the front and the end of a
 * channel's list (swap-remove) leaves the others receiving, each once.
 */
START_TEST(test_swap_remove)
{
	struct env	 env;
	struct tsub	 ts[6];
	struct hub_sub	*subs[6];
	struct sbuf	 want = { NULL, 0, 0 };
	static const int gone[] = { 2, 0, 5 };
	uint64_t	 delivered = 0;
	int		 i, j, left;

	env_init(&env);
	for (i = 0; i < 6; i++) {
		tsub_init(&ts[i]);
		subs[i] = sub_ready(&env, &ts[i], UPSTREAM_CHANNEL, "ch", 2);
	}
	frame_text(&want, "ch", "m");
	for (j = 0; j < 3; j++) {
		hub_unsubscribe(env.hub, subs[gone[j]]);
		subs[gone[j]] = NULL;
		for (i = 0; i < 6; i++) {
			sbuf_free(&ts[i].out);
			ts[i].calls = 0;
		}
		pub(&env, "ch", "m");
		turn(&env);
		for (i = 0, left = 0; i < 6; i++) {
			if (subs[i] == NULL) {
				ck_assert_int_eq(ts[i].calls, 0);
				continue;
			}
			left++;
			ck_assert_int_eq(ts[i].calls, 1);
			expect_out(&ts[i], &want);
		}
		ck_assert_int_eq(left, 5 - j);
		delivered += (uint64_t)left;
		ck_assert_uint_eq(hub_stats(env.hub)->deliveries, delivered);
	}
	ck_assert_uint_eq(delivered, 5 + 4 + 3);
	ck_assert_int_eq(env.up.nops, 1);
	for (i = 0; i < 6; i++)
		if (subs[i] != NULL)
			hub_unsubscribe(env.hub, subs[i]);
	ck_assert_int_eq(settle(&env), 1);
	for (i = 0; i < 6; i++)
		tsub_done(&ts[i]);
	sbuf_free(&want);
	env_done(&env);
}
END_TEST

/* The counters: messages in, deliveries, batches, upstream operations. */
START_TEST(test_stats)
{
	struct env		 env;
	struct tsub		 a, b;
	struct hub_sub		*sa, *sb;
	const struct hub_stats	*st;

	env_init(&env);
	tsub_init(&a);
	tsub_init(&b);
	st = hub_stats(env.hub);
	ck_assert_uint_eq(st->messages_in, 0);
	ck_assert_uint_eq(st->deliveries, 0);
	ck_assert_uint_eq(st->batches, 0);
	ck_assert_uint_eq(st->upstream_subscribes, 0);
	ck_assert_uint_eq(st->upstream_unsubscribes, 0);

	sa = sub_ready(&env, &a, UPSTREAM_CHANNEL, "ch", 2);
	sb = sub_ready(&env, &b, UPSTREAM_CHANNEL, "ch", 2);
	ck_assert_uint_eq(st->upstream_subscribes, 1);
	pub(&env, "ch", "1");
	pub(&env, "ch", "2");
	pub(&env, "ch", "3");
	expect_latency(&env, 0);
	pub(&env, "nobody", "4");
	turn(&env);
	ck_assert_uint_eq(st->messages_in, 4);
	ck_assert_uint_eq(st->deliveries, 6);
	ck_assert_uint_eq(st->batches, 1);
	ck_assert_uint_eq(st->unrouted, 1);
	ck_assert_uint_eq(st->dropped, 0);
	expect_latency(&env, 3);
	expect_held(&env, 1, 0, 0);
	turn(&env);				/* an idle turn */
	ck_assert_uint_eq(st->batches, 1);

	/* An explicit flush, then the turn's own: one batch, not two. */
	pub(&env, "ch", "5");
	hub_flush(env.hub);
	ck_assert_uint_eq(st->batches, 2);
	ck_assert_int_eq(a.calls, 2);
	turn(&env);
	ck_assert_uint_eq(st->batches, 2);
	hub_flush(env.hub);
	ck_assert_uint_eq(st->batches, 2);
	ck_assert_uint_eq(st->messages_in, 5);
	ck_assert_uint_eq(st->deliveries, 8);
	expect_latency(&env, 4);

	hub_unsubscribe(env.hub, sa);
	hub_unsubscribe(env.hub, sb);
	ck_assert_uint_eq(st->upstream_unsubscribes, 1);
	settle(&env);
	sa = sub_ready(&env, &a, UPSTREAM_PATTERN, "p*", 2);
	ck_assert_uint_eq(st->upstream_subscribes, 2);
	hub_unsubscribe(env.hub, sa);
	ck_assert_uint_eq(st->upstream_unsubscribes, 2);
	settle(&env);
	tsub_done(&a);
	tsub_done(&b);
	env_done(&env);
}
END_TEST

/* A settle of one scope on name, ended at once: NULL if nothing to wait. */
static struct future *
settle_on(struct env *env, enum upstream_kind kind,
    enum hub_settle_scope scope, const char *name)
{
	struct hub_settle	*st = NULL;

	hub_settle_add(env->hub, &st, kind, scope, name,
	    name != NULL ? strlen(name) : 0);
	return hub_settle_end(st);
}

/*
 * Nothing in flight: no future at all (PUBLISH then goes to Redis at once).
 * An unsubscribe of the channel, or of a pattern matching it, in flight: a
 * future done only once Redis confirmed it, and by then the hub counts the
 * name as no longer held (the counts agree with Redis'). A pattern that
 * does not match, another channel, or the shard kind are not waited for.
 */
START_TEST(test_settle_waits_for_unsubscribe)
{
	struct env	 env;
	struct tsub	 a, b;
	struct hub_sub	*sa, *sp, *sb, *so;
	struct future	*f, *g;
	long long	 own, local;
	int		 un;

	env_init(&env);
	tsub_init(&a);
	tsub_init(&b);
	sa = sub_ready(&env, &a, UPSTREAM_CHANNEL, "psu:b", 5);
	sp = sub_ready(&env, &a, UPSTREAM_PATTERN, "psu:*", 5);
	sb = sub_ready(&env, &b, UPSTREAM_CHANNEL, "psu:b", 5);
	so = sub_ready(&env, &b, UPSTREAM_PATTERN, "other:*", 7);
	ck_assert_ptr_null(settle_on(&env, UPSTREAM_CHANNEL,
	    HUB_SETTLE_RECEIVERS, "psu:b"));

	hub_unsubscribe(env.hub, sp);
	un = find_op(&env, 0, UPSTREAM_PATTERN, 0, "psu:*", 5);
	ck_assert_int_ge(un, 0);
	/* While it is in flight the hub cannot know what Redis counts. */
	hub_receivers(env.hub, UPSTREAM_CHANNEL, "psu:b", 5, &own, &local);
	ck_assert_int_eq(own, 2);
	f = settle_on(&env, UPSTREAM_CHANNEL, HUB_SETTLE_RECEIVERS, "psu:b");
	ck_assert_ptr_nonnull(f);
	ck_assert(future_is_pending(f));
	g = settle_on(&env, UPSTREAM_PATTERN, HUB_SETTLE_MATCH, NULL);
	ck_assert_ptr_nonnull(g);
	ck_assert_ptr_null(settle_on(&env, UPSTREAM_CHANNEL,
	    HUB_SETTLE_RECEIVERS, "zzz"));
	ck_assert_ptr_null(settle_on(&env, UPSTREAM_CHANNEL, HUB_SETTLE_NAME,
	    "psu:b"));
	ck_assert_ptr_null(settle_on(&env, UPSTREAM_SHARD,
	    HUB_SETTLE_RECEIVERS, "psu:b"));
	ck_assert_ptr_null(settle_on(&env, UPSTREAM_PATTERN, HUB_SETTLE_MATCH,
	    "other*"));
	confirm(&env, un);
	ck_assert_int_eq(future_state(f), FUTURE_DONE);
	ck_assert_int_eq(future_state(g), FUTURE_DONE);
	hub_receivers(env.hub, UPSTREAM_CHANNEL, "psu:b", 5, &own, &local);
	ck_assert_int_eq(own, 1);
	ck_assert_int_eq(local, 2);
	future_unref(f);
	future_unref(g);

	hub_unsubscribe(env.hub, so);
	hub_unsubscribe(env.hub, sa);
	hub_unsubscribe(env.hub, sb);
	f = settle_on(&env, UPSTREAM_CHANNEL, HUB_SETTLE_NAME, "psu:b");
	ck_assert_ptr_nonnull(f);
	/* A lost connection settles it too (the operation failed). */
	lose(&env);
	ck_assert_int_eq(future_state(f), FUTURE_DONE);
	future_unref(f);
	tsub_done(&a);
	tsub_done(&b);
	env_done(&env);
}
END_TEST

/*
 * A subscribe in flight is waited for too (the mirror case); operations
 * that start after the settle was made are not (no starvation under
 * churn): the settle is done when the ones it saw are.
 */
START_TEST(test_settle_ignores_later_ops)
{
	struct env	 env;
	struct tsub	 a;
	struct hub_sub	*sa, *s2;
	struct future	*ready, *f;
	int		 op, n;

	env_init(&env);
	tsub_init(&a);
	sa = hub_subscribe(env.hub, &a.hs, UPSTREAM_PATTERN, "x*", 2, &ready);
	ck_assert_ptr_nonnull(sa);
	op = find_op(&env, 0, UPSTREAM_PATTERN, 1, "x*", 2);
	ck_assert_int_ge(op, 0);
	f = settle_on(&env, UPSTREAM_CHANNEL, HUB_SETTLE_RECEIVERS, "xy");
	ck_assert_ptr_nonnull(f);
	/* It leaves at once: the confirmation starts an UNSUBSCRIBE. */
	hub_unsubscribe(env.hub, sa);
	future_unref(ready);
	n = env.up.nops;
	confirm(&env, op);
	ck_assert_int_eq(env.up.nops, n + 1);
	expect_op(&env, n, UPSTREAM_PATTERN, 0, "x*", 2);
	ck_assert(future_is_pending(env.up.ops[n].fut));
	ck_assert_int_eq(future_state(f), FUTURE_DONE);
	future_unref(f);
	/* A new settle waits for the one in flight now. */
	f = settle_on(&env, UPSTREAM_CHANNEL, HUB_SETTLE_RECEIVERS, "xy");
	ck_assert_ptr_nonnull(f);
	s2 = hub_subscribe(env.hub, &a.hs, UPSTREAM_PATTERN, "x*", 2, &ready);
	ck_assert_ptr_nonnull(s2);
	confirm(&env, n);
	ck_assert_int_eq(future_state(f), FUTURE_DONE);
	future_unref(f);
	ck_assert_int_eq(env.up.nops, n + 2);	/* subscribing again */
	ck_assert(future_is_pending(ready));
	future_unref(ready);
	/* Freeing the hub with a settle outstanding completes it. */
	f = settle_on(&env, UPSTREAM_PATTERN, HUB_SETTLE_MATCH, "x*");
	ck_assert_ptr_nonnull(f);
	hub_unsubscribe(env.hub, s2);
	hub_free(env.hub);
	env.hub = NULL;
	ck_assert(!future_is_pending(f));
	future_unref(f);
	tsub_done(&a);
	env_done(&env);
}
END_TEST

/*
 * Freeing the hub with operations still in flight abandons them (their
 * futures are cancelled), and leaks nothing.
 */
START_TEST(test_free_with_ops_in_flight)
{
	struct env	 env;
	struct tsub	 a, b;
	struct hub_sub	*sa;
	struct future	*ra;
	struct future	*op0, *op1;

	env_init(&env);
	tsub_init(&a);
	tsub_init(&b);
	sa = hub_subscribe(env.hub, &a.hs, UPSTREAM_CHANNEL, "x", 1, &ra);
	hub_unsubscribe(env.hub, sa);
	future_unref(ra);
	hub_unsubscribe(env.hub, sub_ready(&env, &b, UPSTREAM_CHANNEL, "y",
	    1));
	ck_assert_int_eq(env.up.nops, 3);
	op0 = future_ref(env.up.ops[0].fut);
	op1 = future_ref(env.up.ops[2].fut);
	env_done(&env);
	ck_assert_int_eq(future_state(op0), FUTURE_CANCELLED);
	ck_assert_int_eq(future_state(op1), FUTURE_CANCELLED);
	future_unref(op0);
	future_unref(op1);
	tsub_done(&a);
	tsub_done(&b);
}
END_TEST

/* Appends the RESP3 push of a text message on a channel. */
static void
push_text(struct sbuf *sb, const char *channel, const char *payload)
{
	size_t	at = sb->len;

	frame_text(sb, channel, payload);
	sb->p[at] = '>';
}

/*
 * Subscribes n test subscribers to name in one go (one upstream
 * SUBSCRIBE, confirmed) and activates them; subs gets the subscriptions.
 */
static void
sub_many(struct env *env, struct tsub *ts, struct hub_sub **subs, int n,
    const char *name)
{
	struct future	*ready;
	int		 i;

	for (i = 0; i < n; i++) {
		subs[i] = hub_subscribe(env->hub, &ts[i].hs, UPSTREAM_CHANNEL,
		    name, strlen(name), &ready);
		ck_assert_ptr_nonnull(subs[i]);
		future_unref(ready);
	}
	settle(env);
	for (i = 0; i < n; i++)
		hub_activate(env->hub, subs[i]);
}

/*
 * Messages of several channels interleaved in one turn: each subscriber
 * gets ONE deliver call whose pieces are its own frames, in order; frames
 * that follow each other in the batch share a piece.
 */
START_TEST(test_segments_interleaved)
{
	static const char *const chans[] = { "c0", "c1", "c2", "c3", "c4" };
	struct env	 env;
	struct tsub	 ts[10], all;
	struct hub_sub	*subs[10], *sall[2];
	struct sbuf	 want[5], wall = { NULL, 0, 0 };
	char		 payload[16];
	int		 i, r, k;

	env_init(&env);
	memset(want, 0, sizeof(want));
	tsub_init(&all);
	for (i = 0; i < 10; i++) {
		tsub_init(&ts[i]);
		subs[i] = sub_ready(&env, &ts[i], UPSTREAM_CHANNEL,
		    chans[i % 5], 2);
	}
	sall[0] = sub_ready(&env, &all, UPSTREAM_CHANNEL, "c0", 2);
	sall[1] = sub_ready(&env, &all, UPSTREAM_CHANNEL, "c2", 2);
	for (r = 0; r < 4; r++) {
		for (k = 0; k < 5; k++) {
			snprintf(payload, sizeof(payload), "r%d-%d", r, k);
			pub(&env, chans[k], payload);
			frame_text(&want[k], chans[k], payload);
			if (k == 0 || k == 2)
				frame_text(&wall, chans[k], payload);
		}
	}
	/* Two in a row on c1: one piece more for c1's, not two. */
	pub(&env, "c1", "x");
	pub(&env, "c1", "y");
	frame_text(&want[1], "c1", "x");
	frame_text(&want[1], "c1", "y");
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(ts[i].calls, 0);
	turn(&env);
	for (i = 0; i < 10; i++) {
		ck_assert_int_eq(ts[i].calls, 1);
		ck_assert_int_eq(ts[i].pieces, i % 5 == 1 ? 5 : 4);
		expect_out(&ts[i], &want[i % 5]);
	}
	ck_assert_int_eq(all.calls, 1);
	ck_assert_int_eq(all.pieces, 8);
	expect_out(&all, &wall);
	ck_assert_uint_eq(hub_stats(env.hub)->deliveries, 4 * 5 * 2 + 8 + 4);

	for (i = 0; i < 10; i++)
		hub_unsubscribe(env.hub, subs[i]);
	hub_unsubscribe(env.hub, sall[0]);
	hub_unsubscribe(env.hub, sall[1]);
	settle(&env);
	for (i = 0; i < 10; i++)
		tsub_done(&ts[i]);
	for (k = 0; k < 5; k++)
		sbuf_free(&want[k]);
	sbuf_free(&wall);
	tsub_done(&all);
	env_done(&env);
}
END_TEST

/*
 * RESP2 and RESP3 subscribers of interleaved channels: each protocol's
 * batch holds only the frames it has receivers for, so pieces are counted
 * per batch; a switch of protocol in mid-turn hands the chain over first.
 */
START_TEST(test_segments_resp2_resp3)
{
	struct env	 env;
	struct tsub	 a2, a3, b3, ab3;
	struct hub_sub	*s[5];
	struct sbuf	 wa2 = { NULL, 0, 0 }, wa3 = { NULL, 0, 0 };
	struct sbuf	 wb3 = { NULL, 0, 0 }, wab3 = { NULL, 0, 0 };
	char		 payload[16];
	int		 i;

	env_init(&env);
	tsub_init(&a2);
	tsub_init(&a3);
	tsub_init(&b3);
	tsub_init(&ab3);
	s[0] = sub_ready(&env, &a2, UPSTREAM_CHANNEL, "a", 1);
	s[1] = sub_ready(&env, &a3, UPSTREAM_CHANNEL, "a", 1);
	s[2] = sub_ready(&env, &b3, UPSTREAM_CHANNEL, "b", 1);
	s[3] = sub_ready(&env, &ab3, UPSTREAM_CHANNEL, "a", 1);
	s[4] = sub_ready(&env, &ab3, UPSTREAM_CHANNEL, "b", 1);
	hub_subscriber_set_form(env.hub, &a3.hs, HUB_FORM_RESP3);
	hub_subscriber_set_form(env.hub, &b3.hs, HUB_FORM_RESP3);
	hub_subscriber_set_form(env.hub, &ab3.hs, HUB_FORM_RESP3);
	for (i = 0; i < 6; i++) {
		snprintf(payload, sizeof(payload), "m%d", i);
		pub(&env, i % 2 ? "b" : "a", payload);
		if (i % 2 == 0) {
			frame_text(&wa2, "a", payload);
			push_text(&wa3, "a", payload);
		} else
			push_text(&wb3, "b", payload);
		push_text(&wab3, i % 2 ? "b" : "a", payload);
	}
	turn(&env);
	ck_assert_int_eq(a2.calls, 1);
	ck_assert_int_eq(a2.pieces, 1);		/* alone in the RESP2 batch */
	ck_assert_int_eq(a3.calls, 1);
	ck_assert_int_eq(a3.pieces, 3);
	ck_assert_int_eq(b3.pieces, 3);
	ck_assert_int_eq(ab3.calls, 1);
	ck_assert_int_eq(ab3.pieces, 1);
	expect_out(&a2, &wa2);
	expect_out(&a3, &wa3);
	expect_out(&b3, &wb3);
	expect_out(&ab3, &wab3);

	/* ab3 goes back to RESP2 in mid-turn: pushes first, then arrays. */
	pub(&env, "a", "p1");
	pub(&env, "b", "p2");
	push_text(&wab3, "a", "p1");
	push_text(&wab3, "b", "p2");
	hub_subscriber_set_form(env.hub, &ab3.hs, HUB_FORM_RESP2);
	ck_assert_int_eq(ab3.calls, 2);
	pub(&env, "b", "p3");
	pub(&env, "a", "p4");
	frame_text(&wab3, "b", "p3");
	frame_text(&wab3, "a", "p4");
	turn(&env);
	ck_assert_int_eq(ab3.calls, 3);
	expect_out(&ab3, &wab3);
	frame_text(&wa2, "a", "p1");
	frame_text(&wa2, "a", "p4");
	ck_assert_int_eq(a2.calls, 2);
	ck_assert_int_eq(a2.pieces, 3);		/* p3 lies between */
	expect_out(&a2, &wa2);

	for (i = 0; i < 5; i++)
		hub_unsubscribe(env.hub, s[i]);
	settle(&env);
	sbuf_free(&wa2);
	sbuf_free(&wa3);
	sbuf_free(&wb3);
	sbuf_free(&wab3);
	tsub_done(&a2);
	tsub_done(&a3);
	tsub_done(&b3);
	tsub_done(&ab3);
	env_done(&env);
}
END_TEST

/*
 * A chain longer than HUB_IOV comes in several calls, in order; a
 * subscriber that forgets itself while being handed its chain gets no more
 * of it.
 */
START_TEST(test_segments_many_pieces)
{
	struct env	 env;
	struct tsub	 x, y;
	struct hub_sub	*sx, *sy;
	struct sbuf	 wx = { NULL, 0, 0 }, wy = { NULL, 0, 0 };
	char		 payload[16];
	int		 i, n = 2 * HUB_IOV + 10;

	env_init(&env);
	tsub_init(&x);
	tsub_init(&y);
	sx = sub_ready(&env, &x, UPSTREAM_CHANNEL, "x", 1);
	sy = sub_ready(&env, &y, UPSTREAM_CHANNEL, "y", 1);
	for (i = 0; i < 2 * n; i++) {
		snprintf(payload, sizeof(payload), "m%d", i);
		pub(&env, i % 2 ? "y" : "x", payload);
		frame_text(i % 2 ? &wy : &wx, i % 2 ? "y" : "x", payload);
	}
	turn(&env);
	ck_assert_int_eq(x.calls, 3);
	ck_assert_int_eq(x.pieces, n);
	ck_assert_int_eq(y.calls, 3);
	expect_out(&x, &wx);
	expect_out(&y, &wy);

	/* x forgets itself in its first call: the rest is dropped. */
	x.hub = env.hub;
	x.victim = &x;
	for (i = 0; i < 2 * n; i++)
		pub(&env, i % 2 ? "y" : "x", "again");
	turn(&env);
	ck_assert_int_eq(x.calls, 4);
	ck_assert_int_eq(x.pieces, n + HUB_IOV);
	ck_assert_int_eq(y.calls, 6);
	ck_assert_int_eq(y.pieces, 2 * n);

	hub_unsubscribe(env.hub, sx);
	hub_unsubscribe(env.hub, sy);
	settle(&env);
	sbuf_free(&wx);
	sbuf_free(&wy);
	tsub_done(&x);
	tsub_done(&y);
	env_done(&env);
}
END_TEST

/* Publishes rounds of messages on nch channels, round-robin. */
static void
pub_rounds(struct env *env, int nch, int rounds, struct sbuf *want)
{
	char	chan[16], payload[32];
	int	r, k;

	for (r = 0; r < rounds; r++) {
		for (k = 0; k < nch; k++) {
			snprintf(chan, sizeof(chan), "ch%d", k);
			snprintf(payload, sizeof(payload), "round %d", r);
			pub(env, chan, payload);
			frame_text(&want[k], chan, payload);
		}
	}
}

/*
 * Many channels interleaved (as the bench's 1000 x 100 case): the segment
 * pool grows well past its first size within one turn, shrinks back after
 * many small turns, and grows again, every subscriber getting its frames
 * in order in one call per turn throughout.
 */
START_TEST(test_segments_pool_growth)
{
	enum { NCH = 40, PER = 25, N = NCH * PER, ROUNDS = 30 };
	struct env	  env;
	struct tsub	 *ts;
	struct hub_sub	**subs;
	struct sbuf	  want[NCH];
	int		  i, k, t;

	env_init(&env);
	memset(want, 0, sizeof(want));
	ts = calloc(N, sizeof(*ts));
	subs = calloc(N, sizeof(*subs));
	ck_assert_ptr_nonnull(ts);
	ck_assert_ptr_nonnull(subs);
	for (i = 0; i < N; i++)
		tsub_init(&ts[i]);
	for (k = 0; k < NCH; k++) {
		char	chan[16];

		snprintf(chan, sizeof(chan), "ch%d", k);
		/* Subscriber i is on channel i % NCH. */
		for (i = 0; i < PER; i++) {
			struct future	*ready;

			subs[k + i * NCH] = hub_subscribe(env.hub,
			    &ts[k + i * NCH].hs, UPSTREAM_CHANNEL, chan,
			    strlen(chan), &ready);
			ck_assert_ptr_nonnull(subs[k + i * NCH]);
			future_unref(ready);
		}
	}
	settle(&env);
	for (i = 0; i < N; i++)
		hub_activate(env.hub, subs[i]);

	for (t = 0; t < 2; t++) {
		/* 30 x 40 messages, 25 segments each: 30000 in one turn. */
		pub_rounds(&env, NCH, ROUNDS, want);
		turn(&env);
		for (i = 0; i < N; i++) {
			ck_assert_int_eq(ts[i].calls, 1);
			ck_assert_int_eq(ts[i].pieces, ROUNDS);
			expect_out(&ts[i], &want[i % NCH]);
			sbuf_free(&ts[i].out);
			ts[i].calls = ts[i].pieces = 0;
		}
		for (k = 0; k < NCH; k++)
			sbuf_free(&want[k]);
		if (t == 1)
			break;
		/* Small turns: the pool is trimmed on the way. */
		for (i = 0; i < 3000; i++) {
			pub(&env, "ch1", "small");
			turn(&env);
		}
		ck_assert_int_eq(ts[1].calls, 3000);
		ck_assert_int_eq(ts[0].calls, 0);
		for (i = 0; i < N; i++) {
			sbuf_free(&ts[i].out);
			ts[i].calls = ts[i].pieces = 0;
		}
	}

	for (i = 0; i < N; i++)
		hub_unsubscribe(env.hub, subs[i]);
	ck_assert_int_eq(settle(&env), NCH);
	for (i = 0; i < N; i++)
		tsub_done(&ts[i]);
	free(ts);
	free(subs);
	env_done(&env);
}
END_TEST

/*
 * A turn whose segments would pass the pool's bound (alternating channels
 * of 500 subscribers each: a segment per message per subscriber) is
 * flushed early, and every frame still arrives once, in order.
 */
START_TEST(test_segments_pool_limit)
{
	enum { N = 1000, MSGS = 600 };
	struct env	  env;
	struct tsub	 *ts;
	struct hub_sub	**subs;
	struct sbuf	  want[2];
	char		  payload[16];
	int		  i;

	env_init(&env);
	memset(want, 0, sizeof(want));
	ts = calloc(N, sizeof(*ts));
	subs = calloc(N, sizeof(*subs));
	ck_assert_ptr_nonnull(ts);
	ck_assert_ptr_nonnull(subs);
	for (i = 0; i < N; i++)
		tsub_init(&ts[i]);
	sub_many(&env, ts, subs, N / 2, "a");
	sub_many(&env, ts + N / 2, subs + N / 2, N / 2, "b");
	for (i = 0; i < MSGS; i++) {
		snprintf(payload, sizeof(payload), "%d", i);
		pub(&env, i % 2 ? "b" : "a", payload);
		frame_text(&want[i % 2], i % 2 ? "b" : "a", payload);
	}
	/* 300000 segments: more than the bound (256 K), so one flush. */
	ck_assert_uint_eq(hub_stats(env.hub)->batches, 1);
	turn(&env);
	ck_assert_uint_eq(hub_stats(env.hub)->batches, 2);
	for (i = 0; i < N; i++) {
		ck_assert_int_eq(ts[i].pieces, MSGS / 2);
		expect_out(&ts[i], &want[i < N / 2 ? 0 : 1]);
	}

	for (i = 0; i < N; i++)
		hub_unsubscribe(env.hub, subs[i]);
	ck_assert_int_eq(settle(&env), 2);
	for (i = 0; i < N; i++)
		tsub_done(&ts[i]);
	sbuf_free(&want[0]);
	sbuf_free(&want[1]);
	free(ts);
	free(subs);
	env_done(&env);
}
END_TEST

/*
 * Subscribers leaving in mid-turn while their chains are pending: one that
 * unsubscribes still gets what it was given before; one forgotten and freed
 * is never touched; one handed its chain early (a reply follows) gets the
 * rest after the reply; the others get everything, in order.
 */
START_TEST(test_segments_leave_mid_turn)
{
	struct env	 env;
	struct tsub	 a, c, *gone;
	struct hub_sub	*sa, *sc[2], *sg;
	struct sbuf	 wa = { NULL, 0, 0 }, wc = { NULL, 0, 0 };
	unsigned char	*p;
	size_t		 i;

	env_init(&env);
	tsub_init(&a);
	tsub_init(&c);
	gone = malloc(sizeof(*gone));
	ck_assert_ptr_nonnull(gone);
	tsub_init(gone);
	sa = sub_ready(&env, &a, UPSTREAM_CHANNEL, "x", 1);
	sg = sub_ready(&env, gone, UPSTREAM_CHANNEL, "x", 1);
	sc[0] = sub_ready(&env, &c, UPSTREAM_CHANNEL, "x", 1);
	sc[1] = sub_ready(&env, &c, UPSTREAM_CHANNEL, "y", 1);

	pub(&env, "x", "1");
	pub(&env, "y", "2");
	pub(&env, "x", "3");
	frame_text(&wa, "x", "1");
	frame_text(&wa, "x", "3");
	hub_unsubscribe(env.hub, sa);
	hub_subscriber_forget(env.hub, &gone->hs);
	hub_unsubscribe(env.hub, sg);
	tsub_done(gone);
	memset(gone, 0xa5, sizeof(*gone));	/* "freed": any use shows */
	frame_text(&wc, "x", "1");
	frame_text(&wc, "y", "2");
	frame_text(&wc, "x", "3");
	hub_subscriber_flush(env.hub, &c.hs);
	ck_assert_int_eq(c.calls, 1);
	sbuf_add(&c.out, "+OK\r\n", 5);
	sbuf_add(&wc, "+OK\r\n", 5);
	pub(&env, "y", "4");
	pub(&env, "x", "5");
	frame_text(&wc, "y", "4");
	frame_text(&wc, "x", "5");
	turn(&env);
	for (p = (unsigned char *)gone, i = 0; i < sizeof(*gone); i++)
		ck_assert_uint_eq(p[i], 0xa5);
	free(gone);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(a.pieces, 2);
	expect_out(&a, &wa);
	ck_assert_int_eq(c.calls, 2);
	expect_out(&c, &wc);

	hub_unsubscribe(env.hub, sc[0]);
	hub_unsubscribe(env.hub, sc[1]);
	settle(&env);
	sbuf_free(&wa);
	sbuf_free(&wc);
	tsub_done(&a);
	tsub_done(&c);
	env_done(&env);
}
END_TEST

/* Microseconds of a monotonic clock. */
static long long
now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * Runs exactly one loop iteration (turn() runs them until none has
 * anything to do, as event_base_loop's EVLOOP_NONBLOCK does).
 */
static void
turn_once(struct env *env)
{
	ck_assert_int_ne(event_base_loop(env->base, EVLOOP_ONCE |
	    EVLOOP_NONBLOCK), -1);
}

/*
 * While Redis has a full read's worth of messages waiting (16 KiB), the
 * batch stays open over the next turns, so they reach each subscriber in
 * the same write; it is flushed once less waits, or once it is 10 ms old
 * whatever waits, and a subscriber's own flush still hands over its part
 * at once.
 */
START_TEST(test_batch_open_while_pending)
{
	struct env	 env;
	struct tsub	 a, b;
	struct hub_sub	*sa, *sb;
	struct sbuf	 want = { NULL, 0, 0 };
	long long	 t0;
	int		 i;

	env_init(&env);
	tsub_init(&a);
	tsub_init(&b);
	sa = sub_ready(&env, &a, UPSTREAM_CHANNEL, "x", 1);
	sb = sub_ready(&env, &b, UPSTREAM_CHANNEL, "y", 1);
	env.up.pending = 1 << 20;
	pub(&env, "x", "1");
	pub(&env, "y", "2");
	turn_once(&env);
	pub(&env, "x", "3");
	turn_once(&env);
	ck_assert_int_eq(a.calls, 0);
	ck_assert_int_eq(b.calls, 0);
	hub_subscriber_flush(env.hub, &b.hs);		/* a reply to b */
	ck_assert_int_eq(b.calls, 1);
	env.up.pending = 16 * 1024 - 1;
	turn_once(&env);
	frame_text(&want, "x", "1");
	frame_text(&want, "x", "3");
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(a.pieces, 2);
	expect_out(&a, &want);
	ck_assert_int_eq(b.calls, 1);
	ck_assert_uint_eq(hub_stats(env.hub)->batches, 1);

	/* Always more waiting: the batch's age (10 ms) ends it. */
	env.up.pending = 1 << 20;
	t0 = now_us();
	pub(&env, "x", "4");
	for (i = 0; i < 100000 && a.calls == 1 && now_us() - t0 < 5000000;
	    i++)
		turn_once(&env);
	ck_assert_int_eq(a.calls, 2);
	ck_assert_int_gt(i, 1);
	ck_assert_int_ge(now_us() - t0, 10000);
	frame_text(&want, "x", "4");
	expect_out(&a, &want);
	env.up.pending = 0;

	hub_unsubscribe(env.hub, sa);
	hub_unsubscribe(env.hub, sb);
	settle(&env);
	sbuf_free(&want);
	tsub_done(&a);
	tsub_done(&b);
	env_done(&env);
}
END_TEST

/*
 * One subscription lost while the upstream stays up (on_lost: its shard
 * went away, its slot moved), as Redis would report it for a channel.
 */
static void
drop(struct env *env, enum upstream_kind kind, const char *name)
{
	hub_upstream_lost(env->hub, kind, name, strlen(name));
}

/*
 * An active name lost alone: it is subscribed again at once, its
 * subscriber stays active and, once Redis confirms, receives its messages
 * again; names of other kinds are not touched.
 */
START_TEST(test_name_lost_while_active)
{
	struct env	 env;
	struct tsub	 a, p;
	struct hub_sub	*sa, *sp;
	struct sbuf	 want = { NULL, 0, 0 };

	env_init(&env);
	tsub_init(&a);
	tsub_init(&p);
	sa = sub_ready(&env, &a, UPSTREAM_CHANNEL, "news", 4);
	sp = sub_ready(&env, &p, UPSTREAM_PATTERN, "news", 4);
	ck_assert_int_eq(env.up.nops, 2);
	pub(&env, "news", "one");
	frame_text(&want, "news", "one");
	turn(&env);
	expect_out(&a, &want);
	expect_held(&env, 1, 1, 0);

	drop(&env, UPSTREAM_CHANNEL, "news");
	ck_assert_int_eq(env.up.nops, 3);
	expect_op(&env, 2, UPSTREAM_CHANNEL, 1, "news", 4);
	ck_assert(hub_sub_active(sa));
	ck_assert(hub_sub_active(sp));
	ck_assert(!hub_synced(env.hub));
	ck_assert(!hub_held(env.hub, UPSTREAM_CHANNEL, "news", 4));
	ck_assert(hub_held(env.hub, UPSTREAM_PATTERN, "news", 4));
	expect_held(&env, 0, 1, 0);
	ck_assert_uint_eq(hub_stats(env.hub)->upstream_subscribes, 3);

	/* Redis confirms: active again, and messages flow. */
	confirm(&env, 2);
	ck_assert(hub_synced(env.hub));
	expect_held(&env, 1, 1, 0);
	pub(&env, "news", "two");
	frame_text(&want, "news", "two");
	turn(&env);
	expect_out(&a, &want);
	ck_assert_int_eq(env.up.nops, 3);

	hub_unsubscribe(env.hub, sa);
	hub_unsubscribe(env.hub, sp);
	ck_assert_int_eq(settle(&env), 2);
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_CHANNEL), 0);
	sbuf_free(&want);
	tsub_done(&a);
	tsub_done(&p);
	env_done(&env);
}
END_TEST

/*
 * Redis drops a name and then refuses its SUBSCRIBE while the connection
 * stays up: its subscribers keep it, and it is sent again every
 * HUB_RETRY_MS until Redis takes it.
 */
START_TEST(test_refused_resubscribe_retried)
{
	struct env	 env;
	struct tsub	 a;
	struct hub_sub	*sa;
	struct sbuf	 want = { NULL, 0, 0 };
	struct timeval	 tv = { (HUB_RETRY_MS + 300) / 1000,
			    ((HUB_RETRY_MS + 300) % 1000) * 1000 };

	env_init(&env);
	tsub_init(&a);
	sa = sub_ready(&env, &a, UPSTREAM_CHANNEL, "news", 4);
	drop(&env, UPSTREAM_CHANNEL, "news");
	ck_assert_int_eq(env.up.nops, 2);
	ck_assert_int_eq(future_set_error(env.up.ops[1].fut,
	    "MOVED 1 127.0.0.1:7001"), 0);
	ck_assert(hub_sub_active(sa));
	ck_assert(!hub_synced(env.hub));
	turn(&env);
	ck_assert_int_eq(env.up.nops, 2);	/* not at once */

	event_base_loopexit(env.base, &tv);
	ck_assert_int_ne(event_base_dispatch(env.base), -1);
	ck_assert_int_eq(env.up.nops, 3);
	expect_op(&env, 2, UPSTREAM_CHANNEL, 1, "news", 4);
	/* Refused again: again later. */
	ck_assert_int_eq(future_set_error(env.up.ops[2].fut, "NOPERM no"), 0);
	event_base_loopexit(env.base, &tv);
	ck_assert_int_ne(event_base_dispatch(env.base), -1);
	ck_assert_int_eq(env.up.nops, 4);
	confirm(&env, 3);
	ck_assert(hub_synced(env.hub));
	pub(&env, "news", "back");
	frame_text(&want, "news", "back");
	turn(&env);
	expect_out(&a, &want);

	hub_unsubscribe(env.hub, sa);
	ck_assert_int_eq(settle(&env), 1);
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_CHANNEL), 0);
	sbuf_free(&want);
	tsub_done(&a);
	env_done(&env);
}
END_TEST

/*
 * A name lost while its SUBSCRIBE is in flight: whatever that operation
 * says (confirmed or failed), Redis holds nothing, so a new SUBSCRIBE goes
 * out once it completes, and the waiters are released by its confirmation
 * only.
 */
START_TEST(test_name_lost_while_subscribing)
{
	struct env	 env;
	struct tsub	 a, b;
	struct hub_sub	*sa, *sb;
	struct future	*ra, *rb;
	struct sbuf	 want = { NULL, 0, 0 };

	env_init(&env);
	tsub_init(&a);
	tsub_init(&b);
	sa = hub_subscribe(env.hub, &a.hs, UPSTREAM_CHANNEL, "a", 1, &ra);
	sb = hub_subscribe(env.hub, &b.hs, UPSTREAM_CHANNEL, "b", 1, &rb);
	ck_assert_int_eq(env.up.nops, 2);
	drop(&env, UPSTREAM_CHANNEL, "a");
	drop(&env, UPSTREAM_CHANNEL, "b");
	ck_assert_int_eq(env.up.nops, 2);	/* one operation at a time */

	/* a's SUBSCRIBE is confirmed, but from before the loss. */
	confirm(&env, 0);
	ck_assert(future_is_pending(ra));
	ck_assert_int_eq(env.up.nops, 3);
	expect_op(&env, 2, UPSTREAM_CHANNEL, 1, "a", 1);
	ck_assert(!hub_held(env.hub, UPSTREAM_CHANNEL, "a", 1));
	/* b's fails: subscribed again, its waiter not failed. */
	fail_op(&env, 1);
	ck_assert(future_is_pending(rb));
	ck_assert_int_eq(env.up.nops, 4);
	expect_op(&env, 3, UPSTREAM_CHANNEL, 1, "b", 1);
	ck_assert(!hub_synced(env.hub));

	confirm(&env, 2);
	confirm(&env, 3);
	ck_assert_int_eq(future_state(ra), FUTURE_DONE);
	ck_assert_int_eq(future_state(rb), FUTURE_DONE);
	ck_assert(hub_synced(env.hub));
	expect_held(&env, 2, 0, 0);
	hub_activate(env.hub, sa);
	pub(&env, "a", "hello");
	frame_text(&want, "a", "hello");
	turn(&env);
	expect_out(&a, &want);
	ck_assert_int_eq(env.up.nops, 4);

	future_unref(ra);
	future_unref(rb);
	hub_unsubscribe(env.hub, sa);
	hub_unsubscribe(env.hub, sb);
	ck_assert_int_eq(settle(&env), 2);
	sbuf_free(&want);
	tsub_done(&a);
	tsub_done(&b);
	env_done(&env);
}
END_TEST

/*
 * A name lost while its UNSUBSCRIBE is in flight: nobody wants it, so it is
 * gone once that completes and nothing is sent; a name someone wants again
 * meanwhile is subscribed again once it completes, confirmed or failed.
 */
START_TEST(test_name_lost_while_unsubscribing)
{
	struct env	 env;
	struct tsub	 a, b, c;
	struct hub_sub	*sb, *sc;
	struct future	*rb, *rc;

	env_init(&env);
	tsub_init(&a);
	tsub_init(&b);
	tsub_init(&c);
	hub_unsubscribe(env.hub, sub_ready(&env, &a, UPSTREAM_CHANNEL, "a", 1));
	hub_unsubscribe(env.hub, sub_ready(&env, &b, UPSTREAM_CHANNEL, "b", 1));
	hub_unsubscribe(env.hub, sub_ready(&env, &c, UPSTREAM_CHANNEL, "c", 1));
	ck_assert_int_eq(env.up.nops, 6);
	/* b and c are wanted again while their UNSUBSCRIBE is in flight. */
	sb = hub_subscribe(env.hub, &b.hs, UPSTREAM_CHANNEL, "b", 1, &rb);
	sc = hub_subscribe(env.hub, &c.hs, UPSTREAM_CHANNEL, "c", 1, &rc);
	drop(&env, UPSTREAM_CHANNEL, "a");
	drop(&env, UPSTREAM_CHANNEL, "b");
	drop(&env, UPSTREAM_CHANNEL, "c");
	ck_assert_int_eq(env.up.nops, 6);

	confirm(&env, 1);		/* a: gone, nothing sent */
	ck_assert_int_eq(env.up.nops, 6);
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_CHANNEL), 2);
	confirm(&env, 3);		/* b: subscribed again */
	ck_assert_int_eq(env.up.nops, 7);
	expect_op(&env, 6, UPSTREAM_CHANNEL, 1, "b", 1);
	fail_op(&env, 5);		/* c: subscribed again all the same */
	ck_assert(future_is_pending(rc));
	ck_assert_int_eq(env.up.nops, 8);
	expect_op(&env, 7, UPSTREAM_CHANNEL, 1, "c", 1);

	ck_assert_int_eq(settle(&env), 2);
	ck_assert_int_eq(future_state(rb), FUTURE_DONE);
	ck_assert_int_eq(future_state(rc), FUTURE_DONE);
	ck_assert(hub_synced(env.hub));
	expect_held(&env, 2, 0, 0);
	future_unref(rb);
	future_unref(rc);
	hub_unsubscribe(env.hub, sb);
	hub_unsubscribe(env.hub, sc);
	ck_assert_int_eq(settle(&env), 2);
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_CHANNEL), 0);
	tsub_done(&a);
	tsub_done(&b);
	tsub_done(&c);
	env_done(&env);
}
END_TEST

/*
 * A name nobody wants lost (never known, or gone since, or known as
 * another kind): nothing is sent and nothing is remembered.
 */
START_TEST(test_name_lost_unwanted)
{
	struct env	 env;
	struct tsub	 a;
	struct hub_sub	*sa;

	env_init(&env);
	tsub_init(&a);
	drop(&env, UPSTREAM_CHANNEL, "never");
	ck_assert_int_eq(env.up.nops, 0);
	hub_unsubscribe(env.hub, sub_ready(&env, &a, UPSTREAM_CHANNEL, "gone",
	    4));
	ck_assert_int_eq(settle(&env), 1);
	drop(&env, UPSTREAM_CHANNEL, "gone");
	sa = sub_ready(&env, &a, UPSTREAM_SHARD, "other", 5);
	drop(&env, UPSTREAM_CHANNEL, "other");
	drop(&env, UPSTREAM_PATTERN, "other");
	ck_assert_int_eq(env.up.nops, 3);
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_CHANNEL), 0);
	ck_assert_uint_eq(hub_count(env.hub, UPSTREAM_PATTERN), 0);
	ck_assert(hub_synced(env.hub));
	expect_held(&env, 0, 0, 1);

	hub_unsubscribe(env.hub, sa);
	ck_assert_int_eq(settle(&env), 1);
	tsub_done(&a);
	env_done(&env);
}
END_TEST

/* Returns the hub suite. */
static Suite *
hub_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("hub");
	tc = tcase_create("state");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_first_subscribe_sends_subscribe);
	tcase_add_test(tc, test_second_subscriber_while_subscribing);
	tcase_add_test(tc, test_subscribe_active_ready_at_once);
	tcase_add_test(tc, test_last_unsubscribe_sends_unsubscribe);
	tcase_add_test(tc, test_subscribe_during_unsubscribe);
	tcase_add_test(tc, test_flapping_during_unsubscribe);
	tcase_add_test(tc, test_all_leave_while_subscribing);
	tcase_add_test(tc, test_unsubscribe_pending);
	tcase_add_test(tc, test_reconnect_resubscribes);
	tcase_add_test(tc, test_lost_while_subscribing);
	tcase_add_test(tc, test_lost_while_unsubscribing);
	tcase_add_test(tc, test_subscribe_while_disconnected);
	tcase_add_test(tc, test_failed_subscribe_while_connected);
	tcase_add_test(tc, test_synced_each_state);
	tcase_add_test(tc, test_kinds_are_separate);
	tcase_add_test(tc, test_free_with_ops_in_flight);
	tcase_add_test(tc, test_settle_waits_for_unsubscribe);
	tcase_add_test(tc, test_settle_ignores_later_ops);
	suite_add_tcase(s, tc);

	tc = tcase_create("lost");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_name_lost_while_active);
	tcase_add_test(tc, test_refused_resubscribe_retried);
	tcase_add_test(tc, test_name_lost_while_subscribing);
	tcase_add_test(tc, test_name_lost_while_unsubscribing);
	tcase_add_test(tc, test_name_lost_unwanted);
	suite_add_tcase(s, tc);

	tc = tcase_create("delivery");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_pending_receives_nothing);
	tcase_add_test(tc, test_frame_bytes);
	tcase_add_test(tc, test_resp3_pushes);
	tcase_add_test(tc, test_one_run_per_turn);
	tcase_add_test(tc, test_interleaved_channels);
	tcase_add_test(tc, test_subscriber_flush);
	tcase_add_test(tc, test_subscriber_forget);
	tcase_add_test(tc, test_forget_then_free);
	tcase_add_test(tc, test_batch_ref_keeps_bytes);
	tcase_add_test(tc, test_binary_payload);
	tcase_add_test(tc, test_large_payload);
	tcase_add_test(tc, test_batch_overflow_in_one_turn);
	tcase_add_test(tc, test_thousand_subscribers);
	tcase_add_test(tc, test_swap_remove);
	tcase_add_test(tc, test_stats);
	suite_add_tcase(s, tc);

	tc = tcase_create("segments");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_segments_interleaved);
	tcase_add_test(tc, test_segments_resp2_resp3);
	tcase_add_test(tc, test_segments_many_pieces);
	tcase_add_test(tc, test_segments_pool_growth);
	tcase_add_test(tc, test_segments_pool_limit);
	tcase_add_test(tc, test_segments_leave_mid_turn);
	tcase_add_test(tc, test_batch_open_while_pending);
	suite_add_tcase(s, tc);
	return s;
}

/* Runs the hub suite; exits non-zero if a test failed. */
int
main(void)
{
	return check_run(hub_suite());
}
