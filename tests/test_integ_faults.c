/*
 * test_integ_faults.c: pubsubd when things go wrong, end to end. Each test
 * starts its own redis-server and pubsubd with the configuration it needs
 * (so one test's limits or outage cannot touch another): Redis killed and
 * restarted, or hung, under streaming clients; commands while Redis is down;
 * the output, client, query buffer, subscription and idle limits; a churn of
 * abrupt clients that must leave nothing upstream; a clean stop on SIGTERM
 * that flushes what clients are owed; stalled readers of interleaved
 * channels, whose output queues in pieces. Every wait has a deadline and
 * every loop a bound. The timings worth quoting (reconnect, detection,
 * delivery) are printed on stderr as lines starting "faults:".
 *
 * Each test runs in a child process of Check's; the servers it starts die
 * with it. Its directory is made by the parent, which reports (and keeps)
 * what is left there when a test failed.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>

#include "check_run.h"

#include "harness.h"

#define PRIVATE_PREFIX	"__pubsubd__:"	/* pubsubd's own channels */
#define RX_KINDS	3		/* message, pmessage, smessage */

/* A subscriber whose numbered messages are checked as they arrive. */
struct rx {
	struct h_conn	*c;		/* owned */
	long long	 next[RX_KINDS]; /* the next "post:N" expected */
	long long	 want[RX_KINDS]; /* how many "post:" it must get */
	long long	 frames;	/* every frame read */
	int		 eof;		/* pubsubd closed the connection */
	char		 bad[160];	/* the first thing wrong, or "" */
};

static void		 dir_make(void);
static void		 dir_check(void);
static void		 test_setup(void);
static void		 test_teardown(void);
static void		 env_start(const char *, const char *);
static void		 redis_kill9(void);
static void		 redis_restart(void);
static struct h_conn	*subscriber(const char *, const char *, int);
static struct h_conn	*connect_small(int, int);
static struct h_conn	*il_subscriber(int, int);
static void		 close_rst(struct h_conn *);
static int		 frame_elems(const char *, size_t, const char **,
			    size_t *, int);
static void		 rx_frame(struct rx *, const char *, size_t);
static void		 rx_feed(struct rx *);
static void		 rx_pump(struct rx *, int, int);
static int		 rx_done(const struct rx *);
static int		 rx_wait(struct rx *, int, long long);
static void		 rx_check(struct rx *, int, const char *);
static void		 rx_close(struct rx *, int);
static void		 rx_idle(struct rx *, int, int);
static void		 publish_many(const char *, const char *, long long,
			    int, size_t, int);
static long long	 pubsub_num(struct h_conn *, const char *,
			    const char *);
static long long	 pubsub_foreign(struct h_conn *, const char *,
			    char *, size_t);
static long long	 info_wait(const char *, const char *, long long,
			    int);
static int		 log_has(const char *, const char *);
static pid_t		 pre_publisher(void);
static struct h_conn	*accepted_client(int);
static int		 churn_name(int, char *, size_t);
static struct h_conn	*churn_client(unsigned int *);
static void		 add(Suite *, const char *, const TTest *);
static Suite		*faults_suite(void);

static struct h_env	 env;
static struct h_conn	*redis;		/* direct to redis-server, per test */

static const char *const rx_kind[RX_KINDS] = {
	"message", "pmessage", "smessage"
};

/* Before each test, in Check's parent: makes the test's directory. */
static void
dir_make(void)
{
	h_dir_make(&env);
}

/*
 * After each test, in Check's parent: a directory still there means the
 * test failed (a passing one removes it); show the end of pubsubd's log
 * unless the teardown already did.
 */
static void
dir_check(void)
{
	struct stat	st;
	char		path[400], cmd[600];

	if (env.dir[0] == '\0' || stat(env.dir, &st) == -1 ||
	    getenv("HARNESS_KEEP") != NULL)
		return;
	snprintf(path, sizeof(path), "%s/reported", env.dir);
	if (stat(path, &st) == 0)
		return;
	fprintf(stderr, "faults: the test failed; its files are kept in %s; "
	    "the end of pubsubd.log:\n", env.dir);
	snprintf(cmd, sizeof(cmd), "tail -n 40 '%s/pubsubd.log' >&2",
	    env.dir);
	if (system(cmd) != 0)
		fprintf(stderr, "faults: '%s' failed\n", cmd);
}

/* Before each test, in its own process. */
static void
test_setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	redis = NULL;
}

/*
 * After a test that passed: stops pubsubd (which must exit 0: a clean stop,
 * no leak under the sanitizers) and redis-server, and removes the directory.
 */
static void
test_teardown(void)
{
	char	cmd[400];
	int	ok = 1;
	FILE	*f;

	h_close(redis);
	redis = NULL;
	if (env.pubsubd_pid > 0)
		ok = h_stop(&env) == 0;
	else {
		/* The test stopped pubsubd itself. */
		h_kill(env.redis_pid, 5000);
		env.redis_pid = 0;
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", env.dir);
		if (getenv("HARNESS_KEEP") == NULL && system(cmd) != 0)
			fprintf(stderr, "faults: '%s' failed\n", cmd);
	}
	if (!ok) {
		snprintf(cmd, sizeof(cmd), "%s/reported", env.dir);
		if ((f = fopen(cmd, "w")) != NULL)
			fclose(f);
	}
	ck_assert_msg(ok, "pubsubd did not stop cleanly (files in %s)",
	    env.dir);
}

/* Starts redis-server and pubsubd with this configuration, and `redis`. */
static void
env_start(const char *redis_extra, const char *extra)
{
	ck_assert_msg(h_start_with(&env, redis_extra, extra) == 0,
	    "pubsubd did not start with redis { %s } %s (see %s)",
	    redis_extra ? redis_extra : "", extra ? extra : "", env.dir);
	redis = h_connect(env.redis_port);
	ck_assert_ptr_nonnull(redis);
}

/* kill -9 redis-server (and forget the direct connection to it). */
static void
redis_kill9(void)
{
	int	status;

	h_close(redis);
	redis = NULL;
	kill(env.redis_pid, SIGKILL);
	waitpid(env.redis_pid, &status, 0);
	env.redis_pid = 0;
}

/* Starts redis-server again on the same port, and `redis` with it. */
static void
redis_restart(void)
{
	h_start_redis(&env);
	redis = h_connect(env.redis_port);
	ck_assert_ptr_nonnull(redis);
}

/*
 * Connects to pubsubd (with a receive buffer of rcvbuf bytes if not 0) and
 * subscribes with cmd ("SUBSCRIBE", ...) to name, its only subscription.
 */
static struct h_conn *
subscriber(const char *cmd, const char *name, int rcvbuf)
{
	struct h_conn	*c;
	char		 kind[16];
	size_t		 i;

	c = rcvbuf ? connect_small(env.pubsubd_port, rcvbuf) :
	    h_connect(env.pubsubd_port);
	ck_assert_ptr_nonnull(c);
	for (i = 0; cmd[i] != '\0' && i < sizeof(kind) - 1; i++)
		kind[i] = (char)(cmd[i] | 0x20);
	kind[i] = '\0';
	ck_assert_int_eq(h_command(c, cmd, name, NULL), 0);
	ck_assert(h_expect_free(c, h_frame_confirm(kind, name, 1)));
	return c;
}

/*
 * Connects to 127.0.0.1:port with a receive buffer of rcvbuf bytes and a
 * small MSS, both set before connecting: such a client, if it does not
 * read, makes pubsubd's output pile up in pubsubd after about 128 KiB.
 * (With loopback's 64 KiB MSS, Linux grows the sender's socket buffer to
 * tcp_wmem's maximum, 4 MiB here, and pubsubd would see nothing pending.)
 */
static struct h_conn *
connect_small(int port, int rcvbuf)
{
	struct sockaddr_in	 sin;
	struct h_conn		*c;
	int			 fd, one = 1, mss = 536;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return NULL;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return NULL;
	}
	c->fd = fd;
	return c;
}

/* Closes a connection with a reset instead of a FIN. */
static void
close_rst(struct h_conn *c)
{
	struct linger	l = { 1, 0 };

	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	h_close(c);
}

/*
 * The elements of the array frame f (bulk strings and integers): up to max
 * pointers and lengths; returns their number, or -1 if f is not an array.
 */
static int
frame_elems(const char *f, size_t len, const char **el, size_t *ell, int max)
{
	const char	*p = f, *end = f + len, *eol;
	long long	 n, i, l;

	if (len < 4 || (f[0] != '*' && f[0] != '>'))
		return -1;
	n = strtoll(f + 1, NULL, 10);
	if ((p = memchr(p, '\n', len)) == NULL)
		return -1;
	p++;
	for (i = 0; i < n && i < max && p < end; i++) {
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			return -1;
		if (p[0] == '$') {
			l = strtoll(p + 1, NULL, 10);
			if (l < 0 || eol + 1 + l > end)
				return -1;
			el[i] = eol + 1;
			ell[i] = (size_t)l;
			p = eol + 1 + l + 2;
		} else {
			el[i] = p + 1;
			ell[i] = (size_t)(eol - 1 - (p + 1));
			p = eol + 1;
		}
	}
	return (int)i;
}

