/*
 * main_reload.c: SIGHUP, the configuration reloaded while pubsubd serves.
 *
 * A new configuration is loaded and checked whole before anything changes;
 * then its settings apply, the listeners and the metrics endpoint are
 * reopened where their addresses changed (new ones opened first, so that a
 * reload that cannot bind leaves everything as it was), and the TLS
 * contexts are made again from their files. Connected clients stay.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "client.h"
#include "conf.h"
#include "listener.h"
#include "log.h"
#include "main_impl.h"
#include "metrics.h"
#include "service.h"
#include "tls.h"
#include "upstream.h"

static int	main_listen_same(const struct conf_listen *,
		    const struct conf_listen *);
static int	main_redis_moved(const struct conf *, const struct conf *);
static int	main_metrics_moved(const struct pubsubd *,
		    const struct conf *, const struct conf *);
static int	main_relisten(struct pubsubd *, const struct conf *);
static void	main_remetrics(struct pubsubd *, const struct conf *,
		    struct metrics *);

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

/* Whether a reload from old to nc moves Redis to another address. */
static int
main_redis_moved(const struct conf *old, const struct conf *nc)
{
	if ((old->redis_path == NULL) != (nc->redis_path == NULL))
		return 1;
	if (old->redis_path != NULL)
		return strcmp(old->redis_path, nc->redis_path) != 0;
	return old->redis_port != nc->redis_port ||
	    strcmp(old->redis_host, nc->redis_host) != 0;
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
 * Makes the listeners of a new configuration, TCP and Unix: keeps the ones
 * whose address did not change (a kept one takes its new backlog, a kept
 * Unix socket its new mode), opens the new ones first, and only when all of them are open closes the
 * ones no longer wanted (removing their socket files). Returns 0, or -1
 * (logged) with nothing changed.
 */
static int
main_relisten(struct pubsubd *d, const struct conf *nc)
{
	const struct conf	 *old = d->conf;
	struct listener		**nl;
	char			  err[1024];
	size_t			  i, j;
	int			 *kept;

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
		if (i < d->nlisteners) {
			listener_set_tls(nl[j], nc->listen[j].tls);
			listener_set_http(nl[j], nc->listen[j].http);
		}
		if (i < d->nlisteners && nc->listen[j].path != NULL &&
		    nc->listen[j].mode != old->listen[i].mode &&
		    listener_chmod(nl[j], nc->listen[j].mode) == -1)
			log_warn("cannot set the mode of %s",
			    nc->listen[j].path);
		if (i < d->nlisteners &&
		    nc->listen[j].backlog != old->listen[i].backlog &&
		    listener_set_backlog(nl[j], nc->listen[j].backlog) == -1)
			log_warn("cannot set the backlog of %s",
			    listener_name(nl[j]));
	}
	for (j = 0; j < nc->nlisten; j++)
		if (nl[j] != NULL)
			log_notice("listening on %s%s", listener_name(nl[j]),
			    listener_tls(nl[j]) ? " (TLS)" : "");
	free(d->listeners);
	free(kept);
	d->listeners = nl;
	d->nlisteners = nc->nlisten;
	return 0;
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
	return -1;
}

/*
 * Applies the metrics endpoint of a reloaded configuration nc: nm (owned
 * from here on) is the new endpoint already open when it moved or was
 * turned on (main_metrics_moved()), else NULL; turned off, it closes; a
 * new path alone is set in place.
 */
static void
main_remetrics(struct pubsubd *d, const struct conf *nc, struct metrics *nm)
{
	const struct conf	*old = d->conf;

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
}

/*
 * SIGHUP: reads the file again. A file that does not load keeps the running
 * configuration (and says why); a good one is applied live: log level and
 * syslog, limits, passthrough, Redis' address, credentials and timings (a
 * new address or new credentials reconnect and resubscribe; redis.sentinel
 * is fixed at start, and a file that changes it is refused), the listeners,
 * TCP and Unix, and the metrics endpoint (new ones opened first: if one
 * cannot be, nothing changes; with sockets from systemd, those stay, never
 * closed before pubsubd stops, and `listen` is ignored). Connected clients
 * stay. The pid file is only read at start. systemd hears RELOADING=1,
 * then READY=1 whatever the outcome.
 */
