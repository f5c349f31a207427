/*
 * harness.h: what the integration suites share: a real redis-server and a
 * real pubsubd started on free loopback ports (and stopped even when a test
 * fails or the test program dies), and a small blocking RESP client with
 * timeouts, so that no test can hang.
 */
#ifndef PUBSUBD_HARNESS_H
#define PUBSUBD_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

#define H_TIMEOUT_MS	5000	/* the longest any single read waits */

/* The servers of one suite. */
struct h_env {
	int	 redis_port;
	pid_t	 redis_pid;
	int	 pubsubd_port;	/* on 127.0.0.1 */
	int	 pubsubd_port6;	/* on ::1, or 0 if this host has no IPv6 */
	pid_t	 pubsubd_pid;
	char	 dir[256];	/* a private temporary directory */
	char	 conf[300];	/* pubsubd's configuration file */
};

/* A blocking connection with a read buffer. */
struct h_conn {
	int	 fd;
	char	*buf;
	size_t	 len;
	size_t	 cap;
};

/* Starts redis-server then pubsubd against it; exits the program on failure. */
void	 h_start(struct h_env *env);

/*
 * Stops both (SIGTERM, then SIGKILL after a grace period). Returns 0 if
 * pubsubd exited 0 (a clean stop, no leak reported under the sanitizers),
 * else -1 after printing the end of its log.
 */
int	 h_stop(struct h_env *env);

/*
 * For suites whose tests start their own daemons, as Check fixtures: before
 * each test (unchecked, in Check's parent) a fresh env with a private
 * directory (exits 99 if none can be made); after each test (unchecked) a
 * directory still there means the test failed: the end of its logs is shown,
 * who naming the suite; after a test that passed (checked) every pid in
 * daemons[0 .. n-1] is stopped and must exit 0 (a clean stop, no leak under
 * the sanitizers), then Redis, then the directory goes: 0, or -1 if a
 * daemon did not stop cleanly (the directory is then kept).
 */
void	 h_dir_make(struct h_env *env);
void	 h_dir_report(const struct h_env *env, const char *who);
int	 h_stop_daemons(struct h_env *env, pid_t *daemons, int n,
	    const char *who);

/* Starts (or restarts) only redis-server, on env->redis_port. */
void	 h_start_redis(struct h_env *env);

/* Waits until something on port answers PING with +PONG: 0, or -1. */
int	 h_wait_ping(int port, int timeout_ms);
/*
 * A port nobody listens on now on 127.0.0.1 (on ::1 if v6: 0 if this host
 * cannot), never one this process gave before (tests/port.c).
 */
int	 h_free_port(void);
int	 h_free_port6(void);

/* Runs argv with output to logfile; the child dies with the test program. */
pid_t	 h_spawn(char *const argv[], const char *logfile);

/*
 * The same, with the child's environment changed by env (borrowed; NULL,
 * or NULL-terminated): "NAME=VALUE" sets NAME, a bare "NAME" unsets it.
 */
pid_t	 h_spawn_env(char *const argv[], const char *const env[],
	    const char *logfile);

/* Sends SIGTERM, waits up to grace_ms, then SIGKILL; returns the status. */
int	 h_kill(pid_t pid, int grace_ms);

/* Connects to 127.0.0.1:port (or host:port); NULL on failure. */
struct h_conn *h_connect(int port);
struct h_conn *h_connect_host(const char *host, int port);
void	 h_close(struct h_conn *c);

/* Sends bytes; returns 0 or -1. */
int	 h_send(struct h_conn *c, const void *buf, size_t len);
int	 h_sendstr(struct h_conn *c, const char *s);

/* Sends a command as a RESP multibulk of NUL-terminated strings. */
int	 h_command(struct h_conn *c, const char *arg, ...)
	    __attribute__((sentinel));

/*
 * Reads one whole RESP reply (any type); returns its raw bytes, NUL
 * terminated, malloc'd (the caller frees), or NULL on timeout or EOF.
 */
char	*h_reply(struct h_conn *c, size_t *lenp, int timeout_ms);

/* Reads exactly len bytes; malloc'd or NULL on timeout/EOF. */
char	*h_read_exact(struct h_conn *c, size_t len, int timeout_ms);

/* Reads everything until the peer closes or timeout_ms of silence. */
char	*h_read_all(struct h_conn *c, size_t *lenp, int timeout_ms);

/*
 * Reads the next reply and compares it with expected; returns 1 if equal,
 * else 0 (and prints both).
 */
int	 h_expect(struct h_conn *c, const char *expected);

/* Whether the peer has closed the connection (within timeout_ms). */
int	 h_closed(struct h_conn *c, int timeout_ms);

/* The integer of a ":N" reply; LLONG_MIN if it is not one. */
long long h_int(const char *reply);

/* PUBSUB NUMSUB of one channel, asked of redis itself on conn r. */
long long h_numsub(struct h_conn *r, const char *channel);

/* Polls NUMSUB until it equals want or timeout_ms passes; returns the last. */
long long h_wait_numsub(struct h_conn *r, const char *channel, long long want,
	    int timeout_ms);

/* PUBLISH on conn r (to redis directly); returns the receivers, or -1. */
long long h_publish(struct h_conn *r, const char *channel, const char *msg);

/*
 * Frames as Redis sends them (RESP2), malloc'd: a (un)subscribe
 * confirmation [kind, name, count], and a message of channel.
 */
char	*h_frame_confirm(const char *kind, const char *name, int count);
char	*h_frame_message(const char *channel, const char *payload);

/* Expects the next reply to be frame (as h_expect()), then frees frame. */
int	 h_expect_free(struct h_conn *c, char *frame);

