/*
 * main.c: pubsubd's command line, start-up, signals and shutdown (SIGHUP's
 * reload is main_reload.c's).
 *
 * The daemon is one event_base and one context (struct pubsubd) that wires
 * the upstream (Redis), the hub (who is subscribed to what) and the clients
 * (served from the listeners). It runs in the foreground, as systemd
 * expects; SIGTERM and SIGINT stop it, SIGHUP reloads the configuration.
 * It may write a pid file (-p, or pidfile in the configuration) once its
 * listeners are bound. TLS listeners serve with the context made from the
 * tls group at start, and made again from the files at each reload.
 *
 * Under systemd (service.h): the listeners are the sockets systemd passed,
 * if it passed any (socket activation: the `listen` setting is then
 * ignored, on reloads too); READY=1 waits for Redis (or
 * systemd.ready_timeout); STATUS=, WATCHDOG=1, RELOADING=1 and STOPPING=1
 * follow. At start the soft limit on open files is raised to the hard one,
 * and maxclients lowered (with a warning) if even that is too few.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netdb.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "acl.h"
#include "client.h"
#include "conf.h"
#include "endpoint.h"
#include "future.h"
#include "hub.h"
#include "listener.h"
#include "log.h"
#include "main_impl.h"
#include "metrics.h"
#include "pidfile.h"
#include "procmem.h"
#include "service.h"
#include "supervise.h"
#include "tls.h"
#include "upstream.h"
#include "upstream_cluster.h"
#include "upstream_sentinel.h"
#include "upstream_single.h"

/*
 * Open files pubsubd needs besides one per client: standard streams, the
 * event loop's own and the clients' epoll set, the connections to Redis,
 * the listeners (counted apart), the log, the notify socket, with room to
 * spare (as Redis' 32).
 */
#define MAIN_FD_RESERVE		32
/* What to try when the hard limit is "unlimited" (Linux' fs.nr_open). */
#define MAIN_NOFILE_FALLBACK	1048576

#define MAIN_TRIM_SEC	5	/* how often free heap is given back */


/* The command line; its strings are argv's. */
struct main_args {
	const char	*path;		/* -c, or NULL: the defaults */
	const char	*pidpath;	/* -p, or NULL */
	int		 test;		/* -t */
};

static void	usage(FILE *, int) __attribute__((noreturn));
static int	main_args(int, char *[], struct main_args *);
static int	main_init(struct pubsubd *, struct main_args *);
static int	main_load(struct pubsubd *, const struct main_args *);
static int	main_prepare(struct pubsubd *, const struct main_args *);
static int	main_supervise(struct pubsubd *, char *[]);
static int	main_settle(struct pubsubd *);
static void	main_wire(struct pubsubd *);
static int	main_listen(struct pubsubd *);
static void	main_signals(struct pubsubd *);
static int	main_run(struct pubsubd *);
static int	main_hash_password(void);
static void	main_on_message(void *, const struct upstream_msg *);
static void	main_moved_cb(evutil_socket_t, short, void *);
static struct upstream *main_cluster_new(struct pubsubd *,
		    const struct upstream_cbs *);
static struct upstream *main_sentinel_new(struct pubsubd *,
		    const struct upstream_cbs *);
static void	main_on_state(void *, int);
static void	main_on_lost(void *, enum upstream_kind, const char *,
		    size_t);
static void	main_signal_cb(evutil_socket_t, short, void *);
static void	main_clients_gone(void *);
static int	main_listen_passed(struct pubsubd *, int);
static long long main_raise_nofile(void);
static long long main_fd_reserve(const struct pubsubd *,
		    const struct conf *);
static int	main_fit_maxclients(const struct pubsubd *,
		    const struct conf *);
static void	main_status(void *, char *, size_t);
static void	main_stop_cb(evutil_socket_t, short, void *);
static void	main_trim_cb(evutil_socket_t, short, void *);
static void	main_free(struct pubsubd *);

/* Prints how to call pubsubd to f and exits with status. */
static void
usage(FILE *f, int status)
{
	fprintf(f, "usage: pubsubd [-htv] [-c file] [-p pidfile]\n"
	    "       pubsubd --hash-password < file\n"
	    "  -c file  read the configuration from file "
	    "(default: built-in defaults)\n"
	    "  -p file  write the process id to file (instead of the "
	    "configuration's pidfile)\n"
	    "  -t       check the configuration and exit\n"
	    "  -v       print the version and exit\n"
	    "  -h       print this help and exit\n"
	    "  --hash-password  print the SHA-256 digest of the password on "
	    "standard input\n"
	    "           (one trailing newline is not part of it), for "
	    "password_sha256\n");
	exit(status);
}

/*
 * --hash-password: prints the SHA-256 digest (hex) of standard input, less
 * one trailing newline (what typing it, or echo, adds), for a user's
 * password_sha256. Returns the exit status.
 */
