/*
 * conf.c: the libconfig schema of pubsubd: the defaults, loading a file and
 * walking its top level, the groups of plain settings (redis, limits,
 * shutdown, metrics, systemd, log) and what one group asks of another.
 *
 * Every group has a list of the keys it knows; anything else is an error
 * with the line it is on, as is a value of the wrong type or out of range.
 * libconfig owns the strings it hands out until config_destroy(), so every
 * string kept is copied (conf_value.c reads them).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "acl.h"
#include "conf_impl.h"

static int	conf_redis(struct conf_ctx *, struct conf *,
		    const config_setting_t *);
static int	conf_log(struct conf_ctx *, struct conf *,
		    const config_setting_t *);
static int	conf_check_includes(const char *, FILE *, int, char *,
		    size_t);
static int	conf_workers(struct conf_ctx *, const struct conf *,
		    const config_setting_t *);
static int	conf_metrics(struct conf_ctx *, struct conf *,
		    const config_setting_t *);
static int	conf_load_file(struct conf_ctx *, config_t *);
static int	conf_limits(struct conf_ctx *, struct conf *,
		    const config_setting_t *);
static int	conf_check_listen_tls(struct conf_ctx *, const struct conf *,
		    const config_setting_t *);
static int	conf_walk(struct conf_ctx *, struct conf *,
		    const config_setting_t *);

static const char *const conf_root_keys[] = {
	"listen", "redis", "log", "passthrough", "limits", "shutdown",
	"pidfile", "metrics", "systemd", "workers", "users", "protected_mode",
	"tls", "http", NULL
};
static const char *const conf_redis_keys[] = {
	"host", "port", "path", "username", "password", "connect_timeout",
	"backoff_min", "backoff_max", "health_interval", "health_timeout",
	"command_timeout", "tls", "sentinel", "cluster",
	NULL
};
static const char *const conf_limits_keys[] = {
	"maxclients", "output_hard", "output_soft", "output_soft_seconds",
	"query_buffer", "multibulk_max", "bulk_max", "max_subscriptions",
	"idle_timeout", "tcp_keepalive", NULL
};
static const char *const conf_shutdown_keys[] = { "timeout", NULL };
static const char *const conf_log_keys[] = {
	"level", "syslog", "syslog_facility", "ident", NULL
};
static const char *const conf_metrics_keys[] = {
	"enabled", "host", "port", "path", NULL
};
static const char *const conf_systemd_keys[] = { "ready_timeout", NULL };
/* Returns a configuration holding the built-in defaults. */
struct conf *
conf_new_defaults(void)
{
	struct conf	*conf;

	if ((conf = calloc(1, sizeof(*conf))) == NULL)
		return NULL;
	conf->listen = calloc(1, sizeof(*conf->listen));
	conf->redis_host = strdup(CONF_DEFAULT_REDIS_HOST);
	conf->metrics.host = strdup(CONF_DEFAULT_METRICS_HOST);
	conf->metrics.path = strdup(CONF_DEFAULT_METRICS_PATH);
	if (conf->listen == NULL || conf->redis_host == NULL ||
	    conf->metrics.host == NULL || conf->metrics.path == NULL)
		goto fail;
	conf->nlisten = 1;
	conf->listen[0].port = CONF_DEFAULT_LISTEN_PORT;
	conf->listen[0].backlog = CONF_DEFAULT_LISTEN_BACKLOG;
	if ((conf->listen[0].host = strdup(CONF_DEFAULT_LISTEN_HOST)) == NULL)
		goto fail;
	conf->redis_port = CONF_DEFAULT_REDIS_PORT;
	conf->connect_timeout = 2000;
	conf->backoff_min = 100;
	conf->backoff_max = 5000;
	conf->health_interval = 1000;
	conf->health_timeout = 5000;
	conf->command_timeout = 5000;
	conf->limits.maxclients = 10000;
	conf->limits.output_hard = 32LL * 1024 * 1024;
	conf->limits.output_soft = 8LL * 1024 * 1024;
	conf->limits.output_soft_seconds = 60;
	conf->limits.query_buffer = 1024LL * 1024 * 1024;
	conf->limits.multibulk_max = INT_MAX;
	conf->limits.bulk_max = 512LL * 1024 * 1024;
	conf->limits.max_subscriptions = 0;
	conf->limits.idle_timeout = 0;
	conf->limits.tcp_keepalive = 300;
	conf->shutdown_timeout = 5000;
	conf->workers = 1;
	conf->ready_timeout = 10000;
	conf->log_level = LOG_LEVEL_INFO;
	conf->protected_mode = 1;
	if ((conf->acl = acl_new_open()) == NULL)
		goto fail;
	conf->tls.min_version = 12;
	conf->tls.handshake_timeout = CONF_DEFAULT_TLS_HANDSHAKE_TIMEOUT;
	conf->tls.ktls = 1;
	conf->redis_tls.verify = 1;
	conf->redis_tls.min_version = 12;
	conf->metrics.port = CONF_DEFAULT_METRICS_PORT;
	conf->http.keepalive = 15;
	conf->http.header_max = 8192;
	conf->http.request_timeout = 10000;
	conf->http.message_max = 1048576;
	conf->http.message_rate = 1000;
	conf->log_facility = log_syslog_facility_parse(
	    CONF_DEFAULT_SYSLOG_FACILITY);
	if ((conf->log_ident = strdup(CONF_DEFAULT_SYSLOG_IDENT)) == NULL)
		goto fail;
	return conf;
fail:
	conf_free(conf);
	return NULL;
}

