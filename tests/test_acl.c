/*
 * test_acl.c: Check suite for daemon/acl.c and the users of daemon/conf.c.
 *
 * The acl tests build sets by hand: digests (checked against sha256sum's
 * answer for a known string), authentication (a wrong password and a
 * missing user give the same NULL, disabled users never log in, nopass
 * ones with anything), Redis' `&pattern` rules (a channel glob-matches a
 * pattern; a PSUBSCRIBE pattern must be one literally, "*" permits all),
 * commands and the connection counts. The conf tests load `users` from
 * files and check every error's "FILE:LINE: message".
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <check.h>

#include "check_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl.h"
#include "conf.h"

/* printf %s secret | sha256sum */
#define SECRET_HEX \
	"2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"
/* printf %s other | sha256sum */
#define OTHER_HEX \
	"d9298a10d1b0735837dc4bd85dac641b0f3cef27a47e5d53a54f2f3f5b2fcffa"

#define CH(s)	(s), sizeof(s) - 1

/* A set with alice (news.* both ways, "get"), bob (disabled), anon. */
static struct acl *
make_acl(void)
{
	struct acl	*acl;
	struct acl_user	*u;

	ck_assert_ptr_nonnull(acl = acl_new());
	ck_assert_ptr_nonnull(u = acl_user_add(acl, "alice"));
	ck_assert_int_eq(acl_user_set_digest_hex(u, SECRET_HEX), 0);
	ck_assert_int_eq(acl_user_add_pattern(u, ACL_SUBSCRIBE, CH("news.*")),
	    0);
	ck_assert_int_eq(acl_user_add_pattern(u, ACL_PUBLISH, CH("news.*")),
	    0);
	ck_assert_int_eq(acl_user_add_command(u, "get"), 0);
	ck_assert_int_eq(acl_user_add_command(u, "client|list"), 0);
	ck_assert_ptr_nonnull(u = acl_user_add(acl, "bob"));
	ck_assert_int_eq(acl_user_set_digest_hex(u, OTHER_HEX), 0);
	acl_user_set_enabled(u, 0);
	ck_assert_ptr_nonnull(u = acl_user_add(acl, "anon"));
	acl_user_set_nopass(u, 1);
	return acl;
}

START_TEST(test_digest)
{
	unsigned char	d[ACL_DIGEST_LEN];
	char		hex[ACL_DIGEST_HEX_LEN + 1];

	ck_assert_int_eq(acl_digest("secret", 6, d), 0);
	acl_digest_hex(d, hex);
	ck_assert_str_eq(hex, SECRET_HEX);
}
END_TEST

START_TEST(test_digest_hex_parsing)
{
	struct acl	*acl = acl_new();
	struct acl_user	*u = acl_user_add(acl, "x");
	char		 upper[ACL_DIGEST_HEX_LEN + 1];
	size_t		 i;

	ck_assert_int_eq(acl_user_set_digest_hex(u, ""), -1);
	ck_assert_int_eq(acl_user_set_digest_hex(u, "abc"), -1);
	/* 63 and 65 digits, and one that is not hex. */
	ck_assert_int_eq(acl_user_set_digest_hex(u, &SECRET_HEX[1]), -1);
	ck_assert_int_eq(acl_user_set_digest_hex(u, SECRET_HEX "0"), -1);
	snprintf(upper, sizeof(upper), "g%s", &SECRET_HEX[1]);
	ck_assert_int_eq(acl_user_set_digest_hex(u, upper), -1);
	ck_assert(!acl_user_has_credentials(u));
	for (i = 0; i < ACL_DIGEST_HEX_LEN; i++)
		upper[i] = (char)(SECRET_HEX[i] >= 'a' ? SECRET_HEX[i] - 32 :
		    SECRET_HEX[i]);
	upper[i] = '\0';
	ck_assert_int_eq(acl_user_set_digest_hex(u, upper), 0);
	ck_assert(acl_user_has_credentials(u));
	ck_assert_ptr_eq(acl_authenticate(acl, CH("x"), CH("secret")), u);
	acl_free(acl);
}
END_TEST

