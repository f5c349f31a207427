/*
 * test_map.c: Check suite for daemon/map.c.
 *
 * The map is intrusive: each test item embeds its entries and keeps its own
 * key, so the tests own every item and check that the map finds, skips and
 * iterates them exactly as inserted, with binary keys, the empty key, a
 * hundred thousand entries removed in a scrambled order (which unlinks from
 * the middle of bucket chains), and removal during iteration.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <check.h>

#include "check_run.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map.h"

#define MANY	100000

/* A test object: two entries (to sit in two maps), its key, a counter. */
struct item {
	struct map_entry	 entry;
	struct map_entry	 entry2;
	char			 key[24];
	size_t			 len;
	int			 seen;
};

static struct item	*items_new(size_t);
static struct item	*find(const struct map *, const void *, size_t);
static void		 insert(struct map *, struct item *);
static void		 shuffle(size_t *, size_t);

/* Returns n items keyed "item-N" (owned by the caller). */
static struct item *
items_new(size_t n)
{
	struct item	*it;
	size_t		 i;

	it = calloc(n, sizeof(*it));
	ck_assert_ptr_nonnull(it);
	for (i = 0; i < n; i++)
		it[i].len = (size_t)snprintf(it[i].key, sizeof(it[i].key),
		    "item-%zu", i);
	return it;
}

/* Returns the item with this key in m (by its first entry), or NULL. */
static struct item *
find(const struct map *m, const void *key, size_t len)
{
	struct map_entry	*e;

	if ((e = map_find(m, key, len)) == NULL)
		return NULL;
	return MAP_ITEM(e, struct item, entry);
}

/* Inserts an item under its own key, which must succeed. */
static void
insert(struct map *m, struct item *it)
{
	ck_assert_int_eq(map_insert(m, &it->entry, it->key, it->len), 0);
}

/* Shuffles idx with a fixed generator, so every run is the same. */
static void
shuffle(size_t *idx, size_t n)
{
	uint64_t	x = 0x9e3779b97f4a7c15ULL;
	size_t		i, j, t;

	for (i = n - 1; i > 0; i--) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		j = (size_t)(x % (i + 1));
		t = idx[i];
		idx[i] = idx[j];
		idx[j] = t;
	}
}

/* Insert, find, remove and find again; a fresh map allocates nothing. */
START_TEST(test_insert_find_remove)
{
	struct map	 m;
	struct item	*it = items_new(3);

	map_init(&m);
	ck_assert_ptr_null(m.m_buckets);
	ck_assert_uint_eq(map_count(&m), 0);
	ck_assert_ptr_null(map_find(&m, "item-0", 6));

	insert(&m, &it[0]);
	insert(&m, &it[1]);
	ck_assert_uint_eq(map_count(&m), 2);
	ck_assert_ptr_eq(find(&m, "item-0", 6), &it[0]);
	ck_assert_ptr_eq(find(&m, "item-1", 6), &it[1]);
	ck_assert_ptr_null(find(&m, "item-2", 6));
	ck_assert_ptr_null(find(&m, "item-", 5));
	ck_assert_ptr_null(find(&m, "item-00", 7));

	/* The map borrows the key: lookups go by content, not pointer. */
	ck_assert_ptr_eq(map_find(&m, "item-1", 6)->me_key, it[1].key);

	map_remove(&m, &it[0].entry);
	ck_assert_uint_eq(map_count(&m), 1);
	ck_assert_ptr_null(find(&m, "item-0", 6));
	ck_assert_ptr_eq(find(&m, "item-1", 6), &it[1]);

	/* Removed entries can go back in. */
	insert(&m, &it[0]);
	insert(&m, &it[2]);
	ck_assert_uint_eq(map_count(&m), 3);
	ck_assert_ptr_eq(find(&m, "item-0", 6), &it[0]);
	ck_assert_ptr_eq(find(&m, "item-2", 6), &it[2]);

	map_remove(&m, &it[0].entry);
	map_remove(&m, &it[1].entry);
	map_remove(&m, &it[2].entry);
	ck_assert_uint_eq(map_count(&m), 0);
	ck_assert_ptr_null(m.m_buckets);	/* the last one frees them */
	ck_assert_ptr_null(find(&m, "item-2", 6));
	map_clear(&m);
	free(it);
}
END_TEST