/*
 * Checks one frame a subscriber got: the payloads "post:N[:padding]" of
 * each kind must come in order from 0, each once; anything else (earlier
 * traffic such as "pre:N", confirmations) must come before the first.
 */
static void
rx_frame(struct rx *x, const char *f, size_t len)
{
	const char	*el[4];
	size_t		 ell[4];
	long long	 num;
	int		 n, k;

	x->frames++;
	if ((n = frame_elems(f, len, el, ell, 4)) < 3)
		return;
	for (k = 0; k < RX_KINDS; k++)
		if (ell[0] == strlen(rx_kind[k]) &&
		    memcmp(el[0], rx_kind[k], ell[0]) == 0)
			break;
	if (k == RX_KINDS || n != (k == 1 ? 4 : 3))
		return;
	if (ell[n - 1] > 5 && memcmp(el[n - 1], "post:", 5) == 0) {
		num = strtoll(el[n - 1] + 5, NULL, 10);
		if (num != x->next[k] && x->bad[0] == '\0')
			snprintf(x->bad, sizeof(x->bad), "%s post:%lld where "
			    "post:%lld was due", rx_kind[k], num, x->next[k]);
		if (num >= x->want[k] && x->bad[0] == '\0')
			snprintf(x->bad, sizeof(x->bad), "%s post:%lld: not "
			    "published yet (a duplicate?)", rx_kind[k], num);
		x->next[k] = num + 1;
	} else if (x->next[k] > 0 && x->bad[0] == '\0')
		snprintf(x->bad, sizeof(x->bad), "%s %.*s after post:%lld",
		    rx_kind[k], (int)(ell[n - 1] < 40 ? ell[n - 1] : 40),
		    el[n - 1], x->next[k] - 1);
}

/* Checks the whole frames in x's buffer and keeps the rest. */
static void
rx_feed(struct rx *x)
{
	struct h_conn	*c = x->c;
	size_t		 off = 0, n;

	while (off < c->len &&
	    (n = h_resp_size(c->buf + off, c->len - off)) > 0) {
		rx_frame(x, c->buf + off, n);
		off += n;
	}
	if (off > 0) {
		memmove(c->buf, c->buf + off, c->len - off);
		c->len -= off;
	}
}

/* Reads what arrives on n subscribers within wait_ms, checking it. */
static void
rx_pump(struct rx *xs, int n, int wait_ms)
{
	struct pollfd	 pfd[256];
	struct h_conn	*c;
	char		*nb;
	ssize_t		 r;
	int		 i;

	ck_assert_int_le(n, 256);
	for (i = 0; i < n; i++) {
		rx_feed(&xs[i]);
		pfd[i].fd = xs[i].eof ? -1 : xs[i].c->fd;
		pfd[i].events = POLLIN;
		pfd[i].revents = 0;
	}
	if (poll(pfd, (nfds_t)n, wait_ms) <= 0)
		return;
	for (i = 0; i < n; i++) {
		if (pfd[i].revents == 0)
			continue;
		c = xs[i].c;
		if (c->cap - c->len < 65536) {
			nb = realloc(c->buf, c->cap + 262144);
			ck_assert_ptr_nonnull(nb);
			c->buf = nb;
			c->cap += 262144;
		}
		r = recv(c->fd, c->buf + c->len, c->cap - c->len,
		    MSG_DONTWAIT);
		if (r > 0) {
			c->len += (size_t)r;
			rx_feed(&xs[i]);
		} else if (r == 0 || (errno != EINTR && errno != EAGAIN))
			xs[i].eof = 1;
	}
}

/* Whether x has all it must get (or can get no more). */
static int
rx_done(const struct rx *x)
{
	int	k;

	if (x->eof || x->bad[0] != '\0')
		return 1;
	for (k = 0; k < RX_KINDS; k++)
		if (x->next[k] < x->want[k])
			return 0;
	return 1;
}

/* Reads until every subscriber is done or the deadline; 1 if all were. */
static int
rx_wait(struct rx *xs, int n, long long deadline)
{
	int	i, done = 0, rounds;

	/* Bounded twice: by the clock, and by a count of 20 ms rounds. */
	for (rounds = 0; rounds < 100000; rounds++) {
		for (i = 0, done = 1; i < n && done; i++)
			done = rx_done(&xs[i]);
		if (done || h_now_ms() >= deadline)
			break;
		rx_pump(xs, n, 20);
	}
	return done;
}

/* Asserts that every subscriber got exactly what it wanted, and is open. */
static void
rx_check(struct rx *xs, int n, const char *what)
{
	int	i, k;

	for (i = 0; i < n; i++) {
		ck_assert_msg(xs[i].bad[0] == '\0', "%s: client %d: %s", what,
		    i, xs[i].bad);
		ck_assert_msg(!xs[i].eof, "%s: client %d was disconnected",
		    what, i);
		for (k = 0; k < RX_KINDS; k++)
			ck_assert_msg(xs[i].next[k] == xs[i].want[k],
			    "%s: client %d got %lld of %lld %s", what, i,
			    xs[i].next[k], xs[i].want[k], rx_kind[k]);
	}
}

/* Closes n subscribers. */
static void
rx_close(struct rx *xs, int n)
{
	int	i;

	for (i = 0; i < n; i++) {
		h_close(xs[i].c);
		xs[i].c = NULL;
	}
}

/*
 * Publishes count messages "post:FROM..." (padded with 'x' to size bytes
 * if size is larger) to channel straight to Redis with cmd (PUBLISH or
 * SPUBLISH), pipelined; asserts that each reaches exactly receivers
 * subscribers in Redis' count, unless receivers is -1.
 */
static void
publish_many(const char *cmd, const char *channel, long long from, int count,
    size_t size, int receivers)
{
	FILE		*f;
	char		*buf = NULL, *pay, *rep;
	size_t		 len = 0, plen;
	int		 i;

	pay = malloc(size + 64);
	ck_assert_ptr_nonnull(pay);
	f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	for (i = 0; i < count; i++) {
		plen = (size_t)snprintf(pay, 64, "post:%lld:", from + i);
		if (plen < size) {
			memset(pay + plen, 'x', size - plen);
			plen = size;
		}
		fprintf(f, "*3\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n$%zu\r\n",
		    strlen(cmd), cmd, strlen(channel), channel, plen);
		fwrite(pay, 1, plen, f);
		fputs("\r\n", f);
	}
	fclose(f);
	ck_assert_int_eq(h_send(redis, buf, len), 0);
	for (i = 0; i < count; i++) {
		rep = h_reply(redis, NULL, H_TIMEOUT_MS);
		ck_assert_msg(rep != NULL, "no reply to %s", cmd);
		if (receivers != -1)
			ck_assert_msg(h_int(rep) == receivers, "%s %s: Redis "
			    "counted %s, not %d (one upstream subscription)",
			    cmd, channel, rep, receivers);
		free(rep);
	}
	free(buf);
	free(pay);
}

/*
 * Asks Redis (on r) PUBSUB sub (NUMPAT, or NUMSUB / SHARDNUMSUB of name):
 * the last integer of the reply, or -1.
 */
static long long
pubsub_num(struct h_conn *r, const char *sub, const char *name)
{
	char		*rep, *p;
	long long	 n = -1;

	if (r == NULL)
		return -1;
	if ((name != NULL ? h_command(r, "PUBSUB", sub, name, NULL) :
	    h_command(r, "PUBSUB", sub, NULL)) == -1 ||
	    (rep = h_reply(r, NULL, H_TIMEOUT_MS)) == NULL)
		return -1;
	if ((p = strrchr(rep, ':')) != NULL && p > rep && p[-1] == '\n')
		n = strtoll(p + 1, NULL, 10);
	else if (rep[0] == ':')
		n = h_int(rep);
	free(rep);
	return n;
}

/*
 * Asks Redis (on r) PUBSUB sub (CHANNELS or SHARDCHANNELS) and returns how
 * many of the names are not pubsubd's private ones (one of them copied to
 * example), or -1.
 */
static long long
pubsub_foreign(struct h_conn *r, const char *sub, char *example,
    size_t exlen)
{
	const char	*el[4096];
	size_t		 ell[4096];
	char		*rep;
	size_t		 len;
	long long	 n = 0;
	int		 i, count;

	if (h_command(r, "PUBSUB", sub, NULL) == -1 ||
	    (rep = h_reply(r, &len, H_TIMEOUT_MS)) == NULL)
		return -1;
	count = frame_elems(rep, len, el, ell, 4096);
	for (i = 0; i < count; i++) {
		if (ell[i] >= strlen(PRIVATE_PREFIX) && memcmp(el[i],
		    PRIVATE_PREFIX, strlen(PRIVATE_PREFIX)) == 0)
			continue;
		if (n++ == 0)
			snprintf(example, exlen, "%.*s", (int)ell[i], el[i]);
	}
	free(rep);
	return count < 0 ? -1 : n;
}

/*
 * Polls pubsubd's INFO section until field is at least min or timeout_ms
 * pass; returns the last value (-1 if never answered).
 */
