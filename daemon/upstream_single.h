/*
 * upstream_single.h: the upstream of one Redis at a fixed address (the
 * kind pubsubd runs today; see upstream.h for what every kind does).
 *
 * Its subscriber and shard connections hold the subscriptions, a command
 * connection carries pubsubd's own commands; it connects, reconnects with
 * capped exponential backoff and jitter whenever a connection is lost, and
 * checks its health with a heartbeat. When it loses Redis it loses every
 * subscription at once: on_state(0), then on_state(1) once it is back.
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

#endif /* PUBSUBD_UPSTREAM_SINGLE_H */
