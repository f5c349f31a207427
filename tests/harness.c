/*
 * harness.c: real servers on free loopback ports, and a blocking RESP client
 * whose every read has a deadline.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "harness.h"

static void	h_die(const char *, ...) __attribute__((format(printf, 1, 2),
		    noreturn));
static size_t	h_resp_len(const char *, size_t);
static int	h_fill(struct h_conn *, int);
static void	h_exec_wrapped(char *const []);

/* Reports a harness failure and exits (the fixture cannot go on). */
static void
h_die(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	fprintf(stderr, "harness: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(99);
}

/* Milliseconds of a monotonic clock. */
long long
h_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * In the child: if argv runs pubsubd and PUBSUBD_WRAPPER is set (e.g.
 * "valgrind --leak-check=full --error-exitcode=1"), runs it under that
 * wrapper instead. Returns only if it did not exec.
 */
static void
h_exec_wrapped(char *const argv[])
{
	const char	*w = getenv("PUBSUBD_WRAPPER"), *base;
	char		*copy, *words[32], *tok, *save;
	int		 n = 0, i;

	base = strrchr(argv[0], '/');
	base = base != NULL ? base + 1 : argv[0];
	if (w == NULL || *w == '\0' || strcmp(base, "pubsubd") != 0 ||
	    (copy = strdup(w)) == NULL)
		return;
	for (tok = strtok_r(copy, " \t\n", &save); tok != NULL && n < 24;
	    tok = strtok_r(NULL, " \t\n", &save))
		words[n++] = tok;
	for (i = 0; argv[i] != NULL && n < 31; i++)
		words[n++] = argv[i];
	words[n] = NULL;
	execvp(words[0], words);
}

/* Runs argv with stdout and stderr to logfile; dies with the test program. */
pid_t
h_spawn(char *const argv[], const char *logfile)
{
	return h_spawn_env(argv, NULL, logfile);
}

/* h_spawn() with env's changes to the child's environment. */
pid_t
h_spawn_env(char *const argv[], const char *const env[], const char *logfile)
{
	pid_t		 pid, parent = getpid();
	int		 fd, i;
	const char	*eq;
	char		 name[256];

	if ((pid = fork()) == -1)
		h_die("fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		if ((fd = open(logfile, O_WRONLY | O_CREAT | O_APPEND,
		    0644)) != -1) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		fd = open("/dev/null", O_RDONLY);
		dup2(fd, 0);
		for (i = 0; env != NULL && env[i] != NULL; i++) {
			if ((eq = strchr(env[i], '=')) == NULL) {
				unsetenv(env[i]);
				continue;
			}
			snprintf(name, sizeof(name), "%.*s",
			    (int)(eq - env[i]), env[i]);
			setenv(name, eq + 1, 1);
		}
		h_exec_wrapped(argv);
		execvp(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

/* Sends SIGTERM, waits up to grace_ms, then SIGKILL; returns the status. */
int
h_kill(pid_t pid, int grace_ms)
{
	long long	deadline = h_now_ms() + grace_ms;
	int		status = 0;

	if (pid <= 0)
		return -1;
	kill(pid, SIGTERM);
	while (h_now_ms() < deadline) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return status;
}

/* Waits until something on port answers PING with +PONG. */
int
h_wait_ping(int port, int timeout_ms)
{
	long long	 deadline = h_now_ms() + timeout_ms;
	struct h_conn	*c;
	char		*r;
	int		 ok = 0;

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
	return ok ? 0 : -1;
}

/* Starts (or restarts) redis-server on env->redis_port. */
void
h_start_redis(struct h_env *env)
{
	char	port[16], log[300];
	char	*argv[] = { "redis-server", "--port", port, "--bind",
		    "127.0.0.1", "--save", "", "--appendonly", "no",
		    "--dir", env->dir, "--daemonize", "no", NULL };

	snprintf(port, sizeof(port), "%d", env->redis_port);
	snprintf(log, sizeof(log), "%s/redis.log", env->dir);
	env->redis_pid = h_spawn(argv, log);
	if (h_wait_ping(env->redis_port, 10000) == -1)
		h_die("redis-server did not start on port %d (see %s)",
		    env->redis_port, log);
}

/* Starts redis-server, then pubsubd against it. */
void
h_start(struct h_env *env)
{
	const char	*bin = getenv("PUBSUBD");
	char		 log[300];
	char		*argv[4];
	FILE		*f;

	signal(SIGPIPE, SIG_IGN);
	if (bin == NULL)
		bin = "./daemon/pubsubd";
	snprintf(env->dir, sizeof(env->dir), "/tmp/pubsubd-test.XXXXXX");
	if (mkdtemp(env->dir) == NULL)
		h_die("mkdtemp: %s", strerror(errno));
	env->redis_port = h_free_port();
	h_start_redis(env);

	env->pubsubd_port = h_free_port();
	snprintf(env->conf, sizeof(env->conf), "%s/pubsubd.conf", env->dir);
	if ((f = fopen(env->conf, "w")) == NULL)
		h_die("%s: %s", env->conf, strerror(errno));
	env->pubsubd_port6 = h_free_port6();
	fprintf(f, "listen = ( { host = \"127.0.0.1\"; port = %d; }",
	    env->pubsubd_port);
	if (env->pubsubd_port6 != 0)
		fprintf(f, ", { host = \"::1\"; port = %d; }",
		    env->pubsubd_port6);
	fprintf(f, " );\nredis = { host = \"127.0.0.1\"; port = %d; };\n"
	    "log = { level = \"%s\"; };\n", env->redis_port,
	    getenv("PUBSUBD_LOG_LEVEL") ? getenv("PUBSUBD_LOG_LEVEL") :
	    "info");
	fclose(f);
	snprintf(log, sizeof(log), "%s/pubsubd.log", env->dir);
	argv[0] = (char *)bin;
	argv[1] = "-c";
	argv[2] = env->conf;
	argv[3] = NULL;
	env->pubsubd_pid = h_spawn(argv, log);
	if (h_wait_ping(env->pubsubd_port, 10000) == -1)
		h_die("pubsubd did not start on port %d (see %s)",
		    env->pubsubd_port, log);
}

/* A fresh env with a private directory; see harness.h. */
void
h_dir_make(struct h_env *env)
{
	memset(env, 0, sizeof(*env));
	snprintf(env->dir, sizeof(env->dir), "/tmp/pubsubd-test.XXXXXX");
	if (mkdtemp(env->dir) == NULL) {
		perror("mkdtemp");
		exit(99);
	}
}

/* A directory left by a test: it failed; shows its logs' end. */
void
h_dir_report(const struct h_env *env, const char *who)
{
	struct stat	st;
	char		cmd[600];

	if (env->dir[0] == '\0' || stat(env->dir, &st) == -1 ||
	    getenv("HARNESS_KEEP") != NULL)
		return;
	fprintf(stderr, "%s: the test failed; its files are kept in %s; the "
	    "end of its logs:\n", who, env->dir);
	snprintf(cmd, sizeof(cmd), "tail -n 30 '%s'/*.log >&2", env->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "%s: '%s' failed\n", who, cmd);
}

/* Stops a passed test's daemons and Redis, removes its directory. */
int
h_stop_daemons(struct h_env *env, pid_t *daemons, int n, const char *who)
{
	char	cmd[400];
	int	i, status, ok = 1;

	for (i = 0; i < n; i++) {
		if (daemons[i] <= 0)
			continue;
		status = h_kill(daemons[i], 10000);
		ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
		daemons[i] = 0;
	}
	if (env->redis_pid > 0)
		h_kill(env->redis_pid, 5000);
	env->redis_pid = 0;
	if (!ok)
		return -1;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", env->dir);
	if (getenv("HARNESS_KEEP") == NULL && system(cmd) != 0)
		fprintf(stderr, "%s: '%s' failed\n", who, cmd);
	return 0;
}

/* Stops both servers; keeps the directory (and shows the log) on failure. */
int
h_stop(struct h_env *env)
{
	char	cmd[400];
	int	status, ok;

	status = h_kill(env->pubsubd_pid, 10000);
	ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	h_kill(env->redis_pid, 5000);
	env->pubsubd_pid = env->redis_pid = 0;
	if (!ok) {
		fprintf(stderr, "harness: pubsubd ended with status 0x%x; "
		    "the end of %s/pubsubd.log:\n", status, env->dir);
		snprintf(cmd, sizeof(cmd), "tail -n 60 '%s/pubsubd.log' >&2",
		    env->dir);
	} else if (getenv("HARNESS_KEEP") == NULL)
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", env->dir);
	else
		cmd[0] = '\0';
	if (cmd[0] != '\0' && system(cmd) != 0)
		fprintf(stderr, "harness: '%s' failed\n", cmd);
	return ok ? 0 : -1;
}

/* Connects to 127.0.0.1:port. */
struct h_conn *
h_connect(int port)
{
	return h_connect_host("127.0.0.1", port);
}

/* Connects to host:port (numeric, IPv4 or IPv6). */
struct h_conn *
h_connect_host(const char *host, int port)
{
	struct addrinfo	 hints, *res;
	struct h_conn	*c;
	char		 portstr[16];
	int		 fd, one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%d", port);
	if (getaddrinfo(host, portstr, &hints, &res) != 0)
		return NULL;
	fd = socket(res->ai_family, SOCK_STREAM, 0);
	if (fd == -1 || connect(fd, res->ai_addr, res->ai_addrlen) == -1) {
		if (fd != -1)
			close(fd);
		freeaddrinfo(res);
		return NULL;
	}
	freeaddrinfo(res);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return NULL;
	}
	c->fd = fd;
	return c;
}

