/*
 * conf_listen.c: the listen list of the configuration, where clients
 * connect: TCP addresses (host and port) and Unix sockets (path and mode),
 * each with its backlog, whether it speaks TLS, and its protocol (RESP, or
 * HTTP: WebSocket and Server-Sent Events); and the http group the web
 * listeners share. The entries replace the default address; each keeps
 * its line, for what is said of it later.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "conf_impl.h"
#include "ticket.h"

static int	conf_listen_unix(struct conf_ctx *, const config_setting_t *,
		    struct conf_listen *);
static int	conf_listen_protocol(struct conf_ctx *,
		    const config_setting_t *, struct conf_listen *);

static const char *const conf_listen_keys[] = {
	"host", "port", "path", "mode", "tls", "backlog", "protocol", NULL
};
static const char *const conf_http_keys[] = {
	"origins", "keepalive", "header_max", "request_timeout",
	"message_max", "message_rate", "page", "ticket_secret", NULL
};

/* Reads the listen list: ( { host = "..."; port = N; }, ... ). */
int
conf_listen(struct conf_ctx *ctx, struct conf *conf,
    const config_setting_t *s)
{
	const config_setting_t	*e;
	struct conf_listen	*l;
	size_t			 j;
	int			 n, i;

	if (!config_setting_is_list(s)) {
		conf_error(ctx, s, "'listen' must be a list ( { host = ...; "
		    "port = ...; }, ... )");
		return -1;
	}
	if ((n = config_setting_length(s)) == 0) {
		conf_error(ctx, s, "'listen' must name at least one address");
		return -1;
	}
	if ((l = calloc((size_t)n, sizeof(*l))) == NULL) {
		conf_error(ctx, s, "out of memory");
		return -1;
	}
	for (j = 0; j < conf->nlisten; j++) {
		free(conf->listen[j].host);
		free(conf->listen[j].path);
	}
	free(conf->listen);
	conf->listen = l;
	conf->nlisten = (size_t)n;
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, (unsigned int)i);
		if (!config_setting_is_group(e)) {
			conf_error(ctx, e, "each 'listen' entry must be a "
			    "group { host = ...; port = ...; }");
			return -1;
		}
		l[i].line = (unsigned int)config_setting_source_line(e);
		if (conf_check_keys(ctx, e, conf_listen_keys) == -1 ||
		    conf_bool(ctx, e, "tls", &l[i].tls) == -1)
			return -1;
		l[i].backlog = CONF_DEFAULT_LISTEN_BACKLOG;
		if (conf_int(ctx, e, "backlog", 1, CONF_LISTEN_BACKLOG_MAX,
		    &l[i].backlog) == -1 ||
		    conf_listen_protocol(ctx, e, &l[i]) == -1)
			return -1;
		if (config_setting_get_member(e, "path") != NULL) {
			if (conf_listen_unix(ctx, e, &l[i]) == -1)
				return -1;
			for (j = 0; j < (size_t)i; j++) {
				if (l[j].path == NULL ||
				    strcmp(l[j].path, l[i].path) != 0)
					continue;
				conf_error(ctx, config_setting_get_member(e,
				    "path"), "'path' \"%s\" is listed twice",
				    l[i].path);
				return -1;
			}
			continue;
		}
		if (config_setting_get_member(e, "mode") != NULL) {
			conf_error(ctx, config_setting_get_member(e, "mode"),
			    "'mode' is only for a Unix socket's 'path'");
			return -1;
		}
		if ((l[i].host = strdup(CONF_DEFAULT_LISTEN_HOST)) == NULL) {
			conf_error(ctx, e, "out of memory");
			return -1;
		}
		l[i].port = CONF_DEFAULT_LISTEN_PORT;
		if (conf_string(ctx, e, "host", &l[i].host) == -1 ||
		    conf_int(ctx, e, "port", 0, 65535, &l[i].port) == -1)
			return -1;
	}
	return 0;
}

/*
 * Reads a Unix socket listen entry e: { path = "..."; mode = "0660"; },
 * which must have neither host nor port.
 */
