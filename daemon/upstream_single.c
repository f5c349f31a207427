/*
 * upstream_single.c: the upstream of one Redis at a fixed address, on
 * hiredis' async API and its libevent adapter (struct upstream_ops of
 * upstream.h).
 *
 * It owns the connections to that Redis: the subscriber connection, the
 * shard connection, and a command connection (cmdconn.h) for pubsubd's own
 * commands; it connects, reconnects with capped exponential backoff and
 * jitter, and checks its own health with a heartbeat through its private
 * channel (upstream_private.h). What it learns of Redis on each connect is
 * its struct upstream_facts. A Redis loses everything at once, so it
 * tells its owner on_state(); only a cluster node's letting go of one
 * shard channel (its slot moved) is on_lost().
 *
 * hiredis keeps, per subscribed name, the callback given with SUBSCRIBE and
 * calls it for the confirmation, every message and the unsubscribe
 * confirmation. We give every command the same callback with the upstream as
 * its argument and route on the reply itself, so nothing hiredis keeps can
 * point at an object we free. Operations in flight are kept in a map from
 * (kind, name) to the future their confirmation completes.
 *
 * Sharded pub/sub (SSUBSCRIBE, smessage) has a connection of its own: the
 * async layer of hiredis 0.14 knows nothing of these pushes and drops them,
 * so that connection is a libevent bufferevent whose replies hiredis' own
 * reader parses. The two connections live and die together: the upstream is
 * connected when both are, and the loss of either resets both.
 *
 * When Redis wants credentials, AUTH is the first command on each
 * connection, and that connection counts as up only once Redis accepted
 * it; a refusal is a failed connection like any other (logged with Redis'
 * reason, retried after the backoff).
 *
 * hiredis' lifetime rules, followed here: a reply is borrowed for the
 * callback only; a NULL reply means the context is going away; after a failed
 * connect or a disconnect hiredis frees the context itself, so our pointer is
 * cleared in those callbacks; the context is never freed from inside one of
 * its own callbacks.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "cmdconn.h"
#include "future.h"
#include "log.h"
#include "map.h"
#include "upstream.h"
#include "upstream_facts.h"
#include "upstream_private.h"
#include "upstream_single.h"
#include "upstream_single_impl.h"

static void	upstream_single_start(struct upstream *);
static int	upstream_single_set_conf(struct upstream *,
		    const struct upstream_conf *);
static void	upstream_single_free(struct upstream *);
static int	upstream_single_connected(const struct upstream *);
static size_t	upstream_single_pending(const struct upstream *);
static struct future *upstream_single_subscribe(struct upstream *,
		    enum upstream_kind, const char *, size_t);
static struct future *upstream_single_unsubscribe(struct upstream *,
		    enum upstream_kind, const char *, size_t);
static struct future *upstream_single_command(struct upstream *, int,
		    const char *const *, const size_t *);
static const struct upstream_stats *upstream_single_stats(
		    const struct upstream *);
static const struct upstream_facts *upstream_single_facts(
		    const struct upstream *);
static const struct endpoint *upstream_single_endpoint(
		    const struct upstream *);
static struct cmdconn *upstream_single_cmdconn(struct upstream_single *);
static void	upstream_single_connect(struct upstream_single *);
static void	upstream_single_retry_later(struct upstream_single *);
static void	upstream_single_retry_cb(evutil_socket_t, short, void *);
static void	upstream_single_connect_cb(const redisAsyncContext *, int);
static void	upstream_single_auth_cb(redisAsyncContext *, void *, void *);
static int	upstream_single_shard_reply(struct upstream_single *,
		    redisReply *);
static void	upstream_single_refused(struct upstream_single *,
		    const char *, const char *);
static void	upstream_single_disconnect_cb(const redisAsyncContext *, int);
static void	upstream_single_reply_cb(redisAsyncContext *, void *, void *);
static void	upstream_single_dispatch(struct upstream_single *,
		    const redisReply *);
static void	upstream_single_maybe_up(struct upstream_single *);
static struct future *upstream_single_send_any(struct upstream_single *, int,
		    enum upstream_kind, const char *, size_t);
static void	upstream_single_private_done(struct future *, void *);
static int	upstream_single_private(struct upstream_single *, int,
		    const redisReply *, size_t);
static int	upstream_single_shard_connect(struct upstream_single *);
static void	upstream_single_shard_close(struct upstream_single *);
static void	upstream_single_shard_read_cb(struct bufferevent *, void *);
static void	upstream_single_shard_event_cb(struct bufferevent *, short,
		    void *);
static void	upstream_single_fail_all(struct upstream_single *,
		    const char *);
static struct future *upstream_single_send(struct upstream_single *, int,
		    enum upstream_kind, const char *, size_t);
static void	upstream_single_complete(struct upstream_single *, int,
		    enum upstream_kind, const redisReply *);
static void	upstream_single_op_end(struct upstream_single *,
		    struct upstream_op *, const char *);
static void	upstream_single_dropped(struct upstream_single *,
		    const char *, size_t);

static const struct upstream_ops upstream_single_ops = {
	upstream_single_start,
	upstream_single_set_conf,
	upstream_single_free,
	upstream_single_connected,
	upstream_single_pending,
	upstream_single_subscribe,
	upstream_single_unsubscribe,
	upstream_single_command,
	upstream_single_barrier,
	upstream_single_stats,
	upstream_single_facts,
	upstream_single_endpoint,
	"single"
};

static const char *const upstream_single_sub_cmd[UPSTREAM_KINDS] = {
	"SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE"
};
static const char *const upstream_single_unsub_cmd[UPSTREAM_KINDS] = {
	"UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE"
};

/* Returns a new, not yet connected upstream of one Redis. */
struct upstream *
upstream_single_new(struct event_base *base, const struct upstream_conf *conf,
    const struct upstream_cbs *cbs, void *arg)
{
	return upstream_single_new_node(base, conf, -1, cbs, arg);
}

