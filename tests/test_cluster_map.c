/*
 * test_cluster_map.c: Check suite for daemon/cluster_map.c.
 *
 * The slots in the table were read off a real redis-server 7.0.15 started
 * with --cluster-enabled yes (CLUSTER KEYSLOT of each key), hash tags and
 * their corner cases included. The map is read from replies built here in
 * the shape CLUSTER SLOTS has.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <check.h>

#include "check_run.h"
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_map.h"
#include "cmdconn.h"

static const struct {
	const char	*key;
	unsigned	 slot;
} slots[] = {
	{ "", 0 },
	{ "123456789", 12739 },
	{ "foo", 12182 },
	{ "bar", 5061 },
	{ "{user1000}.following", 3443 },
	{ "user1000", 3443 },
	{ "foo{}{bar}", 8363 },		/* an empty tag: the whole key */
	{ "foo{{bar}}zap", 4015 },	/* the tag is "{bar" */
	{ "{bar", 4015 },
	{ "foo{bar}{zap}", 5061 },	/* the first tag only */
	{ "{}", 15257 },
	{ "a{b", 13340 },		/* no '}': the whole key */
	{ "}{x}", 16287 },
	{ "news", 5161 },
	{ "{news}", 5161 },
	{ "x{news}y", 5161 },
};

START_TEST(test_slots)
{
	size_t	i;

	for (i = 0; i < sizeof(slots) / sizeof(slots[0]); i++)
		ck_assert_msg(cluster_map_slot(slots[i].key,
		    strlen(slots[i].key)) == slots[i].slot, "slot of '%s': %u, "
		    "redis says %u", slots[i].key, cluster_map_slot(slots[i].key,
		    strlen(slots[i].key)), slots[i].slot);
	/* Lengths bound the key, not NULs. */
	ck_assert_uint_eq(cluster_map_slot("foo\0bar", 3), 12182);
	ck_assert_uint_ne(cluster_map_slot("foo\0bar", 7), 12182);
}
END_TEST

/* Reply builders: every node owned by its parent, freed by r_free(). */
static struct cmdconn_reply *
r_int(long long v)
{
	struct cmdconn_reply	*r = calloc(1, sizeof(*r));

	ck_assert_ptr_nonnull(r);
	r->type = CMDCONN_INTEGER;
	r->integer = v;
	return r;
}

static struct cmdconn_reply *
r_str(const char *s)
{
	struct cmdconn_reply	*r = calloc(1, sizeof(*r));

	ck_assert_ptr_nonnull(r);
	r->type = CMDCONN_STRING;
	r->str = strdup(s);
	r->len = strlen(s);
	return r;
}

/* An array of n elements, given as arguments. */
static struct cmdconn_reply *
r_arr(size_t n, ...)
{
	struct cmdconn_reply	*r = calloc(1, sizeof(*r));
	va_list			 ap;
	size_t			 i;

	ck_assert_ptr_nonnull(r);
	r->type = CMDCONN_ARRAY;
	r->elements = n;
	r->element = calloc(n + 1, sizeof(*r->element));
	va_start(ap, n);
	for (i = 0; i < n; i++)
		r->element[i] = va_arg(ap, struct cmdconn_reply *);
	va_end(ap);
	return r;
}

static void
r_free(struct cmdconn_reply *r)
{
	size_t	i;

	for (i = 0; i < r->elements; i++)
		r_free(r->element[i]);
	free(r->element);
	free(r->str);
	free(r);
}

/* [start, end, [host, port, id], [replica...]] */
static struct cmdconn_reply *
entry(long long start, long long end, const char *host, long long port,
    const char *id)
{
	return r_arr(4, r_int(start), r_int(end), r_arr(3, r_str(host), r_int(port),
	    r_str(id)), r_arr(3, r_str("127.0.0.9"), r_int(9999),
	    r_str("replica")));
}

START_TEST(test_map)
{
	struct cmdconn_reply		*r;
	struct cluster_map		*m;
	const struct cluster_master	*o;
	char				 err[256];

	r = r_arr(4, entry(0, 5460, "127.0.0.1", 7000, "a"),
	    entry(5461, 10922, "127.0.0.1", 7001, "b"),
	    entry(10923, 16000, "", 7002, "c"),
	    entry(16001, 16383, "127.0.0.1", 7000, "a"));
	m = cluster_map_new(r, "10.1.1.1", err, sizeof(err));
	ck_assert_msg(m != NULL, "%s", err);
	ck_assert_uint_eq(m->cm_nmasters, 3);
	ck_assert_uint_eq(m->cm_covered, CLUSTER_SLOTS);
	o = cluster_map_owner(m, cluster_map_slot("foo", 3));	/* 12182 */
	ck_assert_str_eq(o->cm_host, "10.1.1.1");	/* "" is who answered */
	ck_assert_int_eq(o->cm_port, 7002);
	ck_assert_str_eq(o->cm_id, "c");
	o = cluster_map_owner(m, 16383);
	ck_assert_int_eq(o->cm_port, 7000);
	ck_assert_uint_eq(o->cm_slots, 5461 + 383);
	ck_assert_int_eq(cluster_map_find(m, "127.0.0.1", 7001), 1);
	ck_assert_int_eq(cluster_map_find(m, "127.0.0.1", 7009), -1);
	ck_assert_ptr_null(cluster_map_owner(m, CLUSTER_SLOTS));
	cluster_map_free(m);
	r_free(r);

	/* Slots nobody serves. */
	r = r_arr(1, entry(100, 200, "h", 1, "x"));
	m = cluster_map_new(r, "a", err, sizeof(err));
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->cm_covered, 101);
	ck_assert_ptr_null(cluster_map_owner(m, 99));
	ck_assert_ptr_nonnull(cluster_map_owner(m, 200));
	cluster_map_free(m);
	r_free(r);
}
END_TEST

