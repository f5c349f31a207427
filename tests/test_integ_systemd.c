/*
 * test_integ_systemd.c: pubsubd as a systemd service, end to end, without
 * systemd itself.
 *
 * Socket activation: systemd-socket-activate(1) binds the sockets and
 * passes them (LISTEN_FDS) as systemd would; clients must be served there,
 * and the configured listen address must stay unbound, across a reload too.
 * Notifications: the test binds the AF_UNIX datagram socket systemd would
 * (NOTIFY_SOCKET) and reads what pubsubd sends: READY=1 only once Redis is
 * connected (or after systemd.ready_timeout), STATUS=, RELOADING=1 and
 * READY=1 around SIGHUP, STOPPING=1 on SIGTERM, WATCHDOG=1 every half of
 * WATCHDOG_USEC. The open file limit: under prlimit(1), maxclients is
 * lowered to what the limit allows, and the soft limit is raised to the
 * hard one.
 *
 * Each test runs in a child process of Check's with a directory, Redis and
 * pubsubd of its own; every wait has a deadline. The teardown stops pubsubd
 * and fails the test unless it exits 0 (a clean stop; no leak under ASan).
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <check.h>

#include "check_run.h"

#include "harness.h"

#define NT_MAX		2048	/* datagrams kept per test */

/* What pubsubd sent to the notify socket, in order. */
struct nt {
	int		 fd;		/* the bound socket, or -1 */
	int		 n;
	long long	 ms[NT_MAX];	/* when each was read */
	char		*msg[NT_MAX];	/* owned */
};

static struct h_env	 env;
static struct nt	 nt;
static char		 logpath[300];
static int		 stopped;	/* the test stopped pubsubd itself */

static void		 test_setup(void);
static void		 test_teardown(void);
static const char	*bin(void);
static void		 conf_write(int, const char *);
static void		 spawn(char *const [], const char *const []);
static void		 nt_open(void);
static void		 nt_pump(int);
static int		 nt_has(int, const char *, const char *);
static int		 nt_find(int, const char *, const char *);
static int		 nt_wait(int, const char *, const char *, int);
static int		 nt_count(int, const char *);
static void		 nt_dump(void);
static int		 log_wait(const char *, int);
static int		 port_refuses(int);

/* A directory for the test; nothing runs yet. */
static void
test_setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	memset(&env, 0, sizeof(env));
	memset(&nt, 0, sizeof(nt));
	nt.fd = -1;
	stopped = 0;
	snprintf(env.dir, sizeof(env.dir), "/tmp/pubsubd-test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(env.dir));
	snprintf(env.conf, sizeof(env.conf), "%s/pubsubd.conf", env.dir);
	snprintf(logpath, sizeof(logpath), "%s/pubsubd.log", env.dir);
	env.redis_port = h_free_port();
	env.pubsubd_port = h_free_port();
}

/*
 * Stops pubsubd (it must exit 0) and Redis; keeps the directory and shows
 * what pubsubd logged and sent if the test failed.
 */
static void
test_teardown(void)
{
	char	cmd[400];
	int	status = 0, ok = 1, i;

	if (env.pubsubd_pid > 0) {
		status = h_kill(env.pubsubd_pid, 10000);
		ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	}
	if (env.redis_pid > 0)
		h_kill(env.redis_pid, 5000);
	if (nt.fd != -1)
		close(nt.fd);
	if (!ok) {
		fprintf(stderr, "systemd: pubsubd ended with status 0x%x; "
		    "files kept in %s; the end of its log:\n", status, env.dir);
		nt_dump();
		snprintf(cmd, sizeof(cmd), "tail -n 40 '%s' >&2", logpath);
		if (system(cmd) != 0)
			fprintf(stderr, "systemd: '%s' failed\n", cmd);
	} else if (getenv("HARNESS_KEEP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", env.dir);
		if (system(cmd) != 0)
			fprintf(stderr, "systemd: '%s' failed\n", cmd);
	}
	for (i = 0; i < nt.n; i++)
		free(nt.msg[i]);
	ck_assert_msg(ok, "pubsubd did not stop cleanly (files in %s)",
	    env.dir);
}

