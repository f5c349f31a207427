/*
 * test_integ_sentinel.c: redis.sentinel against real Redis Sentinel: a
 * master, its replica and redis-sentinel processes on free loopback ports,
 * each test with its own. Discovery past a dead node, a plain Redis and
 * sentinels that answer wrongly; failovers after kill -9 and after SIGSTOP
 * of the master, followed with no client disconnected and every
 * subscription kept (byte for byte what a client receives); a sentinel
 * down, then every sentinel down; a start with no sentinel up yet; a
 * reload that tries to change the sentinels.
 *
 * The failovers use down-after-milliseconds 1000, so each takes some 2 to
 * 4 s of Sentinel's own; every wait is bounded.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "check_run.h"
#include "harness.h"

#define MAX_PIDS	16
#define MASTER		"mymaster"

/* The Redis side of one test. */
struct topo {
	int	 master;	/* ports */
	int	 replica;
	int	 sentinel[3];
	int	 nsentinels;
};

static pid_t	 spawn_redis(int, int, const char *);
static pid_t	 spawn_sentinel(int, const char *, int, int, int,
		    const char *);
static void	 topo_up(struct topo *, int, int);
static int	 array_len(int, const char *, const char *, const char *);
static int	 wait_sentinels_ready(const struct topo *, int);
static int	 pubsubd_up(const char *, const char *, int *);
static int	 pubsubd_up_with(const char *, const char *, const char *,
		    int *);
static char	*nodes_of(const int *, int);
static int	 wait_info(int, const char *, long long, int);
static int	 wait_log(const char *, const char *, int);
static void	 log_path(char *, size_t, const char *);
static long long publish_until(int, const char *, const char *, int);
static void	 subscribe3(int, struct h_conn **);
static void	 close3(struct h_conn **);
static void	 expect_flowing(int, struct h_conn **, const char *);
static void	 failover_case(int);
static Suite	*sentinel_suite(void);

static struct h_env	env;
static pid_t		pubsubds[MAX_PIDS];	/* must stop cleanly */
static pid_t		others[MAX_PIDS];	/* Redis, sentinels */
static int		nothers;

/* A private directory for one test's files. */
static void
dir_make(void)
{
	h_dir_make(&env);
}

/* In Check's parent: a directory left means the test failed; show logs. */
static void
dir_check(void)
{
	h_dir_report(&env, "sentinel");
}

static void
test_setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	memset(pubsubds, 0, sizeof(pubsubds));
	memset(others, 0, sizeof(others));
	nothers = 0;
}

/*
 * After a test that passed: the Redis side goes first (SIGCONT for one a
 * test stopped), then every pubsubd must stop cleanly (exit 0, no leak
 * under the sanitizers), and the directory goes.
 */
static void
test_teardown(void)
{
	int	i;

	for (i = 0; i < nothers; i++)
		if (others[i] > 0) {
			kill(others[i], SIGCONT);
			h_kill(others[i], 3000);
		}
	ck_assert_msg(h_stop_daemons(&env, pubsubds, MAX_PIDS,
	    "sentinel") == 0, "a pubsubd did not stop cleanly (files in %s)",
	    env.dir);
}

/* Remembers a Redis-side pid for the teardown. */
static pid_t
keep(pid_t pid)
{
	ck_assert_int_lt(nothers, MAX_PIDS);
	others[nothers++] = pid;
	return pid;
}

