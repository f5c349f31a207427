/*
 * test_cmdconn.c: Check suite for daemon/cmdconn.c against a real
 * redis-server on a free loopback port.
 *
 * One redis-server serves the suite (started in an unchecked fixture, so
 * once, before the tests fork); the tests that kill a server start their
 * own. Each test has a fresh event_base and drives commands with
 * future_wait(). Replies are checked field by field and, through
 * cmdconn_reply_encode(), byte for byte: against literal RESP, and against
 * what redis-server itself sends on a raw socket for the same commands.
 * Run with CK_FORK=no under valgrind or ASan for leaks.
 */
#include "config.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <check.h>

#include "check_run.h"
#include <event2/buffer.h>
#include <event2/event.h>

#include "cmdconn.h"
#include "future.h"
#include "harness.h"

#define WAIT_MS		5000
#define MAX_ARGS	16

/* The suite's redis-server. */
static char		 srv_dir[64];
static int		 srv_port;
static pid_t		 srv_pid;

/* Per test. */
static struct event_base *base;
static struct cmdconn	*conn;
static int		 lost_calls;
static char		 lost_why[256];
static int		 lost_frees;	/* lost_cb frees its connection */

/* Starts redis-server on port with its files in dir; waits for PONG. */
static pid_t
redis_start(const char *dir, int port)
{
	long long	 deadline = h_now_ms() + 10000;
	struct h_conn	*c;
	char		 portstr[16], log[128], *r;
	char		*argv[] = { "redis-server", "--port", portstr, "--bind",
			    "127.0.0.1", "--save", "", "--appendonly", "no",
			    "--dir", (char *)dir, "--daemonize", "no", NULL };
	pid_t		 pid;
	int		 ok = 0;

	snprintf(portstr, sizeof(portstr), "%d", port);
	snprintf(log, sizeof(log), "%s/redis-%d.log", dir, port);
	pid = h_spawn(argv, log);
	while (!ok && h_now_ms() < deadline) {
		if ((c = h_connect(port)) != NULL) {
			if (h_sendstr(c, "PING\r\n") == 0 &&
			    (r = h_reply(c, NULL, 500)) != NULL) {
				ok = strcmp(r, "+PONG\r\n") == 0;
				free(r);
			}
			h_close(c);
		}
		if (!ok)
			usleep(20000);
	}
	if (!ok) {
		fprintf(stderr, "redis-server did not start (see %s)\n", log);
		h_kill(pid, 1000);
		exit(99);
	}
	return pid;
}

/* Starts a redis-server of one test's own, in a subdirectory name. */
static pid_t
private_server(const char *name, int *portp)
{
	char	dir[128];

	snprintf(dir, sizeof(dir), "%s/%s", srv_dir, name);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	*portp = h_free_port();
	return redis_start(dir, *portp);
}

/* Starts the suite's redis-server, once. */
static void
fixture_start(void)
{
	signal(SIGPIPE, SIG_IGN);
	snprintf(srv_dir, sizeof(srv_dir), "/tmp/cmdconn-test.XXXXXX");
	if (mkdtemp(srv_dir) == NULL) {
		perror("mkdtemp");
		exit(99);
	}
	srv_port = h_free_port();
	srv_pid = redis_start(srv_dir, srv_port);
}

/* Stops it and removes its directory. */
static void
fixture_stop(void)
{
	char	cmd[128];

	h_kill(srv_pid, 5000);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", srv_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "'%s' failed\n", cmd);
}

/* A fresh event_base per test. */
static void
test_setup(void)
{
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	conn = NULL;
	lost_calls = 0;
	lost_why[0] = '\0';
	lost_frees = 0;
}

/* Frees what a test left. */
static void
test_teardown(void)
{
	cmdconn_free(conn);
	conn = NULL;
	event_base_free(base);
	base = NULL;
}

/* Records a lost connection; frees it if the test asks for that. */
static void
lost_cb(struct cmdconn *c, const char *why, void *arg)
{
	ck_assert_ptr_eq(arg, &lost_calls);
	lost_calls++;
	snprintf(lost_why, sizeof(lost_why), "%s", why);
	if (lost_frees) {
		ck_assert_ptr_eq(c, conn);
		cmdconn_free(c);
		conn = NULL;
	}
}