void
main_reload_cb(evutil_socket_t sig, short what, void *arg)
{
	struct pubsubd	 *d = arg;
	struct conf	 *nc, *old = d->conf;
	struct metrics	 *nm = NULL;
	struct ssl_ctx_st *ntls = NULL, *nrtls = NULL;
	unsigned char	  nrtls_id[TLS_ID_LEN];
	char		  err[1024];

	service_reloading(d->svc);
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
	main_worker_conf(d, nc);
	/* The upstream's kind and its sentinels are fixed at start. */
	if (!conf_sentinel_same(&old->redis_sentinel, &nc->redis_sentinel)) {
		log_warnx("reload failed, keeping the running configuration: "
		    "%s: 'redis.sentinel' (or its absence) cannot change on a "
		    "reload; restart pubsubd for it", d->path);
		conf_free(nc);
		goto done;
	}
	if (!conf_cluster_same(&old->redis_cluster, &nc->redis_cluster)) {
		log_warnx("reload failed, keeping the running configuration: "
		    "%s: 'redis.cluster' (or its absence) cannot change on a "
		    "reload; restart pubsubd for it", d->path);
		conf_free(nc);
		goto done;
	}
	if (main_protected(d, nc, d->path, err, sizeof(err)) == -1) {
		log_warnx("reload failed, keeping the running configuration: "
		    "%s", err);
		conf_free(nc);
		goto done;
	}
	/*
	 * The TLS files are read again (a renewed certificate is the usual
	 * reason for a reload); one that does not load keeps everything.
	 */
	if (nc->tls.enabled && (ntls = tls_ctx_new(&nc->tls, d->path, err,
	    sizeof(err))) == NULL) {
		log_warnx("reload failed, keeping the running configuration: "
		    "%s", err);
		conf_free(nc);
		goto done;
	}
	/* So are those of redis.tls: new ones reconnect to Redis. */
	if (main_rtls(d, nc, d->path, &nrtls, nrtls_id, err,
	    sizeof(err)) == -1) {
		log_warnx("reload failed, keeping the running configuration: "
		    "%s", err);
		tls_ctx_unref(ntls);
		conf_free(nc);
		goto done;
	}
	/* Everything new is opened before anything old is closed. */
	if (main_metrics_moved(d, old, nc) &&
	    (nm = main_metrics_new(d, nc, err, sizeof(err))) == NULL) {
		log_warnx("reload failed, keeping the running configuration: "
		    "%s", err);
		tls_ctx_unref(nrtls);
		tls_ctx_unref(ntls);
		conf_free(nc);
		goto done;
	}
	if (d->activated)
		log_info("reload: the listen addresses are ignored: serving "
		    "the sockets systemd passed");
	else if (main_relisten(d, nc) == -1) {
		metrics_free(nm);
		tls_ctx_unref(nrtls);
		tls_ctx_unref(ntls);
		conf_free(nc);
		goto done;
	}
	/* New TLS clients get the new context; connected ones keep theirs. */
	client_set_tls(d->clients, ntls);
	tls_ctx_unref(ntls);
	main_remetrics(d, nc, nm);
	/* Connections made from the old one keep it while they last. */
	tls_ctx_unref(d->rtls);
	d->rtls = nrtls;
	memcpy(d->rtls_id, nrtls_id, sizeof(d->rtls_id));
	if ((nc->pidfile == NULL) != (old->pidfile == NULL) ||
	    (nc->pidfile != NULL && strcmp(nc->pidfile, old->pidfile) != 0))
		log_notice("reload: a new 'pidfile' takes effect at the next "
		    "start");
	main_apply(d, nc);
	/* While the old users still exist: clients move to the new ones. */
	client_set_users_changed(d->clients);
	if (upstream_set_conf(d->up, &d->upconf) == -1)
		log_warnx("reload: out of memory changing the redis address");
	else if (main_redis_moved(old, nc))
		client_set_redis_moved(d->clients);
	d->conf = nc;
	conf_free(old);
	log_notice("configuration reloaded from %s", d->path);
done:
	service_reloaded(d->svc);
}
