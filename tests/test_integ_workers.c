/*
 * test_integ_workers.c: `workers = 2` against a real redis-server: the
 * supervisor and its worker processes, fan-out through both, a worker's
 * death and restart, SIGHUP (good and bad files), SIGTERM, and workers
 * that never outlive a killed supervisor.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <check.h>

#include "check_run.h"
#include "harness.h"

#define NCLIENTS	40
#define NMSGS		5

static struct h_env	env;

static int	workers_of(pid_t, pid_t *, int);
static int	alive(pid_t);
static int	count_in(const char *, const char *);
static const char *log_tail(const char *);
static int	wait_for(const char *, const char *, int, int);
static void	log_path(char *, size_t);
static void	subscribe_all(struct h_conn **, int, const char *);
static void	receive_all(struct h_conn **, int, const char *, const char *);

/* The pids of the children of ppid (scanning /proc); how many, up to max. */
static int
workers_of(pid_t ppid, pid_t *pids, int max)
{
	DIR		*d;
	struct dirent	*e;
	char		 path[300], buf[512], *p;
	FILE		*f;
	int		 n = 0, pp;
	char		 state;

	if ((d = opendir("/proc")) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL && n < max) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		p = fgets(buf, sizeof(buf), f);
		fclose(f);
		/* "pid (comm) S ppid": comm may hold spaces; skip past ')'. */
		if (p == NULL || (p = strrchr(buf, ')')) == NULL ||
		    sscanf(p + 1, " %c %d", &state, &pp) != 2)
			continue;
		if (pp == ppid && state != 'Z')
			pids[n++] = atoi(e->d_name);
	}
	closedir(d);
	return n;
}

/* Whether pid runs (a zombie does not). */
static int
alive(pid_t pid)
{
	char	path[64], buf[512], *p, state = 'Z';
	FILE	*f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (p != NULL && (p = strrchr(buf, ')')) != NULL)
		(void)sscanf(p + 1, " %c", &state);
	return state != 'Z';
}