START_TEST(test_authenticate)
{
	struct acl	*acl = make_acl();
	struct acl_user	*alice = acl_find(acl, CH("alice"));

	ck_assert_ptr_nonnull(alice);
	ck_assert_ptr_eq(acl_authenticate(acl, CH("alice"), CH("secret")),
	    alice);
	/* Wrong password, missing user: the same answer. */
	ck_assert_ptr_null(acl_authenticate(acl, CH("alice"), CH("secreT")));
	ck_assert_ptr_null(acl_authenticate(acl, CH("alice"), CH("")));
	ck_assert_ptr_null(acl_authenticate(acl, CH("alicex"), CH("secret")));
	ck_assert_ptr_null(acl_authenticate(acl, CH("nobody"), CH("secret")));
	/* A password with a NUL inside is its bytes, not a C string. */
	ck_assert_ptr_null(acl_authenticate(acl, CH("alice"),
	    "secret\0x", 8));
	/* Disabled: not even the right password. */
	ck_assert_ptr_null(acl_authenticate(acl, CH("bob"), CH("other")));
	/* nopass: anything. */
	ck_assert_ptr_eq(acl_authenticate(acl, CH("anon"), CH("whatever")),
	    acl_find(acl, CH("anon")));
	/* No default user: nobody starts logged in. */
	ck_assert_ptr_null(acl_login_user(acl));
	ck_assert(!acl_default_nopass(acl));
	acl_free(acl);
}
END_TEST

START_TEST(test_default_user)
{
	struct acl	*acl = acl_new();
	struct acl_user	*d;

	ck_assert_ptr_nonnull(d = acl_user_add(acl, ACL_DEFAULT_USER));
	ck_assert_int_eq(acl_user_set_digest_hex(d, SECRET_HEX), 0);
	ck_assert_ptr_null(acl_login_user(acl));
	ck_assert(!acl_default_nopass(acl));
	ck_assert_ptr_eq(acl_authenticate(acl, CH("default"), CH("secret")),
	    d);
	acl_free(acl);

	acl = acl_new();
	d = acl_user_add(acl, ACL_DEFAULT_USER);
	acl_user_set_nopass(d, 1);
	ck_assert_ptr_eq(acl_login_user(acl), d);
	ck_assert(acl_default_nopass(acl));
	/* A disabled nopass default lets nobody in without AUTH. */
	acl_user_set_enabled(d, 0);
	ck_assert_ptr_null(acl_login_user(acl));
	acl_free(acl);
}
END_TEST

START_TEST(test_open_set)
{
	struct acl	*acl = acl_new_open();
	struct acl_user	*d;

	ck_assert_ptr_nonnull(acl);
	ck_assert_uint_eq(acl_count(acl), 1);
	ck_assert_ptr_nonnull(d = acl_login_user(acl));
	ck_assert_str_eq(acl_user_name(d), "default");
	ck_assert(acl_channel_ok(d, ACL_SUBSCRIBE, CH("anything")));
	ck_assert(acl_channel_ok(d, ACL_PUBLISH, CH("anything")));
	ck_assert(acl_pattern_ok(d, CH("*")));
	ck_assert(acl_pattern_ok(d, CH("a?[bc]")));
	ck_assert(acl_command_ok(d, "get", NULL));
	ck_assert(acl_command_ok(d, "client", "client|kill"));
	acl_free(acl);
}
END_TEST

