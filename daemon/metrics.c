/*
 * metrics.c: the Prometheus endpoint, on libevent's evhttp.
 *
 * The socket is bound with evconnlistener (as listener.c binds the clients'
 * ones, so that errors name the address and errno) and handed to evhttp,
 * which owns it from then on. Every request goes to one callback: the
 * configured path answers GET and HEAD with the exposition, /live and
 * /ready with the health checks, another method gets 405, another path
 * 404. evhttp bounds what a peer can make it hold:
 * headers, body and an idle timeout.
 *
 * The exposition is built at each scrape from the counters the modules keep
 * (session_stats, hub_stats, upstream_stats) and a few figures read then (the
 * process's memory, the clients' pending output): the message path pays
 * nothing for it but the plain increments it already makes.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "client.h"
#include "endpoint.h"
#include "hub.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "procmem.h"
#include "upstream.h"

#define METRICS_TIMEOUT_SEC	10	/* an idle HTTP connection is closed */
#define METRICS_MAX_HEADERS	8192	/* bytes of request headers */
#define METRICS_MAX_BODY	4096	/* bytes of request body */
#define METRICS_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

struct metrics {
	struct evhttp		*m_http;	/* owned; owns the socket */
	struct metrics_src	 m_src;
	char			*m_path;	/* owned */
	int			 m_port;
	char			 m_name[INET6_ADDRSTRLEN + 16];
};

static void	metrics_request_cb(struct evhttp_request *, void *);
static int	metrics_ready(const struct metrics_src *, char *, size_t);
static void	metrics_health(struct evhttp_request *, const char *,
		    const struct metrics_src *);
static void	metrics_reply(struct evhttp_request *, int, const char *,
		    const char *);
static void	metrics_head(struct evbuffer *, const char *, const char *,
		    const char *);
static void	metrics_u64(struct evbuffer *, const char *, const char *,
		    uint64_t);
static void	metrics_one(struct evbuffer *, const char *, const char *,
		    const char *, uint64_t);
static void	metrics_two(struct evbuffer *, const char *, const char *,
		    const char *, uint64_t, const char *, uint64_t);
static void	metrics_seconds(struct evbuffer *, const char *, const char *,
		    uint64_t);
static void	metrics_by_kind(struct evbuffer *, const char *, const char *,
		    const uint64_t *);
static void	metrics_latency(struct evbuffer *, const struct hub_stats *);
static void	metrics_process(struct evbuffer *, const struct metrics_src *);
static void	metrics_clients(struct evbuffer *, const struct metrics_src *);
static void	metrics_upstream(struct evbuffer *,
		    const struct metrics_src *);
static void	metrics_fanout(struct evbuffer *, const struct hub_stats *);

/* The label values of the subscription kinds, in enum upstream_kind order. */
static const char *const metrics_kind[UPSTREAM_KINDS] = {
	"channel", "pattern", "shard"
};