/* Frees a configuration. */
void
conf_free(struct conf *conf)
{
	size_t	i;

	if (conf == NULL)
		return;
	for (i = 0; i < conf->nlisten; i++) {
		free(conf->listen[i].host);
		free(conf->listen[i].path);
	}
	free(conf->listen);
	free(conf->redis_host);
	free(conf->metrics.host);
	free(conf->metrics.path);
	free(conf->redis_path);
	conf_sentinel_clear(&conf->redis_sentinel);
	conf_cluster_clear(&conf->redis_cluster);
	free(conf->redis_username);
	if (conf->redis_password != NULL) {
		/* Not left in freed memory for a core dump to show. */
		explicit_bzero(conf->redis_password,
		    strlen(conf->redis_password));
		free(conf->redis_password);
	}
	free(conf->log_ident);
	free(conf->pidfile);
	for (i = 0; i < conf->http.norigins; i++)
		free(conf->http.origins[i]);
	free(conf->http.origins);
	if (conf->http.ticket_secret != NULL) {
		explicit_bzero(conf->http.ticket_secret,
		    strlen(conf->http.ticket_secret));
		free(conf->http.ticket_secret);
	}
	acl_free(conf->acl);
	free(conf->tls.cert);
	free(conf->tls.key);
	free(conf->tls.ca);
	free(conf->tls.ciphers);
	free(conf->tls.ciphersuites);
	free(conf->redis_tls.ca);
	free(conf->redis_tls.cert);
	free(conf->redis_tls.key);
	free(conf->redis_tls.server_name);
	free(conf);
}