/* Runs the loop for ms milliseconds. */
static void
pump(int ms)
{
	struct timeval	tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* Runs the loop until lost has been called or ms pass. */
static void
pump_until_lost(int ms)
{
	long long	deadline = h_now_ms() + ms;

	while (lost_calls == 0 && h_now_ms() < deadline)
		pump(10);
}

/* Returns a new connection to the suite's server, lost_cb watching it. */
static struct cmdconn *
connect_db(int db)
{
	struct cmdconn	*c;

	c = cmdconn_new(base, "127.0.0.1", srv_port, db, lost_cb, &lost_calls);
	ck_assert_ptr_nonnull(c);
	return c;
}

/* Sends a command of NUL-terminated arguments, ended by NULL. */
static struct future *
cmd(struct cmdconn *c, const char *arg, ...)
{
	const char	*argv[MAX_ARGS];
	struct future	*fut;
	va_list		 ap;
	int		 argc = 0;

	va_start(ap, arg);
	for (; arg != NULL; arg = va_arg(ap, const char *)) {
		ck_assert_int_lt(argc, MAX_ARGS);
		argv[argc++] = arg;
	}
	va_end(ap);
	fut = cmdconn_command(c, argc, argv, NULL);
	ck_assert_ptr_nonnull(fut);
	return fut;
}

/* Waits for fut; it must be done. Returns its reply (the future's). */
static const struct cmdconn_reply *
wait_done(struct future *fut)
{
	struct timeval	tv = { WAIT_MS / 1000, 0 };

	ck_assert_int_eq(future_wait(base, fut, &tv), 0);
	ck_assert_msg(future_state(fut) == FUTURE_DONE, "failed: %s",
	    future_error(fut) ? future_error(fut) : "?");
	ck_assert_ptr_nonnull(future_result(fut));
	return future_result(fut);
}

/* Waits for fut; it must have failed. Returns its error (the future's). */
static const char *
wait_failed(struct future *fut)
{
	struct timeval	tv = { WAIT_MS / 1000, 0 };

	ck_assert_int_eq(future_wait(base, fut, &tv), 0);
	ck_assert_int_eq(future_state(fut), FUTURE_FAILED);
	return future_error(fut);
}

/* Encodes a reply; malloc'd and NUL-terminated, its length in *lenp. */
static char *
encode(const struct cmdconn_reply *r, size_t *lenp)
{
	struct evbuffer	*buf = evbuffer_new();
	char		*s;
	size_t		 len;

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(cmdconn_reply_encode(buf, r), 0);
	len = evbuffer_get_length(buf);
	s = malloc(len + 1);
	ck_assert_ptr_nonnull(s);
	evbuffer_remove(buf, s, len);
	s[len] = '\0';
	evbuffer_free(buf);
	*lenp = len;
	return s;
}

/* Checks that r encodes to exactly len bytes of want. */
static void
expect_bytes(const struct cmdconn_reply *r, const char *want, size_t len)
{
	char	*got;
	size_t	 gotlen;

	got = encode(r, &gotlen);
	ck_assert_msg(gotlen == len && memcmp(got, want, len) == 0,
	    "encoded [%s] (%zu bytes), want [%s] (%zu)", got, gotlen, want,
	    len);
	free(got);
}

/* Waits for fut and checks its reply's encoding against a C string. */
static void
expect_reply(struct future *fut, const char *want)
{
	expect_bytes(wait_done(fut), want, strlen(want));
	future_unref(fut);
}

/* Sends a command on a raw socket; returns Redis' reply bytes (malloc'd). */
static char *
raw_command(struct h_conn *hc, int argc, const char *const *argv,
    const size_t *argvlen, size_t *lenp)
{
	char	 hdr[32], *r;
	int	 i;

	snprintf(hdr, sizeof(hdr), "*%d\r\n", argc);
	ck_assert_int_eq(h_sendstr(hc, hdr), 0);
	for (i = 0; i < argc; i++) {
		snprintf(hdr, sizeof(hdr), "$%zu\r\n", argvlen[i]);
		ck_assert_int_eq(h_sendstr(hc, hdr), 0);
		ck_assert_int_eq(h_send(hc, argv[i], argvlen[i]), 0);
		ck_assert_int_eq(h_sendstr(hc, "\r\n"), 0);
	}
	r = h_reply(hc, lenp, WAIT_MS);
	ck_assert_ptr_nonnull(r);
	return r;
}

/* Sends a command of C strings on a raw socket; checks the reply. */
static void
raw_expect(struct h_conn *hc, const char *want, const char *arg, ...)
{
	const char	*argv[MAX_ARGS];
	size_t		 argvlen[MAX_ARGS], len;
	va_list		 ap;
	char		*r;
	int		 argc = 0;

	va_start(ap, arg);
	for (; arg != NULL; arg = va_arg(ap, const char *)) {
		ck_assert_int_lt(argc, MAX_ARGS);
		argvlen[argc] = strlen(arg);
		argv[argc++] = arg;
	}
	va_end(ap);
	r = raw_command(hc, argc, argv, argvlen, &len);
	ck_assert_msg(want == NULL || strcmp(r, want) == 0, "raw [%s], "
	    "want [%s]", r, want);
	free(r);
}

START_TEST(set_and_get)
{
	const struct cmdconn_reply	*r;
	struct future			*fut;

	conn = connect_db(0);
	fut = cmd(conn, "SET", "sg:key", "hello", NULL);
	r = wait_done(fut);
	ck_assert_int_eq(r->type, CMDCONN_STATUS);
	ck_assert_str_eq(r->str, "OK");
	ck_assert_uint_eq(r->len, 2);
	expect_bytes(r, "+OK\r\n", 5);
	future_unref(fut);

	fut = cmd(conn, "GET", "sg:key", NULL);
	r = wait_done(fut);
	ck_assert_int_eq(r->type, CMDCONN_STRING);
	ck_assert_uint_eq(r->len, 5);
	ck_assert_str_eq(r->str, "hello");
	expect_bytes(r, "$5\r\nhello\r\n", 11);
	future_unref(fut);
	ck_assert_int_eq(cmdconn_is_lost(conn), 0);
}
END_TEST

START_TEST(missing_key_is_null_bulk)
{
	const struct cmdconn_reply	*r;
	struct future			*fut;

	conn = connect_db(0);
	fut = cmd(conn, "GET", "nb:no-such-key", NULL);
	r = wait_done(fut);
	ck_assert_int_eq(r->type, CMDCONN_NIL);
	expect_bytes(r, "$-1\r\n", 5);
	future_unref(fut);
}
END_TEST

START_TEST(blpop_timeout_is_null_array)
{
	const struct cmdconn_reply	*r;
	struct future			*fut;

	conn = connect_db(0);
	fut = cmd(conn, "BLPOP", "na:empty-list", "0.1", NULL);
	r = wait_done(fut);
	ck_assert_int_eq(r->type, CMDCONN_NIL_ARRAY);
	ck_assert_uint_eq(r->elements, 0);
	expect_bytes(r, "*-1\r\n", 5);
	future_unref(fut);
}
END_TEST

START_TEST(error_reply_is_a_done_future)
{
	static const char		 text[] = "WRONGTYPE Operation against "
					    "a key holding the wrong kind of value";
	const struct cmdconn_reply	*r;
	struct future			*fut;

	conn = connect_db(0);
	expect_reply(cmd(conn, "SET", "er:string", "x", NULL), "+OK\r\n");
	fut = cmd(conn, "LPUSH", "er:string", "y", NULL);
	r = wait_done(fut);
	ck_assert_int_eq(r->type, CMDCONN_ERROR);
	ck_assert_str_eq(r->str, text);
	ck_assert_uint_eq(r->len, strlen(text));
	expect_bytes(r, "-WRONGTYPE Operation against a key holding the "
	    "wrong kind of value\r\n", strlen(text) + 3);
	future_unref(fut);
	/* The connection goes on. */
	expect_reply(cmd(conn, "PING", NULL), "+PONG\r\n");
}
END_TEST

START_TEST(nested_arrays)
{
	const struct cmdconn_reply	*r, *e;
	struct future			*fut;
	const char			*want;

	conn = connect_db(0);
	fut = cmd(conn, "EVAL", "return {1, {2, 'x', {3, false}}, 'y'}", "0",
	    NULL);
	r = wait_done(fut);
	ck_assert_int_eq(r->type, CMDCONN_ARRAY);
	ck_assert_uint_eq(r->elements, 3);
	ck_assert_int_eq(r->element[0]->type, CMDCONN_INTEGER);
	ck_assert_int_eq(r->element[0]->integer, 1);
	e = r->element[1];
	ck_assert_int_eq(e->type, CMDCONN_ARRAY);
	ck_assert_uint_eq(e->elements, 3);
	ck_assert_str_eq(e->element[1]->str, "x");
	ck_assert_int_eq(e->element[2]->type, CMDCONN_ARRAY);
	ck_assert_int_eq(e->element[2]->element[1]->type, CMDCONN_NIL);
	ck_assert_str_eq(r->element[2]->str, "y");
	want = "*3\r\n:1\r\n*3\r\n:2\r\n$1\r\nx\r\n*2\r\n:3\r\n$-1\r\n"
	    "$1\r\ny\r\n";
	expect_bytes(r, want, strlen(want));
	future_unref(fut);

	expect_reply(cmd(conn, "DEL", "na:stream", NULL), ":0\r\n");
	expect_reply(cmd(conn, "XADD", "na:stream", "1-1", "a", "1", NULL),
	    "$3\r\n1-1\r\n");
	expect_reply(cmd(conn, "XADD", "na:stream", "2-1", "b", "2", "c", "3",
	    NULL), "$3\r\n2-1\r\n");
	expect_reply(cmd(conn, "XRANGE", "na:stream", "-", "+", NULL),
	    "*2\r\n"
	    "*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"
	    "*2\r\n$3\r\n2-1\r\n*4\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n");
	expect_reply(cmd(conn, "EVAL", "return {}", "0", NULL), "*0\r\n");
}
END_TEST

START_TEST(integers)
{
	const struct cmdconn_reply	*r;
	struct future			*fut;

	conn = connect_db(0);
	expect_reply(cmd(conn, "SET", "in:n", "-5", NULL), "+OK\r\n");
	fut = cmd(conn, "INCRBY", "in:n", "-10", NULL);
	r = wait_done(fut);
	ck_assert_int_eq(r->type, CMDCONN_INTEGER);
	ck_assert_int_eq(r->integer, -15);
	expect_bytes(r, ":-15\r\n", 6);
	future_unref(fut);

	expect_reply(cmd(conn, "SET", "in:max", "9223372036854775806", NULL),
	    "+OK\r\n");
	fut = cmd(conn, "INCR", "in:max", NULL);
	r = wait_done(fut);
	ck_assert_int_eq(r->integer, 9223372036854775807LL);
	expect_bytes(r, ":9223372036854775807\r\n", 22);
	future_unref(fut);
	expect_reply(cmd(conn, "DEL", "in:none", NULL), ":0\r\n");
}
END_TEST

START_TEST(status_replies)
{
	const struct cmdconn_reply	*r;
	struct future			*fut;

	conn = connect_db(0);
	fut = cmd(conn, "PING", NULL);
	r = wait_done(fut);
	ck_assert_int_eq(r->type, CMDCONN_STATUS);
	ck_assert_str_eq(r->str, "PONG");
	expect_bytes(r, "+PONG\r\n", 7);
	future_unref(fut);
	expect_reply(cmd(conn, "SET", "st:k", "v", NULL), "+OK\r\n");
	expect_reply(cmd(conn, "TYPE", "st:k", NULL), "+string\r\n");
}
END_TEST

START_TEST(binary_values)
{
	static const char		 key[] = "bin:\0key\r\n";
	static const char		 val[] = "a\0b\r\nc$-1\r\n*\0\r";
	const struct cmdconn_reply	*r;
	const char			*argv[3];
	size_t				 argvlen[3];
	struct future			*fut;
	char				 want[64];
	size_t				 n;

	conn = connect_db(0);
	argv[0] = "SET";
	argvlen[0] = 3;
	argv[1] = key;
	argvlen[1] = sizeof(key) - 1;
	argv[2] = val;
	argvlen[2] = sizeof(val) - 1;
	expect_reply(cmdconn_command(conn, 3, argv, argvlen), "+OK\r\n");
	argv[0] = "GET";
	fut = cmdconn_command(conn, 2, argv, argvlen);
	r = wait_done(fut);
	ck_assert_int_eq(r->type, CMDCONN_STRING);
	ck_assert_uint_eq(r->len, sizeof(val) - 1);
	ck_assert_int_eq(memcmp(r->str, val, r->len), 0);
	ck_assert_int_eq(r->str[r->len], '\0');
	n = (size_t)snprintf(want, sizeof(want), "$%zu\r\n", sizeof(val) - 1);
	memcpy(want + n, val, sizeof(val) - 1);
	n += sizeof(val) - 1;
	memcpy(want + n, "\r\n", 2);
	expect_bytes(r, want, n + 2);
	future_unref(fut);
}
END_TEST

/* Where the pipelined futures record the order they completed in. */
struct order {
	int	 seen[1000];
	int	 n;
};

/* One pipelined future's place, and where it records. */
struct slot {
	struct order	*order;
	int		 i;
};

/* Records that one pipelined future completed. */
static void
order_cb(struct future *fut, void *arg)
{
	struct slot	*s = arg;

	(void)fut;
	s->order->seen[s->order->n++] = s->i;
}

START_TEST(pipelined_thousand_in_order)
{
	static struct order	 order;
	static struct slot	 slots[1000];
	static struct future	*futs[1000];
	const struct cmdconn_reply *r;
	int			 i;

	conn = connect_db(0);
	expect_reply(cmd(conn, "DEL", "pl:counter", NULL), ":0\r\n");
	memset(&order, 0, sizeof(order));
	/* All sent before the loop runs, so before the first reply. */
	for (i = 0; i < 1000; i++) {
		futs[i] = cmd(conn, "INCR", "pl:counter", NULL);
		slots[i].order = &order;
		slots[i].i = i;
		ck_assert_ptr_nonnull(future_add_callback(futs[i], order_cb,
		    &slots[i]));
	}
	ck_assert_int_eq(order.n, 0);
	wait_done(futs[999]);
	ck_assert_int_eq(order.n, 1000);
	for (i = 0; i < 1000; i++) {
		ck_assert_int_eq(order.seen[i], i);
		r = wait_done(futs[i]);
		ck_assert_int_eq(r->type, CMDCONN_INTEGER);
		ck_assert_int_eq(r->integer, i + 1);
		future_unref(futs[i]);
	}
}
END_TEST

START_TEST(commands_before_connect_completes)
{
	struct future	*set, *get;

	conn = connect_db(0);
	set = cmd(conn, "SET", "bc:key", "early", NULL);
	get = cmd(conn, "GET", "bc:key", NULL);
	ck_assert(future_is_pending(set));
	ck_assert(future_is_pending(get));
	ck_assert_int_eq(cmdconn_is_lost(conn), 0);
	expect_reply(set, "+OK\r\n");
	expect_reply(get, "$5\r\nearly\r\n");
}
END_TEST

START_TEST(select_db)
{
	struct h_conn	*hc;
	struct cmdconn	*db0;

	hc = h_connect(srv_port);
	ck_assert_ptr_nonnull(hc);
	raw_expect(hc, "+OK\r\n", "SELECT", "3", NULL);
	raw_expect(hc, "+OK\r\n", "SET", "db:key", "in-three", NULL);
	h_close(hc);

	conn = connect_db(3);
	db0 = connect_db(0);
	/* SELECT's +OK must not be taken for PING's reply. */
	expect_reply(cmd(conn, "PING", NULL), "+PONG\r\n");
	expect_reply(cmd(conn, "GET", "db:key", NULL), "$8\r\nin-three\r\n");
	expect_reply(cmd(db0, "GET", "db:key", NULL), "$-1\r\n");
	cmdconn_free(db0);
	ck_assert_int_eq(lost_calls, 0);
}
END_TEST

START_TEST(select_failure_is_a_lost_connection)
{
	static const char	 text[] = "ERR DB index is out of range";
	struct future		*a, *b, *late;
	char			 want[128];

	conn = connect_db(100000);
	a = cmd(conn, "SET", "sf:key", "x", NULL);
	b = cmd(conn, "PING", NULL);
	snprintf(want, sizeof(want), "connection to redis lost: %s", text);
	ck_assert_str_eq(wait_failed(a), want);
	ck_assert_str_eq(wait_failed(b), want);
	pump_until_lost(WAIT_MS);
	ck_assert_int_eq(lost_calls, 1);
	ck_assert_str_eq(lost_why, text);
	ck_assert(cmdconn_is_lost(conn));
	late = cmd(conn, "PING", NULL);
	ck_assert_int_eq(future_state(late), FUTURE_FAILED);
	ck_assert_str_eq(future_error(late), want);
	pump(50);
	ck_assert_int_eq(lost_calls, 1);
	future_unref(a);
	future_unref(b);
	future_unref(late);
}
END_TEST

START_TEST(connection_refused)
{
	struct future	*a, *b, *late;

	conn = cmdconn_new(base, "127.0.0.1", h_free_port(), 0, lost_cb,
	    &lost_calls);
	ck_assert_ptr_nonnull(conn);
	a = cmd(conn, "PING", NULL);
	b = cmd(conn, "GET", "cr:key", NULL);
	ck_assert_str_eq(wait_failed(a),
	    "connection to redis lost: Connection refused");
	ck_assert_str_eq(wait_failed(b),
	    "connection to redis lost: Connection refused");
	pump_until_lost(WAIT_MS);
	ck_assert_int_eq(lost_calls, 1);
	ck_assert_str_eq(lost_why, "Connection refused");
	ck_assert(cmdconn_is_lost(conn));
	late = cmd(conn, "PING", NULL);
	ck_assert_int_eq(future_state(late), FUTURE_FAILED);
	pump(50);
	ck_assert_int_eq(lost_calls, 1);
	future_unref(a);
	future_unref(b);
	future_unref(late);
}
END_TEST

START_TEST(server_killed_mid_flight)
{
	struct future	*block, *get, *late;
	const char	*err;
	pid_t		 pid;
	int		 port;

	pid = private_server("kill", &port);
	conn = cmdconn_new(base, "127.0.0.1", port, 0, lost_cb, &lost_calls);
	ck_assert_ptr_nonnull(conn);
	expect_reply(cmd(conn, "PING", NULL), "+PONG\r\n");
	block = cmd(conn, "BLPOP", "km:never", "0", NULL);
	get = cmd(conn, "GET", "km:key", NULL);
	pump(100);	/* both on the wire, neither answered */
	ck_assert(future_is_pending(block));
	ck_assert(future_is_pending(get));
	h_kill(pid, 5000);
	err = wait_failed(block);
	ck_assert_msg(strncmp(err, "connection to redis lost: ", 26) == 0,
	    "error: %s", err);
	ck_assert_str_eq(wait_failed(get), err);
	pump_until_lost(WAIT_MS);
	ck_assert_int_eq(lost_calls, 1);
	ck_assert_str_eq(err + 26, lost_why);
	late = cmd(conn, "PING", NULL);
	ck_assert_int_eq(future_state(late), FUTURE_FAILED);
	pump(50);
	ck_assert_int_eq(lost_calls, 1);
	future_unref(block);
	future_unref(get);
	future_unref(late);
}
END_TEST

START_TEST(error_nobody_waits_for_is_a_lost_connection)
{
	struct h_conn	*hc;
	struct future	*late;
	pid_t		 pid;
	int		 port;

	/*
	 * Redis greets a client over maxclients with an error and closes:
	 * hiredis reads that reply as a redisReply (our peek header). On a
	 * server of its own, so that a failure cannot starve the others.
	 */
	pid = private_server("maxclients", &port);
	hc = h_connect(port);
	ck_assert_ptr_nonnull(hc);
	raw_expect(hc, "+OK\r\n", "CONFIG", "SET", "maxclients", "1", NULL);
	conn = cmdconn_new(base, "127.0.0.1", port, 0, lost_cb, &lost_calls);
	ck_assert_ptr_nonnull(conn);
	pump_until_lost(WAIT_MS);
	h_close(hc);
	h_kill(pid, 5000);
	ck_assert_int_eq(lost_calls, 1);
	ck_assert_str_eq(lost_why, "ERR max number of clients reached");
	late = cmd(conn, "PING", NULL);
	ck_assert_str_eq(future_error(late),
	    "connection to redis lost: ERR max number of clients reached");
	future_unref(late);
}
END_TEST

START_TEST(free_with_pending_commands)
{
	struct future	*futs[3];
	int		 i;

	conn = connect_db(0);
	futs[0] = cmd(conn, "BLPOP", "fp:never", "0", NULL);
	futs[1] = cmd(conn, "PING", NULL);
	futs[2] = cmd(conn, "GET", "fp:key", NULL);
	pump(50);
	cmdconn_free(conn);
	conn = NULL;
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(future_state(futs[i]), FUTURE_FAILED);
		ck_assert_str_eq(future_error(futs[i]), "connection closed");
		future_unref(futs[i]);
	}
	pump(50);
	ck_assert_int_eq(lost_calls, 0);
}
END_TEST

