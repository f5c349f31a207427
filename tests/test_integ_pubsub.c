/*
 * test_integ_pubsub.c: the subscribe path end to end, with a real
 * redis-server and a real pubsubd: delivery to one and to many clients, one
 * upstream subscription per channel, the ordering and delivery rules of
 * DESIGN.md (1, 2 and 4), replies byte-identical to Redis', redis-cli as a
 * client, and bad input that must not hurt anyone else.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <check.h>

#include "check_run.h"

#include "harness.h"

static struct h_env	env;
static int		env_failed;	/* pubsubd did not stop cleanly */
static struct h_conn	*redis;		/* a direct connection, per test */

static void
suite_start(void)
{
	h_start(&env);
}

static void
suite_stop(void)
{
	if (h_stop(&env) == -1)
		env_failed = 1;
}

static void
test_setup(void)
{
	redis = h_connect(env.redis_port);
	ck_assert_ptr_nonnull(redis);
}

static void
test_teardown(void)
{
	h_close(redis);
	redis = NULL;
}

/* Connects to pubsubd and subscribes to one channel. */
static struct h_conn *
subscriber(const char *channel)
{
	struct h_conn	*c = h_connect(env.pubsubd_port);

	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(h_command(c, "SUBSCRIBE", channel, NULL), 0);
	ck_assert(h_expect_free(c, h_frame_confirm("subscribe", channel, 1)));
	return c;
}

/*
 * Sends the same bytes to redis-server and to pubsubd on fresh connections
 * and returns 1 if both answer the same bytes (read until close or quiet).
 */
static int
same_as_redis(const char *in, size_t inlen, int quiet_ms)
{
	struct h_conn	*a, *b;
	char		*ra, *rb;
	size_t		 la, lb;
	int		 same;

	a = h_connect(env.redis_port);
	b = h_connect(env.pubsubd_port);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(h_send(a, in, inlen), 0);
	ck_assert_int_eq(h_send(b, in, inlen), 0);
	ra = h_read_all(a, &la, quiet_ms);
	rb = h_read_all(b, &lb, quiet_ms);
	same = la == lb && memcmp(ra, rb, la) == 0;
	if (!same)
		fprintf(stderr, "redis   [%.*s]\npubsubd [%.*s]\n", (int)la, ra,
		    (int)lb, rb);
	free(ra);
	free(rb);
	h_close(a);
	h_close(b);
	return same;
}

/* The commands and frames of one kind of subscription. */
static const struct kind {
	const char	*sub, *unsub, *publish, *confirm, *unconfirm, *msg;
} kinds[] = {
	{ "SUBSCRIBE", "UNSUBSCRIBE", "PUBLISH", "subscribe", "unsubscribe",
	    "message" },
	{ "PSUBSCRIBE", "PUNSUBSCRIBE", "PUBLISH", "psubscribe",
	    "punsubscribe", "pmessage" },
	{ "SSUBSCRIBE", "SUNSUBSCRIBE", "SPUBLISH", "ssubscribe",
	    "sunsubscribe", "smessage" },
};

/*
 * The frame a subscriber of kind k to name gets for payload published to
 * channel (for a pattern, name is the pattern).
 */
static char *
kind_message(const struct kind *k, const char *name, const char *channel,
    const char *payload)
{
	char	*s;

	if (strcmp(k->msg, "pmessage") == 0)
		ck_assert_int_ne(asprintf(&s, "*4\r\n$8\r\npmessage\r\n"
		    "$%zu\r\n%s\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n",
		    strlen(name), name, strlen(channel), channel,
		    strlen(payload), payload), -1);
	else
		ck_assert_int_ne(asprintf(&s, "*3\r\n$%zu\r\n%s\r\n"
		    "$%zu\r\n%s\r\n$%zu\r\n%s\r\n", strlen(k->msg), k->msg,
		    strlen(channel), channel, strlen(payload), payload), -1);
	return s;
}

/* Publishes through redis with the kind's command; returns the count. */
static long long
kind_publish(const struct kind *k, const char *channel, const char *payload)
{
	char		*rep;
	long long	 n;

	ck_assert_int_eq(h_command(redis, k->publish, channel, payload, NULL),
	    0);
	rep = h_reply(redis, NULL, H_TIMEOUT_MS);
	n = h_int(rep);
	free(rep);
	return n;
}

/* Rule 2 for every kind: publish right after the confirmation arrives. */
START_TEST(rule2_every_kind)
{
	const struct kind	*k = &kinds[_i];
	struct h_conn		*c = h_connect(env.pubsubd_port);
	char			 name[64], channel[64], payload[64];
	int			 i;

	ck_assert_ptr_nonnull(c);
	for (i = 0; i < 300; i++) {
		snprintf(channel, sizeof(channel), "r2k:%d:%d:x", _i, i);
		if (_i == 1)
			snprintf(name, sizeof(name), "r2k:%d:%d:*", _i, i);
		else
			snprintf(name, sizeof(name), "%s", channel);
		snprintf(payload, sizeof(payload), "p%d", i);
		ck_assert_int_eq(h_command(c, k->sub, name, NULL), 0);
		ck_assert(h_expect_free(c, h_frame_confirm(k->confirm, name, 1)));
		ck_assert_int_eq(kind_publish(k, channel, payload), 1);
		ck_assert(h_expect_free(c, kind_message(k, name, channel,
		    payload)));
		ck_assert_int_eq(h_command(c, k->unsub, name, NULL), 0);
		ck_assert(h_expect_free(c, h_frame_confirm(k->unconfirm, name, 0)));
	}
	h_close(c);
}
END_TEST

