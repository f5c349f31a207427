/*
 * test_future.c: Check suite for daemon/future.c.
 *
 * Each test builds a fresh event_base (future_wait() needs one; the others
 * prove that futures do not), completes futures directly or from timers, and
 * checks the order callbacks ran in, the stack depth of long chains, and
 * that every owned result is freed exactly once.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <check.h>

#include "check_run.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "future.h"

#define CHAIN_LEN	100000
#define STACK_SPREAD	(64 * 1024)

/* Callback ids in the order they ran. */
struct trace {
	int	 ids[16];
	int	 n;
};

/* One callback's id and where it records. */
struct tracer {
	struct trace	*tr;
	int		 id;
};

/* A result that counts how often it is freed. */
struct counted {
	int	*frees;
	int	 value;
};

/* The lowest and highest stack addresses seen by callbacks. */
struct probe {
	uintptr_t	 lo, hi;
	int		 hits;
};

/* What a callback that removes another one needs. */
struct remover {
	struct trace		*tr;
	struct future_cb	*victim;
	int			 id;
};

/* A future and what to complete it with, for a timer. */
struct later {
	struct future	*fut;
	int		 value;
};

/* Records the id of the callback that ran. */
static void
trace_cb(struct future *fut, void *arg)
{
	struct tracer	*t = arg;

	(void)fut;
	ck_assert_int_lt(t->tr->n, 16);
	t->tr->ids[t->tr->n++] = t->id;
}

/* Records an id, then removes the victim callback of the same future. */
static void
remove_cb(struct future *fut, void *arg)
{
	struct remover	*r = arg;

	r->tr->ids[r->tr->n++] = r->id;
	future_remove_callback(fut, r->victim);
}

/* Records the cancel hook as id 0. */
static void
trace_hook(struct future *fut, void *arg)
{
	struct trace	*tr = arg;

	ck_assert_int_eq(future_state(fut), FUTURE_CANCELLED);
	tr->ids[tr->n++] = 0;
}

/* Frees a counted result and counts it. */
static void
counted_free(void *p)
{
	struct counted	*c = p;

	(*c->frees)++;
	free(c);
}

/* Returns a counted result. */
static struct counted *
counted_new(int *frees, int value)
{
	struct counted	*c;

	c = malloc(sizeof(*c));
	ck_assert_ptr_nonnull(c);
	c->frees = frees;
	c->value = value;
	return c;
}

/* Notes the address of a local, to measure how deep the stack is. */
static void
probe_cb(struct future *fut, void *arg)
{
	struct probe		*p = arg;
	volatile char		 here = 0;
	uintptr_t		 a = (uintptr_t)&here;

	(void)fut;
	if (p->hits == 0 || a < p->lo)
		p->lo = a;
	if (p->hits == 0 || a > p->hi)
		p->hi = a;
	p->hits++;
}

/* Completes a future from a timer. */
static void
later_cb(evutil_socket_t fd, short what, void *arg)
{
	struct later	*l = arg;

	(void)fd;
	(void)what;
	ck_assert_int_eq(future_set_result(l->fut, &l->value, NULL), 0);
}

/* Completes the future given as arg with a borrowed string. */
static void
complete_other_cb(struct future *fut, void *arg)
{
	(void)fut;
	ck_assert_int_eq(future_set_result(arg, "b", NULL), 0);
}

/* Returns a new event_base for one test. */
static struct event_base *
base_new(void)
{
	struct event_base	*base;

	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	return base;
}

/* Returns monotonic milliseconds. */
static long long
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

START_TEST(test_callback_order)
{
	struct event_base	*base = base_new();
	struct trace		 tr = { .n = 0 };
	struct tracer		 t[3] = { {&tr, 1}, {&tr, 2}, {&tr, 3} };
	struct future		*fut;
	int			 i;

	fut = future_new();
	ck_assert_ptr_nonnull(fut);
	ck_assert_int_eq(future_state(fut), FUTURE_PENDING);
	ck_assert(future_is_pending(fut));
	for (i = 0; i < 3; i++)
		ck_assert_ptr_nonnull(future_add_callback(fut, trace_cb,
		    &t[i]));
	ck_assert_int_eq(tr.n, 0);
	ck_assert_int_eq(future_set_result(fut, "x", NULL), 0);
	ck_assert_int_eq(tr.n, 3);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(tr.ids[i], i + 1);
	ck_assert_int_eq(future_state(fut), FUTURE_DONE);
	ck_assert_str_eq(future_result(fut), "x");
	ck_assert_ptr_null(future_error(fut));
	future_unref(fut);
	event_base_free(base);
}
END_TEST