/* The daemon under test. */
static const char *
bin(void)
{
	const char	*p = getenv("PUBSUBD");

	return p != NULL && *p != '\0' ? p : "./daemon/pubsubd";
}

/* Writes the configuration: listen on port, Redis, and extra. */
static void
conf_write(int port, const char *extra)
{
	FILE	*f = fopen(env.conf, "w");

	ck_assert_ptr_nonnull(f);
	fprintf(f, "listen = ( { host = \"127.0.0.1\"; port = %d; } );\n"
	    "redis = { host = \"127.0.0.1\"; port = %d; backoff_max = 200; "
	    "};\nlog = { level = \"debug\"; };\n%s\n", port, env.redis_port,
	    extra != NULL ? extra : "");
	ck_assert_int_eq(fclose(f), 0);
}

/*
 * Starts argv as pubsubd (it execs pubsubd in the same process) with the
 * environment systemd would give, as set by set (NULL-terminated, or
 * NULL): whatever of systemd's variables set does not name is removed, so
 * that a make check run under systemd does not leak its own into the test.
 */
static void
spawn(char *const argv[], const char *const set[])
{
	const char	*envv[32];
	int		 n = 0, i;

	envv[n++] = "NOTIFY_SOCKET";
	envv[n++] = "WATCHDOG_USEC";
	envv[n++] = "WATCHDOG_PID";
	envv[n++] = "LISTEN_FDS";
	envv[n++] = "LISTEN_PID";
	envv[n++] = "LISTEN_FDNAMES";
	for (i = 0; set != NULL && set[i] != NULL && n < 31; i++)
		envv[n++] = set[i];
	envv[n] = NULL;
	env.pubsubd_pid = h_spawn_env(argv, envv, logpath);
}

/* Binds the notify socket at DIR/notify. */
static void
nt_open(void)
{
	struct sockaddr_un	sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	ck_assert_int_lt(strlen(env.dir) + 8, sizeof(sun.sun_path));
	memcpy(sun.sun_path, env.dir, strlen(env.dir));
	memcpy(sun.sun_path + strlen(env.dir), "/notify", 8);
	nt.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ne(nt.fd, -1);
	ck_assert_int_eq(bind(nt.fd, (struct sockaddr *)&sun, sizeof(sun)),
	    0);
}

/* Reads every datagram that arrives within timeout_ms. */
static void
nt_pump(int timeout_ms)
{
	long long	 deadline = h_now_ms() + timeout_ms;
	struct pollfd	 pfd;
	char		 buf[4096];
	ssize_t		 len;
	int		 left;

	for (;;) {
		left = (int)(deadline - h_now_ms());
		pfd.fd = nt.fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, left > 0 ? left : 0) <= 0)
			return;
		len = recv(nt.fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		if (len < 0)
			continue;
		buf[len] = '\0';
		ck_assert_int_lt(nt.n, NT_MAX);
		nt.ms[nt.n] = h_now_ms();
		ck_assert_ptr_nonnull(nt.msg[nt.n] = strdup(buf));
		nt.n++;
		if (left <= 0)
			return;
	}
}

/*
 * Whether datagram i has a line that starts with key (e.g. "READY=1",
 * "STATUS=") and, if sub is not NULL, contains sub.
 */
static int
nt_has(int i, const char *key, const char *sub)
{
	const char	*p = nt.msg[i], *eol;
	size_t		 klen = strlen(key);
	char		 line[1024];

	while (*p != '\0') {
		if ((eol = strchr(p, '\n')) == NULL)
			eol = p + strlen(p);
		snprintf(line, sizeof(line), "%.*s", (int)(eol - p), p);
		if (strncmp(line, key, klen) == 0 &&
		    (sub == NULL || strstr(line, sub) != NULL))
			return 1;
		p = *eol != '\0' ? eol + 1 : eol;
	}
	return 0;
}

/* The first datagram from index from on that nt_has(key, sub); -1. */
static int
nt_find(int from, const char *key, const char *sub)
{
	int	i;

	for (i = from; i < nt.n; i++)
		if (nt_has(i, key, sub))
			return i;
	return -1;
}

