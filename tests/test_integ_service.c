/*
 * test_integ_service.c: pubsubd run as a real service, end to end: clients
 * on Unix sockets (file mode, stale and live socket files, CLIENT LIST as
 * Redis shows such clients, reloads that add and remove them), Redis over a
 * Unix socket, Redis with a password and with an ACL user (every kind of
 * connection pubsubd makes must log in: subscriber, shard, command,
 * passthrough, one-shot raw), a wrong password that a reload fixes, the
 * pid file, and logging to syslog; with the metrics endpoint beside a Unix
 * listener, and INFO naming Redis' socket.
 *
 * Each test starts its own redis-server and pubsubd in a directory of its
 * own, made by Check's parent process, which reports (and keeps) what is
 * left there when a test failed. Every wait has a deadline and every loop
 * a bound; clients are raw sockets and hiredis' own synchronous client.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <check.h>
#include <hiredis/hiredis.h>

#include "check_run.h"

#include "harness.h"

#define MAX_DAEMONS	4

static void	 dir_make(void);
static void	 dir_check(void);
static void	 test_setup(void);
static void	 test_teardown(void);
static void	 path_in_dir(char *, size_t, const char *);
static void	 log_path(char *, size_t, const char *);
static void	 conf_rewrite(const char *, const char *);
static pid_t	 daemon_up(const char *, const char *, const char *const *,
		    const char *, int);
static void	 daemon_stop(pid_t);
static void	 daemon_refused(const char *, const char *,
		    const char *const *, const char *);
static int	 ping_tcp(int);
static char	*ask(struct h_conn *, int, const char *const *);
static int	 count_of(const char *, const char *);
static int	 wait_gone(const char *, int);
static int	 wait_mode(const char *, int, int);
static int	 ss_backlog(const char *, const char *);
static int	 wait_backlog(const char *, const char *, int, int);
static long long wait_info(int, const char *, long long, int);
static int	 wait_log(const char *, const char *, int);
static int	 wait_metric(int, const char *, int);
static long	 read_pid(const char *);
static void	 exercise(int, const char *, const char *, struct h_conn *);
static int	 private_dev_log(char *, size_t);
static int	 syslog_find(int, const char *, const char *, int);
static void	 add(Suite *, const char *, const TTest *);
static Suite	*service_suite(void);

static struct h_env	 env;
static pid_t		 daemons[MAX_DAEMONS];	/* to stop at teardown */

/* Before each test, in Check's parent: makes the test's directory. */
static void
dir_make(void)
{
	h_dir_make(&env);
}

/*
 * After each test, in Check's parent: a directory still there means the
 * test failed (a passing one removes it): show the end of every log in it.
 */
static void
dir_check(void)
{
	h_dir_report(&env, "service");
}

/* Before each test, in its own process. */
static void
test_setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	memset(daemons, 0, sizeof(daemons));
}

/*
 * After a test that passed: stops what it left running (every pubsubd
 * must exit 0: a clean stop, no leak under the sanitizers) and removes the
 * directory.
 */
static void
test_teardown(void)
{
	ck_assert_msg(h_stop_daemons(&env, daemons, MAX_DAEMONS,
	    "service") == 0, "a pubsubd did not stop cleanly (files in %s)",
	    env.dir);
}

/* buf = env.dir/name. */
static void
path_in_dir(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", env.dir, name);
}

/* The log of the pubsubd spawned with tag. */
static void
log_path(char *buf, size_t len, const char *tag)
{
	snprintf(buf, len, "%s/pubsubd-%s.log", env.dir, tag);
}

/* Replaces the configuration of the pubsubd spawned with tag. */
static void
conf_rewrite(const char *tag, const char *text)
{
	char	 path[300], tmp[310];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/pubsubd-%s.conf", env.dir, tag);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ne(fputs(text, f), EOF);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(rename(tmp, path), 0);
}

/* Whether something on 127.0.0.1:port answers PING with +PONG. */
static int
ping_tcp(int port)
{
	struct h_conn	*c;
	char		*r;
	int		 ok = 0;

	if ((c = h_connect(port)) == NULL)
		return 0;
	if (h_sendstr(c, "PING\r\n") == 0 &&
	    (r = h_reply(c, NULL, 500)) != NULL) {
		ok = strcmp(r, "+PONG\r\n") == 0;
		free(r);
	}
	h_close(c);
	return ok;
}

/*
 * Spawns pubsubd (see h_spawn_pubsubd()) and waits until it answers PING
 * on the Unix socket sock or the TCP port (whichever is given); it is
 * stopped at teardown unless daemon_stop() stops it first.
 */
static pid_t
daemon_up(const char *tag, const char *text, const char *const *args,
    const char *sock, int port)
{
	long long	 deadline = h_now_ms() + 10000;
	char		 log[300];
	pid_t		 pid;
	int		 i, status, up = 0;

	pid = h_spawn_pubsubd(&env, tag, text, args);
	log_path(log, sizeof(log), tag);
	while (!up && h_now_ms() < deadline) {
		up = (sock != NULL && h_wait_ping_unix(sock, 100) == 0) ||
		    (port != 0 && ping_tcp(port));
		ck_assert_msg(up || waitpid(pid, &status, WNOHANG) != pid,
		    "pubsubd %s exited at start (see %s)", tag, log);
		if (!up)
			usleep(20000);
	}
	if (!up)
		h_kill(pid, 1000);
	ck_assert_msg(up, "pubsubd %s did not answer within 10 s (see %s)",
	    tag, log);
	for (i = 0; i < MAX_DAEMONS && daemons[i] != 0; i++)
		;
	ck_assert_int_lt(i, MAX_DAEMONS);
	daemons[i] = pid;
	return pid;
}

/* SIGTERM: pubsubd must exit 0. */
static void
daemon_stop(pid_t pid)
{
	int	i, status;

	for (i = 0; i < MAX_DAEMONS; i++)
		if (daemons[i] == pid)
			daemons[i] = 0;
	status = h_kill(pid, 10000);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "pubsubd ended with status 0x%x", status);
}

