/*
 * test_conf.c: Check suite for daemon/conf.c and pubsubd -t.
 *
 * Each test writes its configuration to a private file made by mkstemp() in
 * /tmp, loads it, and removes it. A bad file must give exactly
 * "FILE:LINE: message" with the line of the offending setting (or
 * libconfig's own message and line for a syntax error, or "FILE: cannot
 * read: ..." for a file that cannot be read). The last tests run the built
 * daemon with -t, found through $PUBSUBD (exported by make check) or else
 * ./daemon/pubsubd from the build directory.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>

#include "check_run.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "conf.h"

#define PATH_LEN	64

/* A temporary file and the path it lives at. */
struct tmpfile {
	char	path[PATH_LEN];
};

static void		 tmp_write(struct tmpfile *, const char *);
static void		 tmp_remove(struct tmpfile *);
static struct conf	*load(const char *, char *, size_t);
static void		 expect_error(const char *, int, const char *);
static const char	*daemon_path(void);
static int		 run_daemon(const char *, const char *, char *, size_t,
			    char *, size_t);
static void		 slurp(int, char *, size_t);

/* Writes text to a new temporary file. */
static void
tmp_write(struct tmpfile *t, const char *text)
{
	size_t	len = strlen(text);
	int	fd;

	snprintf(t->path, sizeof(t->path), "/tmp/pubsubd-conf-XXXXXX");
	fd = mkstemp(t->path);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	ck_assert_int_eq(close(fd), 0);
}

/* Removes a temporary file. */
static void
tmp_remove(struct tmpfile *t)
{
	unlink(t->path);
}

/* Loads text from a temporary file; err gets the error, with the path. */
static struct conf *
load(const char *text, char *err, size_t errlen)
{
	struct tmpfile	 t;
	struct conf	*conf;

	tmp_write(&t, text);
	err[0] = '\0';
	conf = conf_load(t.path, err, errlen);
	tmp_remove(&t);
	return conf;
}

/* Checks that text fails to load with exactly "FILE:line: msg". */
static void
expect_error(const char *text, int line, const char *msg)
{
	struct tmpfile	 t;
	struct conf	*conf;
	char		 err[1024], want[1024];

	tmp_write(&t, text);
	err[0] = '\0';
	conf = conf_load(t.path, err, sizeof(err));
	snprintf(want, sizeof(want), "%s:%d: %s", t.path, line, msg);
	tmp_remove(&t);
	ck_assert_ptr_null(conf);
	ck_assert_str_eq(err, want);
}

/* The daemon to run: $PUBSUBD, else ./daemon/pubsubd (the build dir). */
static const char *
daemon_path(void)
{
	const char	*p = getenv("PUBSUBD");

	if (p == NULL || *p == '\0')
		p = "./daemon/pubsubd";
	ck_assert_msg(access(p, X_OK) == 0, "cannot run %s: set PUBSUBD or "
	    "run from the build directory", p);
	return p;
}