static int
conf_listen_unix(struct conf_ctx *ctx, const config_setting_t *e,
    struct conf_listen *l)
{
	if (config_setting_get_member(e, "host") != NULL ||
	    config_setting_get_member(e, "port") != NULL) {
		conf_error(ctx, config_setting_get_member(e, "path"),
		    "a 'listen' entry has either 'path' or 'host' and "
		    "'port', not both");
		return -1;
	}
	l->mode = CONF_DEFAULT_UNIX_MODE;
	if (conf_socket_path(ctx, e, "path", &l->path) == -1 ||
	    conf_mode(ctx, e, "mode", &l->mode) == -1)
		return -1;
	return 0;
}

/* Reads a listen entry's protocol: "resp" (the default) or "http". */
static int
conf_listen_protocol(struct conf_ctx *ctx, const config_setting_t *e,
    struct conf_listen *l)
{
	char	*p = NULL;

	if (conf_string(ctx, e, "protocol", &p) == -1)
		return -1;
	if (p == NULL || strcmp(p, "resp") == 0)
		l->http = 0;
	else if (strcmp(p, "http") == 0)
		l->http = 1;
	else {
		conf_error(ctx, config_setting_get_member(e, "protocol"),
		    "'protocol' is \"resp\" or \"http\", not \"%s\"", p);
		free(p);
		return -1;
	}
	free(p);
	return 0;
}

/*
 * Reads the http group: { origins = ( "https://example.com", ... );
 * keepalive = 15; header_max = 8192; request_timeout = 10000;
 * message_max = 1048576; message_rate = 1000; page = false;
 * ticket_secret = "..."; }.
 */
int
conf_http(struct conf_ctx *ctx, struct conf *conf, const config_setting_t *g)
{
	struct conf_http	*h = &conf->http;
	const config_setting_t	*list, *s;
	const char		*v;
	unsigned int		 i, n;

	if (conf_check_keys(ctx, g, conf_http_keys) == -1 ||
	    conf_int(ctx, g, "keepalive", 0, 3600, &h->keepalive) == -1 ||
	    conf_int(ctx, g, "header_max", 1024, 1048576,
	    &h->header_max) == -1 ||
	    conf_int(ctx, g, "request_timeout", 100, 3600000,
	    &h->request_timeout) == -1 ||
	    conf_int64(ctx, g, "message_max", 125, 536870912,
	    &h->message_max) == -1 ||
	    conf_int(ctx, g, "message_rate", 0, 10000000,
	    &h->message_rate) == -1 ||
	    conf_bool(ctx, g, "page", &h->page) == -1 ||
	    conf_string(ctx, g, "ticket_secret", &h->ticket_secret) == -1)
		return -1;
	if (h->ticket_secret != NULL &&
	    strlen(h->ticket_secret) < TICKET_SECRET_MIN) {
		conf_error(ctx, config_setting_get_member(g, "ticket_secret"),
		    "'ticket_secret' must be at least %d bytes (a random one: "
		    "openssl rand -hex 32)", TICKET_SECRET_MIN);
		return -1;
	}
	if ((list = config_setting_get_member(g, "origins")) == NULL)
		return 0;
	if (!config_setting_is_list(list) && !config_setting_is_array(list)) {
		conf_error(ctx, list, "'origins' must be a list ( \"https://"
		    "example.com\", ... )");
		return -1;
	}
	if ((n = (unsigned int)config_setting_length(list)) >
	    CONF_HTTP_ORIGINS_MAX) {
		conf_error(ctx, list, "'origins' lists more than %d",
		    CONF_HTTP_ORIGINS_MAX);
		return -1;
	}
	if ((h->origins = calloc(n + 1, sizeof(*h->origins))) == NULL) {
		conf_error(ctx, list, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		s = config_setting_get_elem(list, i);
		if (config_setting_type(s) != CONFIG_TYPE_STRING ||
		    *(v = config_setting_get_string(s)) == '\0' ||
		    strpbrk(v, " \t\r\n,") != NULL ||
		    (strcmp(v, "*") != 0 && strncmp(v, "http://", 7) != 0 &&
		    strncmp(v, "https://", 8) != 0)) {
			conf_error(ctx, s, "an origin is \"*\" or a string "
			    "\"http://host[:port]\" or \"https://host[:port]\"");
			return -1;
		}
		if (v[strlen(v) - 1] == '/') {
			conf_error(ctx, s, "origin \"%s\" ends in '/': an "
			    "Origin header never does", v);
			return -1;
		}
		if ((h->origins[i] = strdup(v)) == NULL) {
			conf_error(ctx, s, "out of memory");
			return -1;
		}
		h->norigins++;
	}
	return 0;
}