/* nt_find(), reading for up to timeout_ms until it finds one. */
static int
nt_wait(int from, const char *key, const char *sub, int timeout_ms)
{
	long long	deadline = h_now_ms() + timeout_ms;
	int		i;

	while ((i = nt_find(from, key, sub)) == -1 && h_now_ms() < deadline)
		nt_pump(50);
	return i;
}

/* How many datagrams from index from on have a line starting with key. */
static int
nt_count(int from, const char *key)
{
	int	i, n = 0;

	for (i = from; i < nt.n; i++)
		n += nt_has(i, key, NULL);
	return n;
}

/* Prints what was received (for a failed test). */
static void
nt_dump(void)
{
	int	i;

	for (i = 0; i < nt.n; i++)
		fprintf(stderr, "notify %d @%lld: %s\n", i,
		    nt.ms[i] - nt.ms[0], nt.msg[i]);
}

/* Waits up to ms for text in pubsubd's log. */
static int
log_wait(const char *text, int ms)
{
	long long	deadline = h_now_ms() + ms;

	while (!h_file_has(logpath, text) && h_now_ms() < deadline)
		usleep(20000);
	return h_file_has(logpath, text);
}

/* Whether nothing listens on 127.0.0.1:port (connecting is refused). */
static int
port_refuses(int port)
{
	struct h_conn	*c = h_connect(port);

	if (c == NULL)
		return errno == ECONNREFUSED;
	h_close(c);
	return 0;
}

/*
 * 1. Started by socket activation (a TCP and a Unix socket), pubsubd serves
 * clients on both, SUBSCRIBE and PUBLISH go through to Redis, the
 * configured listen port stays unbound, and a reload keeps it so. The Unix
 * socket's clients show as Redis shows them (addr=PATH:0, flag U), and
 * stopping leaves its file, which is systemd's, in place.
 */
START_TEST(socket_activation_serves_the_passed_sockets_only)
{
	struct h_conn	*sub, *pub;
	struct stat	 st;
	char		 tcp[64], path[300], want[700];
	char		*argv[] = { "systemd-socket-activate", "-l", tcp, "-l",
			    path, (char *)bin(), "-c", env.conf, NULL };
	char		*rep;
	int		 port = h_free_port(), status;

	h_start_redis(&env);
	conf_write(env.pubsubd_port, NULL);
	snprintf(tcp, sizeof(tcp), "127.0.0.1:%d", port);
	snprintf(path, sizeof(path), "%s/pubsubd.sock", env.dir);
	spawn(argv, NULL);

	/* The first connection makes systemd-socket-activate run pubsubd. */
	sub = h_connect_within(port, 10000);
	ck_assert_msg(sub != NULL, "systemd-socket-activate did not listen");
	ck_assert_int_eq(h_command(sub, "SUBSCRIBE", "news", NULL), 0);
	ck_assert(h_expect_free(sub, h_frame_confirm("subscribe", "news",
	    1)));
	pub = h_connect_unix(path);
	ck_assert_msg(pub != NULL, "cannot connect to %s", path);
	ck_assert_int_eq(h_publish(pub, "news", "hello"), 1);
	ck_assert(h_expect_free(sub, h_frame_message("news", "hello")));

	ck_assert(h_file_has(logpath, "listening on 127.0.0.1:"));
	ck_assert(h_file_has(logpath, "listening on unix:"));
	ck_assert(h_file_has(logpath,
	    "socket activation: serving the 2 sockets"));
	ck_assert_msg(port_refuses(env.pubsubd_port),
	    "pubsubd bound its configured port %d", env.pubsubd_port);

	/* A reload keeps the passed sockets, and still ignores listen. */
	ck_assert_int_eq(kill(env.pubsubd_pid, SIGHUP), 0);
	ck_assert(log_wait("configuration reloaded", 5000));
	ck_assert(h_file_has(logpath, "the listen addresses are ignored"));
	ck_assert_int_eq(h_publish(pub, "news", "again"), 1);
	ck_assert(h_expect_free(sub, h_frame_message("news", "again")));
	ck_assert(port_refuses(env.pubsubd_port));

	/* A passed Unix socket's clients look as a configured one's do. */
	ck_assert_int_eq(h_command(pub, "CLIENT", "INFO", NULL), 0);
	rep = h_reply(pub, NULL, H_TIMEOUT_MS);
	snprintf(want, sizeof(want), " addr=%s:0 laddr=%s:0 ", path, path);
	ck_assert_msg(rep != NULL && strstr(rep, want) != NULL &&
	    strstr(rep, " flags=U ") != NULL, "CLIENT INFO: %s", rep);
	free(rep);
	h_close(pub);
	h_close(sub);

	/* Stopped, pubsubd leaves the socket file to systemd. */
	status = h_kill(env.pubsubd_pid, 5000);
	env.pubsubd_pid = 0;
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "pubsubd stopped with status %d", status);
	ck_assert_msg(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode),
	    "pubsubd removed %s, a socket systemd passed", path);
}
END_TEST

