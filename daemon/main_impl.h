/*
 * main_impl.h: the daemon's context, shared by main.c (start-up, signals,
 * shutdown) and main_reload.c (SIGHUP). Only those two include it.
 */
#ifndef PUBSUBD_MAIN_IMPL_H
#define PUBSUBD_MAIN_IMPL_H

#include <stddef.h>

#include <event2/util.h>

#include "client.h"
#include "conf.h"
#include "endpoint.h"
#include "tls.h"
#include "upstream.h"

struct event;
struct event_base;
struct hub;
struct listener;
struct metrics;
struct service;
struct ssl_ctx_st;

/* The daemon's one context; everything in it is owned. */
struct pubsubd {
	struct event_base	 *base;
	struct conf		 *conf;
	struct upstream		 *up;
	struct hub		 *hub;
	struct client_set	 *clients;
	struct session_conf	  cconf;
	struct upstream_conf	  upconf;
	struct endpoint		  redis;	/* its strings: conf's; its
						   TLS context: rtls */
	struct ssl_ctx_st	 *tls;		/* owned ref, or NULL: the
						   clients' TLS until it is
						   handed to them */
	struct ssl_ctx_st	 *rtls;		/* owned ref, or NULL: TLS to
						   Redis (redis.tls) */
	unsigned char		  rtls_id[TLS_ID_LEN];	/* rtls' files */
	struct listener		**listeners;
	size_t			  nlisteners;
	int			  activated;	/* listeners from systemd */
	int			  npassed;	/* how many systemd passed */
	int			  first;	/* the first passed, or -1 */
	int			  readyfd;	/* the supervisor's ready
						   pipe, or -1 */
	struct service		 *svc;
	long long		  nofile;	/* the open file limit; -1:
						   unknown or none */
	struct metrics		 *metrics;	/* owned, or NULL: disabled */
	struct event		 *sigterm_ev;
	struct event		 *sigint_ev;
	struct event		 *sighup_ev;
	const char		 *path;		/* borrowed: argv */
	char			 *pidfile;	/* owned, or NULL: none */
	int			  pidfile_written;
	struct event		 *stop_ev;
	struct event		 *trim_ev;	/* gives back free heap */
	int			  stopping;
	int			  worker;	/* this worker's index, or -1:
						   the only process */
	int			  nworkers;	/* 1, or the supervisor's */
	unsigned long long	  switches_seen;	/* the upstream's
							   switches, handled */
};
/*
 * Names Redis for the log and systemd (an address, or a Sentinel's master
 * and where it is) in buf of len bytes, and returns buf.
 */
const char	*main_redis_name(const struct pubsubd *d, char *buf,
		    size_t len);

/* Sets d's settings (clients', upstream's, log's) from configuration c. */
void		 main_apply(struct pubsubd *d, const struct conf *c);

/*
 * protected_mode: returns 0 if configuration c may serve as it is, or -1
 * with "PATH:LINE: message" in err (path is the file's).
 */
int		 main_protected(const struct pubsubd *d, const struct conf *c,
		    const char *path, char *err, size_t errlen);

/* Opens the listener of one listen entry; NULL with err filled. */
struct listener	*main_listener_new(struct pubsubd *d,
		    const struct conf_listen *cl, char *err, size_t errlen);

/* Opens the metrics endpoint of configuration c; NULL with err on failure. */
struct metrics	*main_metrics_new(struct pubsubd *d, const struct conf *c,
		    char *err, size_t errlen);

/*
 * Makes the TLS context for Redis of configuration c into *ctx (see
 * main.c); returns 0, or -1 with "PATH:LINE: message" in err.
 */
int		 main_rtls(const struct pubsubd *d, const struct conf *c,
		    const char *path, struct ssl_ctx_st **ctx,
		    unsigned char *id, char *err, size_t errlen);

/* Makes configuration c this worker's (workers > 1; see main.c). */
void		 main_worker_conf(const struct pubsubd *d, struct conf *c);

/* SIGHUP: reloads the configuration file (main_reload.c). */
void		 main_reload_cb(evutil_socket_t sig, short what, void *arg);

#endif /* PUBSUBD_MAIN_IMPL_H */