/* The same for a cluster node; see upstream_single.h. */
struct upstream *
upstream_single_new_node(struct event_base *base,
    const struct upstream_conf *conf, int slot, const struct upstream_cbs *cbs,
    void *arg)
{
	struct upstream_single	*up;

	if ((up = calloc(1, sizeof(*up))) == NULL)
		return NULL;
	up->up_if.u_ops = &upstream_single_ops;
	up->up_base = base;
	up->up_conf = *conf;
	up->up_cbs = *cbs;
	up->up_arg = arg;
	up->up_backoff_ms = conf->backoff_min;
	up->up_stats.down_since_ms = upstream_now_ms();
	map_init(&up->up_ops);
	TAILQ_INIT(&up->up_shard_q);
	up->up_slot = slot;
	if ((up->up_ep = endpoint_dup(&conf->redis)) != NULL) {
		up->up_conf.redis = *up->up_ep;
		endpoint_name(up->up_ep, up->up_name, sizeof(up->up_name));
	}
	up->up_facts = upstream_facts_new();
	up->up_private = upstream_private_new(slot);
	up->up_retry_ev = evtimer_new(base, upstream_single_retry_cb, up);
	up->up_timeout_ev = evtimer_new(base, upstream_single_timeout_cb, up);
	up->up_health_ev = event_new(base, -1, EV_PERSIST,
	    upstream_single_health_cb, up);
	if (up->up_ep == NULL || up->up_facts == NULL ||
	    up->up_private == NULL || up->up_retry_ev == NULL ||
	    up->up_timeout_ev == NULL || up->up_health_ev == NULL) {
		upstream_single_free(&up->up_if);
		return NULL;
	}
	return &up->up_if;
}

/* Takes a reloaded configuration; see upstream.h. */
static int
upstream_single_set_conf(struct upstream *u, const struct upstream_conf *conf)
{
	struct upstream_single	*up = (void *)u;
	struct timeval		 tv;
	struct endpoint		*ep;
	int			 moved, relog;

	moved = !endpoint_same_place(&conf->redis, up->up_ep);
	/* New credentials or new TLS: the same place, reached anew. */
	relog = !endpoint_same_login(&conf->redis, up->up_ep) ||
	    !endpoint_same_tls(&conf->redis, up->up_ep);
	if (moved || relog) {
		if ((ep = endpoint_dup(&conf->redis)) == NULL)
			return -1;
		endpoint_free(up->up_ep);
		up->up_ep = ep;
		endpoint_name(up->up_ep, up->up_name, sizeof(up->up_name));
	}
	up->up_conf = *conf;
	up->up_conf.redis = *up->up_ep;
	if (up->up_backoff_ms < conf->backoff_min ||
	    up->up_backoff_ms > conf->backoff_max)
		up->up_backoff_ms = conf->backoff_min;
	if (up->up_connected) {
		event_del(up->up_health_ev);
		if (conf->health_interval > 0) {
			tv.tv_sec = conf->health_interval / 1000;
			tv.tv_usec = (conf->health_interval % 1000) * 1000;
			event_add(up->up_health_ev, &tv);
		}
	}
	if ((moved || relog) && up->up_started) {
		if (moved)
			log_notice("redis moves to %s", up->up_name);
		else
			log_notice("new credentials or TLS settings for redis "
			    "at %s: reconnecting", up->up_name);
		/* Drop the old connections and the shared command one. */
		cmdconn_free(up->up_cmd);
		up->up_cmd = NULL;
		if (up->up_ac != NULL || up->up_shard != NULL ||
		    up->up_connected) {
			up->up_backoff_ms = conf->backoff_min;
			upstream_single_lost(up, moved ?
			    "redis address changed" :
			    "redis credentials or TLS settings changed");
			/* Told where to go: no backoff before going. */
			evtimer_del(up->up_retry_ev);
			upstream_single_connect(up);
		} else {
			/* Waiting out a backoff: the new settings may work. */
			evtimer_del(up->up_retry_ev);
			up->up_backoff_ms = conf->backoff_min;
			upstream_single_connect(up);
		}
	}
	return 0;
}