/* Starts redis-server on port (a replica of replicaof if not 0). */
static pid_t
spawn_redis(int port, int replicaof, const char *tag)
{
	char		 p[16], of[32], log[300], rdb[64];
	const char	*argv[20];
	int		 n = 0;
	pid_t		 pid;

	snprintf(p, sizeof(p), "%d", port);
	snprintf(of, sizeof(of), "127.0.0.1 %d", replicaof);
	snprintf(log, sizeof(log), "%s/%s.log", env.dir, tag);
	snprintf(rdb, sizeof(rdb), "%s.rdb", tag);
	argv[n++] = "redis-server";
	argv[n++] = "--port";
	argv[n++] = p;
	argv[n++] = "--bind";
	argv[n++] = "127.0.0.1";
	argv[n++] = "--save";
	argv[n++] = "";
	argv[n++] = "--appendonly";
	argv[n++] = "no";
	argv[n++] = "--dir";
	argv[n++] = env.dir;
	argv[n++] = "--dbfilename";
	argv[n++] = rdb;
	if (replicaof != 0) {
		argv[n++] = "--replicaof";
		argv[n++] = of;
	}
	argv[n] = NULL;
	pid = keep(h_spawn((char *const *)argv, log));
	ck_assert_msg(h_wait_ping(port, 10000) == 0, "redis-server on %d did "
	    "not start", port);
	return pid;
}

/*
 * Starts redis-sentinel on port, monitoring name at mport with quorum and
 * down-after-milliseconds down_ms.
 */
static pid_t
spawn_sentinel(int port, const char *name, int mport, int quorum,
    int down_ms, const char *tag)
{
	char		 conf[300], log[300];
	const char	*argv[3];
	FILE		*f;
	pid_t		 pid;

	snprintf(conf, sizeof(conf), "%s/%s.conf", env.dir, tag);
	snprintf(log, sizeof(log), "%s/%s.log", env.dir, tag);
	ck_assert_ptr_nonnull(f = fopen(conf, "w"));
	fprintf(f, "port %d\nbind 127.0.0.1\ndir %s\n"
	    "sentinel monitor %s 127.0.0.1 %d %d\n"
	    "sentinel down-after-milliseconds %s %d\n"
	    "sentinel failover-timeout %s 10000\n", port, env.dir, name,
	    mport, quorum, name, down_ms, name);
	fclose(f);
	argv[0] = "redis-sentinel";
	argv[1] = conf;
	argv[2] = NULL;
	pid = keep(h_spawn((char *const *)argv, log));
	ck_assert_msg(h_wait_ping(port, 10000) == 0, "redis-sentinel on %d did "
	    "not start", port);
	return pid;
}

/*
 * A master, its replica and n sentinels with quorum, on free ports (the
 * ports already in t are kept if not 0: a test may choose them first).
 */
static void
topo_up(struct topo *t, int n, int quorum)
{
	char	tag[32];
	int	i;

	if (t->master == 0)
		t->master = h_free_port();
	spawn_redis(t->master, 0, "master");
	if (t->replica == 0)
		t->replica = h_free_port();
	spawn_redis(t->replica, t->master, "replica");
	t->nsentinels = n;
	for (i = 0; i < n; i++) {
		if (t->sentinel[i] == 0)
			t->sentinel[i] = h_free_port();
		snprintf(tag, sizeof(tag), "sentinel%d", i + 1);
		spawn_sentinel(t->sentinel[i], MASTER, t->master, quorum, 1000,
		    tag);
	}
}

/*
 * The length of the array that command (argv[0], a, b) answers on port,
 * or -1 if the reply is not an array.
 */
static int
array_len(int port, const char *a, const char *b, const char *c)
{
	struct h_conn	*conn;
	char		*r;
	int		 n = -1;

	if ((conn = h_connect(port)) == NULL)
		return -1;
	h_command(conn, a, b, c, NULL);
	if ((r = h_reply(conn, NULL, 1000)) != NULL && r[0] == '*')
		n = atoi(r + 1);
	free(r);
	h_close(conn);
	return n;
}

/*
 * Waits until every sentinel knows the others and the replica, and the
 * replica is in sync: what a failover needs. 0, or -1 after ms.
 */
static int
wait_sentinels_ready(const struct topo *t, int ms)
{
	long long	 deadline = h_now_ms() + ms;
	long long	 link;
	int		 i, ready = 0;

	while (!ready && h_now_ms() < deadline) {
		ready = 1;
		for (i = 0; ready && i < t->nsentinels; i++)
			ready = array_len(t->sentinel[i], "SENTINEL",
			    "sentinels", MASTER) == t->nsentinels - 1 &&
			    array_len(t->sentinel[i], "SENTINEL", "replicas",
			    MASTER) == 1;
		link = h_info_field(t->replica, "replication",
		    "master_last_io_seconds_ago", 500);
		ready = ready && link >= 0;
		if (!ready)
			usleep(100000);
	}
	return ready ? 0 : -1;
}

