/*
 * upstream_single_health.c: the single upstream's watch over its own
 * connections: the deadline for connecting, and the heartbeat that finds a
 * hung Redis (see upstream_single.c).
 */
#include "config.h"

#include <stdio.h>

#include <event2/event.h>

#include "future.h"
#include "upstream.h"
#include "upstream_single_impl.h"

/* Connecting (TCP, then the private channel's confirmations) took too long. */
void
upstream_single_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upstream_single	*up = arg;

	if (!up->up_connected)
		upstream_single_lost(up, "connect timed out");
}

/*
 * The heartbeat: a barrier through the private channel every interval. If
 * one is out and nothing at all has come from Redis for health_timeout,
 * Redis is hung (or the network is): drop the connection and reconnect.
 * A heartbeat late behind a flood of messages is not a failure: the
 * messages show that the connection lives. Nor is a Redis busy for a
 * moment (a slow command, a large fan-out of its own): a reconnect loses
 * what is published meanwhile, so the timeout is several intervals.
 */
void
upstream_single_health_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upstream_single	*up = arg;
	long long	 now = upstream_now_ms(), silent;
	char		 why[80];

	if (up->up_rx != up->up_rx_seen) {
		up->up_rx_seen = up->up_rx;
		up->up_rx_ms = now;
	}
	if (!up->up_connected)
		return;
	if (up->up_heartbeat != NULL) {
		if ((silent = now - up->up_rx_ms) < up->up_conf.health_timeout)
			return;		/* late: wait on */
		up->up_stats.health_failures++;
		snprintf(why, sizeof(why), "health check failed: nothing from "
		    "redis for %lld ms", silent);
		upstream_single_lost(up, why);
		return;
	}
	up->up_heartbeat = upstream_single_barrier(&up->up_if,
	    UPSTREAM_CHANNEL);
	if (up->up_heartbeat == NULL)
		return;
	future_add_callback(up->up_heartbeat, upstream_single_heartbeat_done,
	    up);
}

/* A heartbeat came back (or was let go when the connection was lost). */
void
upstream_single_heartbeat_done(struct future *fut, void *arg)
{
	struct upstream_single	*up = arg;

	if (fut != up->up_heartbeat)
		return;
	future_unref(up->up_heartbeat);
	up->up_heartbeat = NULL;
}

/* Forgets the heartbeat in flight. */
void
upstream_single_heartbeat_drop(struct upstream_single *up)
{
	struct future	*hb = up->up_heartbeat;

	if (hb == NULL)
		return;
	up->up_heartbeat = NULL;
	future_cancel(hb);
	future_unref(hb);
}