/* A cluster node's private channel moves to slot; see upstream_single.h. */
int
upstream_single_set_slot(struct upstream *u, int slot)
{
	struct upstream_single	*up = (void *)u;
	struct upstream_private	*p;

	if (slot == up->up_slot)
		return 0;
	if ((p = upstream_private_new(slot)) == NULL)
		return -1;
	up->up_slot = slot;
	if (up->up_ac != NULL || up->up_shard != NULL || up->up_connected)
		upstream_single_lost(up, "its slots changed: pubsubd's private "
		    "channel moves to a slot it serves");
	upstream_private_free(up->up_private);
	up->up_private = p;
	if (up->up_started) {
		evtimer_del(up->up_retry_ev);
		up->up_backoff_ms = up->up_conf.backoff_min;
		upstream_single_connect(up);
	}
	return 0;
}

/* Starts connecting. */
static void
upstream_single_start(struct upstream *u)
{
	struct upstream_single	*up = (void *)u;

	up->up_started = 1;
	upstream_single_connect(up);
}

/* Disconnects and frees; pending futures fail. */
static void
upstream_single_free(struct upstream *u)
{
	struct upstream_single	*up = (void *)u;

	up->up_freeing = 1;
	if (up->up_ac != NULL) {
		/* Runs our callbacks with NULL replies, then the disconnect. */
		redisAsyncFree(up->up_ac);
		up->up_ac = NULL;
	}
	upstream_single_shard_close(up);
	upstream_single_fail_all(up, "upstream closed");
	map_clear(&up->up_ops);
	upstream_private_free(up->up_private);
	upstream_facts_free(up->up_facts);
	cmdconn_free(up->up_cmd);
	if (up->up_retry_ev != NULL)
		event_free(up->up_retry_ev);
	if (up->up_timeout_ev != NULL)
		event_free(up->up_timeout_ev);
	if (up->up_health_ev != NULL)
		event_free(up->up_health_ev);
	upstream_single_heartbeat_drop(up);
	endpoint_free(up->up_ep);
	free(up);
}

/* Whether the connection is up. */
static int
upstream_single_connected(const struct upstream *u)
{
	const struct upstream_single	*up = (const void *)u;

	return up->up_connected;
}

/* The bytes waiting unread on the subscriber and the shard connection. */
static size_t
upstream_single_pending(const struct upstream *u)
{
	const struct upstream_single	*up = (const void *)u;
	size_t				 total = 0;
	int				 fd, n;

	if (up->up_ac != NULL && (fd = up->up_ac->c.fd) != -1 &&
	    ioctl(fd, FIONREAD, &n) == 0 && n > 0)
		total += (size_t)n;
	if (up->up_shard != NULL && (fd = bufferevent_getfd(up->up_shard)) !=
	    -1 && ioctl(fd, FIONREAD, &n) == 0 && n > 0)
		total += (size_t)n;
	return total;
}

/* Starts one connection attempt; failures schedule the next. */
static void
upstream_single_connect(struct upstream_single *up)
{
	redisAsyncContext	*ac;
	struct timeval		 tv;
	const char		*argv[3];
	size_t			 argvlen[3];
	char			 why[256];
	int			 argc;

	log_debug("connecting to redis at %s", up->up_name);
	tv.tv_sec = up->up_conf.connect_timeout / 1000;
	tv.tv_usec = (up->up_conf.connect_timeout % 1000) * 1000;
	evtimer_add(up->up_timeout_ev, &tv);
	if (up->up_ep->path != NULL)
		ac = redisAsyncConnectUnix(up->up_ep->path);
	else
		ac = redisAsyncConnect(up->up_ep->host, up->up_ep->port);
	if (ac == NULL) {
		log_warnx("redis %s: out of memory", up->up_name);
		up->up_stats.connect_failures++;
		upstream_single_retry_later(up);
		return;
	}
	if (ac->err || endpoint_start_tls(up->up_ep, &ac->c, why,
	    sizeof(why)) == -1) {
		if (ac->err)
			log_warnx("redis %s: %s", up->up_name, ac->errstr);
		else	/* a handshake can fail at once, as it would later */
			log_warnx("cannot connect to redis at %s: %s",
			    up->up_name, why);
		redisAsyncFree(ac);
		up->up_stats.connect_failures++;
		upstream_single_retry_later(up);
		return;
	}
	ac->data = up;
	if (redisLibeventAttach(ac, up->up_base) != REDIS_OK) {
		log_warnx("redis %s: cannot attach to the event loop",
		    up->up_name);
		redisAsyncFree(ac);
		up->up_stats.connect_failures++;
		upstream_single_retry_later(up);
		return;
	}
	redisAsyncSetConnectCallback(ac, upstream_single_connect_cb);
	redisAsyncSetDisconnectCallback(ac, upstream_single_disconnect_cb);
	up->up_ac = ac;
	/* First in hiredis' queue: sent as soon as the socket connects. */
	up->up_ac_auth = 0;
	if ((argc = endpoint_auth_argv(up->up_ep, argv, argvlen)) > 0) {
		if (redisAsyncCommandArgv(ac, upstream_single_auth_cb, up,
		    argc, argv, argvlen) != REDIS_OK) {
			upstream_single_lost(up, "cannot queue AUTH");
			return;
		}
		up->up_ac_auth = 1;
	}
	if (upstream_single_shard_connect(up) == -1)
		upstream_single_lost(up, "cannot open the shard connection");
}

