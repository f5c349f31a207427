/*
 * upstream.c: the subscriber connection to Redis, on hiredis' async API and
 * its libevent adapter.
 *
 * hiredis keeps, per subscribed name, the callback given with SUBSCRIBE and
 * calls it for the confirmation, every message and the unsubscribe
 * confirmation. We give every command the same callback with the upstream as
 * its argument and route on the reply itself, so nothing hiredis keeps can
 * point at an object we free. Operations in flight are kept in a map from
 * (kind, name) to the future their confirmation completes.
 *
 * hiredis' lifetime rules, followed here: a reply is borrowed for the
 * callback only; a NULL reply means the context is going away; after a failed
 * connect or a disconnect hiredis frees the context itself, so our pointer is
 * cleared in those callbacks; the context is never freed from inside one of
 * its own callbacks.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "future.h"
#include "log.h"
#include "map.h"
#include "upstream.h"

#define UPSTREAM_BACKOFF_MIN_MS	100
#define UPSTREAM_BACKOFF_MAX_MS	5000

/* An operation in flight: its key is the kind's byte followed by the name. */
struct upstream_op {
	struct map_entry	 op_entry;
	struct future		*op_fut;	/* owned ref */
	int			 op_sub;	/* subscribe, else unsubscribe */
	size_t			 op_keylen;
	char			 op_key[];
};

struct upstream {
	struct event_base	*up_base;	/* borrowed */
	char			*up_host;	/* owned */
	int			 up_port;
	struct upstream_cbs	 up_cbs;
	void			*up_arg;
	redisAsyncContext	*up_ac;		/* owned while not NULL */
	int			 up_connected;
	int			 up_started;
	int			 up_freeing;
	struct map		 up_ops;	/* of struct upstream_op */
	struct event		*up_retry_ev;	/* owned: reconnect timer */
	int			 up_backoff_ms;
};

static void	upstream_connect(struct upstream *);
static void	upstream_retry_later(struct upstream *);
static void	upstream_retry_cb(evutil_socket_t, short, void *);
static void	upstream_connect_cb(const redisAsyncContext *, int);
static void	upstream_disconnect_cb(const redisAsyncContext *, int);
static void	upstream_reply_cb(redisAsyncContext *, void *, void *);
static void	upstream_lost(struct upstream *, const char *);
static void	upstream_fail_all(struct upstream *, const char *);
static struct future *upstream_send(struct upstream *, int,
		    enum upstream_kind, const char *, size_t);
static void	upstream_complete(struct upstream *, int, enum upstream_kind,
		    const redisReply *);

static const char *const upstream_sub_cmd[UPSTREAM_KINDS] = {
	"SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE"
};
static const char *const upstream_unsub_cmd[UPSTREAM_KINDS] = {
	"UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE"
};

/* Returns a new, not yet connected upstream. */
struct upstream *
upstream_new(struct event_base *base, const char *host, int port,
    const struct upstream_cbs *cbs, void *arg)
{
	struct upstream	*up;

	if ((up = calloc(1, sizeof(*up))) == NULL)
		return NULL;
	up->up_base = base;
	up->up_port = port;
	up->up_cbs = *cbs;
	up->up_arg = arg;
	up->up_backoff_ms = UPSTREAM_BACKOFF_MIN_MS;
	map_init(&up->up_ops);
	up->up_host = strdup(host);
	up->up_retry_ev = evtimer_new(base, upstream_retry_cb, up);
	if (up->up_host == NULL || up->up_retry_ev == NULL) {
		upstream_free(up);
		return NULL;
	}
	return up;
}

/* Starts connecting. */
void
upstream_start(struct upstream *up)
{
	up->up_started = 1;
	upstream_connect(up);
}