static long long
info_wait(const char *section, const char *field, long long min,
    int timeout_ms)
{
	long long	deadline = h_now_ms() + timeout_ms, v;

	while ((v = h_info_field(env.pubsubd_port, section, field, 1000)) <
	    min && h_now_ms() < deadline)
		usleep(20000);
	return v;
}

/* Whether a line of pubsubd's log holds both a and b. */
static int
log_has(const char *a, const char *b)
{
	char	 path[300], line[1024];
	FILE	*f;
	int	 found = 0, n;

	snprintf(path, sizeof(path), "%s/pubsubd.log", env.dir);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	for (n = 0; !found && n < 100000 && fgets(line, sizeof(line), f) !=
	    NULL; n++)
		found = strstr(line, a) != NULL && strstr(line, b) != NULL;
	fclose(f);
	return found;
}

/* Publishes pre:N to the three streams of test 1 until Redis goes away. */
static pid_t
pre_publisher(void)
{
	pid_t		 pid, parent = getpid();
	struct h_conn	*r;
	long long	 i, end;
	char		 pay[32], *rep;
	int		 k;

	ck_assert_int_ne(pid = fork(), -1);
	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	r = h_connect(env.redis_port);
	end = h_now_ms() + 30000;
	for (i = 0; r != NULL && i < 1000000 && h_now_ms() < end; i++) {
		snprintf(pay, sizeof(pay), "pre:%lld", i);
		if (h_command(r, "PUBLISH", "t1.ch", pay, NULL) == -1 ||
		    h_command(r, "PUBLISH", "t1.pat.x", pay, NULL) == -1 ||
		    h_command(r, "SPUBLISH", "t1.shard", pay, NULL) == -1)
			break;
		for (k = 0; k < 3; k++) {
			if ((rep = h_reply(r, NULL, 2000)) == NULL)
				_exit(0);
			free(rep);
		}
		usleep(1000);
	}
	_exit(0);
}

/*
 * 1. kill -9 Redis while 100 clients stream, restart it on the same port:
 * pubsubd resubscribes the channel, the pattern and the shard channel, once
 * each, and every message published after that reaches every client once,
 * in order; the outage is counted.
 */
START_TEST(redis_kill9_restart_resubscribes_all_100_clients_exactly_once)
{
	struct rx	 xs[100];
	struct h_conn	*c;
	pid_t		 pub;
	long long	 t_kill, t_back, t_resub, t_pub, t_done, deadline;
	int		 i, resubscribed = 0, status, m;

	env_start("connect_timeout = 2000; backoff_min = 100; "
	    "backoff_max = 5000; health_interval = 1000; "
	    "command_timeout = 5000;", NULL);
	memset(xs, 0, sizeof(xs));
	for (i = 0; i < 100; i++) {
		c = xs[i].c = h_connect(env.pubsubd_port);
		ck_assert_ptr_nonnull(c);
		ck_assert_int_eq(h_command(c, "SUBSCRIBE", "t1.ch", NULL), 0);
		ck_assert(h_expect_free(c, h_frame_confirm("subscribe", "t1.ch", 1)));
		xs[i].want[0] = 200;
		if (i < 20) {
			ck_assert_int_eq(h_command(c, "PSUBSCRIBE", "t1.pat.*",
			    NULL), 0);
			ck_assert(h_expect_free(c, h_frame_confirm("psubscribe",
			    "t1.pat.*", 2)));
			xs[i].want[1] = 200;
		} else if (i < 40) {
			ck_assert_int_eq(h_command(c, "SSUBSCRIBE", "t1.shard",
			    NULL), 0);
			ck_assert(h_expect_free(c, h_frame_confirm("ssubscribe",
			    "t1.shard", 1)));
			xs[i].want[2] = 200;
		}
	}
	ck_assert_int_eq(pubsub_num(redis, "NUMSUB", "t1.ch"), 1);
	ck_assert_int_eq(pubsub_num(redis, "NUMPAT", NULL), 1);
	ck_assert_int_eq(pubsub_num(redis, "SHARDNUMSUB", "t1.shard"), 1);

	/* Stream for half a second, then kill Redis in mid-stream. */
	pub = pre_publisher();
	deadline = h_now_ms() + 500;
	for (i = 0; i < 1000 && h_now_ms() < deadline; i++)
		rx_pump(xs, 100, 20);
	t_kill = h_now_ms();
	redis_kill9();
	kill(pub, SIGKILL);
	waitpid(pub, &status, 0);
	for (i = 0; i < 100; i++)
		ck_assert_msg(xs[i].frames > 0, "client %d got nothing before "
		    "the kill", i);
	redis_restart();
	t_back = h_now_ms();

	/* Wait (at most 10 s) for pubsubd to hold all three again. */
	deadline = t_kill + 10000;
	for (i = 0; i < 100000 && h_now_ms() < deadline; i++) {
		if (pubsub_num(redis, "NUMSUB", "t1.ch") == 1 &&
		    pubsub_num(redis, "NUMPAT", NULL) == 1 &&
		    pubsub_num(redis, "SHARDNUMSUB", "t1.shard") == 1) {
			resubscribed = 1;
			break;
		}
		rx_pump(xs, 100, 5);
	}
	t_resub = h_now_ms();
	ck_assert_msg(resubscribed, "pubsubd did not resubscribe within 10 s "
	    "of the kill");
	fprintf(stderr, "faults: kill -9: redis back %lld ms after the kill; "
	    "pubsubd resubscribed (channel, pattern, shard channel) %lld ms "
	    "after the kill, %lld ms after redis was back\n",
	    t_back - t_kill, t_resub - t_kill, t_resub - t_back);

	/* 200 numbered messages on each: each client gets each once. */
	t_pub = h_now_ms();
	for (m = 0; m < 200; m += 50) {
		publish_many("PUBLISH", "t1.ch", m, 50, 0, 1);
		publish_many("PUBLISH", "t1.pat.x", m, 50, 0, 1);
		publish_many("SPUBLISH", "t1.shard", m, 50, 0, 1);
		rx_pump(xs, 100, 0);
	}
	rx_wait(xs, 100, h_now_ms() + 10000);
	t_done = h_now_ms();
	/* A duplicate would come right behind: look a little longer. */
	for (i = 0; i < 10; i++)
		rx_pump(xs, 100, 20);
	rx_check(xs, 100, "after the restart");
	fprintf(stderr, "faults: kill -9: 3 x 200 messages after the "
	    "resubscription delivered to all 100 clients (28000 deliveries) "
	    "in %lld ms\n", t_done - t_pub);

	ck_assert_int_ge(h_info_field(env.pubsubd_port, "upstream",
	    "upstream_outages", 2000), 1);
	ck_assert_int_eq(h_info_field(env.pubsubd_port, "upstream",
	    "upstream_connected", 2000), 1);
	ck_assert_int_eq(h_info_field(env.pubsubd_port, "upstream",
	    "upstream_down_since_ms", 2000), 0);
	ck_assert_int_gt(h_info_field(env.pubsubd_port, "upstream",
	    "upstream_last_outage_ms", 2000), 0);
	ck_assert_msg(log_has("[warning]", "redis"), "the outage was not "
	    "logged (a warning naming redis)");
	rx_close(xs, 100);
}
END_TEST

/*
 * 2. Redis hung (SIGSTOP): the health check notices within health_timeout
 * plus two intervals (it looks once an interval) and drops the connection;
 * after SIGCONT pubsubd is back and resubscribed within two intervals plus
 * the backoff, and delivers again.
 */