/* Reads the redis group. */
static int
conf_redis(struct conf_ctx *ctx, struct conf *conf, const config_setting_t *g)
{
	const config_setting_t	*s;

	if (conf_check_keys(ctx, g, conf_redis_keys) == -1)
		return -1;
	if (conf_string(ctx, g, "host", &conf->redis_host) == -1 ||
	    conf_int(ctx, g, "port", 1, 65535, &conf->redis_port) == -1 ||
	    conf_socket_path(ctx, g, "path", &conf->redis_path) == -1 ||
	    conf_string(ctx, g, "username", &conf->redis_username) == -1 ||
	    conf_string(ctx, g, "password", &conf->redis_password) == -1 ||
	    conf_int(ctx, g, "connect_timeout", 10, 3600000,
	    &conf->connect_timeout) == -1 ||
	    conf_int(ctx, g, "backoff_min", 1, 3600000,
	    &conf->backoff_min) == -1 ||
	    conf_int(ctx, g, "backoff_max", 1, 3600000,
	    &conf->backoff_max) == -1 ||
	    conf_int(ctx, g, "health_interval", 0, 3600000,
	    &conf->health_interval) == -1 ||
	    conf_int(ctx, g, "health_timeout", 10, 3600000,
	    &conf->health_timeout) == -1 ||
	    conf_int(ctx, g, "command_timeout", 10, 3600000,
	    &conf->command_timeout) == -1)
		return -1;
	if (conf->backoff_max < conf->backoff_min) {
		s = config_setting_get_member(g, "backoff_max");
		conf_error(ctx, s != NULL ? s : g, "'backoff_max' must not be "
		    "below 'backoff_min' (%d)", conf->backoff_min);
		return -1;
	}
	if (conf->health_interval > 0 &&
	    conf->health_timeout < conf->health_interval) {
		s = config_setting_get_member(g, "health_timeout");
		conf_error(ctx, s != NULL ? s : g, "'health_timeout' (%d) must "
		    "not be below 'health_interval' (%d)",
		    conf->health_timeout, conf->health_interval);
		return -1;
	}
	if (conf->redis_path != NULL &&
	    (config_setting_get_member(g, "host") != NULL ||
	    config_setting_get_member(g, "port") != NULL)) {
		conf_error(ctx, config_setting_get_member(g, "path"),
		    "'redis' has either 'path' or 'host' and 'port', not both");
		return -1;
	}
	if (conf_group(ctx, g, "sentinel", &s) == -1)
		return -1;
	if (s != NULL) {
		if (config_setting_get_member(g, "host") != NULL ||
		    config_setting_get_member(g, "port") != NULL ||
		    config_setting_get_member(g, "path") != NULL) {
			conf_error(ctx, s, "'redis' has either 'sentinel' or "
			    "'host', 'port' and 'path': the sentinels say "
			    "where the master is");
			return -1;
		}
		if (conf_sentinel(ctx, conf, s) == -1)
			return -1;
	}
	if (conf_group(ctx, g, "cluster", &s) == -1)
		return -1;
	if (s != NULL) {
		if (config_setting_get_member(g, "host") != NULL ||
		    config_setting_get_member(g, "port") != NULL ||
		    config_setting_get_member(g, "path") != NULL ||
		    config_setting_get_member(g, "sentinel") != NULL) {
			conf_error(ctx, s, "'redis' has either 'cluster' or "
			    "'host', 'port', 'path' and 'sentinel': the "
			    "cluster's slot map says where each node is");
			return -1;
		}
		if (conf_cluster(ctx, conf, s) == -1)
			return -1;
	}
#ifndef HAVE_HIREDIS_SSL
	/* Whatever its form, not a group only. */
	if ((s = config_setting_get_member(g, "tls")) != NULL)
		return conf_redis_tls(ctx, conf, s);
#endif
	if (conf_group(ctx, g, "tls", &s) == -1 ||
	    (s != NULL && conf_redis_tls(ctx, conf, s) == -1))
		return -1;
	if (conf->redis_tls.enabled && conf->redis_path != NULL) {
		conf_error(ctx, config_setting_get_member(g, "tls"),
		    "'tls' in 'redis' is for 'host' and 'port': Redis serves "
		    "no TLS on a Unix socket 'path'");
		return -1;
	}
	if (conf->redis_username != NULL && conf->redis_password == NULL) {
		conf_error(ctx, config_setting_get_member(g, "username"),
		    "'username' needs a 'password'");
		return -1;
	}
	return 0;
}

/* Reads the log group. */
static int
conf_log(struct conf_ctx *ctx, struct conf *conf, const config_setting_t *g)
{
	char	*level = NULL, *facility = NULL;
	int	 v, rc = -1;

	if (conf_check_keys(ctx, g, conf_log_keys) == -1 ||
	    conf_string(ctx, g, "level", &level) == -1 ||
	    conf_bool(ctx, g, "syslog", &conf->log_syslog) == -1 ||
	    conf_string(ctx, g, "syslog_facility", &facility) == -1 ||
	    conf_string(ctx, g, "ident", &conf->log_ident) == -1)
		goto out;
	if (level != NULL) {
		if ((v = log_level_parse(level)) == -1) {
			conf_error(ctx, config_setting_get_member(g, "level"),
			    "'level' must be one of error, warning, notice, "
			    "info, debug; not '%s'", level);
			goto out;
		}
		conf->log_level = (enum log_level)v;
	}
	if (facility != NULL) {
		if ((v = log_syslog_facility_parse(facility)) == -1) {
			conf_error(ctx, config_setting_get_member(g,
			    "syslog_facility"), "'syslog_facility' must be one "
			    "of %s; not '%s'", LOG_FACILITY_NAMES, facility);
			goto out;
		}
		conf->log_facility = v;
	}
	if (strlen(conf->log_ident) >= LOG_IDENT_MAX) {
		conf_error(ctx, config_setting_get_member(g, "ident"),
		    "'ident' must be shorter than %d bytes", LOG_IDENT_MAX);
		goto out;
	}
	rc = 0;
out:
	free(level);
	free(facility);
	return rc;
}