/* Spawns pubsubd, which must refuse to start: exit 1, saying want. */
static void
daemon_refused(const char *tag, const char *text, const char *const *args,
    const char *want)
{
	long long	deadline = h_now_ms() + 10000;
	char		log[300];
	pid_t		pid;
	int		status = 0, done = 0;

	pid = h_spawn_pubsubd(&env, tag, text, args);
	log_path(log, sizeof(log), tag);
	while (!done && h_now_ms() < deadline) {
		if (!(done = waitpid(pid, &status, WNOHANG) == pid))
			usleep(20000);
	}
	if (!done)
		h_kill(pid, 1000);
	ck_assert_msg(done, "pubsubd %s started where it must not (see %s)",
	    tag, log);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1,
	    "pubsubd %s ended with status 0x%x, not exit 1", tag, status);
	ck_assert_msg(h_file_has(log, want), "%s does not say \"%s\"", log,
	    want);
}

/* Sends argv (argc strings) on c and returns the reply (freed by caller). */
static char *
ask(struct h_conn *c, int argc, const char *const *argv)
{
	char	buf[4096];
	size_t	len;
	int	i;

	len = (size_t)snprintf(buf, sizeof(buf), "*%d\r\n", argc);
	for (i = 0; i < argc && len < sizeof(buf); i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len,
		    "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
	ck_assert_uint_lt(len, sizeof(buf));
	ck_assert_int_eq(h_send(c, buf, len), 0);
	return h_reply(c, NULL, H_TIMEOUT_MS);
}

/* How many times needle occurs in s. */
static int
count_of(const char *s, const char *needle)
{
	int	n = 0;

	while (s != NULL && (s = strstr(s, needle)) != NULL && n < 100000) {
		n++;
		s += strlen(needle);
	}
	return n;
}

/* Waits until path is gone; whether it is. */
static int
wait_gone(const char *path, int timeout_ms)
{
	long long	deadline = h_now_ms() + timeout_ms;
	struct stat	st;

	while (lstat(path, &st) == 0 && h_now_ms() < deadline)
		usleep(20000);
	return lstat(path, &st) == -1 && errno == ENOENT;
}

/* Waits until path is a socket with permissions mode; whether it is. */
static int
wait_mode(const char *path, int mode, int timeout_ms)
{
	long long	deadline = h_now_ms() + timeout_ms;
	struct stat	st;
	int		ok = 0;

	while (!ok && h_now_ms() < deadline) {
		ok = lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) &&
		    (int)(st.st_mode & 07777) == mode;
		if (!ok)
			usleep(20000);
	}
	if (!ok && lstat(path, &st) == 0)
		fprintf(stderr, "service: %s has mode %o, not %o\n", path,
		    (unsigned)(st.st_mode & 07777), (unsigned)mode);
	return ok;
}

/*
 * The backlog of a listening socket as ss(8) shows it (its Send-Q column):
 * ss with opts ("-Hltn" or "-Hlx") and the filter filter, which must match
 * one socket. Returns it, or -1.
 */
