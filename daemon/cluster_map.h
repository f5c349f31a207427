/*
 * cluster_map.h: Redis Cluster's key space as pubsubd needs it: the slot
 * of a key (CRC16 of the key, or of its hash tag, modulo 16384, as Redis
 * computes it) and which master serves each slot, read from a CLUSTER
 * SLOTS reply.
 */
#ifndef PUBSUBD_CLUSTER_MAP_H
#define PUBSUBD_CLUSTER_MAP_H

#include <stddef.h>
#include <stdint.h>

struct cmdconn_reply;

#define CLUSTER_SLOTS		16384
#define CLUSTER_MASTERS_MAX	1024	/* Redis' own advice: at most 1000 */

/*
 * The slot of a key of len bytes: if it holds a '{' followed later by a
 * '}' with at least one byte between them, only the bytes between the
 * first '{' and the first '}' after it count (the hash tag).
 */
unsigned	 cluster_map_slot(const char *key, size_t len);

/*
 * Whether the keys argv[first..argc-1] (argvlen[i] bytes each) hash to
 * more than one slot: a cluster node refuses such a command (CROSSSLOT).
 */
int		 cluster_map_crossslot(int argc, const char *const *argv,
		    const size_t *argvlen, int first);

/* One master of the map. */
struct cluster_master {
	char	*cm_host;	/* owned: as the cluster announces it */
	int	 cm_port;
	char	*cm_id;		/* owned: its node id, or "" if not said */
	size_t	 cm_slots;	/* how many slots it serves */
};

/*
 * Who serves what. Owned by whoever made it with cluster_map_new(), freed
 * with cluster_map_free().
 */
struct cluster_map {
	struct cluster_master	*cm_masters;	/* owned: cm_nmasters */
	size_t			 cm_nmasters;
	uint16_t		 cm_owner[CLUSTER_SLOTS];
					/* 1 + the index of a slot's master in
					   cm_masters, or 0: no one serves it */
	size_t			 cm_covered;	/* slots someone serves */
};

/*
 * Reads a CLUSTER SLOTS reply (an array of [start, end, [host, port, id,
 * ...], replicas...]) into a new map. Returns it, or NULL with the reason
 * in err (a reply of another shape, a slot out of range or served twice,
 * out of memory). An empty host ("" or "?") means the node that answered:
 * answered_host is used instead.
 */
struct cluster_map *cluster_map_new(const struct cmdconn_reply *r,
		    const char *answered_host, char *err, size_t errlen);
void		 cluster_map_free(struct cluster_map *map);

/* The master that serves slot, or NULL. */
const struct cluster_master *cluster_map_owner(const struct cluster_map *map,
		    unsigned slot);

/* The index in cm_masters of host:port, or -1. */
int		 cluster_map_find(const struct cluster_map *map,
		    const char *host, int port);

/*
 * Follows a node's "MOVED <slot> <host>:<port>" answer (err) in map: if
 * host:port is a master of the map, it serves slot from now on (until a
 * new map says otherwise) and 1 is returned; 0 if err is no MOVED answer,
 * is malformed, or names a node the map does not know (then only a new
 * map helps). An empty host means the node that answered: answered_host.
 */
int		 cluster_map_moved(struct cluster_map *map, const char *err,
		    const char *answered_host);

#endif /* PUBSUBD_CLUSTER_MAP_H */
