/*
 * upstream_cluster.h: the upstream of a Redis Cluster (see upstream.h for
 * what every kind does).
 *
 * It learns the cluster's slot map (CLUSTER SLOTS) from its seeds or any
 * node it knows, and keeps an upstream_single (upstream_single.h) for each
 * master that serves a slot. A shard channel is subscribed on the master
 * of its slot; channels and patterns, which Redis Cluster broadcasts to
 * every node, on one master (the home node). When a node fails, a slot
 * moves, or Redis drops a shard channel unasked, the name is on_lost() and
 * the owner subscribes it again, wherever it now belongs; a name whose
 * slot no connected master serves waits until one does. The map is learnt
 * again on MOVED, on a lost node or channel, every
 * UPSTREAM_CLUSTER_REFRESH_MS, and every UPSTREAM_CLUSTER_WAIT_MS while
 * a name waits.
 *
 * It is up (on_state(1)) while it knows a map and at least one master is
 * connected; when the last one is lost, it is down and holds nothing.
 */
#ifndef PUBSUBD_UPSTREAM_CLUSTER_H
#define PUBSUBD_UPSTREAM_CLUSTER_H

#include <stddef.h>

#include "upstream.h"

struct event_base;
struct endpoint;

#define UPSTREAM_CLUSTER_REFRESH_MS	5000	/* with nothing amiss */
#define UPSTREAM_CLUSTER_WAIT_MS	200	/* while a name waits */
#define UPSTREAM_CLUSTER_SEEDS_MAX	64	/* conf's maximum */
#define UPSTREAM_CLUSTER_MOVED_MAX	50	/* MOVED answers in a row to a
						   (un)subscription, about 10 s
						   of waits: it fails */

/* Where the cluster is first reached; copied. */
struct upstream_cluster_conf {
	const struct endpoint	*seeds;		/* nseeds nodes; conf->redis
						   gives every node's login
						   and TLS */
	size_t			 nseeds;	/* >= 1 */
};

/*
 * Returns a new upstream of the cluster cc's seeds belong to, owned by the
 * caller and freed with upstream_free(), calling cbs (copied) with arg
 * (borrowed) on base (borrowed); NULL on allocation failure. It does not
 * connect until upstream_start().
 */
struct upstream	*upstream_cluster_new(struct event_base *base,
		    const struct upstream_conf *conf,
		    const struct upstream_cluster_conf *cc,
		    const struct upstream_cbs *cbs, void *arg);

#endif /* PUBSUBD_UPSTREAM_CLUSTER_H */