START_TEST(redis_hung_sigstop_detected_and_recovered_by_health_check)
{
	struct rx	 x;
	long long	 t_stop, t_down = 0, t_cont, t_up = 0, deadline;
	long long	 v, probes;
	char		 pay[32];
	int		 i;

	env_start("connect_timeout = 500; backoff_min = 100; "
	    "backoff_max = 200; health_interval = 200; health_timeout = 400;",
	    NULL);
	memset(&x, 0, sizeof(x));
	x.c = subscriber("SUBSCRIBE", "t2.ch", 0);
	ck_assert_int_eq(h_publish(redis, "t2.ch", "warm"), 1);
	ck_assert(h_expect_free(x.c, h_frame_message("t2.ch", "warm")));
	ck_assert_int_eq(info_wait("upstream", "upstream_connected", 1, 2000),
	    1);

	t_stop = h_now_ms();
	ck_assert_int_eq(kill(env.redis_pid, SIGSTOP), 0);
	deadline = t_stop + 3000;
	for (i = 0; i < 10000 && h_now_ms() < deadline; i++) {
		v = h_info_field(env.pubsubd_port, "upstream",
		    "upstream_connected", 1000);
		if (v == 0) {
			t_down = h_now_ms();
			break;
		}
		usleep(10000);
	}
	if (t_down == 0)
		kill(env.redis_pid, SIGCONT);
	ck_assert_msg(t_down != 0, "upstream_connected stayed 1 for 3 s "
	    "with redis stopped");
	/* Stay hung a while: pubsubd retries against a stopped Redis. */
	while (h_now_ms() < t_stop + 1500)
		usleep(10000);
	t_cont = h_now_ms();
	ck_assert_int_eq(kill(env.redis_pid, SIGCONT), 0);

	deadline = t_cont + 5000;
	for (i = 0; i < 10000 && h_now_ms() < deadline; i++) {
		if (h_info_field(env.pubsubd_port, "upstream",
		    "upstream_connected", 1000) == 1 &&
		    pubsub_num(redis, "NUMSUB", "t2.ch") == 1) {
			t_up = h_now_ms();
			break;
		}
		usleep(5000);
	}
	fprintf(stderr, "faults: SIGSTOP: upstream_connected 0 after %lld ms "
	    "(health_interval 200, health_timeout 400); after SIGCONT "
	    "connected and resubscribed in %lld ms (backoff_max 200)\n", t_down - t_stop,
	    t_up ? t_up - t_cont : -1);
	ck_assert_msg(t_down - t_stop <= 1500, "hang detected after %lld ms",
	    t_down - t_stop);
	ck_assert_msg(t_up != 0, "not resubscribed 5 s after SIGCONT");
	ck_assert_msg(t_up - t_cont <= 1500, "resubscribed %lld ms after "
	    "SIGCONT", t_up - t_cont);

	/* Delivery resumes: probe until one arrives, then exactly 50. */
	deadline = h_now_ms() + 3000;
	for (probes = 0; x.frames == 0 && h_now_ms() < deadline; probes++) {
		snprintf(pay, sizeof(pay), "probe:%lld", probes);
		ck_assert_int_ge(h_publish(redis, "t2.ch", pay), 0);
		rx_pump(&x, 1, 50);
	}
	ck_assert_msg(x.frames > 0, "nothing delivered after SIGCONT");
	x.want[0] = 50;
	publish_many("PUBLISH", "t2.ch", 0, 50, 0, -1);
	rx_wait(&x, 1, h_now_ms() + 5000);
	for (i = 0; i < 10; i++)
		rx_pump(&x, 1, 20);
	rx_check(&x, 1, "after SIGCONT");
	ck_assert_int_ge(h_info_field(env.pubsubd_port, "upstream",
	    "upstream_outages", 2000), 1);
	rx_close(&x, 1);
}
END_TEST

/*
 * 2b. A Redis that stalls for less than health_timeout (a slow command, a
 * big fan-out of its own) is not taken for hung: no reconnect, so nothing
 * published around the stall is lost. Before health_timeout, the heartbeat
 * gave up after one interval and the reconnect lost messages.
 */
START_TEST(redis_short_stall_is_not_an_outage)
{
	struct rx	 x;
	long long	 t_stop;
	int		 i;

	env_start("connect_timeout = 500; backoff_min = 100; "
	    "backoff_max = 200; health_interval = 100; health_timeout = 3000;",
	    NULL);
	memset(&x, 0, sizeof(x));
	x.c = subscriber("SUBSCRIBE", "t2b.ch", 0);
	ck_assert_int_eq(h_publish(redis, "t2b.ch", "warm"), 1);
	ck_assert(h_expect_free(x.c, h_frame_message("t2b.ch", "warm")));

	t_stop = h_now_ms();
	ck_assert_int_eq(kill(env.redis_pid, SIGSTOP), 0);
	/* Seven heartbeat intervals without a word from Redis. */
	while (h_now_ms() < t_stop + 700)
		usleep(10000);
	ck_assert_int_eq(kill(env.redis_pid, SIGCONT), 0);

	x.want[0] = 50;
	publish_many("PUBLISH", "t2b.ch", 0, 50, 0, -1);
	rx_wait(&x, 1, h_now_ms() + 5000);
	for (i = 0; i < 10; i++)
		rx_pump(&x, 1, 20);
	rx_check(&x, 1, "after a 700 ms stall");
	ck_assert_int_eq(h_info_field(env.pubsubd_port, "upstream",
	    "upstream_outages", 2000), 0);
	ck_assert_int_eq(h_info_field(env.pubsubd_port, "upstream",
	    "upstream_health_failures", 2000), 0);
	rx_close(&x, 1);
}
END_TEST

/*
 * 3. A subscriber that never reads is disconnected once its pending output
 * passes output_hard, while 100 others get every one of 3000 messages of
 * 1 KiB; pubsubd's memory stays bounded.
 */
START_TEST(never_reading_client_cut_at_output_hard_others_get_everything)
{
	struct rx	 xs[100];
	struct h_conn	*slow;
	long long	 rss0, rss, rssmax, t0, cut;
	int		 i, m;

	env_start(NULL, "limits = { output_hard = 1048576; "
	    "output_soft = 1048576; output_soft_seconds = 60; };");
	memset(xs, 0, sizeof(xs));
	for (i = 0; i < 100; i++)
		xs[i].c = subscriber("SUBSCRIBE", "t3.ch", 0);
	slow = subscriber("SUBSCRIBE", "t3.ch", 4096);
	rss0 = rssmax = h_rss_kb(env.pubsubd_pid);
	ck_assert_int_gt(rss0, 0);

	/* In steps of 50: the readers read as they go. */
	t0 = h_now_ms();
	for (m = 0; m < 3000; m += 50) {
		publish_many("PUBLISH", "t3.ch", m, 50, 1024, 1);
		for (i = 0; i < 100; i++)
			xs[i].want[0] = m + 50;
		ck_assert_msg(rx_wait(xs, 100, h_now_ms() + 10000),
		    "readers stuck at message %d", m);
		if ((rss = h_rss_kb(env.pubsubd_pid)) > rssmax)
			rssmax = rss;
	}
	rx_check(xs, 100, "readers");
	cut = info_wait("stats", "clients_cut_hard", 1, 2000);
	fprintf(stderr, "faults: output_hard: 3000 x 1 KiB to 100 readers in "
	    "%lld ms; pubsubd VmRSS %lld KiB before, at most %lld KiB during\n",
	    h_now_ms() - t0, rss0, rssmax);
	ck_assert_int_ge(cut, 1);
	/* It gets what was already on its way, then the end. */
	ck_assert_msg(h_closed(slow, 5000), "the non-reader was not "
	    "disconnected");
	ck_assert_int_lt(rssmax - rss0, 64 * 1024);
	ck_assert_int_eq(h_info_field(env.pubsubd_port, "stats",
	    "clients_cut_soft", 2000), 0);
	h_close(slow);
	rx_close(xs, 100);
}
END_TEST

/* Pumps n subscribers for ms milliseconds, whatever arrives. */
static void
rx_idle(struct rx *xs, int n, int ms)
{
	long long	end = h_now_ms() + ms;
	int		i;

	for (i = 0; i < 1000 && h_now_ms() < end; i++)
		rx_pump(xs, n, (int)(end - h_now_ms()));
}

#define SOFT_N	4	/* slow clients, their bursts 250 ms apart */

/*
 * 4. A subscriber above output_soft for longer than output_soft_seconds is
 * disconnected, though far below output_hard, and not before that time.
 * Four slow clients go over the limit 250 ms apart, at different points of
 * a second, so that a limit kept in whole seconds is seen cutting early.
 */
START_TEST(slow_client_cut_after_output_soft_seconds)
{
	struct rx	 xs[SOFT_N];
	struct h_conn	*slow[SOFT_N];
	long long	 t0, burst[SOFT_N] = { 0 }, tcut[SOFT_N], n[SOFT_N];
	long long	 cuts;
	char		 ch[SOFT_N][16];
	int		 i, j, ncut = 0;

	env_start(NULL, "limits = { output_hard = 67108864; "
	    "output_soft = 65536; output_soft_seconds = 1; };");
	memset(xs, 0, sizeof(xs));
	for (j = 0; j < SOFT_N; j++) {
		snprintf(ch[j], sizeof(ch[j]), "t4.ch%d", j);
		xs[j].c = subscriber("SUBSCRIBE", ch[j], 0);
		slow[j] = subscriber("SUBSCRIBE", ch[j], 4096);
		n[j] = 0;
	}

	/*
	 * Each slow client gets a burst of 600 KiB (its reader reads as it
	 * goes), then a trickle every 100 ms keeps it above the soft limit
	 * and pubsubd looking; the cuts are timed from INFO.
	 */
	t0 = h_now_ms();
	for (i = 0; i < 100 && ncut < SOFT_N && h_now_ms() < t0 + 6000; i++) {
		for (j = 0; j < SOFT_N; j++) {
			if (burst[j] == 0 && h_now_ms() >= t0 + 250 * j) {
				burst[j] = h_now_ms();
				for (; n[j] < 600; n[j] += 50) {
					publish_many("PUBLISH", ch[j], n[j],
					    50, 1024, 1);
					xs[j].want[0] = n[j] + 50;
					ck_assert(rx_wait(xs, SOFT_N,
					    h_now_ms() + 5000));
				}
			} else if (burst[j] != 0) {
				publish_many("PUBLISH", ch[j], n[j]++, 1, 1024,
				    1);
				xs[j].want[0] = n[j];
			}
		}
		ck_assert(rx_wait(xs, SOFT_N, h_now_ms() + 5000));
		cuts = h_info_field(env.pubsubd_port, "stats",
		    "clients_cut_soft", 1000);
		for (; ncut < cuts && ncut < SOFT_N; ncut++)
			tcut[ncut] = h_now_ms();
		rx_idle(xs, SOFT_N, 100);
	}
	for (j = 0; j < ncut; j++)
		fprintf(stderr, "faults: output_soft: cut number %d came %lld "
		    "ms after burst %d began (output_soft_seconds 1)\n", j + 1,
		    tcut[j] - burst[j], j + 1);
	ck_assert_msg(ncut == SOFT_N, "%d of %d slow clients cut in 6 s",
	    ncut, SOFT_N);
	/* The j-th cut cannot come before the j-th client was over 1 s. */
	for (j = 0; j < SOFT_N; j++)
		ck_assert_msg(tcut[j] - burst[j] >= 950, "a slow client was "
		    "cut %lld ms after its burst, before output_soft_seconds",
		    tcut[j] - burst[j]);
	for (j = 0; j < SOFT_N; j++) {
		ck_assert_msg(h_closed(slow[j], 5000), "slow client %d is "
		    "still connected", j);
		h_close(slow[j]);
	}
	ck_assert_int_eq(h_info_field(env.pubsubd_port, "stats",
	    "clients_cut_hard", 2000), 0);
	rx_check(xs, SOFT_N, "readers");
	rx_close(xs, SOFT_N);
}
END_TEST