/* 2. A passed socket that is not a stream socket: pubsubd refuses to run. */
START_TEST(socket_activation_refuses_a_datagram_socket)
{
	char		 udp[64];
	char		*argv[] = { "systemd-socket-activate", "--datagram",
			    "-l", udp, (char *)bin(), "-c", env.conf, NULL };
	long long	 deadline;
	int		 port = h_free_port(), status = -1, fd, got = 0;
	struct sockaddr_in sin;

	conf_write(env.pubsubd_port, NULL);
	snprintf(udp, sizeof(udp), "127.0.0.1:%d", port);
	spawn(argv, NULL);

	/* A datagram makes systemd-socket-activate run pubsubd. */
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ne(fd = socket(AF_INET, SOCK_DGRAM, 0), -1);
	deadline = h_now_ms() + 10000;
	while (h_now_ms() < deadline) {
		(void)sendto(fd, "x", 1, 0, (struct sockaddr *)&sin,
		    sizeof(sin));
		if (waitpid(env.pubsubd_pid, &status, WNOHANG) ==
		    env.pubsubd_pid) {
			got = 1;
			break;
		}
		usleep(50000);
	}
	close(fd);
	ck_assert_msg(got, "pubsubd did not exit");
	env.pubsubd_pid = 0;
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1,
	    "status 0x%x", status);
	ck_assert(h_file_has(logpath, "is not a listening stream socket"));
	ck_assert(port_refuses(env.pubsubd_port));
}
END_TEST

/*
 * 3. READY=1 waits for Redis: pubsubd listens, says Redis is down, and
 * sends READY=1 only once Redis has come up and it is connected.
 */
START_TEST(ready_waits_until_redis_is_connected)
{
	char		 ns[300];
	const char	*set[] = { ns, NULL };
	char		*argv[] = { (char *)bin(), "-c", env.conf, NULL };
	struct h_conn	*c;
	int		 i;

	nt_open();
	snprintf(ns, sizeof(ns), "NOTIFY_SOCKET=%s/notify", env.dir);
	conf_write(env.pubsubd_port, "systemd = { ready_timeout = 60000; };");
	spawn(argv, set);

	/* It serves (PING needs no Redis) but is not ready. */
	c = h_connect_within(env.pubsubd_port, 10000);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(h_sendstr(c, "PING\r\n"), 0);
	ck_assert(h_expect(c, "+PONG\r\n"));
	h_close(c);
	ck_assert_msg(nt_wait(0, "STATUS=", "redis down", 5000) >= 0,
	    "no STATUS saying redis is down");
	nt_pump(1000);
	ck_assert_msg(nt_find(0, "READY=1", NULL) == -1,
	    "READY=1 before redis was up");

	h_start_redis(&env);
	i = nt_wait(0, "READY=1", NULL, 10000);
	ck_assert_msg(i >= 0, "no READY=1 after redis came up");
	ck_assert(nt_has(i, "STATUS=", "redis connected to 127.0.0.1:"));
	ck_assert(h_file_has(logpath, "connected to redis at"));
}
END_TEST

