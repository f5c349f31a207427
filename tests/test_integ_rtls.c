/*
 * test_integ_rtls.c: TLS to Redis (redis.tls). A real redis-server serves
 * TLS only on its TCP port (plain on a Unix socket, which the test uses to
 * publish and to check), with certificates this test makes with the
 * openssl command; a real pubsubd reaches it with redis.tls. Proven: the
 * subscriber, shard, command, passthrough and raw (COMMAND DOCS)
 * connections all work over TLS; a wrong CA or a wrong name fails the
 * handshake, is logged and retried with backoff, and a reload with the
 * right settings recovers; Redis that wants client certificates gets
 * pubsubd's.
 *
 * Builds without hiredis_ssl have no TLS to Redis: the suite reports SKIP
 * (exit 77), and test_conf checks that they refuse redis.tls.
 */
#include "config.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#ifdef HAVE_HIREDIS_SSL
#include <check.h>

#include "check_run.h"
#include "harness.h"

#define MAX_DAEMONS	4

static void	 dir_make(void);
static void	 dir_check(void);
static void	 test_setup(void);
static void	 test_teardown(void);
static int	 sh(const char *, ...) __attribute__((format(printf, 1, 2)));
static int	 make_certs(void);
static void	 redis_up(const char *);
static char	*conf_text(int, const char *);
static pid_t	 daemon_up(const char *, int, const char *);
static void	 conf_rewrite(const char *, const char *);
static long long wait_info(int, const char *, long long, int);
static int	 wait_log(const char *, const char *, int);
static int	 log_count(const char *, const char *);
static void	 exercise(int);
static Suite	*rtls_suite(void);

static struct h_env	 env;
static pid_t		 daemons[MAX_DAEMONS];	/* to stop at teardown */
static char		 certs[256];	/* made once, by main() */
static char		 sock[300];	/* Redis' plain Unix socket */
static int		 tls_port;	/* Redis' TLS port */

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
	h_dir_report(&env, "rtls");
}

/* Before each test, in its own process. */
static void
test_setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	memset(daemons, 0, sizeof(daemons));
}

/*
 * After a test that passed: every pubsubd must stop cleanly (exit 0, no
 * leak under the sanitizers); then the directory goes.
 */
static void
test_teardown(void)
{
	ck_assert_msg(h_stop_daemons(&env, daemons, MAX_DAEMONS,
	    "rtls") == 0, "a pubsubd did not stop cleanly (files in %s)",
	    env.dir);
}

/* Runs a shell command (its output to certs/openssl.log); 0 if it worked. */
static int
sh(const char *fmt, ...)
{
	char	cmd[2048], full[2400];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "cd '%s' && ( %s ) >>openssl.log 2>&1",
	    certs, cmd);
	return system(full) == 0 ? 0 : -1;
}

/*
 * Makes, in certs: a CA and a rogue CA nobody trusts; Redis' certificate
 * (for 127.0.0.1 and localhost) signed by the CA; pubsubd's client
 * certificate signed by the CA. EC keys: quick to make.
 */
static int
make_certs(void)
{
	static const char *const cas[] = { "ca", "rogue" };
	static const char *const leaves[][2] = {
		{ "server", "localhost" }, { "client", "pubsubd" }
	};
	size_t	i;

	snprintf(certs, sizeof(certs), "/tmp/pubsubd-certs.XXXXXX");
	if (mkdtemp(certs) == NULL)
		return -1;
	if (sh("printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' "
	    ">san.cnf") == -1)
		return -1;
	for (i = 0; i < sizeof(cas) / sizeof(cas[0]); i++)
		if (sh("openssl req -x509 -newkey ec -pkeyopt "
		    "ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "
		    "'/CN=pubsubd rtls %s' -keyout %s.key -out %s.crt", cas[i],
		    cas[i], cas[i]) == -1)
			return -1;
	for (i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++)
		if (sh("openssl req -newkey ec -pkeyopt "
		    "ec_paramgen_curve:prime256v1 -nodes -subj '/CN=%s' "
		    "-keyout %s.key -out %s.csr && openssl x509 -req -in "
		    "%s.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
		    "-out %s.crt %s", leaves[i][1], leaves[i][0],
		    leaves[i][0], leaves[i][0], leaves[i][0],
		    i == 0 ? "-extfile san.cnf" : "") == -1)
			return -1;
	return 0;
}