/* A new client that PING answers (retried while pubsubd frees a slot). */
static struct h_conn *
accepted_client(int timeout_ms)
{
	long long	 deadline = h_now_ms() + timeout_ms;
	struct h_conn	*c;
	char		*r;
	int		 i, ok;

	for (i = 0; i < 1000 && h_now_ms() < deadline; i++) {
		if ((c = h_connect(env.pubsubd_port)) == NULL)
			return NULL;
		ok = 0;
		if (h_sendstr(c, "PING\r\n") == 0 &&
		    (r = h_reply(c, NULL, 1000)) != NULL) {
			ok = strcmp(r, "+PONG\r\n") == 0;
			free(r);
		}
		if (ok)
			return c;
		h_close(c);
		usleep(20000);
	}
	return NULL;
}

/*
 * 5. maxclients: the client past it gets the error and is closed; once one
 * leaves, a new one is served.
 */
START_TEST(maxclients_refuses_the_next_client_with_error)
{
	struct h_conn	*c[5], *extra;
	int		 i;

	env_start(NULL, "limits = { maxclients = 5; };");
	for (i = 0; i < 5; i++) {
		c[i] = accepted_client(3000);
		ck_assert_msg(c[i] != NULL, "client %d of 5 not served", i);
	}
	extra = h_connect(env.pubsubd_port);
	ck_assert_ptr_nonnull(extra);
	ck_assert(h_expect(extra, "-ERR max number of clients reached\r\n"));
	ck_assert(h_closed(extra, 2000));
	h_close(extra);
	ck_assert_int_ge(h_info_on(c[0], "stats", "clients_rejected_max",
	    2000), 1);
	ck_assert_int_eq(h_info_on(c[0], "clients", "connected_clients",
	    2000), 5);

	h_close(c[4]);
	c[4] = accepted_client(3000);
	ck_assert_msg(c[4] != NULL, "no client served after one left");
	extra = h_connect(env.pubsubd_port);
	ck_assert_ptr_nonnull(extra);
	ck_assert(h_expect(extra, "-ERR max number of clients reached\r\n"));
	ck_assert(h_closed(extra, 2000));
	h_close(extra);
	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(h_sendstr(c[i], "PING\r\n"), 0);
		ck_assert(h_expect(c[i], "+PONG\r\n"));
		h_close(c[i]);
	}
}
END_TEST

/*
 * 6. query_buffer: a client that sends more than that without completing a
 * request is closed; pipelined complete requests of the same size are
 * served; a subscriber does not notice.
 */
START_TEST(query_buffer_limit_closes_unfinished_request)
{
	static const char hdr[] =
	    "*3\r\n$7\r\nPUBLISH\r\n$5\r\nt6.ch\r\n$200000\r\n";
	struct h_conn	*by, *victim, *pl;
	char		*big, *want, *got;
	size_t		 n = 102400 / 6, i;

	env_start(NULL, "limits = { query_buffer = 65536; };");
	by = subscriber("SUBSCRIBE", "t6.ch", 0);
	big = malloc(7 * n + 1);
	ck_assert_ptr_nonnull(big);

	victim = h_connect(env.pubsubd_port);
	ck_assert_ptr_nonnull(victim);
	ck_assert_int_eq(h_sendstr(victim, hdr), 0);
	memset(big, 'x', 102400);
	(void)h_send(victim, big, 102400);	/* may fail: it is closed */
	ck_assert_msg(h_closed(victim, 3000), "a 100 KiB unfinished request "
	    "was kept");
	h_close(victim);
	ck_assert_int_ge(info_wait("stats", "query_buffer_cut", 1, 2000), 1);

	pl = h_connect(env.pubsubd_port);
	ck_assert_ptr_nonnull(pl);
	for (i = 0; i < n; i++)
		memcpy(big + 6 * i, "PING\r\n", 6);
	ck_assert_int_eq(h_send(pl, big, 6 * n), 0);
	got = h_read_exact(pl, 7 * n, H_TIMEOUT_MS);
	ck_assert_msg(got != NULL, "pipelined PINGs (100 KiB) not answered");
	want = big;
	for (i = 0; i < n; i++)
		memcpy(want + 7 * i, "+PONG\r\n", 7);
	ck_assert(memcmp(got, want, 7 * n) == 0);
	free(got);
	free(big);
	h_close(pl);

	ck_assert_int_eq(h_publish(redis, "t6.ch", "unaffected"), 1);
	ck_assert(h_expect_free(by, h_frame_message("t6.ch", "unaffected")));
	h_close(by);
}
END_TEST

/*
 * 7. max_subscriptions: the name past the limit gets an error, the others
 * their confirmations; the client stays usable, and nothing past the limit
 * reaches Redis.
 */
START_TEST(max_subscriptions_refuses_past_the_limit)
{
	struct h_conn	*c;
	char		*r;

	env_start(NULL, "limits = { max_subscriptions = 3; };");
	c = h_connect(env.pubsubd_port);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(h_command(c, "SUBSCRIBE", "t7a", "t7b", "t7c", "t7d",
	    NULL), 0);
	ck_assert(h_expect_free(c, h_frame_confirm("subscribe", "t7a", 1)));
	ck_assert(h_expect_free(c, h_frame_confirm("subscribe", "t7b", 2)));
	ck_assert(h_expect_free(c, h_frame_confirm("subscribe", "t7c", 3)));
	r = h_reply(c, NULL, H_TIMEOUT_MS);
	ck_assert_ptr_nonnull(r);
	ck_assert_msg(strncmp(r, "-ERR max subscriptions per client reached",
	    41) == 0, "got [%s]", r);
	free(r);
	ck_assert_int_eq(h_sendstr(c, "PING\r\n"), 0);
	ck_assert(h_expect(c, "*2\r\n$4\r\npong\r\n$0\r\n\r\n"));
	ck_assert_int_eq(pubsub_num(redis, "NUMSUB", "t7c"), 1);
	ck_assert_int_eq(pubsub_num(redis, "NUMSUB", "t7d"), 0);

	/* Still full for a pattern; room again after an unsubscribe. */
	ck_assert_int_eq(h_command(c, "PSUBSCRIBE", "t7e.*", NULL), 0);
	r = h_reply(c, NULL, H_TIMEOUT_MS);
	ck_assert_ptr_nonnull(r);
	ck_assert_msg(strncmp(r, "-ERR max subscriptions per client reached",
	    41) == 0, "got [%s]", r);
	free(r);
	ck_assert_int_eq(h_command(c, "UNSUBSCRIBE", "t7a", NULL), 0);
	ck_assert(h_expect_free(c, h_frame_confirm("unsubscribe", "t7a", 2)));
	ck_assert_int_eq(h_command(c, "SUBSCRIBE", "t7d", NULL), 0);
	ck_assert(h_expect_free(c, h_frame_confirm("subscribe", "t7d", 3)));
	ck_assert_int_eq(h_publish(redis, "t7d", "in"), 1);
	ck_assert(h_expect_free(c, h_frame_message("t7d", "in")));
	h_close(c);
}
END_TEST

#define IDLE_N	4	/* idle clients, their last words 250 ms apart */

/*
 * 8. idle_timeout: an idle client with no subscription is closed after it
 * (not before); an idle subscriber is not, nor is a client that talks.
 * Four idle clients fall silent 250 ms apart, at different points of a
 * second, so that a timeout kept in whole seconds is seen closing early.
 */