/* Schedules a reconnect after the backoff, with jitter, and doubles it. */
static void
upstream_single_retry_later(struct upstream_single *up)
{
	struct timeval	tv;
	int		ms;

	if (up->up_freeing || !up->up_started)
		return;
	/* Full jitter in the upper half: [backoff/2, backoff]. */
	ms = up->up_backoff_ms / 2 + random() % (up->up_backoff_ms / 2 + 1);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(up->up_retry_ev, &tv);
	log_debug("reconnecting to redis in %d ms", ms);
	up->up_backoff_ms *= 2;
	if (up->up_backoff_ms > up->up_conf.backoff_max)
		up->up_backoff_ms = up->up_conf.backoff_max;
}

/* The reconnect timer fired. */
static void
upstream_single_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	upstream_single_connect(arg);
}

/* hiredis finished connecting, or failed to (then it frees the context). */
static void
upstream_single_connect_cb(const redisAsyncContext *ac, int status)
{
	struct upstream_single	*up = ac->data;
	char		 why[512];

	if (ac != up->up_ac)
		return;		/* one upstream_single_lost() let go of */
	if (status != REDIS_OK) {
		up->up_ac = NULL;
		upstream_single_lost(up, endpoint_why(up->up_ep, ac->errstr,
		    why, sizeof(why)));
		return;
	}
	if (up->up_ac_auth)
		return;		/* up once Redis accepts the AUTH */
	up->up_ac_up = 1;
	upstream_single_maybe_up(up);
}

/*
 * Redis answered the subscriber connection's AUTH (NULL: the context is
 * going away, which its disconnect callback handles). A refusal loses the
 * connection: hiredis frees the context once this callback returns.
 */
static void
upstream_single_auth_cb(redisAsyncContext *ac, void *reply, void *arg)
{
	struct upstream_single	*up = arg;
	redisReply	*r = reply;

	if (r == NULL || ac != up->up_ac || !up->up_ac_auth)
		return;
	up->up_ac_auth = 0;
	if (r->type == REDIS_REPLY_ERROR) {
		upstream_single_refused(up, "AUTH", r->str);
		return;
	}
	up->up_ac_up = 1;
	upstream_single_maybe_up(up);
}

/*
 * Redis refused what a connection must start with (AUTH, or the private
 * subscription): the connection failed, with Redis' reason (which never
 * holds the password).
 */
static void
upstream_single_refused(struct upstream_single *up, const char *what,
    const char *why)
{
	char	msg[512];

	snprintf(msg, sizeof(msg), "%s refused: %s%s", what, why,
	    strcmp(what, "AUTH") == 0 ? " (check redis.username and "
	    "redis.password)" : "");
	upstream_single_lost(up, msg);
}

/*
 * Once both connections are up, subscribes them to pubsubd's private
 * channel (the barrier and heartbeat); once both confirm, the upstream is up
 * and its owner subscribes everything.
 */
static void
upstream_single_maybe_up(struct upstream_single *up)
{
	const char	*name = upstream_private_name(up->up_private);
	struct future	*f;
	struct timeval	 tv;
	int		 k;

	if (!up->up_ac_up || !up->up_shard_up || up->up_connected)
		return;
	if (!up->up_private_asked) {
		up->up_private_asked = 1;
		for (k = 0; k < 2; k++) {
			f = upstream_single_send_any(up, 1, k ?
			    UPSTREAM_SHARD : UPSTREAM_CHANNEL, name,
			    strlen(name));
			if (f == NULL) {
				upstream_single_lost(up, "out of memory");
				return;
			}
			future_add_callback(f, upstream_single_private_done,
			    up);
			future_unref(f);
		}
		return;
	}
	if (up->up_private_ok < 2)
		return;
	log_notice("connected to redis at %s", up->up_name);
	up->up_connected = 1;
	up->up_stats.connects++;
	up->up_backoff_ms = up->up_conf.backoff_min;
	evtimer_del(up->up_timeout_ev);
	if (up->up_stats.outages > 0) {
		up->up_stats.last_outage_ms = upstream_now_ms() -
		    up->up_stats.down_since_ms;
		log_warnx("redis is back after an outage of %lld ms: what was "
		    "published meanwhile is lost", up->up_stats.last_outage_ms);
	}
	up->up_stats.down_since_ms = 0;
	up->up_rx_seen = up->up_rx;
	up->up_rx_ms = upstream_now_ms();
	if (up->up_conf.health_interval > 0) {
		tv.tv_sec = up->up_conf.health_interval / 1000;
		tv.tv_usec = (up->up_conf.health_interval % 1000) * 1000;
		event_add(up->up_health_ev, &tv);
	}
	upstream_facts_learn(up->up_facts, upstream_single_cmdconn(up));
	up->up_cbs.on_state(up->up_arg, 1);
}