/* Keys are bytes: NUL inside, and keys that are prefixes of each other. */
START_TEST(test_binary_keys)
{
	static const char *const keys[] = {
		"a\0b", "a\0c", "a", "a\0", "\0", "\0\0", "a\0b\0"
	};
	static const size_t lens[] = { 3, 3, 1, 2, 1, 2, 4 };
	struct map	 m;
	struct item	 it[7];
	size_t		 i;

	memset(it, 0, sizeof(it));
	map_init(&m);
	for (i = 0; i < 7; i++) {
		memcpy(it[i].key, keys[i], lens[i]);
		it[i].len = lens[i];
		insert(&m, &it[i]);
	}
	ck_assert_uint_eq(map_count(&m), 7);
	for (i = 0; i < 7; i++)
		ck_assert_ptr_eq(find(&m, keys[i], lens[i]), &it[i]);
	ck_assert_ptr_null(find(&m, "a\0d", 3));
	ck_assert_ptr_null(find(&m, "\0\0\0", 3));
	ck_assert_ptr_null(find(&m, "", 0));

	/* Removing one leaves its neighbours in key space alone. */
	map_remove(&m, &it[0].entry);
	ck_assert_ptr_null(find(&m, "a\0b", 3));
	ck_assert_ptr_eq(find(&m, "a\0b\0", 4), &it[6]);
	ck_assert_ptr_eq(find(&m, "a\0c", 3), &it[1]);
	ck_assert_ptr_eq(find(&m, "a", 1), &it[2]);
	map_clear(&m);
}
END_TEST

/* The empty key is a key like any other. */
START_TEST(test_empty_key)
{
	struct map	 m;
	struct item	 empty, other;

	memset(&empty, 0, sizeof(empty));
	memset(&other, 0, sizeof(other));
	other.key[0] = 'x';
	other.len = 1;
	map_init(&m);
	ck_assert_ptr_null(find(&m, "", 0));
	insert(&m, &empty);
	ck_assert_ptr_eq(find(&m, "", 0), &empty);
	ck_assert_ptr_null(find(&m, "x", 1));
	insert(&m, &other);
	ck_assert_ptr_eq(find(&m, "", 0), &empty);
	ck_assert_ptr_eq(find(&m, "x", 1), &other);
	map_remove(&m, &empty.entry);
	ck_assert_ptr_null(find(&m, "", 0));
	ck_assert_ptr_eq(find(&m, "x", 1), &other);
	map_remove(&m, &other.entry);
	ck_assert_uint_eq(map_count(&m), 0);
	map_clear(&m);
}
END_TEST

/*
 * 100000 entries: every one is found after the map has grown many times;
 * removing them in a scrambled order keeps the others findable.
 */
START_TEST(test_growth_and_remove_all)
{
	struct map	 m;
	struct item	*it = items_new(MANY);
	size_t		*idx, i;

	idx = malloc(MANY * sizeof(*idx));
	ck_assert_ptr_nonnull(idx);
	map_init(&m);
	for (i = 0; i < MANY; i++) {
		insert(&m, &it[i]);
		ck_assert_uint_eq(map_count(&m), i + 1);
	}
	ck_assert_uint_ge(m.m_nbuckets, MANY);		/* load factor <= 1 */
	ck_assert_uint_eq(m.m_nbuckets & (m.m_nbuckets - 1), 0);
	for (i = 0; i < MANY; i++)
		ck_assert_ptr_eq(find(&m, it[i].key, it[i].len), &it[i]);
	ck_assert_ptr_null(find(&m, "item-100000", 11));

	for (i = 0; i < MANY; i++)
		idx[i] = i;
	shuffle(idx, MANY);
	for (i = 0; i < MANY; i++) {
		map_remove(&m, &it[idx[i]].entry);
		ck_assert_uint_eq(map_count(&m), MANY - i - 1);
		if (i % 997 == 0) {
			ck_assert_ptr_null(find(&m, it[idx[i]].key,
			    it[idx[i]].len));
			if (i + 1 < MANY)
				ck_assert_ptr_eq(find(&m, it[idx[i + 1]].key,
				    it[idx[i + 1]].len), &it[idx[i + 1]]);
		}
	}
	ck_assert_uint_eq(map_count(&m), 0);
	ck_assert_ptr_null(m.m_buckets);
	for (i = 0; i < MANY; i += 101)
		ck_assert_ptr_null(find(&m, it[i].key, it[i].len));
	map_clear(&m);
	free(idx);
	free(it);
}
END_TEST

/* Iteration visits every entry exactly once, and an empty map not at all. */
START_TEST(test_iteration_visits_each_once)
{
	struct map		 m;
	struct map_iter		 mi;
	struct map_entry	*e;
	struct item		*it = items_new(5000);
	size_t			 i, n = 0;

	map_init(&m);
	map_iter_init(&mi, &m);
	ck_assert_ptr_null(map_iter_next(&mi));
	for (i = 0; i < 5000; i++)
		insert(&m, &it[i]);
	map_iter_init(&mi, &m);
	while ((e = map_iter_next(&mi)) != NULL) {
		MAP_ITEM(e, struct item, entry)->seen++;
		n++;
	}
	ck_assert_ptr_null(map_iter_next(&mi));	/* stays at the end */
	ck_assert_uint_eq(n, 5000);
	for (i = 0; i < 5000; i++)
		ck_assert_int_eq(it[i].seen, 1);
	map_clear(&m);
	free(it);
}
END_TEST