/* Rule 4 for every kind: re-subscribe while the upstream leave is in flight. */
START_TEST(rule4_every_kind)
{
	const struct kind	*k = &kinds[_i];
	struct h_conn		*c = h_connect(env.pubsubd_port);
	char			 name[64], channel[64];
	int			 i;

	ck_assert_ptr_nonnull(c);
	for (i = 0; i < 100; i++) {
		snprintf(channel, sizeof(channel), "r4k:%d:%d:x", _i, i);
		if (_i == 1)
			snprintf(name, sizeof(name), "r4k:%d:%d:*", _i, i);
		else
			snprintf(name, sizeof(name), "%s", channel);
		ck_assert_int_eq(h_command(c, k->sub, name, NULL), 0);
		ck_assert(h_expect_free(c, h_frame_confirm(k->confirm, name, 1)));
		ck_assert_int_eq(h_command(c, k->unsub, name, NULL), 0);
		ck_assert_int_eq(h_command(c, k->sub, name, NULL), 0);
		ck_assert(h_expect_free(c, h_frame_confirm(k->unconfirm, name, 0)));
		ck_assert(h_expect_free(c, h_frame_confirm(k->confirm, name, 1)));
		ck_assert_int_eq(kind_publish(k, channel, "after"), 1);
		ck_assert(h_expect_free(c, kind_message(k, name, channel,
		    "after")));
		ck_assert_int_eq(h_command(c, k->unsub, name, NULL), 0);
		ck_assert(h_expect_free(c, h_frame_confirm(k->unconfirm, name, 0)));
	}
	h_close(c);
}
END_TEST

/*
 * Rule 3: a client on a channel and a matching pattern gets message and
 * pmessage, as from Redis; and PUBLISH through pubsubd counts both.
 */
START_TEST(rule3_channel_and_pattern_both_delivered)
{
	struct h_conn	*c = h_connect(env.pubsubd_port);
	struct h_conn	*p = h_connect(env.pubsubd_port);
	char		*r;

	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(h_command(c, "SUBSCRIBE", "r3.news", NULL), 0);
	ck_assert_int_eq(h_command(c, "PSUBSCRIBE", "r3.*", NULL), 0);
	ck_assert(h_expect_free(c, h_frame_confirm("subscribe", "r3.news", 1)));
	ck_assert(h_expect_free(c, h_frame_confirm("psubscribe", "r3.*", 2)));
	ck_assert_int_eq(h_command(p, "PUBLISH", "r3.news", "both", NULL), 0);
	r = h_reply(p, NULL, H_TIMEOUT_MS);
	ck_assert_str_eq(r, ":2\r\n");
	free(r);
	ck_assert(h_expect_free(c, h_frame_message("r3.news", "both")));
	ck_assert(h_expect(c, "*4\r\n$8\r\npmessage\r\n$4\r\nr3.*\r\n"
	    "$7\r\nr3.news\r\n$4\r\nboth\r\n"));
	/* Redis itself counts pubsubd once per upstream subscription. */
	ck_assert_int_eq(h_publish(redis, "r3.news", "direct"), 2);
	h_close(c);
	h_close(p);
}
END_TEST

/* Two pubsubd clients on a channel: PUBLISH through pubsubd returns 2. */
START_TEST(publish_counts_local_receivers)
{
	struct h_conn	*a = subscriber("cnt"), *b = subscriber("cnt");
	struct h_conn	*p = h_connect(env.pubsubd_port);
	char		*r;

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(h_command(p, "PUBLISH", "cnt", "x", NULL), 0);
	r = h_reply(p, NULL, H_TIMEOUT_MS);
	ck_assert_str_eq(r, ":2\r\n");
	free(r);
	ck_assert_int_eq(h_command(p, "PUBSUB", "NUMSUB", "cnt", NULL), 0);
	r = h_reply(p, NULL, H_TIMEOUT_MS);
	ck_assert_str_eq(r, "*2\r\n$3\r\ncnt\r\n:2\r\n");
	free(r);
	ck_assert_int_eq(h_numsub(redis, "cnt"), 1);
	h_close(a);
	h_close(b);
	h_close(p);
}
END_TEST

/* One client: subscribe, receive, one upstream subscription, unsubscribe. */
START_TEST(subscribe_publish_one_client)
{
	struct h_conn	*c = subscriber("one");

	ck_assert_int_eq(h_numsub(redis, "one"), 1);
	ck_assert_int_eq(h_publish(redis, "one", "hello"), 1);
	ck_assert(h_expect_free(c, h_frame_message("one", "hello")));
	ck_assert_int_eq(h_command(c, "UNSUBSCRIBE", "one", NULL), 0);
	ck_assert(h_expect_free(c, h_frame_confirm("unsubscribe", "one", 0)));
	ck_assert_int_eq(h_wait_numsub(redis, "one", 0, 2000), 0);
	ck_assert_int_eq(h_publish(redis, "one", "lost"), 0);
	h_close(c);
}
END_TEST

