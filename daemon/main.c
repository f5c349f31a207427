/*
 * main.c: pubsubd's command line, start-up, signals and shutdown.
 *
 * The daemon is one event_base and one context (struct pubsubd) that wires
 * the upstream (Redis), the hub (who is subscribed to what) and the clients
 * (served from the listeners). It runs in the foreground, as systemd
 * expects; SIGTERM and SIGINT stop it. It may write a pid file (-p, or
 * pidfile in the configuration) once its listeners are bound.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "client.h"
#include "conf.h"
#include "endpoint.h"
#include "future.h"
#include "hub.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "pidfile.h"
#include "upstream.h"

/* The daemon's one context; everything in it is owned. */
struct pubsubd {
	struct event_base	 *base;
	struct conf		 *conf;
	struct upstream		 *up;
	struct hub		 *hub;
	struct client_set	 *clients;
	struct client_conf	  cconf;
	struct upstream_conf	  upconf;
	struct endpoint		  redis;	/* its strings: conf's */
	struct listener		**listeners;
	size_t			  nlisteners;
	struct metrics		 *metrics;	/* owned, or NULL: disabled */
	struct event		 *sigterm_ev;
	struct event		 *sigint_ev;
	struct event		 *sighup_ev;
	const char		 *path;		/* borrowed: argv */
	char			 *pidfile;	/* owned, or NULL: none */
	int			  pidfile_written;
	struct event		 *stop_ev;
	int			  stopping;
};

static void	usage(FILE *, int) __attribute__((noreturn));
static void	main_on_message(void *, const struct upstream_msg *);
static void	main_on_state(void *, int);
static void	main_signal_cb(evutil_socket_t, short, void *);
static void	main_clients_gone(void *);
static void	main_reload_cb(evutil_socket_t, short, void *);
static void	main_apply(struct pubsubd *, const struct conf *);
static int	main_listen_same(const struct conf_listen *,
		    const struct conf_listen *);
static struct listener *main_listener_new(struct pubsubd *,
		    const struct conf_listen *, char *, size_t);
static void	main_stop_cb(evutil_socket_t, short, void *);
static struct future *main_up_subscribe(void *, enum upstream_kind,
		    const char *, size_t);
static struct future *main_up_unsubscribe(void *, enum upstream_kind,
		    const char *, size_t);
static int	main_up_connected(void *);
static void	main_free(struct pubsubd *);
static struct metrics *main_metrics_new(struct pubsubd *,
		    const struct conf *, char *, size_t);
static int	main_metrics_moved(const struct pubsubd *,
		    const struct conf *, const struct conf *);

static const struct hub_upstream main_hub_upstream = {
	main_up_subscribe, main_up_unsubscribe, main_up_connected
};

/* Prints how to call pubsubd to f and exits with status. */
static void
usage(FILE *f, int status)
{
	fprintf(f, "usage: pubsubd [-htv] [-c file] [-p pidfile]\n"
	    "  -c file  read the configuration from file "
	    "(default: built-in defaults)\n"
	    "  -p file  write the process id to file (instead of the "
	    "configuration's pidfile)\n"
	    "  -t       check the configuration and exit\n"
	    "  -v       print the version and exit\n"
	    "  -h       print this help and exit\n");
	exit(status);
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
	struct pubsubd	*d = arg;
#ifdef HAVE_LIBSYSTEMD
	char		 name[ENDPOINT_NAME_MAX];
#endif

	hub_upstream_state(d->hub, connected);
#ifdef HAVE_LIBSYSTEMD
	sd_notifyf(0, "STATUS=%s redis at %s", connected ? "connected to" :
	    "waiting for", endpoint_name(&d->redis, name, sizeof(name)));
#endif
}

/* The hub's view of the upstream. */
static struct future *
main_up_subscribe(void *up, enum upstream_kind kind, const char *name,
    size_t len)
{
	return upstream_subscribe(up, kind, name, len);
}

static struct future *
main_up_unsubscribe(void *up, enum upstream_kind kind, const char *name,
    size_t len)
{
	return upstream_unsubscribe(up, kind, name, len);
}

