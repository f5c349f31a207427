/*
 * coro.c: the runner for stackless coroutines (see coro.h).
 *
 * Each coroutine has its own libevent event, made active (never added) to
 * run the next step: once at spawn, then each time the future it awaits
 * completes. The future callback does nothing but event_active(), so the
 * step always runs from the loop, never under the code that completed the
 * future, and chains of coroutines awaiting coroutines unwind one loop
 * callback at a time.
 *
 * Lifetime: the coroutine holds a reference on its result future and, while
 * suspended, one on the future it awaits. It frees itself when a step
 * finishes it, or from its result future's cancel hook. A cancel that comes
 * while a step is running (the step cancelled its own future, or something
 * it called did) only marks the coroutine; the runner frees it when the step
 * returns and ignores what the step returned, since the result future is
 * already cancelled.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdarg.h>
#include <stdlib.h>

#include <event2/event.h>

#include "coro.h"

struct coro {
	struct event_base	*co_base;	/* borrowed */
	coro_fn			 co_fn;
	void			*co_state;	/* owned if free_state */
	void			(*co_free_state)(void *);
	int			 co_point;	/* resume point: a line */
	struct future		*co_result;	/* owned ref */
	struct future		*co_awaited;	/* owned ref, or NULL */
	struct future_cb	*co_awaited_cb;	/* ours on co_awaited */
	struct event		*co_ev;		/* owned: the wake event */
	int			 co_running;	/* inside its step */
	int			 co_cancelled;	/* while running */
};

static void	coro_step(evutil_socket_t, short, void *);
static void	coro_wake(struct future *, void *);
static void	coro_cancelled(struct future *, void *);
static void	coro_drop_awaited(struct coro *);
static void	coro_free(struct coro *);

/*
 * Starts fn(co, state) on base, first run from the loop; returns a new
 * reference to its result future, or NULL (state freed) on failure.
 */
struct future *
coro_spawn(struct event_base *base, coro_fn fn, void *state,
    void (*free_state)(void *))
{
	struct coro	*co;

	if ((co = calloc(1, sizeof(*co))) == NULL)
		goto fail;
	co->co_base = base;
	co->co_fn = fn;
	co->co_state = state;
	co->co_free_state = free_state;
	if ((co->co_result = future_new()) == NULL)
		goto fail;
	if ((co->co_ev = event_new(base, -1, 0, coro_step, co)) == NULL)
		goto fail;
	future_set_cancel_hook(co->co_result, coro_cancelled, co);
	event_active(co->co_ev, 0, 1);
	return future_ref(co->co_result);

fail:
	if (co != NULL) {
		future_unref(co->co_result);
		free(co);
	}
	if (free_state != NULL && state != NULL)
		free_state(state);
	return NULL;
}

/* Returns the coroutine's result future (borrowed). */
struct future *
coro_future(struct coro *co)
{
	return co->co_result;
}

/* Returns where the coroutine resumes: 0 at first, then an await's line. */
int
coro_point_(struct coro *co)
{
	return co->co_point;
}

/*
 * Saves the resume point; returns 0 to go on at once if fut is complete,
 * else -1 after arranging to be woken when it completes. A cancelled
 * coroutine, or one that cannot wait (no memory: its future then fails),
 * also gets -1 and is released when the step returns.
 */
int
coro_await_(struct coro *co, int point, struct future *fut)
{
	co->co_point = point;
	if (co->co_cancelled)
		return -1;
	if (!future_is_pending(fut))
		return 0;
	co->co_awaited = future_ref(fut);
	co->co_awaited_cb = future_add_callback(fut, coro_wake, co);
	if (co->co_awaited_cb == NULL) {
		coro_drop_awaited(co);
		future_set_error(co->co_result, "out of memory");
	}
	return -1;
}

/* Finishes with result (owned by the result future when fn is not NULL). */
int
coro_return_(struct coro *co, void *result, future_free_fn fn)
{
	future_set_result(co->co_result, result, fn);
	return CORO_FINISHED;
}

/* Finishes with a printf-style error message. */
int
coro_fail_(struct coro *co, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	future_set_verror(co->co_result, fmt, ap);
	va_end(ap);
	return CORO_FINISHED;
}

/* Finishes with the error of fut, which failed or was cancelled. */
int
coro_fail_from_(struct coro *co, struct future *fut)
{
	const char	*error;

	if ((error = future_error(fut)) == NULL)
		error = "cancelled";
	future_set_error(co->co_result, "%s", error);
	return CORO_FINISHED;
}

/* Finishes with a NULL result unless the coroutine has finished already. */
int
coro_end_(struct coro *co)
{
	if (future_is_pending(co->co_result))
		future_set_result(co->co_result, NULL, NULL);
	return CORO_FINISHED;
}

/* Wakes the coroutine when the future it awaits completes. */
static void
coro_wake(struct future *fut, void *arg)
{
	struct coro	*co = arg;

	(void)fut;
	co->co_awaited_cb = NULL;	/* running: the handle is gone */
	event_active(co->co_ev, 0, 1);
}

/*
 * Runs one step from the loop, then frees the coroutine if the step finished
 * it, failed its future, or it was cancelled meanwhile.
 */
static void
coro_step(evutil_socket_t fd, short what, void *arg)
{
	struct coro	*co = arg;
	int		 rv = CORO_WAITING;

	(void)fd;
	(void)what;
	co->co_running = 1;
	coro_drop_awaited(co);
	if (!co->co_cancelled)
		rv = co->co_fn(co, co->co_state);
	co->co_running = 0;
	if (co->co_cancelled) {
		coro_free(co);
		return;
	}
	if (rv == CORO_FINISHED || !future_is_pending(co->co_result)) {
		coro_end_(co);
		coro_free(co);
	}
}

/*
 * The result future's cancel hook: marks a running coroutine for the runner
 * to release, else cancels what it awaits and frees it now.
 */
static void
coro_cancelled(struct future *fut, void *arg)
{
	struct coro	*co = arg;

	(void)fut;
	if (co->co_running) {
		co->co_cancelled = 1;
		return;
	}
	if (co->co_awaited != NULL) {
		future_remove_callback(co->co_awaited, co->co_awaited_cb);
		co->co_awaited_cb = NULL;
		future_cancel(co->co_awaited);
	}
	coro_free(co);
}

/* Stops waiting: removes the wake-up callback and drops the reference. */
static void
coro_drop_awaited(struct coro *co)
{
	if (co->co_awaited == NULL)
		return;
	future_remove_callback(co->co_awaited, co->co_awaited_cb);
	co->co_awaited_cb = NULL;
	future_unref(co->co_awaited);
	co->co_awaited = NULL;
}

/*
 * Frees the coroutine: what it awaits, its state, its event (also from that
 * event's own callback, which libevent allows) and its result reference.
 */
static void
coro_free(struct coro *co)
{
	coro_drop_awaited(co);
	if (co->co_free_state != NULL && co->co_state != NULL)
		co->co_free_state(co->co_state);
	event_free(co->co_ev);
	future_set_cancel_hook(co->co_result, NULL, NULL);
	future_unref(co->co_result);
	free(co);
}