/* Fifty clients on one channel: one upstream subscription, all receive. */
START_TEST(fifty_clients_one_channel)
{
	struct h_conn	*c[50];
	char		 payload[32];
	int		 i, m;

	for (i = 0; i < 50; i++)
		c[i] = subscriber("fifty");
	ck_assert_int_eq(h_numsub(redis, "fifty"), 1);
	for (m = 0; m < 20; m++) {
		snprintf(payload, sizeof(payload), "m%d", m);
		ck_assert_int_eq(h_publish(redis, "fifty", payload), 1);
	}
	for (i = 0; i < 50; i++) {
		for (m = 0; m < 20; m++) {
			snprintf(payload, sizeof(payload), "m%d", m);
			ck_assert(h_expect_free(c[i], h_frame_message("fifty",
			    payload)));
		}
	}
	/* Half leave politely, half just disconnect. */
	for (i = 0; i < 50; i++) {
		if (i % 2 == 0) {
			ck_assert_int_eq(h_command(c[i], "UNSUBSCRIBE", NULL),
			    0);
			ck_assert(h_expect_free(c[i], h_frame_confirm("unsubscribe",
			    "fifty", 0)));
		}
		if (i < 49)
			ck_assert_int_eq(h_wait_numsub(redis, "fifty", 1,
			    2000), 1);
		h_close(c[i]);
	}
	ck_assert_int_eq(h_wait_numsub(redis, "fifty", 0, 2000), 0);
}
END_TEST

/* Rule 1: replies come in request order, pipelined, as from Redis itself. */
START_TEST(rule1_pipelined_replies_in_order)
{
	static const char in[] =
	    "PING\r\n"
	    "SUBSCRIBE r1a\r\n"
	    "PING x\r\n"
	    "*3\r\n$9\r\nsubscribe\r\n$3\r\nr1b\r\n$3\r\nr1a\r\n"
	    "UNSUBSCRIBE r1a\r\n"
	    "foo bar\r\n"
	    "ping a b\r\n"
	    "SUBSCRIBE\r\n"
	    "UNSUBSCRIBE\r\n"
	    "UNSUBSCRIBE\r\n"
	    "PING\r\n"
	    "QUIT\r\n"
	    "PING\r\n";

	ck_assert(same_as_redis(in, sizeof(in) - 1, 1000));
}
END_TEST

/* Rule 1 with a confirmation that must wait for Redis: PING waits too. */
START_TEST(rule1_ping_waits_for_pending_subscribe)
{
	struct h_conn	*c = h_connect(env.pubsubd_port);
	char		 name[64], pong[128];
	int		 i;

	ck_assert_ptr_nonnull(c);
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "r1p:%d", i);
		ck_assert_int_eq(h_command(c, "SUBSCRIBE", name, NULL), 0);
		ck_assert_int_eq(h_command(c, "PING", name, NULL), 0);
		ck_assert_int_eq(h_command(c, "UNSUBSCRIBE", name, NULL), 0);
		ck_assert(h_expect_free(c, h_frame_confirm("subscribe", name, 1)));
		ck_assert_int_gt(snprintf(pong, sizeof(pong), "*2\r\n$4\r\n"
		    "pong\r\n$%zu\r\n%s\r\n", strlen(name), name), 0);
		ck_assert(h_expect(c, pong));
		ck_assert(h_expect_free(c, h_frame_confirm("unsubscribe", name, 0)));
	}
	h_close(c);
}
END_TEST

/*
 * Rule 2: a message published right after the confirmation arrives must be
 * delivered; 1000 times, each on a channel new to pubsubd.
 */
START_TEST(rule2_publish_after_confirmation_arrives)
{
	struct h_conn	*c = h_connect(env.pubsubd_port);
	char		 name[64], payload[64];
	int		 i;

	ck_assert_ptr_nonnull(c);
	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "r2:%d", i);
		snprintf(payload, sizeof(payload), "p%d", i);
		ck_assert_int_eq(h_command(c, "SUBSCRIBE", name, NULL), 0);
		ck_assert(h_expect_free(c, h_frame_confirm("subscribe", name, 1)));
		ck_assert_int_eq(h_publish(redis, name, payload), 1);
		ck_assert(h_expect_free(c, h_frame_message(name, payload)));
		ck_assert_int_eq(h_command(c, "UNSUBSCRIBE", name, NULL), 0);
		ck_assert(h_expect_free(c, h_frame_confirm("unsubscribe", name, 0)));
	}
	h_close(c);
}
END_TEST

/* Publishes to channel in a loop until killed (bounded: at most 60 s). */
static pid_t
flood(const char *channel)
{
	pid_t		 pid;
	struct h_conn	*r;
	long long	 end;
	char		*rep;

	if ((pid = fork()) != 0)
		return pid;
	r = h_connect(env.redis_port);
	end = h_now_ms() + 60000;
	while (r != NULL && h_now_ms() < end) {
		if (h_command(r, "PUBLISH", channel, "flood", NULL) == -1 ||
		    (rep = h_reply(r, NULL, H_TIMEOUT_MS)) == NULL)
			break;
		free(rep);
	}
	_exit(0);
}

/*
 * Rule 2 under a flood of messages: the first thing a new subscriber gets is
 * its confirmation, then messages. Half of the rounds have another client
 * holding the channel (the channel is already active upstream); in the
 * others the channel goes through the whole upstream cycle each time.
 */
