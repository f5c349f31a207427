/*
 * test_procmem.c: Check suite for daemon/procmem.c: the figures are sane,
 * and procmem_trim() gives back the free pages a burst of small
 * allocations leaves in malloc's heap (what 10000 clients subscribing at
 * once leave behind), and leaves a heap without much free alone. Under a
 * sanitizer, whose allocator replaces glibc's, there are no malloc figures
 * and the trimming tests check only that nothing is done.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check_run.h"
#include "procmem.h"

#define BURST		40000	/* blocks of a burst */
#define BURST_SIZE	1024	/* bytes each: below the mmap threshold */
#define KEEP_EVERY	64	/* of which one in this many stays */

START_TEST(test_read)
{
	struct procmem	pm;
	char		buf[32];

	ck_assert_int_eq(procmem_read(&pm), 0);
	ck_assert_uint_gt(pm.rss, 0);
	ck_assert_uint_ge(pm.rss_peak, pm.rss);
	ck_assert_str_eq(procmem_human(512, buf, sizeof(buf)), "512B");
	ck_assert_str_eq(procmem_human(1536, buf, sizeof(buf)), "1.50K");
}
END_TEST

/* A burst freed but for a few blocks: most of its pages come back. */
START_TEST(test_trim_after_burst)
{
	struct procmem	  before, after;
	char		**blocks;
	uint64_t	  freed;
	int		  i;

	ck_assert_int_eq(procmem_read(&before), 0);
	if (!before.has_malloc) {
		ck_assert_uint_eq(procmem_trim(), 0);
		return;
	}
	procmem_trim();
	blocks = calloc(BURST, sizeof(*blocks));
	ck_assert_ptr_nonnull(blocks);
	for (i = 0; i < BURST; i++) {
		blocks[i] = malloc(BURST_SIZE);
		ck_assert_ptr_nonnull(blocks[i]);
		memset(blocks[i], 0x5a, BURST_SIZE);	/* make it resident */
	}
	for (i = 0; i < BURST; i++)
		if (i % KEEP_EVERY != KEEP_EVERY - 1) {
			free(blocks[i]);
			blocks[i] = NULL;
		}
	ck_assert_int_eq(procmem_read(&before), 0);
	if (before.malloc_arena == 0) {
		/* A sanitizer's allocator: glibc's figures stay zero. */
		ck_assert_uint_eq(procmem_trim(), 0);
		goto out;
	}
	/* A block kept every 64 KiB pins the heap's top: no plain trim. */
	ck_assert_uint_gt(before.malloc_free, PROCMEM_TRIM_MIN);
	freed = procmem_trim();
	ck_assert_uint_gt(freed, PROCMEM_TRIM_MIN);
	ck_assert_int_eq(procmem_read(&after), 0);
	ck_assert_msg(after.rss + 16 * 1024 * 1024 < before.rss,
	    "RSS %llu before, %llu after trimming %llu free bytes",
	    (unsigned long long)before.rss, (unsigned long long)after.rss,
	    (unsigned long long)freed);
out:
	for (i = 0; i < BURST; i++)
		free(blocks[i]);
	free(blocks);
}
END_TEST

/* Little free memory: nothing to do. */
START_TEST(test_no_trim_when_little_free)
{
	struct procmem	pm;

	ck_assert_int_eq(procmem_read(&pm), 0);
	procmem_trim();
	if (!pm.has_malloc) {
		ck_assert_uint_eq(procmem_trim(), 0);
		return;
	}
	ck_assert_int_eq(procmem_read(&pm), 0);
	if (pm.malloc_free < PROCMEM_TRIM_MIN)
		ck_assert_uint_eq(procmem_trim(), 0);
}
END_TEST

static Suite *
procmem_suite(void)
{
	Suite	*s = suite_create("procmem");
	TCase	*tc = tcase_create("procmem");

	tcase_add_test(tc, test_read);
	tcase_add_test(tc, test_trim_after_burst);
	tcase_add_test(tc, test_no_trim_when_little_free);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_run(procmem_suite());
}
