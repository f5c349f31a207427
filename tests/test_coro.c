/*
 * test_coro.c: Check suite for daemon/coro.c.
 *
 * Each test builds a fresh event_base, spawns coroutines on it and drives
 * the loop one pass at a time, so it can tell a step that ran from the loop
 * from one that ran inline. Shared counters (owned by the test, borrowed by
 * every coroutine state) count steps and frees; long chains of nested
 * coroutines check that the stack stays flat while they unwind or cancel.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <check.h>

#include "check_run.h"
#include <stdint.h>
#include <stdlib.h>

#include <event2/event.h>

#include "coro.h"

#define CHAIN_LEN	100000
#define STACK_SPREAD	(64 * 1024)

/* The lowest and highest stack addresses seen. */
struct probe {
	uintptr_t	 lo, hi;
	int		 hits;
};

/* What the test observes of its coroutines (owned by the test). */
struct counters {
	int	 entries;	/* steps run */
	int	 after;		/* times code after an await ran */
	int	 reached;	/* times code after a self-cancel ran */
	int	 frees;		/* states freed */
	int	 result_frees;	/* counted results freed */
	int	 hooks;		/* cancel hooks run on awaited ones */
	int	 value;
};

/* A coroutine's state; what must live across an await lives here. */
struct st {
	struct counters		*c;		/* borrowed */
	struct probe		*p;		/* borrowed, or NULL */
	struct event_base	*base;		/* borrowed */
	struct future		*f;		/* owned ref, or NULL */
	struct future		*leaf;		/* borrowed or NULL */
	int			 i;
	int			 depth;
	int			 max;
};

/* A future and what to complete it with, for a timer. */
struct later {
	struct future	*fut;
	int		 value;
	int		 fail;
};

/* A result that counts its frees. */
struct counted {
	int	*frees;
};

/* Notes the address of a local, to measure how deep the stack is. */
static void
probe_note(struct probe *p)
{
	volatile char	here = 0;
	uintptr_t	a = (uintptr_t)&here;

	if (p == NULL)
		return;
	if (p->hits == 0 || a < p->lo)
		p->lo = a;
	if (p->hits == 0 || a > p->hi)
		p->hi = a;
	p->hits++;
}

/* Returns a new state with an owned reference to f (may be NULL). */
static struct st *
st_new(struct counters *c, struct future *f)
{
	struct st	*st;

	st = calloc(1, sizeof(*st));
	ck_assert_ptr_nonnull(st);
	st->c = c;
	st->f = f != NULL ? future_ref(f) : NULL;
	return st;
}

/* Frees a state and counts it. */
static void
st_free(void *arg)
{
	struct st	*st = arg;

	probe_note(st->p);
	st->c->frees++;
	future_unref(st->f);
	free(st);
}

/* Returns a malloc'd int. */
static int *
int_new(int v)
{
	int	*p;

	p = malloc(sizeof(*p));
	ck_assert_ptr_nonnull(p);
	*p = v;
	return p;
}

/* Frees a counted result and counts it. */
static void
counted_free(void *arg)
{
	struct counted	*r = arg;

	(*r->frees)++;
	free(r);
}

/* Returns a counted result. */
static struct counted *
counted_new(int *frees)
{
	struct counted	*r;

	r = malloc(sizeof(*r));
	ck_assert_ptr_nonnull(r);
	r->frees = frees;
	return r;
}

/* Counts a cancel hook run on an awaited future. */
static void
hook_count(struct future *fut, void *arg)
{
	struct counters	*c = arg;

	(void)fut;
	c->hooks++;
}