START_TEST(rule2_no_message_before_confirmation)
{
	struct h_conn	*holder = NULL, *c;
	pid_t		 pid = flood("r2flood");
	int		 i, status;

	for (i = 0; i < 400; i++) {
		if (i == 200)
			holder = subscriber("r2flood");
		c = h_connect(env.pubsubd_port);
		ck_assert_ptr_nonnull(c);
		ck_assert_int_eq(h_command(c, "SUBSCRIBE", "r2flood", NULL),
		    0);
		ck_assert(h_expect_free(c, h_frame_confirm("subscribe", "r2flood", 1)));
		ck_assert(h_expect_free(c, h_frame_message("r2flood", "flood")));
		h_close(c);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	h_close(holder);
}
END_TEST

/*
 * Rule 4: subscribing while the upstream UNSUBSCRIBE of the same channel is
 * in flight still ends subscribed, with exactly one upstream subscription.
 */
START_TEST(rule4_subscribe_during_upstream_unsubscribe)
{
	struct h_conn	*c, *d;
	char		 name[64];
	int		 i;

	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "r4:%d", i);
		c = subscriber(name);
		/* One client leaves and comes back in one write. */
		ck_assert_int_eq(h_command(c, "UNSUBSCRIBE", name, NULL), 0);
		ck_assert_int_eq(h_command(c, "SUBSCRIBE", name, NULL), 0);
		ck_assert(h_expect_free(c, h_frame_confirm("unsubscribe", name, 0)));
		ck_assert(h_expect_free(c, h_frame_confirm("subscribe", name, 1)));
		ck_assert_int_eq(h_publish(redis, name, "after"), 1);
		ck_assert(h_expect_free(c, h_frame_message(name, "after")));
		/* One client leaves while another arrives. */
		ck_assert_int_eq(h_command(c, "UNSUBSCRIBE", name, NULL), 0);
		d = h_connect(env.pubsubd_port);
		ck_assert_ptr_nonnull(d);
		ck_assert_int_eq(h_command(d, "SUBSCRIBE", name, NULL), 0);
		ck_assert(h_expect_free(c, h_frame_confirm("unsubscribe", name, 0)));
		ck_assert(h_expect_free(d, h_frame_confirm("subscribe", name, 1)));
		ck_assert_int_eq(h_numsub(redis, name), 1);
		ck_assert_int_eq(h_publish(redis, name, "again"), 1);
		ck_assert(h_expect_free(d, h_frame_message(name, "again")));
		h_close(c);
		h_close(d);
		ck_assert_int_eq(h_wait_numsub(redis, name, 0, 2000), 0);
	}
}
END_TEST

/*
 * The upstream connection's last subscription goes (Redis counts 0) while
 * the SUBSCRIBE of another channel is in flight: both must be honoured and
 * the new channel must deliver (hiredis leaves subscribed mode at a count
 * of 0, and must be back in it for what follows).
 */
START_TEST(last_unsubscribe_and_new_subscribe_in_flight_together)
{
	struct h_conn	*c;
	char		 a[64], b[64];
	int		 i;

	c = h_connect(env.pubsubd_port);
	ck_assert_ptr_nonnull(c);
	snprintf(a, sizeof(a), "swap:0");
	ck_assert_int_eq(h_command(c, "SUBSCRIBE", a, NULL), 0);
	ck_assert(h_expect_free(c, h_frame_confirm("subscribe", a, 1)));
	for (i = 1; i <= 100; i++) {
		snprintf(b, sizeof(b), "swap:%d", i);
		ck_assert_int_eq(h_command(c, "UNSUBSCRIBE", a, NULL), 0);
		ck_assert_int_eq(h_command(c, "SUBSCRIBE", b, NULL), 0);
		ck_assert(h_expect_free(c, h_frame_confirm("unsubscribe", a, 0)));
		ck_assert(h_expect_free(c, h_frame_confirm("subscribe", b, 1)));
		ck_assert_int_eq(h_publish(redis, b, "next"), 1);
		ck_assert(h_expect_free(c, h_frame_message(b, "next")));
		ck_assert_int_eq(h_wait_numsub(redis, a, 0, 2000), 0);
		memcpy(a, b, sizeof(a));
	}
	h_close(c);
}
END_TEST

/* A client that leaves while its upstream subscription is in flight. */
START_TEST(disconnect_while_subscribing_leaves_nothing_upstream)
{
	struct h_conn	*c;
	char		 name[64];
	int		 i;

	for (i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "gone:%d", i);
		c = h_connect(env.pubsubd_port);
		ck_assert_ptr_nonnull(c);
		ck_assert_int_eq(h_command(c, "SUBSCRIBE", name, NULL), 0);
		h_close(c);
	}
	for (i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "gone:%d", i);
		ck_assert_int_eq(h_wait_numsub(redis, name, 0, 2000), 0);
	}
	c = subscriber("gone:0");
	ck_assert_int_eq(h_publish(redis, "gone:0", "x"), 1);
	ck_assert(h_expect_free(c, h_frame_message("gone:0", "x")));
	h_close(c);
}
END_TEST

