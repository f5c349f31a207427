/*
 * coro.h: stackless coroutines that await futures.
 *
 * A coroutine is a function plus a state struct. The function is re-entered
 * from the top each time it resumes and jumps to where it left off (a switch
 * on a saved line number, as in protothreads), so every local that must live
 * across an await lives in the state struct. CO_AWAIT(co, fut) suspends the
 * coroutine until fut completes; the runner then resumes it from the event
 * loop, on the coroutine's own event, never from inside the code that
 * completed fut, so chains of completions never deepen the stack.
 *
 *	struct fetch { struct future *f; int n; };
 *
 *	static int
 *	fetch_run(struct coro *co, void *arg)
 *	{
 *		struct fetch *st = arg;
 *
 *		CO_BEGIN(co);
 *		st->f = something_async();
 *		CO_AWAIT_OK(co, st->f);		// fails the coroutine if st->f failed
 *		st->n = *(int *)future_result(st->f);
 *		CO_RETURN(co, NULL, NULL);
 *		CO_END(co);
 *	}
 *
 * Rules: one await per source line; no await inside a switch of your own;
 * the awaited fut is evaluated more than once, so pass a variable (a state
 * member), never a call, and never NULL; futures the state holds are the
 * state's to release (in its free function).
 *
 * Ownership: coro_spawn() returns a reference to the coroutine's result
 * future, owned by the caller. The coroutine object itself is internal: it
 * frees itself (and its state, through free_state) when it finishes or is
 * cancelled; it holds its own reference on its result future, so dropping
 * yours does not stop it. Cancelling the result future cancels the
 * coroutine: it stops waiting, cancels the future it awaits, and releases its
 * state; this is safe at any time from the loop, also from inside the
 * coroutine's own step.
 */
#ifndef PUBSUBD_CORO_H
#define PUBSUBD_CORO_H

#include "future.h"

struct event_base;
struct coro;

/* What a coroutine function returns; the macros below return these. */
#define CORO_WAITING	0
#define CORO_FINISHED	1

/* A coroutine body: co is its handle, state the struct given to coro_spawn. */
typedef int (*coro_fn)(struct coro *co, void *state);

/*
 * Starts fn(co, state) as a coroutine on base; its first step runs from the
 * loop on the next turn. The coroutine owns state if free_state is not NULL
 * and frees it when it ends. Returns a new reference to the coroutine's
 * result future, or NULL on allocation failure (state is then freed through
 * free_state).
 */
struct future	*coro_spawn(struct event_base *base, coro_fn fn, void *state,
		    void (*free_state)(void *));

/* The coroutine's own result future (borrowed). */
struct future	*coro_future(struct coro *co);

/* Internal helpers the macros use. */
int		 coro_point_(struct coro *co);
int		 coro_await_(struct coro *co, int point, struct future *fut);
int		 coro_return_(struct coro *co, void *result, future_free_fn fn);
int		 coro_fail_(struct coro *co, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
int		 coro_fail_from_(struct coro *co, struct future *fut);
int		 coro_end_(struct coro *co);

#define CO_BEGIN(co)	switch (coro_point_(co)) { case 0:

/* Suspends until fut completes (continues at once if it already has). */
#define CO_AWAIT(co, fut)						\
	do {								\
		if (coro_await_((co), __LINE__, (fut)) == -1)		\
			return CORO_WAITING;				\
		__attribute__((fallthrough));				\
	case __LINE__:;							\
	} while (0)

/* Awaits fut and, if it failed or was cancelled, fails with its error. */
#define CO_AWAIT_OK(co, fut)						\
	do {								\
		CO_AWAIT(co, fut);					\
		if (future_state(fut) != FUTURE_DONE)			\
			return coro_fail_from_((co), (fut));		\
	} while (0)

/* Finishes with result (owned by the future when fn is not NULL). */
#define CO_RETURN(co, result, fn)	return coro_return_((co), (result), (fn))

/* Finishes with an error message. */
#define CO_FAIL(co, ...)		return coro_fail_((co), __VA_ARGS__)

/* Ends the body: falling off the end finishes with a NULL result. */
#define CO_END(co)	} return coro_end_(co)

#endif /* PUBSUBD_CORO_H */