START_TEST(free_before_connect_completes)
{
	struct future	*fut;

	conn = connect_db(2);
	fut = cmd(conn, "PING", NULL);
	cmdconn_free(conn);
	conn = NULL;
	ck_assert_int_eq(future_state(fut), FUTURE_FAILED);
	ck_assert_str_eq(future_error(fut), "connection closed");
	future_unref(fut);
	pump(50);
	ck_assert_int_eq(lost_calls, 0);
}
END_TEST

/* Frees the connection from a future's callback (inside hiredis'). */
static void
free_conn_cb(struct future *fut, void *arg)
{
	(void)fut;
	(void)arg;
	cmdconn_free(conn);
	conn = NULL;
}

START_TEST(free_from_a_future_callback)
{
	struct future	*first, *second, *third;

	conn = connect_db(0);
	first = cmd(conn, "PING", NULL);
	second = cmd(conn, "ECHO", "second", NULL);
	third = cmd(conn, "BLPOP", "ff:never", "0", NULL);
	ck_assert_ptr_nonnull(future_add_callback(first, free_conn_cb, NULL));
	expect_bytes(wait_done(first), "+PONG\r\n", 7);
	ck_assert_ptr_null(conn);
	ck_assert_str_eq(wait_failed(second), "connection closed");
	ck_assert_str_eq(wait_failed(third), "connection closed");
	pump(50);	/* the deferred free */
	ck_assert_int_eq(lost_calls, 0);
	future_unref(first);
	future_unref(second);
	future_unref(third);
}
END_TEST