START_TEST(test_channels_and_patterns)
{
	struct acl	*acl = make_acl();
	struct acl_user	*a = acl_find(acl, CH("alice"));
	struct acl_user	*n = acl_find(acl, CH("anon"));

	ck_assert(acl_channel_ok(a, ACL_SUBSCRIBE, CH("news.sport")));
	ck_assert(acl_channel_ok(a, ACL_PUBLISH, CH("news.")));
	ck_assert(!acl_channel_ok(a, ACL_SUBSCRIBE, CH("sports")));
	ck_assert(!acl_channel_ok(a, ACL_SUBSCRIBE, CH("news")));
	ck_assert(!acl_channel_ok(a, ACL_PUBLISH, CH("xnews.a")));
	/* Redis' rule: a pattern is permitted only as one of the user's. */
	ck_assert(acl_pattern_ok(a, CH("news.*")));
	ck_assert(!acl_pattern_ok(a, CH("*")));
	ck_assert(!acl_pattern_ok(a, CH("n*")));
	ck_assert(!acl_pattern_ok(a, CH("news.a*")));
	ck_assert(!acl_pattern_ok(a, CH("news.")));
	/* Nothing listed: nothing permitted. */
	ck_assert(!acl_channel_ok(n, ACL_SUBSCRIBE, CH("news.a")));
	ck_assert(!acl_pattern_ok(n, CH("news.*")));
	acl_free(acl);
}
END_TEST

START_TEST(test_separate_publish)
{
	struct acl	*acl = acl_new();
	struct acl_user	*u = acl_user_add(acl, "reader");

	acl_user_add_pattern(u, ACL_SUBSCRIBE, CH("*"));
	acl_user_add_pattern(u, ACL_PUBLISH, CH("replies.?"));
	ck_assert(acl_channel_ok(u, ACL_SUBSCRIBE, CH("x")));
	ck_assert(acl_pattern_ok(u, CH("n*")));
	ck_assert(acl_channel_ok(u, ACL_PUBLISH, CH("replies.1")));
	ck_assert(!acl_channel_ok(u, ACL_PUBLISH, CH("replies.12")));
	ck_assert(!acl_channel_ok(u, ACL_PUBLISH, CH("x")));
	acl_free(acl);
}
END_TEST

START_TEST(test_commands)
{
	struct acl	*acl = make_acl();
	struct acl_user	*a = acl_find(acl, CH("alice"));
	struct acl_user	*n = acl_find(acl, CH("anon"));

	ck_assert(acl_command_ok(a, "get", NULL));
	ck_assert(!acl_command_ok(a, "set", NULL));
	ck_assert(acl_command_ok(a, "client", "client|list"));
	ck_assert(!acl_command_ok(a, "client", "client|kill"));
	ck_assert(!acl_command_ok(n, "get", NULL));
	ck_assert_int_eq(acl_user_add_command(n, "client"), 0);
	ck_assert(acl_command_ok(n, "client", "client|kill"));
	acl_free(acl);
}
END_TEST

START_TEST(test_duplicate_and_counts)
{
	struct acl	*acl = make_acl();
	struct acl_user	*a = acl_find(acl, CH("alice"));

	ck_assert_ptr_null(acl_user_add(acl, "alice"));
	ck_assert_uint_eq(acl_count(acl), 3);
	ck_assert(acl_user_has_room(a));
	acl_user_set_limits(a, 2, 7);
	ck_assert_int_eq(acl_user_max_connections(a), 2);
	ck_assert_int_eq(acl_user_max_subscriptions(a), 7);
	acl_user_attach(a);
	ck_assert(acl_user_has_room(a));
	acl_user_attach(a);
	ck_assert(!acl_user_has_room(a));
	ck_assert_uint_eq(acl_user_connections(a), 2);
	acl_user_detach(a);
	ck_assert(acl_user_has_room(a));
	acl_user_detach(a);
	acl_user_detach(a);	/* never below zero */
	ck_assert_uint_eq(acl_user_connections(a), 0);
	acl_free(acl);
	acl_free(NULL);
}
END_TEST

/* Loads text from a temporary file; NULL with err filled on failure. */
static struct conf *
load(const char *text, char *path, size_t pathlen, char *err, size_t errlen)
{
	struct conf	*conf;
	size_t		 len = strlen(text);
	int		 fd;

	snprintf(path, pathlen, "/tmp/pubsubd-acl-XXXXXX");
	ck_assert_int_ne(fd = mkstemp(path), -1);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	err[0] = '\0';
	conf = conf_load(path, err, errlen);
	unlink(path);
	return conf;
}