/*
 * 4. Redis never comes: READY=1 all the same once systemd.ready_timeout
 * passes, saying Redis is down. WATCHDOG_PID names another process: no
 * WATCHDOG=1 (that watchdog is not pubsubd's).
 */
START_TEST(ready_after_ready_timeout_without_redis)
{
	char		 ns[300];
	const char	*set[] = { ns, "WATCHDOG_USEC=200000", "WATCHDOG_PID=1",
			    NULL };
	char		*argv[] = { (char *)bin(), "-c", env.conf, NULL };
	long long	 t0;
	int		 i;

	nt_open();
	snprintf(ns, sizeof(ns), "NOTIFY_SOCKET=%s/notify", env.dir);
	conf_write(env.pubsubd_port, "systemd = { ready_timeout = 600; };");
	t0 = h_now_ms();
	spawn(argv, set);
	i = nt_wait(0, "READY=1", NULL, 10000);
	ck_assert_msg(i >= 0, "no READY=1 after the ready timeout");
	ck_assert_msg(nt.ms[i] - t0 >= 550, "READY=1 after %lld ms, before "
	    "the timeout of 600", nt.ms[i] - t0);
	ck_assert(nt_has(i, "STATUS=", "redis down, retrying 127.0.0.1:"));
	ck_assert(h_file_has(logpath, "is not connected after 600 ms"));
	nt_pump(500);
	ck_assert_int_eq(nt_count(0, "WATCHDOG=1"), 0);
}
END_TEST

/*
 * 5. SIGHUP: RELOADING=1 (with MONOTONIC_USEC), then READY=1. SIGTERM:
 * STOPPING=1, and a clean exit. WATCHDOG_USEC without WATCHDOG_PID also
 * means pubsubd.
 */
START_TEST(reload_and_stop_are_announced)
{
	char		 ns[300];
	const char	*set[] = { ns, "WATCHDOG_USEC=200000", NULL };
	char		*argv[] = { (char *)bin(), "-c", env.conf, NULL };
	int		 ready, reloading, again, stopping, status;

	h_start_redis(&env);
	nt_open();
	snprintf(ns, sizeof(ns), "NOTIFY_SOCKET=%s/notify", env.dir);
	conf_write(env.pubsubd_port, NULL);
	spawn(argv, set);
	ready = nt_wait(0, "READY=1", NULL, 10000);
	ck_assert_msg(ready >= 0, "no READY=1");
	ck_assert_int_eq(nt_find(0, "RELOADING=1", NULL), -1);

	ck_assert_int_eq(kill(env.pubsubd_pid, SIGHUP), 0);
	reloading = nt_wait(ready + 1, "RELOADING=1", NULL, 5000);
	ck_assert_msg(reloading > ready, "no RELOADING=1 after SIGHUP");
	ck_assert(nt_has(reloading, "MONOTONIC_USEC=", NULL));
	again = nt_wait(reloading + 1, "READY=1", NULL, 5000);
	ck_assert_msg(again > reloading, "no READY=1 after RELOADING=1");
	ck_assert(h_file_has(logpath, "configuration reloaded"));

	ck_assert_int_eq(kill(env.pubsubd_pid, SIGTERM), 0);
	stopping = nt_wait(again + 1, "STOPPING=1", NULL, 5000);
	ck_assert_msg(stopping > again, "no STOPPING=1 after SIGTERM");
	status = h_kill(env.pubsubd_pid, 10000);
	env.pubsubd_pid = 0;
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status 0x%x", status);
	ck_assert_int_gt(nt_count(0, "WATCHDOG=1"), 0);
}
END_TEST

/*
 * 6. STATUS= follows the clients, their subscriptions, the messages and
 * Redis, and is sent about once a second at most however fast things
 * change.
 */