/* The connection is gone; hiredis frees the context after this returns. */
static void
upstream_single_disconnect_cb(const redisAsyncContext *ac, int status)
{
	struct upstream_single	*up = ac->data;
	char		 why[512];

	if (ac != up->up_ac)
		return;		/* one upstream_single_lost() let go of */
	up->up_ac = NULL;
	if (up->up_freeing)
		return;
	upstream_single_lost(up, status == REDIS_OK ? "connection closed" :
	    endpoint_why(up->up_ep, ac->errstr, why, sizeof(why)));
}

/*
 * Handles the loss (or failed making) of either connection: closes the
 * other, fails what was pending, tells the owner, and retries later. Called
 * from hiredis' callbacks with up_ac already cleared, so that the hiredis
 * context is only freed here when the shard connection failed.
 */
void
upstream_single_lost(struct upstream_single *up, const char *why)
{
	redisAsyncContext	*ac = up->up_ac;
	int			 was = up->up_connected;

	if (up->up_losing || up->up_freeing)
		return;
	up->up_losing = 1;
	if (was)
		log_warnx("lost connection to redis at %s: %s", up->up_name,
		    why);
	else
		log_warnx("cannot connect to redis at %s: %s", up->up_name,
		    why);
	up->up_connected = up->up_ac_up = up->up_ac_auth = 0;
	up->up_private_ok = up->up_private_asked = 0;
	evtimer_del(up->up_timeout_ev);
	event_del(up->up_health_ev);
	upstream_single_heartbeat_drop(up);
	if (was) {
		up->up_stats.outages++;
		up->up_stats.down_since_ms = upstream_now_ms();
	} else
		up->up_stats.connect_failures++;
	up->up_ac = NULL;
	if (ac != NULL)
		redisAsyncFree(ac);
	upstream_single_shard_close(up);
	upstream_single_fail_all(up, "connection to redis lost");
	upstream_private_release(up->up_private);
	if (was)
		up->up_cbs.on_state(up->up_arg, 0);
	upstream_single_retry_later(up);
	up->up_losing = 0;
}

/* Opens the shard connection (hiredis' reader on a bufferevent). */
static int
upstream_single_shard_connect(struct upstream_single *up)
{
	up->up_reader = redisReaderCreate();
	up->up_shard = endpoint_bev_new(up->up_ep, up->up_base);
	if (up->up_reader == NULL || up->up_shard == NULL)
		return -1;
	bufferevent_setcb(up->up_shard, upstream_single_shard_read_cb, NULL,
	    upstream_single_shard_event_cb, up);
	/* AUTH is written first: the socket sends it once it connects. */
	if ((up->up_shard_auth = endpoint_auth_bev(up->up_ep,
	    up->up_shard)) == -1)
		return -1;
	if (bufferevent_enable(up->up_shard, EV_READ) == -1 ||
	    endpoint_connect_bev(up->up_ep, up->up_shard) == -1)
		return -1;
	return 0;
}

/* Closes the shard connection, if open. */
static void
upstream_single_shard_close(struct upstream_single *up)
{
	if (up->up_shard != NULL)
		bufferevent_free(up->up_shard);
	if (up->up_reader != NULL)
		redisReaderFree(up->up_reader);
	up->up_shard = NULL;
	up->up_reader = NULL;
	up->up_shard_up = up->up_shard_auth = 0;
}

/* The shard connection connected, failed or closed. */
static void
upstream_single_shard_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct upstream_single	*up = arg;
	char		 why[256];

	if (what & BEV_EVENT_CONNECTED) {
		if (up->up_shard_auth)
			return;		/* up once Redis accepts the AUTH */
		up->up_shard_up = 1;
		upstream_single_maybe_up(up);
		return;
	}
	upstream_single_lost(up, endpoint_bev_error(up->up_ep, bev,
	    (what & BEV_EVENT_EOF) != 0, why, sizeof(why)));
}

/* Replies on the shard connection: parse and dispatch them. */
static void
upstream_single_shard_read_cb(struct bufferevent *bev, void *arg)
{
	struct upstream_single		*up = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer_iovec	 v[16];
	redisReply		*r;
	void			*reply;
	int			 i, n;

	while (evbuffer_get_length(in) > 0) {
		n = evbuffer_peek(in, -1, NULL, v, 16);
		if (n > 16)
			n = 16;
		for (i = 0; i < n; i++) {
			if (redisReaderFeed(up->up_reader, v[i].iov_base,
			    v[i].iov_len) != REDIS_OK) {
				upstream_single_lost(up, "out of memory");
				return;
			}
			evbuffer_drain(in, v[i].iov_len);
		}
	}
	for (;;) {
		if (redisReaderGetReply(up->up_reader, &reply) != REDIS_OK) {
			upstream_single_lost(up, "protocol error on the shard "
			    "connection");
			return;
		}
		if ((r = reply) == NULL)
			break;
		if (upstream_single_shard_reply(up, r) == -1)
			return;		/* the connection is lost */
		if (up->up_reader == NULL)
			break;		/* the dispatch lost the connection */
	}
}