START_TEST(free_from_the_lost_callback)
{
	struct future	*fut;

	lost_frees = 1;
	conn = cmdconn_new(base, "127.0.0.1", h_free_port(), 0, lost_cb,
	    &lost_calls);
	ck_assert_ptr_nonnull(conn);
	fut = cmd(conn, "PING", NULL);
	wait_failed(fut);
	pump_until_lost(WAIT_MS);
	ck_assert_int_eq(lost_calls, 1);
	ck_assert_ptr_null(conn);
	pump(20);
	future_unref(fut);
}
END_TEST

START_TEST(reply_outlives_its_connection)
{
	const struct cmdconn_reply	*r;
	struct future			*fut;

	conn = connect_db(0);
	expect_reply(cmd(conn, "RPUSH", "ro:list", "a", "b", NULL), ":2\r\n");
	fut = cmd(conn, "LRANGE", "ro:list", "0", "-1", NULL);
	r = wait_done(fut);
	cmdconn_free(conn);
	conn = NULL;
	pump(20);
	ck_assert_int_eq(r->type, CMDCONN_ARRAY);
	expect_bytes(r, "*2\r\n$1\r\na\r\n$1\r\nb\r\n", 18);
	future_unref(fut);
}
END_TEST

START_TEST(cancelled_before_the_reply)
{
	struct future	*fut;

	conn = connect_db(0);
	fut = cmd(conn, "ECHO", "unwanted", NULL);
	ck_assert_int_eq(future_cancel(fut), 0);
	future_unref(fut);
	expect_reply(cmd(conn, "ECHO", "wanted", NULL), "$6\r\nwanted\r\n");
}
END_TEST

