/*
 * test_pool.c: Check suite for daemon/pool.c.
 *
 * Each test fills the objects it holds with a pattern of its own and checks
 * it later, so objects that overlap, or a free list written into a live
 * object, show up as a changed pattern. The chunk counts prove that chunks
 * are made only when the others are full and are given back once empty
 * (one spare kept). Run under AddressSanitizer, the same tests prove that
 * chunks are not leaked and objects stay inside their chunk, and one more
 * test proves that an object used after pool_put() is reported.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <check.h>

#include "check_run.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN	1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(TEST_ASAN)
#define TEST_ASAN	1
#endif

/* Fills obj (size bytes) with a pattern made from tag. */
static void
fill(void *obj, size_t size, uint32_t tag)
{
	unsigned char	*p = obj;
	size_t		 i;

	for (i = 0; i < size; i++)
		p[i] = (unsigned char)(tag * 31 + i);
}

/* Whether obj still holds the pattern of tag. */
static int
holds(const void *obj, size_t size, uint32_t tag)
{
	const unsigned char	*p = obj;
	size_t			 i;

	for (i = 0; i < size; i++)
		if (p[i] != (unsigned char)(tag * 31 + i))
			return 0;
	return 1;
}

/* Whether size bytes at obj are all zero. */
static int
zeroed(const void *obj, size_t size)
{
	const unsigned char	*p = obj;
	size_t			 i;

	for (i = 0; i < size; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

/* Objects per chunk for objects of size bytes, as the pool counts them. */
static size_t
per_chunk(const struct pool *pool)
{
	return pool->p_per_chunk;
}

START_TEST(test_sizes_rounded)
{
	struct pool	pool;

	pool_init(&pool, 1);
	ck_assert_uint_eq(pool.p_size, sizeof(void *));
	pool_init(&pool, 40);
	ck_assert_uint_eq(pool.p_size, 40);
	pool_init(&pool, 41);
	ck_assert_uint_eq(pool.p_size, 48);
	ck_assert_uint_eq(pool_bytes(&pool), 0);	/* nothing made yet */
	ck_assert_uint_ge(pool.p_per_chunk, (POOL_CHUNK - 256) / 48);
	pool_destroy(&pool);
}
END_TEST

START_TEST(test_get_zeroed_distinct_aligned)
{
	struct pool	 pool;
	void		*a, *b, *c;

	pool_init(&pool, 100);
	a = pool_get(&pool);
	b = pool_get(&pool);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_ne(a, b);
	ck_assert(zeroed(a, 100) && zeroed(b, 100));
	ck_assert_uint_eq((uintptr_t)a % 8, 0);
	ck_assert_uint_eq((uintptr_t)b % 8, 0);
	/* The whole size is ours: filling one leaves the other alone. */
	fill(a, 100, 1);
	fill(b, 100, 2);
	ck_assert(holds(a, 100, 1) && holds(b, 100, 2));
	ck_assert_uint_eq(pool_live(&pool), 2);
	ck_assert_uint_eq(pool_bytes(&pool), POOL_CHUNK);
	/* What is put back comes back first, zeroed again. */
	pool_put(&pool, a);
	c = pool_get(&pool);
	ck_assert_ptr_eq(c, a);
	ck_assert(zeroed(c, 100));
	ck_assert(holds(b, 100, 2));
	pool_put(&pool, NULL);		/* allowed, and nothing */
	pool_put(&pool, b);
	pool_put(&pool, c);
	ck_assert_uint_eq(pool_live(&pool), 0);
	pool_destroy(&pool);
	ck_assert_uint_eq(pool_bytes(&pool), 0);
}
END_TEST

/*
 * Chunks are made only when the others are full; emptied ones go, but for
 * one spare that the next get uses before making a new chunk.
 */
START_TEST(test_chunks_made_and_released)
{
	struct pool	  pool;
	void		**objs;
	size_t		  per, n, i;

	pool_init(&pool, 392);
	per = per_chunk(&pool);
	n = 3 * per + 1;
	objs = calloc(n, sizeof(*objs));
	ck_assert_ptr_nonnull(objs);
	for (i = 0; i < n; i++) {
		ck_assert_ptr_nonnull(objs[i] = pool_get(&pool));
		fill(objs[i], 392, (uint32_t)i);
		/* One chunk per per objects, no more. */
		ck_assert_uint_eq(pool_bytes(&pool), (i / per + 1) * POOL_CHUNK);
	}
	for (i = 0; i < n; i++)
		ck_assert(holds(objs[i], 392, (uint32_t)i));
	/* Empty the first chunk: it stays, as the spare. */
	for (i = 0; i < per; i++)
		pool_put(&pool, objs[i]);
	ck_assert_uint_eq(pool_bytes(&pool), 4 * POOL_CHUNK);
	/* Empty the second: it goes (there is a spare already). */
	for (i = per; i < 2 * per; i++)
		pool_put(&pool, objs[i]);
	ck_assert_uint_eq(pool_bytes(&pool), 3 * POOL_CHUNK);
	ck_assert_uint_eq(pool_live(&pool), per + 1);
	for (i = 2 * per; i < n; i++)
		ck_assert(holds(objs[i], 392, (uint32_t)i));
	/* The free room of the fourth chunk is used before the spare. */
	for (i = 0; i < per - 1; i++) {
		ck_assert_ptr_nonnull(objs[i] = pool_get(&pool));
		fill(objs[i], 392, (uint32_t)i);
	}
	ck_assert_uint_eq(pool_bytes(&pool), 3 * POOL_CHUNK);
	/* Then the spare, and only then a new chunk. */
	for (i = per - 1; i < 2 * per; i++) {
		ck_assert_ptr_nonnull(objs[i] = pool_get(&pool));
		fill(objs[i], 392, (uint32_t)i);
	}
	ck_assert_uint_eq(pool_bytes(&pool), 4 * POOL_CHUNK);
	for (i = 0; i < n; i++)
		ck_assert(holds(objs[i], 392, (uint32_t)i));
	/* All back: only the spare is left. */
	for (i = 0; i < n; i++)
		pool_put(&pool, objs[n - 1 - i]);
	ck_assert_uint_eq(pool_live(&pool), 0);
	ck_assert_uint_eq(pool_bytes(&pool), POOL_CHUNK);
	pool_destroy(&pool);
	free(objs);
}
END_TEST

/*
 * A long random mix of gets and puts against a record of what is out: no
 * object is handed out twice, none changes while out, and the pool never
 * holds more chunks than the most objects out at once could fill, plus the
 * spare and one partly used chunk per chunk in the mix.
 */
START_TEST(test_random_mix)
{
	enum { SLOTS = 20000, STEPS = 400000 };
	struct pool	  pool;
	void		**objs;
	uint32_t	 *tags;
	size_t		  i, live = 0, peak = 0;
	uint32_t	  tag = 0, r = 12345;
	int		  step;

	pool_init(&pool, 48);
	objs = calloc(SLOTS, sizeof(*objs));
	tags = calloc(SLOTS, sizeof(*tags));
	ck_assert_ptr_nonnull(objs);
	ck_assert_ptr_nonnull(tags);
	for (step = 0; step < STEPS; step++) {
		r = r * 1103515245 + 12345;
		i = (r >> 8) % SLOTS;
		if (objs[i] == NULL) {
			ck_assert_ptr_nonnull(objs[i] = pool_get(&pool));
			ck_assert(zeroed(objs[i], 48));
			tags[i] = ++tag;
			fill(objs[i], 48, tags[i]);
			if (++live > peak)
				peak = live;
		} else {
			ck_assert(holds(objs[i], 48, tags[i]));
			pool_put(&pool, objs[i]);
			objs[i] = NULL;
			live--;
		}
		ck_assert_uint_eq(pool_live(&pool), live);
	}
	ck_assert_uint_le(pool_bytes(&pool) / POOL_CHUNK,
	    peak / per_chunk(&pool) + 1 + SLOTS / per_chunk(&pool) + 1);
	for (i = 0; i < SLOTS; i++) {
		if (objs[i] == NULL)
			continue;
		ck_assert(holds(objs[i], 48, tags[i]));
		pool_put(&pool, objs[i]);
	}
	ck_assert_uint_eq(pool_live(&pool), 0);
	ck_assert_uint_eq(pool_bytes(&pool), POOL_CHUNK);
	pool_destroy(&pool);
	free(objs);
	free(tags);
}
END_TEST

/* Destroying a pool frees its chunks, full ones and objects out too. */
START_TEST(test_destroy_with_objects_out)
{
	struct pool	pool;
	size_t		i, n;

	pool_init(&pool, 200);
	n = 2 * per_chunk(&pool) + 5;
	for (i = 0; i < n; i++)
		ck_assert_ptr_nonnull(pool_get(&pool));
	ck_assert_uint_eq(pool_bytes(&pool), 3 * POOL_CHUNK);
	pool_destroy(&pool);		/* LeakSanitizer checks the rest */
	ck_assert_uint_eq(pool_bytes(&pool), 0);
	ck_assert_uint_eq(pool_live(&pool), 0);
	/* Usable again, with the same object size. */
	ck_assert_ptr_nonnull(pool_get(&pool));
	ck_assert_uint_eq(pool.p_size, 200);
	pool_destroy(&pool);
}
END_TEST

#ifdef TEST_ASAN
/*
 * Under AddressSanitizer, writing to an object after putting it back is
 * reported (its report in the log is expected) and ends the test's process
 * with ASan's exit status, 1.
 */
START_TEST(test_use_after_put_caught)
{
	struct pool	 pool;
	char		*obj;

	pool_init(&pool, 64);
	obj = pool_get(&pool);
	ck_assert_ptr_nonnull(obj);
	pool_put(&pool, obj);
	((volatile char *)obj)[10] = 1;
	pool_destroy(&pool);
}
END_TEST
#endif

/* Returns the pool suite. */
static Suite *
pool_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("pool");
	tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_sizes_rounded);
	tcase_add_test(tc, test_get_zeroed_distinct_aligned);
	tcase_add_test(tc, test_chunks_made_and_released);
	tcase_add_test(tc, test_random_mix);
	tcase_add_test(tc, test_destroy_with_objects_out);
#ifdef TEST_ASAN
	tcase_add_exit_test(tc, test_use_after_put_caught, 1);
#endif
	suite_add_tcase(s, tc);
	return s;
}

/* Runs the pool suite; exits non-zero if a test failed. */
int
main(void)
{
	return check_run(pool_suite());
}