static int
main_hash_password(void)
{
	unsigned char	d[ACL_DIGEST_LEN];
	char		buf[4096], hex[ACL_DIGEST_HEX_LEN + 1];
	size_t		len = 0, n;
	int		rc = 1;

	while (len < sizeof(buf) &&
	    (n = fread(buf + len, 1, sizeof(buf) - len, stdin)) > 0)
		len += n;
	if (ferror(stdin) || len == sizeof(buf)) {
		fprintf(stderr, "pubsubd: --hash-password: %s\n",
		    ferror(stdin) ? "cannot read standard input" :
		    "a password of 4096 bytes or more");
		goto out;
	}
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (acl_digest(buf, len, d) == -1) {
		fprintf(stderr, "pubsubd: --hash-password: SHA-256 failed\n");
		goto out;
	}
	acl_digest_hex(d, hex);
	printf("%s\n", hex);
	rc = 0;
out:
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

/* The upstream delivered a message: hand it to the hub. */
static void
main_on_message(void *arg, const struct upstream_msg *msg)
{
	struct pubsubd	*d = arg;

	hub_message(d->hub, msg);
}

/* The upstream connection came up or went down. */
static void
main_on_state(void *arg, int connected)
{
	struct pubsubd		*d = arg;
	struct timeval		 now = { 0, 0 };
	unsigned long long	 switches = upstream_stats(d->up)->switches;

	hub_upstream_state(d->hub, connected);
	service_upstream(d->svc, connected);
	/* A new master: passthrough follows, from the loop (not from here). */
	if (switches != d->switches_seen) {
		d->switches_seen = switches;
		if (event_base_once(d->base, -1, EV_TIMEOUT, main_moved_cb, d,
		    &now) == -1)
			client_set_redis_moved(d->clients);
	}
}

/* Redis moved to a new master: the clients' passthrough follows. */
static void
main_moved_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pubsubd	*d = arg;

	client_set_redis_moved(d->clients);
}

/* Redis dropped one subscription: the hub subscribes it again. */
static void
main_on_lost(void *arg, enum upstream_kind kind, const char *name, size_t len)
{
	struct pubsubd	*d = arg;

	hub_upstream_lost(d->hub, kind, name, len);
}

/*
 * The STATUS= text systemd shows: what is served, the messages so far, and
 * Redis' state.
 */
static void
main_status(void *arg, char *buf, size_t len)
{
	struct pubsubd	*d = arg;
	unsigned long long n = client_set_stats(d->clients)->connected;
	size_t		 ch = hub_count(d->hub, UPSTREAM_CHANNEL);
	size_t		 pa = hub_count(d->hub, UPSTREAM_PATTERN);
	size_t		 sh = hub_count(d->hub, UPSTREAM_SHARD);
	const struct hub_stats *hs = hub_stats(d->hub);
	char		 name[ENDPOINT_NAME_MAX];

	snprintf(buf, len, "%llu client%s, %zu channel%s, %zu pattern%s, "
	    "%zu shard channel%s; %llu message%s in, %llu delivered; "
	    "redis %s %s", n, n == 1 ? "" : "s", ch, ch == 1 ? "" : "s", pa,
	    pa == 1 ? "" : "s", sh, sh == 1 ? "" : "s",
	    (unsigned long long)hs->messages_in,
	    hs->messages_in == 1 ? "" : "s",
	    (unsigned long long)hs->deliveries, upstream_connected(d->up) ?
	    "connected to" : "down, retrying", main_redis_name(d, name,
	    sizeof(name)));
}

/*
 * Names Redis for the log and systemd: its address, or for a Sentinel's
 * master, its name, where it is now (if known) and the switches so far.
 */
const char *
main_redis_name(const struct pubsubd *d, char *buf, size_t len)
{
	const struct endpoint	*ep = upstream_endpoint(d->up);
	unsigned long long	 n = upstream_stats(d->up)->switches;
	char			 at[ENDPOINT_NAME_MAX];

	if (d->conf->redis_cluster.nnodes > 0) {
		snprintf(buf, len, "redis cluster (channels on %s, slot map "
		    "%llu)", endpoint_name(ep, at, sizeof(at)), n);
		return buf;
	}
	if (d->conf->redis_sentinel.master == NULL)
		return endpoint_name(&d->redis, buf, len);
	if (ep == NULL)
		snprintf(buf, len, "master '%s' (not found yet; asking %zu "
		    "sentinel%s)", d->conf->redis_sentinel.master,
		    d->conf->redis_sentinel.nnodes,
		    d->conf->redis_sentinel.nnodes == 1 ? "" : "s");
	else
		snprintf(buf, len, "%s (sentinel master '%s', %llu "
		    "switch%s)", endpoint_name(ep, at, sizeof(at)),
		    d->conf->redis_sentinel.master, n, n == 1 ? "" : "es");
	return buf;
}

/*
 * SIGTERM or SIGINT: a graceful stop. Accept no one more, let every client
 * be sent what it is owed (bounded by shutdown.timeout), then leave the
 * loop; main() closes the upstream and frees the rest. A second signal
 * stops at once.
 */