START_TEST(multi_exec)
{
	struct h_conn	*hc;

	conn = connect_db(0);
	expect_reply(cmd(conn, "SET", "mx:text", "abc", NULL), "+OK\r\n");
	expect_reply(cmd(conn, "MULTI", NULL), "+OK\r\n");
	expect_reply(cmd(conn, "SET", "mx:n", "1", NULL), "+QUEUED\r\n");
	expect_reply(cmd(conn, "INCR", "mx:text", NULL), "+QUEUED\r\n");
	expect_reply(cmd(conn, "GET", "mx:n", NULL), "+QUEUED\r\n");
	expect_reply(cmd(conn, "EXEC", NULL), "*3\r\n+OK\r\n"
	    "-ERR value is not an integer or out of range\r\n$1\r\n1\r\n");

	/* A transaction aborted by WATCH: EXEC answers a null array. */
	expect_reply(cmd(conn, "WATCH", "mx:watched", NULL), "+OK\r\n");
	hc = h_connect(srv_port);
	ck_assert_ptr_nonnull(hc);
	raw_expect(hc, "+OK\r\n", "SET", "mx:watched", "changed", NULL);
	h_close(hc);
	expect_reply(cmd(conn, "MULTI", NULL), "+OK\r\n");
	expect_reply(cmd(conn, "SET", "mx:watched", "mine", NULL),
	    "+QUEUED\r\n");
	expect_reply(cmd(conn, "EXEC", NULL), "*-1\r\n");
	expect_reply(cmd(conn, "GET", "mx:watched", NULL),
	    "$7\r\nchanged\r\n");
}
END_TEST

