/*
 * test_integ_auth.c: users, AUTH, permissions, revocation on reload and
 * protected mode, end to end: a real redis-server, a real pubsubd with
 * `users` in its configuration, and raw RESP connections.
 *
 * The error texts were read off redis-server 7.0.15 configured with the
 * equivalent ACL (user alice on >secret &news.*); the last test of the
 * "redis" case asks the suite's own redis-server for them again, so a
 * Redis that words them differently shows up here.
 *
 * Each test runs in a child process of Check's; the servers it starts die
 * with it. Every wait has a deadline and every loop a bound.
 */
#include "config.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <check.h>

#include "check_run.h"

#include "harness.h"

/* printf %s secret | sha256sum, and for "adm", "pw2", "bobpw". */
#define SECRET_HEX \
	"2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"
#define ADM_HEX \
	"86f65e28a754e1a71b2df9403615a6c436c32c42a75a10d02813961b86f1e428"
#define PW2_HEX \
	"93915a0a4bf8f634cb1856494dd4304472ad46b9827f541f76b6761c49cc55b0"
#define BOBPW_HEX \
	"e8f318657ce39ec4edeecbbee28fd72dea2261d8a6b2155ce4977393e0ea721b"

#define NOAUTH		"-NOAUTH Authentication required.\r\n"
#define WRONGPASS	"-WRONGPASS invalid username-password pair or user " \
			    "is disabled.\r\n"
#define NOPERM_CHANNEL	"-NOPERM this user has no permissions to access " \
			    "one of the channels used as arguments\r\n"
#define NOPERM_CMD(c)	"-NOPERM this user has no permissions to run the '" \
			    c "' command\r\n"
#define HELLO_NOAUTH	"-NOAUTH HELLO must be called with the client " \
			    "already authenticated, otherwise the HELLO AUTH " \
			    "<user> <pass> option can be used to authenticate " \
			    "the client and select the RESP protocol version " \
			    "at the same time\r\n"

/* alice: news.* both ways, max 2 connections; admin: everything. */
#define USERS_ALICE_ADMIN \
	"users = (\n" \
	"  { name = \"alice\"; password_sha256 = \"" SECRET_HEX "\";\n" \
	"    subscribe = [ \"news.*\" ]; publish = [ \"news.*\" ];\n" \
	"    max_connections = 2; },\n" \
	"  { name = \"admin\"; password_sha256 = \"" ADM_HEX "\";\n" \
	"    subscribe = [ \"*\" ]; publish = [ \"*\" ]; commands = [ \"*\" ]; }\n"

static struct h_env	env;

/* Starts redis-server and pubsubd with extra and the users text. */
static void
start(const char *extra, const char *users)
{
	char	text[4096], log[300];
	int	i;

	snprintf(text, sizeof(text), "%s\n%s", extra != NULL ? extra : "",
	    users);
	memset(&env, 0, sizeof(env));
	ck_assert_msg(h_start_with(&env, NULL, text) == 0, "pubsubd did not "
	    "start");
	/* Until it has Redis' command table, GET is an unknown command. */
	snprintf(log, sizeof(log), "%s/pubsubd.log", env.dir);
	for (i = 0; i < 200 && !h_file_has(log, " commands"); i++)
		usleep(50000);
}

/* Connects and logs in as user (NULL: no AUTH). */
static struct h_conn *
login(const char *user, const char *password)
{
	struct h_conn	*c;

	ck_assert_ptr_nonnull(c = h_connect(env.pubsubd_port));
	if (user != NULL) {
		h_command(c, "AUTH", user, password, NULL);
		ck_assert(h_expect(c, "+OK\r\n"));
	}
	return c;
}

/* Sends a command given as NULL-terminated strings and expects want. */
#define EXECABORT	"-EXECABORT Transaction discarded because of " \
			    "previous errors.\r\n"

#define EXPECT(c, want, ...) do {					\
	ck_assert_int_eq(h_command((c), __VA_ARGS__, NULL), 0);		\
	ck_assert((h_expect((c), (want))));				\
} while (0)

/* The value of an INFO stats field on a logged-in connection. */
static long long
stat_of(struct h_conn *c, const char *field)
{
	return h_info_on(c, "stats", field, H_TIMEOUT_MS);
}

/* Replaces the users of env's configuration with users and reloads. */
static void
reload_users(const char *users, const char *wait_for)
{
	char	 log[300], buf[8192], *p;
	FILE	*f;
	size_t	 n;
	int	 i;

	ck_assert_ptr_nonnull(f = fopen(env.conf, "r"));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	ck_assert_ptr_nonnull(p = strstr(buf, "users = ("));
	*p = '\0';
	ck_assert_ptr_nonnull(f = fopen(env.conf, "w"));
	fprintf(f, "%s%s", buf, users);
	fclose(f);
	snprintf(log, sizeof(log), "%s/pubsubd.log", env.dir);
	ck_assert_int_eq(kill(env.pubsubd_pid, SIGHUP), 0);
	for (i = 0; i < 100 && !h_file_has(log, wait_for); i++)
		usleep(50000);
	ck_assert_msg(h_file_has(log, wait_for), "no '%s' in %s", wait_for,
	    log);
}

static void
stop(void)
{
	ck_assert_int_eq(h_stop(&env), 0);
}

START_TEST(unauthenticated_client_can_only_auth_hello_ping_quit_reset)
{
	struct h_conn	*c, *r;

	start("passthrough = true;", USERS_ALICE_ADMIN ");\n");
	c = login(NULL, NULL);
	EXPECT(c, NOAUTH, "SUBSCRIBE", "news.a");
	EXPECT(c, NOAUTH, "PSUBSCRIBE", "*");
	EXPECT(c, NOAUTH, "SSUBSCRIBE", "news.a");
	EXPECT(c, NOAUTH, "PUBLISH", "news.a", "x");
	EXPECT(c, NOAUTH, "GET", "k");
	EXPECT(c, NOAUTH, "PUBSUB", "CHANNELS");
	EXPECT(c, NOAUTH, "PUBSUB", "NUMSUB", "news.a");
	EXPECT(c, NOAUTH, "CLIENT", "LIST");
	EXPECT(c, NOAUTH, "INFO");
	EXPECT(c, "+PONG\r\n", "PING");
	EXPECT(c, HELLO_NOAUTH, "HELLO", "3");
	EXPECT(c, "+RESET\r\n", "RESET");
	/* No default user: AUTH <password> is a failed login. */
	EXPECT(c, WRONGPASS, "AUTH", "secret");
	/* Nothing reached Redis. */
	ck_assert_ptr_nonnull(r = h_connect(env.redis_port));
	ck_assert_int_eq(h_numsub(r, "news.a"), 0);
	EXPECT(r, "$-1\r\n", "GET", "k");
	EXPECT(c, "+OK\r\n", "QUIT");
	h_close(c);
	h_close(r);
	stop();
}
END_TEST