/*
 * Reads the metrics group. The path is matched byte for byte against the
 * request's (not decoded), so it may hold only what needs no escaping.
 */
static int
conf_metrics(struct conf_ctx *ctx, struct conf *conf,
    const config_setting_t *g)
{
	const config_setting_t	*s;
	const char		*p;
	size_t			 i;

	if (conf_check_keys(ctx, g, conf_metrics_keys) == -1 ||
	    conf_bool(ctx, g, "enabled", &conf->metrics.enabled) == -1 ||
	    conf_string(ctx, g, "host", &conf->metrics.host) == -1 ||
	    conf_int(ctx, g, "port", 0, 65535, &conf->metrics.port) == -1 ||
	    conf_string(ctx, g, "path", &conf->metrics.path) == -1)
		return -1;
	p = conf->metrics.path;
	if ((s = config_setting_get_member(g, "path")) != NULL) {
		if (p[0] != '/' || strlen(p) > 256) {
			conf_error(ctx, s, "'path' must start with '/' and be "
			    "at most 256 bytes");
			return -1;
		}
		for (i = 0; p[i] != '\0'; i++) {
			if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
			    "qrstuvwxyz0123456789/-._~", p[i]) == NULL) {
				conf_error(ctx, s, "'path' may hold only "
				    "letters, digits and / - . _ ~");
				return -1;
			}
		}
	}
	if (!conf->metrics.enabled || conf->metrics.port == 0)
		return 0;
	for (i = 0; i < conf->nlisten; i++) {
		/* A Unix socket entry has a path, no host: no clash. */
		if (conf->listen[i].host == NULL)
			continue;
		if (conf->listen[i].port == conf->metrics.port &&
		    strcmp(conf->listen[i].host, conf->metrics.host) == 0) {
			s = config_setting_get_member(g, "port");
			conf_error(ctx, s != NULL ? s : g, "metrics' %s:%d is "
			    "also a listen address", conf->metrics.host,
			    conf->metrics.port);
			return -1;
		}
	}
	return 0;
}

/*
 * Checks that every @include of the file open as f (and of what it
 * includes, up to a depth) names a regular, readable file: libconfig 1.5's
 * scanner exits the whole process on one it cannot read (a directory),
 * which would end a running daemon on a reload. Rewinds f. Returns 0, or
 * -1 with "FILE:LINE: message" in err.
 */
static int
conf_check_includes(const char *path, FILE *f, int depth, char *err,
    size_t errlen)
{
	struct stat	 st;
	char		 line[4096], inc[4096], *p, *q;
	unsigned int	 n = 0;
	FILE		*g;
	int		 rc = 0;

	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		n++;
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		if (strncmp(p, "@include", 8) != 0)
			continue;
		if ((p = strchr(p, '"')) == NULL ||
		    (q = strchr(p + 1, '"')) == NULL)
			continue;	/* libconfig reports the syntax */
		*q = '\0';
		/* libconfig 1.5 takes a relative include from the cwd. */
		snprintf(inc, sizeof(inc), "%s", p + 1);
		if (depth >= 10) {
			snprintf(err, errlen, "%s:%u: includes nested too "
			    "deep", path, n);
			rc = -1;
		} else if (stat(inc, &st) == -1 || !S_ISREG(st.st_mode) ||
		    (g = fopen(inc, "r")) == NULL) {
			snprintf(err, errlen, "%s:%u: cannot include '%s': %s",
			    path, n, inc, errno != 0 && !S_ISDIR(st.st_mode) ?
			    strerror(errno) : "not a regular file");
			rc = -1;
		} else {
			rc = conf_check_includes(inc, g, depth + 1, err,
			    errlen);
			fclose(g);
		}
		errno = 0;
	}
	rewind(f);
	return rc;
}

/*
 * What `workers` above 1 asks of the rest: every worker binds the same TCP
 * addresses (SO_REUSEPORT), so none may be port 0 (each worker would get a
 * different free port); worker i serves metrics on metrics.port + i, so
 * that range must fit and miss the listen ports.
 */