/*
 * Removing the entry the iterator just returned is allowed: every entry is
 * still visited once, whether all are removed or every other one.
 */
START_TEST(test_iteration_remove_current)
{
	struct map		 m;
	struct map_iter		 mi;
	struct map_entry	*e;
	struct item		*it = items_new(3000), *x;
	size_t			 i, n = 0;

	map_init(&m);
	for (i = 0; i < 3000; i++)
		insert(&m, &it[i]);

	/* Every other one (by index) goes. */
	map_iter_init(&mi, &m);
	while ((e = map_iter_next(&mi)) != NULL) {
		x = MAP_ITEM(e, struct item, entry);
		x->seen++;
		if ((x - it) % 2 == 0)
			map_remove(&m, e);
	}
	ck_assert_uint_eq(map_count(&m), 1500);
	for (i = 0; i < 3000; i++) {
		ck_assert_int_eq(it[i].seen, 1);
		ck_assert_ptr_eq(find(&m, it[i].key, it[i].len),
		    i % 2 ? &it[i] : NULL);
	}

	/* Then all of them, down to an empty map. */
	map_iter_init(&mi, &m);
	while ((e = map_iter_next(&mi)) != NULL) {
		MAP_ITEM(e, struct item, entry)->seen++;
		map_remove(&m, e);
		n++;
	}
	ck_assert_uint_eq(n, 1500);
	ck_assert_uint_eq(map_count(&m), 0);
	for (i = 0; i < 3000; i++)
		ck_assert_int_eq(it[i].seen, i % 2 ? 2 : 1);
	map_clear(&m);
	free(it);
}
END_TEST

/* map_clear() empties the map without touching the entries; it is reusable. */
START_TEST(test_clear)
{
	struct map	 m;
	struct item	*it = items_new(100);
	size_t		 i;

	map_init(&m);
	map_clear(&m);				/* on an empty map */
	for (i = 0; i < 100; i++)
		insert(&m, &it[i]);
	map_clear(&m);
	ck_assert_uint_eq(map_count(&m), 0);
	ck_assert_ptr_null(m.m_buckets);
	ck_assert_uint_eq(m.m_nbuckets, 0);
	ck_assert_ptr_null(find(&m, it[0].key, it[0].len));
	ck_assert_str_eq(it[42].key, "item-42");

	/* The same items go into the cleared map again. */
	for (i = 0; i < 100; i++)
		insert(&m, &it[i]);
	for (i = 0; i < 100; i++)
		ck_assert_ptr_eq(find(&m, it[i].key, it[i].len), &it[i]);
	map_clear(&m);
	free(it);
}
END_TEST

/* One object can sit in two maps at once through two entries. */
START_TEST(test_two_maps)
{
	struct map		 a, b;
	struct item		*it = items_new(10);
	struct map_entry	*e;
	size_t			 i;

	map_init(&a);
	map_init(&b);
	for (i = 0; i < 10; i++) {
		insert(&a, &it[i]);
		if (i % 2)
			ck_assert_int_eq(map_insert(&b, &it[i].entry2,
			    it[i].key, it[i].len), 0);
	}
	map_remove(&a, &it[3].entry);
	ck_assert_ptr_null(find(&a, "item-3", 6));
	e = map_find(&b, "item-3", 6);
	ck_assert_ptr_nonnull(e);
	ck_assert_ptr_eq(MAP_ITEM(e, struct item, entry2), &it[3]);
	ck_assert_ptr_null(map_find(&b, "item-4", 6));
	ck_assert_uint_eq(map_count(&a), 9);
	ck_assert_uint_eq(map_count(&b), 5);
	map_clear(&a);
	map_clear(&b);
	free(it);
}
END_TEST

/* The hash depends on every byte and on the length, and is stable. */
START_TEST(test_hash)
{
	ck_assert_uint_eq(map_hash("abc", 3), map_hash("abc", 3));
	ck_assert_uint_ne(map_hash("abc", 3), map_hash("abd", 3));
	ck_assert_uint_ne(map_hash("a", 1), map_hash("a\0", 2));
	ck_assert_uint_ne(map_hash("", 0), map_hash("\0", 1));
}
END_TEST

/* Returns the map suite. */
static Suite *
map_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("map");
	tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_insert_find_remove);
	tcase_add_test(tc, test_binary_keys);
	tcase_add_test(tc, test_empty_key);
	tcase_add_test(tc, test_growth_and_remove_all);
	tcase_add_test(tc, test_iteration_visits_each_once);
	tcase_add_test(tc, test_iteration_remove_current);
	tcase_add_test(tc, test_clear);
	tcase_add_test(tc, test_two_maps);
	tcase_add_test(tc, test_hash);
	suite_add_tcase(s, tc);
	return s;
}

/* Runs the map suite; exits non-zero if a test failed. */
int
main(void)
{
	return check_run(map_suite());
}
