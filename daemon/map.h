/*
 * map.h: an intrusive hash map keyed by binary strings.
 *
 * The object stored embeds a struct map_entry and keeps its own key; the map
 * borrows the key and never allocates per entry (only its bucket array), so
 * one object can sit in several maps at no extra cost. Keys are hashed with a
 * per-process random seed so that clients cannot choose colliding names.
 */
#ifndef PUBSUBD_MAP_H
#define PUBSUBD_MAP_H

#include <stddef.h>
#include <stdint.h>

struct map_entry {
	struct map_entry	*me_next;	/* bucket chain */
	uint64_t		 me_hash;
	const void		*me_key;	/* borrowed from the object */
	size_t			 me_keylen;
};

struct map {
	struct map_entry	**m_buckets;	/* owned; NULL while empty */
	size_t			  m_nbuckets;	/* a power of two, or 0 */
	size_t			  m_count;
};

/* Iterates a map; removing the current entry while iterating is allowed. */
struct map_iter {
	const struct map	*mi_map;
	size_t			 mi_bucket;
	struct map_entry	*mi_next;
};

/* Recovers the object that embeds an entry. */
#define MAP_ITEM(entry, type, member)					\
	((type *)(void *)((char *)(entry) - offsetof(type, member)))

/* Makes m an empty map (no allocation until the first insert). */
void		 map_init(struct map *m);

/* Frees the bucket array; entries are the caller's. */
void		 map_clear(struct map *m);

/* Returns the entry with this key, or NULL. */
struct map_entry *map_find(const struct map *m, const void *key, size_t len);

/*
 * Inserts e under key (borrowed: it must live as long as e is in the map).
 * The key must not be present already. Returns 0, or -1 if the bucket array
 * could not grow (e is then not inserted).
 */
int		 map_insert(struct map *m, struct map_entry *e, const void *key,
		    size_t len);

/* Removes e, which must be in m. */
void		 map_remove(struct map *m, struct map_entry *e);

/* Number of entries. */
size_t		 map_count(const struct map *m);

void		 map_iter_init(struct map_iter *it, const struct map *m);

/* Returns the next entry or NULL at the end. */
struct map_entry *map_iter_next(struct map_iter *it);

/* The hash the map uses; exposed for tests. */
uint64_t	 map_hash(const void *key, size_t len);

#endif /* PUBSUBD_MAP_H */