static void
main_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct pubsubd	*d = arg;
	struct timeval	 tv;
	size_t		 i;

	if (d->stopping) {
		log_notice("received signal %d again, stopping now", (int)sig);
		event_base_loopbreak(d->base);
		return;
	}
	d->stopping = 1;
	log_notice("received signal %d, stopping", (int)sig);
	service_stopping(d->svc);
	for (i = 0; i < d->nlisteners; i++)
		listener_free(d->listeners[i]);
	d->nlisteners = 0;
	tv.tv_sec = d->conf->shutdown_timeout / 1000;
	tv.tv_usec = (d->conf->shutdown_timeout % 1000) * 1000;
	if ((d->stop_ev = evtimer_new(d->base, main_stop_cb, d)) == NULL ||
	    evtimer_add(d->stop_ev, &tv) == -1)
		event_base_loopbreak(d->base);
	client_set_shutdown(d->clients, main_clients_gone, d);
}

/* Every client is gone: leave the loop. */
static void
main_clients_gone(void *arg)
{
	struct pubsubd	*d = arg;

	log_info("every client is gone");
	event_base_loopbreak(d->base);
}

/* shutdown.timeout passed with clients still flushing. */
static void
main_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pubsubd	*d = arg;

	log_warnx("stopping with clients still flushing after %d ms",
	    d->conf->shutdown_timeout);
	event_base_loopbreak(d->base);
}

/*
 * Copies what the modules read of a configuration into their own structs
 * (the clients and the upstream read these live). Strings stay borrowed
 * from conf, which must outlive the next call.
 */
void
main_apply(struct pubsubd *d, const struct conf *c)
{
	log_set_level(c->log_level);
	log_set_syslog(c->log_syslog, c->log_facility, c->log_ident);
	memset(&d->redis, 0, sizeof(d->redis));
	if (c->redis_path != NULL)
		d->redis.path = c->redis_path;
	else {
		d->redis.host = c->redis_host;
		d->redis.port = c->redis_port;
	}
	d->redis.username = c->redis_username;
	d->redis.password = c->redis_password;
	if (c->redis_tls.enabled && d->rtls != NULL) {
		d->redis.tls = d->rtls;
		d->redis.tls_name = c->redis_tls.server_name;
		d->redis.tls_verify = c->redis_tls.verify;
	}
	d->cconf.passthrough = c->passthrough;
	d->cconf.command_timeout = c->command_timeout;
	d->cconf.maxclients = main_fit_maxclients(d, c);
	d->cconf.output_hard = c->limits.output_hard;
	d->cconf.output_soft = c->limits.output_soft;
	d->cconf.output_soft_seconds = c->limits.output_soft_seconds;
	d->cconf.query_buffer = c->limits.query_buffer;
	d->cconf.multibulk_max = c->limits.multibulk_max;
	d->cconf.bulk_max = c->limits.bulk_max;
	d->cconf.max_subscriptions = c->limits.max_subscriptions;
	d->cconf.idle_timeout = c->limits.idle_timeout;
	d->cconf.tcp_keepalive = c->limits.tcp_keepalive;
	d->cconf.worker = d->worker;
	d->cconf.nworkers = d->nworkers;
	d->cconf.acl = c->acl;
	d->cconf.tls_handshake_timeout = c->tls.handshake_timeout;
	d->cconf.http_keepalive = c->http.keepalive;
	d->cconf.http_header_max = c->http.header_max;
	d->cconf.http_request_timeout = c->http.request_timeout;
	d->cconf.http_message_max = c->http.message_max;
	d->cconf.http_message_rate = c->http.message_rate;
	d->cconf.http_page = c->http.page;
	d->cconf.http_ticket_secret = c->http.ticket_secret;
	d->cconf.http_origins = c->http.origins;
	d->cconf.http_norigins = c->http.norigins;
	d->upconf.redis = d->redis;
	d->upconf.connect_timeout = c->connect_timeout;
	d->upconf.backoff_min = c->backoff_min;
	d->upconf.backoff_max = c->backoff_max;
	d->upconf.health_interval = c->health_interval;
	d->upconf.health_timeout = c->health_timeout;
}

/*
 * Protected mode: with protected_mode on and no password required (no
 * users, or a default user with nopass), every TCP listener must be on a
 * loopback address: the configured ones (their host names resolved), or
 * the ones systemd passed when d->activated. Unix sockets are not
 * concerned. Returns 0, or -1 with err naming the listener and the fixes.
 */