/* "127.0.0.1:p1", "127.0.0.1:p2", ... for n ports (static buffer). */
static char *
nodes_of(const int *ports, int n)
{
	static char	buf[512];
	size_t		len = 0;
	int		i;

	buf[0] = '\0';
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len,
		    "%s\"127.0.0.1:%d\"", i > 0 ? ", " : "", ports[i]);
	return buf;
}

/*
 * Starts pubsubd (tag "p") following MASTER through the sentinels nodes
 * (a libconfig list's inside), with redis_extra inside its redis group.
 * Returns its pid; *portp is its port.
 */
static int
pubsubd_up(const char *nodes, const char *redis_extra, int *portp)
{
	return pubsubd_up_with(nodes, redis_extra, NULL, portp);
}

/* The same, with extra at the top level of the file. */
static int
pubsubd_up_with(const char *nodes, const char *redis_extra,
    const char *extra, int *portp)
{
	char	text[2048];
	int	port = h_free_port(), i;

	snprintf(text, sizeof(text), "listen = ( { host = \"127.0.0.1\"; "
	    "port = %d; } );\nredis = {\n  %s\n  sentinel = {\n"
	    "    master = \"" MASTER "\";\n    nodes = ( %s );\n  };\n};\n"
	    "log = { level = \"info\"; };\n%s\n", port,
	    redis_extra != NULL ? redis_extra : "", nodes,
	    extra != NULL ? extra : "");
	for (i = 0; i < MAX_PIDS && pubsubds[i] != 0; i++)
		;
	ck_assert_int_lt(i, MAX_PIDS);
	pubsubds[i] = h_spawn_pubsubd(&env, "p", text, NULL);
	ck_assert_msg(h_wait_ping(port, 10000) == 0, "pubsubd did not start");
	*portp = port;
	return pubsubds[i];
}

/* Waits until INFO upstream's field is want; 1, or 0 after ms. */
static int
wait_info(int port, const char *field, long long want, int ms)
{
	long long	deadline = h_now_ms() + ms;

	while (h_info_field(port, "upstream", field, 1000) != want)
		if (h_now_ms() >= deadline)
			return 0;
		else
			usleep(20000);
	return 1;
}

/* pubsubd's log. */
static void
log_path(char *buf, size_t len, const char *tag)
{
	snprintf(buf, len, "%s/pubsubd-%s.log", env.dir, tag);
}

/* Waits until pubsubd's log holds needle; 1, or 0 after ms. */
static int
wait_log(const char *tag, const char *needle, int ms)
{
	long long	deadline = h_now_ms() + ms;
	char		path[300];

	log_path(path, sizeof(path), tag);
	while (!h_file_has(path, needle))
		if (h_now_ms() >= deadline)
			return 0;
		else
			usleep(20000);
	return 1;
}

/*
 * PUBLISHes channel payload on Redis at port every 20 ms until someone
 * receives it (the new master, once pubsubd has subscribed there); the
 * receivers, or -1 if nobody did within ms.
 */
static long long
publish_until(int port, const char *channel, const char *payload, int ms)
{
	long long	 deadline = h_now_ms() + ms, n = -1;
	struct h_conn	*r = NULL;

	while (n < 1 && h_now_ms() < deadline) {
		if (r == NULL && (r = h_connect(port)) == NULL) {
			usleep(20000);
			continue;
		}
		if ((n = h_publish(r, channel, payload)) < 0) {
			h_close(r);
			r = NULL;
		}
		if (n < 1)
			usleep(20000);
	}
	h_close(r);
	return n;
}