/* Binds host:port and starts serving path. */
struct metrics *
metrics_new(struct event_base *base, const struct metrics_src *src,
    const char *host, int port, const char *path, char *err, size_t errlen)
{
	struct metrics		*m;
	struct evconnlistener	*evl;
	struct addrinfo		*res;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof(ss);
	char			 addr[INET6_ADDRSTRLEN], why[256];

	if (listener_resolve(host, port, &res, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "metrics: %s", why);
		return NULL;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->m_path = strdup(path)) == NULL ||
	    (m->m_http = evhttp_new(base)) == NULL) {
		snprintf(err, errlen, "metrics: out of memory");
		freeaddrinfo(res);
		metrics_free(m);
		return NULL;
	}
	m->m_src = *src;
	evl = evconnlistener_new_bind(base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE |
	    LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 64, res->ai_addr,
	    (int)res->ai_addrlen);
	freeaddrinfo(res);
	if (evl == NULL) {
		snprintf(err, errlen, "metrics: cannot listen on %s:%d: %s",
		    host, port, strerror(errno));
		metrics_free(m);
		return NULL;
	}
	if (evhttp_bind_listener(m->m_http, evl) == NULL) {
		evconnlistener_free(evl);
		snprintf(err, errlen, "metrics: out of memory");
		metrics_free(m);
		return NULL;
	}
	/* Every method reaches the callback, which answers 405 itself. */
	evhttp_set_allowed_methods(m->m_http, EVHTTP_REQ_GET |
	    EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
	    EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
	    EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_timeout(m->m_http, METRICS_TIMEOUT_SEC);
	evhttp_set_max_headers_size(m->m_http, METRICS_MAX_HEADERS);
	evhttp_set_max_body_size(m->m_http, METRICS_MAX_BODY);
	evhttp_set_default_content_type(m->m_http, "text/plain; "
	    "charset=utf-8");
	evhttp_set_gencb(m->m_http, metrics_request_cb, m);

	getsockname(evconnlistener_get_fd(evl), (struct sockaddr *)&ss,
	    &sslen);
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof(addr));
		m->m_port = ntohs(s6->sin6_port);
		snprintf(m->m_name, sizeof(m->m_name), "[%s]:%d", addr,
		    m->m_port);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr));
		m->m_port = ntohs(s4->sin_port);
		snprintf(m->m_name, sizeof(m->m_name), "%s:%d", addr,
		    m->m_port);
	}
	return m;
}

/* Closes the endpoint. */
void
metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	if (m->m_http != NULL)
		evhttp_free(m->m_http);
	free(m->m_path);
	free(m);
}

/* Serves another path. */
int
metrics_set_path(struct metrics *m, const char *path)
{
	char	*copy;

	if ((copy = strdup(path)) == NULL)
		return -1;
	free(m->m_path);
	m->m_path = copy;
	return 0;
}

/* The bound address. */
const char *
metrics_name(const struct metrics *m)
{
	return m->m_name;
}

/* The bound port. */
int
metrics_port(const struct metrics *m)
{
	return m->m_port;
}

/* Sends a short plain-text reply with status code. */
static void
metrics_reply(struct evhttp_request *req, int code, const char *reason,
    const char *text)
{
	struct evbuffer	*body;

	if ((body = evbuffer_new()) == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	evbuffer_add_printf(body, "%s\n", text);
	evhttp_send_reply(req, code, reason, body);
	evbuffer_free(body);
}

/*
 * Whether pubsubd is ready to take clients: Redis connected, every wanted
 * subscription confirmed there, not stopping. Returns 1, or 0 with why in
 * buf; either way buf says what it is.
 */
static int
metrics_ready(const struct metrics_src *src, char *buf, size_t len)
{
	const struct endpoint	*ep = upstream_endpoint(src->up);
	char			 name[ENDPOINT_NAME_MAX];

	if (ep != NULL)
		endpoint_name(ep, name, sizeof(name));
	if (src->stopping != NULL && *src->stopping)
		snprintf(buf, len, "not ready: stopping");
	else if (ep == NULL)
		snprintf(buf, len, "not ready: no redis master known yet");
	else if (!upstream_connected(src->up))
		snprintf(buf, len, "not ready: redis at %s is down (for %lld "
		    "ms)", name, upstream_down_ms(src->up));
	else if (!hub_synced(src->hub))
		snprintf(buf, len, "not ready: subscriptions not yet "
		    "confirmed by redis at %s", name);
	else {
		snprintf(buf, len, "ready: redis at %s, every subscription "
		    "confirmed", name);
		return 1;
	}
	return 0;
}

/* GET /live or /ready: 200 or 503, a one-line reason, never cached. */
static void
metrics_health(struct evhttp_request *req, const char *path,
    const struct metrics_src *src)
{
	struct evkeyvalq	*hdr = evhttp_request_get_output_headers(req);
	char			 why[ENDPOINT_NAME_MAX + 128], len[32];
	int			 ok = 1;

	if (strcmp(path, "/live") == 0)
		snprintf(why, sizeof(why), "live");
	else
		ok = metrics_ready(src, why, sizeof(why));
	evhttp_add_header(hdr, "Cache-Control", "no-store");
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		/* The status alone; evhttp would send a body. */
		snprintf(len, sizeof(len), "%zu", strlen(why) + 1);
		evhttp_add_header(hdr, "Content-Length", len);
		evhttp_send_reply(req, ok ? HTTP_OK : 503, ok ? "OK" :
		    "Service Unavailable", NULL);
	} else if (ok)
		metrics_reply(req, HTTP_OK, "OK", why);
	else
		metrics_reply(req, 503, "Service Unavailable", why);
}