START_TEST(idle_timeout_closes_idle_unsubscribed_client_only)
{
	struct h_conn	*idle[IDLE_N] = { NULL }, *sub, *busy;
	struct pollfd	 pfd[IDLE_N];
	long long	 t0, last[IDLE_N] = { 0 }, closed[IDLE_N] = { 0 };
	long long	 busy_at = 0, lo = LLONG_MAX, hi = 0;
	int		 i, j, open_ = IDLE_N;

	env_start(NULL, "limits = { idle_timeout = 1; };");
	sub = subscriber("SUBSCRIBE", "t8.ch", 0);
	busy = h_connect(env.pubsubd_port);
	ck_assert_ptr_nonnull(busy);

	t0 = h_now_ms();
	for (i = 0; i < 1000 && open_ > 0 && h_now_ms() < t0 + 5000; i++) {
		for (j = 0; j < IDLE_N; j++) {
			if (idle[j] != NULL || h_now_ms() < t0 + 250 * j)
				continue;
			idle[j] = h_connect(env.pubsubd_port);
			ck_assert_ptr_nonnull(idle[j]);
			ck_assert_int_eq(h_sendstr(idle[j], "PING\r\n"), 0);
			ck_assert(h_expect(idle[j], "+PONG\r\n"));
			last[j] = h_now_ms();
		}
		if (h_now_ms() >= busy_at + 200) {
			ck_assert_int_eq(h_sendstr(busy, "PING\r\n"), 0);
			ck_assert_msg(h_expect(busy, "+PONG\r\n"), "a client "
			    "that talks was closed");
			busy_at = h_now_ms();
		}
		for (j = 0; j < IDLE_N; j++) {
			pfd[j].fd = idle[j] != NULL && closed[j] == 0 ?
			    idle[j]->fd : -1;
			pfd[j].events = POLLIN;
			pfd[j].revents = 0;
		}
		if (poll(pfd, IDLE_N, 20) <= 0)
			continue;
		for (j = 0; j < IDLE_N; j++) {
			if (pfd[j].revents == 0)
				continue;
			ck_assert_msg(h_closed(idle[j], 100), "idle client %d "
			    "got something other than EOF", j);
			closed[j] = h_now_ms();
			open_--;
		}
	}
	for (j = 0; j < IDLE_N; j++) {
		ck_assert_msg(closed[j] != 0, "idle client %d still open "
		    "%lld ms after its last word", j, h_now_ms() - last[j]);
		if (closed[j] - last[j] < lo)
			lo = closed[j] - last[j];
		if (closed[j] - last[j] > hi)
			hi = closed[j] - last[j];
		h_close(idle[j]);
	}
	fprintf(stderr, "faults: idle_timeout 1: idle clients closed %lld to "
	    "%lld ms after their last command\n", lo, hi);
	ck_assert_msg(lo >= 950, "an idle client was closed after %lld ms, "
	    "before idle_timeout", lo);
	ck_assert_int_le(hi, 3500);	/* a once-a-second sweep: up to 3 s */
	ck_assert_int_eq(h_publish(redis, "t8.ch", "still"), 1);
	ck_assert_msg(h_expect_free(sub, h_frame_message("t8.ch", "still")),
	    "the idle subscriber was closed");
	ck_assert_int_eq(h_sendstr(busy, "PING\r\n"), 0);
	ck_assert(h_expect(busy, "+PONG\r\n"));
	ck_assert_int_ge(h_info_field(env.pubsubd_port, "stats",
	    "clients_idle_closed", 2000), IDLE_N);
	h_close(sub);
	h_close(busy);
}
END_TEST

/*
 * 9. While Redis is down: SUBSCRIBE gets an error after command_timeout and
 * the client stays usable; PUBLISH gets an error, never hangs; once Redis
 * is back, SUBSCRIBE works again; an earlier subscriber is still served.
 */
START_TEST(subscribe_and_publish_while_redis_down_get_errors)
{
	struct h_conn	*c, *held;
	long long	 t0, dt, deadline;
	char		*r;
	int		 i, ok = 0;

	env_start("command_timeout = 500; backoff_min = 100; "
	    "backoff_max = 300;", NULL);
	held = subscriber("SUBSCRIBE", "t9.held", 0);
	c = h_connect(env.pubsubd_port);
	ck_assert_ptr_nonnull(c);
	redis_kill9();
	ck_assert_int_eq(info_wait("upstream", "upstream_down_since_ms", 1,
	    2000) > 0, 1);
	ck_assert_int_eq(h_info_field(env.pubsubd_port, "upstream",
	    "upstream_connected", 1000), 0);

	t0 = h_now_ms();
	ck_assert_int_eq(h_command(c, "SUBSCRIBE", "t9.ch", NULL), 0);
	r = h_reply(c, NULL, 2000);
	dt = h_now_ms() - t0;
	fprintf(stderr, "faults: redis down: SUBSCRIBE answered in %lld ms "
	    "(command_timeout 500): %.*s\n", dt, r ? (int)strcspn(r, "\r") :
	    9, r ? r : "(nothing)");
	ck_assert_msg(r != NULL, "no answer to SUBSCRIBE within 2 s");
	ck_assert_msg(strncmp(r, "-ERR", 4) == 0, "got [%s]", r);
	free(r);
	ck_assert_int_eq(h_sendstr(c, "PING\r\n"), 0);
	ck_assert(h_expect(c, "+PONG\r\n"));

	t0 = h_now_ms();
	ck_assert_int_eq(h_command(c, "PUBLISH", "t9.ch", "x", NULL), 0);
	r = h_reply(c, NULL, 2000);
	fprintf(stderr, "faults: redis down: PUBLISH answered in %lld ms: "
	    "%.*s\n", h_now_ms() - t0, r ? (int)strcspn(r, "\r") : 9,
	    r ? r : "(nothing)");
	ck_assert_msg(r != NULL, "no answer to PUBLISH within 2 s");
	ck_assert_msg(strncmp(r, "-ERR", 4) == 0, "got [%s]", r);
	free(r);
	ck_assert_int_eq(h_sendstr(c, "PING\r\n"), 0);
	ck_assert(h_expect(c, "+PONG\r\n"));

	/* Redis back: SUBSCRIBE works again (retried while reconnecting). */
	redis_restart();
	deadline = h_now_ms() + 10000;
	for (i = 0; i < 200 && !ok && h_now_ms() < deadline; i++) {
		ck_assert_int_eq(h_command(c, "SUBSCRIBE", "t9.ch", NULL), 0);
		r = h_reply(c, NULL, 3000);
		ck_assert_ptr_nonnull(r);
		if (!(ok = r[0] == '*'))
			usleep(100000);
		else
			ck_assert_str_eq(r, "*3\r\n$9\r\nsubscribe\r\n"
			    "$5\r\nt9.ch\r\n:1\r\n");
		free(r);
	}
	ck_assert_msg(ok, "SUBSCRIBE still failing 10 s after redis is back");
	ck_assert_int_eq(h_publish(redis, "t9.ch", "back"), 1);
	ck_assert(h_expect_free(c, h_frame_message("t9.ch", "back")));
	ck_assert_int_eq(h_wait_numsub(redis, "t9.held", 1, 5000), 1);
	ck_assert_int_eq(h_publish(redis, "t9.held", "kept"), 1);
	ck_assert(h_expect_free(held, h_frame_message("t9.held", "kept")));
	h_close(c);
	h_close(held);
}
END_TEST

#define CHURN_CONNS	2000
#define CHURN_OPEN	200
#define CHURN_NAMES	50

/* Churn name i of 50: 20 channels, 15 patterns, 15 shard channels. */
static int
churn_name(int i, char *buf, size_t len)
{
	if (i < 20) {
		snprintf(buf, len, "chu.c%d", i);
		return 0;
	}
	if (i < 35) {
		snprintf(buf, len, "chu.p%d.*", i);
		return 1;
	}
	snprintf(buf, len, "chu.s%d", i);
	return 2;
}

/*
 * Opens one churn client and sends it 1 to 5 random (un)subscriptions,
 * pipelined; then, as the dice say, leaves it be, adds half a request,
 * reads all its replies, or resets it at once (returns NULL).
 */
static struct h_conn *
churn_client(unsigned int *seed)
{
	static const char *const subs[3] = {
		"SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE"
	};
	static const char *const unsubs[3] = {
		"UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE"
	};
	struct h_conn	*c;
	FILE		*f;
	char		*buf = NULL, name[3][32], *r;
	size_t		 len = 0;
	int		 ops, op, k, j, nn, mode, found, i;

	c = h_connect(env.pubsubd_port);
	ck_assert_ptr_nonnull(c);
	f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	ops = 1 + rand_r(seed) % 5;
	for (i = 0; i < ops; i++) {
		op = rand_r(seed) % 6;
		k = rand_r(seed) % 3;
		nn = 1 + rand_r(seed) % 3;
		for (j = 0; j < nn; j++)
			churn_name(k == 0 ? rand_r(seed) % 20 : k == 1 ?
			    20 + rand_r(seed) % 15 : 35 + rand_r(seed) % 15,
			    name[j], sizeof(name[j]));
		if (op == 5) {
			fputs("PING\r\n", f);
			continue;
		}
		if (op == 4)
			nn = 0;	/* unsubscribe from all of kind k */
		fprintf(f, "*%d\r\n$%zu\r\n%s\r\n", nn + 1,
		    strlen(op < 2 ? subs[k] : unsubs[k]),
		    op < 2 ? subs[k] : unsubs[k]);
		for (j = 0; j < nn; j++)
			fprintf(f, "$%zu\r\n%s\r\n", strlen(name[j]), name[j]);
	}
	mode = rand_r(seed) % 4;
	if (mode == 1)
		fputs("*2\r\n$9\r\nSUBSCRIBE\r\n$7\r\nchu.c", f);
	else if (mode == 2)
		fputs("PING ENDMARK\r\n", f);
	fclose(f);
	ck_assert_int_eq(h_send(c, buf, len), 0);
	free(buf);
	if (mode == 2) {
		for (i = 0, found = 0; i < 1000 && !found; i++) {
			r = h_reply(c, &len, H_TIMEOUT_MS);
			ck_assert_msg(r != NULL, "churn: no reply from pubsubd");
			found = memmem(r, len, "ENDMARK", 7) != NULL;
			free(r);
		}
		ck_assert(found);
	} else if (mode == 3) {
		close_rst(c);
		return NULL;
	}
	return c;
}

