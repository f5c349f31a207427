/*
 * client_web.c: the clients of a web listener (protocol = "http"): an
 * HTTP request, Server-Sent Events, and the upgrade to a WebSocket (whose
 * frames are client_ws.c's).
 *
 * The connection is a client like a RESP one (client.c: its socket, reads,
 * writes, limits, closing); what differs is what its session is fed and
 * what reaches the wire. The request head is read whole (http.c) within
 * http.request_timeout, then routed:
 *
 *   GET /sse?channel=a&pattern=b.*&shard=c    Server-Sent Events
 *   GET /ws (Upgrade: websocket)              a WebSocket
 *   GET /                                     the built-in page (http.page)
 *
 * A stream's names become the session's requests (SUBSCRIBE of every
 * channel, PSUBSCRIBE of every pattern, SSUBSCRIBE of each shard channel),
 * served by command.c as any client's, with the same permissions, limits
 * and counts. Their RESP replies are read here (hiredis' reader) instead of
 * being written: once every name is confirmed by Redis the response head
 * goes out, then the messages that arrived meanwhile (held, by reference),
 * then the stream; a refusal is the status it stands for (401 NOAUTH, 403
 * NOPERM, 503 Redis unreachable, else 400) with Redis' error as the text.
 * Messages come from the hub already encoded as events (HUB_FORM_SSE,
 * hub_batch.c), once per batch for every stream, and are written as any
 * client's are. A comment every http.keepalive seconds keeps proxies from
 * closing an idle stream. Whatever a stream's client sends afterwards is
 * read and dropped; its end of input closes the stream.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <http_parser.h>

#include "client_impl.h"
#include "hub.h"
#include "http.h"
#include "acl.h"
#include "log.h"
#include "ticket.h"
#include "web_page.h"

/* The most names one stream may ask for. */
#define CLIENT_WEB_NAMES_MAX	1024

enum client_web_state {
	CLIENT_WEB_HEAD = 0,	/* reading the request head */
	CLIENT_WEB_SUBSCRIBING,	/* its names asked for, not all confirmed */
	CLIENT_WEB_STREAMING,	/* the response head sent: events */
	CLIENT_WEB_WS,		/* upgraded: a WebSocket (w_ws) */
	CLIENT_WEB_DONE		/* answered; closing */
};

/* One request the session is fed. */
struct client_web_req {
	int		 r_argc;
	char		**r_argv;	/* owned, each NUL-terminated */
	size_t		*r_argvlen;	/* owned */
};

/*
 * A web client's own state. Owned by its client's cold part (cc_web),
 * freed by client_web_free().
 */
struct client_web {
	enum client_web_state	 w_state;
	struct event		*w_timer;	/* owned: the head's deadline */
	struct client_web_req	*w_reqs;	/* owned: w_nreqs */
	int			 w_nreqs;
	int			 w_next;	/* the next to feed */
	int			 w_expect;	/* confirmations to come */
	redisReader		*w_reader;	/* owned: the replies */
	struct evbuffer		*w_held;	/* owned: messages before the
						   response head */
	char			*w_origin;	/* owned: to allow, or NULL */
	long long		 w_keepalive_ms; /* the next comment's time */
	struct client_ws	*w_ws;		/* owned: a WebSocket's state */
};

static void	client_web_timeout_cb(evutil_socket_t, short, void *);
static void	client_web_refuse(struct client *, int, const char *,
		    enum session_web_refusal);

/* The web state of c (a CLIENT_WEB client). */
static struct client_web *
client_web_of(struct client *c)
{
	return c->c_cold->cc_web;
}

/*
 * Web and WebSocket state is kept in pools (pool.h): it lasts as long as
 * the connection, and malloc would put it among the short-lived memory of
 * each handshake, whose pages then could not be returned.
 */
void
client_web_pools(struct client_set *set)
{
	pool_init(&set->s_web_pool, sizeof(struct client_web));
	pool_init(&set->s_ws_pool, client_ws_size());
}

