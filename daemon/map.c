/*
 * map.c: intrusive chained hash map with power-of-two buckets.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "map.h"

#define MAP_MIN_BUCKETS	8

static uint64_t	map_seed;
static int	map_seeded;

static int	map_grow(struct map *);

/* Makes m an empty map. */
void
map_init(struct map *m)
{
	m->m_buckets = NULL;
	m->m_nbuckets = 0;
	m->m_count = 0;
}

/* Frees the bucket array. */
void
map_clear(struct map *m)
{
	free(m->m_buckets);
	map_init(m);
}

/*
 * Hashes a key: FNV-1a over the bytes, seeded once per process from the
 * kernel's random source, then mixed with a 64-bit finaliser so that the low
 * bits used for the bucket index depend on every input bit.
 */
uint64_t
map_hash(const void *key, size_t len)
{
	const unsigned char	*p = key;
	uint64_t		 h;
	size_t			 i;

	if (!map_seeded) {
		if (getrandom(&map_seed, sizeof(map_seed), GRND_NONBLOCK) !=
		    (ssize_t)sizeof(map_seed))
			map_seed = (uint64_t)(uintptr_t)&map_seed ^ 0x9e3779b97f4a7c15ULL;
		map_seeded = 1;
	}
	h = 0xcbf29ce484222325ULL ^ map_seed;
	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* Returns the entry with this key, or NULL. */
struct map_entry *
map_find(const struct map *m, const void *key, size_t len)
{
	struct map_entry	*e;
	uint64_t		 h;

	if (m->m_count == 0)
		return NULL;
	h = map_hash(key, len);
	for (e = m->m_buckets[h & (m->m_nbuckets - 1)]; e != NULL;
	    e = e->me_next) {
		if (e->me_hash == h && e->me_keylen == len &&
		    memcmp(e->me_key, key, len) == 0)
			return e;
	}
	return NULL;
}

/* Doubles the bucket array (or makes the first one) and rehashes. */
static int
map_grow(struct map *m)
{
	struct map_entry	**nb, *e, *next;
	size_t			  n, i;

	n = m->m_nbuckets ? m->m_nbuckets * 2 : MAP_MIN_BUCKETS;
	nb = calloc(n, sizeof(*nb));
	if (nb == NULL)
		return -1;
	for (i = 0; i < m->m_nbuckets; i++) {
		for (e = m->m_buckets[i]; e != NULL; e = next) {
			next = e->me_next;
			e->me_next = nb[e->me_hash & (n - 1)];
			nb[e->me_hash & (n - 1)] = e;
		}
	}
	free(m->m_buckets);
	m->m_buckets = nb;
	m->m_nbuckets = n;
	return 0;
}

/* Inserts e under key; the load factor is kept at most 1. */
int
map_insert(struct map *m, struct map_entry *e, const void *key, size_t len)
{
	size_t	b;

	if (m->m_count >= m->m_nbuckets && map_grow(m) == -1)
		return -1;
	e->me_hash = map_hash(key, len);
	e->me_key = key;
	e->me_keylen = len;
	b = e->me_hash & (m->m_nbuckets - 1);
	e->me_next = m->m_buckets[b];
	m->m_buckets[b] = e;
	m->m_count++;
	return 0;
}

/* Removes e from m. */
void
map_remove(struct map *m, struct map_entry *e)
{
	struct map_entry	**pp;

	pp = &m->m_buckets[e->me_hash & (m->m_nbuckets - 1)];
	while (*pp != e)
		pp = &(*pp)->me_next;
	*pp = e->me_next;
	e->me_next = NULL;
	if (--m->m_count == 0)
		map_clear(m);
}

/* Returns the number of entries. */
size_t
map_count(const struct map *m)
{
	return m->m_count;
}

/* Starts an iteration. */
void
map_iter_init(struct map_iter *it, const struct map *m)
{
	it->mi_map = m;
	it->mi_bucket = 0;
	it->mi_next = NULL;
}

/*
 * Returns the next entry; the following one is remembered first, so the
 * caller may remove the entry it was given. Inserting while iterating is not
 * allowed (it may rehash).
 */
struct map_entry *
map_iter_next(struct map_iter *it)
{
	const struct map	*m = it->mi_map;
	struct map_entry	*e;

	while (it->mi_next == NULL) {
		if (m->m_buckets == NULL || it->mi_bucket >= m->m_nbuckets)
			return NULL;
		it->mi_next = m->m_buckets[it->mi_bucket++];
	}
	e = it->mi_next;
	it->mi_next = e->me_next;
	return e;
}
