/*
 * upstream_sentinel.h: the upstream of the Redis master that a set of
 * Redis Sentinels names, followed through failovers (see upstream.h for
 * what every kind does).
 *
 * It asks the sentinels in turn where the master is (SENTINEL
 * get-master-addr-by-name) and believes an answer only once ROLE on that
 * address says "master"; it holds a subscription to +switch-master on one
 * sentinel (the next one when that one goes away), so that a failover is
 * followed the moment Sentinel announces it; it learns further sentinels
 * (SENTINEL sentinels) and asks again whenever the master's connection is
 * lost, the watch is lost, and every few seconds. The connections to the
 * master are an upstream_single's, moved to each new master: its owner
 * sees on_state(0), then on_state(1) at the new master, and subscribes
 * again.
 */
#ifndef PUBSUBD_UPSTREAM_SENTINEL_H
#define PUBSUBD_UPSTREAM_SENTINEL_H

#include <stddef.h>

#include "upstream.h"

struct event_base;
struct endpoint;

/* How often the sentinels are asked again, with nothing amiss; ms. */
#define UPSTREAM_SENTINEL_CHECK_MS	5000
/*
 * For this long after a +switch-master moved it, a sentinel naming
 * another master is believed only once the announced one no longer says
 * master (a sentinel may not have heard of the switch yet); ms.
 */
#define UPSTREAM_SENTINEL_HOLD_MS	(2 * UPSTREAM_SENTINEL_CHECK_MS)
/* The most sentinels it keeps, configured and learnt (conf's maximum). */
#define UPSTREAM_SENTINEL_MAX		64

/* Which master, and the sentinels that know it; all copied. */
struct upstream_sentinel_conf {
	const char		*master;	/* the sentinels' name for it */
	const struct endpoint	*nodes;		/* nnodes sentinels, with their
						   own credentials and TLS */
	size_t			 nnodes;	/* >= 1 */
};

/*
 * Returns a new upstream of the master that sc's sentinels name, owned by
 * the caller and freed with upstream_free(), calling cbs (copied) with arg
 * on base (both borrowed, outliving it); NULL on allocation failure.
 * conf's timings hold for the master and the sentinels alike, and its
 * endpoint gives the master's credentials and TLS (its address is not
 * used). It asks no one until upstream_start().
 */
struct upstream	*upstream_sentinel_new(struct event_base *base,
		    const struct upstream_conf *conf,
		    const struct upstream_sentinel_conf *sc,
		    const struct upstream_cbs *cbs, void *arg);

#endif /* PUBSUBD_UPSTREAM_SENTINEL_H */
