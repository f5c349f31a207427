/*
 * pool.c: fixed-size objects cut from chunks of their own (see pool.h).
 *
 * A chunk is POOL_CHUNK bytes aligned to POOL_CHUNK, so the chunk of an
 * object is found by masking its address. It starts with its header, then
 * the objects. Objects are handed out first from the chunk's free list
 * (those put back), then from the part never used yet, so a new chunk's
 * pages are touched only as objects are taken from them. The chunks that
 * have a free object are listed in the pool; a full one is not, and comes
 * back on the list when one of its objects is put back.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pool.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_ASAN	1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(POOL_ASAN)
#define POOL_ASAN	1
#endif

#ifdef POOL_ASAN
#include <sanitizer/asan_interface.h>
#define POOL_POISON(p, n)	ASAN_POISON_MEMORY_REGION((p), (n))
#define POOL_UNPOISON(p, n)	ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POOL_POISON(p, n)	do { } while (0)
#define POOL_UNPOISON(p, n)	do { } while (0)
#endif

/*
 * Objects are aligned to this: enough for pointers and 64-bit integers
 * (what our structs hold), and no padding wasted to reach 16.
 */
#define POOL_ALIGN	8

/* The header at the start of every chunk. */
struct pool_chunk {
	TAILQ_ENTRY(pool_chunk)	 pc_entry;	/* p_partial, if pc_listed */
	TAILQ_ENTRY(pool_chunk)	 pc_all;	/* p_all */
	struct pool		*pc_pool;	/* borrowed: the owner */
	void			*pc_free;	/* free list, through objects */
	uint32_t		 pc_nfree;	/* free: listed or never used */
	uint32_t		 pc_next;	/* first never used */
	int			 pc_listed;
};

/* Where the objects start in a chunk. */
#define POOL_HDR	((sizeof(struct pool_chunk) + 15) & ~(size_t)15)

static struct pool_chunk *pool_chunk_new(struct pool *);
static void	pool_chunk_free(struct pool *, struct pool_chunk *);

/* Makes an empty pool of objects of size bytes. */
void
pool_init(struct pool *pool, size_t size)
{
	memset(pool, 0, sizeof(*pool));
	TAILQ_INIT(&pool->p_partial);
	TAILQ_INIT(&pool->p_all);
	if (size < sizeof(void *))
		size = sizeof(void *);	/* room for the free list's link */
	size = (size + POOL_ALIGN - 1) & ~(size_t)(POOL_ALIGN - 1);
	if (size > (POOL_CHUNK - POOL_HDR) / 4)
		fatalx("pool: objects of %zu bytes are too large", size);
	pool->p_size = size;
	pool->p_per_chunk = (uint32_t)((POOL_CHUNK - POOL_HDR) / size);
}

/* Returns a new empty chunk, or NULL out of memory. */
static struct pool_chunk *
pool_chunk_new(struct pool *pool)
{
	struct pool_chunk	*pc;
	void			*mem;
	int			 error;

	if ((error = posix_memalign(&mem, POOL_CHUNK, POOL_CHUNK)) != 0) {
		errno = error;		/* callers may log_warn() */
		return NULL;
	}
	pc = mem;
	memset(pc, 0, sizeof(*pc));
	pc->pc_pool = pool;
	pc->pc_nfree = pool->p_per_chunk;
	POOL_POISON((char *)mem + POOL_HDR, POOL_CHUNK - POOL_HDR);
	TAILQ_INSERT_TAIL(&pool->p_all, pc, pc_all);
	pool->p_chunks++;
	return pc;
}

/* Frees a chunk that is on p_all only. */
static void
pool_chunk_free(struct pool *pool, struct pool_chunk *pc)
{
	TAILQ_REMOVE(&pool->p_all, pc, pc_all);
	POOL_UNPOISON(pc, POOL_CHUNK);
	free(pc);
	pool->p_chunks--;
}

/* Returns a zeroed object, or NULL out of memory. */
void *
pool_get(struct pool *pool)
{
	struct pool_chunk	*pc;
	char			*obj;

	if ((pc = TAILQ_FIRST(&pool->p_partial)) == NULL) {
		if ((pc = pool->p_spare) != NULL)
			pool->p_spare = NULL;
		else if ((pc = pool_chunk_new(pool)) == NULL)
			return NULL;
		TAILQ_INSERT_HEAD(&pool->p_partial, pc, pc_entry);
		pc->pc_listed = 1;
	}
	if ((obj = pc->pc_free) != NULL) {
		POOL_UNPOISON(obj, pool->p_size);
		memcpy(&pc->pc_free, obj, sizeof(pc->pc_free));
	} else {
		obj = (char *)pc + POOL_HDR + (size_t)pc->pc_next++ *
		    pool->p_size;
		POOL_UNPOISON(obj, pool->p_size);
	}
	if (--pc->pc_nfree == 0) {
		TAILQ_REMOVE(&pool->p_partial, pc, pc_entry);
		pc->pc_listed = 0;
	}
	pool->p_live++;
	memset(obj, 0, pool->p_size);
	return obj;
}

/* Gives an object back; its chunk goes once all of it is free. */
void
pool_put(struct pool *pool, void *obj)
{
	struct pool_chunk	*pc;
	size_t			 off;

	if (obj == NULL)
		return;
	pc = (struct pool_chunk *)((uintptr_t)obj &
	    ~(uintptr_t)(POOL_CHUNK - 1));
	off = (size_t)((char *)obj - (char *)pc);
	/* A foreign pointer is a broken invariant: stop before corrupting. */
	if (pc->pc_pool != pool || off < POOL_HDR ||
	    (off - POOL_HDR) % pool->p_size != 0)
		fatalx("pool: %p is not an object of this pool", obj);
	memcpy(obj, &pc->pc_free, sizeof(pc->pc_free));
	pc->pc_free = obj;
	POOL_POISON(obj, pool->p_size);
	pc->pc_nfree++;
	pool->p_live--;
	if (!pc->pc_listed) {
		TAILQ_INSERT_HEAD(&pool->p_partial, pc, pc_entry);
		pc->pc_listed = 1;
	}
	if (pc->pc_nfree < pool->p_per_chunk)
		return;
	TAILQ_REMOVE(&pool->p_partial, pc, pc_entry);
	pc->pc_listed = 0;
	if (pool->p_spare == NULL) {
		/* Kept as new: its objects are taken in order again. */
		pc->pc_free = NULL;
		pc->pc_next = 0;
		pool->p_spare = pc;
	} else
		pool_chunk_free(pool, pc);
}

/* Frees every chunk, with whatever objects are still out. */
void
pool_destroy(struct pool *pool)
{
	struct pool_chunk	*pc;
	size_t			 size = pool->p_size;
	uint32_t		 per = pool->p_per_chunk;

	while ((pc = TAILQ_FIRST(&pool->p_all)) != NULL)
		pool_chunk_free(pool, pc);
	memset(pool, 0, sizeof(*pool));
	TAILQ_INIT(&pool->p_partial);
	TAILQ_INIT(&pool->p_all);
	pool->p_size = size;
	pool->p_per_chunk = per;
}

/* Objects handed out and not yet put back. */
size_t
pool_live(const struct pool *pool)
{
	return pool->p_live;
}

/* Bytes of chunks the pool holds. */
size_t
pool_bytes(const struct pool *pool)
{
	return pool->p_chunks * POOL_CHUNK;
}