/* Subscribes c[0] to channel "ch", c[1] to "p*", c[2] to shard "sh". */
static void
subscribe3(int port, struct h_conn **c)
{
	int	i;

	for (i = 0; i < 3; i++)
		ck_assert_ptr_nonnull(c[i] = h_connect(port));
	h_command(c[0], "SUBSCRIBE", "ch", NULL);
	ck_assert(h_expect_free(c[0], h_frame_confirm("subscribe", "ch", 1)));
	h_command(c[1], "PSUBSCRIBE", "p*", NULL);
	ck_assert(h_expect_free(c[1], h_frame_confirm("psubscribe", "p*", 1)));
	h_command(c[2], "SSUBSCRIBE", "sh", NULL);
	ck_assert(h_expect_free(c[2], h_frame_confirm("ssubscribe", "sh",
	    1)));
}

static void
close3(struct h_conn **c)
{
	h_close(c[0]);
	h_close(c[1]);
	h_close(c[2]);
}

/*
 * Once pubsubd is subscribed on Redis at port, the clients of subscribe3()
 * get what is published there: exactly the message frames, nothing before
 * them (no unsubscribe, no error: the failover is invisible to them).
 */
static void
expect_flowing(int port, struct h_conn **c, const char *payload)
{
	struct h_conn	*r;
	char		 frame[256];

	ck_assert_msg(publish_until(port, "ch", payload, 20000) == 1,
	    "pubsubd never subscribed \"ch\" on redis at %d", port);
	ck_assert(h_expect_free(c[0], h_frame_message("ch", payload)));
	ck_assert_ptr_nonnull(r = h_connect(port));
	ck_assert_int_eq(h_publish(r, "pa", payload), 1);
	snprintf(frame, sizeof(frame), "*4\r\n$8\r\npmessage\r\n$2\r\np*\r\n"
	    "$2\r\npa\r\n$%zu\r\n%s\r\n", strlen(payload), payload);
	ck_assert(h_expect(c[1], frame));
	h_command(r, "SPUBLISH", "sh", payload, NULL);
	ck_assert(h_expect(r, ":1\r\n"));
	snprintf(frame, sizeof(frame), "*3\r\n$8\r\nsmessage\r\n$2\r\nsh\r\n"
	    "$%zu\r\n%s\r\n", strlen(payload), payload);
	ck_assert(h_expect(c[2], frame));
	h_close(r);
}

/*
 * Discovery: the nodes are, in order, a dead port, a plain Redis (no
 * SENTINEL command), a sentinel that monitors another name, a stale
 * sentinel that names the replica, then the real one. Each is passed by
 * for the reason logged, and the real master is found and served.
 */