int
main_protected(const struct pubsubd *d, const struct conf *c,
    const char *path, char *err, size_t errlen)
{
	struct addrinfo	 hints, *res, *ai;
	char		 where[300];
	size_t		 i, n;
	unsigned int	 line = 0;
	int		 open_door = 0, lo;

	if (!c->protected_mode || acl_login_user(c->acl) == NULL)
		return 0;
	where[0] = '\0';
	for (i = 0; d->activated && i < d->nlisteners && !open_door; i++) {
		if (listener_is_loopback(d->listeners[i]) == 0) {
			open_door = 1;
			snprintf(where, sizeof(where), "%s (passed by systemd)",
			    listener_name(d->listeners[i]));
		}
	}
	for (i = 0; !d->activated && i < c->nlisten && !open_door; i++) {
		if (c->listen[i].host == NULL)
			continue;
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE;
		/* A name that does not resolve cannot be bound either. */
		if (getaddrinfo(c->listen[i].host, NULL, &hints, &res) != 0)
			continue;
		for (ai = res; ai != NULL && !open_door; ai = ai->ai_next) {
			lo = listener_addr_is_loopback(ai->ai_addr);
			open_door = lo == 0;
		}
		freeaddrinfo(res);
		if (open_door) {
			snprintf(where, sizeof(where), "%s port %d",
			    c->listen[i].host, c->listen[i].port);
			line = c->listen[i].line;
		}
	}
	if (!open_door)
		return 0;
	/* FILE:LINE of the listen entry, when the file has one. */
	if (path != NULL && line > 0)
		snprintf(err, errlen, "%s:%u", path, line);
	else
		snprintf(err, errlen, "%s", path != NULL ? path : "(defaults)");
	n = strlen(err);
	snprintf(err + n, errlen - n, ": protected mode: refusing to listen "
	    "on %s, not a loopback address, with no password required (%s): "
	    "anyone who can reach it could subscribe and publish. Configure "
	    "'users' with passwords (or a 'default' user with "
	    "'password_sha256'), listen on a loopback address only, or set "
	    "'protected_mode = false;' if the network is trusted", where,
	    acl_count(c->acl) == 1 ? "no users configured, or only a "
	    "'default' user with nopass" : "the 'default' user has nopass");
	return -1;
}

/* Opens the listener of one listen entry; NULL with err filled. */
struct listener *
main_listener_new(struct pubsubd *d, const struct conf_listen *cl, char *err,
    size_t errlen)
{
	struct listener	*l;

	if (cl->path != NULL)
		l = listener_new_unix(d->base, d->clients, cl->path, cl->mode,
		    cl->backlog, err, errlen);
	else
		l = listener_new(d->base, d->clients, cl->host, cl->port,
		    d->worker >= 0, cl->backlog, err, errlen);
	if (l != NULL) {
		listener_set_tls(l, cl->tls);
		listener_set_http(l, cl->http);
	}
	return l;
}

/* Opens the metrics endpoint of configuration c; NULL with err on failure. */
struct metrics *
main_metrics_new(struct pubsubd *d, const struct conf *c, char *err,
    size_t errlen)
{
	struct metrics_src	src;

	src.clients = d->clients;
	src.hub = d->hub;
	src.up = d->up;
	src.stopping = &d->stopping;
	return metrics_new(d->base, &src, c->metrics.host, c->metrics.port,
	    c->metrics.path, err, errlen);
}

/*
 * Raises the soft limit on open files to the hard one (systemd's
 * LimitNOFILE= sets both, but a login's soft limit is often 1024 under a
 * much higher hard one).
 * Returns the soft limit now, or -1 if there is none or it is unknown.
 */
static long long
main_raise_nofile(void)
{
	struct rlimit	rl;
	rlim_t		old;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		log_warn("getrlimit(RLIMIT_NOFILE)");
		return -1;
	}
	old = rl.rlim_cur;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		/* The kernel refuses more than fs.nr_open, "unlimited" too. */
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1 &&
		    rl.rlim_max > MAIN_NOFILE_FALLBACK &&
		    old < MAIN_NOFILE_FALLBACK) {
			rl.rlim_cur = MAIN_NOFILE_FALLBACK;
			(void)setrlimit(RLIMIT_NOFILE, &rl);
		}
		if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
			rl.rlim_cur = old;
	}
	if (rl.rlim_cur == RLIM_INFINITY)
		return -1;
	if (rl.rlim_cur != old)
		log_info("raised the open file limit from %llu to %llu",
		    (unsigned long long)old, (unsigned long long)rl.rlim_cur);
	else
		log_info("open file limit: %llu", (unsigned long long)old);
	return rl.rlim_cur > (rlim_t)LLONG_MAX ? -1 : (long long)rl.rlim_cur;
}

/*
 * Open files kept apart from the clients under configuration c:
 * MAIN_FD_RESERVE, one per listening socket (TCP or Unix, from c or from
 * systemd) and one for the metrics endpoint.
 */
static long long
main_fd_reserve(const struct pubsubd *d, const struct conf *c)
{
	long long	listeners = d->activated ? d->npassed :
			    (long long)c->nlisten;

	return MAIN_FD_RESERVE + listeners + (c->metrics.enabled ? 1 : 0);
}

/*
 * The maxclients c allows within the open file limit: each client takes a
 * descriptor (two with passthrough: its own connection to Redis), and
 * main_fd_reserve() are kept apart. Lower than c's (with a warning) when
 * the limit is too low, as Redis does; at least 1.
 */
