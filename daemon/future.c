/*
 * future.c: reference-counted futures and the trampoline that completes them.
 *
 * Completing a future never runs its callbacks on the completer's stack more
 * than one level deep: the future is appended to a file-static queue, and
 * whoever is outermost (the first completion not itself inside a dispatch)
 * drains that queue, running for each future first its cancel hook (if it
 * was cancelled) and then its callbacks, one at a time, in add order. A
 * completion from inside a callback only appends to the queue, so a chain of
 * any length completes in a loop, at constant stack depth.
 *
 * Callbacks stay on their future's list until the moment they run, so
 * removing one that has not run yet (even while that future is being
 * dispatched) simply unlinks and frees it. The queue holds a reference on
 * every future in it, so a callback may drop the last outside reference.
 *
 * The queue is the only state shared between futures; like the rest of the
 * daemon, futures belong to the one thread that runs the event loop.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/queue.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "future.h"

/* A registered callback; owned by its future until it runs or is removed. */
struct future_cb {
	TAILQ_ENTRY(future_cb)	 fc_entry;
	future_cb_fn		 fc_fn;
	void			*fc_arg;	/* borrowed */
	int			 fc_linked;	/* on its future's list */
};
TAILQ_HEAD(future_cbs, future_cb);

struct future {
	int			 f_refs;
	enum future_state	 f_state;
	void			*f_result;	/* owned if f_free_result */
	future_free_fn		 f_free_result;
	char			*f_error;	/* owned; NULL: no memory */
	future_cancel_fn	 f_cancel_fn;
	void			*f_cancel_arg;	/* borrowed */
	int			 f_cancel_pending; /* hook due */
	struct future_cbs	 f_cbs;		/* owned, in add order */
	struct future		*f_src;		/* owned ref (chain) */
	struct future_cb	*f_src_cb;	/* ours on f_src */
	TAILQ_ENTRY(future)	 f_qentry;	/* on future_queue */
};
TAILQ_HEAD(future_list, future);

/* The trampoline: completed futures still to dispatch (each referenced). */
static struct future_list future_queue = TAILQ_HEAD_INITIALIZER(future_queue);

/* Whether a dispatch is running, so that nested completions only queue. */
static int future_draining;

static const char future_oom[] = "out of memory";

static struct future	*future_destroy(struct future *);
static void		 future_complete(struct future *, enum future_state);
static void		 future_drain(void);
static void		 future_run_now(struct future *, future_cb_fn,
			    void *);
static void		 future_chain_done(struct future *, void *);
static void		 future_wait_done(struct future *, void *);
static void		 future_wait_expired(evutil_socket_t, short, void *);

/* Returns a new pending future with one reference owned by the caller. */
struct future *
future_new(void)
{
	struct future	*fut;

	if ((fut = calloc(1, sizeof(*fut))) == NULL)
		return NULL;
	fut->f_refs = 1;
	fut->f_state = FUTURE_PENDING;
	TAILQ_INIT(&fut->f_cbs);
	return fut;
}

/* Adds a reference; returns fut. */
struct future *
future_ref(struct future *fut)
{
	fut->f_refs++;
	return fut;
}

/*
 * Drops a reference; the last one frees the future. A chained future's
 * source is released in the same loop, not by recursion, so freeing a long
 * chain uses constant stack.
 */
void
future_unref(struct future *fut)
{
	while (fut != NULL && --fut->f_refs == 0)
		fut = future_destroy(fut);
}

/* Frees fut and all it owns but its source; returns that source, or NULL. */
static struct future *
future_destroy(struct future *fut)
{
	struct future_cb	*cb;
	struct future		*src;

	src = fut->f_src;
	if (fut->f_src_cb != NULL)
		future_remove_callback(src, fut->f_src_cb);
	while ((cb = TAILQ_FIRST(&fut->f_cbs)) != NULL) {
		TAILQ_REMOVE(&fut->f_cbs, cb, fc_entry);
		free(cb);
	}
	if (fut->f_free_result != NULL)
		fut->f_free_result(fut->f_result);
	free(fut->f_error);
	free(fut);
	return src;
}

/*
 * Marks fut complete, stops listening to a chained source, and queues its
 * dispatch; runs the queue unless a dispatch further up the stack will.
 */
static void
future_complete(struct future *fut, enum future_state state)
{
	fut->f_state = state;
	if (fut->f_src_cb != NULL) {
		future_remove_callback(fut->f_src, fut->f_src_cb);
		fut->f_src_cb = NULL;
	}
	future_ref(fut);	/* the queue's */
	TAILQ_INSERT_TAIL(&future_queue, fut, f_qentry);
	if (!future_draining)
		future_drain();
}

/*
 * Runs queued dispatches until none is left: for the future at the head, its
 * cancel hook if still due, else its next callback, else it leaves the queue.
 */