/* Many channels in one command, then UNSUBSCRIBE with no arguments. */
START_TEST(many_channels_then_unsubscribe_all)
{
	struct h_conn	*c = h_connect(env.pubsubd_port);
	char		 cmd[8192], name[32], *r;
	size_t		 len = 0;
	int		 i, seen[100] = { 0 }, n;

	ck_assert_ptr_nonnull(c);
	len += (size_t)snprintf(cmd + len, sizeof(cmd) - len, "SUBSCRIBE");
	for (i = 0; i < 100; i++)
		len += (size_t)snprintf(cmd + len, sizeof(cmd) - len,
		    " many:%d", i);
	snprintf(cmd + len, sizeof(cmd) - len, "\r\n");
	ck_assert_int_eq(h_sendstr(c, cmd), 0);
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "many:%d", i);
		ck_assert(h_expect_free(c, h_frame_confirm("subscribe", name, i + 1)));
	}
	ck_assert_int_eq(h_numsub(redis, "many:99"), 1);
	ck_assert_int_eq(h_publish(redis, "many:42", "x"), 1);
	ck_assert(h_expect_free(c, h_frame_message("many:42", "x")));
	ck_assert_int_eq(h_sendstr(c, "UNSUBSCRIBE\r\n"), 0);
	for (i = 0; i < 100; i++) {
		r = h_reply(c, NULL, H_TIMEOUT_MS);
		ck_assert_ptr_nonnull(r);
		ck_assert_int_eq(sscanf(r, "*3\r\n$11\r\nunsubscribe\r\n$%*d"
		    "\r\nmany:%d\r\n", &n), 1);
		ck_assert(n >= 0 && n < 100 && !seen[n]);
		seen[n] = 1;
		snprintf(name, sizeof(name), ":%d\r\n", 99 - i);
		ck_assert_str_eq(strrchr(r, ':'), name);
		free(r);
	}
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "many:%d", i);
		ck_assert_int_eq(h_wait_numsub(redis, name, 0, 2000), 0);
	}
	h_close(c);
}
END_TEST

/* Channel names and payloads are binary safe. */
START_TEST(binary_channel_and_payload)
{
	static const char name[] = "bin\0\r\n\xff";
	static const char payload[] = "\0\r\n*3\r\n\x80";
	static const char sub[] = "*2\r\n$9\r\nSUBSCRIBE\r\n$7\r\nbin\0\r\n\xff\r\n";
	static const char pub[] = "*3\r\n$7\r\nPUBLISH\r\n$7\r\nbin\0\r\n\xff\r\n"
	    "$8\r\n\0\r\n*3\r\n\x80\r\n";
	static const char want_conf[] =
	    "*3\r\n$9\r\nsubscribe\r\n$7\r\nbin\0\r\n\xff\r\n:1\r\n";
	static const char want_msg[] = "*3\r\n$7\r\nmessage\r\n$7\r\n"
	    "bin\0\r\n\xff\r\n$8\r\n\0\r\n*3\r\n\x80\r\n";
	struct h_conn	*c = h_connect(env.pubsubd_port);
	char		*r;

	(void)name;
	(void)payload;
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(h_send(c, sub, sizeof(sub) - 1), 0);
	r = h_read_exact(c, sizeof(want_conf) - 1, H_TIMEOUT_MS);
	ck_assert_ptr_nonnull(r);
	ck_assert_mem_eq(r, want_conf, sizeof(want_conf) - 1);
	free(r);
	ck_assert_int_eq(h_send(redis, pub, sizeof(pub) - 1), 0);
	ck_assert(h_expect(redis, ":1\r\n"));
	r = h_read_exact(c, sizeof(want_msg) - 1, H_TIMEOUT_MS);
	ck_assert_ptr_nonnull(r);
	ck_assert_mem_eq(r, want_msg, sizeof(want_msg) - 1);
	free(r);
	h_close(c);
}
END_TEST