static int
main_up_connected(void *up)
{
	return upstream_connected(up);
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
#ifdef HAVE_LIBSYSTEMD
	sd_notify(0, "STOPPING=1");
#endif
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
static void
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
	d->cconf.passthrough = c->passthrough;
	d->cconf.redis = &d->redis;
	d->cconf.command_timeout = c->command_timeout;
	d->cconf.maxclients = c->limits.maxclients;
	d->cconf.output_hard = c->limits.output_hard;
	d->cconf.output_soft = c->limits.output_soft;
	d->cconf.output_soft_seconds = c->limits.output_soft_seconds;
	d->cconf.query_buffer = c->limits.query_buffer;
	d->cconf.multibulk_max = c->limits.multibulk_max;
	d->cconf.bulk_max = c->limits.bulk_max;
	d->cconf.max_subscriptions = c->limits.max_subscriptions;
	d->cconf.idle_timeout = c->limits.idle_timeout;
	d->cconf.tcp_keepalive = c->limits.tcp_keepalive;
	d->upconf.redis = d->redis;
	d->upconf.connect_timeout = c->connect_timeout;
	d->upconf.backoff_min = c->backoff_min;
	d->upconf.backoff_max = c->backoff_max;
	d->upconf.health_interval = c->health_interval;
}

/* Whether two listen entries are the same socket (a reload keeps it). */
static int
main_listen_same(const struct conf_listen *a, const struct conf_listen *b)
{
	if (a->path != NULL || b->path != NULL)
		return a->path != NULL && b->path != NULL &&
		    strcmp(a->path, b->path) == 0;
	/* Port 0 is a new free port each time: never the same. */
	return a->port != 0 && a->port == b->port &&
	    strcmp(a->host, b->host) == 0;
}

/* Opens the listener of one listen entry; NULL with err filled. */
static struct listener *
main_listener_new(struct pubsubd *d, const struct conf_listen *cl, char *err,
    size_t errlen)
{
	if (cl->path != NULL)
		return listener_new_unix(d->base, d->clients, cl->path,
		    cl->mode, err, errlen);
	return listener_new(d->base, d->clients, cl->host, cl->port, err,
	    errlen);
}

/* Opens the metrics endpoint of configuration c; NULL with err on failure. */
static struct metrics *
main_metrics_new(struct pubsubd *d, const struct conf *c, char *err,
    size_t errlen)
{
	struct metrics_src	src;

	src.clients = d->clients;
	src.hub = d->hub;
	src.up = d->up;
	return metrics_new(d->base, &src, c->metrics.host, c->metrics.port,
	    c->metrics.path, err, errlen);
}

/*
 * Whether a reload from old to nc needs a new metrics endpoint: it is
 * turned on, or its address changes (port 0 always asks for a new one).
 */
static int
main_metrics_moved(const struct pubsubd *d, const struct conf *old,
    const struct conf *nc)
{
	if (!nc->metrics.enabled)
		return 0;
	return d->metrics == NULL || nc->metrics.port == 0 ||
	    nc->metrics.port != old->metrics.port ||
	    strcmp(nc->metrics.host, old->metrics.host) != 0;
}

/*
 * SIGHUP: reads the file again. A file that does not load keeps the running
 * configuration (and says why); a good one is applied live: log level and
 * syslog, limits, passthrough, Redis' address, credentials and timings (a
 * new address or new credentials reconnect and resubscribe), the listeners,
 * TCP and Unix, and the metrics endpoint (new ones opened first: if one
 * cannot be, nothing changes). Connected clients stay. The pid file is only
 * read at start.
 */
