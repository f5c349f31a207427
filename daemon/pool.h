/*
 * pool.h: a pool of fixed-size objects, for what every client keeps for as
 * long as it is connected (the client itself, its subscriptions).
 *
 * Objects are cut from 32 KiB chunks that hold nothing else, so the pages
 * of long-lived objects never hold the short-lived memory of a request: a
 * burst of connections and subscribes then leaves no page resident for a
 * few lasting objects once its transient memory is freed. A chunk is handed
 * back to malloc once all its objects are (one empty chunk is kept, so a
 * client coming and going at a chunk's edge does not make and free a chunk
 * each time); malloc_trim() then returns its pages to the system.
 *
 * Under AddressSanitizer, free objects are poisoned: using one after
 * pool_put(), or putting it twice, is reported as for malloc's memory.
 */
#ifndef PUBSUBD_POOL_H
#define PUBSUBD_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

/*
 * The size (and the alignment) of a chunk. Small enough that glibc serves
 * an aligned one from the heap (64 KiB asked 128 KiB of mmap() for each,
 * which mallinfo counted whole), large enough to hold dozens of clients.
 */
#define POOL_CHUNK	(32 * 1024)

struct pool_chunk;
TAILQ_HEAD(pool_chunks, pool_chunk);

/*
 * A pool. Embedded by its user; the fields are the pool module's. Not
 * thread-safe (the daemon has one thread).
 */
struct pool {
	struct pool_chunks	 p_all;		/* owned: every chunk */
	struct pool_chunks	 p_partial;	/* of p_all: with a free object */
	struct pool_chunk	*p_spare;	/* of p_all: one empty, or NULL */
	size_t			 p_size;	/* of an object, rounded up */
	uint32_t		 p_per_chunk;	/* objects a chunk holds */
	size_t			 p_live;	/* objects handed out */
	size_t			 p_chunks;	/* in p_all */
};

/*
 * Makes pool an empty pool of objects of size bytes (at most a quarter of a
 * chunk: larger objects belong to malloc). Allocates nothing yet.
 */
void		 pool_init(struct pool *pool, size_t size);

/*
 * Returns a zeroed object, owned by the caller until pool_put(), or NULL
 * out of memory.
 */
void		*pool_get(struct pool *pool);

/* Gives obj (from pool_get() of this pool; NULL is allowed) back. */
void		 pool_put(struct pool *pool, void *obj);

/*
 * Frees every chunk. Objects still out are freed with them: their owner
 * must not use them any more (pool_live() says how many there were).
 */
void		 pool_destroy(struct pool *pool);

/* Objects handed out and not yet put back. */
size_t		 pool_live(const struct pool *pool);

/* Bytes of chunks the pool holds (its memory, the spare chunk too). */
size_t		 pool_bytes(const struct pool *pool);

#endif /* PUBSUBD_POOL_H */