static void
future_drain(void)
{
	struct future		*fut;
	struct future_cb	*cb;

	future_draining = 1;
	while ((fut = TAILQ_FIRST(&future_queue)) != NULL) {
		if (fut->f_cancel_pending) {
			fut->f_cancel_pending = 0;
			if (fut->f_cancel_fn != NULL)
				fut->f_cancel_fn(fut, fut->f_cancel_arg);
			continue;
		}
		if ((cb = TAILQ_FIRST(&fut->f_cbs)) != NULL) {
			TAILQ_REMOVE(&fut->f_cbs, cb, fc_entry);
			cb->fc_linked = 0;
			cb->fc_fn(fut, cb->fc_arg);
			free(cb);
			continue;
		}
		TAILQ_REMOVE(&future_queue, fut, f_qentry);
		future_unref(fut);
	}
	future_draining = 0;
}

/* Runs a callback on a complete future now, as part of a dispatch. */
static void
future_run_now(struct future *fut, future_cb_fn fn, void *arg)
{
	future_ref(fut);
	if (future_draining)
		fn(fut, arg);
	else {
		future_draining = 1;
		fn(fut, arg);
		future_drain();
	}
	future_unref(fut);
}

/* Completes fut with result, owned by fut if free_result is not NULL. */
int
future_set_result(struct future *fut, void *result, future_free_fn free_result)
{
	if (fut->f_state != FUTURE_PENDING) {
		if (free_result != NULL)
			free_result(result);
		return -1;
	}
	fut->f_result = result;
	fut->f_free_result = free_result;
	future_complete(fut, FUTURE_DONE);
	return 0;
}

/* Fails fut with a printf-style message. */
int
future_set_error(struct future *fut, const char *fmt, ...)
{
	va_list	ap;
	int	rv;

	va_start(ap, fmt);
	rv = future_set_verror(fut, fmt, ap);
	va_end(ap);
	return rv;
}

/* Fails fut with a message formatted from fmt and ap (copied). */
int
future_set_verror(struct future *fut, const char *fmt, va_list ap)
{
	va_list	 aq;
	char	*msg = NULL;
	int	 len;

	if (fut->f_state != FUTURE_PENDING)
		return -1;
	va_copy(aq, ap);
	len = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (len >= 0 && (msg = malloc((size_t)len + 1)) != NULL)
		vsnprintf(msg, (size_t)len + 1, fmt, ap);
	fut->f_error = msg;
	future_complete(fut, FUTURE_FAILED);
	return 0;
}

/* Cancels fut if pending: its cancel hook runs first, then its callbacks. */
int
future_cancel(struct future *fut)
{
	if (fut->f_state != FUTURE_PENDING)
		return -1;
	fut->f_cancel_pending = fut->f_cancel_fn != NULL;
	future_complete(fut, FUTURE_CANCELLED);
	return 0;
}

/* Sets (or with fn NULL clears) the hook run when fut is cancelled. */
void
future_set_cancel_hook(struct future *fut, future_cancel_fn fn, void *arg)
{
	fut->f_cancel_fn = fn;
	fut->f_cancel_arg = arg;
}

/*
 * Adds a callback, or runs it at once if fut is complete; returns its handle,
 * or NULL if it has run already or could not be allocated.
 */
struct future_cb *
future_add_callback(struct future *fut, future_cb_fn fn, void *arg)
{
	struct future_cb	*cb;

	if (fut->f_state != FUTURE_PENDING) {
		future_run_now(fut, fn, arg);
		return NULL;
	}
	if ((cb = malloc(sizeof(*cb))) == NULL)
		return NULL;
	cb->fc_fn = fn;
	cb->fc_arg = arg;
	cb->fc_linked = 1;
	TAILQ_INSERT_TAIL(&fut->f_cbs, cb, fc_entry);
	return cb;
}

/*
 * Removes a callback that has not run yet; a NULL handle, or that of the
 * callback running right now, is ignored.
 */
void
future_remove_callback(struct future *fut, struct future_cb *cb)
{
	if (cb == NULL || !cb->fc_linked)
		return;
	TAILQ_REMOVE(&fut->f_cbs, cb, fc_entry);
	free(cb);
}

/* Makes dst complete as src does; dst keeps src referenced until freed. */
int
future_chain(struct future *dst, struct future *src)
{
	struct future_cb	*cb;
	int			 rv = -1;

	future_ref(dst);
	if (dst == src || dst->f_state != FUTURE_PENDING || dst->f_src != NULL)
		goto out;
	dst->f_src = future_ref(src);
	cb = future_add_callback(src, future_chain_done, dst);
	if (cb == NULL && src->f_state == FUTURE_PENDING) {
		dst->f_src = NULL;
		future_unref(src);
		goto out;
	}
	dst->f_src_cb = cb;	/* NULL if src was complete: dst is too */
	rv = 0;
out:
	future_unref(dst);
	return rv;
}