static void
main_reload_cb(evutil_socket_t sig, short what, void *arg)
{
	struct pubsubd	 *d = arg;
	struct conf	 *nc, *old = d->conf;
	struct listener	**nl;
	struct metrics	 *nm = NULL;
	char		  err[1024];
	size_t		  i, j;
	int		 *kept;

#ifdef HAVE_LIBSYSTEMD
	sd_notify(0, "RELOADING=1");
#endif
	if (d->path == NULL || d->stopping) {
		log_notice("SIGHUP: %s", d->stopping ? "stopping, not "
		    "reloading" : "no configuration file to reload");
		goto done;
	}
	if ((nc = conf_load(d->path, err, sizeof(err))) == NULL) {
		log_warnx("reload failed, keeping the running configuration: "
		    "%s", err);
		goto done;
	}
	nl = calloc(nc->nlisten, sizeof(*nl));
	kept = calloc(old->nlisten + 1, sizeof(*kept));
	if (nl == NULL || kept == NULL) {
		log_warnx("reload failed: out of memory");
		goto fail;
	}
	for (j = 0; j < nc->nlisten; j++) {
		for (i = 0; i < old->nlisten && i < d->nlisteners; i++) {
			if (!kept[i] && main_listen_same(&old->listen[i],
			    &nc->listen[j])) {
				nl[j] = d->listeners[i];
				kept[i] = 1;
				break;
			}
		}
		if (nl[j] == NULL && (nl[j] = main_listener_new(d,
		    &nc->listen[j], err, sizeof(err))) == NULL) {
			log_warnx("reload failed, keeping the running "
			    "configuration: %s", err);
			goto fail;
		}
	}
	if (main_metrics_moved(d, old, nc) &&
	    (nm = main_metrics_new(d, nc, err, sizeof(err))) == NULL) {
		log_warnx("reload failed, keeping the running configuration: "
		    "%s", err);
		goto fail;
	}
	for (i = 0; i < d->nlisteners; i++) {
		if (!kept[i]) {
			log_notice("no longer listening on %s",
			    listener_name(d->listeners[i]));
			listener_free(d->listeners[i]);
		}
	}
	for (j = 0; j < nc->nlisten; j++) {
		for (i = 0; i < d->nlisteners; i++)
			if (kept[i] && nl[j] == d->listeners[i])
				break;
		if (i < d->nlisteners && nc->listen[j].path != NULL &&
		    nc->listen[j].mode != old->listen[i].mode &&
		    listener_chmod(nl[j], nc->listen[j].mode) == -1)
			log_warn("cannot set the mode of %s",
			    nc->listen[j].path);
	}
	for (j = 0; j < nc->nlisten; j++)
		if (nl[j] != NULL)
			log_notice("listening on %s", listener_name(nl[j]));
	free(d->listeners);
	free(kept);
	d->listeners = nl;
	d->nlisteners = nc->nlisten;
	if (nm != NULL) {
		if (d->metrics != NULL)
			log_notice("metrics no longer on %s",
			    metrics_name(d->metrics));
		metrics_free(d->metrics);
		d->metrics = nm;
		log_notice("metrics on http://%s%s", metrics_name(nm),
		    nc->metrics.path);
	} else if (!nc->metrics.enabled && d->metrics != NULL) {
		log_notice("metrics no longer on %s", metrics_name(d->metrics));
		metrics_free(d->metrics);
		d->metrics = NULL;
	} else if (d->metrics != NULL &&
	    strcmp(nc->metrics.path, old->metrics.path) != 0) {
		if (metrics_set_path(d->metrics, nc->metrics.path) == -1)
			log_warnx("reload: out of memory changing the metrics "
			    "path");
		else
			log_notice("metrics on http://%s%s",
			    metrics_name(d->metrics), nc->metrics.path);
	}
	if ((nc->pidfile == NULL) != (old->pidfile == NULL) ||
	    (nc->pidfile != NULL && strcmp(nc->pidfile, old->pidfile) != 0))
		log_notice("reload: a new 'pidfile' takes effect at the next "
		    "start");
	main_apply(d, nc);
	if (upstream_set_conf(d->up, &d->upconf) == -1)
		log_warnx("reload: out of memory changing the redis address");
	d->conf = nc;
	conf_free(old);
	log_notice("configuration reloaded from %s", d->path);
	goto done;
fail:
	/* Close the listeners this reload opened; keep the old ones. */
	for (j = 0; nl != NULL && j < nc->nlisten; j++) {
		for (i = 0; i < d->nlisteners; i++)
			if (nl[j] == d->listeners[i])
				break;
		if (nl[j] != NULL && i == d->nlisteners)
			listener_free(nl[j]);
	}
	free(nl);
	free(kept);
	metrics_free(nm);
	conf_free(nc);
done:
#ifdef HAVE_LIBSYSTEMD
	sd_notify(0, "READY=1");
#endif
	return;
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
	client_set_free(d->clients);
	upstream_free(d->up);
	hub_free(d->hub);
	if (d->sigterm_ev != NULL)
		event_free(d->sigterm_ev);
	if (d->sigint_ev != NULL)
		event_free(d->sigint_ev);
	if (d->stop_ev != NULL)
		event_free(d->stop_ev);
	if (d->sighup_ev != NULL)
		event_free(d->sighup_ev);
	if (d->base != NULL)
		event_base_free(d->base);
	conf_free(d->conf);
	if (d->pidfile_written)
		pidfile_remove(d->pidfile);
	free(d->pidfile);
}