START_TEST(test_add_after_done)
{
	struct event_base	*base = base_new();
	struct trace		 tr = { .n = 0 };
	struct tracer		 t = { &tr, 7 };
	struct future		*fut;

	fut = future_new();
	ck_assert_int_eq(future_set_result(fut, NULL, NULL), 0);
	ck_assert_ptr_null(future_add_callback(fut, trace_cb, &t));
	ck_assert_int_eq(tr.n, 1);
	ck_assert_int_eq(tr.ids[0], 7);
	future_unref(fut);
	event_base_free(base);
}
END_TEST

START_TEST(test_remove_callback)
{
	struct event_base	*base = base_new();
	struct trace		 tr = { .n = 0 };
	struct tracer		 t[3] = { {&tr, 1}, {&tr, 2}, {&tr, 3} };
	struct future		*fut;
	struct future_cb	*cb;

	fut = future_new();
	ck_assert_ptr_nonnull(future_add_callback(fut, trace_cb, &t[0]));
	cb = future_add_callback(fut, trace_cb, &t[1]);
	ck_assert_ptr_nonnull(cb);
	ck_assert_ptr_nonnull(future_add_callback(fut, trace_cb, &t[2]));
	future_remove_callback(fut, cb);
	future_remove_callback(fut, NULL);
	future_cancel(fut);
	ck_assert_int_eq(tr.n, 2);
	ck_assert_int_eq(tr.ids[0], 1);
	ck_assert_int_eq(tr.ids[1], 3);
	future_unref(fut);
	event_base_free(base);
}
END_TEST

START_TEST(test_remove_callback_during_dispatch)
{
	struct event_base	*base = base_new();
	struct trace		 tr = { .n = 0 };
	struct tracer		 t[2] = { { &tr, 2 }, { &tr, 3 } };
	struct remover		 r = { &tr, NULL, 1 };
	struct future		*fut;

	fut = future_new();
	ck_assert_ptr_nonnull(future_add_callback(fut, remove_cb, &r));
	ck_assert_ptr_nonnull(future_add_callback(fut, trace_cb, &t[0]));
	r.victim = future_add_callback(fut, trace_cb, &t[1]);
	ck_assert_ptr_nonnull(r.victim);
	ck_assert_int_eq(future_set_result(fut, NULL, NULL), 0);
	ck_assert_int_eq(tr.n, 2);
	ck_assert_int_eq(tr.ids[0], 1);
	ck_assert_int_eq(tr.ids[1], 2);
	future_unref(fut);
	event_base_free(base);
}
END_TEST

START_TEST(test_remove_self_during_dispatch)
{
	struct event_base	*base = base_new();
	struct trace		 tr = { .n = 0 };
	struct remover		 r = { &tr, NULL, 1 };
	struct future		*fut;

	fut = future_new();
	r.victim = future_add_callback(fut, remove_cb, &r);
	ck_assert_ptr_nonnull(r.victim);
	ck_assert_int_eq(future_set_result(fut, NULL, NULL), 0);
	ck_assert_int_eq(tr.n, 1);
	future_unref(fut);
	event_base_free(base);
}
END_TEST

START_TEST(test_set_twice)
{
	struct event_base	*base = base_new();
	struct future		*fut;
	int			 frees = 0;

	fut = future_new();
	ck_assert_int_eq(future_set_result(fut, counted_new(&frees, 1),
	    counted_free), 0);
	ck_assert_int_eq(future_set_result(fut, counted_new(&frees, 2),
	    counted_free), -1);
	ck_assert_int_eq(frees, 1);	/* the refused one, at once */
	ck_assert_int_eq(future_set_error(fut, "no"), -1);
	ck_assert_int_eq(future_cancel(fut), -1);
	ck_assert_int_eq(future_state(fut), FUTURE_DONE);
	ck_assert_int_eq(((struct counted *)future_result(fut))->value, 1);
	future_unref(fut);
	ck_assert_int_eq(frees, 2);
	event_base_free(base);
}
END_TEST

