/*
 * check_run.h: how every Check suite here is run: all its tests, the usual
 * report, and an exit status make check understands.
 */
#ifndef PUBSUBD_CHECK_RUN_H
#define PUBSUBD_CHECK_RUN_H

#include <stdlib.h>

#include <check.h>

/* Runs suite s (taking it over); returns the number of failed tests. */
static inline int
check_run_failed(Suite *s)
{
	SRunner	*sr = srunner_create(s);
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed;
}

/* Runs suite s; returns EXIT_SUCCESS if every test passed. */
static inline int
check_run(Suite *s)
{
	return check_run_failed(s) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif /* PUBSUBD_CHECK_RUN_H */
