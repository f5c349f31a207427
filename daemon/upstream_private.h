/*
 * upstream_private.h: pubsubd's private channel on one Redis, and the
 * barriers that travel through it.
 *
 * Each upstream subscribes its connections to a channel of its own
 * (UPSTREAM_PRIVATE_PREFIX and a random name). A barrier publishes a token
 * to it on the command connection and is done when the token comes back
 * on the subscriber (or shard) connection: by then every message Redis
 * sent on that connection before it has arrived. Tokens of one connection
 * come back in order, so one token releases every barrier before it too.
 * Connection 0 is the subscriber connection (PUBLISH), 1 the shard one
 * (SPUBLISH).
 */
#ifndef PUBSUBD_UPSTREAM_PRIVATE_H
#define PUBSUBD_UPSTREAM_PRIVATE_H

#include <stddef.h>

struct cmdconn;
struct future;
struct upstream_private;

/*
 * Returns a new private channel with a random name, or NULL. slot >= 0:
 * the name hashes to that cluster slot (a hash tag leads it), so that a
 * cluster node serving the slot takes SSUBSCRIBE and SPUBLISH of it; -1:
 * any.
 */
struct upstream_private *upstream_private_new(int slot);

/* Frees p (NULL is fine); every barrier still waiting is done first. */
void		 upstream_private_free(struct upstream_private *p);

/* The channel's name, NUL-terminated; valid while p lives. */
const char	*upstream_private_name(const struct upstream_private *p);

/*
 * A barrier on connection k (0 or 1): publishes a token on cc (borrowed
 * for the call) and returns a new future owned by the caller, done when the
 * token comes back, or at once if it cannot be sent (cc NULL, out of
 * memory); done too if the PUBLISH fails. NULL on allocation failure.
 */
struct future	*upstream_private_barrier(struct upstream_private *p, int k,
		    struct cmdconn *cc);

/*
 * Whether a message on channel (len bytes) is on the private channel; if it
 * is, and came on connection k (0 or 1; -1: a pattern of a user matched
 * it, which only drops it) with a payload (NUL-terminated, or NULL), the
 * barriers of k up to its token are done.
 */
int		 upstream_private_message(struct upstream_private *p, int k,
		    const char *channel, size_t len, const char *payload);

/* Completes every barrier waiting (the connections are gone). */
void		 upstream_private_release(struct upstream_private *p);

#endif /* PUBSUBD_UPSTREAM_PRIVATE_H */