START_TEST(refused_commands)
{
	struct future	*fut;

	conn = connect_db(0);
	fut = cmd(conn, "subscribe", "rc:channel", NULL);
	ck_assert_int_eq(future_state(fut), FUTURE_FAILED);
	ck_assert_str_eq(future_error(fut),
	    "SUBSCRIBE is not allowed on this connection");
	future_unref(fut);
	fut = cmd(conn, "MONITOR", NULL);
	ck_assert_int_eq(future_state(fut), FUTURE_FAILED);
	future_unref(fut);
	fut = cmd(conn, "HELLO", "3", NULL);
	ck_assert_int_eq(future_state(fut), FUTURE_FAILED);
	future_unref(fut);
	fut = cmd(conn, "client", "reply", "off", NULL);
	ck_assert_int_eq(future_state(fut), FUTURE_FAILED);
	future_unref(fut);
	fut = cmdconn_command(conn, 0, NULL, NULL);
	ck_assert_int_eq(future_state(fut), FUTURE_FAILED);
	future_unref(fut);
	/* Allowed: HELLO 2 keeps RESP2 (its map comes as a flat array). */
	fut = cmd(conn, "HELLO", "2", NULL);
	ck_assert_int_eq(wait_done(fut)->type, CMDCONN_ARRAY);
	future_unref(fut);
	expect_reply(cmd(conn, "PING", NULL), "+PONG\r\n");
	ck_assert_int_eq(cmdconn_is_lost(conn), 0);
}
END_TEST