/*
 * 10. Churn: 2000 connections, up to 200 at once, subscribing and
 * unsubscribing channels, patterns and shard channels (50 names) and
 * leaving abruptly, some in mid-request, some with a reset: afterwards
 * Redis holds nothing but pubsubd's private channels, pubsubd no client,
 * and it still answers. The seed is fixed: a failure can be replayed.
 */
START_TEST(churn_of_abrupt_clients_leaves_nothing_upstream)
{
	struct h_conn	*open_[CHURN_OPEN];
	unsigned int	 seed = 20240601;
	long long	 t0, t_end, deadline, left = -1, chans = -1, pats = -1;
	long long	 shards = -1, clients = -1;
	char		 example[64] = "", name[32];
	int		 made, i, nopen = 0, peak = 0;

	env_start(NULL, NULL);
	t0 = h_now_ms();
	deadline = t0 + 20000;
	for (made = 0; made < CHURN_CONNS && h_now_ms() < deadline; made++) {
		/*
		 * One leaves now and then; every 400 connections all leave,
		 * so that the channels also go back to nobody upstream.
		 */
		while (nopen > 0 && (nopen == CHURN_OPEN ||
		    rand_r(&seed) % 8 == 0 || made % 400 == 0)) {
			i = rand_r(&seed) % nopen;
			if (rand_r(&seed) % 2)
				close_rst(open_[i]);
			else
				h_close(open_[i]);
			open_[i] = open_[--nopen];
			if (made % 400 != 0)
				break;
		}
		if ((open_[nopen] = churn_client(&seed)) != NULL &&
		    ++nopen > peak)
			peak = nopen;
		if (made % 10 == 0) {
			churn_name(rand_r(&seed) % 20, name, sizeof(name));
			ck_assert_int_ge(h_publish(redis, name, "m"), 0);
		}
	}
	t_end = h_now_ms();
	ck_assert_msg(made == CHURN_CONNS, "only %d connections in 20 s",
	    made);
	for (i = 0; i < nopen; i++) {
		if (i % 2)
			close_rst(open_[i]);
		else
			h_close(open_[i]);
	}

	/* pubsubd must let go of everything (at most 10 s). */
	deadline = h_now_ms() + 10000;
	for (i = 0; i < 1000; i++) {
		chans = pubsub_foreign(redis, "CHANNELS", example,
		    sizeof(example));
		shards = pubsub_foreign(redis, "SHARDCHANNELS",
		    example, sizeof(example));
		pats = pubsub_num(redis, "NUMPAT", NULL);
		clients = h_info_field(env.pubsubd_port, "clients",
		    "connected_clients", 2000);
		left = chans + shards + pats + (clients - 1);
		if (left == 0 || h_now_ms() >= deadline)
			break;
		usleep(20000);
	}
	fprintf(stderr, "faults: churn: %d connections (up to %d open) in "
	    "%lld ms, %lld upstream subscriptions made; upstream clean %lld "
	    "ms after the last close\n", made, peak, t_end - t0,
	    h_info_field(env.pubsubd_port, "upstream", "upstream_subscribes",
	    2000), h_now_ms() - t_end);
	ck_assert_msg(chans == 0, "%lld channels left in Redis, e.g. %s",
	    chans, example);
	ck_assert_msg(shards == 0, "%lld shard channels left in Redis, e.g. "
	    "%s", shards, example);
	ck_assert_msg(pats == 0, "%lld patterns left in Redis", pats);
	ck_assert_msg(clients == 1, "pubsubd still counts %lld clients",
	    clients);
	ck_assert_int_eq(h_info_field(env.pubsubd_port, "stats",
	    "pubsub_channels", 2000), 0);
	open_[0] = h_connect(env.pubsubd_port);
	ck_assert_ptr_nonnull(open_[0]);
	ck_assert_int_eq(h_sendstr(open_[0], "PING\r\n"), 0);
	ck_assert(h_expect(open_[0], "+PONG\r\n"));
	h_close(open_[0]);
}
END_TEST

/*
 * 11. SIGTERM with output pending: pubsubd stops accepting, gives a slow
 * client all it was owed, then EOF, and exits 0 within shutdown.timeout.
 */
START_TEST(sigterm_flushes_pending_output_and_exits_zero)
{
	struct rx	 x, slow;
	struct h_conn	*late;
	long long	 t_term, deadline, t_exit = 0;
	char		*r;
	int		 i, status = -1;
	pid_t		 pid;

	env_start(NULL, "shutdown = { timeout = 3000; };");
	memset(&x, 0, sizeof(x));
	memset(&slow, 0, sizeof(slow));
	x.c = subscriber("SUBSCRIBE", "t11.ch", 0);
	slow.c = subscriber("SUBSCRIBE", "t11.ch", 4096);
	for (i = 0; i < 2000; i += 50) {
		publish_many("PUBLISH", "t11.ch", i, 50, 1024, 1);
		x.want[0] = i + 50;
		ck_assert(rx_wait(&x, 1, h_now_ms() + 5000));
	}
	rx_check(&x, 1, "reader");
	slow.want[0] = 2000;

	pid = env.pubsubd_pid;
	t_term = h_now_ms();
	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	usleep(200000);
	/* No longer accepting: refused, or at least never served. */
	if ((late = h_connect(env.pubsubd_port)) != NULL) {
		(void)h_sendstr(late, "PING\r\n");
		r = h_reply(late, NULL, 300);
		ck_assert_msg(r == NULL || strcmp(r, "+PONG\r\n") != 0,
		    "a client was served after SIGTERM");
		free(r);
		h_close(late);
	}
	deadline = t_term + 3000 + 2000;
	for (i = 0; i < 100000 && !slow.eof && h_now_ms() < deadline; i++)
		rx_pump(&slow, 1, 20);
	for (i = 0; i < 100000 && h_now_ms() < deadline; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			t_exit = h_now_ms();
			env.pubsubd_pid = 0;
			break;
		}
		usleep(10000);
	}
	fprintf(stderr, "faults: SIGTERM: the slow client got %lld of 2000 "
	    "pending messages; pubsubd exited %lld ms after SIGTERM\n",
	    slow.next[0], t_exit ? t_exit - t_term : -1);
	ck_assert_msg(t_exit != 0, "pubsubd still running %lld ms after "
	    "SIGTERM", h_now_ms() - t_term);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "pubsubd ended with status 0x%x", status);
	ck_assert_msg(slow.eof, "no EOF for the slow client");
	ck_assert_msg(slow.bad[0] == '\0', "slow client: %s", slow.bad);
	ck_assert_int_eq(slow.next[0], 2000);
	rx_close(&x, 1);
	rx_close(&slow, 1);
}
END_TEST