/* A MOVED answer moves one slot to a master the map knows, and no more. */
START_TEST(test_moved)
{
	struct cmdconn_reply	*r;
	struct cluster_map	*m;
	char			 err[256];

	r = r_arr(3, entry(0, 99, "127.0.0.1", 7000, "a"),
	    entry(100, 199, "::1", 7001, "b"),
	    entry(200, 299, "", 7002, "c"));
	m = cluster_map_new(r, "10.1.1.1", err, sizeof(err));
	ck_assert_msg(m != NULL, "%s", err);
	ck_assert_int_eq(cluster_map_moved(m, "MOVED 5 ::1:7001", "x"), 1);
	ck_assert_int_eq(cluster_map_owner(m, 5)->cm_port, 7001);
	ck_assert_int_eq(cluster_map_owner(m, 4)->cm_port, 7000);
	ck_assert_uint_eq(m->cm_masters[0].cm_slots, 99);
	ck_assert_uint_eq(m->cm_masters[1].cm_slots, 101);
	/* Again: nothing more changes. */
	ck_assert_int_eq(cluster_map_moved(m, "MOVED 5 ::1:7001", "x"), 1);
	ck_assert_uint_eq(m->cm_masters[1].cm_slots, 101);
	/* A slot nobody served; an empty host is who answered. */
	ck_assert_int_eq(cluster_map_moved(m, "MOVED 300 :7002", "10.1.1.1"),
	    1);
	ck_assert_int_eq(cluster_map_owner(m, 300)->cm_port, 7002);
	ck_assert_uint_eq(m->cm_covered, 301);
	/* A node the map does not know, or no MOVED at all. */
	ck_assert_int_eq(cluster_map_moved(m, "MOVED 6 127.0.0.1:7009", "x"),
	    0);
	ck_assert_int_eq(cluster_map_owner(m, 6)->cm_port, 7000);
	ck_assert_int_eq(cluster_map_moved(m, "ASK 6 127.0.0.1:7001", "x"), 0);
	ck_assert_int_eq(cluster_map_moved(m, "MOVED 16384 ::1:7001", "x"), 0);
	ck_assert_int_eq(cluster_map_moved(m, "MOVED x ::1:7001", "x"), 0);
	ck_assert_int_eq(cluster_map_moved(m, "MOVED 6 ::1:", "x"), 0);
	ck_assert_int_eq(cluster_map_moved(m, "MOVED 6 ::1:7001 z", "x"), 0);
	ck_assert_int_eq(cluster_map_moved(m, "MOVED 6", "x"), 0);
	ck_assert_int_eq(cluster_map_moved(NULL, "MOVED 6 ::1:7001", "x"), 0);
	ck_assert_int_eq(cluster_map_owner(m, 6)->cm_port, 7000);
	cluster_map_free(m);
	r_free(r);
}
END_TEST

/* Replies of another shape are errors that say what was wrong. */
START_TEST(test_map_bad)
{
	struct cmdconn_reply	*r;
	char			 err[256];

	r = r_arr(2, entry(0, 10, "h", 1, "x"), entry(5, 20, "h", 2, "y"));
	ck_assert_ptr_null(cluster_map_new(r, "a", err, sizeof(err)));
	ck_assert_str_eq(err, "CLUSTER SLOTS: slot 5 served twice");
	r_free(r);
	r = r_arr(1, entry(10, 5, "h", 1, "x"));
	ck_assert_ptr_null(cluster_map_new(r, "a", err, sizeof(err)));
	ck_assert_str_eq(err, "CLUSTER SLOTS: slots 10-5");
	r_free(r);
	r = r_arr(1, entry(0, 16384, "h", 1, "x"));
	ck_assert_ptr_null(cluster_map_new(r, "a", err, sizeof(err)));
	ck_assert_str_eq(err, "CLUSTER SLOTS: slots 0-16384");
	r_free(r);
	r = r_arr(1, entry(0, 1, "h", 70000, "x"));
	ck_assert_ptr_null(cluster_map_new(r, "a", err, sizeof(err)));
	ck_assert_str_eq(err, "CLUSTER SLOTS: port 70000");
	r_free(r);
	r = r_arr(1, r_arr(2, r_int(0), r_int(1)));
	ck_assert_ptr_null(cluster_map_new(r, "a", err, sizeof(err)));
	ck_assert_str_eq(err, "CLUSTER SLOTS: entry 0 is not [start, end, "
	    "master, ...]");
	r_free(r);
	r = r_arr(1, r_arr(3, r_int(0), r_int(1), r_str("h")));
	ck_assert_ptr_null(cluster_map_new(r, "a", err, sizeof(err)));
	ck_assert_str_eq(err, "CLUSTER SLOTS: a node is not [host, port, ...]");
	r_free(r);
	r = r_str("nope");
	r->type = CMDCONN_ERROR;
	ck_assert_ptr_null(cluster_map_new(r, "a", err, sizeof(err)));
	ck_assert_str_eq(err, "CLUSTER SLOTS: nope");
	r_free(r);
}
END_TEST

static Suite *
cluster_map_suite(void)
{
	Suite	*s = suite_create("cluster_map");
	TCase	*tc = tcase_create("map");

	tcase_add_test(tc, test_slots);
	tcase_add_test(tc, test_map);
	tcase_add_test(tc, test_map_bad);
	tcase_add_test(tc, test_moved);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_run(cluster_map_suite());
}