START_TEST(test_result_freed_once)
{
	struct event_base	*base = base_new();
	struct future		*fut;
	int			 frees = 0;

	fut = future_new();
	future_ref(fut);
	future_ref(fut);
	ck_assert_int_eq(future_set_result(fut, counted_new(&frees, 5),
	    counted_free), 0);
	future_unref(fut);
	future_unref(fut);
	ck_assert_int_eq(frees, 0);
	future_unref(fut);
	ck_assert_int_eq(frees, 1);
	future_unref(NULL);
	event_base_free(base);
}
END_TEST

START_TEST(test_unref_pending)
{
	struct event_base	*base = base_new();
	struct trace		 tr = { .n = 0 };
	struct tracer		 t = { &tr, 1 };
	struct future		*fut;

	fut = future_new();
	ck_assert_ptr_nonnull(future_add_callback(fut, trace_cb, &t));
	future_set_cancel_hook(fut, trace_hook, &tr);
	future_unref(fut);	/* callbacks are dropped, never run */
	ck_assert_int_eq(tr.n, 0);
	event_base_free(base);
}
END_TEST

START_TEST(test_error_messages)
{
	struct event_base	*base = base_new();
	struct future		*fut;
	char			 big[2000];

	fut = future_new();
	ck_assert_ptr_null(future_error(fut));
	ck_assert_int_eq(future_set_error(fut, "upstream %s: %d", "gone", 42),
	    0);
	ck_assert_int_eq(future_state(fut), FUTURE_FAILED);
	ck_assert_str_eq(future_error(fut), "upstream gone: 42");
	ck_assert_ptr_null(future_result(fut));
	ck_assert_int_eq(future_set_error(fut, "again"), -1);
	ck_assert_str_eq(future_error(fut), "upstream gone: 42");
	future_unref(fut);

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	fut = future_new();
	ck_assert_int_eq(future_set_error(fut, "%s", big), 0);
	ck_assert_str_eq(future_error(fut), big);
	future_unref(fut);

	fut = future_new();
	ck_assert_int_eq(future_cancel(fut), 0);
	ck_assert_int_eq(future_state(fut), FUTURE_CANCELLED);
	ck_assert_str_eq(future_error(fut), "cancelled");
	ck_assert_ptr_null(future_result(fut));
	future_unref(fut);
	event_base_free(base);
}
END_TEST

START_TEST(test_cancel_hook)
{
	struct event_base	*base = base_new();
	struct trace		 tr = { .n = 0 };
	struct tracer		 t[2] = { { &tr, 1 }, { &tr, 2 } };
	struct future		*fut;

	fut = future_new();
	future_set_cancel_hook(fut, trace_hook, &tr);
	ck_assert_ptr_nonnull(future_add_callback(fut, trace_cb, &t[0]));
	ck_assert_ptr_nonnull(future_add_callback(fut, trace_cb, &t[1]));
	ck_assert_int_eq(future_cancel(fut), 0);
	ck_assert_int_eq(future_cancel(fut), -1);
	ck_assert_int_eq(tr.n, 3);
	ck_assert_int_eq(tr.ids[0], 0);
	ck_assert_int_eq(tr.ids[1], 1);
	ck_assert_int_eq(tr.ids[2], 2);
	future_unref(fut);

	/* Not run when the future completes otherwise. */
	tr.n = 0;
	fut = future_new();
	future_set_cancel_hook(fut, trace_hook, &tr);
	ck_assert_int_eq(future_set_result(fut, NULL, NULL), 0);
	ck_assert_int_eq(future_cancel(fut), -1);
	ck_assert_int_eq(tr.n, 0);
	future_unref(fut);
	event_base_free(base);
}
END_TEST

START_TEST(test_nested_completion_queued)
{
	struct event_base	*base = base_new();
	struct trace		 tr = { .n = 0 };
	struct tracer		 t[3] = { {&tr, 1}, {&tr, 2}, {&tr, 3} };
	struct future		*a, *b;

	a = future_new();
	b = future_new();
	ck_assert_ptr_nonnull(future_add_callback(a, trace_cb, &t[0]));
	ck_assert_ptr_nonnull(future_add_callback(a, complete_other_cb, b));
	ck_assert_ptr_nonnull(future_add_callback(a, trace_cb, &t[1]));
	ck_assert_ptr_nonnull(future_add_callback(b, trace_cb, &t[2]));
	ck_assert_int_eq(future_set_result(a, "a", NULL), 0);
	/* b completed inside a's dispatch: its callback ran after a's. */
	ck_assert_int_eq(tr.n, 3);
	ck_assert_int_eq(tr.ids[0], 1);
	ck_assert_int_eq(tr.ids[1], 2);
	ck_assert_int_eq(tr.ids[2], 3);
	ck_assert_str_eq(future_result(b), "b");
	future_unref(a);
	future_unref(b);
	event_base_free(base);
}
END_TEST