/* Rewrites pubsubd's configuration file (for a reload). */
static void
conf_write(const char *text)
{
	FILE	*f = fopen(env.conf, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

/*
 * 12. SIGHUP reloads the file live: a new listener opens, new limits apply,
 * a broken file keeps the running configuration, and a new Redis address
 * reconnects there and resubscribes; the connected client notices nothing.
 */
START_TEST(sighup_reloads_live_and_keeps_a_good_config)
{
	struct h_env	 env2;
	struct h_conn	*a, *b, *c, *r2;
	char		 text[1024];
	int		 port2 = h_free_port();

	env_start(NULL, NULL);
	a = subscriber("SUBSCRIBE", "rl", 0);

	/* A second listener and maxclients = 2. */
	snprintf(text, sizeof(text), "listen = ( { host = \"127.0.0.1\"; "
	    "port = %d; }, { host = \"127.0.0.1\"; port = %d; } );\n"
	    "redis = { host = \"127.0.0.1\"; port = %d; };\n"
	    "limits = { maxclients = 2; };\n", env.pubsubd_port, port2,
	    env.redis_port);
	conf_write(text);
	ck_assert_int_eq(kill(env.pubsubd_pid, SIGHUP), 0);
	b = h_connect_within(port2, 3000);
	ck_assert_msg(b != NULL, "the new listener did not open");
	ck_assert_int_eq(h_sendstr(b, "PING\r\n"), 0);
	ck_assert(h_expect(b, "+PONG\r\n"));
	c = h_connect(env.pubsubd_port);
	ck_assert_ptr_nonnull(c);
	ck_assert(h_expect(c, "-ERR max number of clients reached\r\n"));
	h_close(c);
	ck_assert_int_eq(h_publish(redis, "rl", "one"), 1);
	ck_assert(h_expect_free(a, h_frame_message("rl", "one")));

	/* A broken file: nothing changes. */
	conf_write("listen = ( { host = \"127.0.0.1\"; port = oops; } );\n");
	ck_assert_int_eq(kill(env.pubsubd_pid, SIGHUP), 0);
	usleep(300000);
	ck_assert_int_eq(h_sendstr(b, "PING\r\n"), 0);
	ck_assert(h_expect(b, "+PONG\r\n"));
	ck_assert_int_eq(h_publish(redis, "rl", "two"), 1);
	ck_assert(h_expect_free(a, h_frame_message("rl", "two")));

	/* Redis moves: pubsubd follows and resubscribes there. */
	memset(&env2, 0, sizeof(env2));
	snprintf(env2.dir, sizeof(env2.dir), "%s", env.dir);
	env2.redis_port = h_free_port();
	h_start_redis(&env2);
	r2 = h_connect(env2.redis_port);
	ck_assert_ptr_nonnull(r2);
	snprintf(text, sizeof(text), "listen = ( { host = \"127.0.0.1\"; "
	    "port = %d; }, { host = \"127.0.0.1\"; port = %d; } );\n"
	    "redis = { host = \"127.0.0.1\"; port = %d; };\n",
	    env.pubsubd_port, port2, env2.redis_port);
	conf_write(text);
	ck_assert_int_eq(kill(env.pubsubd_pid, SIGHUP), 0);
	ck_assert_int_eq(h_wait_numsub(r2, "rl", 1, 5000), 1);
	ck_assert_int_eq(h_publish(r2, "rl", "three"), 1);
	ck_assert(h_expect_free(a, h_frame_message("rl", "three")));
	ck_assert_int_eq(h_wait_numsub(redis, "rl", 0, 5000), 0);

	h_close(r2);
	h_close(b);
	h_close(a);
	h_kill(env2.redis_pid, 5000);
}
END_TEST

#define IL_CHANS	3
#define IL_MSGS		900

/*
 * Connects a small-buffered subscriber (see connect_small()), in RESP3 if
 * resp3, to the channels il:i whose bit is set in mask.
 */
static struct h_conn *
il_subscriber(int resp3, int mask)
{
	struct h_conn	*c;
	char		 name[16], *frame, *r;
	int		 i, n = 0;

	c = connect_small(env.pubsubd_port, 4096);
	ck_assert_ptr_nonnull(c);
	if (resp3) {
		ck_assert_int_eq(h_command(c, "HELLO", "3", NULL), 0);
		r = h_reply(c, NULL, H_TIMEOUT_MS);
		ck_assert_ptr_nonnull(r);
		ck_assert_int_eq(r[0], '%');
		free(r);
	}
	for (i = 0; i < IL_CHANS; i++) {
		if (!(mask & (1 << i)))
			continue;
		snprintf(name, sizeof(name), "il:%d", i);
		ck_assert_int_eq(h_command(c, "SUBSCRIBE", name, NULL), 0);
		frame = h_frame_confirm("subscribe", name, ++n);
		if (resp3)
			frame[0] = '>';
		ck_assert(h_expect_free(c, frame));
	}
	return c;
}

/*
 * 13. Subscribers of interleaved channels that stop reading (RESP2 and
 * RESP3, of one channel or several): each turn's pieces of the shared
 * batch are written with one sendmsg until the socket is full, and the
 * rest (small pieces copied, large ones referenced) is queued; once they
 * read, every frame is there, once, in order.
 */
START_TEST(stalled_readers_of_interleaved_channels_get_all_in_order)
{
	static const int masks[4] = { 7, 2, 5, 2 };	/* all, il:1, ... */
	static const int resp3[4] = { 0, 0, 1, 1 };
	struct h_conn	*c[4];
	FILE		*f, *want[4];
	char		*buf = NULL, *wbuf[4], *pay, *rep, *got, name[16];
	size_t		 len = 0, wlen[4], plen;
	int		 i, j, m, ch;

	env_start(NULL, NULL);
	for (j = 0; j < 4; j++) {
		c[j] = il_subscriber(resp3[j], masks[j]);
		want[j] = open_memstream(&wbuf[j], &wlen[j]);
		ck_assert_ptr_nonnull(want[j]);
	}
	pay = malloc(2048);
	ck_assert_ptr_nonnull(pay);
	for (m = 0; m < IL_MSGS; m += 100) {
		f = open_memstream(&buf, &len);
		ck_assert_ptr_nonnull(f);
		for (i = m; i < m + 100; i++) {
			/* Small and large payloads: copied and referenced. */
			ch = i % IL_CHANS;
			plen = (size_t)snprintf(pay, 64, "il:%d:", i);
			if (i % 2) {
				memset(pay + plen, 'y', 2000 - plen);
				plen = 2000;
			}
			snprintf(name, sizeof(name), "il:%d", ch);
			fprintf(f, "*3\r\n$7\r\nPUBLISH\r\n$4\r\n%s\r\n"
			    "$%zu\r\n", name, plen);
			fwrite(pay, 1, plen, f);
			fputs("\r\n", f);
			for (j = 0; j < 4; j++) {
				if (!(masks[j] & (1 << ch)))
					continue;
				fprintf(want[j], "%c3\r\n$7\r\nmessage\r\n"
				    "$4\r\n%s\r\n$%zu\r\n", resp3[j] ? '>' :
				    '*', name, plen);
				fwrite(pay, 1, plen, want[j]);
				fputs("\r\n", want[j]);
			}
		}
		fclose(f);
		ck_assert_int_eq(h_send(redis, buf, len), 0);
		for (i = 0; i < 100; i++) {
			rep = h_reply(redis, NULL, H_TIMEOUT_MS);
			ck_assert_msg(rep != NULL, "no reply to PUBLISH");
			ck_assert_int_eq(h_int(rep), 1);
			free(rep);
		}
		free(buf);
		buf = NULL;
	}
	for (j = 0; j < 4; j++) {
		fclose(want[j]);
		got = h_read_exact(c[j], wlen[j], 10000);
		ck_assert_msg(got != NULL, "subscriber %d: fewer than %zu "
		    "bytes", j, wlen[j]);
		for (i = 0; i < (int)wlen[j] && got[i] == wbuf[j][i]; i++)
			;
		ck_assert_msg(i == (int)wlen[j], "subscriber %d: differs at "
		    "byte %d of %zu", j, i, wlen[j]);
		free(got);
		free(wbuf[j]);
		/* Nothing more: a PING's reply comes next. */
		ck_assert_int_eq(h_command(c[j], "PING", NULL), 0);
		ck_assert(h_expect(c[j], resp3[j] ? "+PONG\r\n" :
		    "*2\r\n$4\r\npong\r\n$0\r\n\r\n"));
		h_close(c[j]);
	}
	free(pay);
}
END_TEST

/* Adds test fn as a case of its own, with the fixtures and a timeout. */
static void
add(Suite *s, const char *name, const TTest *fn)
{
	TCase	*tc = tcase_create(name);

	tcase_add_unchecked_fixture(tc, dir_make, dir_check);
	tcase_add_checked_fixture(tc, test_setup, test_teardown);
	tcase_set_timeout(tc, 60);	/* each takes seconds; the sum < 90 */
	tcase_add_test(tc, fn);
	suite_add_tcase(s, tc);
}

/* The suite: one case per test, each with servers of its own. */
static Suite *
faults_suite(void)
{
	Suite	*s = suite_create("integ_faults");

	add(s, "kill9",
	    redis_kill9_restart_resubscribes_all_100_clients_exactly_once);
	add(s, "sigstop",
	    redis_hung_sigstop_detected_and_recovered_by_health_check);
	add(s, "stall", redis_short_stall_is_not_an_outage);
	add(s, "output_hard",
	    never_reading_client_cut_at_output_hard_others_get_everything);
	add(s, "output_soft", slow_client_cut_after_output_soft_seconds);
	add(s, "maxclients", maxclients_refuses_the_next_client_with_error);
	add(s, "query_buffer", query_buffer_limit_closes_unfinished_request);
	add(s, "max_subscriptions", max_subscriptions_refuses_past_the_limit);
	add(s, "idle_timeout",
	    idle_timeout_closes_idle_unsubscribed_client_only);
	add(s, "redis_down", subscribe_and_publish_while_redis_down_get_errors);
	add(s, "churn", churn_of_abrupt_clients_leaves_nothing_upstream);
	add(s, "sigterm", sigterm_flushes_pending_output_and_exits_zero);
	add(s, "sighup", sighup_reloads_live_and_keeps_a_good_config);
	add(s, "stalled_interleaved",
	    stalled_readers_of_interleaved_channels_get_all_in_order);
	return s;
}

/* Runs every test; exits 0 if all passed. */
int
main(void)
{
	return check_run(faults_suite());
}