START_TEST(status_follows_clients_subscriptions_and_redis)
{
	char		 ns[300];
	const char	*set[] = { ns, NULL };
	char		*argv[] = { (char *)bin(), "-c", env.conf, NULL };
	struct h_conn	*a, *b, *r, *c[60];
	long long	 t0, t1;
	int		 ready, from, n, i;

	h_start_redis(&env);
	nt_open();
	snprintf(ns, sizeof(ns), "NOTIFY_SOCKET=%s/notify", env.dir);
	conf_write(env.pubsubd_port, NULL);
	spawn(argv, set);
	ready = nt_wait(0, "READY=1", NULL, 10000);
	ck_assert_msg(ready >= 0, "no READY=1");

	a = h_connect(env.pubsubd_port);
	b = h_connect(env.pubsubd_port);
	ck_assert(a != NULL && b != NULL);
	ck_assert_int_eq(h_command(a, "SUBSCRIBE", "s1", NULL), 0);
	ck_assert(h_expect_free(a, h_frame_confirm("subscribe", "s1", 1)));
	ck_assert_int_eq(h_command(b, "PSUBSCRIBE", "p*", NULL), 0);
	ck_assert(h_expect_free(b, h_frame_confirm("psubscribe", "p*", 1)));
	ck_assert_msg(nt_wait(ready, "STATUS=", "2 clients, 1 channel, "
	    "1 pattern, 0 shard channels; 0 messages in, 0 delivered; "
	    "redis connected to", 5000) >= 0,
	    "no STATUS with the clients and subscriptions");

	/* A message through: STATUS counts it in and delivered. */
	r = h_connect(env.redis_port);
	ck_assert(r != NULL);
	ck_assert_int_eq(h_publish(r, "s1", "m"), 1);
	ck_assert(h_expect_free(a, h_frame_message("s1", "m")));
	h_close(r);
	ck_assert_msg(nt_wait(ready, "STATUS=", "; 1 message in, 1 delivered; ",
	    5000) >= 0, "no STATUS counting the message");

	/*
	 * The client count changing every 25 ms for 1.5 s, then falling
	 * back: still about one STATUS a second.
	 */
	from = nt.n;
	t0 = h_now_ms();
	for (i = 0; i < 60; i++) {
		c[i] = h_connect(env.pubsubd_port);
		nt_pump(25);
	}
	for (i = 0; i < 60; i++)
		h_close(c[i]);
	nt_pump(1200);
	t1 = h_now_ms();
	n = nt_count(from, "STATUS=");
	ck_assert_msg(n >= 1, "no STATUS while clients came and went");
	ck_assert_msg(n <= (t1 - t0) / 1000 + 2, "%d STATUS in %lld ms", n,
	    t1 - t0);

	/* Redis goes: STATUS says so. */
	h_kill(env.redis_pid, 5000);
	env.redis_pid = 0;
	ck_assert_msg(nt_wait(from, "STATUS=", "redis down", 5000) >= 0,
	    "no STATUS saying redis is down");
	h_close(a);
	h_close(b);
}
END_TEST

/*
 * 7. WATCHDOG_USEC=200000 with WATCHDOG_PID = pubsubd's pid: WATCHDOG=1
 * every 100 ms or so, from the event loop.
 */
START_TEST(watchdog_is_fed_every_half_interval)
{
	char		 ns[300];
	const char	*set[] = { ns, "WATCHDOG_USEC=200000", NULL };
	/* sh's pid is pubsubd's after exec: WATCHDOG_PID=$$ names it. */
	char		*argv[] = { "/bin/sh", "-c",
			    "WATCHDOG_PID=$$ exec \"$0\" -c \"$1\"",
			    (char *)bin(), env.conf, NULL };
	int		 first, n;

	h_start_redis(&env);
	nt_open();
	snprintf(ns, sizeof(ns), "NOTIFY_SOCKET=%s/notify", env.dir);
	conf_write(env.pubsubd_port, NULL);
	spawn(argv, set);
	first = nt_wait(0, "WATCHDOG=1", NULL, 10000);
	ck_assert_msg(first >= 0, "no WATCHDOG=1");
	nt_pump(1500);
	n = nt_count(first, "WATCHDOG=1");
	/* 15 expected in 1.5 s; a loaded machine may delay a few. */
	ck_assert_msg(n >= 5, "only %d WATCHDOG=1 in 1.5 s", n);
	ck_assert(h_file_has(logpath, "WATCHDOG=1 every 100 ms"));
}
END_TEST