START_TEST(wrong_password_reply_is_the_same_for_missing_user_and_counted)
{
	struct h_conn	*c, *a;
	struct h_http_resp resp;
	char		*r1, *r2, *r3, *r4, log[300];
	int		 mport = h_free_port();
	char		 extra[128];

	snprintf(extra, sizeof(extra), "metrics = { enabled = true; port = "
	    "%d; };", mport);
	start(extra, USERS_ALICE_ADMIN ");\n");
	c = login(NULL, NULL);
	h_command(c, "AUTH", "alice", "wrong", NULL);
	r1 = h_reply(c, NULL, H_TIMEOUT_MS);
	h_command(c, "AUTH", "nobody", "wrong", NULL);
	r2 = h_reply(c, NULL, H_TIMEOUT_MS);
	h_command(c, "HELLO", "3", "AUTH", "alice", "wrong", NULL);
	r3 = h_reply(c, NULL, H_TIMEOUT_MS);
	h_command(c, "HELLO", "3", "AUTH", "nobody", "wrong", NULL);
	r4 = h_reply(c, NULL, H_TIMEOUT_MS);
	ck_assert_ptr_nonnull(r1);
	ck_assert_str_eq(r1, WRONGPASS);
	ck_assert_str_eq(r2, r1);
	ck_assert_str_eq(r3, r1);
	ck_assert_str_eq(r4, r1);
	free(r1);
	free(r2);
	free(r3);
	free(r4);
	/* Still not logged in, still RESP2. */
	EXPECT(c, NOAUTH, "SUBSCRIBE", "news.a");
	a = login("alice", "secret");
	ck_assert_int_eq(stat_of(a, "acl_access_denied_auth"), 4);
	ck_assert_int_eq(h_http(mport, "GET", "/metrics", &resp, H_TIMEOUT_MS),
	    0);
	ck_assert_ptr_nonnull(strstr(resp.body,
	    "\npubsubd_auth_failures_total 4\n"));
	h_http_free(&resp);
	/* Logged with the name and address, never the password. */
	snprintf(log, sizeof(log), "%s/pubsubd.log", env.dir);
	ck_assert(h_file_has(log, "authentication failed for user 'nobody'"));
	ck_assert(h_file_has(log, "(127.0.0.1:"));
	ck_assert(!h_file_has(log, "wrong"));
	ck_assert(!h_file_has(log, "secret"));
	h_close(a);
	h_close(c);
	stop();
}
END_TEST

/*
 * In the log at path: how many lines say a login failed, and the sum of
 * the N of the "N more authentication failures" lines.
 */
static void
auth_log_counts(const char *path, long long *lines, long long *more)
{
	static const char	 failed[] = "authentication failed for user";
	static const char	 tail[] = " more authentication failures";
	FILE			*f;
	char			 line[1024], *p;

	*lines = *more = 0;
	if ((f = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strstr(line, failed) != NULL)
			(*lines)++;
		if ((p = strstr(line, tail)) != NULL) {
			/* The number is the word before the tail. */
			while (p > line && p[-1] >= '0' && p[-1] <= '9')
				p--;
			*more += strtoll(p, NULL, 10);
		}
	}
	fclose(f);
}

START_TEST(auth_failure_flood_is_logged_within_a_bound_and_counted)
{
	enum { N = 300 };
	static const char	 one[] = "AUTH nobody wrong\r\n";
	struct h_conn		*c, *a;
	char			*buf, *r, log[300];
	long long		 t0, ms, lines, more;
	int			 i;

	start(NULL, USERS_ALICE_ADMIN ");\n");
	snprintf(log, sizeof(log), "%s/pubsubd.log", env.dir);
	c = login(NULL, NULL);
	ck_assert_ptr_nonnull(buf = malloc(N * (sizeof(one) - 1)));
	for (i = 0; i < N; i++)
		memcpy(buf + i * (sizeof(one) - 1), one, sizeof(one) - 1);
	t0 = h_now_ms();
	ck_assert_int_eq(h_send(c, buf, N * (sizeof(one) - 1)), 0);
	free(buf);
	for (i = 0; i < N; i++) {
		ck_assert_ptr_nonnull(r = h_reply(c, NULL, H_TIMEOUT_MS));
		ck_assert_str_eq(r, WRONGPASS);
		free(r);
	}
	ms = h_now_ms() - t0;
	/* The counters count every one. */
	a = login("alice", "secret");
	ck_assert_int_eq(stat_of(a, "acl_access_denied_auth"), N);
	/* The log: some lines, then the rest as "N more" (within ~1 s). */
	for (i = 0; i < 100; i++) {
		auth_log_counts(log, &lines, &more);
		if (lines + more >= N)
			break;
		usleep(50000);
	}
	ck_assert_msg(lines + more == N, "%lld lines + %lld more, not %d",
	    lines, more, N);
	ck_assert_int_gt(more, 0);
	/* At most 10 a second (the flood took ms; windows may straddle). */
	ck_assert_msg(lines <= 10 * (ms / 1000 + 2), "%lld lines in %lld ms",
	    lines, ms);
	h_close(a);
	h_close(c);
	stop();
}
END_TEST