/*
 * One reply on the shard connection (taken over and freed): the answer to
 * its AUTH, an error before the connection is up (a failure, as it is on
 * the subscriber connection), or something to dispatch. Returns -1 if it
 * lost the connection.
 */
static int
upstream_single_shard_reply(struct upstream_single *up, redisReply *r)
{
	char	why[256];
	int	auth = up->up_shard_auth;

	if (r->type == REDIS_REPLY_ERROR && (auth || !up->up_connected)) {
		snprintf(why, sizeof(why), "%s", r->str);
		freeReplyObject(r);
		upstream_single_refused(up, auth ? "AUTH" : "the shard "
		    "connection's first command", why);
		return -1;
	}
	if (auth) {
		freeReplyObject(r);
		up->up_shard_auth = 0;
		up->up_shard_up = 1;
		upstream_single_maybe_up(up);
		return 0;
	}
	if (r->type == REDIS_REPLY_ERROR &&
	    TAILQ_FIRST(&up->up_shard_q) != NULL) {
		/* Refused (MOVED, NOPERM): the oldest command's answer. */
		up->up_rx++;
		upstream_single_op_end(up, TAILQ_FIRST(&up->up_shard_q),
		    r->str);
		freeReplyObject(r);
		return 0;
	}
	upstream_single_dispatch(up, r);
	freeReplyObject(r);
	return 0;
}

/* Fails every operation in flight. */
static void
upstream_single_fail_all(struct upstream_single *up, const char *why)
{
	struct map_iter		 it;
	struct map_entry	*e;
	struct upstream_op	*op;

	map_iter_init(&it, &up->up_ops);
	while ((e = map_iter_next(&it)) != NULL) {
		op = MAP_ITEM(e, struct upstream_op, op_entry);
		map_remove(&up->up_ops, e);
		future_set_error(op->op_fut, "%s", why);
		future_unref(op->op_fut);
		free(op);
	}
	TAILQ_INIT(&up->up_shard_q);
}

/* Sends (UN)SUBSCRIBE for one name once the upstream is up. */
static struct future *
upstream_single_send(struct upstream_single *up, int sub,
    enum upstream_kind kind, const char *name, size_t len)
{
	struct future	*fut;

	if (!up->up_connected) {
		if ((fut = future_new()) != NULL)
			future_set_error(fut, "not connected to redis");
		return fut;
	}
	return upstream_single_send_any(up, sub, kind, name, len);
}

/*
 * Sends (UN)SUBSCRIBE for one name on whichever connection serves its kind
 * (both must be open) and returns the future of its confirmation.
 */
static struct future *
upstream_single_send_any(struct upstream_single *up, int sub,
    enum upstream_kind kind, const char *name, size_t len)
{
	struct upstream_op	*op = NULL;
	struct future		*fut;
	const char		*argv[2];
	size_t			 argvlen[2];
	char			*cmd;
	int			 n = 0;

	if ((fut = future_new()) == NULL)
		return NULL;
	if (up->up_ac == NULL || up->up_shard == NULL) {
		future_set_error(fut, "not connected to redis");
		return fut;
	}
	if ((op = malloc(sizeof(*op) + len + 1)) == NULL) {
		future_set_error(fut, "out of memory");
		return fut;
	}
	op->op_key[0] = (char)kind;
	memcpy(op->op_key + 1, name, len);
	op->op_keylen = len + 1;
	op->op_sub = sub;
	if (map_find(&up->up_ops, op->op_key, op->op_keylen) != NULL) {
		free(op);
		future_set_error(fut, "an operation on this name is in flight");
		return fut;
	}
	/* Known before it is sent: its answer may name no channel. */
	if (map_insert(&up->up_ops, &op->op_entry, op->op_key,
	    op->op_keylen) == -1) {
		free(op);
		future_set_error(fut, "out of memory");
		return fut;
	}
	argv[0] = sub ? upstream_single_sub_cmd[kind] :
	    upstream_single_unsub_cmd[kind];
	argvlen[0] = strlen(argv[0]);
	argv[1] = name;
	argvlen[1] = len;
	if (kind == UPSTREAM_SHARD) {
		if ((n = redisFormatCommandArgv(&cmd, 2, argv, argvlen)) < 0 ||
		    bufferevent_write(up->up_shard, cmd, (size_t)n) == -1) {
			if (n >= 0)
				redisFreeCommand(cmd);
			map_remove(&up->up_ops, &op->op_entry);
			free(op);
			future_set_error(fut, "out of memory");
			return fut;
		}
		redisFreeCommand(cmd);
		TAILQ_INSERT_TAIL(&up->up_shard_q, op, op_q);
	} else if (redisAsyncCommandArgv(up->up_ac, upstream_single_reply_cb,
	    up, 2, argv, argvlen) != REDIS_OK) {
		map_remove(&up->up_ops, &op->op_entry);
		free(op);
		future_set_error(fut, "redis refused the command");
		return fut;
	}
	op->op_fut = future_ref(fut);
	return fut;
}