/*
 * 8. Under an open file limit of 64, maxclients 10000 is lowered (with a
 * warning) to what fits; pubsubd still starts and serves, and refuses the
 * client past the lowered limit as it would at maxclients.
 */
START_TEST(low_fd_limit_lowers_maxclients_and_serves)
{
	char		*argv[] = { "prlimit", "--nofile=64:64", (char *)bin(),
			    "-c", env.conf, NULL };
	struct h_conn	*c[40], *sub, *x;
	int		 i, n = 0;

	h_start_redis(&env);
	conf_write(env.pubsubd_port, "limits = { maxclients = 10000; };");
	spawn(argv, NULL);
	sub = h_connect_within(env.pubsubd_port, 10000);
	ck_assert_ptr_nonnull(sub);
	ck_assert(log_wait("maxclients lowered to 31", 5000));
	ck_assert(h_file_has(logpath, "open file limit: 64"));
	ck_assert_int_eq(h_command(sub, "SUBSCRIBE", "fd", NULL), 0);
	ck_assert(h_expect_free(sub, h_frame_confirm("subscribe", "fd", 1)));

	/* 30 more make 31; the next is refused. */
	for (i = 0; i < 30; i++) {
		c[n] = h_connect(env.pubsubd_port);
		ck_assert_ptr_nonnull(c[n]);
		ck_assert_int_eq(h_sendstr(c[n], "PING\r\n"), 0);
		ck_assert(h_expect(c[n], "+PONG\r\n"));
		n++;
	}
	x = h_connect(env.pubsubd_port);
	ck_assert_ptr_nonnull(x);
	ck_assert(h_expect(x, "-ERR max number of clients reached\r\n"));
	h_close(x);
	ck_assert_int_eq(h_command(c[0], "PUBLISH", "fd", "ok", NULL), 0);
	ck_assert(h_expect(c[0], ":1\r\n"));
	ck_assert(h_expect_free(sub, h_frame_message("fd", "ok")));
	for (i = 0; i < n; i++)
		h_close(c[i]);
	h_close(sub);
}
END_TEST

/* 9. A soft limit below the hard one is raised to it, and logged. */
START_TEST(soft_fd_limit_is_raised_to_the_hard_one)
{
	char		*argv[] = { "prlimit", "--nofile=64:2048",
			    (char *)bin(), "-c", env.conf, NULL };
	struct h_conn	*c;

	h_start_redis(&env);
	conf_write(env.pubsubd_port, "limits = { maxclients = 100; };");
	spawn(argv, NULL);
	c = h_connect_within(env.pubsubd_port, 10000);
	ck_assert_ptr_nonnull(c);
	ck_assert(log_wait("raised the open file limit from 64 to 2048",
	    5000));
	ck_assert(!h_file_has(logpath, "maxclients lowered"));
	h_close(c);
}
END_TEST

/* Runs pubsubd on a socket systemd passes on 0.0.0.0:port (a fresh port). */
static struct h_conn *
spawn_on_any(char *tcp, size_t len, int *port)
{
	char	*argv[] = { "systemd-socket-activate", "-l", tcp,
		    (char *)bin(), "-c", env.conf, NULL };

	*port = h_free_port();
	snprintf(tcp, len, "0.0.0.0:%d", *port);
	spawn(argv, NULL);
	/* Only ever reached through loopback. */
	return h_connect_within(*port, 10000);
}

/*
 * 10. Protected mode applies to the sockets systemd passes: one on
 * 0.0.0.0 with no password is refused (exit 78, the log says why and how
 * to fix it); a password, or protected_mode = false, lets it serve.
 */