/* Starts a web client: its state, and the deadline of its head. */
int
client_web_start(struct client *c)
{
	const struct session_conf	*conf = client_set_of(c)->s_env.se_conf;
	struct client_cold		*cold;
	struct client_web		*w;
	struct timeval			 tv;

	if ((cold = client_cold(c)) == NULL ||
	    (w = pool_get(&client_set_of(c)->s_web_pool)) == NULL)
		return -1;
	cold->cc_web = w;
	c->c_flags |= CLIENT_WEB;
	client_set_of(c)->s_env.se_stats.web_connected++;
	tv.tv_sec = conf->http_request_timeout / 1000;
	tv.tv_usec = (conf->http_request_timeout % 1000) * 1000;
	if ((w->w_timer = evtimer_new(client_set_of(c)->s_env.se_base,
	    client_web_timeout_cb, c)) == NULL ||
	    evtimer_add(w->w_timer, &tv) == -1)
		return -1;
	return 0;
}

/* Frees what a web client holds (c's teardown). */
void
client_web_free(struct client *c)
{
	struct client_web	*w;
	int			 i, k;

	if (c->c_cold == NULL || (w = c->c_cold->cc_web) == NULL)
		return;
	if (w->w_state == CLIENT_WEB_STREAMING)
		client_set_of(c)->s_env.se_stats.sse_connected--;
	if (w->w_state == CLIENT_WEB_WS)
		client_set_of(c)->s_env.se_stats.ws_connected--;
	client_ws_free(w->w_ws);
	client_set_of(c)->s_env.se_stats.web_connected--;
	if (w->w_timer != NULL)
		event_free(w->w_timer);
	for (i = 0; i < w->w_nreqs; i++) {
		for (k = 0; k < w->w_reqs[i].r_argc; k++)
			free(w->w_reqs[i].r_argv[k]);
		free(w->w_reqs[i].r_argv);
		free(w->w_reqs[i].r_argvlen);
	}
	free(w->w_reqs);
	if (w->w_reader != NULL)
		redisReaderFree(w->w_reader);
	if (w->w_held != NULL)
		evbuffer_free(w->w_held);
	free(w->w_origin);
	pool_put(&client_set_of(c)->s_web_pool, w);
	c->c_cold->cc_web = NULL;
}

/* The head did not come in time. */
static void
client_web_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client	*c = arg;

	(void)fd;
	(void)what;
	if (client_web_of(c)->w_state == CLIENT_WEB_HEAD)
		client_web_refuse(c, 408, "no whole request in time",
		    SESSION_WEB_TIMEOUT);
}

/*
 * Answers with a status and a line of text, and closes once it is sent.
 * Counted under why.
 */
static void
client_web_refuse(struct client *c, int code, const char *text,
    enum session_web_refusal why)
{
	struct client_web	*w = client_web_of(c);
	struct evbuffer		*out;
	char			 extra[512] = "";

	if (w->w_state == CLIENT_WEB_DONE)
		return;
	w->w_state = CLIENT_WEB_DONE;
	client_set_of(c)->s_env.se_stats.web_refused[why]++;
	log_info("client %llu: HTTP %d: %s",
	    (unsigned long long)session_id(c->c_session), code, text);
	if (code == 405)
		snprintf(extra, sizeof(extra), "Allow: GET\r\n");
	else if (w->w_origin != NULL)
		snprintf(extra, sizeof(extra), "Access-Control-Allow-Origin: "
		    "%.400s\r\nVary: Origin\r\n", w->w_origin);
	if ((out = session_output_make(c->c_session)) == NULL ||
	    http_respond(out, code, text, extra) == -1) {
		client_close(c, 0, SESSION_END_INTERNAL);
		return;
	}
	client_close(c, 1, SESSION_END_PROTOCOL);
}

/*
 * Whether the request's Origin may subscribe: no Origin (not a browser, or
 * a same-origin request that did not send one), one of http.origins ("*":
 * any), or, with none configured, the request's own Host.
 */