/* Disconnects and frees; pending futures fail. */
void
upstream_free(struct upstream *up)
{
	if (up == NULL)
		return;
	up->up_freeing = 1;
	if (up->up_ac != NULL) {
		/* Runs our callbacks with NULL replies, then the disconnect one. */
		redisAsyncFree(up->up_ac);
		up->up_ac = NULL;
	}
	upstream_fail_all(up, "upstream closed");
	map_clear(&up->up_ops);
	if (up->up_retry_ev != NULL)
		event_free(up->up_retry_ev);
	free(up->up_host);
	free(up);
}

/* Whether the connection is up. */
int
upstream_connected(const struct upstream *up)
{
	return up->up_connected;
}

/* Starts one connection attempt; failures schedule the next. */
static void
upstream_connect(struct upstream *up)
{
	redisAsyncContext	*ac;

	log_debug("connecting to redis at %s:%d", up->up_host, up->up_port);
	ac = redisAsyncConnect(up->up_host, up->up_port);
	if (ac == NULL) {
		log_warnx("redis %s:%d: out of memory", up->up_host,
		    up->up_port);
		upstream_retry_later(up);
		return;
	}
	if (ac->err) {
		log_warnx("redis %s:%d: %s", up->up_host, up->up_port,
		    ac->errstr);
		redisAsyncFree(ac);
		upstream_retry_later(up);
		return;
	}
	ac->data = up;
	if (redisLibeventAttach(ac, up->up_base) != REDIS_OK) {
		log_warnx("redis %s:%d: cannot attach to the event loop",
		    up->up_host, up->up_port);
		redisAsyncFree(ac);
		upstream_retry_later(up);
		return;
	}
	redisAsyncSetConnectCallback(ac, upstream_connect_cb);
	redisAsyncSetDisconnectCallback(ac, upstream_disconnect_cb);
	up->up_ac = ac;
}

/* Schedules a reconnect after the backoff, with jitter, and doubles it. */
static void
upstream_retry_later(struct upstream *up)
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
	if (up->up_backoff_ms > UPSTREAM_BACKOFF_MAX_MS)
		up->up_backoff_ms = UPSTREAM_BACKOFF_MAX_MS;
}

/* The reconnect timer fired. */
static void
upstream_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	upstream_connect(arg);
}

/* hiredis finished connecting, or failed to (then it frees the context). */
static void
upstream_connect_cb(const redisAsyncContext *ac, int status)
{
	struct upstream	*up = ac->data;

	if (status != REDIS_OK) {
		log_warnx("cannot connect to redis at %s:%d: %s", up->up_host,
		    up->up_port, ac->errstr);
		up->up_ac = NULL;
		upstream_retry_later(up);
		return;
	}
	log_notice("connected to redis at %s:%d", up->up_host, up->up_port);
	up->up_connected = 1;
	up->up_backoff_ms = UPSTREAM_BACKOFF_MIN_MS;
	up->up_cbs.on_state(up->up_arg, 1);
}

/* The connection is gone; hiredis frees the context after this returns. */
static void
upstream_disconnect_cb(const redisAsyncContext *ac, int status)
{
	struct upstream	*up = ac->data;

	up->up_ac = NULL;
	if (up->up_freeing)
		return;
	upstream_lost(up, status == REDIS_OK ? "connection closed" :
	    ac->errstr);
}

/* Handles the loss of the connection: fail what was pending, tell, retry. */
static void
upstream_lost(struct upstream *up, const char *why)
{
	int	was = up->up_connected;

	log_warnx("lost connection to redis at %s:%d: %s", up->up_host,
	    up->up_port, why);
	up->up_connected = 0;
	upstream_fail_all(up, "connection to redis lost");
	if (was)
		up->up_cbs.on_state(up->up_arg, 0);
	upstream_retry_later(up);
}

/* Fails every operation in flight. */
static void
upstream_fail_all(struct upstream *up, const char *why)
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
}