/* Completes (or fails) a future from a timer. */
static void
later_cb(evutil_socket_t fd, short what, void *arg)
{
	struct later	*l = arg;

	(void)fd;
	(void)what;
	if (l->fail)
		ck_assert_int_eq(future_set_error(l->fut, "upstream gone: %d",
		    l->value), 0);
	else
		ck_assert_int_eq(future_set_result(l->fut, &l->value, NULL), 0);
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

/* Runs one non-blocking pass of the loop. */
static void
loop_pass(struct event_base *base)
{
	ck_assert_int_ge(event_base_loop(base, EVLOOP_NONBLOCK), 0);
}

/* Finishes at once with a counted result. */
static int
body_return(struct coro *co, void *arg)
{
	struct st	*st = arg;

	CO_BEGIN(co);
	st->c->entries++;
	CO_RETURN(co, counted_new(&st->c->result_frees), counted_free);
	CO_END(co);
}

/* Awaits st->f, then returns its int result plus one. */
static int
body_await(struct coro *co, void *arg)
{
	struct st	*st = arg;

	st->c->entries++;
	CO_BEGIN(co);
	CO_AWAIT(co, st->f);
	st->c->after++;
	CO_RETURN(co, int_new(*(int *)future_result(st->f) + 1), free);
	CO_END(co);
}

/* Awaits st->f and fails with its error unless it is done. */
static int
body_await_ok(struct coro *co, void *arg)
{
	struct st	*st = arg;

	st->c->entries++;
	CO_BEGIN(co);
	CO_AWAIT_OK(co, st->f);
	st->c->after++;
	CO_END(co);
}

/* Fails with a formatted message. */
static int
body_fail(struct coro *co, void *arg)
{
	(void)arg;
	CO_BEGIN(co);
	CO_FAIL(co, "bad %s", "thing");
	CO_END(co);
}

/* Does nothing: falling off the end finishes with NULL. */
static int
body_empty(struct coro *co, void *arg)
{
	(void)arg;
	CO_BEGIN(co);
	CO_END(co);
}

/* Cancels its own future, then tries to return a counted result. */
static int
body_cancel_self(struct coro *co, void *arg)
{
	struct st	*st = arg;

	st->c->entries++;
	CO_BEGIN(co);
	ck_assert_int_eq(future_cancel(coro_future(co)), 0);
	ck_assert_int_eq(future_state(coro_future(co)), FUTURE_CANCELLED);
	st->c->reached++;
	CO_RETURN(co, counted_new(&st->c->result_frees), counted_free);
	CO_END(co);
}

/* Cancels its own future, then awaits st->f. */
static int
body_cancel_self_await(struct coro *co, void *arg)
{
	struct st	*st = arg;

	st->c->entries++;
	CO_BEGIN(co);
	ck_assert_int_eq(future_cancel(coro_future(co)), 0);
	CO_AWAIT(co, st->f);
	st->c->after++;
	CO_END(co);
}

/* Awaits the (done) future st->f CHAIN_LEN times in one step. */
static int
body_loop(struct coro *co, void *arg)
{
	struct st	*st = arg;

	st->c->entries++;
	CO_BEGIN(co);
	for (st->i = 0; st->i < CHAIN_LEN; st->i++) {
		CO_AWAIT(co, st->f);
	}
	st->c->value = st->i;
	CO_END(co);
}

/*
 * One link of a chain: spawns the next coroutine and awaits it, returning
 * its result plus one; the last awaits st->leaf if set, then returns 0.
 */
static int
body_nested(struct coro *co, void *arg)
{
	struct st	*st = arg, *next;

	probe_note(st->p);
	st->c->entries++;
	CO_BEGIN(co);
	if (st->depth == st->max) {
		if (st->leaf != NULL) {
			st->f = future_ref(st->leaf);
			CO_AWAIT_OK(co, st->f);
		}
		CO_RETURN(co, int_new(0), free);
	}
	next = st_new(st->c, NULL);
	next->p = st->p;
	next->base = st->base;
	next->leaf = st->leaf;
	next->depth = st->depth + 1;
	next->max = st->max;
	st->f = coro_spawn(st->base, body_nested, next, st_free);
	ck_assert_ptr_nonnull(st->f);
	CO_AWAIT_OK(co, st->f);
	st->c->after++;
	CO_RETURN(co, int_new(*(int *)future_result(st->f) + 1), free);
	CO_END(co);
}

START_TEST(test_returns_result)
{
	struct event_base	*base = base_new();
	struct timeval		 limit = { 5, 0 };
	struct counters		 c = { 0 };
	struct future		*cf;

	cf = coro_spawn(base, body_return, st_new(&c, NULL), st_free);
	ck_assert_ptr_nonnull(cf);
	ck_assert_int_eq(c.entries, 0);		/* not run inline */
	ck_assert_int_eq(future_wait(base, cf, &limit), 0);
	ck_assert_int_eq(c.entries, 1);
	ck_assert_int_eq(future_state(cf), FUTURE_DONE);
	ck_assert_ptr_nonnull(future_result(cf));
	ck_assert_int_eq(c.frees, 1);
	ck_assert_int_eq(c.result_frees, 0);
	future_unref(cf);
	ck_assert_int_eq(c.result_frees, 1);
	event_base_free(base);
}
END_TEST

START_TEST(test_fail_and_end)
{
	struct event_base	*base = base_new();
	struct future		*cf, *ce;

	cf = coro_spawn(base, body_fail, NULL, NULL);
	ce = coro_spawn(base, body_empty, NULL, NULL);
	ck_assert_ptr_nonnull(cf);
	ck_assert_ptr_nonnull(ce);
	loop_pass(base);
	ck_assert_int_eq(future_state(cf), FUTURE_FAILED);
	ck_assert_str_eq(future_error(cf), "bad thing");
	ck_assert_int_eq(future_state(ce), FUTURE_DONE);
	ck_assert_ptr_null(future_result(ce));
	future_unref(cf);
	future_unref(ce);
	event_base_free(base);
}
END_TEST

START_TEST(test_await_done_inline)
{
	struct event_base	*base = base_new();
	struct counters		 c = { 0 };
	struct future		*f, *cf;
	int			 v = 4;

	f = future_new();
	ck_assert_int_eq(future_set_result(f, &v, NULL), 0);
	cf = coro_spawn(base, body_await, st_new(&c, f), st_free);
	ck_assert_ptr_nonnull(cf);
	loop_pass(base);
	ck_assert_int_eq(c.entries, 1);		/* never suspended */
	ck_assert_int_eq(c.after, 1);
	ck_assert_int_eq(future_state(cf), FUTURE_DONE);
	ck_assert_int_eq(*(int *)future_result(cf), 5);
	ck_assert_int_eq(c.frees, 1);
	future_unref(cf);
	future_unref(f);
	event_base_free(base);
}
END_TEST

START_TEST(test_await_timer)
{
	struct event_base	*base = base_new();
	struct timeval		 in = { 0, 10000 }, limit = { 5, 0 };
	struct counters		 c = { 0 };
	struct later		 l = { NULL, 41, 0 };
	struct future		*cf;

	l.fut = future_new();
	cf = coro_spawn(base, body_await, st_new(&c, l.fut), st_free);
	ck_assert_ptr_nonnull(cf);
	ck_assert_int_eq(event_base_once(base, -1, EV_TIMEOUT, later_cb, &l,
	    &in), 0);
	ck_assert_int_eq(future_wait(base, cf, &limit), 0);
	ck_assert_int_eq(c.entries, 2);
	ck_assert_int_eq(c.after, 1);
	ck_assert_int_eq(*(int *)future_result(cf), 42);
	ck_assert_int_eq(c.frees, 1);
	future_unref(cf);
	future_unref(l.fut);
	event_base_free(base);
}
END_TEST

START_TEST(test_error_propagation)
{
	struct event_base	*base = base_new();
	struct timeval		 in = { 0, 10000 }, limit = { 5, 0 };
	struct counters		 c = { 0 };
	struct later		 l = { NULL, 7, 1 };
	struct future		*cf;

	l.fut = future_new();
	cf = coro_spawn(base, body_await_ok, st_new(&c, l.fut), st_free);
	ck_assert_ptr_nonnull(cf);
	ck_assert_int_eq(event_base_once(base, -1, EV_TIMEOUT, later_cb, &l,
	    &in), 0);
	ck_assert_int_eq(future_wait(base, cf, &limit), 0);
	ck_assert_int_eq(future_state(cf), FUTURE_FAILED);
	ck_assert_str_eq(future_error(cf), "upstream gone: 7");
	ck_assert_int_eq(c.after, 0);
	ck_assert_int_eq(c.frees, 1);
	future_unref(cf);
	future_unref(l.fut);
	event_base_free(base);
}
END_TEST

START_TEST(test_awaited_cancelled)
{
	struct event_base	*base = base_new();
	struct counters		 c = { 0 };
	struct future		*f, *cf;

	f = future_new();
	cf = coro_spawn(base, body_await_ok, st_new(&c, f), st_free);
	ck_assert_ptr_nonnull(cf);
	loop_pass(base);
	ck_assert_int_eq(future_cancel(f), 0);
	loop_pass(base);
	ck_assert_int_eq(future_state(cf), FUTURE_FAILED);
	ck_assert_str_eq(future_error(cf), "cancelled");
	ck_assert_int_eq(c.after, 0);
	ck_assert_int_eq(c.frees, 1);
	future_unref(cf);
	future_unref(f);
	event_base_free(base);
}
END_TEST

START_TEST(test_resumes_from_loop)
{
	struct event_base	*base = base_new();
	struct counters		 c = { 0 };
	struct future		*f, *cf;
	int			 v = 1;

	f = future_new();
	cf = coro_spawn(base, body_await, st_new(&c, f), st_free);
	ck_assert_ptr_nonnull(cf);
	ck_assert_int_eq(c.entries, 0);
	loop_pass(base);
	ck_assert_int_eq(c.entries, 1);
	ck_assert(future_is_pending(cf));
	ck_assert_int_eq(future_set_result(f, &v, NULL), 0);
	ck_assert_int_eq(c.entries, 1);		/* not resumed inline */
	ck_assert_int_eq(c.after, 0);
	loop_pass(base);
	ck_assert_int_eq(c.entries, 2);
	ck_assert_int_eq(c.after, 1);
	ck_assert_int_eq(*(int *)future_result(cf), 2);
	future_unref(cf);
	future_unref(f);
	event_base_free(base);
}
END_TEST

START_TEST(test_cancel_mid_await)
{
	struct event_base	*base = base_new();
	struct counters		 c = { 0 };
	struct future		*f, *cf;

	f = future_new();
	future_set_cancel_hook(f, hook_count, &c);
	cf = coro_spawn(base, body_await, st_new(&c, f), st_free);
	ck_assert_ptr_nonnull(cf);
	loop_pass(base);
	ck_assert_int_eq(c.entries, 1);
	ck_assert_int_eq(future_cancel(cf), 0);
	ck_assert_int_eq(future_state(cf), FUTURE_CANCELLED);
	ck_assert_int_eq(future_state(f), FUTURE_CANCELLED);
	ck_assert_int_eq(c.hooks, 1);
	ck_assert_int_eq(c.frees, 1);
	loop_pass(base);
	loop_pass(base);
	ck_assert_int_eq(c.entries, 1);		/* never resumed */
	ck_assert_int_eq(c.after, 0);
	ck_assert_int_eq(c.frees, 1);
	future_unref(cf);
	future_unref(f);
	event_base_free(base);
}
END_TEST

START_TEST(test_cancel_woken)
{
	struct event_base	*base = base_new();
	struct counters		 c = { 0 };
	struct future		*f, *cf;
	int			 v = 1;

	f = future_new();
	cf = coro_spawn(base, body_await, st_new(&c, f), st_free);
	ck_assert_ptr_nonnull(cf);
	loop_pass(base);
	/* Wake it, then cancel it before the loop resumes it. */
	ck_assert_int_eq(future_set_result(f, &v, NULL), 0);
	ck_assert_int_eq(future_cancel(cf), 0);
	ck_assert_int_eq(c.frees, 1);
	loop_pass(base);
	ck_assert_int_eq(c.entries, 1);		/* wake-up dropped */
	ck_assert_int_eq(future_state(cf), FUTURE_CANCELLED);
	future_unref(cf);
	future_unref(f);
	event_base_free(base);
}
END_TEST

START_TEST(test_cancel_before_start)
{
	struct event_base	*base = base_new();
	struct counters		 c = { 0 };
	struct future		*cf;

	cf = coro_spawn(base, body_return, st_new(&c, NULL), st_free);
	ck_assert_ptr_nonnull(cf);
	ck_assert_int_eq(future_cancel(cf), 0);
	ck_assert_int_eq(c.frees, 1);
	loop_pass(base);
	ck_assert_int_eq(c.entries, 0);
	ck_assert_int_eq(event_base_loop(base, EVLOOP_NONBLOCK), 1);
	future_unref(cf);
	event_base_free(base);
}
END_TEST

START_TEST(test_cancel_self)
{
	struct event_base	*base = base_new();
	struct counters		 c = { 0 };
	struct future		*cf;

	cf = coro_spawn(base, body_cancel_self, st_new(&c, NULL), st_free);
	ck_assert_ptr_nonnull(cf);
	loop_pass(base);
	ck_assert_int_eq(c.entries, 1);
	ck_assert_int_eq(c.reached, 1);
	ck_assert_int_eq(future_state(cf), FUTURE_CANCELLED);
	ck_assert_int_eq(c.result_frees, 1);	/* refused, freed at once */
	ck_assert_int_eq(c.frees, 1);
	loop_pass(base);
	ck_assert_int_eq(c.entries, 1);
	future_unref(cf);
	event_base_free(base);
}
END_TEST

START_TEST(test_cancel_self_then_await)
{
	struct event_base	*base = base_new();
	struct counters		 c = { 0 };
	struct future		*f, *cf;

	f = future_new();
	future_set_cancel_hook(f, hook_count, &c);
	cf = coro_spawn(base, body_cancel_self_await, st_new(&c, f), st_free);
	ck_assert_ptr_nonnull(cf);
	loop_pass(base);
	ck_assert_int_eq(future_state(cf), FUTURE_CANCELLED);
	ck_assert_int_eq(c.frees, 1);
	ck_assert(future_is_pending(f));	/* it never waited on f */
	ck_assert_int_eq(future_set_result(f, NULL, NULL), 0);
	loop_pass(base);
	ck_assert_int_eq(c.entries, 1);
	ck_assert_int_eq(c.after, 0);
	ck_assert_int_eq(c.hooks, 0);
	future_unref(cf);
	future_unref(f);
	event_base_free(base);
}
END_TEST

START_TEST(test_many_done_awaits)
{
	struct event_base	*base = base_new();
	struct counters		 c = { 0 };
	struct future		*f, *cf;

	f = future_new();
	ck_assert_int_eq(future_set_result(f, NULL, NULL), 0);
	cf = coro_spawn(base, body_loop, st_new(&c, f), st_free);
	ck_assert_ptr_nonnull(cf);
	loop_pass(base);
	ck_assert_int_eq(c.entries, 1);
	ck_assert_int_eq(c.value, CHAIN_LEN);
	ck_assert_int_eq(future_state(cf), FUTURE_DONE);
	ck_assert_int_eq(c.frees, 1);
	future_unref(cf);
	future_unref(f);
	event_base_free(base);
}
END_TEST

START_TEST(test_nested_chain)
{
	struct event_base	*base = base_new();
	struct timeval		 limit = { 120, 0 };
	struct counters		 c = { 0 };
	struct probe		 p = { 0, 0, 0 };
	struct future		*cf;
	struct st		*st;

	st = st_new(&c, NULL);
	st->p = &p;
	st->base = base;
	st->max = CHAIN_LEN - 1;
	cf = coro_spawn(base, body_nested, st, st_free);
	ck_assert_ptr_nonnull(cf);
	ck_assert_int_eq(future_wait(base, cf, &limit), 0);
	ck_assert_int_eq(future_state(cf), FUTURE_DONE);
	ck_assert_int_eq(*(int *)future_result(cf), CHAIN_LEN - 1);
	ck_assert_int_eq(c.entries, 2 * CHAIN_LEN - 1);
	ck_assert_int_eq(c.after, CHAIN_LEN - 1);
	ck_assert_int_eq(c.frees, CHAIN_LEN);
	ck_assert_msg(p.hi - p.lo < STACK_SPREAD, "stack spread %lu bytes",
	    (unsigned long)(p.hi - p.lo));
	future_unref(cf);
	event_base_free(base);
}
END_TEST

START_TEST(test_nested_cancel)
{
	struct event_base	*base = base_new();
	struct counters		 c = { 0 };
	struct probe		 p = { 0, 0, 0 };
	struct future		*leaf, *cf;
	struct st		*st;
	long			 passes;

	leaf = future_new();
	future_set_cancel_hook(leaf, hook_count, &c);
	st = st_new(&c, NULL);
	st->p = &p;
	st->base = base;
	st->leaf = leaf;
	st->max = CHAIN_LEN - 1;
	cf = coro_spawn(base, body_nested, st, st_free);
	ck_assert_ptr_nonnull(cf);
	for (passes = 0; c.entries < CHAIN_LEN && passes < 4 * CHAIN_LEN;
	    passes++)
		loop_pass(base);
	ck_assert_int_eq(c.entries, CHAIN_LEN);	/* the last awaits leaf */
	ck_assert_int_eq(future_cancel(cf), 0);
	ck_assert_int_eq(future_state(leaf), FUTURE_CANCELLED);
	ck_assert_int_eq(c.hooks, 1);
	ck_assert_int_eq(c.frees, CHAIN_LEN);
	ck_assert_int_eq(c.after, 0);
	ck_assert_msg(p.hi - p.lo < STACK_SPREAD, "stack spread %lu bytes",
	    (unsigned long)(p.hi - p.lo));
	loop_pass(base);
	ck_assert_int_eq(c.entries, CHAIN_LEN);
	future_unref(cf);
	future_unref(leaf);
	event_base_free(base);
}
END_TEST

/* Returns the coroutine suite. */
static Suite *
coro_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("coro");
	tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_returns_result);
	tcase_add_test(tc, test_fail_and_end);
	tcase_add_test(tc, test_await_done_inline);
	tcase_add_test(tc, test_await_timer);
	tcase_add_test(tc, test_error_propagation);
	tcase_add_test(tc, test_awaited_cancelled);
	tcase_add_test(tc, test_resumes_from_loop);
	tcase_add_test(tc, test_cancel_mid_await);
	tcase_add_test(tc, test_cancel_woken);
	tcase_add_test(tc, test_cancel_before_start);
	tcase_add_test(tc, test_cancel_self);
	tcase_add_test(tc, test_cancel_self_then_await);
	tcase_add_test(tc, test_many_done_awaits);
	tcase_add_test(tc, test_nested_chain);
	tcase_add_test(tc, test_nested_cancel);
	suite_add_tcase(s, tc);
	return s;
}

/* Runs the coroutine suite; exits non-zero if a test failed. */
int
main(void)
{
	return check_run(coro_suite());
}