START_TEST(test_chain_success)
{
	struct event_base	*base = base_new();
	struct future		*src, *dst;
	struct counted		*c;
	int			 frees = 0;

	src = future_new();
	dst = future_new();
	ck_assert_int_eq(future_chain(dst, src), 0);
	ck_assert_int_eq(future_chain(dst, src), -1);	/* chained */
	ck_assert(future_is_pending(dst));
	c = counted_new(&frees, 9);
	ck_assert_int_eq(future_set_result(src, c, counted_free), 0);
	ck_assert_int_eq(future_state(dst), FUTURE_DONE);
	ck_assert_ptr_eq(future_result(dst), c);	/* borrowed */
	future_unref(src);		/* dst still holds src */
	ck_assert_int_eq(frees, 0);
	ck_assert_int_eq(((struct counted *)future_result(dst))->value, 9);
	future_unref(dst);
	ck_assert_int_eq(frees, 1);
	event_base_free(base);
}
END_TEST

START_TEST(test_chain_error)
{
	struct event_base	*base = base_new();
	struct future		*src, *dst;

	src = future_new();
	dst = future_new();
	ck_assert_int_eq(future_chain(dst, src), 0);
	ck_assert_int_eq(future_set_error(src, "refused: %d", 3), 0);
	ck_assert_int_eq(future_state(dst), FUTURE_FAILED);
	ck_assert_str_eq(future_error(dst), "refused: 3");
	future_unref(src);
	future_unref(dst);
	event_base_free(base);
}
END_TEST

START_TEST(test_chain_cancel_src)
{
	struct event_base	*base = base_new();
	struct trace		 tr = { .n = 0 };
	struct future		*src, *dst;

	src = future_new();
	dst = future_new();
	future_set_cancel_hook(dst, trace_hook, &tr);
	ck_assert_int_eq(future_chain(dst, src), 0);
	ck_assert_int_eq(future_cancel(src), 0);
	ck_assert_int_eq(future_state(dst), FUTURE_CANCELLED);
	ck_assert_str_eq(future_error(dst), "cancelled");
	ck_assert_int_eq(tr.n, 1);
	future_unref(src);
	future_unref(dst);
	event_base_free(base);
}
END_TEST

START_TEST(test_chain_cancel_dst)
{
	struct event_base	*base = base_new();
	struct trace		 tr = { .n = 0 };
	struct tracer		 t = { &tr, 1 };
	struct future		*src, *dst, *dst2;

	src = future_new();
	dst = future_new();
	dst2 = future_new();
	ck_assert_int_eq(future_chain(dst, src), 0);
	ck_assert_int_eq(future_chain(dst2, src), 0);
	ck_assert_ptr_nonnull(future_add_callback(dst, trace_cb, &t));
	ck_assert_int_eq(future_cancel(dst), 0);
	ck_assert_int_eq(tr.n, 1);
	ck_assert(future_is_pending(src));	/* not cancelled */
	ck_assert_int_eq(future_set_result(src, "s", NULL), 0);
	ck_assert_int_eq(future_state(dst), FUTURE_CANCELLED);
	ck_assert_int_eq(tr.n, 1);		/* dst no longer listens */
	ck_assert_str_eq(future_result(dst2), "s");
	future_unref(dst);
	future_unref(dst2);
	future_unref(src);
	event_base_free(base);
}
END_TEST

START_TEST(test_chain_done_src)
{
	struct event_base	*base = base_new();
	struct future		*src, *dst;

	src = future_new();
	dst = future_new();
	ck_assert_int_eq(future_set_result(src, "early", NULL), 0);
	ck_assert_int_eq(future_chain(dst, src), 0);
	ck_assert_str_eq(future_result(dst), "early");
	ck_assert_int_eq(future_chain(dst, src), -1);	/* dst complete */
	ck_assert_int_eq(future_chain(src, src), -1);
	future_unref(src);
	future_unref(dst);
	event_base_free(base);
}
END_TEST