/* Sends (UN)SUBSCRIBE for one name and returns the future of its reply. */
static struct future *
upstream_send(struct upstream *up, int sub, enum upstream_kind kind,
    const char *name, size_t len)
{
	struct upstream_op	*op = NULL;
	struct future		*fut;
	const char		*argv[2];
	size_t			 argvlen[2];

	if ((fut = future_new()) == NULL)
		return NULL;
	if (!up->up_connected || up->up_ac == NULL) {
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
	argv[0] = sub ? upstream_sub_cmd[kind] : upstream_unsub_cmd[kind];
	argvlen[0] = strlen(argv[0]);
	argv[1] = name;
	argvlen[1] = len;
	if (redisAsyncCommandArgv(up->up_ac, upstream_reply_cb, up, 2, argv,
	    argvlen) != REDIS_OK) {
		free(op);
		future_set_error(fut, "redis refused the command");
		return fut;
	}
	if (map_insert(&up->up_ops, &op->op_entry, op->op_key,
	    op->op_keylen) == -1) {
		/* The command is sent; its confirmation will find nothing. */
		free(op);
		future_set_error(fut, "out of memory");
		return fut;
	}
	op->op_fut = future_ref(fut);
	return fut;
}

/* Sends SUBSCRIBE or PSUBSCRIBE. */
struct future *
upstream_subscribe(struct upstream *up, enum upstream_kind kind,
    const char *name, size_t len)
{
	return upstream_send(up, 1, kind, name, len);
}

/* Sends UNSUBSCRIBE or PUNSUBSCRIBE. */
struct future *
upstream_unsubscribe(struct upstream *up, enum upstream_kind kind,
    const char *name, size_t len)
{
	return upstream_send(up, 0, kind, name, len);
}

/* Completes the operation a confirmation answers. */
static void
upstream_complete(struct upstream *up, int sub, enum upstream_kind kind,
    const redisReply *r)
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
	if (e == NULL) {
		log_debug("unexpected confirmation from redis");
		return;
	}
	op = MAP_ITEM(e, struct upstream_op, op_entry);
	if (op->op_sub != sub) {
		log_debug("confirmation of the other operation: ignored");
		return;
	}
	map_remove(&up->up_ops, e);
	future_set_result(op->op_fut, NULL, NULL);
	future_unref(op->op_fut);
	free(op);
}

/* Every reply on the connection: confirmations and messages. */
static void
upstream_reply_cb(redisAsyncContext *ac, void *reply, void *arg)
{
	struct upstream		*up = arg;
	const redisReply	*r = reply, *t;
	struct upstream_msg	 m;
	const char		*type;

	if (r == NULL)
		return;		/* going away: upstream_lost() fails ops */
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
		m.kind = UPSTREAM_PATTERN;
		m.pattern = r->element[1]->str;
		m.patternlen = r->element[1]->len;
		m.channel = r->element[2]->str;
		m.channellen = r->element[2]->len;
		m.payload = r->element[3]->str;
		m.payloadlen = r->element[3]->len;
		up->up_cbs.on_message(up->up_arg, &m);
	} else if (strcmp(type, "subscribe") == 0)
		upstream_complete(up, 1, UPSTREAM_CHANNEL, r);
	else if (strcmp(type, "unsubscribe") == 0)
		upstream_complete(up, 0, UPSTREAM_CHANNEL, r);
	else if (strcmp(type, "psubscribe") == 0)
		upstream_complete(up, 1, UPSTREAM_PATTERN, r);
	else if (strcmp(type, "punsubscribe") == 0)
		upstream_complete(up, 0, UPSTREAM_PATTERN, r);
	else if (strcmp(type, "ssubscribe") == 0)
		upstream_complete(up, 1, UPSTREAM_SHARD, r);
	else if (strcmp(type, "sunsubscribe") == 0)
		upstream_complete(up, 0, UPSTREAM_SHARD, r);
	else
		log_debug("redis: ignored '%s' on the subscriber connection",
		    type);
	(void)ac;
}