static int
client_web_origin_ok(const struct session_conf *conf,
    const struct http_head *h)
{
	const char	*o = h->origin, *rest;
	size_t		 i;

	if (o == NULL)
		return 1;
	for (i = 0; i < conf->http_norigins; i++)
		if (strcmp(conf->http_origins[i], "*") == 0 ||
		    strcasecmp(conf->http_origins[i], o) == 0)
			return 1;
	if (conf->http_norigins > 0 || h->host == NULL)
		return 0;
	if (strncasecmp(o, "http://", 7) == 0)
		rest = o + 7;
	else if (strncasecmp(o, "https://", 8) == 0)
		rest = o + 8;
	else
		return 0;
	return strcasecmp(rest, h->host) == 0;
}

/* Adds a request of argc words (the first a command name) to w. */
static struct client_web_req *
client_web_req_new(struct client_web *w, const char *cmd)
{
	struct client_web_req	*r;

	if ((r = reallocarray(w->w_reqs, (size_t)w->w_nreqs + 1,
	    sizeof(*r))) == NULL)
		return NULL;
	w->w_reqs = r;
	r = &w->w_reqs[w->w_nreqs];
	memset(r, 0, sizeof(*r));
	if ((r->r_argv = calloc(1, sizeof(*r->r_argv))) == NULL ||
	    (r->r_argvlen = calloc(1, sizeof(*r->r_argvlen))) == NULL ||
	    (r->r_argv[0] = strdup(cmd)) == NULL) {
		free(r->r_argv);
		free(r->r_argvlen);
		return NULL;
	}
	r->r_argvlen[0] = strlen(cmd);
	r->r_argc = 1;
	w->w_nreqs++;
	return r;
}

/* Appends a word to r; takes v. */
static int
client_web_req_add(struct client_web_req *r, char *v, size_t len)
{
	char	**argv;
	size_t	 *argvlen;

	if ((argv = reallocarray(r->r_argv, (size_t)r->r_argc + 1,
	    sizeof(*argv))) == NULL)
		return -1;
	r->r_argv = argv;
	if ((argvlen = reallocarray(r->r_argvlen, (size_t)r->r_argc + 1,
	    sizeof(*argvlen))) == NULL)
		return -1;
	r->r_argvlen = argvlen;
	argv[r->r_argc] = v;
	argvlen[r->r_argc++] = len;
	return 0;
}

/*
 * Logs the stream in with its ticket (ticket.h); 0, or -1 with the client
 * answered: 401 for a ticket that is not good (the same for every reason:
 * nothing is told of which users exist), 403 for a user at its
 * max_connections.
 */
static int
client_web_ticket(struct client *c, const char *ticket, size_t len)
{
	struct client_set		*set = client_set_of(c);
	const struct session_conf	*conf = set->s_env.se_conf;
	struct acl_user			*u = NULL;
	char				 name[256];
	enum ticket_check		 t = TICKET_MALFORMED;

	if (conf->http_ticket_secret != NULL)
		t = ticket_check(conf->http_ticket_secret, ticket, len,
		    time(NULL), name, sizeof(name));
	if (t == TICKET_OK && ((u = acl_find(conf->acl, name,
	    strlen(name))) == NULL || !acl_user_enabled(u)))
		t = TICKET_FORGED;
	if (t != TICKET_OK) {
		set->s_env.se_stats.auth_failures++;
		client_web_refuse(c, 401, conf->http_ticket_secret == NULL ?
		    "tickets are off here (no http.ticket_secret)" :
		    t == TICKET_EXPIRED ? "the ticket has expired" :
		    "the ticket is not valid", SESSION_WEB_DENIED);
		return -1;
	}
	if (!acl_user_has_room(u)) {
		client_web_refuse(c, 403, "max number of connections of the "
		    "user reached", SESSION_WEB_DENIED);
		return -1;
	}
	session_set_user(c->c_session, u);
	return 0;
}