static int
main_fit_maxclients(const struct pubsubd *d, const struct conf *c)
{
	long long	per = c->passthrough ? 2 : 1, spare, max;
	long long	reserve = main_fd_reserve(d, c);

	if (d->nofile < 0 ||
	    (long long)c->limits.maxclients * per + reserve <= d->nofile)
		return c->limits.maxclients;
	spare = d->nofile - reserve;
	max = spare > per ? spare / per : 1;
	log_warnx("maxclients %d needs %lld open files (%lld per client, "
	    "%lld kept for pubsubd) but the limit is %lld: maxclients "
	    "lowered to %lld; raise LimitNOFILE= (or ulimit -n)",
	    c->limits.maxclients, (long long)c->limits.maxclients * per +
	    reserve, per, reserve, d->nofile, max);
	return (int)max;
}

/*
 * Serves the d->npassed sockets systemd passed from first on (socket
 * activation), owning them. Returns 0, or -1 (logged) on failure, with
 * every one of them closed.
 */
static int
main_listen_passed(struct pubsubd *d, int first)
{
	char	err[1024];
	int	n = d->npassed, i;

	if ((d->listeners = calloc((size_t)n, sizeof(*d->listeners))) ==
	    NULL) {
		log_warnx("out of memory");
		for (i = 0; i < n; i++)
			close(first + i);
		return -1;
	}
	for (i = 0; i < n; i++) {
		/*
		 * Served as a configured socket is (AF_UNIX ones too), but
		 * a Unix socket's file stays systemd's: never removed.
		 */
		d->listeners[i] = listener_new_fd(d->base, d->clients,
		    first + i, err, sizeof(err));
		if (d->listeners[i] == NULL) {
			log_warnx("%s", err);
			/* listener_new_fd() closed its own; close the rest. */
			while (++i < n)
				close(first + i);
			return -1;
		}
		d->nlisteners++;
		log_notice("listening on %s (passed by systemd)",
		    listener_name(d->listeners[i]));
	}
	log_notice("socket activation: serving the %d socket%s systemd "
	    "passed; the configured listen addresses are ignored", n,
	    n == 1 ? "" : "s");
	return 0;
}

/*
 * Every few seconds: a burst of clients (10000 subscribing at once) leaves
 * the memory of their requests free but resident; give it back, as Redis'
 * allocator does in the background, so idle subscribers cost what they hold.
 */
static void
main_trim_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t	freed;

	if ((freed = procmem_trim()) > 0)
		log_debug("gave back the free heap (%llu bytes free)",
		    (unsigned long long)freed);
}

/*
 * Makes configuration c this worker's (workers > 1): a Unix socket can be
 * bound by one process only, so worker 0 alone serves the Unix listen
 * entries (the others drop them); worker i serves metrics on
 * metrics.port + i (conf checked that they fit), port 0 staying any free
 * port. The only process (worker -1) keeps c as it is.
 */
void
main_worker_conf(const struct pubsubd *d, struct conf *c)
{
	size_t	i, n = 0;

	if (d->worker < 0)
		return;
	if (c->metrics.port != 0)
		c->metrics.port += d->worker;
	if (d->worker == 0)
		return;
	for (i = 0; i < c->nlisten; i++) {
		if (c->listen[i].path != NULL) {
			log_info("%s is served by worker 0 only",
			    c->listen[i].path);
			free(c->listen[i].path);
			continue;
		}
		c->listen[n++] = c->listen[i];
	}
	c->nlisten = n;
	if (n == 0)
		log_warnx("no TCP listen address: worker %d serves no client "
		    "(Unix sockets are served by worker 0 only)", d->worker);
}

/*
 * Makes the TLS context for Redis of configuration c into *ctx (NULL if c
 * has no redis.tls), one reference the caller's, and its identity into
 * id: d's own context when the settings and the files are still those it
 * was made from, so that a reload that leaves them alone keeps the
 * connections to Redis. Returns 0, or -1 with "PATH:LINE: message" in err.
 */
int
main_rtls(const struct pubsubd *d, const struct conf *c, const char *path,
    struct ssl_ctx_st **ctx, unsigned char *id, char *err, size_t errlen)
{
	struct ssl_ctx_st	*nctx;
	unsigned char		 nid[TLS_ID_LEN];

	/* ctx and id may be d's own: d is read before they are written. */
	if (!c->redis_tls.enabled) {
		*ctx = NULL;
		return 0;
	}
	if ((nctx = tls_client_ctx_new(&c->redis_tls, path, nid, err,
	    errlen)) == NULL)
		return -1;
	if (d->rtls != NULL && memcmp(nid, d->rtls_id, TLS_ID_LEN) == 0) {
		tls_ctx_unref(nctx);
		nctx = tls_ctx_ref(d->rtls);
	}
	memcpy(id, nid, TLS_ID_LEN);
	*ctx = nctx;
	return 0;
}

