/*
 * test_ticket.c: Check suite for daemon/ticket.c: signatures as
 * `openssl dgst -sha256 -hmac` makes them, and every way a ticket is not
 * good.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <check.h>

#include "check_run.h"
#include <stdio.h>
#include <string.h>

#include "ticket.h"

static const char secret[] = "0123456789abcdef0123456789abcdef";

START_TEST(test_sign)
{
	char	sig[65];

	/* printf %s "alice:1767225600" | openssl dgst -sha256 -hmac SECRET */
	ck_assert_int_eq(ticket_sign(secret, "alice:1767225600", 16, sig), 0);
	ck_assert_str_eq(sig, "537625343687e8df59a9816c27f92596"
	    "a7fcab88dad76161b842e473862480ba");
	ck_assert_uint_eq(strlen(sig), 64);
}
END_TEST

/* A ticket for user until expiry, signed with key. */
static const char *
make(const char *key, const char *user, long long expiry)
{
	static char	buf[512];
	char		sig[65];
	int		n;

	n = snprintf(buf, sizeof(buf), "%s:%lld", user, expiry);
	ck_assert_int_eq(ticket_sign(key, buf, (size_t)n, sig), 0);
	snprintf(buf + n, sizeof(buf) - (size_t)n, ":%s", sig);
	return buf;
}

START_TEST(test_check)
{
	char		 user[64], t[512];
	const char	*k;

	k = make(secret, "alice", 2000);
	ck_assert_int_eq(ticket_check(secret, k, strlen(k), 1999, user,
	    sizeof(user)), TICKET_OK);
	ck_assert_str_eq(user, "alice");
	ck_assert_int_eq(ticket_check(secret, k, strlen(k), 2000, user,
	    sizeof(user)), TICKET_OK);
	ck_assert_int_eq(ticket_check(secret, k, strlen(k), 2001, user,
	    sizeof(user)), TICKET_EXPIRED);
	/* Another secret, a changed name or time, a changed signature. */
	k = make("another secret, just as long", "alice", 2000);
	ck_assert_int_eq(ticket_check(secret, k, strlen(k), 1, user,
	    sizeof(user)), TICKET_FORGED);
	snprintf(t, sizeof(t), "%s", make(secret, "alice", 2000));
	t[0] = 'b';
	ck_assert_int_eq(ticket_check(secret, t, strlen(t), 1, user,
	    sizeof(user)), TICKET_FORGED);
	snprintf(t, sizeof(t), "%s", make(secret, "alice", 2000));
	t[6] = '9';
	ck_assert_int_eq(ticket_check(secret, t, strlen(t), 1, user,
	    sizeof(user)), TICKET_FORGED);
	t[6] = '2';
	t[strlen(t) - 1] = t[strlen(t) - 1] == '0' ? '1' : '0';
	ck_assert_int_eq(ticket_check(secret, t, strlen(t), 1, user,
	    sizeof(user)), TICKET_FORGED);
	/* A name with ':' is fine (the last two separate the rest). */
	k = make(secret, "a:b", 2000);
	ck_assert_int_eq(ticket_check(secret, k, strlen(k), 1, user,
	    sizeof(user)), TICKET_OK);
	ck_assert_str_eq(user, "a:b");
	/* Malformed. */
	ck_assert_int_eq(ticket_check(secret, "", 0, 1, user, sizeof(user)),
	    TICKET_MALFORMED);
	ck_assert_int_eq(ticket_check(secret, "alice:2000", 10, 1, user,
	    sizeof(user)), TICKET_MALFORMED);
	snprintf(t, sizeof(t), "%s", make(secret, "alice", 2000));
	t[strlen(t) - 1] = '\0';		/* 63 hex digits */
	ck_assert_int_eq(ticket_check(secret, t, strlen(t), 1, user,
	    sizeof(user)), TICKET_MALFORMED);
	snprintf(t, sizeof(t), "alice:20x0:%064d", 0);
	ck_assert_int_eq(ticket_check(secret, t, strlen(t), 1, user,
	    sizeof(user)), TICKET_MALFORMED);
	snprintf(t, sizeof(t), ":2000:%064d", 0);
	ck_assert_int_eq(ticket_check(secret, t, strlen(t), 1, user,
	    sizeof(user)), TICKET_MALFORMED);
	k = make(secret, "alice", 2000);
	ck_assert_int_eq(ticket_check(secret, k, strlen(k), 1, user, 5),
	    TICKET_MALFORMED);		/* no room for the name */
}
END_TEST

static Suite *
ticket_suite(void)
{
	Suite	*s = suite_create("ticket");
	TCase	*tc = tcase_create("ticket");

	tcase_add_test(tc, test_sign);
	tcase_add_test(tc, test_check);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_run(ticket_suite());
}