/* Checks that text fails with exactly "FILE:line: msg". */
static void
expect_error(const char *text, int line, const char *msg)
{
	struct conf	*conf;
	char		 path[64], err[1024], want[1200];

	conf = load(text, path, sizeof(path), err, sizeof(err));
	snprintf(want, sizeof(want), "%s:%d: %s", path, line, msg);
	ck_assert_ptr_null(conf);
	ck_assert_str_eq(err, want);
}

START_TEST(test_conf_no_users)
{
	struct conf	*conf;
	char		 path[64], err[1024];

	conf = load("passthrough = true;\n", path, sizeof(path), err,
	    sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	ck_assert_int_eq(conf->protected_mode, 1);
	ck_assert_uint_eq(acl_count(conf->acl), 1);
	ck_assert_ptr_nonnull(acl_login_user(conf->acl));
	conf_free(conf);
	ck_assert_ptr_nonnull(conf = conf_new_defaults());
	ck_assert_ptr_nonnull(acl_login_user(conf->acl));
	conf_free(conf);
}
END_TEST

START_TEST(test_conf_users)
{
	struct conf	*conf;
	struct acl_user	*u;
	char		 path[64], err[1024];

	conf = load("protected_mode = false;\n"
	    "users = (\n"
	    "  { name = \"alice\"; password_sha256 = \"" SECRET_HEX "\";\n"
	    "    subscribe = [ \"news.*\", \"weather\" ];\n"
	    "    publish = [ \"news.*\" ]; commands = [ \"GET\", \"client|list\" ];\n"
	    "    max_connections = 3; max_subscriptions = 10; enabled = true; },\n"
	    "  { name = \"default\"; nopass = true; subscribe = ( \"public.*\" ); },\n"
	    "  { name = \"old\"; password_sha256 = \"" OTHER_HEX "\"; "
	    "enabled = false; }\n"
	    ");\n", path, sizeof(path), err, sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	ck_assert_int_eq(conf->protected_mode, 0);
	ck_assert_uint_eq(acl_count(conf->acl), 3);
	ck_assert_ptr_nonnull(u = acl_find(conf->acl, CH("alice")));
	ck_assert_ptr_eq(acl_authenticate(conf->acl, CH("alice"),
	    CH("secret")), u);
	ck_assert(acl_channel_ok(u, ACL_SUBSCRIBE, CH("weather")));
	ck_assert(acl_channel_ok(u, ACL_SUBSCRIBE, CH("news.x")));
	ck_assert(!acl_channel_ok(u, ACL_PUBLISH, CH("weather")));
	ck_assert(acl_command_ok(u, "get", NULL));	/* lower-cased */
	ck_assert(acl_command_ok(u, "client", "client|list"));
	ck_assert(!acl_command_ok(u, "set", NULL));
	ck_assert_int_eq(acl_user_max_connections(u), 3);
	ck_assert_int_eq(acl_user_max_subscriptions(u), 10);
	ck_assert_ptr_nonnull(u = acl_login_user(conf->acl));
	ck_assert_str_eq(acl_user_name(u), "default");
	ck_assert(acl_channel_ok(u, ACL_SUBSCRIBE, CH("public.a")));
	ck_assert(!acl_command_ok(u, "get", NULL));	/* none by default */
	ck_assert_ptr_null(acl_authenticate(conf->acl, CH("old"),
	    CH("other")));
	conf_free(conf);
}
END_TEST

START_TEST(test_conf_user_errors)
{
	expect_error("users = ( );\n", 1, "'users' must name at least one "
	    "user (leave it out for no authentication)");
	expect_error("users = { name = \"a\"; };\n", 1, "'users' must be a list "
	    "( { name = ...; password_sha256 = ...; }, ... )");
	expect_error("users = ( \"a\" );\n", 1, "each 'users' entry must be a "
	    "group { name = ...; password_sha256 = ...; }");
	expect_error("users = (\n { nopass = true; }\n);\n", 2,
	    "a user needs a 'name'");
	expect_error("users = (\n { name = \"a\";\n   password = \"x\"; }\n);\n",
	    3, "unknown key 'password'");
	expect_error("users = (\n { name = \"a b\"; nopass = true; }\n);\n", 2,
	    "user name 'a b' may hold only printable characters, no spaces");
	expect_error("users = (\n { name = \"a\"; nopass = true; },\n"
	    " { name = \"a\"; nopass = true; }\n);\n", 3,
	    "user 'a' is listed twice");
	expect_error("users = (\n { name = \"a\";\n"
	    "   password_sha256 = \"abc\"; }\n);\n", 3, "user 'a': "
	    "'password_sha256' must be 64 hex digits, the SHA-256 digest of "
	    "the password (printf %s 'password' | sha256sum)");
	expect_error("users = (\n { name = \"a\";\n   password_sha256 = \"z"
	    SECRET_HEX "\"; }\n);\n", 3, "user 'a': 'password_sha256' must "
	    "be 64 hex digits, the SHA-256 digest of the password (printf %s "
	    "'password' | sha256sum)");
	expect_error("users = (\n { name = \"a\"; }\n);\n", 2,
	    "user 'a' needs 'password_sha256' (or 'nopass = true;')");
	expect_error("users = (\n { name = \"a\"; password_sha256 = \""
	    SECRET_HEX "\";\n   nopass = true; }\n);\n", 3,
	    "user 'a' has both 'password_sha256' and 'nopass'");
	expect_error("users = (\n { name = \"a\"; nopass = true;\n"
	    "   subscribe = \"news.*\"; }\n);\n", 3,
	    "'subscribe' must be an array of strings [ \"...\", ... ]");
	expect_error("users = (\n { name = \"a\"; nopass = true;\n"
	    "   publish = [ 1 ]; }\n);\n", 3,
	    "'publish' must be an array of strings [ \"...\", ... ]");
	expect_error("users = (\n { name = \"a\"; nopass = true;\n"
	    "   subscribe = [ \"\" ]; }\n);\n", 3,
	    "'subscribe' must not hold an empty string");
	expect_error("users = (\n { name = \"a\"; nopass = true;\n"
	    "   commands = [ \"get x\" ]; }\n);\n", 3,
	    "'commands' holds command names (\"get\", \"client|kill\") or "
	    "\"*\", not 'get x'");
	expect_error("users = (\n { name = \"a\"; nopass = true;\n"
	    "   max_connections = -1; }\n);\n", 3,
	    "'max_connections' must be between 0 and 2147483647, not -1");
	expect_error("users = (\n { name = \"a\"; nopass = true;\n"
	    "   enabled = 1; }\n);\n", 3, "'enabled' must be true or false");
	expect_error("\nprotected_mode = \"no\";\n", 2,
	    "'protected_mode' must be true or false");
}
END_TEST

static Suite *
acl_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("acl");
	tc = tcase_create("acl");
	tcase_add_test(tc, test_digest);
	tcase_add_test(tc, test_digest_hex_parsing);
	tcase_add_test(tc, test_authenticate);
	tcase_add_test(tc, test_default_user);
	tcase_add_test(tc, test_open_set);
	tcase_add_test(tc, test_channels_and_patterns);
	tcase_add_test(tc, test_separate_publish);
	tcase_add_test(tc, test_commands);
	tcase_add_test(tc, test_duplicate_and_counts);
	suite_add_tcase(s, tc);
	tc = tcase_create("conf");
	tcase_add_test(tc, test_conf_no_users);
	tcase_add_test(tc, test_conf_users);
	tcase_add_test(tc, test_conf_user_errors);
	suite_add_tcase(s, tc);
	return s;
}

/* Runs the acl suite; exits non-zero if a test failed. */
int
main(void)
{
	return check_run(acl_suite());
}