static int
conf_workers(struct conf_ctx *ctx, const struct conf *conf,
    const config_setting_t *root)
{
	const config_setting_t	*ls, *ms;
	size_t			 i;
	int			 n = conf->workers, mp = conf->metrics.port;

	if (n == 1)
		return 0;
	ls = config_setting_get_member(root, "listen");
	ms = config_setting_get_member(root, "metrics");
	for (i = 0; i < conf->nlisten; i++) {
		if (conf->listen[i].host == NULL || conf->listen[i].port != 0)
			continue;
		conf_error(ctx, ls != NULL ? config_setting_get_elem(ls,
		    (unsigned int)i) : root, "'port' 0 (any free port) cannot "
		    "be shared by %d workers: give a port", n);
		return -1;
	}
	if (!conf->metrics.enabled || mp == 0)
		return 0;
	if (ms != NULL && config_setting_get_member(ms, "port") != NULL)
		ms = config_setting_get_member(ms, "port");
	if (mp + n - 1 > 65535) {
		conf_error(ctx, ms != NULL ? ms : root, "metrics 'port' %d + "
		    "%d workers passes 65535 (worker i serves port + i)", mp,
		    n);
		return -1;
	}
	for (i = 0; i < conf->nlisten; i++) {
		if (conf->listen[i].host == NULL ||
		    conf->listen[i].port < mp ||
		    conf->listen[i].port > mp + n - 1 ||
		    strcmp(conf->listen[i].host, conf->metrics.host) != 0)
			continue;
		conf_error(ctx, ms != NULL ? ms : root, "metrics ports %d to "
		    "%d (one per worker) include the listen port %d", mp,
		    mp + n - 1, conf->listen[i].port);
		return -1;
	}
	return 0;
}

/*
 * Opens ctx's file and reads it into cfg, once conf_check_includes() has
 * found nothing that would make libconfig exit. Returns 0, or -1 with the
 * error in ctx (a read error is "FILE: message", the rest "FILE:LINE: ...").
 */
static int
conf_load_file(struct conf_ctx *ctx, config_t *cfg)
{
	FILE		*f;
	struct stat	 st;

	/* libconfig's scanner exit()s on a read error, as a directory gives. */
	if ((f = fopen(ctx->path, "r")) != NULL &&
	    fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(f);
		f = NULL;
		errno = EISDIR;
	}
	if (f == NULL) {
		snprintf(ctx->err, ctx->errlen, "%s: cannot read: %s",
		    ctx->path, strerror(errno));
		goto fail;
	}
	if (conf_check_includes(ctx->path, f, 0, ctx->err,
	    ctx->errlen) == -1)
		goto fail;
	if (config_read(cfg, f) != CONFIG_TRUE) {
		snprintf(ctx->err, ctx->errlen, "%s:%d: %s",
		    config_error_file(cfg) ? config_error_file(cfg) :
		    ctx->path, config_error_line(cfg), config_error_text(cfg));
		goto fail;
	}
	fclose(f);
	return 0;
fail:
	ctx->failed = 1;
	if (f != NULL)
		fclose(f);
	return -1;
}

/* Reads the limits group g. */
static int
conf_limits(struct conf_ctx *ctx, struct conf *conf,
    const config_setting_t *g)
{
	struct conf_limits	*l = &conf->limits;

	if (conf_check_keys(ctx, g, conf_limits_keys) == -1 ||
	    conf_int(ctx, g, "maxclients", 1, 10000000,
	    &l->maxclients) == -1 ||
	    conf_int64(ctx, g, "output_hard", 0, LLONG_MAX,
	    &l->output_hard) == -1 ||
	    conf_int64(ctx, g, "output_soft", 0, LLONG_MAX,
	    &l->output_soft) == -1 ||
	    conf_int(ctx, g, "output_soft_seconds", 0, 86400,
	    &l->output_soft_seconds) == -1 ||
	    conf_int64(ctx, g, "query_buffer", 1024, LLONG_MAX,
	    &l->query_buffer) == -1 ||
	    conf_int64(ctx, g, "multibulk_max", 1, INT_MAX,
	    &l->multibulk_max) == -1 ||
	    conf_int64(ctx, g, "bulk_max", 1, LLONG_MAX,
	    &l->bulk_max) == -1 ||
	    conf_int(ctx, g, "max_subscriptions", 0, INT_MAX,
	    &l->max_subscriptions) == -1 ||
	    conf_int(ctx, g, "idle_timeout", 0, 31536000,
	    &l->idle_timeout) == -1 ||
	    conf_int(ctx, g, "tcp_keepalive", 0, 86400,
	    &l->tcp_keepalive) == -1)
		return -1;
	return 0;
}