/* redis-cli, a real client, subscribes through pubsubd. */
START_TEST(redis_cli_subscribes)
{
	char		 port[16], buf[4096];
	int		 pfd[2], status, published = 0;
	size_t		 len = 0;
	pid_t		 pid;
	long long	 deadline;
	struct pollfd	 p;
	ssize_t		 n;

	buf[0] = '\0';
	snprintf(port, sizeof(port), "%d", env.pubsubd_port);
	ck_assert_int_eq(pipe(pfd), 0);
	if ((pid = fork()) == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		execlp("redis-cli", "redis-cli", "-p", port, "subscribe",
		    "cli", (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	/* Wait for the confirmation, publish, then wait for the message. */
	deadline = h_now_ms() + H_TIMEOUT_MS;
	while (h_now_ms() < deadline &&
	    strstr(buf, "message\ncli\nfrom-cli-test\n") == NULL) {
		if (!published && strstr(buf, "subscribe\ncli\n1\n") != NULL) {
			ck_assert_int_eq(h_publish(redis, "cli",
			    "from-cli-test"), 1);
			published = 1;
		}
		p.fd = pfd[0];
		p.events = POLLIN;
		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(pfd[0], buf + len, sizeof(buf) - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
	}
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	close(pfd[0]);
	ck_assert_msg(strstr(buf, "message\ncli\nfrom-cli-test\n") != NULL,
	    "redis-cli printed [%s]", buf);
}
END_TEST

/* Clients reach pubsubd over IPv6 too (a second listener on ::1). */
START_TEST(ipv6_listener_serves_clients)
{
	struct h_conn	*c;

	if (env.pubsubd_port6 == 0) {
		fprintf(stderr, "ipv6_listener_serves_clients: no IPv6 "
		    "loopback here, not tested\n");
		return;
	}
	c = h_connect_host("::1", env.pubsubd_port6);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(h_command(c, "SUBSCRIBE", "six", NULL), 0);
	ck_assert(h_expect_free(c, h_frame_confirm("subscribe", "six", 1)));
	ck_assert_int_eq(h_publish(redis, "six", "over v6"), 1);
	ck_assert(h_expect_free(c, h_frame_message("six", "over v6")));
	h_close(c);
}
END_TEST

/* Bad input: errors as Redis sends them, and nobody else notices. */
START_TEST(bad_input_answered_like_redis)
{
	static const struct {
		const char	*in;
		size_t		 len;
	} cases[] = {
#define C(s) { s, sizeof(s) - 1 }
		C("\x01\x02garbage\r\nPING\r\n"),
		C("*abc\r\nPING\r\n"),
		C("*1\r\n$-5\r\n"),
		C("*1\r\n$99999999999\r\n"),
		C("*1\r\n$4294967297\r\nPING\r\n"),
		C("*2\r\n$4\r\nPING\r\nxyz\r\n"),
		C("*-1\r\nPING\r\n"),
		C("*0\r\n\r\n\n   \r\nPING\r\n"),
		C("subscribe \"unbalanced\r\n"),
		C("ping \"a\\x41\\n\"\r\n"),
		C("SUBSCRIBE a\r\nfoo\r\n*1\r\n$x\r\n"),
#undef C
	};
	struct h_conn	*bystander = subscriber("bystander");
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(same_as_redis(cases[i].in, cases[i].len, 300),
		    "case %zu", i);
	ck_assert_int_eq(h_publish(redis, "bystander", "still here"), 1);
	ck_assert(h_expect_free(bystander, h_frame_message("bystander",
	    "still here")));
	h_close(bystander);
}
END_TEST

/* Over-long input without a newline, and a client leaving mid request. */
START_TEST(bad_input_long_lines_and_abrupt_close)
{
	struct h_conn	*bystander = subscriber("bystander2"), *c;
	char		*big;
	int		 i;

	big = malloc(70 * 1024);
	ck_assert_ptr_nonnull(big);
	memset(big, 'a', 70 * 1024);
	ck_assert(same_as_redis(big, 70 * 1024, 500));
	big[0] = '*';
	ck_assert(same_as_redis(big, 70 * 1024, 500));
	memcpy(big, "*1\r\n$", 5);
	ck_assert(same_as_redis(big, 70 * 1024, 500));
	free(big);

	for (i = 0; i < 50; i++) {
		c = h_connect(env.pubsubd_port);
		ck_assert_ptr_nonnull(c);
		ck_assert_int_eq(h_sendstr(c, "*3\r\n$9\r\nsubscribe\r\n$3\r\nab"),
		    0);
		h_close(c);
	}
	ck_assert_int_eq(h_publish(redis, "bystander2", "fine"), 1);
	ck_assert(h_expect_free(bystander, h_frame_message("bystander2", "fine")));
	h_close(bystander);
}
END_TEST

/* Same replies as Redis for the commands of this path, one at a time. */
START_TEST(replies_identical_to_redis)
{
	static const char *const cases[] = {
		"PING\r\n",
		"PING hello\r\n",
		"ping \"\"\r\n",
		("SUBSCRIBE a b a\r\nPING\r\nPING m\r\nUNSUBSCRIBE b c\r\n"
		    "UNSUBSCRIBE a\r\nUNSUBSCRIBE\r\nPING\r\n"),
		"UNSUBSCRIBE\r\n",
		"UNSUBSCRIBE x y\r\n",
		"SUBSCRIBE \"\"\r\nUNSUBSCRIBE \"\"\r\n",
		"QUIT\r\nPING\r\n",
		"quit now\r\n",
		"SUBSCRIBE q\r\nQUIT\r\n",
		"nosuchcommand a b c d e f g h\r\n",
		"FOO\r\n",
		"SUBSCRIBE s\r\nnosuch k v\r\nPING\r\nQUIT\r\n",
	};
	size_t	i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(same_as_redis(cases[i], strlen(cases[i]), 300),
		    "case %zu: %s", i, cases[i]);
}
END_TEST


/*
 * A relay between pubsubd and redis-server that can hold back, for
 * HOLD_MS, what carries an (P|S)UNSUBSCRIBE: towards Redis while the file
 * HOLD/up exists in dir, the confirmations back while HOLD/down does. It
 * makes the upstream operation and pubsubd's PUBLISH or PUBSUB (on another
 * connection, not held) meet Redis, or come back, in the order the race
 * needs, every time.
 */
#define HOLD_MS		400
#define HOLD_PAIRS	8

struct hold_dir {
	int		 fd;
	char		*buf;
	size_t		 len;
	long long	 until;		/* not before, ms */
};

struct hold_pair {
	int		 fd[2];		/* pubsubd's side, Redis' side */
	struct hold_dir	 d[2];		/* 0: to Redis, 1: to pubsubd */
};

/* Whether the hold file name exists in dir. */
static int
hold_on(const char *dir, const char *name)
{
	char	path[400];

	snprintf(path, sizeof(path), "%s/hold-%s", dir, name);
	return access(path, F_OK) == 0;
}

/* Creates or removes a hold file. */
static void
hold_set(const char *dir, const char *name, int on)
{
	char	 path[400];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/hold-%s", dir, name);
	if (!on) {
		unlink(path);
		return;
	}
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
}

/* Connects to 127.0.0.1:port (blocking), or returns -1. */
static int
hold_dial(int port)
{
	struct sockaddr_in	sin;
	int			fd;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The relay's loop, in its own process; it lives at most 120 s. */
static void
hold_run(int lfd, int redis_port, const char *dir)
{
	struct hold_pair	 pairs[HOLD_PAIRS];
	struct pollfd		 pfd[1 + 2 * HOLD_PAIRS];
	struct hold_dir		*d;
	long long		 end = h_now_ms() + 120000, now;
	char			 chunk[16384];
	ssize_t			 n;
	int			 np = 0, i, k, fd, dead;

	while ((now = h_now_ms()) < end) {
		pfd[0].fd = lfd;
		pfd[0].events = POLLIN;
		for (i = 0; i < np; i++)
			for (k = 0; k < 2; k++) {
				pfd[1 + 2 * i + k].fd = pairs[i].fd[k];
				pfd[1 + 2 * i + k].events = POLLIN;
			}
		if (poll(pfd, 1 + 2 * (nfds_t)np, 20) == -1 && errno != EINTR)
			_exit(1);
		now = h_now_ms();
		if ((pfd[0].revents & POLLIN) && np < HOLD_PAIRS &&
		    (fd = accept(lfd, NULL, NULL)) != -1) {
			memset(&pairs[np], 0, sizeof(pairs[np]));
			pairs[np].fd[0] = fd;
			if ((pairs[np].fd[1] = hold_dial(redis_port)) == -1)
				close(fd);
			else {
				pairs[np].d[0].fd = pairs[np].fd[1];
				pairs[np].d[1].fd = pairs[np].fd[0];
				pfd[1 + 2 * np].revents = 0;
				pfd[2 + 2 * np].revents = 0;
				np++;
			}
		}
		for (i = 0; i < np; i++) {
			dead = 0;
			for (k = 0; k < 2 && !dead; k++) {
				d = &pairs[i].d[k];
				if (pfd[1 + 2 * i + k].revents & (POLLIN |
				    POLLHUP | POLLERR)) {
					n = read(pairs[i].fd[k], chunk,
					    sizeof(chunk));
					if (n <= 0) {
						dead = 1;
						break;
					}
					if (d->len == 0 && (k == 0 ?
					    hold_on(dir, "up") &&
					    memmem(chunk, (size_t)n,
					    "UNSUBSCRIBE", 11) != NULL :
					    hold_on(dir, "down") &&
					    memmem(chunk, (size_t)n,
					    "unsubscribe", 11) != NULL))
						d->until = now + HOLD_MS;
					if ((d->buf = realloc(d->buf, d->len +
					    (size_t)n)) == NULL)
						_exit(1);
					memcpy(d->buf + d->len, chunk,
					    (size_t)n);
					d->len += (size_t)n;
				}
				if (d->len > 0 && now >= d->until) {
					if (write(d->fd, d->buf, d->len) !=
					    (ssize_t)d->len)
						dead = 1;
					d->len = 0;
				}
			}
			if (dead) {
				close(pairs[i].fd[0]);
				close(pairs[i].fd[1]);
				free(pairs[i].d[0].buf);
				free(pairs[i].d[1].buf);
				pairs[i] = pairs[--np];
				/* Its poll results are stale: next turn. */
				for (k = 0; k < 2; k++)
					pfd[1 + 2 * i + k].revents = 0;
				i--;
			}
		}
	}
	_exit(0);
}

/* Starts the relay on a free port of 127.0.0.1 in a child; returns its pid. */
static pid_t
hold_start(int *portp, const char *dir)
{
	struct sockaddr_in	sin;
	int			lfd, one = 1;
	pid_t			pid;

	*portp = h_free_port();
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ne(lfd, -1);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)*portp);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(lfd, 16), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0)
		hold_run(lfd, env.redis_port, dir);
	close(lfd);
	return pid;
}

/* Sends one command and returns its whole reply (owned), or fails. */
static char *
ask(struct h_conn *c, const char *arg, ...)
{
	const char	*argv[8];
	va_list		 ap;
	char		*r;
	int		 n = 0;

	argv[n++] = arg;
	va_start(ap, arg);
	while (n < 7 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	ck_assert_int_eq(h_command(c, argv[0], n > 1 ? argv[1] : NULL,
	    n > 2 ? argv[2] : NULL, n > 3 ? argv[3] : NULL, NULL), 0);
	r = h_reply(c, NULL, 5000);
	ck_assert_ptr_nonnull(r);
	return r;
}

/*
 * PUBLISH and PUBSUB NUMSUB / NUMPAT count what the clients' confirmed
 * commands left, even while pubsubd's upstream (P)UNSUBSCRIBE has been done
 * by Redis but its confirmation is still on its way (the relay holds it),
 * or has not reached Redis yet (the relay holds it the other way): pubsubd
 * waits for the confirmation before it asks Redis. Without that wait these
 * counts are one off.
 */
START_TEST(counts_wait_for_upstream_unsubscribe)
{
	struct h_conn	*c1, *c2, *p1, *d;
	char		*r;
	long long	 waits, t0;
	int		 port, relay_port, saved = env.redis_port;
	pid_t		 pid, relay;

	relay = hold_start(&relay_port, env.dir);
	env.redis_port = relay_port;
	ck_assert_int_eq(h_start_pubsubd(&env, "hold", NULL, &port, &pid), 0);
	env.redis_port = saved;
	c1 = h_connect(port);
	c2 = h_connect(port);
	p1 = h_connect(port);
	d = h_connect(env.redis_port);
	ck_assert(c1 != NULL && c2 != NULL && p1 != NULL && d != NULL);
	ck_assert_int_eq(h_command(c1, "SUBSCRIBE", "psu:b", NULL), 0);
	ck_assert(h_expect_free(c1, h_frame_confirm("subscribe", "psu:b", 1)));
	ck_assert_int_eq(h_command(c1, "PSUBSCRIBE", "psu:*", NULL), 0);
	ck_assert(h_expect_free(c1, h_frame_confirm("psubscribe", "psu:*",
	    2)));
	ck_assert_int_eq(h_command(c2, "SUBSCRIBE", "psu:b", NULL), 0);
	ck_assert(h_expect_free(c2, h_frame_confirm("subscribe", "psu:b", 1)));
	waits = h_info_on(p1, "stats", "count_waits", 5000);
	ck_assert_int_ge(waits, 0);

	/* Redis has done the PUNSUBSCRIBE; its confirmation is held. */
	hold_set(env.dir, "down", 1);
	ck_assert_int_eq(h_command(c1, "PUNSUBSCRIBE", "psu:*", NULL), 0);
	ck_assert(h_expect_free(c1, h_frame_confirm("punsubscribe", "psu:*",
	    1)));
	usleep(100 * 1000);
	t0 = h_now_ms();
	r = ask(p1, "PUBLISH", "psu:b", "z", NULL);
	ck_assert_str_eq(r, ":2\r\n");		/* c1 and c2, by psu:b */
	free(r);
	ck_assert_int_eq(h_info_on(p1, "stats", "count_waits", 5000),
	    waits + 1);
	ck_assert_int_ge(h_now_ms() - t0, HOLD_MS / 4);

	/* The same for NUMSUB: d, direct to Redis, is the one left. */
	ck_assert_int_eq(h_command(d, "SUBSCRIBE", "psu:b", NULL), 0);
	ck_assert(h_expect_free(d, h_frame_confirm("subscribe", "psu:b", 1)));
	ck_assert_int_eq(h_command(c1, "UNSUBSCRIBE", "psu:b", NULL), 0);
	ck_assert(h_expect_free(c1, h_frame_confirm("unsubscribe", "psu:b",
	    0)));
	ck_assert_int_eq(h_command(c2, "UNSUBSCRIBE", "psu:b", NULL), 0);
	ck_assert(h_expect_free(c2, h_frame_confirm("unsubscribe", "psu:b",
	    0)));
	usleep(100 * 1000);
	r = ask(p1, "PUBSUB", "NUMSUB", "psu:b", NULL);
	ck_assert_str_eq(r, "*2\r\n$5\r\npsu:b\r\n:1\r\n");
	free(r);
	hold_set(env.dir, "down", 0);

	/* NUMPAT while the PUNSUBSCRIBE has not reached Redis yet. */
	ck_assert_int_eq(h_command(c1, "PSUBSCRIBE", "q*", NULL), 0);
	ck_assert(h_expect_free(c1, h_frame_confirm("psubscribe", "q*", 1)));
	usleep(HOLD_MS * 1000);		/* nothing held is left */
	hold_set(env.dir, "up", 1);
	ck_assert_int_eq(h_command(c1, "PUNSUBSCRIBE", "q*", NULL), 0);
	ck_assert(h_expect_free(c1, h_frame_confirm("punsubscribe", "q*",
	    0)));
	r = ask(p1, "PUBSUB", "NUMPAT", NULL);
	ck_assert_str_eq(r, ":0\r\n");
	free(r);
	hold_set(env.dir, "up", 0);

	h_close(c1);
	h_close(c2);
	h_close(p1);
	h_close(d);
	ck_assert_int_eq(h_kill(pid, 5000), 0);
	kill(relay, SIGKILL);
	waitpid(relay, NULL, 0);
}
END_TEST

static Suite *
integ_suite(void)
{
	Suite	*s = suite_create("integ_pubsub");
	TCase	*tc = tcase_create("pubsub");

	tcase_add_unchecked_fixture(tc, suite_start, suite_stop);
	tcase_add_checked_fixture(tc, test_setup, test_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, subscribe_publish_one_client);
	tcase_add_test(tc, fifty_clients_one_channel);
	tcase_add_test(tc, rule1_pipelined_replies_in_order);
	tcase_add_test(tc, rule1_ping_waits_for_pending_subscribe);
	tcase_add_test(tc, rule2_publish_after_confirmation_arrives);
	tcase_add_test(tc, rule2_no_message_before_confirmation);
	tcase_add_test(tc, rule4_subscribe_during_upstream_unsubscribe);
	tcase_add_loop_test(tc, rule2_every_kind, 0, 3);
	tcase_add_loop_test(tc, rule4_every_kind, 0, 3);
	tcase_add_test(tc, rule3_channel_and_pattern_both_delivered);
	tcase_add_test(tc, publish_counts_local_receivers);
	tcase_add_test(tc, last_unsubscribe_and_new_subscribe_in_flight_together);
	tcase_add_test(tc, disconnect_while_subscribing_leaves_nothing_upstream);
	tcase_add_test(tc, many_channels_then_unsubscribe_all);
	tcase_add_test(tc, binary_channel_and_payload);
	tcase_add_test(tc, redis_cli_subscribes);
	tcase_add_test(tc, ipv6_listener_serves_clients);
	tcase_add_test(tc, bad_input_answered_like_redis);
	tcase_add_test(tc, bad_input_long_lines_and_abrupt_close);
	tcase_add_test(tc, replies_identical_to_redis);
	tcase_add_test(tc, counts_wait_for_upstream_unsubscribe);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	int	failed = check_run_failed(integ_suite());

	if (env_failed)
		fprintf(stderr, "pubsubd did not stop cleanly: FAIL\n");
	return failed == 0 && !env_failed ? 0 : 1;
}
