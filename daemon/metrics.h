/*
 * metrics.h: the Prometheus endpoint. An HTTP server (libevent's evhttp) on
 * an address of its own answers GET of one path with pubsubd's counters in
 * Prometheus' text exposition format (version 0.0.4); any other path is
 * 404, any other method 405. The counters are those the clients, the hub
 * and the upstream keep anyway: a scrape reads them, nothing on the message
 * path knows the endpoint exists.
 *
 * The same server answers a load balancer's health checks: GET /live is 200
 * while the event loop runs, and GET /ready is 200 only while Redis is
 * connected and every subscription clients want is confirmed on it (and
 * pubsubd is not stopping), else 503; each with a one-line reason.
 */
#ifndef PUBSUBD_METRICS_H
#define PUBSUBD_METRICS_H

#include <stddef.h>

struct client_set;
struct event_base;
struct evbuffer;
struct hub;
struct metrics;
struct upstream;

/* Where the figures come from; all borrowed, and must outlive the users. */
struct metrics_src {
	const struct client_set	*clients;
	const struct hub	*hub;
	const struct upstream	*up;
	const int		*stopping;	/* nonzero once stopping */
};

/*
 * Listens on host:port (port 0 picks a free one) and serves path (copied;
 * it starts with '/'). Returns a new endpoint owned by the caller, or NULL
 * with the reason in err. src is copied; what it points to is borrowed.
 */
struct metrics	*metrics_new(struct event_base *base,
		    const struct metrics_src *src, const char *host, int port,
		    const char *path, char *err, size_t errlen);

/* Closes the endpoint and its connections (NULL is ignored). */
void		 metrics_free(struct metrics *m);

/* Serves another path from now on (copied); 0, or -1 if out of memory. */
int		 metrics_set_path(struct metrics *m, const char *path);

/* The bound address, "127.0.0.1:9479" or "[::1]:9479" (borrowed). */
const char	*metrics_name(const struct metrics *m);

/* The bound port (the chosen one when the configuration said 0). */
int		 metrics_port(const struct metrics *m);

/* Appends the whole exposition to out: what GET returns. */
void		 metrics_render(const struct metrics_src *src,
		    struct evbuffer *out);

#endif /* PUBSUBD_METRICS_H */