/* Fails on a listen entry with 'tls = true' when there is no tls group. */
static int
conf_check_listen_tls(struct conf_ctx *ctx, const struct conf *conf,
    const config_setting_t *root)
{
	const config_setting_t	*s;
	size_t			 i;

	for (i = 0; i < conf->nlisten; i++) {
		if (!conf->listen[i].tls || conf->tls.enabled)
			continue;
		s = config_setting_get_elem(config_setting_get_member(root,
		    "listen"), (unsigned int)i);
		conf_error(ctx, config_setting_get_member(s, "tls"),
		    "a 'listen' entry with 'tls = true' needs a 'tls' group "
		    "(certificate and private_key)");
		return -1;
	}
	return 0;
}

/*
 * Reads the settings under root into conf, group by group, in the order
 * that decides which error a file with several is told of, then checks
 * what one group asks of another.
 */
static int
conf_walk(struct conf_ctx *ctx, struct conf *conf,
    const config_setting_t *root)
{
	const config_setting_t	*s, *g;

	if (conf_check_keys(ctx, root, conf_root_keys) == -1)
		return -1;
	if ((s = config_setting_get_member(root, "listen")) != NULL &&
	    conf_listen(ctx, conf, s) == -1)
		return -1;
	if (conf_bool(ctx, root, "passthrough", &conf->passthrough) == -1 ||
	    conf_bool(ctx, root, "protected_mode",
	    &conf->protected_mode) == -1 ||
	    conf_string(ctx, root, "pidfile", &conf->pidfile) == -1 ||
	    conf_int(ctx, root, "workers", 1, CONF_WORKERS_MAX,
	    &conf->workers) == -1)
		return -1;
	if (conf_group(ctx, root, "redis", &g) == -1 ||
	    (g != NULL && conf_redis(ctx, conf, g) == -1))
		return -1;
	if (conf->passthrough && conf->redis_cluster.nnodes > 0) {
		conf_error(ctx, config_setting_get_member(root, "passthrough"),
		    "'passthrough' is not served with 'redis.cluster': a "
		    "command's keys may live on any node; talk to the "
		    "cluster directly for those commands");
		return -1;
	}
	if (conf_group(ctx, root, "limits", &g) == -1 ||
	    (g != NULL && conf_limits(ctx, conf, g) == -1))
		return -1;
	if (conf_group(ctx, root, "shutdown", &g) == -1 ||
	    (g != NULL && (conf_check_keys(ctx, g, conf_shutdown_keys) == -1 ||
	    conf_int(ctx, g, "timeout", 0, 3600000,
	    &conf->shutdown_timeout) == -1)))
		return -1;
	if (conf_group(ctx, root, "metrics", &g) == -1 ||
	    (g != NULL && conf_metrics(ctx, conf, g) == -1))
		return -1;
	if (conf_group(ctx, root, "systemd", &g) == -1 ||
	    (g != NULL && (conf_check_keys(ctx, g, conf_systemd_keys) == -1 ||
	    conf_int(ctx, g, "ready_timeout", 0, 3600000,
	    &conf->ready_timeout) == -1)))
		return -1;
	if (conf_group(ctx, root, "log", &g) == -1 ||
	    (g != NULL && conf_log(ctx, conf, g) == -1))
		return -1;
	if (conf_workers(ctx, conf, root) == -1)
		return -1;
	if ((s = config_setting_get_member(root, "users")) != NULL &&
	    conf_users(ctx, conf, s) == -1)
		return -1;
	if (conf_group(ctx, root, "tls", &g) == -1 ||
	    (g != NULL && conf_tls(ctx, conf, g) == -1))
		return -1;
	if (conf_group(ctx, root, "http", &g) == -1 ||
	    (g != NULL && conf_http(ctx, conf, g) == -1))
		return -1;
	return conf_check_listen_tls(ctx, conf, root);
}

/* Reads and validates a configuration file. */
struct conf *
conf_load(const char *path, char *err, size_t errlen)
{
	struct conf_ctx		 ctx = { path, err, errlen, 0 };
	config_t		 cfg;
	struct conf		*conf;

	if ((conf = conf_new_defaults()) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	config_init(&cfg);
	/* Whether either step failed is ctx.failed's to say. */
	if (conf_load_file(&ctx, &cfg) == 0)
		(void)conf_walk(&ctx, conf, config_root_setting(&cfg));
	config_destroy(&cfg);
	if (ctx.failed) {
		conf_free(conf);
		return NULL;
	}
	return conf;
}