START_TEST(news_user_cannot_subscribe_sports_or_wider_patterns)
{
	struct h_conn		*a, *r;
	struct h_http_resp	 resp;
	int			 mport = h_free_port();
	char			 extra[160];

	snprintf(extra, sizeof(extra), "passthrough = true; metrics = { "
	    "enabled = true; port = %d; };", mport);
	start(extra, USERS_ALICE_ADMIN ");\n");
	a = login("alice", "secret");
	EXPECT(a, NOPERM_CHANNEL, "SUBSCRIBE", "sports");
	/* One name denied: the whole command is refused. */
	EXPECT(a, NOPERM_CHANNEL, "SUBSCRIBE", "news.a", "sports");
	EXPECT(a, NOPERM_CHANNEL, "PSUBSCRIBE", "*");
	EXPECT(a, NOPERM_CHANNEL, "PSUBSCRIBE", "n*");
	EXPECT(a, NOPERM_CHANNEL, "PSUBSCRIBE", "news.a*");
	EXPECT(a, NOPERM_CHANNEL, "SSUBSCRIBE", "sports");
	EXPECT(a, NOPERM_CHANNEL, "PUBLISH", "sports", "x");
	EXPECT(a, NOPERM_CHANNEL, "SPUBLISH", "sports", "x");
	EXPECT(a, NOPERM_CMD("get"), "GET", "k");
	EXPECT(a, NOPERM_CMD("client|list"), "CLIENT", "LIST");
	EXPECT(a, NOPERM_CMD("client|kill"), "CLIENT", "KILL", "ID", "1");
	EXPECT(a, NOPERM_CMD("multi"), "MULTI");
	ck_assert_ptr_nonnull(r = h_connect(env.redis_port));
	ck_assert_int_eq(h_numsub(r, "news.a"), 0);
	ck_assert_int_eq(h_numsub(r, "sports"), 0);
	ck_assert_int_eq(stat_of(a, "acl_access_denied_channel"), 8);
	ck_assert_int_eq(stat_of(a, "acl_access_denied_cmd"), 4);
	ck_assert_int_eq(h_http(mport, "GET", "/metrics", &resp, H_TIMEOUT_MS),
	    0);
	ck_assert_ptr_nonnull(strstr(resp.body, "\npubsubd_permission_denied_"
	    "total{kind=\"channel\"} 8\n"));
	ck_assert_ptr_nonnull(strstr(resp.body, "\npubsubd_permission_denied_"
	    "total{kind=\"command\"} 4\n"));
	h_http_free(&resp);
	/* What is permitted works. */
	ck_assert_int_eq(h_command(a, "PSUBSCRIBE", "news.*", NULL), 0);
	ck_assert(h_expect_free(a, h_frame_confirm("psubscribe", "news.*",
	    1)));
	ck_assert_int_eq(h_command(a, "SUBSCRIBE", "news.a", NULL), 0);
	ck_assert(h_expect_free(a, h_frame_confirm("subscribe", "news.a", 2)));
	ck_assert_int_eq(h_wait_numsub(r, "news.a", 1, H_TIMEOUT_MS), 1);
	h_close(a);
	h_close(r);
	stop();
}
END_TEST

START_TEST(pubsub_introspection_hides_channels_the_user_may_not_see)
{
	struct h_conn	*a, *adm, *adm2, *r;
	char		*rep;

	start(NULL, USERS_ALICE_ADMIN ");\n");
	adm = login("admin", "adm");
	ck_assert_int_eq(h_command(adm, "SUBSCRIBE", "sports", "news.a", NULL),
	    0);
	ck_assert(h_expect_free(adm, h_frame_confirm("subscribe", "sports",
	    1)));
	ck_assert(h_expect_free(adm, h_frame_confirm("subscribe", "news.a",
	    2)));
	ck_assert_ptr_nonnull(r = h_connect(env.redis_port));
	ck_assert_int_eq(h_wait_numsub(r, "sports", 1, H_TIMEOUT_MS), 1);
	a = login("alice", "secret");
	EXPECT(a, "*1\r\n$6\r\nnews.a\r\n", "PUBSUB", "CHANNELS");
	EXPECT(a, "*0\r\n", "PUBSUB", "CHANNELS", "s*");
	EXPECT(a, "*4\r\n$6\r\nsports\r\n:0\r\n$6\r\nnews.a\r\n:1\r\n",
	    "PUBSUB", "NUMSUB", "sports", "news.a");
	/* Another admin connection sees everything. */
	adm2 = login("admin", "adm");
	ck_assert_int_eq(h_command(adm2, "PUBSUB", "CHANNELS", NULL), 0);
	ck_assert_ptr_nonnull(rep = h_reply(adm2, NULL, H_TIMEOUT_MS));
	ck_assert_msg(strncmp(rep, "*2\r\n", 4) == 0 &&
	    strstr(rep, "$6\r\nsports\r\n") != NULL &&
	    strstr(rep, "$6\r\nnews.a\r\n") != NULL, "%s", rep);
	h_close(adm2);
	free(rep);
	h_close(a);
	h_close(adm);
	h_close(r);
	stop();
}
END_TEST

START_TEST(default_user_with_password_is_requirepass)
{
	struct h_conn	*c;

	start(NULL, "users = ( { name = \"default\"; password_sha256 = \""
	    SECRET_HEX "\"; subscribe = [ \"*\" ]; } );\n");
	c = login(NULL, NULL);
	EXPECT(c, NOAUTH, "SUBSCRIBE", "x");
	EXPECT(c, WRONGPASS, "AUTH", "nope");
	EXPECT(c, "+OK\r\n", "AUTH", "secret");
	ck_assert_int_eq(h_command(c, "SUBSCRIBE", "x", NULL), 0);
	ck_assert(h_expect_free(c, h_frame_confirm("subscribe", "x", 1)));
	/* RESET: back to the default user, who needs a password. */
	EXPECT(c, "+RESET\r\n", "RESET");
	EXPECT(c, NOAUTH, "SUBSCRIBE", "x");
	EXPECT(c, "+OK\r\n", "AUTH", "default", "secret");
	EXPECT(c, NOPERM_CHANNEL, "PUBLISH", "x", "y");
	h_close(c);
	stop();
}
END_TEST

