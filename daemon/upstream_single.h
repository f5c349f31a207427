/*
 * upstream_single.h: the upstream of one Redis at a fixed address (the
 * kind pubsubd runs today; see upstream.h for what every kind does).
 *
 * Its subscriber and shard connections hold the subscriptions, a command
 * connection carries pubsubd's own commands; it connects, reconnects with
 * capped exponential backoff and jitter whenever a connection is lost, and
 * checks its health with a heartbeat. When it loses Redis it loses every
 * subscription at once: on_state(0), then on_state(1) once it is back; a
 * shard channel that Redis drops unasked (a cluster's slot moved) is
 * on_lost().
 */
#ifndef PUBSUBD_UPSTREAM_SINGLE_H
#define PUBSUBD_UPSTREAM_SINGLE_H

#include "upstream.h"

struct event_base;

/*
 * Returns a new upstream of the Redis conf names (conf is copied), owned
 * by the caller and freed with upstream_free(), that calls cbs (copied)
 * with arg (borrowed) on base (borrowed; both must outlive it); NULL on
 * allocation failure. It does not connect until upstream_start().
 */
struct upstream	*upstream_single_new(struct event_base *base,
		    const struct upstream_conf *conf,
		    const struct upstream_cbs *cbs, void *arg);

/*
 * The same for one master of a Redis Cluster (upstream_cluster.c): its
 * private channel (upstream_private.h) hashes to slot, one the node serves,
 * for a node takes SSUBSCRIBE only of its own slots. Such an upstream also
 * calls on_lost() when the node lets go of a shard channel unasked.
 */
struct upstream	*upstream_single_new_node(struct event_base *base,
		    const struct upstream_conf *conf, int slot,
		    const struct upstream_cbs *cbs, void *arg);

/*
 * Moves a node's private channel to slot (the node no longer serves the
 * old one): if it differs, the node is reached anew, losing what it held
 * (on_state(0), then (1)). Returns 0, or -1 on allocation failure with
 * nothing changed.
 */
int		 upstream_single_set_slot(struct upstream *up, int slot);

#endif /* PUBSUBD_UPSTREAM_SINGLE_H */