/*
 * Starts redis-server: TLS only on TCP (tls_port), plain on the Unix
 * socket sock; auth_clients is its --tls-auth-clients ("no", "yes").
 */
static void
redis_up(const char *auth_clients)
{
	char		 port[16], cert[300], key[300], ca[300];
	const char	*extra[] = {
		"--tls-port", port, "--tls-cert-file", cert,
		"--tls-key-file", key, "--tls-ca-cert-file", ca,
		"--tls-auth-clients", auth_clients, NULL
	};

	tls_port = h_free_port();
	snprintf(port, sizeof(port), "%d", tls_port);
	snprintf(cert, sizeof(cert), "%s/server.crt", certs);
	snprintf(key, sizeof(key), "%s/server.key", certs);
	snprintf(ca, sizeof(ca), "%s/ca.crt", certs);
	snprintf(sock, sizeof(sock), "%s/redis.sock", env.dir);
	env.redis_port = 0;	/* no plain TCP */
	h_start_redis_argv(&env, sock, extra);
}

/*
 * A configuration file for a pubsubd on port that reaches Redis' TLS
 * port with tls (the inside of redis.tls, borrowed); malloc'd.
 */
static char *
conf_text(int port, const char *tls)
{
	char	*text;

	if (asprintf(&text, "listen = ( { host = \"127.0.0.1\"; port = %d; "
	    "} ); passthrough = true;\nredis = {\n  host = \"127.0.0.1\";\n"
	    "  port = %d;\n  backoff_min = 50;\n  backoff_max = 400;\n"
	    "  connect_timeout = 2000;\n  tls = { %s };\n};\n", port, tls_port,
	    tls) == -1)
		abort();
	return text;
}

/* Starts pubsubd tag on port with redis.tls tls; waits until it listens. */
static pid_t
daemon_up(const char *tag, int port, const char *tls)
{
	struct h_conn	*c;
	char		*text = conf_text(port, tls);
	pid_t		 pid;
	int		 i;

	pid = h_spawn_pubsubd(&env, tag, text, NULL);
	free(text);
	for (i = 0; i < MAX_DAEMONS && daemons[i] > 0; i++)
		;
	ck_assert_int_lt(i, MAX_DAEMONS);
	daemons[i] = pid;
	c = h_connect_within(port, 10000);
	ck_assert_msg(c != NULL, "pubsubd %s does not listen", tag);
	h_close(c);
	return pid;
}

/* Replaces pubsubd tag's configuration file at once (for a reload). */
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

/* Polls INFO upstream's field until it is want; returns the last value. */
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

	snprintf(log, sizeof(log), "%s/pubsubd-%s.log", env.dir, tag);
	while (!h_file_has(log, want) && h_now_ms() < deadline)
		usleep(20000);
	return h_file_has(log, want);
}

/* How many times the log of pubsubd tag says needle (at most 100000). */
static int
log_count(const char *tag, const char *needle)
{
	char	 log[300], *text = NULL, *s;
	size_t	 cap = 0, len;
	FILE	*f;
	int	 n = 0;

	snprintf(log, sizeof(log), "%s/pubsubd-%s.log", env.dir, tag);
	if ((f = fopen(log, "r")) == NULL)
		return 0;
	len = (size_t)getdelim(&text, &cap, '\0', f);
	fclose(f);
	for (s = text; len != (size_t)-1 && s != NULL && n < 100000 &&
	    (s = strstr(s, needle)) != NULL; s += strlen(needle))
		n++;
	free(text);
	return n;
}

/*
 * Through pubsubd on port, once it is connected: SUBSCRIBE (subscriber
 * connection), SSUBSCRIBE (shard connection) and PUBLISH (command
 * connection), with what Redis publishes arriving; SET (the client's own
 * passthrough connection) and COMMAND DOCS (a one-shot raw connection).
 */