START_TEST(nopass_default_starts_logged_in_with_its_permissions)
{
	struct h_conn	*c;
	char		*rep;

	start(NULL, USERS_ALICE_ADMIN ",\n  { name = \"default\"; nopass = "
	    "true; subscribe = [ \"public.*\" ]; }\n);\n");
	c = login(NULL, NULL);
	ck_assert_int_eq(h_command(c, "SUBSCRIBE", "public.a", NULL), 0);
	ck_assert(h_expect_free(c, h_frame_confirm("subscribe", "public.a",
	    1)));
	EXPECT(c, "+RESET\r\n", "RESET");
	EXPECT(c, NOPERM_CHANNEL, "SUBSCRIBE", "news.a");
	EXPECT(c, "-ERR AUTH <password> called without any password "
	    "configured for the default user. Are you sure your configuration "
	    "is correct?\r\n", "AUTH", "x");
	EXPECT(c, "+OK\r\n", "AUTH", "alice", "secret");
	ck_assert_int_eq(h_command(c, "CLIENT", "INFO", NULL), 0);
	ck_assert_ptr_nonnull(rep = h_reply(c, NULL, H_TIMEOUT_MS));
	ck_assert_ptr_nonnull(strstr(rep, " user=alice "));
	free(rep);
	ck_assert_int_eq(h_command(c, "SUBSCRIBE", "news.a", NULL), 0);
	ck_assert(h_expect_free(c, h_frame_confirm("subscribe", "news.a", 1)));
	/* RESET: the default user again, logged in since it has nopass. */
	EXPECT(c, "+RESET\r\n", "RESET");
	EXPECT(c, NOPERM_CHANNEL, "SUBSCRIBE", "news.a");
	ck_assert_int_eq(h_command(c, "CLIENT", "INFO", NULL), 0);
	ck_assert_ptr_nonnull(rep = h_reply(c, NULL, H_TIMEOUT_MS));
	ck_assert_ptr_nonnull(strstr(rep, " user=default "));
	free(rep);
	h_close(c);
	stop();
}
END_TEST

/*
 * Waits (up to 5 s) until a connection is let in as the nopass default user
 * with max_connections = 1 and answers PING, then closes it and gives
 * pubsubd time to count it out. 0, or -1.
 */
static int
default_user_free(void)
{
	long long	 deadline = h_now_ms() + 5000;
	struct h_conn	*c;
	char		*rep;
	int		 ok = 0;

	while (!ok && h_now_ms() < deadline) {
		if ((c = h_connect(env.pubsubd_port)) == NULL)
			return -1;
		if (h_command(c, "PING", NULL) == 0 &&
		    (rep = h_reply(c, NULL, H_TIMEOUT_MS)) != NULL) {
			ok = strcmp(rep, "+PONG\r\n") == 0;
			free(rep);
		}
		h_close(c);
		usleep(100000);
	}
	usleep(200000);
	return ok ? 0 : -1;
}

/*
 * RESET logs in as the nopass default user only while it has room: at its
 * max_connections the connection is left logged out (as a new one would be
 * refused), and the count never passes the limit.
 */
START_TEST(reset_at_the_default_users_limit_logs_out)
{
	struct h_conn	*a, *b;

	start(NULL, USERS_ALICE_ADMIN ",\n  { name = \"default\"; nopass = "
	    "true; subscribe = [ \"public.*\" ]; max_connections = 1; }\n"
	    ");\n");
	/* The harness' readiness check may still hold the default user. */
	ck_assert_int_eq(default_user_free(), 0);
	a = login("alice", "secret");	/* default 1 of 1, then alice */
	b = login(NULL, NULL);		/* default 1 of 1 again */
	EXPECT(b, "+PONG\r\n", "PING");
	EXPECT(a, "+RESET\r\n", "RESET");
	EXPECT(a, NOAUTH, "SUBSCRIBE", "public.a");
	EXPECT(b, "+RESET\r\n", "RESET");	/* already default: stays */
	ck_assert_int_eq(h_command(b, "SUBSCRIBE", "public.a", NULL), 0);
	ck_assert(h_expect_free(b, h_frame_confirm("subscribe", "public.a",
	    1)));
	/* Once b is gone, a RESET finds room. */
	h_close(b);
	usleep(200000);
	EXPECT(a, "+RESET\r\n", "RESET");
	ck_assert_int_eq(h_command(a, "SUBSCRIBE", "public.a", NULL), 0);
	ck_assert(h_expect_free(a, h_frame_confirm("subscribe", "public.a",
	    1)));
	h_close(a);
	stop();
}
END_TEST

START_TEST(hello_auth_setname_and_client_list_never_show_the_password)
{
	struct h_conn	*c, *adm;
	char		*rep;

	start(NULL, USERS_ALICE_ADMIN ");\n");
	c = login(NULL, NULL);
	ck_assert_int_eq(h_command(c, "HELLO", "3", "AUTH", "alice", "secret",
	    "SETNAME", "feed", NULL), 0);
	ck_assert_ptr_nonnull(rep = h_reply(c, NULL, H_TIMEOUT_MS));
	ck_assert_msg(strncmp(rep, "%7\r\n", 4) == 0, "%s", rep);
	free(rep);
	adm = login("admin", "adm");
	ck_assert_int_eq(h_command(adm, "CLIENT", "LIST", NULL), 0);
	ck_assert_ptr_nonnull(rep = h_reply(adm, NULL, H_TIMEOUT_MS));
	ck_assert_msg(strstr(rep, "name=feed ") != NULL &&
	    strstr(rep, " cmd=hello user=alice ") != NULL &&
	    strstr(rep, " cmd=auth user=admin ") == NULL &&
	    strstr(rep, "secret") == NULL && strstr(rep, "adm ") == NULL,
	    "%s", rep);
	free(rep);
	/* CLIENT KILL USER: only that user's connections. */
	EXPECT(adm, ":1\r\n", "CLIENT", "KILL", "USER", "alice");
	ck_assert(h_closed(c, H_TIMEOUT_MS));
	EXPECT(adm, "-ERR No such user 'bob'\r\n", "CLIENT", "KILL", "USER",
	    "bob");
	h_close(c);
	h_close(adm);
	stop();
}
END_TEST