/* Sends SUBSCRIBE, PSUBSCRIBE or SSUBSCRIBE. */
static struct future *
upstream_single_subscribe(struct upstream *u, enum upstream_kind kind,
    const char *name, size_t len)
{
	return upstream_single_send((void *)u, 1, kind, name, len);
}

/* Sends UNSUBSCRIBE, PUNSUBSCRIBE or SUNSUBSCRIBE. */
static struct future *
upstream_single_unsubscribe(struct upstream *u, enum upstream_kind kind,
    const char *name, size_t len)
{
	return upstream_single_send((void *)u, 0, kind, name, len);
}

/* Completes the operation a confirmation answers. */
static void
upstream_single_complete(struct upstream_single *up, int sub,
    enum upstream_kind kind, const redisReply *r)
{
	struct map_entry	*e;
	struct upstream_op	*op;
	char			 stackkey[256], *key = stackkey;
	size_t			 keylen = r->element[1]->len + 1;

	if (keylen > sizeof(stackkey) && (key = malloc(keylen)) == NULL)
		return;
	key[0] = (char)kind;
	memcpy(key + 1, r->element[1]->str, keylen - 1);
	e = map_find(&up->up_ops, key, keylen);
	if (key != stackkey)
		free(key);
	if (e == NULL && !sub && kind == UPSTREAM_SHARD) {
		upstream_single_dropped(up, r->element[1]->str,
		    r->element[1]->len);
		return;
	}
	if (e == NULL) {
		log_debug("unexpected confirmation from redis");
		return;
	}
	op = MAP_ITEM(e, struct upstream_op, op_entry);
	if (op->op_sub != sub) {
		log_debug("confirmation of the other operation: ignored");
		return;
	}
	upstream_single_op_end(up, op, NULL);
}

/*
 * Ends op: done, or failed with error if that is not NULL. Its future's
 * callbacks may run from here.
 */
static void
upstream_single_op_end(struct upstream_single *up, struct upstream_op *op,
    const char *error)
{
	map_remove(&up->up_ops, &op->op_entry);
	if ((unsigned char)op->op_key[0] == UPSTREAM_SHARD)
		TAILQ_REMOVE(&up->up_shard_q, op, op_q);
	if (error != NULL)
		future_set_error(op->op_fut, "%s", error);
	else
		future_set_result(op->op_fut, NULL, NULL);
	future_unref(op->op_fut);
	free(op);
}

/*
 * A cluster node let go of a shard channel unasked (its slot moved, or the
 * node is a master no more): the owner subscribes it again elsewhere. If it
 * is pubsubd's own channel, the node is reached anew, for its barriers and
 * heartbeat cannot work without it.
 */
static void
upstream_single_dropped(struct upstream_single *up, const char *name,
    size_t len)
{
	const char	*own = upstream_private_name(up->up_private);

	if (len == strlen(own) && memcmp(name, own, len) == 0) {
		upstream_single_lost(up, "redis dropped pubsubd's private "
		    "shard channel (its slot moved)");
		return;
	}
	log_debug("redis at %s dropped shard channel '%.*s'", up->up_name,
	    (int)(len > 200 ? 200 : len), name);
	if (up->up_cbs.on_lost != NULL)
		up->up_cbs.on_lost(up->up_arg, UPSTREAM_SHARD, name, len);
}

/* Every reply on the subscriber connection. */
static void
upstream_single_reply_cb(redisAsyncContext *ac, void *reply, void *arg)
{
	/* NULL: going away; upstream_single_lost() fails the operations. */
	if (reply != NULL)
		upstream_single_dispatch(arg, reply);
	(void)ac;
}