int
main(int argc, char *argv[])
{
	static const struct upstream_cbs cbs = {
		main_on_message, main_on_state
	};
	struct pubsubd	 d;
	const char	*path = NULL, *pidpath = NULL;
	char		 err[1024], name[ENDPOINT_NAME_MAX];
	int		 ch, test = 0;
	size_t		 i;

	while ((ch = getopt(argc, argv, "c:hp:tv")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'p':
			pidpath = optarg;
			break;
		case 't':
			test = 1;
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

	memset(&d, 0, sizeof(d));
	log_init(LOG_LEVEL_INFO);
	d.conf = path ? conf_load(path, err, sizeof(err)) : conf_new_defaults();
	if (d.conf == NULL) {
		fprintf(stderr, "%s\n", path ? err : "out of memory");
		return CONF_EXIT_BAD;
	}
	if (test) {
		printf("%s: configuration OK\n", path ? path : "(defaults)");
		conf_free(d.conf);
		return 0;
	}
	if (pidpath == NULL)
		pidpath = d.conf->pidfile;
	if (pidpath != NULL && ((d.pidfile = strdup(pidpath)) == NULL ||
	    pidfile_check(d.pidfile, err, sizeof(err)) == -1)) {
		fprintf(stderr, "%s\n", d.pidfile ? err : "out of memory");
		free(d.pidfile);
		conf_free(d.conf);
		return 1;
	}
	log_set_level(d.conf->log_level);
	signal(SIGPIPE, SIG_IGN);
	srandom((unsigned int)(time(NULL) ^ getpid()));

	d.path = path;
	main_apply(&d, d.conf);
	if ((d.base = event_base_new()) == NULL)
		fatalx("cannot make the event loop");
	d.up = upstream_new(d.base, &d.upconf, &cbs, &d);
	if (d.up == NULL ||
	    (d.hub = hub_new(d.base, &main_hub_upstream, d.up)) == NULL ||
	    (d.clients = client_set_new(d.base, d.hub, d.up, &d.cconf)) == NULL)
		fatalx("out of memory");

	d.listeners = calloc(d.conf->nlisten, sizeof(*d.listeners));
	if (d.listeners == NULL)
		fatalx("out of memory");
	for (i = 0; i < d.conf->nlisten; i++) {
		d.listeners[i] = main_listener_new(&d, &d.conf->listen[i], err,
		    sizeof(err));
		if (d.listeners[i] == NULL) {
			log_warnx("%s", err);
			main_free(&d);
			return 1;
		}
		d.nlisteners++;
		log_notice("listening on %s", listener_name(d.listeners[i]));
	}
	if (d.conf->metrics.enabled) {
		if ((d.metrics = main_metrics_new(&d, d.conf, err,
		    sizeof(err))) == NULL) {
			log_warnx("%s", err);
			main_free(&d);
			return 1;
		}
		log_notice("metrics on http://%s%s", metrics_name(d.metrics),
		    d.conf->metrics.path);
	}

	d.sigterm_ev = evsignal_new(d.base, SIGTERM, main_signal_cb, &d);
	d.sigint_ev = evsignal_new(d.base, SIGINT, main_signal_cb, &d);
	d.sighup_ev = evsignal_new(d.base, SIGHUP, main_reload_cb, &d);
	if (d.sigterm_ev == NULL || d.sigint_ev == NULL ||
	    d.sighup_ev == NULL || evsignal_add(d.sigterm_ev, NULL) == -1 ||
	    evsignal_add(d.sigint_ev, NULL) == -1 ||
	    evsignal_add(d.sighup_ev, NULL) == -1)
		fatalx("cannot handle signals");

	if (d.pidfile != NULL) {
		/* Checked at start; written once the listeners are bound. */
		if (pidfile_write(d.pidfile, err, sizeof(err)) == -1) {
			log_warnx("%s", err);
			main_free(&d);
			return 1;
		}
		d.pidfile_written = 1;
	}
	log_notice("pubsubd %s started, redis at %s", PACKAGE_VERSION,
	    endpoint_name(&d.redis, name, sizeof(name)));
	upstream_start(d.up);
#ifdef HAVE_LIBSYSTEMD
	sd_notify(0, "READY=1");
#endif
	event_base_dispatch(d.base);

	/* Stopping: a further signal must not cut the clean-up short. */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	main_free(&d);
	log_notice("stopped");
	log_set_syslog(0, 0, NULL);
	return 0;
}