START_TEST(per_user_limits_connections_and_subscriptions)
{
	struct h_conn	*a1, *a2, *a3;
	char		*rep;
	int		 i, ok = 0;

	start("limits = { max_subscriptions = 1; };", USERS_ALICE_ADMIN
	    ",\n  { name = \"bob\"; password_sha256 = \"" BOBPW_HEX "\";\n"
	    "    subscribe = [ \"*\" ]; max_subscriptions = 3; }\n);\n");
	a1 = login("alice", "secret");
	a2 = login("alice", "secret");
	a3 = login(NULL, NULL);
	EXPECT(a3, "-ERR max number of connections of user 'alice' reached "
	    "(2)\r\n", "AUTH", "alice", "secret");
	/* Logging in again as the same user is not one more. */
	EXPECT(a2, "+OK\r\n", "AUTH", "alice", "secret");
	h_close(a1);
	for (i = 0; i < 100 && !ok; i++) {
		h_command(a3, "AUTH", "alice", "secret", NULL);
		rep = h_reply(a3, NULL, H_TIMEOUT_MS);
		ok = rep != NULL && strcmp(rep, "+OK\r\n") == 0;
		free(rep);
		if (!ok)
			usleep(50000);
	}
	ck_assert_msg(ok, "alice could not log in after one of hers left");
	/* bob's own max_subscriptions (3) overrides the global 1. */
	EXPECT(a2, "+OK\r\n", "AUTH", "bob", "bobpw");
	ck_assert_int_eq(h_command(a2, "SUBSCRIBE", "a", "b", "c", "d", NULL),
	    0);
	ck_assert(h_expect_free(a2, h_frame_confirm("subscribe", "a", 1)));
	ck_assert(h_expect_free(a2, h_frame_confirm("subscribe", "b", 2)));
	ck_assert(h_expect_free(a2, h_frame_confirm("subscribe", "c", 3)));
	ck_assert(h_expect(a2, "-ERR max subscriptions per client reached "
	    "(3)\r\n"));
	/* alice has none of her own: the global 1. */
	ck_assert_int_eq(h_command(a3, "SUBSCRIBE", "news.a", "news.b", NULL),
	    0);
	ck_assert(h_expect_free(a3, h_frame_confirm("subscribe", "news.a", 1)));
	ck_assert(h_expect(a3, "-ERR max subscriptions per client reached "
	    "(1)\r\n"));
	h_close(a2);
	h_close(a3);
	stop();
}
END_TEST

START_TEST(reload_revokes_subscriptions_and_closes_removed_users)
{
	struct h_conn	*a, *b, *adm, *r, *n;

	start(NULL, USERS_ALICE_ADMIN ",\n  { name = \"bob\"; password_sha256 "
	    "= \"" BOBPW_HEX "\"; subscribe = [ \"*\" ]; }\n);\n");
	a = login("alice", "secret");
	b = login("bob", "bobpw");
	adm = login("admin", "adm");
	ck_assert_int_eq(h_command(a, "SUBSCRIBE", "news.a", "news.b", NULL),
	    0);
	ck_assert(h_expect_free(a, h_frame_confirm("subscribe", "news.a", 1)));
	ck_assert(h_expect_free(a, h_frame_confirm("subscribe", "news.b", 2)));
	ck_assert_int_eq(h_command(a, "PSUBSCRIBE", "news.*", NULL), 0);
	ck_assert(h_expect_free(a, h_frame_confirm("psubscribe", "news.*", 3)));
	ck_assert_int_eq(h_command(b, "SUBSCRIBE", "x", NULL), 0);
	ck_assert(h_expect_free(b, h_frame_confirm("subscribe", "x", 1)));

	/* alice keeps news.a only, with a new password; bob is gone. */
	reload_users("users = (\n"
	    "  { name = \"alice\"; password_sha256 = \"" PW2_HEX "\";\n"
	    "    subscribe = [ \"news.a\" ]; publish = [ \"news.*\" ]; },\n"
	    "  { name = \"admin\"; password_sha256 = \"" ADM_HEX "\";\n"
	    "    subscribe = [ \"*\" ]; publish = [ \"*\" ]; commands = "
	    "[ \"*\" ]; }\n);\n", "configuration reloaded");
	ck_assert(h_expect_free(a, h_frame_confirm("unsubscribe", "news.b",
	    2)));
	ck_assert(h_expect_free(a, h_frame_confirm("punsubscribe", "news.*",
	    1)));
	ck_assert(h_closed(b, H_TIMEOUT_MS));
	/* alice stays, with news.a: a message still comes. */
	ck_assert_ptr_nonnull(r = h_connect(env.redis_port));
	ck_assert_int_eq(h_wait_numsub(r, "news.b", 0, H_TIMEOUT_MS), 0);
	ck_assert_int_eq(h_wait_numsub(r, "x", 0, H_TIMEOUT_MS), 0);
	EXPECT(adm, ":1\r\n", "PUBLISH", "news.a", "hi");
	ck_assert(h_expect_free(a, h_frame_message("news.a", "hi")));
	EXPECT(a, NOPERM_CHANNEL, "SUBSCRIBE", "news.b");
	/* The new password for new logins; the old one no more. */
	n = login(NULL, NULL);
	EXPECT(n, WRONGPASS, "AUTH", "alice", "secret");
	EXPECT(n, WRONGPASS, "AUTH", "bob", "bobpw");
	EXPECT(n, "+OK\r\n", "AUTH", "alice", "pw2");
	h_close(n);
	h_close(a);
	h_close(b);
	h_close(adm);
	h_close(r);
	stop();
}
END_TEST

START_TEST(reload_that_disables_a_user_closes_its_connections)
{
	struct h_conn	*a, *adm;

	start(NULL, USERS_ALICE_ADMIN ");\n");
	a = login("alice", "secret");
	adm = login("admin", "adm");
	reload_users("users = ( { name = \"alice\"; password_sha256 = \"" SECRET_HEX
	    "\"; enabled = false; },\n"
	    "  { name = \"admin\"; password_sha256 = \"" ADM_HEX "\"; } );\n",
	    "was disabled by the reload");
	ck_assert(h_closed(a, H_TIMEOUT_MS));
	EXPECT(adm, "+PONG\r\n", "PING");
	h_close(a);
	h_close(adm);
	stop();
}
END_TEST

/* Spawns pubsubd with text; returns its exit status, or -1 if it runs. */
static int
spawn_status(const char *tag, const char *text, pid_t *pidp)
{
	pid_t	pid;
	int	status, i;

	pid = h_spawn_pubsubd(&env, tag, text, NULL);
	for (i = 0; i < 40; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
		usleep(50000);
	}
	*pidp = pid;
	return -1;
}