/* Reads what is left of fd from its start into buf (NUL-terminated). */
static void
slurp(int fd, char *buf, size_t len)
{
	ssize_t	n;
	size_t	got = 0;

	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	while (got + 1 < len && (n = read(fd, buf + got, len - got - 1)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
}

/*
 * Runs "bin -t -c path" and returns its exit status (-1 if it did not
 * exit), with what it wrote to stdout and stderr.
 */
static int
run_daemon(const char *bin, const char *path, char *out, size_t outlen,
    char *err, size_t errlen)
{
	char		 opath[] = "/tmp/pubsubd-out-XXXXXX";
	char		 epath[] = "/tmp/pubsubd-err-XXXXXX";
	int		 ofd, efd, status;
	pid_t		 pid;

	ofd = mkstemp(opath);
	efd = mkstemp(epath);
	ck_assert_int_ne(ofd, -1);
	ck_assert_int_ne(efd, -1);
	unlink(opath);
	unlink(epath);
	fflush(NULL);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		dup2(ofd, STDOUT_FILENO);
		dup2(efd, STDERR_FILENO);
		execl(bin, bin, "-t", "-c", path, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) == -1)
		ck_assert_int_eq(errno, EINTR);
	slurp(ofd, out, outlen);
	slurp(efd, err, errlen);
	close(ofd);
	close(efd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The built-in defaults. */
START_TEST(test_defaults)
{
	struct conf	*conf;

	conf = conf_new_defaults();
	ck_assert_ptr_nonnull(conf);
	ck_assert_uint_eq(conf->nlisten, 1);
	ck_assert_str_eq(conf->listen[0].host, CONF_DEFAULT_LISTEN_HOST);
	ck_assert_int_eq(conf->listen[0].port, CONF_DEFAULT_LISTEN_PORT);
	ck_assert_str_eq(conf->redis_host, CONF_DEFAULT_REDIS_HOST);
	ck_assert_int_eq(conf->redis_port, CONF_DEFAULT_REDIS_PORT);
	ck_assert_int_eq(conf->log_level, LOG_LEVEL_INFO);
	ck_assert_int_eq(conf->ready_timeout, 10000);
	ck_assert_int_eq(conf->health_interval, 1000);
	ck_assert_int_eq(conf->health_timeout, 5000);
	conf_free(conf);
	conf_free(NULL);
}
END_TEST

/* The systemd group: ready_timeout, its range, and nothing else. */
START_TEST(test_systemd_group)
{
	struct conf	*conf;
	char		 err[1024];

	conf = load("systemd = { ready_timeout = 0; };\n", err, sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	ck_assert_int_eq(conf->ready_timeout, 0);
	conf_free(conf);
	conf = load("systemd = { ready_timeout = 3600000; };\n", err,
	    sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	ck_assert_int_eq(conf->ready_timeout, 3600000);
	conf_free(conf);

	expect_error("systemd = {\n  ready_timeout = -1;\n};\n", 2,
	    "'ready_timeout' must be between 0 and 3600000, not -1");
	expect_error("systemd = {\n  ready_timeout = \"10s\";\n};\n", 2,
	    "'ready_timeout' must be an integer");
	expect_error("systemd = {\n  watchdog = 1;\n};\n", 2,
	    "unknown key 'watchdog'");
	expect_error("\nsystemd = 1;\n", 2,
	    "'systemd' must be a group { ... }");
}
END_TEST

/* A file that sets every key. */
START_TEST(test_full_file)
{
	static const char text[] =
	    "# pubsubd test configuration\n"
	    "listen = (\n"
	    "  { host = \"127.0.0.2\"; port = 7000; }\n"
	    ");\n"
	    "redis = {\n"
	    "  host = \"redis.example\";  // a comment\n"
	    "  port = 6380;\n"
	    "};\n"
	    "log = { level = \"debug\"; };\n";
	struct conf	*conf;
	char		 err[1024];

	conf = load(text, err, sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	ck_assert_uint_eq(conf->nlisten, 1);
	ck_assert_str_eq(conf->listen[0].host, "127.0.0.2");
	ck_assert_int_eq(conf->listen[0].port, 7000);
	ck_assert_str_eq(conf->redis_host, "redis.example");
	ck_assert_int_eq(conf->redis_port, 6380);
	ck_assert_int_eq(conf->log_level, LOG_LEVEL_DEBUG);
	conf_free(conf);
}
END_TEST

/* Two listen entries, one IPv6; missing keys of an entry take defaults. */
START_TEST(test_listen_two_entries_ipv6)
{
	static const char text[] =
	    "listen = (\n"
	    "  { host = \"::1\"; port = 7001; },\n"
	    "  { port = 0; },\n"
	    "  { host = \"0.0.0.0\"; }\n"
	    ");\n";
	struct conf	*conf;
	char		 err[1024];

	conf = load(text, err, sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	ck_assert_uint_eq(conf->nlisten, 3);
	ck_assert_str_eq(conf->listen[0].host, "::1");
	ck_assert_int_eq(conf->listen[0].port, 7001);
	ck_assert_str_eq(conf->listen[1].host, CONF_DEFAULT_LISTEN_HOST);
	ck_assert_int_eq(conf->listen[1].port, 0);
	ck_assert_str_eq(conf->listen[2].host, "0.0.0.0");
	ck_assert_int_eq(conf->listen[2].port, CONF_DEFAULT_LISTEN_PORT);
	conf_free(conf);
}
END_TEST

/* An empty file, or one setting, leaves the rest at the defaults. */
START_TEST(test_partial_and_empty)
{
	struct conf	*conf;
	char		 err[1024];

	conf = load("", err, sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	ck_assert_uint_eq(conf->nlisten, 1);
	ck_assert_str_eq(conf->listen[0].host, CONF_DEFAULT_LISTEN_HOST);
	ck_assert_int_eq(conf->listen[0].port, CONF_DEFAULT_LISTEN_PORT);
	ck_assert_str_eq(conf->redis_host, CONF_DEFAULT_REDIS_HOST);
	ck_assert_int_eq(conf->redis_port, CONF_DEFAULT_REDIS_PORT);
	ck_assert_int_eq(conf->log_level, LOG_LEVEL_INFO);
	conf_free(conf);

	conf = load("redis = { port = 7379L; };\nlog = { };\n", err,
	    sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	ck_assert_int_eq(conf->redis_port, 7379);
	ck_assert_str_eq(conf->redis_host, CONF_DEFAULT_REDIS_HOST);
	ck_assert_int_eq(conf->listen[0].port, CONF_DEFAULT_LISTEN_PORT);
	ck_assert_int_eq(conf->log_level, LOG_LEVEL_INFO);
	conf_free(conf);

	conf = load("log = { level = \"error\"; };\n", err, sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	ck_assert_int_eq(conf->log_level, LOG_LEVEL_ERROR);
	conf_free(conf);
}
END_TEST

/* The metrics group: off by default, loopback, 9479, /metrics. */
START_TEST(test_metrics_defaults_and_full)
{
	static const char text[] =
	    "metrics = {\n"
	    "  enabled = true;\n"
	    "  host = \"::1\";\n"
	    "  port = 9100;\n"
	    "  path = \"/pubsubd/metrics-v1_x~\";\n"
	    "};\n";
	struct conf	*conf;
	char		 err[1024];

	conf = conf_new_defaults();
	ck_assert_ptr_nonnull(conf);
	ck_assert_int_eq(conf->metrics.enabled, 0);
	ck_assert_str_eq(conf->metrics.host, "127.0.0.1");
	ck_assert_int_eq(conf->metrics.port, 9479);
	ck_assert_str_eq(conf->metrics.path, "/metrics");
	conf_free(conf);

	conf = load(text, err, sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	ck_assert_int_eq(conf->metrics.enabled, 1);
	ck_assert_str_eq(conf->metrics.host, "::1");
	ck_assert_int_eq(conf->metrics.port, 9100);
	ck_assert_str_eq(conf->metrics.path, "/pubsubd/metrics-v1_x~");
	conf_free(conf);

	/* Partial: the rest keeps its default; port 0 picks a free one. */
	conf = load("metrics = { enabled = true; port = 0; };\n", err,
	    sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	ck_assert_int_eq(conf->metrics.enabled, 1);
	ck_assert_int_eq(conf->metrics.port, 0);
	ck_assert_str_eq(conf->metrics.host, "127.0.0.1");
	ck_assert_str_eq(conf->metrics.path, "/metrics");
	conf_free(conf);

	/* The listen port is free to reuse while metrics are off. */
	conf = load("listen = ( { port = 9479; } );\nmetrics = { };\n", err,
	    sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	conf_free(conf);
}
END_TEST

/* Bad metrics settings, each with its line. */
START_TEST(test_metrics_errors)
{
	char	long_path[300], text[400];

	expect_error("metrics = {\n  enabled = 1;\n};\n", 2,
	    "'enabled' must be true or false");
	expect_error("metrics = {\n  port = 65536;\n};\n", 2,
	    "'port' must be between 0 and 65535, not 65536");
	expect_error("metrics = {\n  port = -1;\n};\n", 2,
	    "'port' must be between 0 and 65535, not -1");
	expect_error("metrics = {\n  host = \"\";\n};\n", 2,
	    "'host' must not be empty");
	expect_error("metrics = {\n  host = 1;\n};\n", 2,
	    "'host' must be a string");
	expect_error("metrics = {\n\n  path = \"metrics\";\n};\n", 3,
	    "'path' must start with '/' and be at most 256 bytes");
	expect_error("metrics = { path = \"/a b\"; };\n", 1,
	    "'path' may hold only letters, digits and / - . _ ~");
	expect_error("metrics = { path = \"/m?x=1\"; };\n", 1,
	    "'path' may hold only letters, digits and / - . _ ~");
	expect_error("metrics = { path = \"/m%20\"; };\n", 1,
	    "'path' may hold only letters, digits and / - . _ ~");
	expect_error("metrics = {\n  bogus = 1;\n};\n", 2,
	    "unknown key 'bogus'");
	expect_error("\nmetrics = 9479;\n", 2,
	    "'metrics' must be a group { ... }");
	memset(long_path, 'a', sizeof(long_path));
	long_path[0] = '/';
	long_path[257] = '\0';
	snprintf(text, sizeof(text), "metrics = { path = \"%s\"; };\n",
	    long_path);
	expect_error(text, 1, "'path' must start with '/' and be at most 256 "
	    "bytes");
	/* The same address as a listener, with the line of its port. */
	expect_error("listen = ( { host = \"127.0.0.1\"; port = 7000; } );\n"
	    "metrics = {\n  enabled = true;\n  port = 7000;\n};\n", 4,
	    "metrics' 127.0.0.1:7000 is also a listen address");
	expect_error("listen = ( { port = 9479; } );\n"
	    "metrics = { enabled = true; };\n", 2,
	    "metrics' 127.0.0.1:9479 is also a listen address");
}
END_TEST

/* Unknown keys, at the top and in each group, with their own line. */
START_TEST(test_unknown_keys)
{
	expect_error("redis = { port = 1; };\n\nbogus = 1;\n", 3,
	    "unknown key 'bogus'");
	expect_error("redis = {\n  host = \"x\";\n  hots = \"y\";\n};\n", 3,
	    "unknown key 'hots'");
	expect_error("log = {\n  level = \"info\";\n  file = \"/x\";\n};\n",
	    3, "unknown key 'file'");
	expect_error("listen = (\n  { host = \"a\"; port = 1; },\n  {\n"
	    "    host = \"b\";\n    prot = 2;\n  }\n);\n", 5,
	    "unknown key 'prot'");
}
END_TEST

/* Values of the wrong type. */
START_TEST(test_wrong_types)
{
	expect_error("redis = {\n  port = \"6379\";\n};\n", 2,
	    "'port' must be an integer");
	expect_error("redis = {\n  host = 127;\n};\n", 2,
	    "'host' must be a string");
	expect_error("listen = (\n  { host = 1; }\n);\n", 2,
	    "'host' must be a string");
	expect_error("listen = (\n  {\n    port = 1.5;\n  }\n);\n", 3,
	    "'port' must be an integer");
	expect_error("\nlog = { level = 3; };\n", 2,
	    "'level' must be a string");
	expect_error("redis = { host = \"\"; };\n", 1,
	    "'host' must not be empty");
	expect_error("\n\nredis = 5;\n", 3, "'redis' must be a group { ... }");
	expect_error("log = ( 1 );\n", 1, "'log' must be a group { ... }");
}
END_TEST

/* Ports out of range: Redis' must be 1-65535, a listener's 0-65535. */
START_TEST(test_port_range)
{
	struct conf	*conf;
	char		 err[1024];

	expect_error("redis = {\n  port = 0;\n};\n", 2,
	    "'port' must be between 1 and 65535, not 0");
	expect_error("redis = {\n\n  port = 70000;\n};\n", 3,
	    "'port' must be between 1 and 65535, not 70000");
	expect_error("listen = (\n  { port = 70000; }\n);\n", 2,
	    "'port' must be between 0 and 65535, not 70000");
	expect_error("listen = ( { port = -1; } );\n", 1,
	    "'port' must be between 0 and 65535, not -1");
	expect_error("redis = { port = 4294967297L; };\n", 1,
	    "'port' must be between 1 and 65535, not 4294967297");

	expect_error("redis = {\n  health_interval = 1000;\n"
	    "  health_timeout = 999;\n};\n", 3,
	    "'health_timeout' (999) must not be below 'health_interval' "
	    "(1000)");
	expect_error("redis = { health_timeout = 5; };\n", 1,
	    "'health_timeout' must be between 10 and 3600000, not 5");
	conf = load("redis = { health_interval = 0; health_timeout = 10; };\n",
	    err, sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	ck_assert_int_eq(conf->health_timeout, 10);
	conf_free(conf);

	conf = load("redis = { port = 65535; };\n"
	    "listen = ( { port = 65535; } );\n", err, sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	ck_assert_int_eq(conf->redis_port, 65535);
	ck_assert_int_eq(conf->listen[0].port, 65535);
	conf_free(conf);
}
END_TEST

/* A log level that is not one of the names. */
START_TEST(test_bad_log_level)
{
	expect_error("redis = { };\nlog = {\n  level = \"loud\";\n};\n", 3,
	    "'level' must be one of error, warning, notice, info, debug; "
	    "not 'loud'");
}
END_TEST

/* The listen setting: not empty, a list, of groups. */
START_TEST(test_listen_shape)
{
	expect_error("\nlisten = ( );\n", 2,
	    "'listen' must name at least one address");
	expect_error("listen = { host = \"a\"; };\n", 1,
	    "'listen' must be a list ( { host = ...; port = ...; }, ... )");
	expect_error("\n\nlisten = [ 1, 2 ];\n", 3,
	    "'listen' must be a list ( { host = ...; port = ...; }, ... )");
	expect_error("listen = \"127.0.0.1\";\n", 1,
	    "'listen' must be a list ( { host = ...; port = ...; }, ... )");
	expect_error("listen = (\n  { port = 1; },\n  6479\n);\n", 3,
	    "each 'listen' entry must be a group { host = ...; port = ...; }");
}
END_TEST

/* A syntax error gives libconfig's own message and line. */
START_TEST(test_syntax_error)
{
	expect_error("redis = {\n  port = 1;\n  host = ;\n};\n", 3,
	    "syntax error");
	expect_error("log = { level = \"info\"; };\nlog = { };\n", 2,
	    "duplicate setting name");
}
END_TEST

/* A file that cannot be read: "FILE: cannot read: reason". */
START_TEST(test_cannot_read)
{
	struct tmpfile	 t;
	struct conf	*conf;
	char		 err[1024], want[1024];
	char		 dir[] = "/tmp/pubsubd-dir-XXXXXX";

	conf = conf_load("/nonexistent/pubsubd.conf", err, sizeof(err));
	ck_assert_ptr_null(conf);
	ck_assert_str_eq(err, "/nonexistent/pubsubd.conf: cannot read: "
	    "No such file or directory");

	/* A directory (libconfig's scanner would exit the process). */
	ck_assert_ptr_nonnull(mkdtemp(dir));
	conf = conf_load(dir, err, sizeof(err));
	snprintf(want, sizeof(want), "%s: cannot read: %s", dir,
	    strerror(EISDIR));
	rmdir(dir);
	ck_assert_ptr_null(conf);
	ck_assert_str_eq(err, want);

	/* Unreadable by permissions (root reads anything: skip then). */
	if (geteuid() != 0) {
		tmp_write(&t, "log = { };\n");
		ck_assert_int_eq(chmod(t.path, 0), 0);
		conf = conf_load(t.path, err, sizeof(err));
		snprintf(want, sizeof(want), "%s: cannot read: %s", t.path,
		    strerror(EACCES));
		tmp_remove(&t);
		ck_assert_ptr_null(conf);
		ck_assert_str_eq(err, want);
	}
}
END_TEST

/* A small error buffer gets a truncated, terminated message. */
START_TEST(test_small_error_buffer)
{
	struct conf	*conf;
	char		 err[17];

	memset(err, 'x', sizeof(err));
	conf = load("bogus = 1;\n", err, 16);
	ck_assert_ptr_null(conf);
	ck_assert_uint_eq(strlen(err), 15);
	ck_assert_int_eq(err[16], 'x');
	ck_assert(strncmp(err, "/tmp/pubsubd-co", 15) == 0);
}
END_TEST

/* pubsubd -t -c GOOD exits 0 and says so. */
START_TEST(test_daemon_check_good)
{
	struct tmpfile	 t;
	const char	*bin = daemon_path();	/* before making files */
	char		 out[1024], err[1024];
	int		 rv;

	tmp_write(&t, "listen = ( { host = \"::1\"; port = 0; } );\n"
	    "redis = { host = \"localhost\"; port = 6379; };\n"
	    "log = { level = \"notice\"; };\n");
	rv = run_daemon(bin, t.path, out, sizeof(out), err, sizeof(err));
	tmp_remove(&t);
	ck_assert_msg(rv == 0, "exit %d, stderr: %s", rv, err);
	ck_assert_ptr_nonnull(strstr(out, t.path));
	ck_assert_str_eq(err, "");
}
END_TEST

/*
 * `workers`: 1 by default, 1 to 64, an integer; above 1 it refuses listen
 * port 0 and a metrics port range (one per worker) that does not fit.
 */
START_TEST(test_workers)
{
	struct tmpfile	 t;
	struct conf	*c;
	char		 err[512];

	c = conf_new_defaults();
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(c->workers, 1);
	conf_free(c);
	tmp_write(&t, "workers = 64;\n");
	c = conf_load(t.path, err, sizeof(err));
	tmp_remove(&t);
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_int_eq(c->workers, 64);
	conf_free(c);
	expect_error("\nworkers = 0;\n", 2,
	    "'workers' must be between 1 and 64, not 0");
	expect_error("workers = 65;\n", 1,
	    "'workers' must be between 1 and 64, not 65");
	expect_error("\n\nworkers = \"two\";\n", 3,
	    "'workers' must be an integer");
	expect_error("workers = 2;\nlisten = (\n  { port = 7000; },\n"
	    "  { host = \"::1\"; port = 0; }\n);\n", 4,
	    "'port' 0 (any free port) cannot be shared by 2 workers: give a "
	    "port");
	expect_error("workers = 3;\nmetrics = {\n  enabled = true;\n"
	    "  port = 65534;\n};\n", 4,
	    "metrics 'port' 65534 + 3 workers passes 65535 (worker i serves "
	    "port + i)");
	expect_error("workers = 3;\nlisten = ( { port = 7002; } );\n"
	    "metrics = {\n  enabled = true;\n  port = 7000;\n};\n", 5,
	    "metrics ports 7000 to 7002 (one per worker) include the listen "
	    "port 7002");
}
END_TEST

/* pubsubd -t -c BAD exits 78 (EX_CONFIG) with FILE:LINE: message. */
START_TEST(test_daemon_check_bad)
{
	struct tmpfile	 t;
	const char	*bin = daemon_path();	/* before making files */
	char		 out[1024], err[1024], want[1024];
	char		 dir[] = "/tmp/pubsubd-dir-XXXXXX";
	int		 rv;

	tmp_write(&t, "redis = {\n  port = 70000;\n};\n");
	rv = run_daemon(bin, t.path, out, sizeof(out), err, sizeof(err));
	snprintf(want, sizeof(want), "%s:2: 'port' must be between 1 and "
	    "65535, not 70000\n", t.path);
	tmp_remove(&t);
	ck_assert_int_eq(rv, CONF_EXIT_BAD);
	ck_assert_ptr_nonnull(strstr(err, want));

	tmp_write(&t, "listen = (\n");
	rv = run_daemon(bin, t.path, out, sizeof(out), err, sizeof(err));
	snprintf(want, sizeof(want), "%s:2: syntax error", t.path);
	tmp_remove(&t);
	ck_assert_int_eq(rv, CONF_EXIT_BAD);
	ck_assert_ptr_nonnull(strstr(err, want));

	rv = run_daemon(bin, "/nonexistent/pubsubd.conf", out, sizeof(out),
	    err, sizeof(err));
	ck_assert_int_eq(rv, CONF_EXIT_BAD);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/pubsubd.conf: "
	    "cannot read: "));

	tmp_write(&t, "\nworkers = 65;\n");
	rv = run_daemon(bin, t.path, out, sizeof(out), err, sizeof(err));
	snprintf(want, sizeof(want), "%s:2: 'workers' must be between 1 and "
	    "64, not 65\n", t.path);
	tmp_remove(&t);
	ck_assert_int_eq(rv, CONF_EXIT_BAD);
	ck_assert_ptr_nonnull(strstr(err, want));

	ck_assert_ptr_nonnull(mkdtemp(dir));
	rv = run_daemon(bin, dir, out, sizeof(out), err, sizeof(err));
	rmdir(dir);
	ck_assert_msg(rv == CONF_EXIT_BAD, "exit %d, stderr: %s", rv, err);
	ck_assert_ptr_nonnull(strstr(err, ": cannot read: "));
}
END_TEST

/*
 * An @include of something that is not a regular file is refused with the
 * line (libconfig 1.5 would exit the process reading it: a reload must
 * never do that); a good include is read.
 */
START_TEST(test_include_checked)
{
	char	good[64], bad[64], inc[64], text[256], err[512];
	struct conf *conf;
	int	fd;

	snprintf(inc, sizeof(inc), "/tmp/pubsubd-inc-XXXXXX");
	ck_assert_int_ne(fd = mkstemp(inc), -1);
	ck_assert_int_gt(write(fd, "log = { level = \"debug\"; };\n", 28), 0);
	close(fd);
	snprintf(text, sizeof(text), "# good\n@include \"%s\"\n", inc);
	snprintf(good, sizeof(good), "/tmp/pubsubd-good-XXXXXX");
	ck_assert_int_ne(fd = mkstemp(good), -1);
	ck_assert_int_gt(write(fd, text, strlen(text)), 0);
	close(fd);
	conf = conf_load(good, err, sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	ck_assert_int_eq(conf->log_level, LOG_LEVEL_DEBUG);
	conf_free(conf);

	snprintf(bad, sizeof(bad), "/tmp/pubsubd-bad-XXXXXX");
	ck_assert_int_ne(fd = mkstemp(bad), -1);
	ck_assert_int_gt(write(fd, "\n  @include \"/\"\n", 16), 0);
	close(fd);
	ck_assert_ptr_null(conf_load(bad, err, sizeof(err)));
	snprintf(text, sizeof(text), "%s:2: cannot include '/': not a "
	    "regular file", bad);
	ck_assert_str_eq(err, text);
	unlink(inc);
	unlink(good);
	unlink(bad);
}
END_TEST

/*
 * ---- The service keys: Unix socket listeners, Redis over a Unix socket
 * and with credentials, the pid file, syslog.
 */

/* Unix socket listen entries, beside TCP ones; the mode's default. */
START_TEST(test_listen_unix)
{
	struct conf	*conf;
	char		 err[1024];

	conf = load("listen = (\n"
	    "  { path = \"/run/pubsubd/a.sock\"; mode = \"0600\"; },\n"
	    "  { path = \"/run/pubsubd/b.sock\"; },\n"
	    "  { host = \"::1\"; port = 7001; },\n"
	    "  { path = \"/c\"; mode = \"7\"; }\n"
	    ");\n", err, sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	ck_assert_uint_eq(conf->nlisten, 4);
	ck_assert_str_eq(conf->listen[0].path, "/run/pubsubd/a.sock");
	ck_assert_ptr_null(conf->listen[0].host);
	ck_assert_int_eq(conf->listen[0].mode, 0600);
	ck_assert_str_eq(conf->listen[1].path, "/run/pubsubd/b.sock");
	ck_assert_int_eq(conf->listen[1].mode, CONF_DEFAULT_UNIX_MODE);
	ck_assert_int_eq(CONF_DEFAULT_UNIX_MODE, 0660);
	ck_assert_ptr_null(conf->listen[2].path);
	ck_assert_str_eq(conf->listen[2].host, "::1");
	ck_assert_int_eq(conf->listen[3].mode, 07);
	conf_free(conf);
}
END_TEST

/*
 * Each listen entry's backlog: 511 unless set (the built-in entry too),
 * 1 to 65535, an integer; for TCP and Unix entries alike.
 */
START_TEST(test_listen_backlog)
{
	struct conf	*conf;
	char		 err[1024];

	conf = conf_new_defaults();
	ck_assert_ptr_nonnull(conf);
	ck_assert_int_eq(conf->listen[0].backlog, 511);
	ck_assert_int_eq(CONF_DEFAULT_LISTEN_BACKLOG, 511);
	conf_free(conf);

	conf = load("listen = (\n"
	    "  { host = \"127.0.0.1\"; port = 7001; backlog = 4096; },\n"
	    "  { host = \"::1\"; port = 7002; },\n"
	    "  { path = \"/run/pubsubd/a.sock\"; backlog = 1; },\n"
	    "  { port = 7003; backlog = 65535; }\n"
	    ");\n", err, sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	ck_assert_int_eq(conf->listen[0].backlog, 4096);
	ck_assert_int_eq(conf->listen[1].backlog, 511);
	ck_assert_int_eq(conf->listen[2].backlog, 1);
	ck_assert_int_eq(conf->listen[3].backlog, 65535);
	conf_free(conf);

	expect_error("listen = (\n  { port = 1;\n    backlog = 0; }\n);\n",
	    3, "'backlog' must be between 1 and 65535, not 0");
	expect_error("listen = ( { port = 1; backlog = 65536; } );\n", 1,
	    "'backlog' must be between 1 and 65535, not 65536");
	expect_error("listen = ( { path = \"/a\"; backlog = -5; } );\n", 1,
	    "'backlog' must be between 1 and 65535, not -5");
	expect_error("listen = (\n  { port = 1; backlog = \"511\"; }\n);\n",
	    2, "'backlog' must be an integer");
	expect_error("listen = ( { port = 1; backlog = 1.5; } );\n", 1,
	    "'backlog' must be an integer");
	expect_error("listen = ( { port = 1; backlog = 9999999999L; } );\n",
	    1, "'backlog' must be between 1 and 65535, not 9999999999");
}
END_TEST

/* A listen entry is a path or a host and port, never both; checked. */
START_TEST(test_listen_unix_errors)
{
	char	text[512], msg[256], path[120];

	expect_error("listen = (\n  { port = 1;\n    path = \"/a\"; }\n);\n",
	    3, "a 'listen' entry has either 'path' or 'host' and 'port', "
	    "not both");
	expect_error("listen = ( { path = \"/a\"; host = \"b\"; } );\n", 1,
	    "a 'listen' entry has either 'path' or 'host' and 'port', "
	    "not both");
	expect_error("listen = (\n  { host = \"a\";\n    mode = \"0600\"; }\n"
	    ");\n", 3, "'mode' is only for a Unix socket's 'path'");
	expect_error("listen = ( { path = \"rel.sock\"; } );\n", 1,
	    "'path' must be an absolute path, not 'rel.sock'");
	expect_error("listen = ( { path = \"\"; } );\n", 1,
	    "'path' must not be empty");
	expect_error("listen = ( { path = 5; } );\n", 1,
	    "'path' must be a string");
	expect_error("listen = (\n  { path = \"/a\"; },\n  { path = \"/b\"; },"
	    "\n  { path = \"/a\"; }\n);\n", 4, "'path' \"/a\" is listed twice");

	/* sun_path holds 107 bytes and the NUL. */
	memset(path, 'p', sizeof(path));
	path[0] = '/';
	path[108] = '\0';
	snprintf(text, sizeof(text), "listen = ( { path = \"%s\"; } );\n",
	    path);
	expect_error(text, 1, "'path' is 108 bytes long; a Unix socket's path "
	    "has at most 107");
	path[107] = '\0';
	snprintf(text, sizeof(text), "listen = ( { path = \"%s\"; } );\n",
	    path);
	conf_free(load(text, msg, sizeof(msg)));
	ck_assert_str_eq(msg, "");

	snprintf(msg, sizeof(msg), "'mode' must be a string of octal digits "
	    "up to \"0777\", such as \"0660\"");
	expect_error("listen = ( { path = \"/a\"; mode = \"0999\"; } );\n", 1,
	    msg);
	expect_error("listen = ( { path = \"/a\"; mode = \"rw\"; } );\n", 1,
	    msg);
	expect_error("listen = ( { path = \"/a\"; mode = \"\"; } );\n", 1,
	    msg);
	expect_error("listen = ( { path = \"/a\"; mode = \"01000\"; } );\n", 1,
	    msg);
	expect_error("listen = ( { path = \"/a\";\n  mode = 660; } );\n", 2,
	    msg);
}
END_TEST

/*
 * Metrics beside Unix socket listeners: a Unix entry has no host and never
 * clashes with the metrics address (and must not be compared as one); a TCP
 * entry after it still does.
 */
START_TEST(test_metrics_with_unix_listen)
{
	struct conf	*conf;
	char		 err[1024];

	conf = load("listen = (\n"
	    "  { path = \"/run/pubsubd/a.sock\"; },\n"
	    "  { host = \"127.0.0.1\"; port = 6479; },\n"
	    "  { path = \"/run/pubsubd/b.sock\"; mode = \"0600\"; }\n"
	    ");\n"
	    "metrics = { enabled = true; };\n", err, sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	ck_assert_uint_eq(conf->nlisten, 3);
	ck_assert_ptr_null(conf->listen[0].host);
	ck_assert_int_eq(conf->metrics.enabled, 1);
	ck_assert_str_eq(conf->metrics.host, "127.0.0.1");
	ck_assert_int_eq(conf->metrics.port, 9479);
	conf_free(conf);

	/* Only Unix sockets, and metrics on an explicit port. */
	conf = load("listen = ( { path = \"/a\"; } );\n"
	    "metrics = { enabled = true; port = 6479; };\n", err,
	    sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	ck_assert_int_eq(conf->metrics.port, 6479);
	conf_free(conf);

	expect_error("listen = ( { path = \"/a\"; },\n"
	    "  { host = \"127.0.0.1\"; port = 7000; } );\n"
	    "metrics = {\n  enabled = true;\n  port = 7000;\n};\n", 5,
	    "metrics' 127.0.0.1:7000 is also a listen address");
}
END_TEST

/* Redis over a Unix socket, and with credentials. */
START_TEST(test_redis_unix_and_auth)
{
	struct conf	*conf;
	char		 err[1024];

	conf = conf_new_defaults();
	ck_assert_ptr_nonnull(conf);
	ck_assert_ptr_null(conf->redis_path);
	ck_assert_ptr_null(conf->redis_username);
	ck_assert_ptr_null(conf->redis_password);
	conf_free(conf);

	conf = load("redis = { path = \"/run/redis/redis.sock\"; "
	    "password = \"pw\"; };\n", err, sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	ck_assert_str_eq(conf->redis_path, "/run/redis/redis.sock");
	ck_assert_str_eq(conf->redis_password, "pw");
	ck_assert_ptr_null(conf->redis_username);
	conf_free(conf);

	conf = load("redis = { username = \"app\"; password = \"s3cret\"; "
	    "host = \"10.1.2.3\"; };\n", err, sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	ck_assert_ptr_null(conf->redis_path);
	ck_assert_str_eq(conf->redis_username, "app");
	ck_assert_str_eq(conf->redis_password, "s3cret");
	conf_free(conf);

	expect_error("redis = {\n  host = \"h\";\n  path = \"/r.sock\";\n};\n",
	    3, "'redis' has either 'path' or 'host' and 'port', not both");
	expect_error("redis = { path = \"/r.sock\";\n  port = 6380; };\n", 1,
	    "'redis' has either 'path' or 'host' and 'port', not both");
	expect_error("redis = { path = \"r.sock\"; };\n", 1,
	    "'path' must be an absolute path, not 'r.sock'");
	expect_error("redis = {\n  username = \"app\";\n};\n", 2,
	    "'username' needs a 'password'");
	expect_error("redis = { password = \"\"; };\n", 1,
	    "'password' must not be empty");
	expect_error("redis = { password = 1234; };\n", 1,
	    "'password' must be a string");
}
END_TEST

/* redis.sentinel: the master's name, its sentinels, their credentials. */
START_TEST(test_redis_sentinel)
{
	struct conf	*conf, *other;
	char		 err[1024], text[2048];
	size_t		 n;
	int		 i;

	conf = load("redis = {\n  password = \"redis-pw\";\n  sentinel = {\n"
	    "    master = \"mymaster\";\n    nodes = ( \"127.0.0.1:26379\", "
	    "\"s2.example:26380\", \"[::1]:26381\" );\n    username = \"sen\";"
	    "\n    password = \"sen-pw\";\n  };\n};\n", err, sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	ck_assert_str_eq(conf->redis_sentinel.master, "mymaster");
	ck_assert_uint_eq(conf->redis_sentinel.nnodes, 3);
	ck_assert_str_eq(conf->redis_sentinel.nodes[0].host, "127.0.0.1");
	ck_assert_int_eq(conf->redis_sentinel.nodes[0].port, 26379);
	ck_assert_str_eq(conf->redis_sentinel.nodes[1].host, "s2.example");
	ck_assert_int_eq(conf->redis_sentinel.nodes[1].port, 26380);
	ck_assert_str_eq(conf->redis_sentinel.nodes[2].host, "::1");
	ck_assert_int_eq(conf->redis_sentinel.nodes[2].port, 26381);
	ck_assert_str_eq(conf->redis_sentinel.username, "sen");
	ck_assert_str_eq(conf->redis_sentinel.password, "sen-pw");
	/* The master's own password stays redis.password. */
	ck_assert_str_eq(conf->redis_password, "redis-pw");

	/* A reload compares groups: the same, or not. */
	other = load("redis = { sentinel = { master = \"mymaster\"; nodes = "
	    "( \"127.0.0.1:26379\" ); }; };\n", err, sizeof(err));
	ck_assert_msg(other != NULL, "%s", err);
	ck_assert_int_eq(conf_sentinel_same(&conf->redis_sentinel,
	    &other->redis_sentinel), 0);
	ck_assert_int_eq(conf_sentinel_same(&conf->redis_sentinel,
	    &conf->redis_sentinel), 1);
	conf_free(other);
	other = conf_new_defaults();
	ck_assert_ptr_null(other->redis_sentinel.master);
	ck_assert_int_eq(conf_sentinel_same(&conf->redis_sentinel,
	    &other->redis_sentinel), 0);
	ck_assert_int_eq(conf_sentinel_same(&other->redis_sentinel,
	    &other->redis_sentinel), 1);
	conf_free(other);
	conf_free(conf);

	/* Not with a fixed address. */
	expect_error("redis = {\n  host = \"h\";\n  sentinel = {\n    master = "
	    "\"m\";\n    nodes = ( \"a:1\" );\n  };\n};\n", 3, "'redis' has "
	    "either 'sentinel' or 'host', 'port' and 'path': the sentinels "
	    "say where the master is");
	expect_error("redis = { port = 6380;\n  sentinel = { master = \"m\"; "
	    "nodes = ( \"a:1\" ); }; };\n", 2, "'redis' has either "
	    "'sentinel' or 'host', 'port' and 'path': the sentinels say "
	    "where the master is");
	expect_error("redis = { path = \"/r.sock\";\n  sentinel = { master = "
	    "\"m\"; nodes = ( \"a:1\" ); }; };\n", 2, "'redis' has either "
	    "'sentinel' or 'host', 'port' and 'path': the sentinels say "
	    "where the master is");
	/* Its own keys, each checked. */
	expect_error("redis = {\n  sentinel = \"m\";\n};\n", 2,
	    "'sentinel' must be a group { ... }");
	expect_error("redis = {\n  sentinel = {\n    nodes = ( \"a:1\" );\n  };"
	    "\n};\n", 2, "'sentinel' needs 'master', the name the sentinels "
	    "monitor it by");
	expect_error("redis = { sentinel = {\n  master = 5;\n  nodes = "
	    "( \"a:1\" ); }; };\n", 2, "'master' must be a string");
	expect_error("redis = { sentinel = {\n  master = \"\";\n  nodes = "
	    "( \"a:1\" ); }; };\n", 2, "'master' must not be empty");
	expect_error("redis = { sentinel = {\n  master = \"m\"; }; };\n", 1,
	    "'sentinel' needs 'nodes', a list of sentinels as "
	    "( \"host:port\", ... )");
	expect_error("redis = { sentinel = { master = \"m\";\n  nodes = "
	    "\"a:1\"; }; };\n", 2, "'sentinel' needs 'nodes', a list of "
	    "sentinels as ( \"host:port\", ... )");
	expect_error("redis = { sentinel = { master = \"m\";\n  nodes = (); "
	    "}; };\n", 2, "'sentinel' needs 'nodes', a list of sentinels as "
	    "( \"host:port\", ... )");
	expect_error("redis = { sentinel = { master = \"m\"; nodes = (\n"
	    "  \"a:1\",\n  26379 ); }; };\n", 3, "a node must be a string "
	    "\"host:port\"");
	expect_error("redis = { sentinel = { master = \"m\"; nodes = (\n"
	    "  \"a\" ); }; };\n", 2, "node 'a' is not \"host:port\"");
	expect_error("redis = { sentinel = { master = \"m\"; nodes = (\n"
	    "  \":26379\" ); }; };\n", 2, "node ':26379' is not \"host:port\"");
	expect_error("redis = { sentinel = { master = \"m\"; nodes = (\n"
	    "  \"a:0\" ); }; };\n", 2, "node 'a:0': the port must be 1 to "
	    "65535");
	expect_error("redis = { sentinel = { master = \"m\"; nodes = (\n"
	    "  \"a:65536\" ); }; };\n", 2, "node 'a:65536': the port must be "
	    "1 to 65535");
	expect_error("redis = { sentinel = { master = \"m\"; nodes = (\n"
	    "  \"a:26379x\" ); }; };\n", 2, "node 'a:26379x': the port must "
	    "be 1 to 65535");
	expect_error("redis = { sentinel = { master = \"m\"; nodes = (\n"
	    "  \"a:\" ); }; };\n", 2, "node 'a:': the port must be 1 to "
	    "65535");
	expect_error("redis = { sentinel = { master = \"m\"; nodes = (\n"
	    "  \"::1:26379\" ); }; };\n", 2, "node '::1:26379': an IPv6 "
	    "address is written \"[address]:port\"");
	expect_error("redis = { sentinel = { master = \"m\"; nodes = (\n"
	    "  \"[::1:26379\" ); }; };\n", 2, "node '[::1:26379': an IPv6 "
	    "address is written \"[address]:port\"");
	expect_error("redis = { sentinel = { master = \"m\"; nodes = (\n"
	    "  \"[]:26379\" ); }; };\n", 2, "node '[]:26379': an IPv6 "
	    "address is written \"[address]:port\"");
	expect_error("redis = { sentinel = { master = \"m\"; nodes = (\n"
	    "  \"a:1\",\n  \"b:1\",\n  \"a:1\" ); }; };\n", 4, "sentinel 'a:1' "
	    "is listed twice");
	expect_error("redis = { sentinel = { master = \"m\"; nodes = "
	    "( \"a:1\" );\n  username = \"u\"; }; };\n", 2, "'username' needs "
	    "a 'password'");
	expect_error("redis = { sentinel = { master = \"m\"; nodes = "
	    "( \"a:1\" );\n  password = \"\"; }; };\n", 2, "'password' must "
	    "not be empty");
	expect_error("redis = { sentinel = { master = \"m\"; nodes = "
	    "( \"a:1\" );\n  port = 26379; }; };\n", 2, "unknown key "
	    "'port'");

	/* At most CONF_SENTINEL_NODES_MAX. */
	n = (size_t)snprintf(text, sizeof(text), "redis = { sentinel = { "
	    "master = \"m\";\n  nodes = ( ");
	for (i = 0; i <= CONF_SENTINEL_NODES_MAX; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s\"h:%d\"",
		    i > 0 ? ", " : "", i + 1);
	snprintf(text + n, sizeof(text) - n, " ); }; };\n");
	snprintf(err, sizeof(err), "'nodes' lists %d sentinels; at most %d",
	    CONF_SENTINEL_NODES_MAX + 1, CONF_SENTINEL_NODES_MAX);
	expect_error(text, 2, err);
}
END_TEST

/* redis.cluster: seed nodes, instead of a fixed address or sentinels. */
START_TEST(test_redis_cluster)
{
	struct conf	*conf, *other;
	char		 err[1024];

	conf = load("redis = { cluster = { nodes = ( \"127.0.0.1:7000\", "
	    "\"[::1]:7001\" ); }; };\n", err, sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	ck_assert_uint_eq(conf->redis_cluster.nnodes, 2);
	ck_assert_str_eq(conf->redis_cluster.nodes[0].host, "127.0.0.1");
	ck_assert_int_eq(conf->redis_cluster.nodes[0].port, 7000);
	ck_assert_str_eq(conf->redis_cluster.nodes[1].host, "::1");
	ck_assert_int_eq(conf->redis_cluster.nodes[1].port, 7001);
	other = conf_new_defaults();
	ck_assert_uint_eq(other->redis_cluster.nnodes, 0);
	ck_assert_int_eq(conf_cluster_same(&conf->redis_cluster,
	    &other->redis_cluster), 0);
	ck_assert_int_eq(conf_cluster_same(&conf->redis_cluster,
	    &conf->redis_cluster), 1);
	conf_free(other);
	conf_free(conf);

	expect_error("redis = {\n  host = \"h\";\n  cluster = {\n    nodes = "
	    "( \"a:1\" );\n  };\n};\n", 3, "'redis' has either 'cluster' or "
	    "'host', 'port', 'path' and 'sentinel': the cluster's slot map "
	    "says where each node is");
	expect_error("redis = { sentinel = { master = \"m\"; nodes = ( \"a:1\" "
	    "); };\n  cluster = { nodes = ( \"a:1\" ); }; };\n", 2, "'redis' "
	    "has either 'cluster' or 'host', 'port', 'path' and 'sentinel': "
	    "the cluster's slot map says where each node is");
	expect_error("redis = {\n  cluster = \"a:1\";\n};\n", 2,
	    "'cluster' must be a group { ... }");
	expect_error("redis = { cluster = {\n  nodes = (); }; };\n", 2,
	    "'cluster' needs 'nodes', a list of nodes as ( \"host:port\", "
	    "... )");
	expect_error("redis = { cluster = { nodes = (\n  \"a:70000\" ); }; };\n",
	    2, "node 'a:70000': the port must be 1 to 65535");
	expect_error("redis = { cluster = { nodes = ( \"a:1\",\n  \"a:1\" ); "
	    "}; };\n", 2, "node 'a:1' is listed twice");
	expect_error("redis = { cluster = { nodes = ( \"a:1\" );\n  master = "
	    "\"m\"; }; };\n", 2, "unknown key 'master'");
	/* Passthrough is refused: a command's keys may be on any node. */
	expect_error("passthrough = true;\nredis = { cluster = { nodes = "
	    "( \"a:1\" ); }; };\n", 1, "'passthrough' is not served with "
	    "'redis.cluster': a command's keys may live on any node; talk to "
	    "the cluster directly for those commands");
}
END_TEST

/* Web listeners: protocol = "http", and the http group. */
START_TEST(test_http)
{
	struct conf	*conf;
	char		 err[1024];

	conf = load("", err, sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	ck_assert_int_eq(conf->listen[0].http, 0);
	ck_assert_int_eq(conf->http.keepalive, 15);
	ck_assert_int_eq(conf->http.header_max, 8192);
	ck_assert_int_eq(conf->http.request_timeout, 10000);
	ck_assert_uint_eq(conf->http.norigins, 0);
	conf_free(conf);
	conf = load("listen = ( { port = 1; protocol = \"resp\"; },\n"
	    "  { port = 2; protocol = \"http\"; } );\n"
	    "http = { origins = ( \"https://a.example\", \"*\" ); "
	    "keepalive = 0;\n  header_max = 4096; request_timeout = 500; };\n",
	    err, sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	ck_assert_int_eq(conf->listen[0].http, 0);
	ck_assert_int_eq(conf->listen[1].http, 1);
	ck_assert_uint_eq(conf->http.norigins, 2);
	ck_assert_str_eq(conf->http.origins[0], "https://a.example");
	ck_assert_str_eq(conf->http.origins[1], "*");
	ck_assert_int_eq(conf->http.keepalive, 0);
	ck_assert_int_eq(conf->http.header_max, 4096);
	ck_assert_int_eq(conf->http.request_timeout, 500);
	ck_assert_int_eq(conf->http.message_max, 1048576);
	ck_assert_int_eq(conf->http.message_rate, 1000);
	ck_assert_int_eq(conf->http.page, 0);
	conf_free(conf);
	conf = load("http = { page = true; };\n", err, sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	ck_assert_int_eq(conf->http.page, 1);
	ck_assert_ptr_null(conf->http.ticket_secret);
	conf_free(conf);
	conf = load("http = { ticket_secret = \"0123456789abcdef\"; };\n", err,
	    sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	ck_assert_str_eq(conf->http.ticket_secret, "0123456789abcdef");
	conf_free(conf);

	expect_error("listen = ( {\n  port = 1; protocol = \"ws\"; } );\n", 2,
	    "'protocol' is \"resp\" or \"http\", not \"ws\"");
	expect_error("http = {\n  origins = \"*\"; };\n", 2,
	    "'origins' must be a list ( \"https://example.com\", ... )");
	expect_error("http = { origins = (\n  \"example.com\" ); };\n", 2,
	    "an origin is \"*\" or a string \"http://host[:port]\" or "
	    "\"https://host[:port]\"");
	expect_error("http = { origins = (\n  \"https://a.example/\" ); };\n",
	    2, "origin \"https://a.example/\" ends in '/': an Origin header "
	    "never does");
	expect_error("http = {\n  header_max = 10; };\n", 2, "'header_max' "
	    "must be between 1024 and 1048576, not 10");
	expect_error("http = {\n  message_max = 100; };\n", 2, "'message_max' "
	    "must be between 125 and 536870912, not 100");
	expect_error("http = {\n  message_rate = -1; };\n", 2, "'message_rate' "
	    "must be between 0 and 10000000, not -1");
	expect_error("http = {\n  page = 1; };\n", 2, "'page' must be true or "
	    "false");
	expect_error("http = {\n  ticket_secret = \"short\"; };\n", 2,
	    "'ticket_secret' must be at least 16 bytes (a random one: openssl "
	    "rand -hex 32)");
	expect_error("http = {\n  pages = true; };\n", 2,
	    "unknown key 'pages'");
}
END_TEST

/* The pid file: none by default, a string. */
START_TEST(test_pidfile)
{
	struct conf	*conf;
	char		 err[1024];

	conf = load("", err, sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	ck_assert_ptr_null(conf->pidfile);
	conf_free(conf);
	conf = load("pidfile = \"/run/pubsubd/pubsubd.pid\";\n", err,
	    sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	ck_assert_str_eq(conf->pidfile, "/run/pubsubd/pubsubd.pid");
	conf_free(conf);
	expect_error("\npidfile = 1;\n", 2, "'pidfile' must be a string");
	expect_error("pidfile = \"\";\n", 1, "'pidfile' must not be empty");
}
END_TEST

/* log.syslog, syslog_facility and ident: defaults, values, errors. */
START_TEST(test_log_syslog)
{
	struct conf	*conf;
	char		 err[1024], text[256], ident[80];

	conf = load("", err, sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	ck_assert_int_eq(conf->log_syslog, 0);
	ck_assert_int_eq(conf->log_facility, LOG_DAEMON);
	ck_assert_str_eq(conf->log_ident, "pubsubd");
	conf_free(conf);

	conf = load("log = { syslog = true; syslog_facility = \"local7\"; "
	    "ident = \"psd\"; level = \"debug\"; };\n", err, sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	ck_assert_int_eq(conf->log_syslog, 1);
	ck_assert_int_eq(conf->log_facility, LOG_LOCAL7);
	ck_assert_str_eq(conf->log_ident, "psd");
	ck_assert_int_eq(conf->log_level, LOG_LEVEL_DEBUG);
	conf_free(conf);

	expect_error("log = {\n  syslog_facility = \"kern\";\n};\n", 2,
	    "'syslog_facility' must be one of auth, authpriv, cron, daemon, "
	    "ftp, lpr, mail, news, syslog, user, uucp, local0 to local7; "
	    "not 'kern'");
	expect_error("log = { syslog = \"yes\"; };\n", 1,
	    "'syslog' must be true or false");
	expect_error("log = { ident = \"\"; };\n", 1,
	    "'ident' must not be empty");
	memset(ident, 'i', 64);
	ident[64] = '\0';
	snprintf(text, sizeof(text), "log = {\n ident = \"%s\"; };\n", ident);
	expect_error(text, 2, "'ident' must be shorter than 64 bytes");
}
END_TEST

/* The facility names, one by one, and what is not one. */
START_TEST(test_syslog_facility_parse)
{
	static const struct {
		const char	*name;
		int		 code;
	} ok[] = {
		{ "auth", LOG_AUTH }, { "authpriv", LOG_AUTHPRIV },
		{ "cron", LOG_CRON }, { "daemon", LOG_DAEMON },
		{ "ftp", LOG_FTP }, { "lpr", LOG_LPR }, { "mail", LOG_MAIL },
		{ "news", LOG_NEWS }, { "syslog", LOG_SYSLOG },
		{ "user", LOG_USER }, { "uucp", LOG_UUCP },
		{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
		{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
		{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
		{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 }
	};
	static const char *const bad[] = {
		"kern", "LOCAL0", "local8", "", "daemon ", "security", "mark"
	};
	size_t	i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		ck_assert_int_eq(log_syslog_facility_parse(ok[i].name),
		    ok[i].code);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(log_syslog_facility_parse(bad[i]), -1);
}
END_TEST

/* pubsubd -t takes every service key, and -t writes no pid file. */
START_TEST(test_daemon_check_service)
{
	struct tmpfile	 t;
	struct stat	 st;
	const char	*bin = daemon_path();	/* before making files */
	char		 out[1024], err[1024], text[1024];
	char		 pid[] = "/tmp/pubsubd-pid-XXXXXX";
	int		 rv;

	ck_assert_ptr_nonnull(mkdtemp(pid));
	ck_assert_int_eq(rmdir(pid), 0);	/* a name nobody uses */
	snprintf(text, sizeof(text), "listen = ( { path = \"/tmp/x.sock\"; "
	    "mode = \"0660\"; }, { host = \"127.0.0.1\"; port = 0; } );\n"
	    "redis = { path = \"/run/redis/redis.sock\"; username = \"u\"; "
	    "password = \"p\"; };\npidfile = \"%s\";\n"
	    "log = { syslog = true; syslog_facility = \"local0\"; "
	    "ident = \"psd\"; };\n", pid);
	tmp_write(&t, text);
	rv = run_daemon(bin, t.path, out, sizeof(out), err, sizeof(err));
	tmp_remove(&t);
	ck_assert_msg(rv == 0, "exit %d, stderr: %s", rv, err);
	ck_assert_int_eq(stat(pid, &st), -1);
}
END_TEST

/*
 * The tls group and TLS listeners: defaults, every setting, and each
 * mistake at its line. (What the files hold is checked when the tls module
 * loads them: tests/test_tls.sh, with certificates it makes.)
 */
START_TEST(test_tls_group)
{
	struct tmpfile	 f;
	struct conf	*conf;
	char		 text[2048], err[1024];

	/* Any readable regular file passes conf.c's check. */
	tmp_write(&f, "not checked here\n");
	snprintf(text, sizeof(text),
	    "listen = ( { port = 0; }, { port = 0; tls = true; },\n"
	    "  { path = \"/tmp/x.sock\"; tls = true; } );\n"
	    "tls = { certificate = \"%s\"; private_key = \"%s\";\n"
	    "  ca_file = \"%s\"; verify_clients = \"required\";\n"
	    "  min_version = \"TLSv1.3\"; ciphers = \"HIGH\";\n"
	    "  ciphersuites = \"TLS_AES_128_GCM_SHA256\";\n"
	    "  handshake_timeout = 250; ktls = false; };\n", f.path, f.path,
	    f.path);
	conf = load(text, err, sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	ck_assert_int_eq(conf->nlisten, 3);
	ck_assert_int_eq(conf->listen[0].tls, 0);
	ck_assert_int_eq(conf->listen[1].tls, 1);
	ck_assert_int_eq(conf->listen[2].tls, 1);
	ck_assert_int_eq(conf->tls.enabled, 1);
	ck_assert_str_eq(conf->tls.cert, f.path);
	ck_assert_str_eq(conf->tls.ca, f.path);
	ck_assert_int_eq(conf->tls.verify, CONF_VERIFY_REQUIRED);
	ck_assert_int_eq(conf->tls.min_version, 13);
	ck_assert_str_eq(conf->tls.ciphers, "HIGH");
	ck_assert_str_eq(conf->tls.ciphersuites, "TLS_AES_128_GCM_SHA256");
	ck_assert_int_eq(conf->tls.handshake_timeout, 250);
	ck_assert_int_eq(conf->tls.ktls, 0);
	ck_assert_int_eq(conf->tls.cert_line, 3);
	ck_assert_int_eq(conf->tls.key_line, 3);
	ck_assert_int_eq(conf->tls.ca_line, 4);
	conf_free(conf);

	/* Defaults: no TLS; with the group, TLSv1.2 up, no client certs. */
	conf = conf_new_defaults();
	ck_assert_ptr_nonnull(conf);
	ck_assert_int_eq(conf->tls.enabled, 0);
	ck_assert_int_eq(conf->listen[0].tls, 0);
	conf_free(conf);
	snprintf(text, sizeof(text), "tls = { certificate = \"%s\";\n"
	    "  private_key = \"%s\"; };\n", f.path, f.path);
	conf = load(text, err, sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	ck_assert_int_eq(conf->tls.verify, CONF_VERIFY_NO);
	ck_assert_int_eq(conf->tls.min_version, 12);
	ck_assert_int_eq(conf->tls.handshake_timeout,
	    CONF_DEFAULT_TLS_HANDSHAKE_TIMEOUT);
	ck_assert_int_eq(conf->tls.ktls, 1);
	ck_assert_ptr_null(conf->tls.ca);
	conf_free(conf);

	snprintf(text, sizeof(text), "tls = {\n  certificate = \"%s\";\n"
	    "  private_key = \"%s\";\n  verify_clients = \"yes\";\n};\n",
	    f.path, f.path);
	expect_error(text, 4, "'verify_clients' must be \"no\", \"optional\" "
	    "or \"required\"; not 'yes'");
	snprintf(text, sizeof(text), "tls = {\n  certificate = \"%s\";\n"
	    "  private_key = \"%s\";\n  verify_clients = \"optional\";\n};\n",
	    f.path, f.path);
	expect_error(text, 4, "'verify_clients' \"optional\" needs a "
	    "'ca_file' to check clients' certificates against");
	snprintf(text, sizeof(text), "tls = {\n  certificate = \"%s\";\n"
	    "  private_key = \"%s\";\n  min_version = \"TLSv1.1\";\n};\n",
	    f.path, f.path);
	expect_error(text, 4, "'min_version' must be \"TLSv1.2\" or "
	    "\"TLSv1.3\"; not 'TLSv1.1'");
	snprintf(text, sizeof(text), "tls = {\n  certificate = \"%s\";\n"
	    "  private_key = \"%s\";\n  handshake_timeout = 5;\n};\n",
	    f.path, f.path);
	expect_error(text, 4, "'handshake_timeout' must be between 100 and "
	    "3600000, not 5");
	snprintf(text, sizeof(text), "tls = {\n  certificate = \"%s\";\n"
	    "  private_key = \"%s\";\n  ktls = \"yes\";\n};\n",
	    f.path, f.path);
	expect_error(text, 4, "'ktls' must be true or false");
	snprintf(text, sizeof(text), "tls = {\n  certificate = \"%s\";\n"
	    "  key = \"%s\";\n};\n", f.path, f.path);
	expect_error(text, 3, "unknown key 'key'");
	snprintf(text, sizeof(text), "\ntls = {\n  certificate = \"%s\";\n"
	    "};\n", f.path);
	expect_error(text, 2, "'tls' needs a 'certificate' and a "
	    "'private_key'");
	snprintf(text, sizeof(text), "tls = {\n  certificate = \"%s\";\n"
	    "  private_key = \"/nonexistent/key.pem\";\n};\n", f.path);
	expect_error(text, 3, "'private_key': cannot read "
	    "/nonexistent/key.pem: No such file or directory");
	snprintf(text, sizeof(text), "tls = {\n  certificate = \"/tmp\";\n"
	    "  private_key = \"%s\";\n};\n", f.path);
	expect_error(text, 2, "'certificate': /tmp is not a regular file");
	expect_error("listen = (\n  { port = 0; },\n  { port = 0;\n"
	    "    tls = true; }\n);\n", 4, "a 'listen' entry with 'tls = true' "
	    "needs a 'tls' group (certificate and private_key)");
	expect_error("listen = ( { port = 0; tls = \"yes\"; } );\n", 1,
	    "'tls' must be true or false");
	expect_error("tls = \"on\";\n", 1, "'tls' must be a group { ... }");
	tmp_remove(&f);
}
END_TEST

#ifdef HAVE_HIREDIS_SSL
/*
 * redis.tls (builds with hiredis_ssl): every key, the defaults, and each
 * error at its line.
 */
START_TEST(test_redis_tls)
{
	struct tmpfile	 f;
	struct conf	*conf;
	char		 text[2048], err[1024];

	tmp_write(&f, "not checked here\n");
	snprintf(text, sizeof(text), "redis = {\n  host = \"db.example\";\n"
	    "  tls = {\n    ca_file = \"%s\";\n    certificate = \"%s\";\n"
	    "    private_key = \"%s\";\n    server_name = \"redis.test\";\n"
	    "    verify = false;\n    min_version = \"TLSv1.3\";\n  };\n};\n",
	    f.path, f.path, f.path);
	conf = load(text, err, sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	ck_assert_int_eq(conf->redis_tls.enabled, 1);
	ck_assert_str_eq(conf->redis_tls.ca, f.path);
	ck_assert_str_eq(conf->redis_tls.cert, f.path);
	ck_assert_str_eq(conf->redis_tls.key, f.path);
	ck_assert_str_eq(conf->redis_tls.server_name, "redis.test");
	ck_assert_int_eq(conf->redis_tls.verify, 0);
	ck_assert_int_eq(conf->redis_tls.min_version, 13);
	ck_assert_int_eq(conf->redis_tls.line, 3);
	ck_assert_int_eq(conf->redis_tls.ca_line, 4);
	ck_assert_int_eq(conf->redis_tls.cert_line, 5);
	ck_assert_int_eq(conf->redis_tls.key_line, 6);
	conf_free(conf);

	/* Defaults: off; an empty group verifies against the system's CAs. */
	conf = conf_new_defaults();
	ck_assert_ptr_nonnull(conf);
	ck_assert_int_eq(conf->redis_tls.enabled, 0);
	conf_free(conf);
	conf = load("redis = { tls = { }; };\n", err, sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	ck_assert_int_eq(conf->redis_tls.enabled, 1);
	ck_assert_int_eq(conf->redis_tls.verify, 1);
	ck_assert_int_eq(conf->redis_tls.min_version, 12);
	ck_assert_ptr_null(conf->redis_tls.ca);
	ck_assert_ptr_null(conf->redis_tls.cert);
	ck_assert_ptr_null(conf->redis_tls.server_name);
	conf_free(conf);

	expect_error("redis = {\n  tls = true;\n};\n", 2,
	    "'tls' must be a group { ... }");
	expect_error("redis = {\n  tls = {\n    verify_peer = true;\n"
	    "  };\n};\n", 3, "unknown key 'verify_peer'");
	expect_error("redis = {\n  tls = {\n    ca_file = \"/nonexistent/ca\";"
	    "\n  };\n};\n", 3, "'ca_file': cannot read /nonexistent/ca: No "
	    "such file or directory");
	expect_error("redis = {\n  tls = {\n    verify = \"yes\";\n  };\n};\n",
	    3, "'verify' must be true or false");
	expect_error("redis = {\n  tls = {\n    min_version = \"TLSv1.1\";\n"
	    "  };\n};\n", 3, "'min_version' must be \"TLSv1.2\" or "
	    "\"TLSv1.3\"; not 'TLSv1.1'");
	snprintf(text, sizeof(text), "redis = {\n  tls = {\n"
	    "    certificate = \"%s\";\n  };\n};\n", f.path);
	expect_error(text, 3, "'tls' in 'redis': a client 'certificate' needs "
	    "its 'private_key', and the other way round");
	snprintf(text, sizeof(text), "redis = {\n  tls = {\n"
	    "    private_key = \"%s\";\n  };\n};\n", f.path);
	expect_error(text, 3, "'tls' in 'redis': a client 'certificate' needs "
	    "its 'private_key', and the other way round");
	expect_error("redis = {\n  path = \"/tmp/r.sock\";\n  tls = { };\n};\n",
	    3, "'tls' in 'redis' is for 'host' and 'port': Redis serves no TLS "
	    "on a Unix socket 'path'");
	tmp_remove(&f);
}
END_TEST
#else
/*
 * TLS to Redis in a build without hiredis_ssl: refused whatever its form,
 * saying which hiredis this is and what it would take.
 */
START_TEST(test_redis_tls_refused)
{
	static const char msg[] = "'tls' in 'redis': this build of pubsubd "
	    "has no TLS to Redis: it is built with hiredis "
	    PUBSUBD_HIREDIS_VERSION " without hiredis_ssl (TLS to Redis "
	    "needs hiredis >= 1.0 with hiredis_ssl, found by configure; "
	    "Debian 12 has hiredis 0.14.1, without TLS); reach Redis on "
	    "loopback, a Unix socket 'path', or through a TLS tunnel";

	expect_error("redis = {\n  port = 6380;\n  tls = true;\n};\n", 3, msg);
	expect_error("redis = {\n  port = 6380;\n  tls = {\n    verify = true;"
	    "\n  };\n};\n", 3, msg);
}
END_TEST
#endif

static Suite *
conf_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("conf");
	tc = tcase_create("load");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_systemd_group);
	tcase_add_test(tc, test_full_file);
	tcase_add_test(tc, test_listen_two_entries_ipv6);
	tcase_add_test(tc, test_partial_and_empty);
	tcase_add_test(tc, test_unknown_keys);
	tcase_add_test(tc, test_wrong_types);
	tcase_add_test(tc, test_port_range);
	tcase_add_test(tc, test_bad_log_level);
	tcase_add_test(tc, test_listen_shape);
	tcase_add_test(tc, test_syntax_error);
	tcase_add_test(tc, test_cannot_read);
	tcase_add_test(tc, test_small_error_buffer);
	tcase_add_test(tc, test_metrics_defaults_and_full);
	tcase_add_test(tc, test_metrics_errors);
	tcase_add_test(tc, test_tls_group);
#ifdef HAVE_HIREDIS_SSL
	tcase_add_test(tc, test_redis_tls);
#else
	tcase_add_test(tc, test_redis_tls_refused);
#endif
	suite_add_tcase(s, tc);

	tc = tcase_create("daemon");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_daemon_check_good);
	tcase_add_test(tc, test_daemon_check_bad);
	tcase_add_test(tc, test_include_checked);
	suite_add_tcase(s, tc);

	tc = tcase_create("service");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_listen_unix);
	tcase_add_test(tc, test_listen_unix_errors);
	tcase_add_test(tc, test_listen_backlog);
	tcase_add_test(tc, test_redis_unix_and_auth);
	tcase_add_test(tc, test_redis_sentinel);
	tcase_add_test(tc, test_redis_cluster);
	tcase_add_test(tc, test_http);
	tcase_add_test(tc, test_pidfile);
	tcase_add_test(tc, test_log_syslog);
	tcase_add_test(tc, test_syslog_facility_parse);
	tcase_add_test(tc, test_daemon_check_service);
	tcase_add_test(tc, test_metrics_with_unix_listen);
	tcase_add_test(tc, test_workers);
	suite_add_tcase(s, tc);
	return s;
}

/* Runs the conf suite; exits non-zero if a test failed. */
int
main(void)
{
	return check_run(conf_suite());
}