static void
exercise(int port)
{
	struct h_conn	*c, *p, *r;
	char		*rep;

	ck_assert_int_eq(wait_info(port, "upstream_connected", 1, 15000), 1);
	c = h_connect(port);
	p = h_connect(port);
	r = h_connect_unix(sock);
	ck_assert(c != NULL && p != NULL && r != NULL);
	ck_assert_int_eq(h_command(c, "SUBSCRIBE", "rtls.ch", NULL), 0);
	ck_assert(h_expect_free(c, h_frame_confirm("subscribe", "rtls.ch",
	    1)));
	ck_assert_int_eq(h_publish(r, "rtls.ch", "from-redis"), 1);
	ck_assert(h_expect_free(c, h_frame_message("rtls.ch",
	    "from-redis")));
	ck_assert_int_eq(h_command(p, "PUBLISH", "rtls.ch", "via-pubsubd",
	    NULL), 0);
	rep = h_reply(p, NULL, H_TIMEOUT_MS);
	ck_assert_ptr_nonnull(rep);
	ck_assert_int_eq(h_int(rep), 1);
	free(rep);
	ck_assert(h_expect_free(c, h_frame_message("rtls.ch",
	    "via-pubsubd")));
	ck_assert_int_eq(h_command(c, "SSUBSCRIBE", "rtls.sh", NULL), 0);
	ck_assert(h_expect_free(c, h_frame_confirm("ssubscribe", "rtls.sh",
	    1)));
	ck_assert_int_eq(h_command(r, "SPUBLISH", "rtls.sh", "sharded",
	    NULL), 0);
	rep = h_reply(r, NULL, H_TIMEOUT_MS);
	ck_assert_ptr_nonnull(rep);
	ck_assert_int_eq(h_int(rep), 1);
	free(rep);
	ck_assert(h_expect(c, "*3\r\n$8\r\nsmessage\r\n$7\r\nrtls.sh\r\n"
	    "$7\r\nsharded\r\n"));
	ck_assert_int_eq(h_command(p, "SET", "rtls.key", "v", NULL), 0);
	ck_assert(h_expect(p, "+OK\r\n"));
	ck_assert_int_eq(h_command(p, "COMMAND", "DOCS", "PING", NULL), 0);
	rep = h_reply(p, NULL, H_TIMEOUT_MS);
	ck_assert_ptr_nonnull(rep);
	ck_assert_msg(strncmp(rep, "*2\r\n$4\r\nping\r\n", 14) == 0,
	    "COMMAND DOCS PING: %.60s", rep);
	free(rep);
	h_close(c);
	h_close(p);
	h_close(r);
}

/* Subscribing and publishing through pubsubd over TLS to Redis. */
START_TEST(test_rtls_pubsub)
{
	char	 tls[600], *text;
	int	 port = h_free_port();
	pid_t	 pid;

	redis_up("no");
	snprintf(tls, sizeof(tls), "ca_file = \"%s/ca.crt\";", certs);
	pid = daemon_up("a", port, tls);
	exercise(port);
	ck_assert(wait_log("a", "connected to redis at 127.0.0.1", 1000));

	/* A reload that changes nothing of TLS keeps the connections. */
	ck_assert_int_eq(kill(pid, SIGHUP), 0);
	ck_assert(wait_log("a", "configuration reloaded", 10000));
	ck_assert_int_eq(h_info_field(port, "upstream", "upstream_connects",
	    1000), 1);
	/* One that does reconnects, and everything works again. */
	snprintf(tls, sizeof(tls), "ca_file = \"%s/ca.crt\"; server_name = "
	    "\"localhost\";", certs);
	text = conf_text(port, tls);
	conf_rewrite("a", text);
	free(text);
	ck_assert_int_eq(kill(pid, SIGHUP), 0);
	ck_assert(wait_log("a", "new credentials or TLS settings for redis",
	    10000));
	ck_assert_int_eq(wait_info(port, "upstream_connects", 2, 10000), 2);
	exercise(port);
}
END_TEST