START_TEST(acl_whoami_answers_and_acl_never_reaches_redis)
{
	struct h_conn	*c, *a, *adm, *r;

	start("passthrough = true;", USERS_ALICE_ADMIN ");\n");
	c = login(NULL, NULL);
	EXPECT(c, NOAUTH, "ACL", "WHOAMI");
	a = login("alice", "secret");
	EXPECT(a, "$5\r\nalice\r\n", "ACL", "WHOAMI");
	EXPECT(a, "-ERR ACL list is not served by pubsubd: its users are set "
	    "in pubsubd.conf (users), and Redis' users are not reachable "
	    "through it\r\n", "ACL", "list");
	/* Even a user permitted every command cannot reach Redis' ACL. */
	adm = login("admin", "adm");
	EXPECT(adm, "$5\r\nadmin\r\n", "acl", "whoami");
	EXPECT(adm, "-ERR ACL SETUSER is not served by pubsubd: its users are "
	    "set in pubsubd.conf (users), and Redis' users are not reachable "
	    "through it\r\n", "ACL", "SETUSER", "eve", "on", ">x", "+@all",
	    "~*");
	EXPECT(adm, "+OK\r\n", "MULTI");
	EXPECT(adm, "-ERR ACL is not served by pubsubd inside MULTI\r\n",
	    "ACL", "SETUSER", "eve", "on", ">x");
	EXPECT(adm, EXECABORT, "EXEC");
	ck_assert_ptr_nonnull(r = h_connect(env.redis_port));
	EXPECT(r, "*1\r\n$7\r\ndefault\r\n", "ACL", "USERS");
	h_close(r);
	h_close(adm);
	h_close(a);
	h_close(c);
	stop();
}
END_TEST

/*
 * A command pubsubd refuses inside MULTI (so Redis never queued it) aborts
 * the transaction, as Redis does with a command it refuses: EXEC answers
 * EXECABORT and runs nothing; the next transaction is a fresh one.
 */
START_TEST(refused_command_inside_multi_aborts_the_transaction)
{
	struct h_conn	*a, *r;

	start("passthrough = true;", "users = (\n"
	    "  { name = \"alice\"; password_sha256 = \"" SECRET_HEX "\";\n"
	    "    subscribe = [ \"news.*\" ]; publish = [ \"news.*\" ];\n"
	    "    commands = [ \"multi\", \"exec\", \"discard\", \"set\", "
	    "\"publish\" ]; }\n);\n");
	a = login("alice", "secret");
	EXPECT(a, "+OK\r\n", "MULTI");
	EXPECT(a, "+QUEUED\r\n", "SET", "mk", "1");
	EXPECT(a, "-NOPERM this user has no permissions to access one of the "
	    "channels used as arguments\r\n", "PUBLISH", "sports", "x");
	EXPECT(a, NOPERM_CMD("del"), "DEL", "mk");
	EXPECT(a, EXECABORT, "EXEC");
	ck_assert_ptr_nonnull(r = h_connect(env.redis_port));
	EXPECT(r, "$-1\r\n", "GET", "mk");	/* the SET never ran */
	/* Not dirty any more: the next transaction runs. */
	EXPECT(a, "+OK\r\n", "MULTI");
	EXPECT(a, "+QUEUED\r\n", "SET", "mk", "2");
	EXPECT(a, "*1\r\n+OK\r\n", "EXEC");
	EXPECT(r, "$1\r\n2\r\n", "GET", "mk");
	/* DISCARD clears it too. */
	EXPECT(a, "+OK\r\n", "MULTI");
	EXPECT(a, NOPERM_CMD("del"), "DEL", "mk");
	EXPECT(a, "+OK\r\n", "DISCARD");
	EXPECT(a, "+OK\r\n", "MULTI");
	EXPECT(a, "*0\r\n", "EXEC");
	h_close(r);
	h_close(a);
	stop();
}
END_TEST

START_TEST(auth_as_another_user_drops_what_it_may_not_hold)
{
	struct h_conn	*a, *adm;
	char		*rep;

	start(NULL, USERS_ALICE_ADMIN ",\n  { name = \"bob\"; password_sha256 "
	    "= \"" BOBPW_HEX "\"; subscribe = [ \"sports.*\", \"news.a\" ]; "
	    "}\n);\n");
	/* RESP3: a subscribed RESP2 connection may not AUTH (Redis' rule). */
	ck_assert_ptr_nonnull(a = h_connect(env.pubsubd_port));
	h_command(a, "HELLO", "3", "AUTH", "alice", "secret", NULL);
	ck_assert_ptr_nonnull(rep = h_reply(a, NULL, H_TIMEOUT_MS));
	ck_assert_int_eq(rep[0], '%');
	free(rep);
	adm = login("admin", "adm");
	EXPECT(a, ">3\r\n$9\r\nsubscribe\r\n$6\r\nnews.a\r\n:1\r\n",
	    "SUBSCRIBE", "news.a", "news.b");
	ck_assert(h_expect(a, ">3\r\n$9\r\nsubscribe\r\n$6\r\nnews.b\r\n"
	    ":2\r\n"));
	/* bob may hold news.a but not news.b: told, then OK. */
	EXPECT(a, ">3\r\n$11\r\nunsubscribe\r\n$6\r\nnews.b\r\n:1\r\n",
	    "AUTH", "bob", "bobpw");
	ck_assert(h_expect(a, "+OK\r\n"));
	EXPECT(a, "$3\r\nbob\r\n", "ACL", "WHOAMI");
	EXPECT(adm, ":0\r\n", "PUBLISH", "news.b", "x");
	EXPECT(adm, ":1\r\n", "PUBLISH", "news.a", "y");
	ck_assert(h_expect(a, ">3\r\n$7\r\nmessage\r\n$6\r\nnews.a\r\n"
	    "$1\r\ny\r\n"));
	/* A failed AUTH changes nothing. */
	EXPECT(a, WRONGPASS, "AUTH", "alice", "wrong");
	EXPECT(adm, ":1\r\n", "PUBLISH", "news.a", "z");
	ck_assert(h_expect(a, ">3\r\n$7\r\nmessage\r\n$6\r\nnews.a\r\n"
	    "$1\r\nz\r\n"));
	h_close(a);
	h_close(adm);
	stop();
}
END_TEST

