/*
 * hub_impl.h: the hub's insides, shared by its two files and nobody else.
 *
 * hub.c owns the registry: the channels, their subscribers and the
 * upstream state machine of each. hub_batch.c owns the fan-out: the
 * batches, the frames encoded into them, the segments each subscriber
 * keeps, and the end-of-turn flush. Both work on struct hub; the batch and
 * segment layouts are hub_batch.c's alone.
 */
#ifndef PUBSUBD_HUB_IMPL_H
#define PUBSUBD_HUB_IMPL_H

#include <stdint.h>

#include "hub.h"
#include "map.h"
#include "pool.h"

struct hub_seg;

enum hub_chan_state {
	HUB_IDLE = 0,
	HUB_SUBSCRIBING,
	HUB_ACTIVE,
	HUB_UNSUBSCRIBING
};

/*
 * One name: its subscribers and what Redis holds of it. Owned by the hub,
 * in h_chans[kind]: it exists while anyone wants the name or an upstream
 * operation on it is in flight.
 */
struct hub_chan {
	struct map_entry	  ch_entry;	/* in hub->h_chans[kind] */
	struct hub		 *ch_hub;	/* borrowed: the owner */
	enum upstream_kind	  ch_kind;
	enum hub_chan_state	  ch_state;
	uint32_t		  ch_refs;	/* pending + active subs */
	struct hub_sub		**ch_subs;	/* owned array of the active */
	uint32_t		  ch_nsubs;
	uint32_t		  ch_cap;
	struct future		 *ch_op;	/* owned: upstream op in flight */
	int			  ch_op_sub;	/* ch_op is a subscribe */
	int			  ch_lost;	/* Redis dropped it during ch_op */
	struct future		 *ch_ready;	/* owned: waiters' confirmation */
	size_t			  ch_namelen;
	char			  ch_name[];	/* NUL-terminated too */
};

struct hub {
	struct event_base		 *h_base;	/* borrowed */
	struct upstream			 *h_up;		/* borrowed */
	struct map			  h_chans[UPSTREAM_KINDS];
	struct hub_batch		 *h_batch[HUB_FORMS];	/* owned */
	uint32_t			  h_nform[HUB_FORMS];	/* subscribers
							   of each on-demand
							   form */
	struct hub_subscriber		**h_dirty;	/* owned array */
	uint32_t			  h_ndirty;
	uint32_t			  h_dirtycap;
	struct hub_seg			 *h_segs;	/* owned; [0] unused */
	uint32_t			  h_nsegs;	/* used, 0 included */
	uint32_t			  h_segcap;
	uint32_t			  h_segpeak;	/* since last trim */
	uint32_t			  h_segbatches;	/* flushes since then */
	struct event			 *h_flush_ev;	/* owned */
	struct event			 *h_defer_ev;	/* owned: next turn */
	struct event			 *h_retry_ev;	/* owned: refused names
							   wanted still */
	int				  h_flush_scheduled;
	int				  h_deferred;	/* h_defer_ev added */
	uint32_t			  h_batch_msgs;	/* in this batch */
	uint64_t			  h_batch_t0;	/* its start, ns */
	struct hub_stats		  h_stats;
	struct pool			  h_subs;	/* of struct hub_sub */
};

/*
 * Makes the fan-out's part of a new hub (its events and segment pool);
 * returns 0, or -1 with nothing left to free.
 */
int		 hub_batch_setup_(struct hub *hub);

/* Frees the fan-out's part of a hub: its batches, segments and events. */
void		 hub_batch_teardown_(struct hub *hub);

#endif /* PUBSUBD_HUB_IMPL_H */