/*
 * A CA that did not sign Redis' certificate: every handshake fails, is
 * logged with OpenSSL's reason and retried with backoff (not in a tight
 * loop); a reload with the right CA reconnects and everything works.
 */
START_TEST(test_rtls_wrong_ca_then_reload)
{
	char		 tls[600], *text;
	long long	 t0;
	int		 port = h_free_port(), n;
	pid_t		 pid;

	redis_up("no");
	snprintf(tls, sizeof(tls), "ca_file = \"%s/rogue.crt\";", certs);
	pid = daemon_up("a", port, tls);
	ck_assert_msg(wait_log("a", "certificate verify failed", 10000),
	    "no handshake failure logged");
	t0 = h_now_ms();
	while (log_count("a", "cannot connect to redis") < 3 &&
	    h_now_ms() - t0 < 10000)
		usleep(20000);
	ck_assert_int_ge(log_count("a", "cannot connect to redis"), 3);
	ck_assert_int_eq(h_info_field(port, "upstream", "upstream_connected",
	    1000), 0);
	/* Backoff: 50 ms doubling to 400 ms is at most ~10 tries a second. */
	usleep(1000000);
	n = log_count("a", "cannot connect to redis");
	usleep(1000000);
	ck_assert_int_le(log_count("a", "cannot connect to redis") - n, 20);

	snprintf(tls, sizeof(tls), "ca_file = \"%s/ca.crt\";", certs);
	text = conf_text(port, tls);
	conf_rewrite("a", text);
	free(text);
	ck_assert_int_eq(kill(pid, SIGHUP), 0);
	ck_assert(wait_log("a", "configuration reloaded", 10000));
	exercise(port);
}
END_TEST

/*
 * Names: Redis' certificate is for 127.0.0.1 and localhost. Another
 * server_name fails the check; verify = false takes it anyway (and the
 * name localhost passes).
 */
START_TEST(test_rtls_server_name)
{
	char	tls[600];
	int	port = h_free_port(), port2 = h_free_port(),
		port3 = h_free_port();

	redis_up("no");
	snprintf(tls, sizeof(tls), "ca_file = \"%s/ca.crt\"; server_name = "
	    "\"redis.example\";", certs);
	daemon_up("wrong", port, tls);
	ck_assert(wait_log("wrong", "certificate verify failed", 10000));
	ck_assert_int_eq(h_info_field(port, "upstream", "upstream_connected",
	    1000), 0);
	snprintf(tls, sizeof(tls), "ca_file = \"%s/ca.crt\"; server_name = "
	    "\"redis.example\"; verify = false;", certs);
	daemon_up("noverify", port2, tls);
	exercise(port2);
	snprintf(tls, sizeof(tls), "ca_file = \"%s/ca.crt\"; server_name = "
	    "\"localhost\";", certs);
	daemon_up("name", port3, tls);
	exercise(port3);
}
END_TEST

/*
 * Redis that wants a client certificate (--tls-auth-clients yes): refused
 * without one, served with pubsubd's.
 */
START_TEST(test_rtls_client_cert)
{
	char	tls[900];
	int	port = h_free_port(), port2 = h_free_port();

	redis_up("yes");
	snprintf(tls, sizeof(tls), "ca_file = \"%s/ca.crt\";", certs);
	daemon_up("nocert", port, tls);
	ck_assert(wait_log("nocert", "cannot connect to redis", 10000));
	ck_assert_int_eq(h_info_field(port, "upstream", "upstream_connected",
	    1000), 0);
	snprintf(tls, sizeof(tls), "ca_file = \"%s/ca.crt\"; certificate = "
	    "\"%s/client.crt\"; private_key = \"%s/client.key\";", certs,
	    certs, certs);
	daemon_up("cert", port2, tls);
	exercise(port2);
}
END_TEST

/*
 * Files that do not load: pubsubd -t and a start fail with the file and
 * line at fault and exit 78; a reload to them keeps the running TLS.
 */