START_TEST(test_chain_dst_freed_first)
{
	struct event_base	*base = base_new();
	struct future		*src, *dst;

	src = future_new();
	dst = future_new();
	ck_assert_int_eq(future_chain(dst, src), 0);
	future_unref(dst);	/* removes its callback from src */
	ck_assert_int_eq(future_set_result(src, NULL, NULL), 0);
	future_unref(src);
	event_base_free(base);
}
END_TEST

START_TEST(test_chain_long)
{
	struct event_base	*base = base_new();
	struct future		**f;
	struct probe		 p = { 0, 0, 0 };
	int			 i, frees = 0;

	f = calloc(CHAIN_LEN, sizeof(*f));
	ck_assert_ptr_nonnull(f);
	for (i = 0; i < CHAIN_LEN; i++) {
		f[i] = future_new();
		ck_assert_ptr_nonnull(f[i]);
	}
	ck_assert_ptr_nonnull(future_add_callback(f[0], probe_cb, &p));
	for (i = 1; i < CHAIN_LEN; i++)
		ck_assert_int_eq(future_chain(f[i], f[i - 1]), 0);
	ck_assert_ptr_nonnull(future_add_callback(f[CHAIN_LEN - 1], probe_cb,
	    &p));
	ck_assert_int_eq(future_set_result(f[0], counted_new(&frees, 77),
	    counted_free), 0);
	ck_assert_int_eq(p.hits, 2);
	ck_assert_msg(p.hi - p.lo < STACK_SPREAD, "stack spread %lu bytes",
	    (unsigned long)(p.hi - p.lo));
	ck_assert_int_eq(((struct counted *)
	    future_result(f[CHAIN_LEN - 1]))->value, 77);
	/* Only the last holds the chain now; freeing it frees all. */
	for (i = 0; i < CHAIN_LEN - 1; i++)
		future_unref(f[i]);
	ck_assert_int_eq(frees, 0);
	future_unref(f[CHAIN_LEN - 1]);
	ck_assert_int_eq(frees, 1);
	free(f);
	event_base_free(base);
}
END_TEST

START_TEST(test_wait_done)
{
	struct event_base	*base = base_new();
	struct future		*fut;

	fut = future_new();
	ck_assert_int_eq(future_set_result(fut, "r", NULL), 0);
	ck_assert_int_eq(future_wait(base, fut, NULL), 0);
	future_unref(fut);
	event_base_free(base);
}
END_TEST

START_TEST(test_wait_timer)
{
	struct event_base	*base = base_new();
	struct timeval		 in = { 0, 10000 }, limit = { 5, 0 };
	struct later		 l;

	l.fut = future_new();
	l.value = 31;
	ck_assert_int_eq(event_base_once(base, -1, EV_TIMEOUT, later_cb, &l,
	    &in), 0);
	ck_assert_int_eq(future_wait(base, l.fut, &limit), 0);
	ck_assert_int_eq(future_state(l.fut), FUTURE_DONE);
	ck_assert_int_eq(*(int *)future_result(l.fut), 31);
	future_unref(l.fut);
	event_base_free(base);
}
END_TEST

START_TEST(test_wait_timeout)
{
	struct event_base	*base = base_new();
	struct timeval		 limit = { 0, 50000 };
	struct future		*fut;
	long long		 t0, ms;

	fut = future_new();
	t0 = now_ms();
	ck_assert_int_eq(future_wait(base, fut, &limit), -1);
	ms = now_ms() - t0;
	ck_assert_int_ge(ms, 40);
	ck_assert_int_lt(ms, 5000);
	ck_assert(future_is_pending(fut));
	/* Its timer and callback are gone: completing it now is quiet. */
	ck_assert_int_eq(future_set_result(fut, NULL, NULL), 0);
	ck_assert_int_eq(event_base_loop(base, EVLOOP_NONBLOCK), 1);
	future_unref(fut);
	event_base_free(base);
}
END_TEST

START_TEST(test_wait_nothing_to_run)
{
	struct event_base	*base = base_new();
	struct future		*fut;
	long long		 t0;

	fut = future_new();
	t0 = now_ms();
	ck_assert_int_eq(future_wait(base, fut, NULL), -1);
	ck_assert_int_lt(now_ms() - t0, 1000);
	ck_assert(future_is_pending(fut));
	future_unref(fut);
	event_base_free(base);
}
END_TEST