/* How many times needle is in the file at path. */
static int
count_in(const char *path, const char *needle)
{
	FILE	*f;
	char	 line[2048];
	int	 n = 0;

	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

/*
 * The last lines of the file at path (at most about 3 kB), for a failure's
 * message; a static buffer.
 */
static const char *
log_tail(const char *path)
{
	static char	 buf[3072];
	FILE		*f;
	size_t		 n;

	buf[0] = '\0';
	if ((f = fopen(path, "r")) == NULL)
		return buf;
	if (fseek(f, -(long)(sizeof(buf) - 1), SEEK_END) == -1)
		rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Waits up to ms until needle is in path at least n times; 0 or -1. */
static int
wait_for(const char *path, const char *needle, int n, int ms)
{
	long long	deadline = h_now_ms() + ms;

	while (count_in(path, needle) < n) {
		if (h_now_ms() >= deadline)
			return -1;
		usleep(20000);
	}
	return 0;
}

/* The supervisor's (and its workers') log. */
static void
log_path(char *buf, size_t len)
{
	snprintf(buf, len, "%s/pubsubd.log", env.dir);
}

/* Connects n clients and subscribes each to channel. */
static void
subscribe_all(struct h_conn **c, int n, const char *channel)
{
	int	i;

	for (i = 0; i < n; i++) {
		c[i] = h_connect_within(env.pubsubd_port, 5000);
		ck_assert_ptr_nonnull(c[i]);
		ck_assert_int_eq(h_command(c[i], "SUBSCRIBE", channel, NULL),
		    0);
		ck_assert(h_expect_free(c[i], h_frame_confirm(
		    "subscribe", channel, 1)));
	}
}

/* Each of the n clients receives payload on channel next. */
static void
receive_all(struct h_conn **c, int n, const char *channel,
    const char *payload)
{
	int	i;

	for (i = 0; i < n; i++)
		ck_assert_msg(h_expect_free(c[i], h_frame_message(channel,
		    payload)), "client %d missed %s", i, payload);
}

/*
 * Starts Redis and pubsubd with two workers, and waits until both are
 * ready: the first answers the port before the second may be (a test that
 * killed or stopped one then would see a failed start, not a restart).
 */
static void
setup(void)
{
	char	log[320];

	memset(&env, 0, sizeof(env));
	ck_assert_int_eq(h_start_with(&env, NULL, "workers = 2;"), 0);
	log_path(log, sizeof(log));
	ck_assert_msg(wait_for(log, "all 2 workers are ready", 1, 10000) == 0,
	    "the workers were not ready; the log ends:\n%s", log_tail(log));
}

/* Stops what runs; a test that stopped pubsubd itself leaves Redis. */
static void
teardown(void)
{
	char	cmd[300];

	if (env.pubsubd_pid > 0) {
		h_stop(&env);
		return;
	}
	h_kill(env.redis_pid, 5000);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", env.dir);
	if (env.dir[0] != '\0' && system(cmd) != 0)
		fprintf(stderr, "'%s' failed\n", cmd);
}

/*
 * 40 clients, spread by the kernel over 2 workers, each get every message;
 * Redis sees one subscriber connection per worker for the channel; the
 * process tree is the supervisor and 2 workers, and INFO says who answered.
 */
START_TEST(fanout_through_two_workers)
{
	struct h_conn	*c[NCLIENTS], *r;
	pid_t		 w[8];
	char		 msg[32];
	int		 i, seen[2] = { 0, 0 };
	long long	 k;

	ck_assert_int_eq(workers_of(env.pubsubd_pid, w, 8), 2);
	for (i = 0; i < NCLIENTS; i++) {
		c[i] = h_connect_within(env.pubsubd_port, 5000);
		ck_assert_ptr_nonnull(c[i]);
		ck_assert_int_eq(h_info_on(c[i], "server", "pubsubd_workers",
		    H_TIMEOUT_MS), 2);
		k = h_info_on(c[i], "server", "pubsubd_worker", H_TIMEOUT_MS);
		ck_assert(k == 0 || k == 1);
		seen[k]++;
		ck_assert_int_eq(h_command(c[i], "SUBSCRIBE", "news", NULL), 0);
		ck_assert(h_expect_free(c[i], h_frame_confirm(
		    "subscribe", "news", 1)));
	}
	ck_assert_msg(seen[0] > 0 && seen[1] > 0, "worker 0: %d clients, "
	    "worker 1: %d", seen[0], seen[1]);
	r = h_connect(env.redis_port);
	ck_assert_ptr_nonnull(r);
	/* One upstream subscription per worker, whatever its clients. */
	ck_assert_int_eq(h_wait_numsub(r, "news", 2, 5000), 2);
	for (i = 0; i < NMSGS; i++) {
		snprintf(msg, sizeof(msg), "m%d", i);
		ck_assert_int_eq(h_publish(r, "news", msg), 2);
	}
	for (i = 0; i < NMSGS; i++) {
		snprintf(msg, sizeof(msg), "m%d", i);
		receive_all(c, NCLIENTS, "news", msg);
	}
	for (i = 0; i < NCLIENTS; i++)
		h_close(c[i]);
	h_close(r);
}
END_TEST

/*
 * SIGKILL one worker: the supervisor logs it and starts it again; the
 * other worker's clients keep receiving; new clients are served.
 */
START_TEST(killed_worker_is_restarted)
{
	struct h_conn	*c[NCLIENTS], *fresh[16], *r;
	int		 on[NCLIENTS], i, n, nb = 0;
	pid_t		 w[8], victim, w2[8];
	char		 log[320], want[128];
	long long	 deadline;

	log_path(log, sizeof(log));
	ck_assert_int_eq(workers_of(env.pubsubd_pid, w, 8), 2);
	for (i = 0; i < NCLIENTS; i++) {
		c[i] = h_connect_within(env.pubsubd_port, 5000);
		ck_assert_ptr_nonnull(c[i]);
		on[i] = (int)h_info_on(c[i], "server", "process_id",
		    H_TIMEOUT_MS);
		ck_assert_int_eq(h_command(c[i], "SUBSCRIBE", "ch", NULL), 0);
		ck_assert(h_expect_free(c[i], h_frame_confirm(
		    "subscribe", "ch", 1)));
	}
	victim = w[0];
	ck_assert_int_eq(kill(victim, SIGKILL), 0);
	snprintf(want, sizeof(want), "(pid %d) was killed by signal 9",
	    (int)victim);
	ck_assert_int_eq(wait_for(log, want, 1, 5000), 0);
	ck_assert_int_eq(wait_for(log, "restarting it in 1000 ms", 1, 1000),
	    0);
	r = h_connect(env.redis_port);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_ge(h_publish(r, "ch", "after"), 1);
	for (i = 0; i < NCLIENTS; i++) {
		if (on[i] == victim)
			ck_assert_int_eq(h_closed(c[i], H_TIMEOUT_MS), 1);
		else {
			nb++;
			ck_assert(h_expect_free(c[i], h_frame_message(
			    "ch", "after")));
		}
	}
	ck_assert_int_gt(nb, 0);
	/* Started again (after its 1 s backoff), then ready. */
	deadline = h_now_ms() + 10000;
	while ((n = workers_of(env.pubsubd_pid, w2, 8)) != 2 &&
	    h_now_ms() < deadline)
		usleep(50000);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(wait_for(log, "is ready", 3, 10000), 0);
	subscribe_all(fresh, 16, "ch");
	/* 16 new clients reach the new worker but once in 2^16. */
	ck_assert_int_eq(h_wait_numsub(r, "ch", 2, 5000), 2);
	ck_assert_int_eq(h_publish(r, "ch", "again"), 2);
	receive_all(fresh, 16, "ch", "again");
	for (i = 0; i < NCLIENTS; i++)
		if (on[i] != victim)
			ck_assert(h_expect_free(c[i], h_frame_message(
			    "ch", "again")));
	for (i = 0; i < NCLIENTS; i++)
		h_close(c[i]);
	for (i = 0; i < 16; i++)
		h_close(fresh[i]);
	h_close(r);
}
END_TEST

/*
 * SIGHUP with a new log level reaches both workers; a bad file is refused
 * by the supervisor and reaches none: nothing changes.
 */
START_TEST(reload_reaches_every_worker)
{
	char		 log[320];
	FILE		*f;
	struct h_conn	*c;
	int		 i;

	log_path(log, sizeof(log));
	ck_assert_int_eq(wait_for(log, "all 2 workers are ready", 1, 10000),
	    0);
	ck_assert_int_eq(count_in(log, "[debug]"), 0);
	ck_assert_ptr_nonnull(f = fopen(env.conf, "a"));
	fprintf(f, "log = { level = \"debug\"; };\n");
	fclose(f);
	/* log twice: pubsubd refuses the file (libconfig keeps the last). */
	ck_assert_int_eq(kill(env.pubsubd_pid, SIGHUP), 0);
	ck_assert_int_eq(wait_for(log, "(not passed to the workers)", 1,
	    5000), 0);
	usleep(300000);
	ck_assert_int_eq(count_in(log, "configuration reloaded"), 0);
	ck_assert_ptr_nonnull(f = fopen(env.conf, "w"));
	fprintf(f, "workers = 2;\nlisten = ( { host = \"127.0.0.1\"; "
	    "port = %d; } );\nredis = { port = %d; };\n"
	    "log = { level = \"debug\"; };\n", env.pubsubd_port,
	    env.redis_port);
	fclose(f);
	ck_assert_int_eq(kill(env.pubsubd_pid, SIGHUP), 0);
	ck_assert_int_eq(wait_for(log, "worker 0: configuration reloaded", 1,
	    5000), 0);
	ck_assert_int_eq(wait_for(log, "worker 1: configuration reloaded", 1,
	    5000), 0);
	/*
	 * Both now log at debug: a new client is logged by its worker (16
	 * reach both but once in 2^15).
	 */
	for (i = 0; i < 16; i++) {
		ck_assert_ptr_nonnull(c = h_connect_within(env.pubsubd_port,
		    5000));
		ck_assert_int_eq(h_command(c, "PING", NULL), 0);
		ck_assert(h_expect(c, "+PONG\r\n"));
		h_close(c);
	}
	ck_assert_int_eq(wait_for(log, "[debug] worker 0: client", 1, 5000),
	    0);
	ck_assert_int_eq(wait_for(log, "[debug] worker 1: client", 1, 5000),
	    0);
}
END_TEST

/* SIGTERM: the supervisor exits 0 once its workers stopped; none remains. */
START_TEST(term_stops_supervisor_and_workers)
{
	pid_t	w[8];
	int	n, i, status;
	char	log[320];

	ck_assert_int_eq(n = workers_of(env.pubsubd_pid, w, 8), 2);
	status = h_kill(env.pubsubd_pid, 10000);
	env.pubsubd_pid = 0;
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status 0x%x", status);
	for (i = 0; i < n; i++)
		ck_assert_msg(!alive(w[i]), "worker %d outlived", (int)w[i]);
	/* Each worker exited 0 (under ASan: without a leak). */
	log_path(log, sizeof(log));
	ck_assert_msg(count_in(log, "exited with status") == 0 &&
	    count_in(log, ") stopped") == 2, "not two clean stops; the log "
	    "ends:\n%s", log_tail(log));
}
END_TEST

/* A supervisor killed outright takes its workers with it. */
START_TEST(workers_die_with_a_killed_supervisor)
{
	pid_t		w[8];
	int		n, i, left, status;
	long long	deadline;

	ck_assert_int_eq(n = workers_of(env.pubsubd_pid, w, 8), 2);
	ck_assert_int_eq(kill(env.pubsubd_pid, SIGKILL), 0);
	waitpid(env.pubsubd_pid, &status, 0);
	env.pubsubd_pid = 0;
	deadline = h_now_ms() + 10000;
	do {
		for (i = 0, left = 0; i < n; i++)
			left += alive(w[i]);
		if (left > 0)
			usleep(50000);
	} while (left > 0 && h_now_ms() < deadline);
	ck_assert_int_eq(left, 0);
}
END_TEST

/* Adds test fn as a case of its own, with the fixture and a timeout. */
static void
add(Suite *s, const char *name, const TTest *fn)
{
	TCase	*tc = tcase_create(name);

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, fn);
	suite_add_tcase(s, tc);
}

static Suite *
workers_suite(void)
{
	Suite	*s = suite_create("integ_workers");

	add(s, "fanout", fanout_through_two_workers);
	add(s, "restart", killed_worker_is_restarted);
	add(s, "reload", reload_reaches_every_worker);
	add(s, "term", term_stops_supervisor_and_workers);
	add(s, "parent_killed", workers_die_with_a_killed_supervisor);
	return s;
}

int
main(void)
{
	return check_run(workers_suite());
}