START_TEST(test_rtls_bad_files)
{
	char		 tls[900], path[300], log[300], *text, *argv[5];
	const char	*bin = getenv("PUBSUBD");
	int		 port = h_free_port(), status;
	pid_t		 pid;

	redis_up("no");
	/* The key of the CA is not the client certificate's. */
	snprintf(tls, sizeof(tls), "ca_file = \"%s/ca.crt\"; certificate = "
	    "\"%s/client.crt\"; private_key = \"%s/ca.key\";", certs, certs,
	    certs);
	text = conf_text(port, tls);
	snprintf(path, sizeof(path), "%s/pubsubd-bad.conf", env.dir);
	snprintf(log, sizeof(log), "%s/bad.log", env.dir);
	conf_rewrite("bad", text);
	free(text);
	argv[0] = (char *)(bin != NULL ? bin : "./daemon/pubsubd");
	argv[1] = "-t";
	argv[2] = "-c";
	argv[3] = path;
	argv[4] = NULL;
	pid = h_spawn(argv, log);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 78);
	snprintf(tls, sizeof(tls), "%s:8: 'private_key': cannot load", path);
	ck_assert_msg(h_file_has(log, tls), "no FILE:LINE error in %s", log);

	/* Running with the right files; a reload to the bad ones keeps it. */
	snprintf(tls, sizeof(tls), "ca_file = \"%s/ca.crt\";", certs);
	pid = daemon_up("a", port, tls);
	exercise(port);
	snprintf(tls, sizeof(tls), "ca_file = \"%s/server.key\";", certs);
	text = conf_text(port, tls);
	conf_rewrite("a", text);
	free(text);
	ck_assert_int_eq(kill(pid, SIGHUP), 0);
	ck_assert(wait_log("a", "reload failed, keeping the running "
	    "configuration", 10000));
	ck_assert(wait_log("a", "'ca_file': cannot load", 1000));
	ck_assert_int_eq(h_info_field(port, "upstream", "upstream_connected",
	    1000), 1);
	ck_assert_int_eq(log_count("a", "lost connection to redis"), 0);
}
END_TEST

/* One test case per test: each its own directory and servers. */
static void
add(Suite *s, const char *name, const TTest *t)
{
	TCase	*tc = tcase_create(name);

	tcase_set_timeout(tc, 90);
	tcase_add_unchecked_fixture(tc, dir_make, dir_check);
	tcase_add_checked_fixture(tc, test_setup, test_teardown);
	tcase_add_test(tc, t);
	suite_add_tcase(s, tc);
}

static Suite *
rtls_suite(void)
{
	Suite	*s = suite_create("rtls");

	add(s, "pubsub", test_rtls_pubsub);
	add(s, "wrong_ca", test_rtls_wrong_ca_then_reload);
	add(s, "server_name", test_rtls_server_name);
	add(s, "client_cert", test_rtls_client_cert);
	add(s, "bad_files", test_rtls_bad_files);
	return s;
}

int
main(void)
{
	char	cmd[300];
	int	failed;

	if (system("openssl version >/dev/null 2>&1") != 0) {
		printf("SKIP: the openssl command is missing\n");
		return 77;
	}
	if (make_certs() == -1) {
		fprintf(stderr, "rtls: cannot make the certificates (see %s/"
		    "openssl.log)\n", certs);
		return 99;
	}
	failed = check_run_failed(rtls_suite());
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", certs);
	if (getenv("HARNESS_KEEP") == NULL && system(cmd) != 0)
		fprintf(stderr, "rtls: '%s' failed\n", cmd);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
#else
/* No hiredis_ssl in this build: nothing to test here; never a pass. */
int
main(void)
{
	printf("SKIP: this build has no TLS to Redis (hiredis %s without "
	    "hiredis_ssl; it needs hiredis >= 1.0 with hiredis_ssl); "
	    "test_conf checks that redis.tls is refused\n",
	    PUBSUBD_HIREDIS_VERSION);
	return 77;
}
#endif