START_TEST(protected_mode_covers_a_passed_wildcard_socket)
{
	struct h_conn	*c;
	long long	 deadline;
	char		 tcp[64], want[128];
	int		 port, status = -1, got = 0;

	h_start_redis(&env);
	conf_write(env.pubsubd_port, NULL);
	c = spawn_on_any(tcp, sizeof(tcp), &port);
	ck_assert_msg(c != NULL, "systemd-socket-activate did not listen");
	deadline = h_now_ms() + 10000;
	while (!got && h_now_ms() < deadline) {
		if (waitpid(env.pubsubd_pid, &status, WNOHANG) ==
		    env.pubsubd_pid)
			got = 1;
		else
			usleep(50000);
	}
	h_close(c);
	ck_assert_msg(got, "pubsubd served an open wildcard socket");
	env.pubsubd_pid = 0;
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 78,
	    "status 0x%x", status);
	snprintf(want, sizeof(want), "protected mode: refusing to listen on "
	    "0.0.0.0:%d (passed by systemd)", port);
	ck_assert_msg(h_file_has(logpath, want), "no '%s' in the log", want);
	ck_assert(h_file_has(logpath, "set 'protected_mode = false;'"));

	/* With a password (of "secret"), it serves. */
	conf_write(env.pubsubd_port, "users = ( { name = \"default\"; "
	    "password_sha256 = \"2bb80d537b1da3e38bd30361aa855686bde0eacd7162f"
	    "ef6a25fe97bf527a25b\"; subscribe = [ \"*\" ]; } );");
	c = spawn_on_any(tcp, sizeof(tcp), &port);
	ck_assert_msg(c != NULL, "systemd-socket-activate did not listen");
	ck_assert_int_eq(h_command(c, "SUBSCRIBE", "news", NULL), 0);
	ck_assert(h_expect(c, "-NOAUTH Authentication required.\r\n"));
	ck_assert_int_eq(h_command(c, "AUTH", "secret", NULL), 0);
	ck_assert(h_expect(c, "+OK\r\n"));
	ck_assert_int_eq(h_command(c, "SUBSCRIBE", "news", NULL), 0);
	ck_assert(h_expect_free(c, h_frame_confirm("subscribe", "news", 1)));
	h_close(c);
	status = h_kill(env.pubsubd_pid, 5000);
	env.pubsubd_pid = 0;
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status 0x%x", status);

	/* With protected_mode = false, it serves anyone. */
	conf_write(env.pubsubd_port, "protected_mode = false;");
	c = spawn_on_any(tcp, sizeof(tcp), &port);
	ck_assert_msg(c != NULL, "systemd-socket-activate did not listen");
	ck_assert_int_eq(h_command(c, "PING", NULL), 0);
	ck_assert(h_expect(c, "+PONG\r\n"));
	h_close(c);
	status = h_kill(env.pubsubd_pid, 5000);
	env.pubsubd_pid = 0;
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status 0x%x", status);
}
END_TEST

/* Adds test fn as a case of its own, with the fixture and a timeout. */
static void
add(Suite *s, const char *name, const TTest *fn)
{
	TCase	*tc = tcase_create(name);

	tcase_add_checked_fixture(tc, test_setup, test_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, fn);
	suite_add_tcase(s, tc);
}

/* The suite: one case per test, each with servers of its own. */
static Suite *
systemd_suite(void)
{
	Suite	*s = suite_create("integ_systemd");

	add(s, "activation", socket_activation_serves_the_passed_sockets_only);
	add(s, "activation_dgram",
	    socket_activation_refuses_a_datagram_socket);
	add(s, "ready_redis", ready_waits_until_redis_is_connected);
	add(s, "ready_timeout", ready_after_ready_timeout_without_redis);
	add(s, "reload_stop", reload_and_stop_are_announced);
	add(s, "status", status_follows_clients_subscriptions_and_redis);
	add(s, "watchdog", watchdog_is_fed_every_half_interval);
	add(s, "nofile_low", low_fd_limit_lowers_maxclients_and_serves);
	add(s, "nofile_raise", soft_fd_limit_is_raised_to_the_hard_one);
	add(s, "protected", protected_mode_covers_a_passed_wildcard_socket);
	return s;
}

/* Runs every test; exits 0 if all passed, 77 (skipped) without systemd. */
int
main(void)
{
#ifndef HAVE_LIBSYSTEMD
	printf("SKIP: pubsubd is built without libsystemd (--without-systemd)"
	    "\n");
	return 77;
#endif
	return check_run(systemd_suite());
}