/* Closes a connection. */
void
h_close(struct h_conn *c)
{
	if (c == NULL)
		return;
	close(c->fd);
	free(c->buf);
	free(c);
}

/* Sends all of buf. */
int
h_send(struct h_conn *c, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Sends a string. */
int
h_sendstr(struct h_conn *c, const char *s)
{
	return h_send(c, s, strlen(s));
}

/* Sends a command as a RESP multibulk. */
int
h_command(struct h_conn *c, const char *arg, ...)
{
	va_list		 ap;
	const char	*a;
	char		*buf;
	size_t		 len = 0, cap = 64;
	int		 n = 0, rc;

	va_start(ap, arg);
	for (a = arg; a != NULL; a = va_arg(ap, const char *)) {
		n++;
		cap += strlen(a) + 32;
	}
	va_end(ap);
	if ((buf = malloc(cap)) == NULL)
		return -1;
	len += (size_t)snprintf(buf, cap, "*%d\r\n", n);
	va_start(ap, arg);
	for (a = arg; a != NULL; a = va_arg(ap, const char *))
		len += (size_t)snprintf(buf + len, cap - len, "$%zu\r\n%s\r\n",
		    strlen(a), a);
	va_end(ap);
	rc = h_send(c, buf, len);
	free(buf);
	return rc;
}

/* Reads more into the buffer; 1 if read, 0 on EOF, -1 on timeout/error. */
static int
h_fill(struct h_conn *c, int timeout_ms)
{
	struct pollfd	pfd = { c->fd, POLLIN, 0 };
	ssize_t		n;
	char		*nb;

	if (c->cap - c->len < 65536) {
		if ((nb = realloc(c->buf, c->cap + 65536)) == NULL)
			return -1;
		c->buf = nb;
		c->cap += 65536;
	}
	if (poll(&pfd, 1, timeout_ms) <= 0)
		return -1;
	n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
	if (n == 0)
		return 0;
	if (n < 0)
		return errno == EINTR ? 1 : -1;
	c->len += (size_t)n;
	return 1;
}

/* The length of the one whole RESP value at p, or 0 if it is incomplete. */
static size_t
h_resp_len(const char *p, size_t len)
{
	const char	*eol;
	long long	 n, i;
	size_t		 hdr, off, sub;

	if (len < 3 || (eol = memmem(p, len, "\r\n", 2)) == NULL)
		return 0;
	hdr = (size_t)(eol - p) + 2;
	switch (p[0]) {
	case '+': case '-': case ':': case '_': case ',': case '#': case '(':
		return hdr;
	case '$': case '!': case '=':
		n = strtoll(p + 1, NULL, 10);
		if (n < 0)
			return hdr;
		return len >= hdr + (size_t)n + 2 ? hdr + (size_t)n + 2 : 0;
	case '*': case '>': case '~': case '%': case '|':
		n = strtoll(p + 1, NULL, 10);
		if (p[0] == '%' || p[0] == '|')
			n *= 2;
		off = hdr;
		for (i = 0; i < n; i++) {
			if ((sub = h_resp_len(p + off, len - off)) == 0)
				return 0;
			off += sub;
		}
		return off;
	default:
		return hdr;	/* not RESP: a line */
	}
}

/* Reads one whole RESP reply. */
char *
h_reply(struct h_conn *c, size_t *lenp, int timeout_ms)
{
	long long	 deadline = h_now_ms() + timeout_ms;
	size_t		 n;
	char		*r;
	int		 left;

	while ((n = h_resp_len(c->buf, c->len)) == 0) {
		left = (int)(deadline - h_now_ms());
		if (left <= 0 || h_fill(c, left) != 1)
			return NULL;
	}
	if ((r = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(r, c->buf, n);
	r[n] = '\0';
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
	if (lenp != NULL)
		*lenp = n;
	return r;
}

/* Reads exactly len bytes. */
char *
h_read_exact(struct h_conn *c, size_t len, int timeout_ms)
{
	long long	 deadline = h_now_ms() + timeout_ms;
	char		*r;
	int		 left;

	while (c->len < len) {
		left = (int)(deadline - h_now_ms());
		if (left <= 0 || h_fill(c, left) != 1)
			return NULL;
	}
	if ((r = malloc(len + 1)) == NULL)
		return NULL;
	memcpy(r, c->buf, len);
	r[len] = '\0';
	memmove(c->buf, c->buf + len, c->len - len);
	c->len -= len;
	return r;
}

/* Reads until the peer closes or timeout_ms pass without data. */
char *
h_read_all(struct h_conn *c, size_t *lenp, int timeout_ms)
{
	char	*r;

	while (h_fill(c, timeout_ms) == 1)
		;
	if ((r = malloc(c->len + 1)) == NULL)
		return NULL;
	memcpy(r, c->buf, c->len);
	r[c->len] = '\0';
	*lenp = c->len;
	c->len = 0;
	return r;
}

/* Compares the next reply with expected. */
int
h_expect(struct h_conn *c, const char *expected)
{
	size_t	 len;
	char	*r = h_reply(c, &len, H_TIMEOUT_MS);
	int	 ok;

	ok = r != NULL && len == strlen(expected) &&
	    memcmp(r, expected, len) == 0;
	if (!ok)
		fprintf(stderr, "expected [%s]\n     got [%s]\n", expected,
		    r ? r : "(timeout or EOF)");
	free(r);
	return ok;
}

/* Whether the peer closed within timeout_ms (buffered data is dropped). */
int
h_closed(struct h_conn *c, int timeout_ms)
{
	long long	deadline = h_now_ms() + timeout_ms;
	int		rc, left;

	for (;;) {
		left = (int)(deadline - h_now_ms());
		if (left <= 0)
			return 0;
		c->len = 0;
		if ((rc = h_fill(c, left)) == 0)
			return 1;
		if (rc == -1)
			return errno == ECONNRESET;
	}
}

/* The integer of a ":N" reply. */
long long
h_int(const char *reply)
{
	if (reply == NULL || reply[0] != ':')
		return LLONG_MIN;
	return strtoll(reply + 1, NULL, 10);
}

/* PUBSUB NUMSUB of one channel. */
long long
h_numsub(struct h_conn *r, const char *channel)
{
	char		*rep, *p;
	long long	 n = -1;

	if (h_command(r, "PUBSUB", "NUMSUB", channel, NULL) == -1 ||
	    (rep = h_reply(r, NULL, H_TIMEOUT_MS)) == NULL)
		return -1;
	/* *2\r\n$len\r\nchannel\r\n:N\r\n: the last line holds N. */
	if ((p = strrchr(rep, ':')) != NULL)
		n = strtoll(p + 1, NULL, 10);
	free(rep);
	return n;
}

/* Polls NUMSUB until it equals want or the time is up. */
long long
h_wait_numsub(struct h_conn *r, const char *channel, long long want,
    int timeout_ms)
{
	long long	deadline = h_now_ms() + timeout_ms, n;

	while ((n = h_numsub(r, channel)) != want && h_now_ms() < deadline)
		usleep(5000);
	return n;
}

/* PUBLISH through redis. */
long long
h_publish(struct h_conn *r, const char *channel, const char *msg)
{
	char		*rep;
	long long	 n;

	if (h_command(r, "PUBLISH", channel, msg, NULL) == -1 ||
	    (rep = h_reply(r, NULL, H_TIMEOUT_MS)) == NULL)
		return -1;
	n = h_int(rep);
	free(rep);
	return n;
}

/* Starts one more pubsubd with extra configuration; never exits. */
int
h_start_pubsubd(struct h_env *env, const char *tag, const char *extra,
    int *portp, pid_t *pidp)
{
	const char	*bin = getenv("PUBSUBD");
	char		 conf[300], log[300];
	char		*argv[4];
	FILE		*f;
	pid_t		 pid;
	long long	 deadline;
	int		 port, status;

	if (bin == NULL)
		bin = "./daemon/pubsubd";
	port = h_free_port();
	snprintf(conf, sizeof(conf), "%s/pubsubd-%s.conf", env->dir, tag);
	snprintf(log, sizeof(log), "%s/pubsubd-%s.log", env->dir, tag);
	if ((f = fopen(conf, "w")) == NULL)
		return -1;
	fprintf(f, "listen = ( { host = \"127.0.0.1\"; port = %d; } );\n"
	    "redis = { host = \"127.0.0.1\"; port = %d; };\n"
	    "log = { level = \"%s\"; };\n%s\n", port, env->redis_port,
	    getenv("PUBSUBD_LOG_LEVEL") ? getenv("PUBSUBD_LOG_LEVEL") :
	    "info", extra != NULL ? extra : "");
	fclose(f);
	argv[0] = (char *)bin;
	argv[1] = "-c";
	argv[2] = conf;
	argv[3] = NULL;
	pid = h_spawn(argv, log);
	deadline = h_now_ms() + 10000;
	while (h_wait_ping(port, 200) == -1) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return -1;	/* it refused to start */
		if (h_now_ms() >= deadline) {
			h_kill(pid, 1000);
			return -1;
		}
	}
	*portp = port;
	*pidp = pid;
	return 0;
}

/* The length of the one whole RESP value at buf, or 0 if incomplete. */
size_t
h_resp_size(const char *buf, size_t len)
{
	return h_resp_len(buf, len);
}

/* Starts a fresh redis-server, then pubsubd with extra configuration. */
int
h_start_with(struct h_env *env, const char *redis_extra, const char *extra)
{
	const char	*bin = getenv("PUBSUBD");
	const char	*level = getenv("PUBSUBD_LOG_LEVEL");
	char		 log[300], dir[sizeof(env->dir)];
	char		*argv[4];
	FILE		*f;
	pid_t		 pid;
	long long	 deadline;
	int		 status;

	signal(SIGPIPE, SIG_IGN);
	if (bin == NULL)
		bin = "./daemon/pubsubd";
	memcpy(dir, env->dir, sizeof(dir));
	memset(env, 0, sizeof(*env));
	memcpy(env->dir, dir, sizeof(env->dir));
	if (env->dir[0] == '\0') {
		snprintf(env->dir, sizeof(env->dir),
		    "/tmp/pubsubd-test.XXXXXX");
		if (mkdtemp(env->dir) == NULL)
			h_die("mkdtemp: %s", strerror(errno));
	}
	env->redis_port = h_free_port();
	h_start_redis(env);

	env->pubsubd_port = h_free_port();
	snprintf(env->conf, sizeof(env->conf), "%s/pubsubd.conf", env->dir);
	snprintf(log, sizeof(log), "%s/pubsubd.log", env->dir);
	if ((f = fopen(env->conf, "w")) == NULL)
		return -1;
	fprintf(f, "listen = ( { host = \"127.0.0.1\"; port = %d; } );\n"
	    "redis = { host = \"127.0.0.1\"; port = %d; %s };\n"
	    "log = { level = \"%s\"; };\n%s\n", env->pubsubd_port,
	    env->redis_port, redis_extra != NULL ? redis_extra : "",
	    level != NULL ? level : "info", extra != NULL ? extra : "");
	fclose(f);
	argv[0] = (char *)bin;
	argv[1] = "-c";
	argv[2] = env->conf;
	argv[3] = NULL;
	pid = h_spawn(argv, log);
	deadline = h_now_ms() + 10000;
	while (h_wait_ping(env->pubsubd_port, 200) == -1) {
		if (waitpid(pid, &status, WNOHANG) == pid ||
		    h_now_ms() >= deadline) {
			if (h_now_ms() >= deadline)
				h_kill(pid, 1000);
			fprintf(stderr, "harness: pubsubd did not start with "
			    "%s (see %s)\n", env->conf, log);
			return -1;
		}
	}
	env->pubsubd_pid = pid;
	return 0;
}

/* The integer of one INFO field, asked on connection c. */
long long
h_info_on(struct h_conn *c, const char *section, const char *field,
    int timeout_ms)
{
	char		*rep, *p, *end;
	size_t		 flen = strlen(field);
	long long	 n = -1;

	if (h_command(c, "INFO", section, NULL) == -1 ||
	    (rep = h_reply(c, NULL, timeout_ms)) == NULL)
		return -1;
	for (p = rep; (p = strstr(p, field)) != NULL; p += flen) {
		if ((p == rep || p[-1] == '\n') && p[flen] == ':') {
			n = strtoll(p + flen + 1, &end, 10);
			if (end == p + flen + 1)
				n = -1;
			break;
		}
	}
	free(rep);
	return n;
}

/* The integer of one INFO field, asked on a connection of its own. */
long long
h_info_field(int port, const char *section, const char *field,
    int timeout_ms)
{
	struct h_conn	*c;
	long long	 n;

	if ((c = h_connect(port)) == NULL)
		return -1;
	n = h_info_on(c, section, field, timeout_ms);
	h_close(c);
	return n;
}

/* VmRSS of pid in KiB. */
long long
h_rss_kb(pid_t pid)
{
	char		 path[64], line[256];
	FILE		*f;
	long long	 kb = -1;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %lld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* A (un)subscribe confirmation frame: [kind, name, count]. */
char *
h_frame_confirm(const char *kind, const char *name, int count)
{
	char	*s;

	if (asprintf(&s, "*3\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n:%d\r\n",
	    strlen(kind), kind, strlen(name), name, count) == -1)
		h_die("out of memory");
	return s;
}

/* A message frame of channel. */
char *
h_frame_message(const char *channel, const char *payload)
{
	char	*s;

	if (asprintf(&s, "*3\r\n$7\r\nmessage\r\n$%zu\r\n%s\r\n$%zu\r\n"
	    "%s\r\n", strlen(channel), channel, strlen(payload), payload) == -1)
		h_die("out of memory");
	return s;
}

/* Expects frame next, then frees it. */
int
h_expect_free(struct h_conn *c, char *frame)
{
	int	ok = h_expect(c, frame);

	free(frame);
	return ok;
}

/*
 * ---- HTTP and INFO text, for the metrics suite (test_integ_metrics).
 * Kept together: other suites extend this file too. ----
 */

/* One HTTP request written by hand; the response read until close. */
int
h_http(int port, const char *method, const char *path,
    struct h_http_resp *resp, int timeout_ms)
{
	struct h_conn	*c;
	char		 req[1024], *all, *eoh;
	size_t		 len;
	int		 n;

	memset(resp, 0, sizeof(*resp));
	if ((c = h_connect(port)) == NULL)
		return -1;
	n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d"
	    "\r\nUser-Agent: pubsubd-harness\r\nConnection: close\r\n\r\n",
	    method, path, port);
	if (n < 0 || (size_t)n >= sizeof(req) ||
	    h_send(c, req, (size_t)n) == -1) {
		h_close(c);
		return -1;
	}
	all = h_read_all(c, &len, timeout_ms);
	h_close(c);
	if (all == NULL)
		return -1;
	if ((eoh = memmem(all, len, "\r\n\r\n", 4)) == NULL ||
	    sscanf(all, "HTTP/1.%*1[01] %3d ", &resp->status) != 1) {
		free(all);
		return -1;
	}
	eoh[2] = '\0';		/* the headers keep their last CRLF */
	resp->headers = all;
	resp->bodylen = len - (size_t)(eoh + 4 - all);
	if ((resp->body = malloc(resp->bodylen + 1)) == NULL) {
		h_http_free(resp);
		return -1;
	}
	memcpy(resp->body, eoh + 4, resp->bodylen);
	resp->body[resp->bodylen] = '\0';
	return 0;
}

/* Frees what h_http() filled in. */
void
h_http_free(struct h_http_resp *resp)
{
	free(resp->headers);
	free(resp->body);
	memset(resp, 0, sizeof(*resp));
}

/* A header's value (leading blanks dropped), or NULL. */
const char *
h_http_header(const struct h_http_resp *resp, const char *name, char *buf,
    size_t len)
{
	const char	*line, *end, *v;
	size_t		 nlen = strlen(name);

	if (resp->headers == NULL || (line = strstr(resp->headers, "\r\n")) ==
	    NULL)
		return NULL;
	for (line += 2; (end = strstr(line, "\r\n")) != NULL; line = end + 2) {
		if ((size_t)(end - line) <= nlen || line[nlen] != ':' ||
		    strncasecmp(line, name, nlen) != 0)
			continue;
		for (v = line + nlen + 1; *v == ' ' || *v == '\t'; v++)
			;
		snprintf(buf, len, "%.*s", (int)(end - v), v);
		return buf;
	}
	return NULL;
}

/* The text of one INFO section. */
char *
h_info_text(int port, const char *section, int timeout_ms)
{
	struct h_conn	*c;
	char		*rep, *text = NULL, *p;
	size_t		 len;
	long long	 n;

	if ((c = h_connect(port)) == NULL)
		return NULL;
	if (h_command(c, "INFO", section, NULL) == 0 &&
	    (rep = h_reply(c, &len, timeout_ms)) != NULL) {
		if (rep[0] == '$' && (n = strtoll(rep + 1, &p, 10)) >= 0 &&
		    strncmp(p, "\r\n", 2) == 0 &&
		    (size_t)n + (size_t)(p + 2 - rep) + 2 == len &&
		    (text = malloc((size_t)n + 1)) != NULL) {
			memcpy(text, p + 2, (size_t)n);
			text[n] = '\0';
		}
		free(rep);
	}
	h_close(c);
	return text;
}

/*
 * ---- For the service suite (test_integ_service.c): Unix sockets,
 * redis-server with arguments, pubsubd with a whole configuration file.
 * Kept together here, at the end, includes and all.
 */
#include <sys/un.h>

static int	h_answers(struct h_conn *);

/* Connects to the Unix socket at path. */
struct h_conn *
h_connect_unix(const char *path)
{
	struct sockaddr_un	 sun;
	struct h_conn		*c;
	int			 fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		return NULL;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return NULL;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return NULL;
	}
	c->fd = fd;
	return c;
}

/* Whether c (then closed) answers PING with +PONG or -NOAUTH. */
static int
h_answers(struct h_conn *c)
{
	char	*r;
	int	 ok = 0;

	if (c == NULL)
		return 0;
	if (h_sendstr(c, "PING\r\n") == 0 &&
	    (r = h_reply(c, NULL, 500)) != NULL) {
		ok = strcmp(r, "+PONG\r\n") == 0 ||
		    strncmp(r, "-NOAUTH", 7) == 0;
		free(r);
	}
	h_close(c);
	return ok;
}

/* Waits until the server at path answers PING. */
int
h_wait_ping_unix(const char *path, int timeout_ms)
{
	long long	deadline = h_now_ms() + timeout_ms;

	while (h_now_ms() < deadline) {
		if (h_answers(h_connect_unix(path)))
			return 0;
		usleep(20000);
	}
	return -1;
}

/* Starts redis-server with extra arguments, on TCP and/or a Unix socket. */
void
h_start_redis_argv(struct h_env *env, const char *unixsock,
    const char *const *extra)
{
	char		 port[16], log[300];
	const char	*argv[64];
	long long	 deadline;
	int		 n = 0, up = 0;

	snprintf(port, sizeof(port), "%d", env->redis_port);
	snprintf(log, sizeof(log), "%s/redis.log", env->dir);
	argv[n++] = "redis-server";
	argv[n++] = "--port";
	argv[n++] = port;
	argv[n++] = "--bind";
	argv[n++] = "127.0.0.1";
	argv[n++] = "--save";
	argv[n++] = "";
	argv[n++] = "--appendonly";
	argv[n++] = "no";
	argv[n++] = "--dir";
	argv[n++] = env->dir;
	argv[n++] = "--daemonize";
	argv[n++] = "no";
	if (unixsock != NULL) {
		argv[n++] = "--unixsocket";
		argv[n++] = unixsock;
		argv[n++] = "--unixsocketperm";
		argv[n++] = "700";
	}
	while (extra != NULL && *extra != NULL && n < 63)
		argv[n++] = *extra++;
	argv[n] = NULL;
	env->redis_pid = h_spawn((char *const *)argv, log);
	deadline = h_now_ms() + 10000;
	while (!up && h_now_ms() < deadline) {
		up = (env->redis_port != 0 &&
		    h_answers(h_connect(env->redis_port))) ||
		    (unixsock != NULL && h_answers(h_connect_unix(unixsock)));
		if (!up)
			usleep(20000);
	}
	if (!up)
		h_die("redis-server did not start (see %s)", log);
}

/* Writes a configuration file and spawns pubsubd with it. */
pid_t
h_spawn_pubsubd(struct h_env *env, const char *tag, const char *text,
    const char *const *args)
{
	const char	*bin = getenv("PUBSUBD");
	const char	*argv[32];
	char		 conf[300], log[300];
	FILE		*f;
	int		 n = 0;

	if (bin == NULL)
		bin = "./daemon/pubsubd";
	snprintf(conf, sizeof(conf), "%s/pubsubd-%s.conf", env->dir, tag);
	snprintf(log, sizeof(log), "%s/pubsubd-%s.log", env->dir, tag);
	if ((f = fopen(conf, "w")) == NULL || fputs(text, f) == EOF ||
	    fclose(f) == EOF)
		h_die("%s: %s", conf, strerror(errno));
	argv[n++] = bin;
	argv[n++] = "-c";
	argv[n++] = conf;
	while (args != NULL && *args != NULL && n < 31)
		argv[n++] = *args++;
	argv[n] = NULL;
	return h_spawn((char *const *)argv, log);
}

/* Connects to 127.0.0.1:port, retrying (every 20 ms) for up to ms. */
struct h_conn *
h_connect_within(int port, int ms)
{
	long long	 deadline = h_now_ms() + ms;
	struct h_conn	*c;

	while ((c = h_connect(port)) == NULL && h_now_ms() < deadline)
		usleep(20000);
	return c;
}

/* Whether the file at path holds needle. */
int
h_file_has(const char *path, const char *needle)
{
	FILE	*f;
	char	*buf;
	size_t	 len;
	int	 found;

	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if ((buf = malloc(4 << 20)) == NULL) {
		fclose(f);
		return 0;
	}
	len = fread(buf, 1, (4 << 20) - 1, f);
	fclose(f);
	buf[len] = '\0';
	found = memmem(buf, len, needle, strlen(needle)) != NULL;
	free(buf);
	return found;
}