/*
 * Turns an SSE request's query into the session's requests; 0, or -1 with
 * the client answered (400) or closed (out of memory).
 */
static int
client_web_sse_names(struct client *c, const char *query)
{
	struct client_web	*w = client_web_of(c);
	struct client_web_req	*r;
	const char		*q = query;
	char			*k, *v, *ticket = NULL, text[160];
	size_t			 klen, vlen, ticketlen = 0;
	int			 n, names = 0, ichan = -1, ipat = -1, *idx;

	while ((n = http_query_next(&q, &k, &klen, &v, &vlen)) == 1) {
		idx = NULL;
		if (strcmp(k, "channel") == 0)
			idx = &ichan;
		else if (strcmp(k, "pattern") == 0)
			idx = &ipat;
		else if (strcmp(k, "ticket") == 0) {
			free(k);
			free(ticket);
			ticket = v;
			ticketlen = vlen;
			continue;
		} else if (strcmp(k, "shard") != 0) {
			snprintf(text, sizeof(text), "unknown parameter "
			    "'%.40s' (channel, pattern, shard, ticket)", k);
			goto bad;
		}
		if (vlen == 0) {
			snprintf(text, sizeof(text), "'%.40s' names nothing",
			    k);
			goto bad;
		}
		if (++names > CLIENT_WEB_NAMES_MAX) {
			snprintf(text, sizeof(text), "more than %d names",
			    CLIENT_WEB_NAMES_MAX);
			goto bad;
		}
		/* Shard channels one each: two slots' are one error. */
		if (idx == NULL || *idx == -1) {
			if ((r = client_web_req_new(w, idx == NULL ?
			    "SSUBSCRIBE" : idx == &ichan ? "SUBSCRIBE" :
			    "PSUBSCRIBE")) == NULL)
				goto nomem;
			if (idx != NULL)
				*idx = w->w_nreqs - 1;
		} else
			r = &w->w_reqs[*idx];
		if (client_web_req_add(r, v, vlen) == -1)
			goto nomem;
		free(k);
	}
	if (n == -2 || n == -1)
		free(ticket);
	if (n == -2) {
		client_close(c, 0, SESSION_END_INTERNAL);
		return -1;
	}
	if (n == -1) {
		client_web_refuse(c, 400, "a malformed %-escape in the query",
		    SESSION_WEB_MALFORMED);
		return -1;
	}
	if (names == 0) {
		free(ticket);
		client_web_refuse(c, 400, "name at least one channel=, "
		    "pattern= or shard=", SESSION_WEB_MALFORMED);
		return -1;
	}
	w->w_expect = names;
	n = ticket != NULL ? client_web_ticket(c, ticket, ticketlen) : 0;
	free(ticket);
	return n;
bad:
	free(ticket);
	free(k);
	free(v);
	client_web_refuse(c, 400, text, SESSION_WEB_MALFORMED);
	return -1;
nomem:
	free(ticket);
	free(k);
	free(v);
	client_close(c, 0, SESSION_END_INTERNAL);
	return -1;
}

/* Answers with the built-in page, and closes. */
static void
client_web_page(struct client *c)
{
	struct client_web	*w = client_web_of(c);
	struct evbuffer		*out;

	w->w_state = CLIENT_WEB_DONE;
	if ((out = session_output_make(c->c_session)) == NULL ||
	    http_respond_static(out, "text/html; charset=utf-8",
	    web_page_html, web_page_len, "Content-Security-Policy: "
	    "default-src 'none'; script-src 'unsafe-inline'; style-src "
	    "'unsafe-inline'; connect-src 'self'\r\n") == -1) {
		client_close(c, 0, SESSION_END_INTERNAL);
		return;
	}
	client_close(c, 1, SESSION_END_EOF);
}

