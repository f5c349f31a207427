/*
 * future.h: a value that will exist later.
 *
 * A future starts pending and is completed exactly once: done with a result,
 * failed with an error message, or cancelled. Callbacks added with
 * future_add_callback() run at completion in the order they were added; a
 * callback added after completion runs at once. Completing a future from
 * inside a callback does not recurse: nested completions are queued and run
 * by the outermost one, so a chain of any length uses constant stack.
 *
 * Ownership: futures are reference counted. future_new() returns one
 * reference, owned by the caller; future_ref()/future_unref() add and drop
 * references, and the last unref frees the future and, if it was given a
 * free function, its result. Whoever completes a future and whoever waits for
 * it each hold their own reference. The async core knows nothing of Redis or
 * clients; it needs libevent only for future_wait().
 */
#ifndef PUBSUBD_FUTURE_H
#define PUBSUBD_FUTURE_H

#include <stdarg.h>
#include <sys/time.h>

struct event_base;
struct future;
struct future_cb;

enum future_state {
	FUTURE_PENDING = 0,
	FUTURE_DONE,
	FUTURE_FAILED,
	FUTURE_CANCELLED
};

/* Called when a future completes; the future is borrowed for the call. */
typedef void (*future_cb_fn)(struct future *fut, void *arg);

/* Frees a result when its future is freed. */
typedef void (*future_free_fn)(void *result);

/* Called once when a pending future is cancelled, before its callbacks. */
typedef void (*future_cancel_fn)(struct future *fut, void *arg);

/* Returns a new pending future with one reference owned by the caller. */
struct future	*future_new(void);

/* Adds a reference; returns fut. */
struct future	*future_ref(struct future *fut);

/* Drops a reference; the last one frees the future (NULL is ignored). */
void		 future_unref(struct future *fut);

/*
 * Completes fut with result. The future takes ownership of result when
 * free_result is not NULL and frees it with the future. Returns 0, or -1 if
 * fut was already complete (then result is freed at once if owned).
 */
int		 future_set_result(struct future *fut, void *result,
		    future_free_fn free_result);

/* Fails fut with a printf-style message (copied). Returns 0 or -1. */
int		 future_set_error(struct future *fut, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
int		 future_set_verror(struct future *fut, const char *fmt,
		    va_list ap) __attribute__((format(printf, 2, 0)));

/*
 * Cancels fut if it is pending: runs its cancel hook, then its callbacks
 * (both queued, like any completion, when called from inside a callback).
 * Returns 0, or -1 if fut was already complete.
 */
int		 future_cancel(struct future *fut);

/*
 * Sets the hook that a producer uses to stop work when the consumer cancels
 * (at most one per future; a later call replaces it).
 */
void		 future_set_cancel_hook(struct future *fut, future_cancel_fn fn,
		    void *arg);

/*
 * Adds a callback. Returns a handle valid until the callback has run or has
 * been removed, or NULL if fut was already complete (the callback has then
 * already run) or on allocation failure (then fn has not run; check with
 * future_state()).
 */
struct future_cb *future_add_callback(struct future *fut, future_cb_fn fn,
		    void *arg);

/*
 * Removes a callback that has not yet run; safe while fut's callbacks are
 * being run. A NULL cb, or the callback that is running now, is ignored.
 */
void		 future_remove_callback(struct future *fut, struct future_cb *cb);

/*
 * Makes dst complete as src does: the same result (borrowed from src, which
 * dst keeps referenced until dst is freed), the same error, or cancelled.
 * Cancelling dst does not cancel src: it only stops listening to it, so many
 * dst futures can share one src. Returns 0, or -1 if dst is already complete
 * or already chained, if dst is src, or on allocation failure.
 */
int		 future_chain(struct future *dst, struct future *src);

enum future_state future_state(const struct future *fut);
int		 future_is_pending(const struct future *fut);

/* The result of a done future; borrowed, valid while the future lives. */
void		*future_result(const struct future *fut);

/* The error of a failed future ("cancelled" if cancelled), else NULL. */
const char	*future_error(const struct future *fut);

/*
 * Returns a new future, owned by the caller, that completes as src does
 * unless ms milliseconds pass first: then it fails with message (copied).
 * src is not cancelled by the timeout. NULL on allocation failure.
 */
struct future	*future_timeout(struct event_base *base, struct future *src,
		    int ms, const char *message);

/*
 * Runs the event loop of base until fut completes or timeout passes (NULL:
 * no timeout). The blocking wait, for tests, start-up and tools; never call
 * it from a callback of base, nor from a future's callback (there it returns
 * -1 at once unless fut is complete). Returns 0 if fut completed, -1 on
 * timeout or if the loop has nothing left to run.
 */
int		 future_wait(struct event_base *base, struct future *fut,
		    const struct timeval *timeout);

#endif /* PUBSUBD_FUTURE_H */