static int
ss_backlog(const char *opts, const char *filter)
{
	char	 cmd[512], line[1024], *tok, *save;
	FILE	*f;
	int	 backlog = -1, n = 0, i;

	snprintf(cmd, sizeof(cmd), "ss %s '%s' 2>/dev/null", opts, filter);
	if ((f = popen(cmd, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		/* [Netid] State Recv-Q Send-Q Local ...: two after LISTEN. */
		n++;
		i = -1;
		for (tok = strtok_r(line, " \t\n", &save); tok != NULL;
		    tok = strtok_r(NULL, " \t\n", &save)) {
			if (strcmp(tok, "LISTEN") == 0)
				i = 0;
			else if (i >= 0 && ++i == 2) {
				backlog = atoi(tok);
				break;
			}
		}
	}
	pclose(f);
	return n == 1 ? backlog : -1;
}

/* Waits until ss_backlog(opts, filter) is want; whether it became so. */
static int
wait_backlog(const char *opts, const char *filter, int want, int timeout_ms)
{
	long long	deadline = h_now_ms() + timeout_ms;
	int		v;

	while ((v = ss_backlog(opts, filter)) != want &&
	    h_now_ms() < deadline)
		usleep(20000);
	if (v != want)
		fprintf(stderr, "service: ss %s '%s': backlog %d, not %d\n",
		    opts, filter, v, want);
	return v == want;
}

/* Polls INFO upstream of pubsubd on port until field == want. */
static long long
wait_info(int port, const char *field, long long want, int timeout_ms)
{
	long long	deadline = h_now_ms() + timeout_ms, v;

	while ((v = h_info_field(port, "upstream", field, 1000)) != want &&
	    h_now_ms() < deadline)
		usleep(20000);
	return v;
}

/* Waits until the log of pubsubd tag says want; whether it does. */
static int
wait_log(const char *tag, const char *want, int timeout_ms)
{
	long long	deadline = h_now_ms() + timeout_ms;
	char		log[300];

	log_path(log, sizeof(log), tag);
	while (!h_file_has(log, want) && h_now_ms() < deadline)
		usleep(20000);
	return h_file_has(log, want);
}

/*
 * Polls GET /metrics on 127.0.0.1:port until its body has the whole line
 * want; whether it came within timeout_ms.
 */
static int
wait_metric(int port, const char *want, int timeout_ms)
{
	struct h_http_resp	 resp;
	long long		 deadline = h_now_ms() + timeout_ms;
	char			 line[256];
	int			 found = 0;

	snprintf(line, sizeof(line), "\n%s\n", want);
	while (!found && h_now_ms() < deadline) {
		if (h_http(port, "GET", "/metrics", &resp, 2000) == 0) {
			found = resp.status == 200 &&
			    strstr(resp.body, line) != NULL;
			if (!found && h_now_ms() + 50 >= deadline)
				fprintf(stderr, "service: /metrics has no "
				    "\"%s\":\n%s\n", want, resp.body);
			h_http_free(&resp);
		}
		if (!found)
			usleep(20000);
	}
	return found;
}

/* The number in a pid file; -1 if there is none. */
static long
read_pid(const char *path)
{
	FILE	*f;
	long	 pid = -1;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = -1;
	fclose(f);
	return pid;
}

/*
 * Uses every kind of connection pubsubd makes to Redis, through pubsubd on
 * port (with passthrough on): the subscriber connection (SUBSCRIBE), the
 * shard connection (SSUBSCRIBE), the command connection (PUBLISH,
 * SPUBLISH), a client's passthrough connection (SET, GET) and a one-shot
 * raw one (COMMAND DOCS). Each must work, which it only does if it reached
 * Redis and (where Redis wants it) logged in. If user is not NULL, Redis'
 * CLIENT LIST, asked on r (a connection to Redis itself), must show the
 * four lasting ones logged in as that user.
 */
static void
exercise(int port, const char *tag, const char *user, struct h_conn *r)
{
	struct h_conn	*s, *p;
	char		 ch[64], sch[64], key[64], frame[256], want[64];
	char		*rep;
	const char	*av[4];

	snprintf(ch, sizeof(ch), "%s.ch", tag);
	snprintf(sch, sizeof(sch), "%s.shard", tag);
	snprintf(key, sizeof(key), "%s.key", tag);
	s = h_connect(port);
	p = h_connect(port);
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(h_command(s, "SUBSCRIBE", ch, NULL), 0);
	ck_assert(h_expect_free(s, h_frame_confirm("subscribe", ch, 1)));
	ck_assert_int_eq(h_command(s, "SSUBSCRIBE", sch, NULL), 0);
	ck_assert(h_expect_free(s, h_frame_confirm("ssubscribe", sch, 1)));

	ck_assert_int_eq(h_command(p, "PUBLISH", ch, "one", NULL), 0);
	ck_assert(h_expect(p, ":1\r\n"));
	ck_assert(h_expect_free(s, h_frame_message(ch, "one")));
	ck_assert_int_eq(h_command(p, "SPUBLISH", sch, "two", NULL), 0);
	ck_assert(h_expect(p, ":1\r\n"));
	snprintf(frame, sizeof(frame), "*3\r\n$8\r\nsmessage\r\n$%zu\r\n%s\r\n"
	    "$3\r\ntwo\r\n", strlen(sch), sch);
	ck_assert(h_expect(s, frame));

	ck_assert_int_eq(h_command(p, "SET", key, "v", NULL), 0);
	ck_assert(h_expect(p, "+OK\r\n"));
	ck_assert_int_eq(h_command(p, "GET", key, NULL), 0);
	ck_assert(h_expect(p, "$1\r\nv\r\n"));
	ck_assert_int_eq(h_command(p, "COMMAND", "DOCS", "GET", NULL), 0);
	rep = h_reply(p, NULL, H_TIMEOUT_MS);
	ck_assert_msg(rep != NULL && strncmp(rep, "*2\r\n$3\r\nget\r\n", 13) ==
	    0, "COMMAND DOCS GET: [%.80s]", rep ? rep : "(nothing)");
	free(rep);

	if (user != NULL) {
		av[0] = "CLIENT";
		av[1] = "LIST";
		rep = ask(r, 2, av);
		ck_assert_ptr_nonnull(rep);
		snprintf(want, sizeof(want), " user=%s ", user);
		ck_assert_msg(count_of(rep, want) >= 4, "redis shows fewer "
		    "than 4 connections of user %s:\n%s", user, rep);
		free(rep);
	}
	h_close(p);
	h_close(s);
}

/*
 * 1. A Unix socket listener: the socket file has the configured mode;
 * clients on it (raw, and hiredis' redisConnectUnix) are served as TCP
 * ones are; CLIENT LIST / CLIENT INFO show them as Redis shows its own Unix
 * clients ("addr=PATH:0 laddr=PATH:0", flag U); CLIENT KILL ADDR finds
 * them, and the metrics endpoint (on beside the Unix listener) counts them
 * as killed; the file is removed when pubsubd stops.
 */
START_TEST(unix_listener_serves_clients_like_tcp_and_shows_them_as_redis)
{
	struct h_conn	*c, *u, *t, *rr;
	redisContext	*hc;
	redisReply	*hr;
	char		 sock[300], rsock[300], conf[1024], want[700];
	char		*rep;
	const char	*av[4];
	int		 port = h_free_port(), mport = h_free_port();
	pid_t		 pid;

	path_in_dir(sock, sizeof(sock), "pubsubd.sock");
	path_in_dir(rsock, sizeof(rsock), "redis.sock");
	env.redis_port = h_free_port();
	h_start_redis_argv(&env, rsock, NULL);
	snprintf(conf, sizeof(conf), "listen = ( { path = \"%s\"; mode = "
	    "\"0640\"; }, { host = \"127.0.0.1\"; port = %d; } );\n"
	    "redis = { host = \"127.0.0.1\"; port = %d; };\n"
	    "metrics = { enabled = true; port = %d; };\n", sock, port,
	    env.redis_port, mport);
	pid = daemon_up("unix", conf, NULL, sock, 0);
	ck_assert(wait_mode(sock, 0640, 1000));

	/* Subscribe and receive over the Unix socket. */
	c = h_connect_unix(sock);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(h_command(c, "SUBSCRIBE", "u.ch", NULL), 0);
	ck_assert(h_expect_free(c, h_frame_confirm("subscribe", "u.ch", 1)));
	rr = h_connect(env.redis_port);
	ck_assert_ptr_nonnull(rr);
	ck_assert_int_eq(h_publish(rr, "u.ch", "hello"), 1);
	ck_assert(h_expect_free(c, h_frame_message("u.ch", "hello")));

	/* hiredis' own client over the socket (open until the KILL). */
	hc = redisConnectUnix(sock);
	ck_assert_msg(hc != NULL && hc->err == 0, "redisConnectUnix: %s",
	    hc ? hc->errstr : "out of memory");
	hr = redisCommand(hc, "PUBLISH u.ch %s", "from-hiredis");
	ck_assert_msg(hr != NULL && hr->type == REDIS_REPLY_INTEGER &&
	    hr->integer == 1, "PUBLISH through the socket with hiredis");
	freeReplyObject(hr);
	ck_assert(h_expect_free(c, h_frame_message("u.ch", "from-hiredis")));
	hr = redisCommand(hc, "PING");
	ck_assert(hr != NULL && hr->type == REDIS_REPLY_STATUS &&
	    strcmp(hr->str, "PONG") == 0);
	freeReplyObject(hr);

	/* As Redis shows its own Unix clients: addr and laddr, flag U. */
	u = h_connect_unix(rsock);
	ck_assert_ptr_nonnull(u);
	av[0] = "CLIENT";
	av[1] = "INFO";
	rep = ask(u, 2, av);
	snprintf(want, sizeof(want), " addr=%s:0 laddr=%s:0 ", rsock, rsock);
	ck_assert_msg(rep != NULL && strstr(rep, want) != NULL &&
	    strstr(rep, " flags=U ") != NULL, "redis' own CLIENT INFO for a "
	    "unix client is not as this test expects: %s", rep);
	free(rep);
	h_close(u);
	u = h_connect_unix(sock);
	ck_assert_ptr_nonnull(u);
	rep = ask(u, 2, av);
	snprintf(want, sizeof(want), " addr=%s:0 laddr=%s:0 ", sock, sock);
	ck_assert_msg(rep != NULL && strstr(rep, want) != NULL &&
	    strstr(rep, " flags=U ") != NULL, "CLIENT INFO: %s", rep);
	free(rep);
	av[1] = "LIST";
	rep = ask(u, 2, av);
	ck_assert_msg(rep != NULL && count_of(rep, want) == 3 &&
	    count_of(rep, " flags=PU ") == 1 &&
	    count_of(rep, " flags=U ") == 2, "CLIENT LIST: %s", rep);
	free(rep);

	/* A TCP client alongside, and CLIENT KILL by the socket's addr. */
	t = h_connect(port);
	ck_assert_ptr_nonnull(t);
	rep = ask(t, 2, av);
	ck_assert_msg(rep != NULL && count_of(rep, " flags=N ") == 1 &&
	    count_of(rep, " addr=127.0.0.1:") == 1, "CLIENT LIST: %s", rep);
	free(rep);
	snprintf(want, sizeof(want), "%s:0", sock);
	av[1] = "KILL";
	av[2] = "ADDR";
	av[3] = want;
	rep = ask(t, 4, av);
	ck_assert_str_eq(rep, ":3\r\n");
	free(rep);
	ck_assert(h_closed(c, 3000));
	ck_assert(h_closed(u, 3000));
	hr = redisCommand(hc, "PING");
	ck_assert_msg(hr == NULL, "the hiredis client was not killed");
	redisFree(hc);
	/* Unix clients' disconnects count by reason as TCP ones' do. */
	ck_assert(wait_metric(mport,
	    "pubsubd_client_disconnects_total{reason=\"killed\"} 3", 3000));
	ck_assert(wait_metric(mport, "pubsubd_clients_connected 1", 3000));
	h_close(c);
	h_close(u);
	h_close(t);
	h_close(rr);

	daemon_stop(pid);
	ck_assert_msg(wait_gone(sock, 100), "%s is left after the stop", sock);
}
END_TEST

/*
 * 2. A socket file nobody listens on (a crashed pubsubd's) is removed and
 * replaced; a live one, or a file that is no socket, makes a second
 * pubsubd refuse to start (exit 1, saying why) and is left alone.
 */
START_TEST(stale_socket_replaced_live_socket_or_other_file_refused)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	char			 sock[300], file[300], conf[1024];
	int			 fd, port = h_free_port();
	pid_t			 pid;
	FILE			*f;

	path_in_dir(sock, sizeof(sock), "pubsubd.sock");
	path_in_dir(file, sizeof(file), "plain-file");
	env.redis_port = h_free_port();
	h_start_redis_argv(&env, NULL, NULL);

	/* A stale socket: bound, then closed without unlinking. */
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	ck_assert_uint_lt(strlen(sock), sizeof(sun.sun_path));
	memcpy(sun.sun_path, sock, strlen(sock) + 1);
	ck_assert_int_ne(fd = socket(AF_UNIX, SOCK_STREAM, 0), -1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	ck_assert(lstat(sock, &st) == 0 && S_ISSOCK(st.st_mode));
	ck_assert(h_connect_unix(sock) == NULL);

	snprintf(conf, sizeof(conf), "listen = ( { path = \"%s\"; } );\n"
	    "redis = { host = \"127.0.0.1\"; port = %d; };\n", sock,
	    env.redis_port);
	pid = daemon_up("first", conf, NULL, sock, 0);
	ck_assert(wait_log("first", "removed the stale socket", 1000));
	ck_assert(wait_mode(sock, 0660, 1000));	/* the default mode */

	/* A second pubsubd on the same socket: refused, the first unhurt. */
	snprintf(conf, sizeof(conf), "listen = ( { host = \"127.0.0.1\"; "
	    "port = %d; }, { path = \"%s\"; } );\n"
	    "redis = { host = \"127.0.0.1\"; port = %d; };\n", port, sock,
	    env.redis_port);
	daemon_refused("second", conf, NULL, "another process is listening "
	    "on it");
	ck_assert_int_eq(h_wait_ping_unix(sock, 2000), 0);

	/* A plain file in the way: refused and kept. */
	ck_assert_ptr_nonnull(f = fopen(file, "w"));
	fclose(f);
	snprintf(conf, sizeof(conf), "listen = ( { path = \"%s\"; } );\n"
	    "redis = { host = \"127.0.0.1\"; port = %d; };\n", file,
	    env.redis_port);
	daemon_refused("third", conf, NULL, "not a socket");
	ck_assert(lstat(file, &st) == 0 && S_ISREG(st.st_mode));

	daemon_stop(pid);
	ck_assert(wait_gone(sock, 100));
}
END_TEST

/*
 * 3. SIGHUP adds and removes Unix listeners as it does TCP ones, and
 * changes a kept socket's mode; a client of a removed socket stays
 * connected and served.
 */
START_TEST(sighup_adds_and_removes_unix_listeners)
{
	struct h_conn	*a, *rr, *b;
	char		 sa[300], sb[300], conf[1024];
	int		 port = h_free_port();
	pid_t		 pid;

	path_in_dir(sa, sizeof(sa), "a.sock");
	path_in_dir(sb, sizeof(sb), "b.sock");
	env.redis_port = h_free_port();
	h_start_redis_argv(&env, NULL, NULL);
	rr = h_connect(env.redis_port);
	ck_assert_ptr_nonnull(rr);
	snprintf(conf, sizeof(conf), "listen = ( { host = \"127.0.0.1\"; "
	    "port = %d; } );\nredis = { host = \"127.0.0.1\"; port = %d; };\n",
	    port, env.redis_port);
	pid = daemon_up("hup", conf, NULL, NULL, port);

	/* Add socket a. */
	snprintf(conf, sizeof(conf), "listen = ( { host = \"127.0.0.1\"; "
	    "port = %d; }, { path = \"%s\"; mode = \"0600\"; } );\n"
	    "redis = { host = \"127.0.0.1\"; port = %d; };\n", port, sa,
	    env.redis_port);
	conf_rewrite("hup", conf);
	ck_assert_int_eq(kill(pid, SIGHUP), 0);
	ck_assert_msg(h_wait_ping_unix(sa, 3000) == 0, "%s did not open", sa);
	ck_assert(wait_mode(sa, 0600, 1000));
	a = h_connect_unix(sa);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(h_command(a, "SUBSCRIBE", "hup.ch", NULL), 0);
	ck_assert(h_expect_free(a, h_frame_confirm("subscribe", "hup.ch", 1)));

	/* Replace it with socket b: a's file goes, its client stays. */
	snprintf(conf, sizeof(conf), "listen = ( { path = \"%s\"; mode = "
	    "\"0666\"; }, { host = \"127.0.0.1\"; port = %d; } );\n"
	    "redis = { host = \"127.0.0.1\"; port = %d; };\n", sb, port,
	    env.redis_port);
	conf_rewrite("hup", conf);
	ck_assert_int_eq(kill(pid, SIGHUP), 0);
	ck_assert_msg(h_wait_ping_unix(sb, 3000) == 0, "%s did not open", sb);
	ck_assert(wait_mode(sb, 0666, 1000));
	ck_assert_msg(wait_gone(sa, 3000), "%s is still there", sa);
	ck_assert_ptr_null(b = h_connect_unix(sa));
	ck_assert_int_eq(h_publish(rr, "hup.ch", "still"), 1);
	ck_assert(h_expect_free(a, h_frame_message("hup.ch", "still")));
	ck_assert(ping_tcp(port));

	/* Keep b with another mode: chmod, not a new socket. */
	snprintf(conf, sizeof(conf), "listen = ( { path = \"%s\"; mode = "
	    "\"0620\"; }, { host = \"127.0.0.1\"; port = %d; } );\n"
	    "redis = { host = \"127.0.0.1\"; port = %d; };\n", sb, port,
	    env.redis_port);
	b = h_connect_unix(sb);
	ck_assert_ptr_nonnull(b);
	conf_rewrite("hup", conf);
	ck_assert_int_eq(kill(pid, SIGHUP), 0);
	ck_assert(wait_mode(sb, 0620, 3000));
	ck_assert_int_eq(h_sendstr(b, "PING\r\n"), 0);
	ck_assert(h_expect(b, "+PONG\r\n"));

	h_close(b);
	h_close(a);
	h_close(rr);
	daemon_stop(pid);
	ck_assert(wait_gone(sb, 100));
}
END_TEST

/*
 * 3b. Each listen entry's backlog is what listen(2) is given, as ss shows
 * it: on start (TCP and Unix, and 511 unless set), for a listener a
 * reload opens, and for a kept one whose backlog a reload changes.
 */
START_TEST(listen_backlog_applied_on_start_and_reload)
{
	char	 sa[300], conf[1024], fa[64], fb[64], fc[64], fu[320];
	int	 pa = h_free_port(), pb = h_free_port(), pc = h_free_port();
	pid_t	 pid;

	path_in_dir(sa, sizeof(sa), "a.sock");
	snprintf(fa, sizeof(fa), "sport = :%d", pa);
	snprintf(fb, sizeof(fb), "sport = :%d", pb);
	snprintf(fc, sizeof(fc), "sport = :%d", pc);
	snprintf(fu, sizeof(fu), "src %s", sa);
	env.redis_port = h_free_port();
	h_start_redis_argv(&env, NULL, NULL);
	snprintf(conf, sizeof(conf), "listen = ( { host = \"127.0.0.1\"; "
	    "port = %d; backlog = 37; }, { host = \"127.0.0.1\"; port = %d; "
	    "}, { path = \"%s\"; backlog = 19; } );\n"
	    "redis = { host = \"127.0.0.1\"; port = %d; };\n", pa, pb, sa,
	    env.redis_port);
	pid = daemon_up("backlog", conf, NULL, NULL, pa);
	ck_assert(wait_backlog("-Hltn", fa, 37, 1000));
	ck_assert(wait_backlog("-Hltn", fb, 511, 1000));
	ck_assert(wait_backlog("-Hlx", fu, 19, 1000));

	/* a kept with another backlog; c opened with its own. */
	snprintf(conf, sizeof(conf), "listen = ( { host = \"127.0.0.1\"; "
	    "port = %d; backlog = 100; }, { host = \"127.0.0.1\"; port = %d; "
	    "backlog = 23; }, { path = \"%s\"; backlog = 19; } );\n"
	    "redis = { host = \"127.0.0.1\"; port = %d; };\n", pa, pc, sa,
	    env.redis_port);
	conf_rewrite("backlog", conf);
	ck_assert_int_eq(kill(pid, SIGHUP), 0);
	ck_assert(wait_backlog("-Hltn", fc, 23, 3000));
	ck_assert(wait_backlog("-Hltn", fa, 100, 3000));
	ck_assert(wait_backlog("-Hlx", fu, 19, 1000));
	ck_assert(ping_tcp(pa));
	ck_assert(ping_tcp(pc));

	daemon_stop(pid);
}
END_TEST

/*
 * 4. Redis on a Unix socket only (no TCP port at all): every connection
 * pubsubd makes reaches it; INFO upstream names the socket, port 0.
 */
START_TEST(redis_over_unix_socket_serves_every_connection)
{
	struct h_conn	*r;
	char		 rsock[300], conf[1024], want[400];
	char		*rep;
	const char	*av[2] = { "CLIENT", "LIST" };
	int		 port = h_free_port();

	path_in_dir(rsock, sizeof(rsock), "redis.sock");
	env.redis_port = 0;
	h_start_redis_argv(&env, rsock, NULL);
	snprintf(conf, sizeof(conf), "listen = ( { host = \"127.0.0.1\"; "
	    "port = %d; } );\nredis = { path = \"%s\"; };\n"
	    "passthrough = true;\n", port, rsock);
	daemon_up("ru", conf, NULL, NULL, port);
	ck_assert_int_eq(wait_info(port, "upstream_connected", 1, 5000), 1);
	r = h_connect_unix(rsock);
	ck_assert_ptr_nonnull(r);
	exercise(port, "ru", NULL, r);

	rep = h_info_text(port, "upstream", H_TIMEOUT_MS);
	snprintf(want, sizeof(want), "\r\nupstream_host:%s\r\n"
	    "upstream_port:0\r\n", rsock);
	ck_assert_msg(rep != NULL && strstr(rep, want) != NULL,
	    "INFO upstream: %s", rep);
	free(rep);

	/* Ours, and pubsubd's subscriber, shard and command connections. */
	rep = ask(r, 2, av);
	snprintf(want, sizeof(want), "addr=%s:0 ", rsock);
	ck_assert_msg(rep != NULL && count_of(rep, want) >= 4,
	    "CLIENT LIST: %s", rep);
	free(rep);
	h_close(r);
}
END_TEST

/*
 * 5. Redis with requirepass: every connection pubsubd makes sends AUTH
 * first (any that did not would get NOAUTH); the password is not logged.
 */
START_TEST(requirepass_every_connection_authenticates)
{
	static const char *const extra[] = {
		"--requirepass", "pw-of-test-5", NULL
	};
	struct h_conn	*r;
	char		 conf[1024], log[300];
	int		 port = h_free_port();

	env.redis_port = h_free_port();
	h_start_redis_argv(&env, NULL, extra);
	snprintf(conf, sizeof(conf), "listen = ( { host = \"127.0.0.1\"; "
	    "port = %d; } );\nredis = { host = \"127.0.0.1\"; port = %d; "
	    "password = \"pw-of-test-5\"; };\npassthrough = true;\n"
	    "log = { level = \"debug\"; };\n", port, env.redis_port);
	daemon_up("pw", conf, NULL, NULL, port);
	ck_assert_int_eq(wait_info(port, "upstream_connected", 1, 5000), 1);
	r = h_connect(env.redis_port);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(h_command(r, "AUTH", "pw-of-test-5", NULL), 0);
	ck_assert(h_expect(r, "+OK\r\n"));
	exercise(port, "pw", "default", r);
	h_close(r);
	log_path(log, sizeof(log), "pw");
	ck_assert(!h_file_has(log, "pw-of-test-5"));
}
END_TEST

/*
 * 6. An ACL user (AUTH username password): every lasting connection
 * pubsubd makes is logged in as that user.
 */
START_TEST(acl_user_every_connection_logs_in_as_the_user)
{
	static const char *const extra[] = {
		"--requirepass", "admin-of-test-6", NULL
	};
	struct h_conn	*r;
	char		 conf[1024];
	char		*rep;
	const char	*av[8] = {
		"ACL", "SETUSER", "psd6", "on", ">user-pw-6", "~*", "&*",
		"+@all"
	};
	int		 port = h_free_port();

	env.redis_port = h_free_port();
	h_start_redis_argv(&env, NULL, extra);
	r = h_connect(env.redis_port);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(h_command(r, "AUTH", "admin-of-test-6", NULL), 0);
	ck_assert(h_expect(r, "+OK\r\n"));
	rep = ask(r, 8, av);
	ck_assert_str_eq(rep, "+OK\r\n");
	free(rep);
	snprintf(conf, sizeof(conf), "listen = ( { host = \"127.0.0.1\"; "
	    "port = %d; } );\nredis = { host = \"127.0.0.1\"; port = %d; "
	    "username = \"psd6\"; password = \"user-pw-6\"; };\n"
	    "passthrough = true;\n", port, env.redis_port);
	daemon_up("acl", conf, NULL, NULL, port);
	ck_assert_int_eq(wait_info(port, "upstream_connected", 1, 5000), 1);
	exercise(port, "acl", "psd6", r);
	h_close(r);
}
END_TEST

/*
 * 7. The password changes under pubsubd, and a reload gives it a wrong
 * one: it stays up, logs the refusal (not the password), a client's
 * SUBSCRIBE gets an error after command_timeout and PUBLISH at once; a
 * reload with the right password reconnects and resubscribes what a client
 * held all along.
 */
START_TEST(wrong_password_logged_errors_then_sighup_fixes_and_resubscribes)
{
	static const char *const extra[] = {
		"--requirepass", "first-pw-7", NULL
	};
	struct h_conn	*r, *a, *b;
	char		 conf[1024], log[300];
	char		*rep;
	long long	 t0, dt;
	int		 port = h_free_port();
	pid_t		 pid;

	env.redis_port = h_free_port();
	h_start_redis_argv(&env, NULL, extra);
	r = h_connect(env.redis_port);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(h_command(r, "AUTH", "first-pw-7", NULL), 0);
	ck_assert(h_expect(r, "+OK\r\n"));
#define CONF7	"listen = ( { host = \"127.0.0.1\"; port = %d; } );\n" \
	"redis = { host = \"127.0.0.1\"; port = %d; password = \"%s\"; " \
	"command_timeout = 500; backoff_min = 50; backoff_max = 200; };\n"
	snprintf(conf, sizeof(conf), CONF7, port, env.redis_port,
	    "first-pw-7");
	pid = daemon_up("wrong", conf, NULL, NULL, port);
	ck_assert_int_eq(wait_info(port, "upstream_connected", 1, 5000), 1);
	a = h_connect(port);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(h_command(a, "SUBSCRIBE", "w.held", NULL), 0);
	ck_assert(h_expect_free(a, h_frame_confirm("subscribe", "w.held",
	    1)));

	/* Redis' password changes; pubsubd is reloaded with a wrong one. */
	ck_assert_int_eq(h_command(r, "CONFIG", "SET", "requirepass",
	    "second-pw-7", NULL), 0);
	ck_assert(h_expect(r, "+OK\r\n"));
	snprintf(conf, sizeof(conf), CONF7, port, env.redis_port,
	    "wrong-secret-4711");
	conf_rewrite("wrong", conf);
	ck_assert_int_eq(kill(pid, SIGHUP), 0);
	ck_assert_msg(wait_log("wrong", "AUTH refused: WRONGPASS", 5000),
	    "the refusal was not logged");
	ck_assert_int_eq(wait_info(port, "upstream_connected", 0, 3000), 0);
	ck_assert_int_eq(h_wait_numsub(r, "w.held", 0, 3000), 0);

	b = h_connect(port);
	ck_assert_ptr_nonnull(b);
	t0 = h_now_ms();
	ck_assert_int_eq(h_command(b, "SUBSCRIBE", "w.new", NULL), 0);
	rep = h_reply(b, NULL, 3000);
	dt = h_now_ms() - t0;
	fprintf(stderr, "service: wrong password: SUBSCRIBE answered in %lld "
	    "ms (command_timeout 500): %.*s\n", dt, rep ?
	    (int)strcspn(rep, "\r") : 9, rep ? rep : "(nothing)");
	ck_assert_msg(rep != NULL && strncmp(rep, "-ERR", 4) == 0, "got [%s]",
	    rep);
	free(rep);
	ck_assert_int_eq(h_command(b, "PUBLISH", "w.new", "x", NULL), 0);
	rep = h_reply(b, NULL, 3000);
	ck_assert_msg(rep != NULL && strncmp(rep, "-ERR", 4) == 0 &&
	    strstr(rep, "authentication failed") != NULL, "got [%s]", rep);
	free(rep);
	ck_assert_int_eq(h_sendstr(b, "PING\r\n"), 0);
	ck_assert(h_expect(b, "+PONG\r\n"));
	ck_assert_int_eq(kill(pid, 0), 0);

	/* The right password: connected, and a's channel is back. */
	snprintf(conf, sizeof(conf), CONF7, port, env.redis_port,
	    "second-pw-7");
	conf_rewrite("wrong", conf);
	t0 = h_now_ms();
	ck_assert_int_eq(kill(pid, SIGHUP), 0);
	ck_assert_int_eq(wait_info(port, "upstream_connected", 1, 5000), 1);
	ck_assert_int_eq(h_wait_numsub(r, "w.held", 1, 5000), 1);
	fprintf(stderr, "service: right password: connected and resubscribed "
	    "%lld ms after SIGHUP\n", h_now_ms() - t0);
	ck_assert_int_eq(h_publish(r, "w.held", "after"), 1);
	ck_assert(h_expect_free(a, h_frame_message("w.held", "after")));
	ck_assert_int_eq(h_command(b, "SUBSCRIBE", "w.new", NULL), 0);
	ck_assert(h_expect_free(b, h_frame_confirm("subscribe", "w.new", 1)));
#undef CONF7

	log_path(log, sizeof(log), "wrong");
	ck_assert(!h_file_has(log, "wrong-secret-4711"));
	ck_assert(!h_file_has(log, "first-pw-7"));
	ck_assert(!h_file_has(log, "second-pw-7"));
	h_close(b);
	h_close(a);
	h_close(r);
}
END_TEST

/*
 * 8. The pid file: written (mode 0644, this pid, no temporary left) once
 * pubsubd listens; a second pubsubd with the same file refuses to start;
 * one naming a dead process is replaced; -p wins over the configuration's
 * pidfile; removed at exit.
 */
START_TEST(pidfile_written_refused_while_live_replaced_when_stale)
{
	struct stat	 st;
	struct dirent	*de;
	DIR		*dir;
	char		 pa[300], pb[300], pc[300], conf[1024];
	const char	*args[3];
	int		 p1 = h_free_port(), p2 = h_free_port(), status;
	pid_t		 a, c, dead;
	FILE		*f;

	path_in_dir(pa, sizeof(pa), "a.pid");
	path_in_dir(pb, sizeof(pb), "b.pid");
	path_in_dir(pc, sizeof(pc), "c-conf.pid");
	env.redis_port = h_free_port();
	h_start_redis_argv(&env, NULL, NULL);
	snprintf(conf, sizeof(conf), "listen = ( { host = \"127.0.0.1\"; "
	    "port = %d; } );\nredis = { host = \"127.0.0.1\"; port = %d; };\n"
	    "pidfile = \"%s\";\n", p1, env.redis_port, pa);
	a = daemon_up("pa", conf, NULL, NULL, p1);
	ck_assert_int_eq(read_pid(pa), (long)a);
	ck_assert_int_eq(lstat(pa, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0644);
	ck_assert_ptr_nonnull(dir = opendir(env.dir));
	while ((de = readdir(dir)) != NULL)
		ck_assert_msg(strncmp(de->d_name, "a.pid.", 6) != 0,
		    "a temporary file is left: %s", de->d_name);
	closedir(dir);

	/* The same pid file again: refused; the file still names a. */
	snprintf(conf, sizeof(conf), "listen = ( { host = \"127.0.0.1\"; "
	    "port = %d; } );\nredis = { host = \"127.0.0.1\"; port = %d; };\n"
	    "pidfile = \"%s\";\n", p2, env.redis_port, pa);
	daemon_refused("pa2", conf, NULL, "is pubsubd already running?");
	ck_assert_int_eq(read_pid(pa), (long)a);
	ck_assert(ping_tcp(p1));

	/* A stale file (a dead pid), given with -p over the conf's. */
	ck_assert_int_ne(dead = fork(), -1);
	if (dead == 0)
		_exit(0);
	ck_assert_int_eq(waitpid(dead, &status, 0), dead);
	ck_assert_ptr_nonnull(f = fopen(pb, "w"));
	fprintf(f, "%ld\n", (long)dead);
	fclose(f);
	snprintf(conf, sizeof(conf), "listen = ( { host = \"127.0.0.1\"; "
	    "port = %d; } );\nredis = { host = \"127.0.0.1\"; port = %d; };\n"
	    "pidfile = \"%s\";\n", p2, env.redis_port, pc);
	args[0] = "-p";
	args[1] = pb;
	args[2] = NULL;
	c = daemon_up("pc", conf, args, NULL, p2);
	ck_assert_int_eq(read_pid(pb), (long)c);
	ck_assert_int_eq(lstat(pc, &st), -1);

	daemon_stop(a);
	ck_assert_msg(wait_gone(pa, 100), "%s is left after the stop", pa);
	daemon_stop(c);
	ck_assert_msg(wait_gone(pb, 100), "%s is left after the stop", pb);
}
END_TEST

/*
 * Gives this process (and what it spawns from now on) a /dev of its own,
 * in a private mount namespace, with null, zero, random and urandom from
 * the real one and a datagram socket bound at /dev/log. Returns that
 * socket, or -1 with why filled if this host does not allow it. Nothing
 * is mounted outside the namespace, which dies with the test's process.
 */
static int
private_dev_log(char *why, size_t whylen)
{
	static const char *const nodes[] = {
		"null", "zero", "random", "urandom", NULL
	};
	struct sockaddr_un	 sun;
	char			 real[] = "/tmp/pubsubd-realdev.XXXXXX";
	char			 src[300], dst[64];
	int			 i, fd;

	if (unshare(CLONE_NEWNS) == -1) {
		snprintf(why, whylen, "unshare: %s", strerror(errno));
		return -1;
	}
	/* First of all: nothing mounted here may reach the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1) {
		snprintf(why, whylen, "private mounts: %s", strerror(errno));
		return -1;
	}
	if (mkdtemp(real) == NULL) {
		snprintf(why, whylen, "mkdtemp: %s", strerror(errno));
		return -1;
	}
	if (mount("/dev", real, NULL, MS_BIND, NULL) == -1) {
		snprintf(why, whylen, "bind /dev: %s", strerror(errno));
		rmdir(real);
		return -1;
	}
	if (mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC,
	    "mode=0755,size=64k") == -1) {
		snprintf(why, whylen, "tmpfs on /dev: %s", strerror(errno));
		umount2(real, MNT_DETACH);
		rmdir(real);
		return -1;
	}
	for (i = 0; nodes[i] != NULL; i++) {
		snprintf(src, sizeof(src), "%s/%s", real, nodes[i]);
		snprintf(dst, sizeof(dst), "/dev/%s", nodes[i]);
		if ((fd = open(dst, O_WRONLY | O_CREAT, 0666)) != -1)
			close(fd);
		if (mount(src, dst, NULL, MS_BIND, NULL) == -1)
			fprintf(stderr, "service: cannot bind %s: %s\n", src,
			    strerror(errno));
	}
	/* The real /dev is no longer needed here: let go of it at once. */
	umount2(real, MNT_DETACH);
	rmdir(real);

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "/dev/log");
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		snprintf(why, whylen, "bind /dev/log: %s", strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	return fd;
}

/*
 * Reads syslog datagrams from fd until one starts with prefix ("<157>")
 * and holds text, for up to timeout_ms; whether one did.
 */
static int
syslog_find(int fd, const char *prefix, const char *text, int timeout_ms)
{
	long long	 deadline = h_now_ms() + timeout_ms;
	struct pollfd	 pfd = { fd, POLLIN, 0 };
	char		 buf[2048];
	ssize_t		 n;
	int		 left, i;

	for (i = 0; i < 10000; i++) {
		if ((left = (int)(deadline - h_now_ms())) <= 0 ||
		    poll(&pfd, 1, left) <= 0)
			return 0;
		if ((n = recv(fd, buf, sizeof(buf) - 1, 0)) <= 0)
			continue;
		buf[n] = '\0';
		if (strncmp(buf, prefix, strlen(prefix)) == 0 &&
		    strstr(buf, text) != NULL)
			return 1;
	}
	return 0;
}

/*
 * 9. log.syslog = true: messages go to syslog(3), with the facility, the
 * ident and the priority of each level, and no longer to stderr. Where
 * this host lets the test have a /dev/log of its own (a private mount
 * namespace), what arrives there is checked; elsewhere only that pubsubd
 * runs, serves and stops with syslog on, and writes nothing to stderr.
 */
START_TEST(syslog_true_sends_messages_to_syslog_with_priorities)
{
	char	 conf[1024], log[300], why[256];
	int	 fd, port = h_free_port();
	pid_t	 pid;

	env.redis_port = h_free_port();
	h_start_redis_argv(&env, NULL, NULL);
	if ((fd = private_dev_log(why, sizeof(why))) == -1)
		fprintf(stderr, "service: syslog: no /dev/log of our own here "
		    "(%s): what reaches syslog is not checked\n", why);
	snprintf(conf, sizeof(conf), "listen = ( { host = \"127.0.0.1\"; "
	    "port = %d; } );\nredis = { host = \"127.0.0.1\"; port = %d; "
	    "backoff_min = 300; backoff_max = 1000; };\n"
	    "log = { syslog = true; syslog_facility = \"local3\"; "
	    "ident = \"psd-test\"; level = \"info\"; };\n", port,
	    env.redis_port);
	pid = daemon_up("syslog", conf, NULL, NULL, port);
	ck_assert_int_eq(wait_info(port, "upstream_connected", 1, 5000), 1);
	if (fd != -1) {
		/* local3 is 19: notice is <157>, warning <156>. */
		ck_assert_msg(syslog_find(fd, "<157>", "psd-test[", 3000),
		    "no notice from psd-test in /dev/log");
		h_kill(env.redis_pid, 5000);
		env.redis_pid = 0;
		ck_assert_msg(syslog_find(fd, "<156>", "lost connection to "
		    "redis", 3000), "no warning about redis in /dev/log");
		/*
		 * Nobody reads it any more: close it, or pubsubd's
		 * syslog(3) would block once its few datagrams queued
		 * (net.unix.max_dgram_qlen, 10 here) fill up.
		 */
		close(fd);
	}
	ck_assert(ping_tcp(port));
	daemon_stop(pid);
	log_path(log, sizeof(log), "syslog");
	ck_assert_msg(!h_file_has(log, "started"), "%s has log lines: they "
	    "must go to syslog instead", log);
}
END_TEST

/* Adds test fn as a case of its own, with the fixtures and a timeout. */
static void
add(Suite *s, const char *name, const TTest *fn)
{
	TCase	*tc = tcase_create(name);

	tcase_add_unchecked_fixture(tc, dir_make, dir_check);
	tcase_add_checked_fixture(tc, test_setup, test_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, fn);
	suite_add_tcase(s, tc);
}

/* The suite: one case per test, each with servers of its own. */
static Suite *
service_suite(void)
{
	Suite	*s = suite_create("integ_service");

	add(s, "unix_listener",
	    unix_listener_serves_clients_like_tcp_and_shows_them_as_redis);
	add(s, "unix_stale",
	    stale_socket_replaced_live_socket_or_other_file_refused);
	add(s, "unix_sighup", sighup_adds_and_removes_unix_listeners);
	add(s, "listen_backlog", listen_backlog_applied_on_start_and_reload);
	add(s, "redis_unix", redis_over_unix_socket_serves_every_connection);
	add(s, "requirepass", requirepass_every_connection_authenticates);
	add(s, "acl_user", acl_user_every_connection_logs_in_as_the_user);
	add(s, "wrong_password",
	    wrong_password_logged_errors_then_sighup_fixes_and_resubscribes);
	add(s, "pidfile",
	    pidfile_written_refused_while_live_replaced_when_stale);
	add(s, "syslog", syslog_true_sends_messages_to_syslog_with_priorities);
	return s;
}

/* Runs every test; exits 0 if all passed. */
int
main(void)
{
	return check_run(service_suite());
}