/* Routes a whole request head: an SSE stream, or a refusal. */
static void
client_web_route(struct client *c, struct http_head *h)
{
	struct client_set	*set = client_set_of(c);
	struct client_web	*w = client_web_of(c);
	char			 text[300];

	const char		*why;
	int			 code, ws;

	set->s_env.se_stats.web_requests++;
	event_free(w->w_timer);
	w->w_timer = NULL;
	if (h->origin != NULL && (w->w_origin = strdup(h->origin)) == NULL) {
		client_close(c, 0, SESSION_END_INTERNAL);
		return;
	}
	ws = strcmp(h->path, "/ws") == 0;
	if (set->s_env.se_conf->http_page && strcmp(h->path, "/") == 0 &&
	    h->method == HTTP_GET) {
		client_web_page(c);
		return;
	}
	if (!ws && strcmp(h->path, "/sse") != 0) {
		snprintf(text, sizeof(text), "nothing at %.200s (GET /sse?"
		    "channel=..., GET /ws)", h->path);
		client_web_refuse(c, 404, text, SESSION_WEB_NOT_FOUND);
		return;
	}
	if (h->method != HTTP_GET) {
		snprintf(text, sizeof(text), "%s is not served at %s: GET",
		    http_method_name(h->method), h->path);
		client_web_refuse(c, 405, text, SESSION_WEB_NOT_FOUND);
		return;
	}
	if (!client_web_origin_ok(set->s_env.se_conf, h)) {
		log_notice("client %llu: origin '%.200s' refused (see "
		    "http.origins)", (unsigned long long)session_id(
		    c->c_session), h->origin);
		free(w->w_origin);
		w->w_origin = NULL;
		snprintf(text, sizeof(text), "origin '%.200s' is not allowed",
		    h->origin);
		client_web_refuse(c, 403, text, SESSION_WEB_ORIGIN);
		return;
	}
	if (ws) {
		if (client_ws_upgrade(c, h, &w->w_ws, &code, &why) == -1) {
			client_web_refuse(c, code, why, code == 500 ?
			    SESSION_WEB_UNAVAILABLE : SESSION_WEB_MALFORMED);
			return;
		}
		w->w_state = CLIENT_WEB_WS;
		free(w->w_origin);	/* told only to refused streams */
		w->w_origin = NULL;
		set->s_env.se_stats.ws_connected++;
		set->s_env.se_stats.ws_accepted++;
		client_queue_write(c);
		return;
	}
	if (client_web_sse_names(c, h->query) == -1)
		return;
	if ((w->w_reader = redisReaderCreate()) == NULL) {
		client_close(c, 0, SESSION_END_INTERNAL);
		return;
	}
	session_set_form(c->c_session, HUB_FORM_SSE);
	w->w_state = CLIENT_WEB_SUBSCRIBING;
}

/* The session's next request (session_io.next) for a web client. */
int
client_web_next(struct client *c, struct resp_req *req, enum resp_status *st,
    int *eof, const char **error)
{
	struct client_web	*w = client_web_of(c);
	struct http_head	 h;
	const char		*why;
	int			 code;

	*st = RESP_NEED_MORE;
	*eof = 0;
	memset(req, 0, sizeof(*req));
	if (w->w_state == CLIENT_WEB_HEAD && c->c_in != NULL) {
		switch (http_head_read(c->c_in, (size_t)client_set_of(c)->
		    s_env.se_conf->http_header_max, &h, &code, &why)) {
		case HTTP_READ_MORE:
			break;
		case HTTP_READ_BAD:
			client_web_refuse(c, code, why, code == 431 ?
			    SESSION_WEB_TOO_LARGE : SESSION_WEB_MALFORMED);
			return 0;
		case HTTP_READ_DONE:
			client_web_route(c, &h);
			http_head_clear(&h);
			break;
		}
	}
	if (w->w_state == CLIENT_WEB_WS)
		return client_ws_next(w->w_ws, req, st, eof, error);
	if (w->w_state == CLIENT_WEB_SUBSCRIBING && w->w_next < w->w_nreqs) {
		req->argc = w->w_reqs[w->w_next].r_argc;
		req->argv = (const char **)w->w_reqs[w->w_next].r_argv;
		req->argvlen = w->w_reqs[w->w_next].r_argvlen;
		w->w_next++;
		*st = RESP_REQUEST;
		return 0;
	}
	/* Nothing more is asked of a stream: its input is dropped. */
	if (w->w_state != CLIENT_WEB_HEAD && c->c_in != NULL) {
		evbuffer_free(c->c_in);
		c->c_in = NULL;
	}
	if ((c->c_flags & CLIENT_EOF) && w->w_state != CLIENT_WEB_DONE)
		*eof = 1;
	return 0;
}