START_TEST(reload_lowering_max_connections_keeps_them_refuses_new_logins)
{
	struct h_conn	*a1, *a2, *n;
	char		*rep;
	int		 i, ok = 0;

	start(NULL, USERS_ALICE_ADMIN ");\n");
	a1 = login("alice", "secret");
	a2 = login("alice", "secret");
	ck_assert_int_eq(h_command(a1, "SUBSCRIBE", "news.a", NULL), 0);
	ck_assert(h_expect_free(a1, h_frame_confirm("subscribe", "news.a", 1)));
	reload_users("users = (\n"
	    "  { name = \"alice\"; password_sha256 = \"" SECRET_HEX "\";\n"
	    "    subscribe = [ \"news.*\" ]; max_connections = 1; },\n"
	    "  { name = \"admin\"; password_sha256 = \"" ADM_HEX "\";\n"
	    "    subscribe = [ \"*\" ]; publish = [ \"*\" ]; commands = "
	    "[ \"*\" ]; }\n);\n", "configuration reloaded");
	/* Both stay, the subscription too. */
	EXPECT(a2, "+PONG\r\n", "PING");
	EXPECT(a1, "*2\r\n$4\r\npong\r\n$0\r\n\r\n", "PING");
	/* Two logged in, one allowed: no new login until under it. */
	n = login(NULL, NULL);
	EXPECT(n, "-ERR max number of connections of user 'alice' reached "
	    "(1)\r\n", "AUTH", "alice", "secret");
	/* Re-authenticating a connection already hers is not one more. */
	EXPECT(a2, "+OK\r\n", "AUTH", "alice", "secret");
	h_close(a2);
	/* One left: at the limit, still refused. */
	usleep(200000);
	EXPECT(n, "-ERR max number of connections of user 'alice' reached "
	    "(1)\r\n", "AUTH", "alice", "secret");
	h_close(a1);
	for (i = 0; i < 100 && !ok; i++) {
		h_command(n, "AUTH", "alice", "secret", NULL);
		rep = h_reply(n, NULL, H_TIMEOUT_MS);
		ok = rep != NULL && strcmp(rep, "+OK\r\n") == 0;
		free(rep);
		if (!ok)
			usleep(50000);
	}
	ck_assert_msg(ok, "alice could not log in once under her new limit");
	h_close(n);
	stop();
}
END_TEST

START_TEST(reload_during_subscribe_refuses_a_held_name_named_again)
{
	struct h_conn	*a, *r;

	start(NULL, USERS_ALICE_ADMIN ");\n");
	a = login("alice", "secret");
	ck_assert_int_eq(h_command(a, "SUBSCRIBE", "news.a", NULL), 0);
	ck_assert(h_expect_free(a, h_frame_confirm("subscribe", "news.a", 1)));
	/* Redis holds back pubsubd's SUBSCRIBE of news.b for a while. */
	ck_assert_ptr_nonnull(r = h_connect(env.redis_port));
	EXPECT(r, "+OK\r\n", "CLIENT", "PAUSE", "2000", "ALL");
	ck_assert_int_eq(h_command(a, "SUBSCRIBE", "news.b", "news.a", NULL),
	    0);
	usleep(100000);
	/* Meanwhile alice loses news.a, not news.b. */
	reload_users("users = (\n"
	    "  { name = \"alice\"; password_sha256 = \"" SECRET_HEX "\";\n"
	    "    subscribe = [ \"news.b\" ]; },\n"
	    "  { name = \"admin\"; password_sha256 = \"" ADM_HEX "\";\n"
	    "    subscribe = [ \"*\" ]; }\n);\n", "configuration reloaded");
	ck_assert(h_expect_free(a, h_frame_confirm("unsubscribe", "news.a",
	    0)));
	ck_assert(h_expect_free(a, h_frame_confirm("subscribe", "news.b", 1)));
	/* news.a, held when asked for, is refused, never confirmed. */
	ck_assert(h_expect(a, NOPERM_CHANNEL));
	EXPECT(a, "*2\r\n$4\r\npong\r\n$0\r\n\r\n", "PING");
	ck_assert_int_eq(h_wait_numsub(r, "news.a", 0, H_TIMEOUT_MS), 0);
	h_close(r);
	h_close(a);
	stop();
}
END_TEST

START_TEST(protected_mode_refuses_open_listener_without_password)
{
	struct h_conn	*c;
	char		 text[2048], log[300];
	pid_t		 pid = 0;
	int		 port = h_free_port();

	memset(&env, 0, sizeof(env));
	ck_assert_int_eq(h_start_with(&env, NULL, NULL), 0);
	snprintf(text, sizeof(text), "listen = ( { host = \"0.0.0.0\"; port = "
	    "%d; } );\nredis = { port = %d; };\n", port, env.redis_port);
	ck_assert_int_eq(spawn_status("open", text, &pid), 78);
	snprintf(log, sizeof(log), "%s/pubsubd-open.log", env.dir);
	/* FILE:LINE of the entry: the listen list is the file's line 1. */
	ck_assert(h_file_has(log, ".conf:1: protected mode: refusing to "
	    "listen on 0.0.0.0 port"));
	ck_assert(h_file_has(log, "set 'protected_mode = false;'"));

	/* A nopass default user protects nothing either. */
	snprintf(text, sizeof(text), "listen = ( { host = \"0.0.0.0\"; port = "
	    "%d; } );\nredis = { port = %d; };\nusers = ( { name = "
	    "\"default\"; nopass = true; } );\n", port, env.redis_port);
	ck_assert_int_eq(spawn_status("nopass", text, &pid), 78);

	/* protected_mode = false: it starts. */
	snprintf(text, sizeof(text), "listen = ( { host = \"0.0.0.0\"; port = "
	    "%d; } );\nredis = { port = %d; };\nprotected_mode = false;\n",
	    port, env.redis_port);
	ck_assert_int_eq(spawn_status("off", text, &pid), -1);
	ck_assert_ptr_nonnull(c = h_connect_within(port, 5000));
	h_close(c);
	ck_assert_int_eq(h_kill(pid, 5000), 0);

	/* A password: it starts. */
	snprintf(text, sizeof(text), "listen = ( { host = \"0.0.0.0\"; port = "
	    "%d; } );\nredis = { port = %d; };\nusers = ( { name = "
	    "\"default\"; password_sha256 = \"" SECRET_HEX "\"; } );\n",
	    port, env.redis_port);
	ck_assert_int_eq(spawn_status("pw", text, &pid), -1);
	ck_assert_ptr_nonnull(c = h_connect_within(port, 5000));
	EXPECT(c, NOAUTH, "SUBSCRIBE", "x");
	h_close(c);
	ck_assert_int_eq(h_kill(pid, 5000), 0);
	stop();
}
END_TEST