/* A reply on either connection: a confirmation or a message. */
static void
upstream_single_dispatch(struct upstream_single *up, const redisReply *r)
{
	const redisReply	*t;
	struct upstream_msg	 m;
	const char		*type;

	up->up_rx++;		/* the connection lives: see the health check */
	if (r->type == REDIS_REPLY_ERROR) {
		log_warnx("redis: %s", r->str);
		return;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
	    (t = r->element[0])->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_STRING) {
		log_warnx("redis: unexpected reply on the subscriber "
		    "connection");
		return;
	}
	type = t->str;
	memset(&m, 0, sizeof(m));
	if (strcmp(type, "message") == 0 || strcmp(type, "smessage") == 0) {
		if (r->element[2]->type != REDIS_REPLY_STRING)
			return;
		if (upstream_single_private(up, type[0] == 's', r, 1))
			return;
		m.kind = type[0] == 's' ? UPSTREAM_SHARD : UPSTREAM_CHANNEL;
		m.channel = r->element[1]->str;
		m.channellen = r->element[1]->len;
		m.payload = r->element[2]->str;
		m.payloadlen = r->element[2]->len;
		up->up_cbs.on_message(up->up_arg, &m);
	} else if (strcmp(type, "pmessage") == 0) {
		if (r->elements < 4 ||
		    r->element[2]->type != REDIS_REPLY_STRING ||
		    r->element[3]->type != REDIS_REPLY_STRING)
			return;
		if (upstream_single_private(up, -1, r, 2))
			return;		/* a user pattern matched our channel */
		m.kind = UPSTREAM_PATTERN;
		m.pattern = r->element[1]->str;
		m.patternlen = r->element[1]->len;
		m.channel = r->element[2]->str;
		m.channellen = r->element[2]->len;
		m.payload = r->element[3]->str;
		m.payloadlen = r->element[3]->len;
		up->up_cbs.on_message(up->up_arg, &m);
	} else if (strcmp(type, "subscribe") == 0)
		upstream_single_complete(up, 1, UPSTREAM_CHANNEL, r);
	else if (strcmp(type, "unsubscribe") == 0)
		upstream_single_complete(up, 0, UPSTREAM_CHANNEL, r);
	else if (strcmp(type, "psubscribe") == 0)
		upstream_single_complete(up, 1, UPSTREAM_PATTERN, r);
	else if (strcmp(type, "punsubscribe") == 0)
		upstream_single_complete(up, 0, UPSTREAM_PATTERN, r);
	else if (strcmp(type, "ssubscribe") == 0)
		upstream_single_complete(up, 1, UPSTREAM_SHARD, r);
	else if (strcmp(type, "sunsubscribe") == 0)
		upstream_single_complete(up, 0, UPSTREAM_SHARD, r);
	else
		log_debug("redis: ignored '%s' on the subscriber connection",
		    type);
}

/*
 * The command connection, remade if it was lost; NULL when out of memory.
 * Borrowed: the upstream keeps it.
 */
static struct cmdconn *
upstream_single_cmdconn(struct upstream_single *up)
{
	if (up->up_cmd != NULL && cmdconn_is_lost(up->up_cmd)) {
		cmdconn_free(up->up_cmd);
		up->up_cmd = NULL;
	}
	if (up->up_cmd == NULL)
		up->up_cmd = cmdconn_new_at(up->up_base, up->up_ep, 0, NULL,
		    NULL);
	return up->up_cmd;
}

/* Sends a command on the command connection, remaking it if it was lost. */
static struct future *
upstream_single_command(struct upstream *u, int argc, const char *const *argv,
    const size_t *argvlen)
{
	struct cmdconn	*cc;

	if ((cc = upstream_single_cmdconn((void *)u)) == NULL)
		return NULL;
	return cmdconn_command(cc, argc, argv, argvlen);
}

/*
 * A barrier for messages of kind: a new future owned by the caller, done
 * once every message Redis sent for kind before now has been handed to the
 * owner (done at once when not connected).
 */
struct future *
upstream_single_barrier(struct upstream *u, enum upstream_kind kind)
{
	struct upstream_single	*up = (void *)u;
	struct future		*fut;

	if (!up->up_connected) {
		if ((fut = future_new()) != NULL)
			future_set_result(fut, NULL, NULL);
		return fut;
	}
	return upstream_private_barrier(up->up_private,
	    kind == UPSTREAM_SHARD, upstream_single_cmdconn(up));
}

/*
 * If reply r is a message on pubsubd's private channel (its channel name at
 * element i), consumes it: a barrier token on connection k (0 main, 1
 * shard; -1 when a user pattern matched it, which is only dropped). Returns
 * whether it was one.
 */
static int
upstream_single_private(struct upstream_single *up, int k,
    const redisReply *r, size_t i)
{
	const redisReply	*ch = r->element[i], *token = NULL;

	if (r->elements > i + 1 && r->element[i + 1]->type ==
	    REDIS_REPLY_STRING)
		token = r->element[i + 1];
	return upstream_private_message(up->up_private, k, ch->str, ch->len,
	    token != NULL ? token->str : NULL);
}

/* A private subscription was confirmed (or failed: the connection is lost). */
static void
upstream_single_private_done(struct future *fut, void *arg)
{
	struct upstream_single	*up = arg;

	if (future_state(fut) != FUTURE_DONE)
		return;
	up->up_private_ok++;
	upstream_single_maybe_up(up);
}

/* The upstream's outage counters. */
static const struct upstream_stats *
upstream_single_stats(const struct upstream *u)
{
	const struct upstream_single	*up = (const void *)u;

	return &up->up_stats;
}

/* What the upstream learnt of Redis. */
static const struct upstream_facts *
upstream_single_facts(const struct upstream *u)
{
	const struct upstream_single	*up = (const void *)u;

	return up->up_facts;
}

/* Where its connections go: always the one address. */
static const struct endpoint *
upstream_single_endpoint(const struct upstream *u)
{
	const struct upstream_single	*up = (const void *)u;

	return up->up_ep;
}