/* Every name is confirmed: the response head, what was held, the stream. */
static void
client_web_stream(struct client *c)
{
	struct client_set	*set = client_set_of(c);
	struct client_web	*w = client_web_of(c);
	struct evbuffer		*out;

	if ((out = session_output_make(c->c_session)) == NULL ||
	    evbuffer_add_printf(out, "HTTP/1.1 200 OK\r\n"
	    "Content-Type: text/event-stream; charset=utf-8\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Accel-Buffering: no\r\n"
	    "%s%.400s%s"
	    "\r\n"
	    "retry: 1000\n\n", w->w_origin != NULL ?
	    "Access-Control-Allow-Origin: " : "", w->w_origin != NULL ?
	    w->w_origin : "", w->w_origin != NULL ? "\r\nVary: Origin\r\n" :
	    "") < 0 || (w->w_held != NULL &&
	    evbuffer_add_buffer(out, w->w_held) == -1)) {
		client_close(c, 0, SESSION_END_INTERNAL);
		return;
	}
	if (w->w_held != NULL) {
		evbuffer_free(w->w_held);
		w->w_held = NULL;
	}
	redisReaderFree(w->w_reader);
	w->w_reader = NULL;
	w->w_state = CLIENT_WEB_STREAMING;
	w->w_keepalive_ms = session_now_ms() +
	    set->s_env.se_conf->http_keepalive * 1000LL;
	set->s_env.se_stats.sse_connected++;
	set->s_env.se_stats.sse_accepted++;
	log_debug("client %llu: streaming", (unsigned long long)session_id(
	    c->c_session));
}

/* The status a refusal of Redis or of pubsubd stands for. */
static int
client_web_status(const char *err, enum session_web_refusal *why)
{
	*why = SESSION_WEB_DENIED;
	if (strncmp(err, "NOAUTH", 6) == 0)
		return 401;
	if (strncmp(err, "NOPERM", 6) == 0)
		return 403;
	*why = SESSION_WEB_UNAVAILABLE;
	if (strstr(err, "upstream") != NULL || strstr(err, "not connected") !=
	    NULL || strstr(err, "redis") != NULL)
		return 503;
	*why = SESSION_WEB_MALFORMED;
	return 400;
}

/*
 * The session queued replies (session_io.queue_write): while a stream is
 * being set up they are read here, not written. Returns 1 if they were
 * taken so, 0 if they are to be written as they are.
 */