/* Returns the future suite. */
/* future_timeout(): the deadline fails the new future, src is untouched. */
START_TEST(test_timeout_expires)
{
	struct event_base	*base = base_new();
	struct timeval		 limit = { 5, 0 };
	struct future		*src, *dst;

	src = future_new();
	dst = future_timeout(base, src, 30, "too slow");
	ck_assert_ptr_nonnull(dst);
	ck_assert_int_eq(future_wait(base, dst, &limit), 0);
	ck_assert_int_eq(future_state(dst), FUTURE_FAILED);
	ck_assert_str_eq(future_error(dst), "too slow");
	ck_assert(future_is_pending(src));
	/* src completing later changes nothing and runs nothing stale. */
	ck_assert_int_eq(future_set_result(src, NULL, NULL), 0);
	ck_assert_int_eq(future_state(dst), FUTURE_FAILED);
	ck_assert_int_eq(event_base_loop(base, EVLOOP_NONBLOCK), 1);
	future_unref(dst);
	future_unref(src);
	event_base_free(base);
}
END_TEST

/* future_timeout(): src first: the result passes, the timer is gone. */
START_TEST(test_timeout_beaten)
{
	struct event_base	*base = base_new();
	struct future		*src, *dst, *done, *d2;
	static int		 value = 42;

	src = future_new();
	dst = future_timeout(base, src, 60000, "too slow");
	ck_assert(future_is_pending(dst));
	ck_assert_int_eq(future_set_result(src, &value, NULL), 0);
	ck_assert_int_eq(future_state(dst), FUTURE_DONE);
	ck_assert_ptr_eq(future_result(dst), &value);
	/* No timer is left behind: the loop has nothing to run. */
	ck_assert_int_eq(event_base_loop(base, EVLOOP_NONBLOCK), 1);
	/* An already complete src: complete at once. */
	done = future_new();
	future_set_error(done, "gone");
	d2 = future_timeout(base, done, 10, "too slow");
	ck_assert_int_eq(future_state(d2), FUTURE_FAILED);
	ck_assert_str_eq(future_error(d2), "gone");
	ck_assert_int_eq(event_base_loop(base, EVLOOP_NONBLOCK), 1);
	future_unref(d2);
	future_unref(done);
	future_unref(dst);
	future_unref(src);
	event_base_free(base);
}
END_TEST

/* Cancelling the timed future detaches it; src lives on. */
START_TEST(test_timeout_cancelled)
{
	struct event_base	*base = base_new();
	struct future		*src, *dst;

	src = future_new();
	dst = future_timeout(base, src, 60000, "too slow");
	ck_assert_int_eq(future_cancel(dst), 0);
	ck_assert(future_is_pending(src));
	ck_assert_int_eq(event_base_loop(base, EVLOOP_NONBLOCK), 1);
	future_unref(dst);
	future_unref(src);
	event_base_free(base);
}
END_TEST

static Suite *
future_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("future");
	tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_callback_order);
	tcase_add_test(tc, test_add_after_done);
	tcase_add_test(tc, test_remove_callback);
	tcase_add_test(tc, test_remove_callback_during_dispatch);
	tcase_add_test(tc, test_remove_self_during_dispatch);
	tcase_add_test(tc, test_set_twice);
	tcase_add_test(tc, test_result_freed_once);
	tcase_add_test(tc, test_unref_pending);
	tcase_add_test(tc, test_error_messages);
	tcase_add_test(tc, test_cancel_hook);
	tcase_add_test(tc, test_nested_completion_queued);
	tcase_add_test(tc, test_chain_success);
	tcase_add_test(tc, test_chain_error);
	tcase_add_test(tc, test_chain_cancel_src);
	tcase_add_test(tc, test_chain_cancel_dst);
	tcase_add_test(tc, test_chain_done_src);
	tcase_add_test(tc, test_chain_dst_freed_first);
	tcase_add_test(tc, test_chain_long);
	tcase_add_test(tc, test_wait_done);
	tcase_add_test(tc, test_wait_timer);
	tcase_add_test(tc, test_wait_timeout);
	tcase_add_test(tc, test_wait_nothing_to_run);
	tcase_add_test(tc, test_timeout_expires);
	tcase_add_test(tc, test_timeout_beaten);
	tcase_add_test(tc, test_timeout_cancelled);
	suite_add_tcase(s, tc);
	return s;
}

/* Runs the future suite; exits non-zero if a test failed. */
int
main(void)
{
	return check_run(future_suite());
}