/* Completes a chained future (arg) as its source src completed. */
static void
future_chain_done(struct future *src, void *arg)
{
	struct future	*dst = arg;

	dst->f_src_cb = NULL;
	switch (src->f_state) {
	case FUTURE_DONE:
		future_set_result(dst, src->f_result, NULL);
		break;
	case FUTURE_FAILED:
		future_set_error(dst, "%s", future_error(src));
		break;
	case FUTURE_CANCELLED:
		future_cancel(dst);
		break;
	case FUTURE_PENDING:
		break;
	}
}

/* Returns the state of fut. */
enum future_state
future_state(const struct future *fut)
{
	return fut->f_state;
}

/* Returns whether fut is still pending. */
int
future_is_pending(const struct future *fut)
{
	return fut->f_state == FUTURE_PENDING;
}

/* Returns the result of a done future (borrowed), else NULL. */
void *
future_result(const struct future *fut)
{
	return fut->f_state == FUTURE_DONE ? fut->f_result : NULL;
}

/* Returns the error of a failed or cancelled future, else NULL. */
const char *
future_error(const struct future *fut)
{
	switch (fut->f_state) {
	case FUTURE_FAILED:
		return fut->f_error != NULL ? fut->f_error : future_oom;
	case FUTURE_CANCELLED:
		return "cancelled";
	case FUTURE_PENDING:
	case FUTURE_DONE:
		break;
	}
	return NULL;
}

/* Notes for future_wait() that its future completed. */
static void
future_wait_done(struct future *fut, void *arg)
{
	int	*done = arg;

	(void)fut;
	*done = 1;
}

/* Notes for future_wait() that its timeout passed. */
static void
future_wait_expired(evutil_socket_t fd, short what, void *arg)
{
	int	*expired = arg;

	(void)fd;
	(void)what;
	*expired = 1;
}

/*
 * Runs base one turn at a time until fut completes, the timeout passes or
 * the loop has nothing left to run; holds its own reference on fut and
 * removes its timer and callback whatever the outcome.
 */
int
future_wait(struct event_base *base, struct future *fut,
    const struct timeval *timeout)
{
	struct future_cb	*cb = NULL;
	struct event		*timer = NULL;
	int			 done = 0, expired = 0, rv = -1;

	future_ref(fut);
	if (fut->f_state != FUTURE_PENDING) {
		rv = 0;
		goto out;
	}
	if (future_draining)
		goto out;	/* it could not complete before we return */
	if ((cb = future_add_callback(fut, future_wait_done, &done)) == NULL)
		goto out;
	if (timeout != NULL) {
		timer = evtimer_new(base, future_wait_expired, &expired);
		if (timer == NULL || evtimer_add(timer, timeout) == -1)
			goto out;
	}
	while (!done && !expired) {
		if (event_base_loop(base, EVLOOP_ONCE) != 0)
			break;
	}
	if (done) {
		cb = NULL;	/* it has run, so the handle is gone */
		rv = 0;
	}
out:
	if (timer != NULL)
		event_free(timer);
	future_remove_callback(fut, cb);
	future_unref(fut);
	return rv;
}

/* A deadline on a future: the timer and what it fails. */
struct future_deadline {
	struct event	*fd_ev;		/* owned: the timer */
	struct future	*fd_fut;	/* owned ref: the future it fails */
	char		*fd_msg;	/* owned */
};

/* Frees a deadline once its future is complete (a callback of it). */
static void
future_deadline_done(struct future *fut, void *arg)
{
	struct future_deadline	*d = arg;

	event_free(d->fd_ev);
	free(d->fd_msg);
	future_unref(d->fd_fut);
	free(d);
}

/* The deadline passed first. */
static void
future_deadline_expired(evutil_socket_t fd, short what, void *arg)
{
	struct future_deadline	*d = arg;

	future_set_error(d->fd_fut, "%s", d->fd_msg);
}

/* A future that fails with message if src takes longer than ms. */
struct future *
future_timeout(struct event_base *base, struct future *src, int ms,
    const char *message)
{
	struct future_deadline	*d;
	struct future		*dst;
	struct timeval		 tv;

	if ((dst = future_new()) == NULL)
		return NULL;
	if (future_chain(dst, src) == -1) {
		future_set_error(dst, "out of memory");
		return dst;
	}
	if (!future_is_pending(dst))
		return dst;
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->fd_msg = strdup(message)) == NULL ||
	    (d->fd_ev = evtimer_new(base, future_deadline_expired, d)) ==
	    NULL) {
		if (d != NULL)
			free(d->fd_msg);
		free(d);
		return dst;	/* no deadline: as src */
	}
	d->fd_fut = future_ref(dst);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(d->fd_ev, &tv);
	future_add_callback(dst, future_deadline_done, d);
	return dst;
}