/* Frees the context in the reverse order of its making. */
static void
main_free(struct pubsubd *d)
{
	size_t	i;

	for (i = 0; i < d->nlisteners; i++)
		listener_free(d->listeners[i]);
	free(d->listeners);
	metrics_free(d->metrics);
	service_free(d->svc);
	client_set_free(d->clients);
	upstream_free(d->up);
	hub_free(d->hub);
	tls_ctx_unref(d->tls);
	tls_ctx_unref(d->rtls);
	if (d->sigterm_ev != NULL)
		event_free(d->sigterm_ev);
	if (d->sigint_ev != NULL)
		event_free(d->sigint_ev);
	if (d->stop_ev != NULL)
		event_free(d->stop_ev);
	if (d->trim_ev != NULL)
		event_free(d->trim_ev);
	if (d->sighup_ev != NULL)
		event_free(d->sighup_ev);
	if (d->base != NULL)
		event_base_free(d->base);
	conf_free(d->conf);
	if (d->pidfile_written)
		pidfile_remove(d->pidfile);
	free(d->pidfile);
}

/*
 * Reads the command line into a: returns -1 to go on, or the status to exit
 * with at once (-v).
 */
static int
main_args(int argc, char *argv[], struct main_args *a)
{
	int	ch;

	memset(a, 0, sizeof(*a));
	while ((ch = getopt(argc, argv, "c:hp:tv")) != -1) {
		switch (ch) {
		case 'c':
			a->path = optarg;
			break;
		case 'p':
			a->pidpath = optarg;
			break;
		case 't':
			a->test = 1;
			break;
		case 'v':
			printf("pubsubd %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout, 0);
		default:
			usage(stderr, 2);
		}
	}
	if (optind != argc)
		usage(stderr, 2);
	return -1;
}

/*
 * Starts the log and, when a supervisor started this process, learns which
 * worker it is and the sockets it inherited. Returns 0 or the exit status.
 */
static int
main_init(struct pubsubd *d, struct main_args *a)
{
	char	name[32];

	memset(d, 0, sizeof(*d));
	d->worker = -1;
	d->nworkers = 1;
	d->first = -1;
	d->readyfd = -1;
	d->path = a->path;
	log_init(LOG_LEVEL_INFO);
	if (!a->test && supervise_worker_env(&d->worker, &d->nworkers,
	    &d->readyfd, &d->first, &d->npassed) == -1)
		return 1;
	if (d->worker >= 0) {
		snprintf(name, sizeof(name), "worker %d: ", d->worker);
		log_set_prefix(name);
		a->pidpath = NULL;
	}
	return 0;
}

/*
 * Loads the configuration and checks what -t checks: the file, the
 * listeners' protection, and the files of the tls and redis.tls groups (the
 * clients' TLS context is kept in d for later). Returns 0 or the exit
 * status, the error on standard error.
 */
static int
main_load(struct pubsubd *d, const struct main_args *a)
{
	struct ssl_ctx_st	*rtls = NULL;
	char			 err[1024];

	d->conf = a->path ? conf_load(a->path, err, sizeof(err)) :
	    conf_new_defaults();
	if (d->conf == NULL) {
		fprintf(stderr, "%s\n", a->path ? err : "out of memory");
		return CONF_EXIT_BAD;
	}
	if ((a->test && main_protected(d, d->conf, a->path, err,
	    sizeof(err)) == -1) ||
	    /* The TLS files are part of the configuration: -t checks them. */
	    (d->conf->tls.enabled && (d->tls = tls_ctx_new(&d->conf->tls,
	    a->path, err, sizeof(err))) == NULL) ||
	    /* And those of redis.tls (made again once they are kept). */
	    main_rtls(d, d->conf, a->path, &rtls, d->rtls_id, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		return CONF_EXIT_BAD;
	}
	tls_ctx_unref(rtls);
	return 0;
}

/*
 * What comes before the process serves or supervises: the pid file checked,
 * the log level, signals' dispositions, and the listening sockets systemd
 * passed (socket activation), or else the listeners' protection checked.
 * Returns 0 or the exit status.
 */
static int
main_prepare(struct pubsubd *d, const struct main_args *a)
{
	const char	*pidpath = a->pidpath;
	char		 err[1024];

	if (pidpath == NULL && d->worker < 0)
		pidpath = d->conf->pidfile;
	if (pidpath != NULL && ((d->pidfile = strdup(pidpath)) == NULL ||
	    pidfile_check(d->pidfile, err, sizeof(err)) == -1)) {
		fprintf(stderr, "%s\n", d->pidfile ? err : "out of memory");
		return 1;
	}
	log_set_level(d->conf->log_level);
	signal(SIGPIPE, SIG_IGN);
	srandom((unsigned int)(time(NULL) ^ getpid()));

	/* Socket activation: systemd's sockets replace the listen entries. */
	if (d->worker < 0 && (d->npassed = service_listen_fds(&d->first, err,
	    sizeof(err))) == -1) {
		log_warnx("%s", err);
		return 1;
	}
	d->activated = d->npassed > 0;
	if (!d->activated &&
	    main_protected(d, d->conf, d->path, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return CONF_EXIT_BAD;
	}
	return 0;
}

/*
 * The supervisor of workers > 1: writes the pid file and runs the workers,
 * which do the rest (and their own TLS). Returns the exit status.
 */
static int
main_supervise(struct pubsubd *d, char *argv[])
{
	char	err[1024];
	int	status;

	tls_ctx_unref(d->tls);
	d->tls = NULL;
	if (d->pidfile != NULL) {
		if (pidfile_write(d->pidfile, err, sizeof(err)) == -1) {
			log_warnx("%s", err);
			return 1;
		}
		d->pidfile_written = 1;
	}
	/* supervise_run() takes the configuration. */
	status = supervise_run(d->conf, d->path, argv, d->first, d->npassed);
	d->conf = NULL;
	return status;
}

/*
 * Makes this process' configuration its worker's, raises the open file
 * limit (one file must be left for a client), makes the TLS context for
 * Redis and applies the configuration to d's settings. Returns 0 or the
 * exit status.
 */
static int
main_settle(struct pubsubd *d)
{
	char	err[1024];

	main_worker_conf(d, d->conf);
	d->nofile = main_raise_nofile();
	if (d->nofile >= 0 && d->nofile < main_fd_reserve(d, d->conf) +
	    (d->conf->passthrough ? 2 : 1)) {
		log_warnx("the open file limit (%lld) leaves no room for a "
		    "client: raise LimitNOFILE= (or ulimit -n)", d->nofile);
		return 1;
	}
	if (main_rtls(d, d->conf, d->path, &d->rtls, d->rtls_id, err,
	    sizeof(err)) == -1) {
		/* The files changed since main_load() checked them. */
		log_warnx("%s", err);
		return CONF_EXIT_BAD;
	}
	main_apply(d, d->conf);
	return 0;
}

/*
 * The upstream of the master redis.sentinel names: its sentinels log in
 * with the sentinel group's own credentials and take redis.tls as Redis
 * does; the master logs in as redis.username/password say.
 */
static struct upstream *
main_sentinel_new(struct pubsubd *d, const struct upstream_cbs *cbs)
{
	const struct conf_sentinel	*cs = &d->conf->redis_sentinel;
	struct upstream_sentinel_conf	 sc;
	struct endpoint			*nodes;
	struct upstream			*up;
	size_t				 i;

	if ((nodes = calloc(cs->nnodes, sizeof(*nodes))) == NULL)
		return NULL;
	for (i = 0; i < cs->nnodes; i++) {
		nodes[i] = d->redis;
		nodes[i].path = NULL;
		nodes[i].host = cs->nodes[i].host;
		nodes[i].port = cs->nodes[i].port;
		nodes[i].username = cs->username;
		nodes[i].password = cs->password;
	}
	sc.master = cs->master;
	sc.nodes = nodes;
	sc.nnodes = cs->nnodes;
	up = upstream_sentinel_new(d->base, &d->upconf, &sc, cbs, d);
	free(nodes);
	return up;
}

/*
 * The upstream of the cluster redis.cluster's seeds belong to: every node
 * logs in as redis.username/password say, with redis.tls.
 */
static struct upstream *
main_cluster_new(struct pubsubd *d, const struct upstream_cbs *cbs)
{
	const struct conf_cluster	*cs = &d->conf->redis_cluster;
	struct upstream_cluster_conf	 cc;
	struct endpoint			*seeds;
	struct upstream			*up;
	size_t				 i;

	if ((seeds = calloc(cs->nnodes, sizeof(*seeds))) == NULL)
		return NULL;
	for (i = 0; i < cs->nnodes; i++) {
		seeds[i] = d->redis;
		seeds[i].path = NULL;
		seeds[i].host = cs->nodes[i].host;
		seeds[i].port = cs->nodes[i].port;
	}
	cc.seeds = seeds;
	cc.nseeds = cs->nnodes;
	up = upstream_cluster_new(d->base, &d->upconf, &cc, cbs, d);
	free(seeds);
	return up;
}

/*
 * Makes the event loop and wires what runs on it: the upstream (Redis), the
 * hub, the clients (who take the TLS context) and the service (systemd).
 */
static void
main_wire(struct pubsubd *d)
{
	static const struct upstream_cbs cbs = {
		main_on_message, main_on_state, main_on_lost
	};

	if ((d->base = event_base_new()) == NULL)
		fatalx("cannot make the event loop");
	if (d->conf->redis_cluster.nnodes > 0)
		d->up = main_cluster_new(d, &cbs);
	else if (d->conf->redis_sentinel.master != NULL)
		d->up = main_sentinel_new(d, &cbs);
	else
		d->up = upstream_single_new(d->base, &d->upconf, &cbs, d);
	if (d->up == NULL ||
	    (d->hub = hub_new(d->base, d->up)) == NULL ||
	    (d->clients = client_set_new(d->base, d->hub, d->up,
	    &d->cconf)) == NULL ||
	    (d->svc = service_new(d->base, main_status, d)) == NULL)
		fatalx("out of memory");
	if (d->readyfd != -1)
		service_set_ready_fd(d->svc, d->readyfd);
	client_set_tls(d->clients, d->tls);
	tls_ctx_unref(d->tls);
	d->tls = NULL;
}

/*
 * Listens: on the sockets systemd passed, or on the listen entries; and
 * serves metrics if they are enabled. Returns 0 or the exit status.
 */
static int
main_listen(struct pubsubd *d)
{
	char	err[1024];
	size_t	i;

	if (d->activated) {
		if (main_listen_passed(d, d->first) == -1)
			return 1;
		if (main_protected(d, d->conf, d->path, err,
		    sizeof(err)) == -1) {
			log_warnx("%s", err);
			return CONF_EXIT_BAD;
		}
	} else if ((d->listeners = calloc(d->conf->nlisten,
	    sizeof(*d->listeners))) == NULL)
		fatalx("out of memory");
	for (i = 0; !d->activated && i < d->conf->nlisten; i++) {
		d->listeners[i] = main_listener_new(d, &d->conf->listen[i],
		    err, sizeof(err));
		if (d->listeners[i] == NULL) {
			log_warnx("%s", err);
			return 1;
		}
		d->nlisteners++;
		log_notice("listening on %s%s", listener_name(d->listeners[i]),
		    d->conf->listen[i].tls ? " (TLS)" : "");
	}
	if (d->conf->tls.enabled && d->worker <= 0)
		tls_log_ktls(d->conf->tls.ktls);
	if (!d->conf->metrics.enabled)
		return 0;
	if ((d->metrics = main_metrics_new(d, d->conf, err,
	    sizeof(err))) == NULL) {
		log_warnx("%s", err);
		return 1;
	}
	log_notice("metrics on http://%s%s", metrics_name(d->metrics),
	    d->conf->metrics.path);
	return 0;
}

/* Handles SIGTERM, SIGINT and SIGHUP, and arms the heap trimming timer. */
static void
main_signals(struct pubsubd *d)
{
	struct timeval	 trim_tv = { MAIN_TRIM_SEC, 0 };

	d->sigterm_ev = evsignal_new(d->base, SIGTERM, main_signal_cb, d);
	d->sigint_ev = evsignal_new(d->base, SIGINT, main_signal_cb, d);
	d->sighup_ev = evsignal_new(d->base, SIGHUP, main_reload_cb, d);
	if (d->sigterm_ev == NULL || d->sigint_ev == NULL ||
	    d->sighup_ev == NULL || evsignal_add(d->sigterm_ev, NULL) == -1 ||
	    evsignal_add(d->sigint_ev, NULL) == -1 ||
	    evsignal_add(d->sighup_ev, NULL) == -1)
		fatalx("cannot handle signals");
	if (d->worker >= 0)
		supervise_worker_signals();
	d->trim_ev = event_new(d->base, -1, EV_PERSIST, main_trim_cb, d);
	if (d->trim_ev == NULL || evtimer_add(d->trim_ev, &trim_tv) == -1)
		fatalx("cannot make the heap trimming timer");
}

/*
 * Writes the pid file (checked at start, written once the listeners are
 * bound), tells systemd and the log, connects to Redis and runs the loop
 * until a signal stops it. Returns the exit status.
 */
static int
main_run(struct pubsubd *d)
{
	char	err[1024], name[ENDPOINT_NAME_MAX];

	if (d->pidfile != NULL) {
		if (pidfile_write(d->pidfile, err, sizeof(err)) == -1) {
			log_warnx("%s", err);
			return 1;
		}
		d->pidfile_written = 1;
	}
	log_notice("pubsubd %s started, redis at %s, maxclients %d",
	    PACKAGE_VERSION, main_redis_name(d, name, sizeof(name)),
	    d->cconf.maxclients);
	service_start(d->svc, d->conf->ready_timeout, name);
	upstream_start(d->up);
	event_base_dispatch(d->base);

	/* Stopping: a further signal must not cut the clean-up short. */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	return 0;
}

/*
 * The start-up, in steps that each return 0 or the status to exit with;
 * main_free() undoes whatever was made, however far it got.
 */
int
main(int argc, char *argv[])
{
	struct main_args a;
	struct pubsubd	 d;
	int		 status;

	if (argc == 2 && strcmp(argv[1], "--hash-password") == 0)
		return main_hash_password();
	if ((status = main_args(argc, argv, &a)) != -1)
		return status;
	if ((status = main_init(&d, &a)) != 0)
		return status;
	if ((status = main_load(&d, &a)) != 0)
		goto out;
	if (a.test) {
		printf("%s: configuration OK\n", a.path ? a.path : "(defaults)");
		goto out;
	}
	if ((status = main_prepare(&d, &a)) != 0)
		goto out;
	if (d.worker < 0 && d.conf->workers > 1) {
		status = main_supervise(&d, argv);
		goto out;
	}
	if ((status = main_settle(&d)) != 0)
		goto out;
	main_wire(&d);
	if ((status = main_listen(&d)) != 0)
		goto out;
	main_signals(&d);
	if ((status = main_run(&d)) != 0)
		goto out;
	main_free(&d);
	log_notice("stopped");
	log_set_syslog(0, 0, NULL);
	return 0;
out:
	main_free(&d);
	log_set_syslog(0, 0, NULL);
	return status;
}
