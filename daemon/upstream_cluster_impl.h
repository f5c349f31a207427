/*
 * upstream_cluster_impl.h: what the two halves of the cluster upstream
 * share: upstream_cluster.c (the map, the nodes, the subscriptions) and
 * upstream_cluster_cmd.c (pubsubd's commands and barriers, routed by
 * slot). Not for anyone else.
 */
#ifndef PUBSUBD_UPSTREAM_CLUSTER_IMPL_H
#define PUBSUBD_UPSTREAM_CLUSTER_IMPL_H

#include <stddef.h>
#include <sys/queue.h>

#include "endpoint.h"
#include "map.h"
#include "upstream.h"

struct cluster_map;
struct cmdconn;
struct event;
struct future;
struct future_cb;
struct upstream_cluster_cmd;

/*
 * One master of the map, and pubsubd's connections to it (an
 * upstream_single). Owned by its cluster's uc_nodes; a node that left the
 * map is dying: it is freed on the next loop turn, never from inside its
 * own callbacks.
 */
struct upstream_cluster_node {
	struct upstream_cluster	*n_uc;		/* borrowed: its cluster */
	struct upstream		*n_up;		/* owned */
	struct endpoint		*n_ep;		/* owned: where, and how */
	char			 n_name[ENDPOINT_NAME_MAX];	/* for logs */
	int			 n_slot;	/* its private channel's slot */
	int			 n_dying;	/* left the map */
	int			 n_mark;	/* seen in the map being applied */
};

/*
 * A subscription the cluster holds or is making: channel, pattern or shard
 * channel, keyed by the kind's byte and the name. Freed once Redis holds
 * it nowhere and no operation is in flight.
 */
struct upstream_cluster_name {
	struct map_entry		 nm_entry;	/* in uc_names */
	TAILQ_ENTRY(upstream_cluster_name) nm_wait;	/* in uc_waiting */
	struct upstream_cluster	*nm_uc;		/* borrowed */
	struct upstream_cluster_node *nm_node;	/* borrowed: where held or
						   asked; NULL: nowhere */
	int			 nm_held;	/* Redis holds it at nm_node */
	int			 nm_waiting;	/* in uc_waiting */
	struct future		*nm_fut;	/* owned ref: the caller's
						   operation; NULL: none */
	int			 nm_sub;	/* it subscribes */
	int			 nm_moved;	/* MOVED answers in a row */
	struct future		*nm_inner;	/* owned: the node's */
	struct future_cb	*nm_inner_cb;	/* on nm_inner, until run */
	enum upstream_kind	 nm_kind;
	size_t			 nm_len;	/* of the name */
	char			 nm_key[];	/* kind byte, name, NUL */
};
TAILQ_HEAD(upstream_cluster_names, upstream_cluster_name);
TAILQ_HEAD(upstream_cluster_cmds, upstream_cluster_cmd);

/*
 * The cluster. Owned by whoever upstream_cluster_new() returned its uc_if
 * to, freed by upstream_free().
 */
struct upstream_cluster {
	struct upstream		 uc_if;		/* first: what callers hold */
	struct event_base	*uc_base;	/* borrowed */
	struct upstream_cbs	 uc_cbs;
	void			*uc_arg;	/* borrowed: the cbs' */
	struct upstream_conf	 uc_conf;	/* uc_conf.redis is *uc_login */
	struct endpoint		*uc_login;	/* owned: every node's
						   credentials and TLS */
	struct endpoint		**uc_seeds;	/* owned: uc_nseeds */
	size_t			 uc_nseeds;
	struct cluster_map	*uc_map;	/* owned, or NULL: none yet */
	struct upstream_cluster_node **uc_nodes;	/* owned: uc_nnodes,
							   dying ones too */
	size_t			 uc_nnodes;
	struct upstream_cluster_node *uc_home;	/* borrowed: channels' and
						   patterns' node, or NULL */
	struct map		 uc_names;	/* of upstream_cluster_name */
	struct upstream_cluster_names uc_waiting;	/* names that wait
							   for a master */
	struct upstream_cluster_cmds uc_cmds;	/* commands in flight */
	int			 uc_started;
	int			 uc_up;		/* told on_state(1) */
	struct upstream_stats	*uc_stats;	/* owned: what stats() says */
	struct upstream_facts	*uc_facts;	/* owned: before any node */

	/* Learning the map. */
	int			 uc_asking;	/* a CLUSTER SLOTS is out */
	int			 uc_ask_again;	/* asked for meanwhile */
	size_t			 uc_ask_next;	/* the next candidate */
	size_t			 uc_ask_tries;	/* candidates tried */
	struct cmdconn		*uc_ask;	/* owned: to the candidate */
	struct endpoint		*uc_ask_ep;	/* owned: its address */
	struct future		*uc_ask_fut;	/* owned: the reply awaited */
	struct future_cb	*uc_ask_cb;	/* on it, until run */
	int			 uc_backoff_ms;
	struct event		*uc_refresh_ev;	/* owned: periodic, retries */
	struct event		*uc_wait_ev;	/* owned: while names wait */
	struct event		*uc_reap_ev;	/* owned: frees dying nodes */
};

/*
 * The master that serves slot, connected, or NULL; and the home node (the
 * one connected master that channels and patterns go to), chosen anew if
 * the last one is gone.
 */
struct upstream_cluster_node *upstream_cluster_owner(
		    struct upstream_cluster *uc, unsigned slot);
struct upstream_cluster_node *upstream_cluster_home(
		    struct upstream_cluster *uc);

/* Learns the map again, now (or once the request out is answered). */
void		 upstream_cluster_refresh(struct upstream_cluster *uc);

/* upstream_cluster_cmd.c: the operations of upstream.h it implements. */
struct future	*upstream_cluster_command(struct upstream *u, int argc,
		    const char *const *argv, const size_t *argvlen);
struct future	*upstream_cluster_barrier(struct upstream *u,
		    enum upstream_kind kind);
/* Sends again the commands that wait for a new map; fails them if none. */
void		 upstream_cluster_cmds_retry(struct upstream_cluster *uc,
		    int map_ok);
/* Fails every command in flight (the cluster is freed). */
void		 upstream_cluster_cmds_free(struct upstream_cluster *uc);

#endif /* PUBSUBD_UPSTREAM_CLUSTER_IMPL_H */