START_TEST(encode_rejects_what_resp2_cannot_carry)
{
	struct cmdconn_reply	 bad = { .type = CMDCONN_STATUS,
				    .str = "a\r\nb", .len = 4 };
	struct cmdconn_reply	*elems[2] = { NULL, NULL };
	struct cmdconn_reply	 arr = { .type = CMDCONN_ARRAY,
				    .element = elems, .elements = 2 };
	struct cmdconn_reply	 ok = { .type = CMDCONN_INTEGER,
				    .integer = 7 };
	struct evbuffer		*buf = evbuffer_new();

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(cmdconn_reply_encode(buf, &bad), -1);
	elems[0] = &ok;
	ck_assert_int_eq(cmdconn_reply_encode(buf, &arr), -1);
	ck_assert_uint_eq(evbuffer_get_length(buf), 0);	/* all or nothing */
	elems[1] = &ok;
	ck_assert_int_eq(cmdconn_reply_encode(buf, &arr), 0);
	ck_assert_uint_eq(evbuffer_get_length(buf), 12);
	evbuffer_free(buf);
}
END_TEST

/* One command of the differential check, its arguments with lengths. */
struct diff_cmd {
	int		 argc;
	const char	*argv[8];
	size_t		 argvlen[8];
};

/* Fills in the lengths of the C-string arguments (those left 0). */
static void
diff_lengths(struct diff_cmd *d)
{
	int	i;

	for (i = 0; i < d->argc; i++) {
		if (d->argvlen[i] == 0)
			d->argvlen[i] = strlen(d->argv[i]);
	}
}