START_TEST(protected_mode_refuses_a_reload_that_opens_the_door)
{
	struct h_conn	*c;
	char		 log[300], buf[4096];
	FILE		*f;
	int		 i, port = h_free_port();

	start(NULL, "users = ( { name = \"default\"; password_sha256 = \""
	    SECRET_HEX "\"; subscribe = [ \"*\" ]; } );\n");
	/* Listen on 0.0.0.0 too, and drop the password: refused. */
	snprintf(buf, sizeof(buf), "listen = ( { host = \"127.0.0.1\"; port = "
	    "%d; }, { host = \"0.0.0.0\"; port = %d; } );\nredis = { port = "
	    "%d; };\n", env.pubsubd_port, port, env.redis_port);
	ck_assert_ptr_nonnull(f = fopen(env.conf, "w"));
	fputs(buf, f);
	fclose(f);
	snprintf(log, sizeof(log), "%s/pubsubd.log", env.dir);
	ck_assert_int_eq(kill(env.pubsubd_pid, SIGHUP), 0);
	for (i = 0; i < 100 && !h_file_has(log, "reload failed"); i++)
		usleep(50000);
	ck_assert(h_file_has(log, "reload failed, keeping the running "
	    "configuration"));
	ck_assert(h_file_has(log, "protected mode"));
	/* The old configuration runs: a password is still needed. */
	c = login(NULL, NULL);
	EXPECT(c, NOAUTH, "SUBSCRIBE", "x");
	EXPECT(c, "+OK\r\n", "AUTH", "secret");
	h_close(c);
	stop();
}
END_TEST

/*
 * The same session on Redis itself (alice made with ACL SETUSER on the
 * suite's redis-server) and on pubsubd: the same replies, byte for byte.
 */
START_TEST(replies_match_redis_with_the_equivalent_acl)
{
	static const char *const session[][5] = {
		{ "AUTH", "alice", "wrong", NULL },
		{ "AUTH", "nobody", "wrong", NULL },
		{ "HELLO", "2", "AUTH", "alice", "wrong" },
		{ "AUTH", "alice", "secret", NULL },
		{ "SUBSCRIBE", "sports", NULL },
		{ "SUBSCRIBE", "news.a", "sports", NULL },
		{ "PSUBSCRIBE", "n*", NULL },
		{ "PSUBSCRIBE", "*", NULL },
		{ "SSUBSCRIBE", "sports", NULL },
		{ "PUBLISH", "sports", "x", NULL },
		{ "PUBLISH", "news.a", "x", NULL },
		{ "PSUBSCRIBE", "news.*", NULL },
	};
	struct h_conn	*p, *r;
	char		*a, *b;
	size_t		 i;

	start(NULL, USERS_ALICE_ADMIN ");\n");
	ck_assert_ptr_nonnull(r = h_connect(env.redis_port));
	EXPECT(r, "+OK\r\n", "ACL", "SETUSER", "alice", "on", ">secret",
	    "resetchannels", "&news.*", "+@all");
	h_close(r);
	ck_assert_ptr_nonnull(r = h_connect(env.redis_port));
	p = login(NULL, NULL);
	for (i = 0; i < sizeof(session) / sizeof(session[0]); i++) {
		h_command(r, session[i][0], session[i][1], session[i][2],
		    session[i][3], session[i][4], NULL);
		h_command(p, session[i][0], session[i][1], session[i][2],
		    session[i][3], session[i][4], NULL);
		a = h_reply(r, NULL, H_TIMEOUT_MS);
		b = h_reply(p, NULL, H_TIMEOUT_MS);
		ck_assert_ptr_nonnull(a);
		ck_assert_ptr_nonnull(b);
		ck_assert_msg(strcmp(a, b) == 0, "%s: redis %s, pubsubd %s",
		    session[i][0], a, b);
		free(a);
		free(b);
	}
	h_close(p);
	h_close(r);
	stop();
}
END_TEST

START_TEST(hash_password_prints_the_digest_sha256sum_gives)
{
	const char	*bin = getenv("PUBSUBD");
	char		 cmd[1024], out[128];
	FILE		*p;

	if (bin == NULL)
		bin = "./daemon/pubsubd";
	/* The same with and without the newline echo adds. */
	snprintf(cmd, sizeof(cmd), "printf %%s secret | '%s' --hash-password; "
	    "echo secret | '%s' --hash-password", bin, bin);
	ck_assert_ptr_nonnull(p = popen(cmd, "r"));
	ck_assert_ptr_nonnull(fgets(out, sizeof(out), p));
	ck_assert_str_eq(out, SECRET_HEX "\n");
	ck_assert_ptr_nonnull(fgets(out, sizeof(out), p));
	ck_assert_str_eq(out, SECRET_HEX "\n");
	ck_assert_int_eq(pclose(p), 0);
}
END_TEST

static Suite *
auth_suite(void)
{
	Suite	*s = suite_create("integ_auth");
	TCase	*tc;

	tc = tcase_create("auth");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc,
	    unauthenticated_client_can_only_auth_hello_ping_quit_reset);
	tcase_add_test(tc,
	    wrong_password_reply_is_the_same_for_missing_user_and_counted);
	tcase_add_test(tc, news_user_cannot_subscribe_sports_or_wider_patterns);
	tcase_add_test(tc,
	    auth_failure_flood_is_logged_within_a_bound_and_counted);
	tcase_add_test(tc,
	    pubsub_introspection_hides_channels_the_user_may_not_see);
	tcase_add_test(tc, default_user_with_password_is_requirepass);
	tcase_add_test(tc, nopass_default_starts_logged_in_with_its_permissions);
	tcase_add_test(tc, reset_at_the_default_users_limit_logs_out);
	tcase_add_test(tc,
	    hello_auth_setname_and_client_list_never_show_the_password);
	tcase_add_test(tc, per_user_limits_connections_and_subscriptions);
	tcase_add_test(tc, acl_whoami_answers_and_acl_never_reaches_redis);
	tcase_add_test(tc, auth_as_another_user_drops_what_it_may_not_hold);
	tcase_add_test(tc, refused_command_inside_multi_aborts_the_transaction);
	suite_add_tcase(s, tc);

	tc = tcase_create("reload");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, reload_revokes_subscriptions_and_closes_removed_users);
	tcase_add_test(tc, reload_that_disables_a_user_closes_its_connections);
	tcase_add_test(tc,
	    reload_lowering_max_connections_keeps_them_refuses_new_logins);
	tcase_add_test(tc,
	    reload_during_subscribe_refuses_a_held_name_named_again);
	tcase_add_test(tc, protected_mode_refuses_open_listener_without_password);
	tcase_add_test(tc, protected_mode_refuses_a_reload_that_opens_the_door);
	suite_add_tcase(s, tc);

	tc = tcase_create("redis");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, replies_match_redis_with_the_equivalent_acl);
	tcase_add_test(tc, hash_password_prints_the_digest_sha256sum_gives);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_run(auth_suite());
}