START_TEST(test_sentinel_discovery)
{
	struct topo	 t = { 0 };
	struct h_conn	*c[3];
	int		 ports[5], port, plain;
	char		 path[300], text[2048], *info;
	FILE		*f;
	pid_t		 pid;

	topo_up(&t, 1, 1);
	ports[0] = h_free_port();
	ports[1] = plain = h_free_port();
	spawn_redis(plain, 0, "plain");
	ports[2] = h_free_port();
	spawn_sentinel(ports[2], "other", t.master, 1, 60000, "other");
	ports[3] = h_free_port();
	spawn_sentinel(ports[3], MASTER, t.replica, 1, 60000, "stale");
	ports[4] = t.sentinel[0];
	pid = pubsubd_up(nodes_of(ports, 5), NULL, &port);

	ck_assert(wait_info(port, "upstream_connected", 1, 10000));
	ck_assert_int_eq(h_info_field(port, "upstream", "upstream_port",
	    1000), t.master);
	ck_assert_int_eq(h_info_field(port, "upstream", "upstream_switches",
	    1000), 0);
	ck_assert(wait_log("p", "master '" MASTER "' is at 127.0.0.1:", 1000));
	ck_assert(wait_log("p", "Connection refused", 1000));
	ck_assert(wait_log("p", "unknown command", 1000));
	ck_assert(wait_log("p", "it monitors no such master", 1000));
	ck_assert(wait_log("p", "ROLE says slave, not master", 1000));
	ck_assert_ptr_nonnull(info = h_info_text(port, "upstream", 1000));
	ck_assert_ptr_nonnull(strstr(info, "upstream_mode:sentinel\r\n"));
	free(info);

	subscribe3(port, c);
	expect_flowing(t.master, c, "hello");

	/* A reload may not change the sentinels: refused, nothing moves. */
	snprintf(text, sizeof(text), "listen = ( { host = \"127.0.0.1\"; "
	    "port = %d; } );\nredis = { sentinel = { master = \"other\"; "
	    "nodes = ( \"127.0.0.1:%d\" ); }; };\n", port, ports[2]);
	snprintf(path, sizeof(path), "%s/pubsubd-p.conf", env.dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	kill(pid, SIGHUP);
	ck_assert(wait_log("p", "'redis.sentinel' (or its absence) cannot "
	    "change on a reload", 5000));
	expect_flowing(t.master, c, "after the reload");
	close3(c);
}
END_TEST

/*
 * A failover of the master (kill -9, or SIGSTOP: alive but frozen, its
 * connections still open): pubsubd moves to the replica Sentinel promotes,
 * and its clients, never disconnected, keep every subscription. A
 * passthrough client's commands go to the new master; one whose
 * connection held state (a WATCH) is closed, since that state is gone.
 */
static void
failover_case(int sig)
{
	struct topo	 t = { 0 };
	struct h_conn	*c[3], *pt, *watch;
	char		*role;
	int		 port;

	topo_up(&t, 3, 2);
	pubsubd_up_with(nodes_of(t.sentinel, 3), NULL, "passthrough = true;",
	    &port);
	ck_assert(wait_info(port, "upstream_connected", 1, 10000));
	ck_assert_int_eq(h_info_field(port, "upstream", "upstream_port",
	    1000), t.master);
	subscribe3(port, c);
	expect_flowing(t.master, c, "before");
	ck_assert_ptr_nonnull(pt = h_connect(port));
	h_command(pt, "SET", "k", "before", NULL);
	ck_assert(h_expect(pt, "+OK\r\n"));
	ck_assert_ptr_nonnull(watch = h_connect(port));
	h_command(watch, "WATCH", "k", NULL);
	ck_assert(h_expect(watch, "+OK\r\n"));
	ck_assert_msg(wait_sentinels_ready(&t, 20000) == 0, "the sentinels "
	    "never came to know each other and the replica");

	kill(others[0], sig);	/* the master */
	expect_flowing(t.replica, c, "after");
	/* On the new master: a replica would say READONLY. */
	h_command(pt, "SET", "k", "after", NULL);
	ck_assert(h_expect(pt, "+OK\r\n"));
	h_command(pt, "ROLE", NULL);
	ck_assert_ptr_nonnull(role = h_reply(pt, NULL, 5000));
	ck_assert_msg(strncmp(role, "*3\r\n$6\r\nmaster\r\n", 16) == 0,
	    "ROLE: %s", role);
	free(role);
	ck_assert(h_closed(watch, 5000));
	ck_assert_int_eq(h_info_field(port, "upstream", "upstream_port",
	    1000), t.replica);
	ck_assert_int_eq(h_info_field(port, "upstream", "upstream_switches",
	    1000), 1);
	ck_assert(wait_log("p", "+switch-master '" MASTER "'", 1000));
	ck_assert(wait_log("p", "moved from 127.0.0.1:", 1000));
	ck_assert_int_eq(h_info_field(port, "clients", "connected_clients",
	    1000), 5);
	h_close(watch);
	h_close(pt);
	close3(c);
}

START_TEST(test_sentinel_failover_kill)
{
	failover_case(SIGKILL);
}
END_TEST

START_TEST(test_sentinel_failover_sigstop)
{
	failover_case(SIGSTOP);
}
END_TEST

/*
 * The watched sentinel dies: the next one is watched, and a failover it
 * announces is followed. Then every sentinel dies: pubsubd stays up on
 * the master it knows, messages still flow, and it says why it cannot ask.
 */
START_TEST(test_sentinel_down)
{
	struct topo	 t = { 0 };
	struct h_conn	*c[3], *s;
	int		 port, i;

	topo_up(&t, 3, 2);
	pubsubd_up(nodes_of(t.sentinel, 3), "backoff_max = 500;", &port);
	ck_assert(wait_info(port, "upstream_connected", 1, 10000));
	subscribe3(port, c);
	ck_assert_msg(wait_sentinels_ready(&t, 20000) == 0, "the sentinels "
	    "never came to know each other and the replica");

	h_kill(others[2], 0);	/* the first sentinel, watched */
	others[2] = 0;
	ck_assert(wait_log("p", "lost the watch on 127.0.0.1:", 5000));
	/* A planned failover, announced on the sentinels left. */
	usleep(1000000);	/* the next watch: after backoff_min */
	ck_assert_ptr_nonnull(s = h_connect(t.sentinel[1]));
	h_command(s, "SENTINEL", "FAILOVER", MASTER, NULL);
	ck_assert(h_expect(s, "+OK\r\n"));
	h_close(s);
	expect_flowing(t.replica, c, "after the failover");
	ck_assert(wait_log("p", "+switch-master '" MASTER "'", 1000));
	ck_assert_int_eq(h_info_field(port, "upstream", "upstream_switches",
	    1000), 1);

	for (i = 3; i < 5; i++) {
		h_kill(others[i], 0);
		others[i] = 0;
	}
	ck_assert(wait_log("p", "no master '" MASTER "' confirmed by any of "
	    "3 sentinels", 10000));
	ck_assert_int_eq(h_info_field(port, "upstream", "upstream_connected",
	    1000), 1);
	expect_flowing(t.replica, c, "no sentinel left");
	close3(c);
}
END_TEST

/*
 * Just after a +switch-master, a sentinel names the old master, and the
 * old master says master (as a sentinel that has not heard of the switch
 * yet does, before the old master is turned into a replica): pubsubd
 * stays on the announced master while that one says master. Once the
 * hold (UPSTREAM_SENTINEL_HOLD_MS) is over, the sentinels are believed
 * again, and pubsubd moves.
 */
START_TEST(test_sentinel_stale_answer)
{
	struct topo	 t = { 0 };
	struct h_conn	*c[3], *s, *r;
	char		 port_s[16], moved[128];
	int		 port;

	topo_up(&t, 1, 1);
	pubsubd_up(nodes_of(t.sentinel, 1), "backoff_max = 500;", &port);
	ck_assert(wait_info(port, "upstream_connected", 1, 10000));
	subscribe3(port, c);
	ck_assert_msg(wait_sentinels_ready(&t, 20000) == 0, "the sentinel "
	    "never came to know the replica");
	ck_assert_ptr_nonnull(s = h_connect(t.sentinel[0]));
	h_command(s, "SENTINEL", "FAILOVER", MASTER, NULL);
	ck_assert(h_expect(s, "+OK\r\n"));
	h_close(s);
	expect_flowing(t.replica, c, "after the failover");
	ck_assert(wait_log("p", "+switch-master '" MASTER "'", 1000));

	/*
	 * The sentinel names the old master, a master (still, or again: the
	 * sentinel forgets it first, so that it does not turn it into a
	 * replica meanwhile).
	 */
	ck_assert_ptr_nonnull(s = h_connect(t.sentinel[0]));
	h_command(s, "SENTINEL", "REMOVE", MASTER, NULL);
	ck_assert(h_expect(s, "+OK\r\n"));
	ck_assert_ptr_nonnull(r = h_connect(t.master));
	h_command(r, "REPLICAOF", "NO", "ONE", NULL);
	ck_assert(h_expect(r, "+OK\r\n"));
	h_close(r);
	snprintf(port_s, sizeof(port_s), "%d", t.master);
	h_command(s, "SENTINEL", "MONITOR", MASTER, "127.0.0.1", port_s, "1",
	    NULL);
	ck_assert(h_expect(s, "+OK\r\n"));
	h_close(s);
	ck_assert(wait_log("p", "still says master: staying", 8000));
	ck_assert_int_eq(h_info_field(port, "upstream", "upstream_port",
	    1000), t.replica);
	expect_flowing(t.replica, c, "stayed on the announced master");

	/* Past the hold, the sentinel is believed. */
	snprintf(moved, sizeof(moved), "moved from 127.0.0.1:%d to "
	    "127.0.0.1:%d (switch 2)", t.replica, t.master);
	ck_assert(wait_log("p", moved, 20000));
	expect_flowing(t.master, c, "the sentinel believed again");
	close3(c);
}
END_TEST

/*
 * No sentinel answers at first: pubsubd serves what it can (PING, a
 * subscription held until Redis confirms it, a clear error for what needs
 * Redis), retries, and once the sentinels are up finds the master, and
 * the held subscription is confirmed.
 */
START_TEST(test_sentinel_none_yet)
{
	struct topo	 t = { 0 };
	struct h_conn	*c, *p;
	char		*r;
	long long	 started, down;
	int		 port;

	t.sentinel[0] = h_free_port();
	t.sentinel[1] = h_free_port();
	started = h_now_ms();
	pubsubd_up(nodes_of(t.sentinel, 2), "backoff_max = 300;", &port);
	ck_assert(wait_log("p", "no master '" MASTER "' confirmed by any of 2 "
	    "sentinels", 5000));
	ck_assert_int_eq(h_info_field(port, "upstream", "upstream_connected",
	    1000), 0);
	ck_assert_int_eq(h_info_field(port, "upstream", "upstream_port",
	    1000), 0);
	/* Down since pubsubd started, not since the clock's epoch. */
	down = h_info_field(port, "upstream", "upstream_down_since_ms", 1000);
	ck_assert_msg(down >= 0 && down <= h_now_ms() - started, "down for "
	    "%lld ms, started %lld ms ago", down, h_now_ms() - started);
	ck_assert_ptr_nonnull(p = h_connect(port));
	h_command(p, "PUBLISH", "ch", "x", NULL);
	ck_assert_ptr_nonnull(r = h_reply(p, NULL, 5000));
	ck_assert_msg(strncmp(r, "-ERR ", 5) == 0 &&
	    strstr(r, "no redis master known yet") != NULL, "got %s", r);
	free(r);
	ck_assert_ptr_nonnull(c = h_connect(port));
	h_command(c, "SUBSCRIBE", "ch", NULL);
	ck_assert_ptr_null(h_reply(c, NULL, 300));	/* held */

	/* The sentinel comes up on the second port listed. */
	t.sentinel[0] = t.sentinel[1];
	topo_up(&t, 1, 1);
	ck_assert(h_expect_free(c, h_frame_confirm("subscribe", "ch", 1)));
	ck_assert_int_eq(publish_until(t.master, "ch", "found", 5000), 1);
	ck_assert(h_expect_free(c, h_frame_message("ch", "found")));
	ck_assert_int_eq(h_info_field(port, "upstream", "upstream_port",
	    1000), t.master);
	h_close(c);
	h_close(p);
}
END_TEST

/* One test case per test: each its own directory and servers. */
static void
add(Suite *s, const char *name, const TTest *t)
{
	TCase	*tc = tcase_create(name);

	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, dir_make, dir_check);
	tcase_add_checked_fixture(tc, test_setup, test_teardown);
	tcase_add_test(tc, t);
	suite_add_tcase(s, tc);
}

static Suite *
sentinel_suite(void)
{
	Suite	*s = suite_create("sentinel");

	add(s, "discovery", test_sentinel_discovery);
	add(s, "failover_kill", test_sentinel_failover_kill);
	add(s, "failover_sigstop", test_sentinel_failover_sigstop);
	add(s, "down", test_sentinel_down);
	add(s, "stale_answer", test_sentinel_stale_answer);
	add(s, "none_yet", test_sentinel_none_yet);
	return s;
}

int
main(void)
{
	if (system("redis-sentinel --version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "sentinel: redis-sentinel is missing (Debian's "
		    "redis-sentinel package; scripts/test installs it)\n");
		return 99;
	}
	return check_run(sentinel_suite());
}