START_TEST(encoding_matches_redis_on_the_wire)
{
	static char		 big[100000];
	static const char	 bin[] = "x\0y\r\n$-1\r\n*-1\r\n";
	struct diff_cmd		 cmds[] = {
		{ 1, { "PING" }, { 0 } },
		{ 2, { "ECHO", bin }, { 0, sizeof(bin) - 1 } },
		{ 3, { "SET", "df:key", "value" }, { 0 } },
		{ 2, { "GET", "df:key" }, { 0 } },
		{ 2, { "GET", "df:missing" }, { 0 } },
		{ 2, { "GET", "df:big" }, { 0 } },
		{ 3, { "BLPOP", "df:empty", "0.1" }, { 0 } },
		{ 4, { "LRANGE", "df:list", "0", "-1" }, { 0 } },
		{ 2, { "HGETALL", "df:hash" }, { 0 } },
		{ 5, { "ZRANGE", "df:zset", "0", "-1", "WITHSCORES" }, { 0 } },
		{ 4, { "XRANGE", "df:stream", "-", "+" }, { 0 } },
		{ 3, { "EVAL", "return {1, {2, 'x', {3, false}}, {}, 'y'}",
		    "0" }, { 0 } },
		{ 3, { "EVAL", "return redis.error_reply('MY failure')",
		    "0" }, { 0 } },
		{ 3, { "EVAL", "return redis.status_reply('FINE')", "0" },
		    { 0 } },
		{ 3, { "INCRBY", "df:n", "0" }, { 0 } },
		{ 3, { "LPUSH", "df:key", "x" }, { 0 } },
		{ 2, { "EXISTS", "df:key" }, { 0 } },
		{ 3, { "CONFIG", "GET", "maxmemory-policy" }, { 0 } },
		{ 1, { "MULTI" }, { 0 } },
		{ 2, { "GET", "df:key" }, { 0 } },
		{ 2, { "INCR", "df:key" }, { 0 } },
		{ 4, { "LRANGE", "df:list", "0", "2" }, { 0 } },
		{ 1, { "EXEC" }, { 0 } },
		{ 2, { "NOSUCHCOMMAND", "arg" }, { 0 } },
	};
	const size_t		 ncmds = sizeof(cmds) / sizeof(cmds[0]);
	struct future		*futs[sizeof(cmds) / sizeof(cmds[0])];
	struct h_conn		*hc;
	char			*want, *got, num[16];
	size_t			 i, wantlen, gotlen;

	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + i / 256);
	hc = h_connect(srv_port);
	ck_assert_ptr_nonnull(hc);
	/* The data, written over the raw socket. */
	{
		const char	*argv[3] = { "SET", "df:big", big };
		size_t		 argvlen[3] = { 3, 6, sizeof(big) };

		free(raw_command(hc, 3, argv, argvlen, &wantlen));
	}
	raw_expect(hc, NULL, "DEL", "df:list", "df:hash", "df:zset",
	    "df:stream", NULL);
	for (i = 0; i < 1000; i++) {
		snprintf(num, sizeof(num), "%zu", i);
		raw_expect(hc, NULL, "RPUSH", "df:list", num, NULL);
	}
	raw_expect(hc, ":2\r\n", "HSET", "df:hash", "f1", "v1", "f2", "", NULL);
	raw_expect(hc, ":2\r\n", "ZADD", "df:zset", "1.5", "a", "-2", "b",
	    NULL);
	raw_expect(hc, "$3\r\n1-1\r\n", "XADD", "df:stream", "1-1", "k", "v",
	    NULL);
	raw_expect(hc, "+OK\r\n", "SET", "df:n", "42", NULL);

	/* Every command through cmdconn, pipelined; then each raw. */
	conn = connect_db(0);
	for (i = 0; i < ncmds; i++) {
		diff_lengths(&cmds[i]);
		futs[i] = cmdconn_command(conn, cmds[i].argc, cmds[i].argv,
		    cmds[i].argvlen);
		ck_assert_ptr_nonnull(futs[i]);
	}
	for (i = 0; i < ncmds; i++) {
		got = encode(wait_done(futs[i]), &gotlen);
		want = raw_command(hc, cmds[i].argc, cmds[i].argv,
		    cmds[i].argvlen, &wantlen);
		ck_assert_msg(gotlen == wantlen &&
		    memcmp(got, want, gotlen) == 0,
		    "%s: cmdconn [%.200s] (%zu bytes), redis [%.200s] (%zu)",
		    cmds[i].argv[0], got, gotlen, want, wantlen);
		free(got);
		free(want);
		future_unref(futs[i]);
	}
	h_close(hc);
}
END_TEST

/* The suite: one redis-server for all, a fresh event_base per test. */
static Suite *
cmdconn_suite(void)
{
	Suite	*s = suite_create("cmdconn");
	TCase	*tc = tcase_create("cmdconn");

	tcase_add_unchecked_fixture(tc, fixture_start, fixture_stop);
	tcase_add_checked_fixture(tc, test_setup, test_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, set_and_get);
	tcase_add_test(tc, missing_key_is_null_bulk);
	tcase_add_test(tc, blpop_timeout_is_null_array);
	tcase_add_test(tc, error_reply_is_a_done_future);
	tcase_add_test(tc, nested_arrays);
	tcase_add_test(tc, integers);
	tcase_add_test(tc, status_replies);
	tcase_add_test(tc, binary_values);
	tcase_add_test(tc, pipelined_thousand_in_order);
	tcase_add_test(tc, commands_before_connect_completes);
	tcase_add_test(tc, select_db);
	tcase_add_test(tc, select_failure_is_a_lost_connection);
	tcase_add_test(tc, connection_refused);
	tcase_add_test(tc, server_killed_mid_flight);
	tcase_add_test(tc, error_nobody_waits_for_is_a_lost_connection);
	tcase_add_test(tc, free_with_pending_commands);
	tcase_add_test(tc, free_before_connect_completes);
	tcase_add_test(tc, free_from_a_future_callback);
	tcase_add_test(tc, free_from_the_lost_callback);
	tcase_add_test(tc, reply_outlives_its_connection);
	tcase_add_test(tc, cancelled_before_the_reply);
	tcase_add_test(tc, multi_exec);
	tcase_add_test(tc, refused_commands);
	tcase_add_test(tc, encode_rejects_what_resp2_cannot_carry);
	tcase_add_test(tc, encoding_matches_redis_on_the_wire);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_run(cmdconn_suite());
}