int
client_web_replies(struct client *c)
{
	struct client_web	*w = client_web_of(c);
	struct evbuffer		*out = session_output(c->c_session);
	enum session_web_refusal why;
	redisReply		*r;
	const char		*p;
	void			*reply;
	size_t			 len;
	int			 code;

	if (w->w_state == CLIENT_WEB_WS) {
		if (client_ws_replies(w->w_ws) == -1) {
			client_close(c, 0, SESSION_END_INTERNAL);
			return 1;
		}
		session_output_done(c->c_session);
		return 0;
	}
	if (w->w_state != CLIENT_WEB_SUBSCRIBING)
		return w->w_state == CLIENT_WEB_HEAD;
	if (c->c_flags & CLIENT_CLOSING) {
		/* Stopping before the stream began: no bytes of RESP out. */
		if (out != NULL)
			evbuffer_drain(out, evbuffer_get_length(out));
		return 1;
	}
	if (out != NULL && (len = evbuffer_get_length(out)) > 0) {
		if ((p = (const char *)evbuffer_pullup(out, -1)) == NULL ||
		    redisReaderFeed(w->w_reader, p, len) != REDIS_OK) {
			client_close(c, 0, SESSION_END_INTERNAL);
			return 1;
		}
		evbuffer_drain(out, len);
	}
	for (;;) {
		reply = NULL;
		if (redisReaderGetReply(w->w_reader, &reply) != REDIS_OK) {
			client_close(c, 0, SESSION_END_INTERNAL);
			return 1;
		}
		if ((r = reply) == NULL)
			break;
		if (r->type == REDIS_REPLY_ERROR) {
			code = client_web_status(r->str, &why);
			client_web_refuse(c, code, r->str, why);
			freeReplyObject(r);
			return 1;
		}
		if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
		    r->element[0]->type == REDIS_REPLY_STRING &&
		    strstr(r->element[0]->str, "subscribe") != NULL)
			w->w_expect--;
		freeReplyObject(r);
	}
	if (w->w_expect <= 0 && w->w_next >= w->w_nreqs) {
		client_web_stream(c);
		return 0;	/* written now, as a stream's */
	}
	return 1;
}

/*
 * Messages for a stream whose response head is not out yet: held, by
 * reference, behind it. Returns 1 if taken so, 0 if they are to be
 * written as any client's.
 */
int
client_web_hold(struct client *c, struct hub_batch *batch,
    const struct iovec *iov, int iovcnt)
{
	struct client_web	*w = client_web_of(c);

	if (w->w_state == CLIENT_WEB_STREAMING || w->w_state == CLIENT_WEB_WS)
		return 0;
	if (w->w_state != CLIENT_WEB_SUBSCRIBING)
		return 1;		/* answered: no stream */
	if ((w->w_held == NULL && (w->w_held = evbuffer_new()) == NULL) ||
	    session_add_pieces(w->w_held, batch, iov, iovcnt, 0) == -1)
		client_close(c, 0, SESSION_END_INTERNAL);
	return 1;
}

/* Bytes a web client holds besides its session's output. */
size_t
client_web_pending(const struct client *c)
{
	const struct client_web	*w = c->c_cold->cc_web;

	if (w == NULL)
		return 0;
	if (w->w_ws != NULL)
		return client_ws_pending(w->w_ws);
	return w->w_held != NULL ? evbuffer_get_length(w->w_held) : 0;
}

/* A WebSocket client's state, or NULL (not upgraded). */
struct client_ws *
client_web_ws(struct client *c)
{
	struct client_web	*w = c->c_cold != NULL ? c->c_cold->cc_web :
				    NULL;

	return w != NULL ? w->w_ws : NULL;
}

/* Once a second: each stream whose time has come gets a comment. */
void
client_web_keepalive(struct client_set *set, long long now)
{
	const struct session_conf	*conf = set->s_env.se_conf;
	struct session			*s;
	struct client			*c;
	struct client_web		*w;
	struct evbuffer			*out;

	if (conf->http_keepalive <= 0 || set->s_env.se_stats.sse_connected ==
	    0)
		return;
	for (s = session_env_first(&set->s_env); s != NULL;
	    s = session_next(s)) {
		c = session_arg(s);
		if (!(c->c_flags & CLIENT_WEB) || (c->c_flags &
		    (CLIENT_CLOSING | CLIENT_DEAD)) ||
		    (w = c->c_cold->cc_web) == NULL ||
		    w->w_state != CLIENT_WEB_STREAMING ||
		    now < w->w_keepalive_ms)
			continue;
		w->w_keepalive_ms = now + conf->http_keepalive * 1000LL;
		if ((out = session_output_make(s)) == NULL ||
		    evbuffer_add(out, ":\n\n", 3) == -1) {
			client_close(c, 0, SESSION_END_INTERNAL);
			continue;
		}
		client_queue_write(c);
		client_check_output(c);
	}
}