/* Milliseconds of a monotonic clock. */
long long h_now_ms(void);

/*
 * Starts one more pubsubd against env's redis-server, on a free port of
 * 127.0.0.1, with extra (borrowed; may be NULL) appended to its
 * configuration file, e.g. "passthrough = true;". tag names its files in
 * env->dir (pubsubd-TAG.conf, pubsubd-TAG.log). Returns 0 with *portp and
 * *pidp set (stop it with h_kill()), or -1 with nothing left running if it
 * did not answer PING within 10 s; unlike h_start(), it never exits.
 */
int	 h_start_pubsubd(struct h_env *env, const char *tag, const char *extra,
	    int *portp, pid_t *pidp);

/*
 * The length of the one whole RESP value (RESP2 or RESP3) at the start of
 * buf, or 0 if it is not complete yet.
 */
size_t	 h_resp_size(const char *buf, size_t len);

/*
 * Starts a fresh redis-server (as h_start_redis(), which exits the program
 * if it does not start) in env->dir if that is set (an existing directory:
 * a parent process can make it, then look for what is left after a failed
 * test), else in a new private directory; then a pubsubd against it on a
 * free port of 127.0.0.1 with redis_extra (borrowed; may be NULL) inside
 * its redis group, e.g. "health_interval = 200;", and extra
 * (borrowed; may be NULL) appended to its configuration file, e.g.
 * "limits = { maxclients = 5; };". Fills in env as h_start() does (no IPv6
 * listener: pubsubd_port6 is 0); stop both with h_stop(). Returns 0, or -1
 * if pubsubd did not answer PING within 10 s (then redis-server still runs
 * and env->pubsubd_pid is 0; pubsubd's log is in env->dir).
 */
int	 h_start_with(struct h_env *env, const char *redis_extra,
	    const char *extra);

/*
 * Asks pubsubd (or any server) on port for INFO section on a connection of
 * its own and returns the integer of field (e.g. "upstream_connected"), or
 * -1 if there is no answer within timeout_ms or no such field.
 */
long long h_info_field(int port, const char *section, const char *field,
	    int timeout_ms);

/* The same on an open connection c (its next reply must be INFO's). */
long long h_info_on(struct h_conn *c, const char *section, const char *field,
	    int timeout_ms);

/* The resident set size of process pid in KiB (VmRSS), or -1. */
long long h_rss_kb(pid_t pid);

/*
 * ---- HTTP and INFO text, for the metrics suite (test_integ_metrics).
 * Kept together: other suites extend this file too. ----
 */

/* An HTTP response, read whole. */
struct h_http_resp {
	int	 status;	/* 200, 404, ... */
	char	*headers;	/* owned: the header lines, each ending CRLF */
	char	*body;		/* owned, NUL-terminated */
	size_t	 bodylen;
};

/*
 * Writes "METHOD path HTTP/1.1" (Host, Connection: close) to 127.0.0.1:port
 * on a connection of its own and reads the response until the server
 * closes, waiting at most timeout_ms for each read. Returns 0 with *resp
 * filled (free it with h_http_free()), or -1 if the connection was refused
 * or no whole status line and header block came.
 */
int	 h_http(int port, const char *method, const char *path,
	    struct h_http_resp *resp, int timeout_ms);
void	 h_http_free(struct h_http_resp *resp);

/*
 * Copies the value of header name (case-insensitive) into buf; returns buf,
 * or NULL if resp has no such header.
 */
const char *h_http_header(const struct h_http_resp *resp, const char *name,
	    char *buf, size_t len);

/*
 * Asks INFO section on a connection of its own; returns the text of the
 * reply (the bulk string's content, "# Section\r\nkey:value\r\n..."),
 * malloc'd, or NULL on timeout or if the reply is not a bulk string.
 */
char	*h_info_text(int port, const char *section, int timeout_ms);

/*
 * ---- For the service suite (test_integ_service.c): Unix sockets,
 * redis-server with arguments of a test's choosing, pubsubd with a whole
 * configuration file. Kept together here, at the end.
 */

/* Connects to the Unix socket at path; NULL on failure. */
struct h_conn *h_connect_unix(const char *path);
/* Connects to 127.0.0.1:port, retrying for up to ms; NULL if it never can. */
struct h_conn *h_connect_within(int port, int ms);

/*
 * Waits until the server at the Unix socket path answers PING with +PONG
 * (or, if it wants a password, -NOAUTH); 0, or -1 after timeout_ms.
 */
int	 h_wait_ping_unix(const char *path, int timeout_ms);

/*
 * Starts redis-server in env->dir (an existing directory) with extra
 * (borrowed, NULL-terminated; may be NULL) after the harness' own
 * arguments, e.g. { "--requirepass", "pw", NULL }: on TCP port
 * env->redis_port if it is not 0 (else no TCP at all), and on the Unix
 * socket unixsock if it is not NULL. Waits until it answers PING (+PONG or
 * -NOAUTH) on one of them; exits the program if it does not within 10 s.
 */
void	 h_start_redis_argv(struct h_env *env, const char *unixsock,
	    const char *const *extra);

/*
 * Writes text to env->dir/pubsubd-TAG.conf and spawns pubsubd -c that file,
 * with args (borrowed, NULL-terminated; may be NULL) after it, its output
 * to env->dir/pubsubd-TAG.log. Returns its pid at once (stop it with
 * h_kill()); exits the program if the file cannot be written.
 */
pid_t	 h_spawn_pubsubd(struct h_env *env, const char *tag, const char *text,
	    const char *const *args);

/* Whether the file at path holds needle (0 if it cannot be read). */
int	 h_file_has(const char *path, const char *needle);

#endif /* PUBSUBD_HARNESS_H */