/* One HTTP request: the exposition, a health check, or why not. */
static void
metrics_request_cb(struct evhttp_request *req, void *arg)
{
	struct metrics		*m = arg;
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	const char		*path = uri ? evhttp_uri_get_path(uri) : NULL;
	struct evkeyvalq	*hdr = evhttp_request_get_output_headers(req);
	enum evhttp_cmd_type	 cmd = evhttp_request_get_command(req);
	struct evbuffer		*body;
	char			 len[32];
	int			 health;

	/* The configured path wins, should it be "/live" or "/ready". */
	health = path != NULL && strcmp(path, m->m_path) != 0 &&
	    (strcmp(path, "/live") == 0 || strcmp(path, "/ready") == 0);
	if (!health && (path == NULL || strcmp(path, m->m_path) != 0)) {
		metrics_reply(req, HTTP_NOTFOUND, "Not Found",
		    "not found: the metrics are at the configured path; "
		    "health checks at /live and /ready");
		return;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(hdr, "Allow", "GET, HEAD");
		metrics_reply(req, 405, "Method Not Allowed",
		    "method not allowed: use GET");
		return;
	}
	if (health) {
		metrics_health(req, path, &m->m_src);
		return;
	}
	if ((body = evbuffer_new()) == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	metrics_render(&m->m_src, body);
	evhttp_add_header(hdr, "Content-Type", METRICS_CONTENT_TYPE);
	evhttp_add_header(hdr, "Cache-Control", "no-store");
	if (cmd == EVHTTP_REQ_HEAD) {
		/* evhttp would send the body: give the length, keep it. */
		snprintf(len, sizeof(len), "%zu", evbuffer_get_length(body));
		evhttp_add_header(hdr, "Content-Length", len);
		evbuffer_drain(body, evbuffer_get_length(body));
	}
	evhttp_send_reply(req, HTTP_OK, "OK", body);
	evbuffer_free(body);
}

/* A family's HELP and TYPE lines. */
static void
metrics_head(struct evbuffer *out, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

/* One sample; labels is "k=\"v\"" text, or NULL. */
static void
metrics_u64(struct evbuffer *out, const char *name, const char *labels,
    uint64_t v)
{
	evbuffer_add_printf(out, "%s%s%s%s %llu\n", name, labels ? "{" : "",
	    labels ? labels : "", labels ? "}" : "", (unsigned long long)v);
}

/* A family of one unlabelled sample. */
static void
metrics_one(struct evbuffer *out, const char *name, const char *type,
    const char *help, uint64_t v)
{
	metrics_head(out, name, type, help);
	metrics_u64(out, name, NULL, v);
}

/* A counter family of two labelled samples. */
static void
metrics_two(struct evbuffer *out, const char *name, const char *help,
    const char *label1, uint64_t v1, const char *label2, uint64_t v2)
{
	metrics_head(out, name, "counter", help);
	metrics_u64(out, name, label1, v1);
	metrics_u64(out, name, label2, v2);
}

/* One sample of a duration kept in milliseconds, in seconds. */
static void
metrics_seconds(struct evbuffer *out, const char *name, const char *labels,
    uint64_t ms)
{
	evbuffer_add_printf(out, "%s%s%s%s %llu.%03u\n", name,
	    labels ? "{" : "", labels ? labels : "", labels ? "}" : "",
	    (unsigned long long)(ms / 1000), (unsigned int)(ms % 1000));
}

/* One sample per subscription kind, labelled kind="...". */
static void
metrics_by_kind(struct evbuffer *out, const char *name, const char *help,
    const uint64_t *v)
{
	char	label[32];
	int	k;

	metrics_head(out, name, "gauge", help);
	for (k = 0; k < UPSTREAM_KINDS; k++) {
		snprintf(label, sizeof(label), "kind=\"%s\"", metrics_kind[k]);
		metrics_u64(out, name, label, v[k]);
	}
}

/* The fan-out latency histogram: cumulative buckets, sum, count. */
static void
metrics_latency(struct evbuffer *out, const struct hub_stats *hs)
{
	static const char	 name[] = "pubsubd_fanout_latency_seconds";
	const char		*le;
	uint64_t		 cum = 0;
	int			 i;

	metrics_head(out, name, "histogram", "Per message from Redis: from "
	    "the moment the first message of its batch (one loop turn's read, "
	    "or a few turns' while Redis had more waiting) "
	    "reached the hub to the moment every subscriber of the batch had "
	    "been handed its part (written or queued).");
	for (i = 0; i < HUB_LATENCY_BUCKETS; i++) {
		(void)hub_latency_bound(i, &le);
		cum += hs->latency[i];
		evbuffer_add_printf(out, "%s_bucket{le=\"%s\"} %llu\n", name,
		    le, (unsigned long long)cum);
	}
	cum += hs->latency[HUB_LATENCY_BUCKETS];
	evbuffer_add_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n", name,
	    (unsigned long long)cum);
	evbuffer_add_printf(out, "%s_sum %llu.%09llu\n%s_count %llu\n", name,
	    (unsigned long long)(hs->latency_sum_ns / 1000000000),
	    (unsigned long long)(hs->latency_sum_ns % 1000000000), name,
	    (unsigned long long)hs->latency_count);
}

/* The process: its version, when it started, its memory. */
static void
metrics_process(struct evbuffer *out, const struct metrics_src *src)
{
	struct procmem	pm;
	time_t		started, now = time(NULL);

	started = client_set_started(src->clients);
	(void)procmem_read(&pm);

	metrics_head(out, "pubsubd_build_info", "gauge", "pubsubd's version, "
	    "as a label; the value is always 1.");
	evbuffer_add_printf(out, "pubsubd_build_info{version=\"%s\"} 1\n",
	    PACKAGE_VERSION);
	metrics_one(out, "pubsubd_start_time_seconds", "gauge", "When pubsubd "
	    "started, in seconds since the Unix epoch.", (uint64_t)started);
	metrics_one(out, "pubsubd_uptime_seconds", "gauge", "Seconds since "
	    "pubsubd started.", now > started ? (uint64_t)(now - started) : 0);
	metrics_one(out, "pubsubd_resident_memory_bytes", "gauge", "Resident "
	    "set size of the process (/proc/self/statm).", pm.rss);
	metrics_one(out, "pubsubd_resident_memory_peak_bytes", "gauge", "The "
	    "largest resident set size so far (getrusage maxrss).",
	    pm.rss_peak);
	if (pm.has_malloc)
		metrics_one(out, "pubsubd_malloc_used_bytes", "gauge", "Bytes "
		    "malloc has handed out and not had back (glibc "
		    "mallinfo2).", pm.malloc_used);
}

/* The clients: connections, TLS, bytes, commands, refusals, subscriptions. */
static void
metrics_clients(struct evbuffer *out, const struct metrics_src *src)
{
	const struct session_stats	*cs = client_set_stats(src->clients);
	struct client_mem		 cm;
	char				 label[64];
	int				 i;

	client_set_memory(src->clients, &cm);

	metrics_one(out, "pubsubd_clients_connected", "gauge", "Clients "
	    "connected now.", cs->connected);
	metrics_one(out, "pubsubd_clients_accepted_total", "counter",
	    "Client connections accepted.", cs->accepted);
	metrics_one(out, "pubsubd_clients_rejected_total", "counter", "Client "
	    "connections refused at limits.maxclients (or while stopping).",
	    cs->rejected_max);
	metrics_head(out, "pubsubd_client_disconnects_total", "counter",
	    "Clients disconnected, by the reason their closing started.");
	for (i = 0; i < SESSION_ENDS; i++) {
		snprintf(label, sizeof(label), "reason=\"%s\"",
		    session_end_name((enum session_end)i));
		metrics_u64(out, "pubsubd_client_disconnects_total", label,
		    cs->disconnects[i]);
	}
	metrics_one(out, "pubsubd_tls_clients_connected", "gauge", "TLS "
	    "clients connected now (in the handshake or past it).",
	    cs->tls_connected);
	metrics_one(out, "pubsubd_tls_clients_accepted_total", "counter",
	    "TLS client connections accepted.", cs->tls_accepted);
	metrics_one(out, "pubsubd_tls_handshake_failures_total", "counter",
	    "TLS handshakes with clients that failed or timed out.",
	    cs->tls_handshake_failures);
	metrics_one(out, "pubsubd_tls_ktls_connections_total", "counter",
	    "TLS client connections whose records the kernel encrypts (kTLS).",
	    cs->tls_ktls);
	metrics_one(out, "pubsubd_web_clients_connected", "gauge", "Clients "
	    "of the web listeners connected now (any state).",
	    cs->web_connected);
	metrics_one(out, "pubsubd_web_requests_total", "counter", "HTTP "
	    "request heads the web listeners read.", cs->web_requests);
	metrics_one(out, "pubsubd_sse_streams_connected", "gauge",
	    "Server-Sent Events streams open now.", cs->sse_connected);
	metrics_one(out, "pubsubd_sse_streams_total", "counter",
	    "Server-Sent Events streams opened.", cs->sse_accepted);
	metrics_one(out, "pubsubd_ws_clients_connected", "gauge",
	    "WebSocket clients connected now.", cs->ws_connected);
	metrics_one(out, "pubsubd_ws_clients_accepted_total", "counter",
	    "WebSocket upgrades accepted.", cs->ws_accepted);
	metrics_one(out, "pubsubd_web_output_bytes_total", "counter",
	    "Bytes written to web clients (of the client output bytes).",
	    cs->web_bytes_out);
	metrics_head(out, "pubsubd_web_refused_total", "counter",
	    "Web requests refused, by reason.");
	for (i = 0; i < SESSION_WEB_REFUSALS; i++) {
		snprintf(label, sizeof(label), "reason=\"%s\"",
		    session_web_refusal_name((enum session_web_refusal)i));
		metrics_u64(out, "pubsubd_web_refused_total", label,
		    cs->web_refused[i]);
	}
	metrics_one(out, "pubsubd_client_output_bytes_total", "counter",
	    "Bytes written to client sockets (replies and messages).",
	    cs->bytes_out);
	metrics_one(out, "pubsubd_client_output_pending_bytes", "gauge",
	    "Bytes queued for clients that their sockets have not taken yet.",
	    cm.output);
	metrics_one(out, "pubsubd_client_output_discarded_bytes_total",
	    "counter", "Bytes queued for clients that were disconnected "
	    "before they took them.", cs->output_discarded);
	metrics_one(out, "pubsubd_client_input_buffered_bytes", "gauge",
	    "Bytes of requests read from clients and not yet served.",
	    cm.input);
	metrics_one(out, "pubsubd_commands_processed_total", "counter",
	    "Commands clients sent.", cs->commands);
	metrics_one(out, "pubsubd_protocol_errors_total", "counter",
	    "Requests that broke the protocol (the client is closed).",
	    cs->protocol_errors);
	metrics_one(out, "pubsubd_auth_failures_total", "counter",
	    "AUTH and HELLO AUTH refused: wrong password, unknown or "
	    "disabled user.", cs->auth_failures);
	metrics_two(out, "pubsubd_permission_denied_total", "Commands "
	    "refused with NOPERM, by what was not permitted.",
	    "kind=\"command\"", cs->denied_command, "kind=\"channel\"",
	    cs->denied_channel);
	metrics_by_kind(out, "pubsubd_subscriptions", "Clients' confirmed "
	    "subscriptions, by kind (one per client and name).",
	    cs->subscriptions);
}

/* The upstream: the connection to Redis and what it holds for pubsubd. */
static void
metrics_upstream(struct evbuffer *out, const struct metrics_src *src)
{
	const struct hub_stats		*hs = hub_stats(src->hub);
	const struct upstream_stats	*us = upstream_stats(src->up);

	metrics_one(out, "pubsubd_upstream_up", "gauge", "1 if the connection "
	    "to Redis is up, else 0.", (uint64_t)upstream_connected(src->up));
	metrics_one(out, "pubsubd_upstream_synced", "gauge", "1 if Redis holds "
	    "exactly the subscriptions the clients want, else 0.",
	    (uint64_t)hub_synced(src->hub));
	metrics_by_kind(out, "pubsubd_upstream_subscriptions", "Subscriptions "
	    "Redis holds for pubsubd, by kind (one per name however many "
	    "clients want it).", hs->held);
	metrics_two(out, "pubsubd_upstream_operations_total", "(P|S)SUBSCRIBE "
	    "and (P|S)UNSUBSCRIBE sent to Redis.", "op=\"subscribe\"",
	    hs->upstream_subscribes, "op=\"unsubscribe\"",
	    hs->upstream_unsubscribes);
	metrics_one(out, "pubsubd_upstream_connects_total", "counter", "Times "
	    "the connection to Redis came up, the first included.",
	    us->connects);
	metrics_one(out, "pubsubd_upstream_connect_failures_total", "counter",
	    "Attempts to connect to Redis that failed.", us->connect_failures);
	metrics_one(out, "pubsubd_upstream_outages_total", "counter", "Times "
	    "an established connection to Redis was lost (what was published "
	    "until it came back is lost).", us->outages);
	metrics_head(out, "pubsubd_upstream_last_outage_seconds", "gauge",
	    "How long the last finished outage lasted.");
	metrics_seconds(out, "pubsubd_upstream_last_outage_seconds", NULL,
	    (uint64_t)us->last_outage_ms);
	metrics_head(out, "pubsubd_upstream_down_seconds", "gauge", "How long "
	    "the connection to Redis has been down; 0 while it is up.");
	metrics_seconds(out, "pubsubd_upstream_down_seconds", NULL,
	    (uint64_t)upstream_down_ms(src->up));
	metrics_one(out, "pubsubd_upstream_health_failures_total", "counter",
	    "Heartbeats through Redis that did not come back in time.",
	    us->health_failures);
	metrics_one(out, "pubsubd_upstream_switches_total", "counter", "Moves "
	    "to a new Redis master that Sentinel named (0 without Sentinel).",
	    us->switches);
}

/* The fan-out: messages from Redis, deliveries to clients, batches. */
static void
metrics_fanout(struct evbuffer *out, const struct hub_stats *hs)
{
	metrics_one(out, "pubsubd_messages_received_total", "counter",
	    "Messages received from Redis.", hs->messages_in);
	metrics_one(out, "pubsubd_messages_delivered_total", "counter",
	    "Deliveries to clients: each message once per receiving client.",
	    hs->deliveries);
	metrics_one(out, "pubsubd_messages_unrouted_total", "counter",
	    "Messages from Redis that no client was subscribed to any more "
	    "(an unsubscribe in flight).", hs->unrouted);
	metrics_one(out, "pubsubd_messages_dropped_total", "counter",
	    "Messages from Redis that no client got: out of memory.",
	    hs->dropped);
	metrics_one(out, "pubsubd_fanout_batches_total", "counter", "Batches "
	    "fanned out (each hands every subscriber its part once).",
	    hs->batches);
}

/* Appends the whole exposition, family group by family group. */
void
metrics_render(const struct metrics_src *src, struct evbuffer *out)
{
	const struct hub_stats	*hs = hub_stats(src->hub);

	metrics_process(out, src);
	metrics_clients(out, src);
	metrics_upstream(out, src);
	metrics_fanout(out, hs);
	metrics_latency(out, hs);
}
