/*
 * client.c: one TCP client of pubsubd, served by a coroutine.
 *
 * Reading only fills the input buffer and wakes the client's coroutine,
 * which parses and serves one request at a time, in order: a SUBSCRIBE asks
 * the hub for each channel, awaits each subscription's future (done when
 * Redis has confirmed the upstream subscription), then activates it and
 * queues its confirmation in the same step, so no message of a channel can
 * reach the client before the confirmation of that channel.
 *
 * Output: replies are appended to c_out and written at the end of the loop
 * turn; messages arrive from the hub once per batch (hub_subscriber_ops
 * deliver) and go straight to the socket when nothing is queued before them,
 * or are referenced, not copied, behind what is queued. A write event exists
 * only once the socket has been full.
 *
 * Closing is two-phase: client_close() stops the client at once (and may let
 * it flush first); the teardown that touches the hub and frees memory runs
 * from the set's reap event on a later loop turn, never from inside one of
 * the client's own callbacks or the hub's.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "client.h"
#include "coro.h"
#include "future.h"
#include "hub.h"
#include "log.h"
#include "map.h"
#include "resp.h"

#define CLIENT_READ_MAX		(64 * 1024)	/* bytes per read call */
#define CLIENT_CLOSE_FLUSH_SEC	5		/* bound on flushing at close */

#define CLIENT_EOF		0x01	/* the peer closed its side */
#define CLIENT_CLOSING		0x02	/* flushing, then teardown */
#define CLIENT_DEAD		0x04	/* waiting for teardown */
#define CLIENT_FLUSH_QUEUED	0x08	/* in the set's flush queue */
#define CLIENT_WAIT_WRITE	0x10	/* the write event is pending */

/* One channel of a SUBSCRIBE being served. */
struct client_pending {
	struct hub_sub	*p_sub;		/* owned by the hub; NULL: duplicate */
	struct future	*p_ready;	/* owned ref, or NULL */
	int		 p_nomem;
};

struct client {
	struct hub_subscriber	 c_hs;		/* the hub's view; first */
	struct client_set	*c_set;		/* borrowed */
	evutil_socket_t		 c_fd;		/* owned */
	uint64_t		 c_id;
	int			 c_flags;
	const char		*c_close_reason;	/* static string */
	struct event		*c_rev;		/* owned: persistent read */
	struct event		*c_wev;		/* owned, lazily made */
	struct evbuffer		*c_in;		/* owned */
	struct evbuffer		*c_out;		/* owned, lazily made */
	struct resp_parser	*c_parser;	/* owned */
	struct future		*c_co;		/* owned ref: the coroutine */
	struct future		*c_input;	/* owned ref: awaited input */
	struct map		 c_subs[UPSTREAM_KINDS];	/* of hub_sub */
	uint32_t		 c_nsubs;	/* confirmed channels+patterns */

	/* The coroutine's state across awaits. */
	struct resp_req		 c_req;
	int			 c_argi;
	struct client_pending	*c_pending;	/* owned, argc entries */

	TAILQ_ENTRY(client)	 c_entry;	/* set's clients or dead */
	TAILQ_ENTRY(client)	 c_flush_entry;	/* set's flush queue */
};

TAILQ_HEAD(client_list, client);

struct client_set {
	struct event_base	*s_base;	/* borrowed */
	struct hub		*s_hub;		/* borrowed */
	struct client_list	 s_clients;
	struct client_list	 s_dead;
	struct client_list	 s_flushq;
	struct event		*s_flush_ev;	/* owned */
	struct event		*s_reap_ev;	/* owned */
	uint64_t		 s_next_id;
	struct client_stats	 s_stats;
};

/* A command pubsubd serves itself. */
struct client_cmd {
	const char	*name;		/* lower case, as in Redis' errors */
	int		 arity;		/* N: exactly N; -N: at least N */
	int		 pubsub_ok;	/* allowed in RESP2 subscribed mode */
	int		 subscribe;	/* served by the coroutine's awaits */
	void		(*fn)(struct client *);	/* NULL: QUIT */
};

static void	client_read_cb(evutil_socket_t, short, void *);
static void	client_write_cb(evutil_socket_t, short, void *);
static void	client_flush_cb(evutil_socket_t, short, void *);
static void	client_reap_cb(evutil_socket_t, short, void *);
static void	client_co_done(struct future *, void *);
static int	client_run(struct coro *, void *);
static void	client_deliver(struct hub_subscriber *, struct hub_batch *,
		    const char *, size_t);
static void	client_finish(struct client *);
static void	client_free(struct client *);
static void	client_wake(struct client *);
static void	client_write(struct client *);
static int	client_wait_write(struct client *, const struct timeval *);
static struct evbuffer *client_out(struct client *);
static void	client_queue_write(struct client *);
static void	client_reply_error(struct client *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	client_reply_subscription(struct client *, const char *,
		    const char *, size_t, uint32_t);
static const struct client_cmd *client_lookup(struct client *);
static int	client_subscribe_start(struct client *);
static void	client_subscribe_finish(struct client *, int);
static void	client_pending_free(struct client *);
static void	client_drop_sub(struct client *, struct hub_sub *);
static void	cmd_unsubscribe(struct client *);
static void	cmd_ping(struct client *);

static const struct hub_subscriber_ops client_hs_ops = { client_deliver };

static const struct client_cmd client_cmds[] = {
	{ "subscribe",		-2, 1, 1, NULL },
	{ "unsubscribe",	-1, 1, 0, cmd_unsubscribe },
	{ "ping",		-1, 1, 0, cmd_ping },
	{ "quit",		-1, 1, 0, NULL },
};

/* Returns a new, empty client set. */
struct client_set *
client_set_new(struct event_base *base, struct hub *hub)
{
	struct client_set	*set;

	if ((set = calloc(1, sizeof(*set))) == NULL)
		return NULL;
	set->s_base = base;
	set->s_hub = hub;
	set->s_next_id = 1;
	TAILQ_INIT(&set->s_clients);
	TAILQ_INIT(&set->s_dead);
	TAILQ_INIT(&set->s_flushq);
	set->s_flush_ev = event_new(base, -1, 0, client_flush_cb, set);
	set->s_reap_ev = event_new(base, -1, 0, client_reap_cb, set);
	if (set->s_flush_ev == NULL || set->s_reap_ev == NULL) {
		client_set_free(set);
		return NULL;
	}
	return set;
}

/* Closes every client now and frees the set. */
void
client_set_free(struct client_set *set)
{
	struct client	*c;

	if (set == NULL)
		return;
	while ((c = TAILQ_FIRST(&set->s_clients)) != NULL) {
		c->c_close_reason = "shutting down";
		client_finish(c);	/* also those still flushing */
	}
	while ((c = TAILQ_FIRST(&set->s_dead)) != NULL) {
		TAILQ_REMOVE(&set->s_dead, c, c_entry);
		client_free(c);
	}
	if (set->s_flush_ev != NULL)
		event_free(set->s_flush_ev);
	if (set->s_reap_ev != NULL)
		event_free(set->s_reap_ev);
	free(set);
}

/* The set's counters. */
const struct client_stats *
client_set_stats(const struct client_set *set)
{
	return &set->s_stats;
}

/* Serves a new connection; owns fd on every path. */
struct client *
client_accept(struct client_set *set, evutil_socket_t fd)
{
	struct client	*c;
	int		 one = 1, k;

	if (evutil_make_socket_nonblocking(fd) == -1 ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("accept");
		evutil_closesocket(fd);
		return NULL;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->c_set = set;
	c->c_fd = fd;
	c->c_id = set->s_next_id++;
	hub_subscriber_init(&c->c_hs, &client_hs_ops);
	for (k = 0; k < UPSTREAM_KINDS; k++)
		map_init(&c->c_subs[k]);
	TAILQ_INSERT_TAIL(&set->s_clients, c, c_entry);
	set->s_stats.connected++;
	set->s_stats.accepted++;
	c->c_in = evbuffer_new();
	c->c_parser = resp_parser_new(NULL);
	c->c_rev = event_new(set->s_base, fd, EV_READ | EV_PERSIST,
	    client_read_cb, c);
	if (c->c_in == NULL || c->c_parser == NULL || c->c_rev == NULL ||
	    event_add(c->c_rev, NULL) == -1 ||
	    (c->c_co = coro_spawn(set->s_base, client_run, c, NULL)) == NULL) {
		log_warnx("client %llu: out of memory",
		    (unsigned long long)c->c_id);
		client_close(c, 0, "out of memory");
		return NULL;
	}
	future_add_callback(c->c_co, client_co_done, c);
	log_debug("client %llu: connected", (unsigned long long)c->c_id);
	return c;
}

/* Stops a client; teardown follows on a later loop turn. */
void
client_close(struct client *c, int flush, const char *reason)
{
	struct timeval	tv = { CLIENT_CLOSE_FLUSH_SEC, 0 };

	if (c->c_flags & (CLIENT_DEAD | CLIENT_CLOSING))
		return;
	c->c_close_reason = reason;
	if (c->c_rev != NULL)
		event_del(c->c_rev);
	if (c->c_co != NULL)
		future_cancel(c->c_co);	/* no-op once it has finished */
	if (flush && c->c_out != NULL && evbuffer_get_length(c->c_out) > 0) {
		hub_subscriber_flush(c->c_set->s_hub, &c->c_hs);
		c->c_flags |= CLIENT_CLOSING;
		if (client_wait_write(c, &tv) == 0)
			return;
	}
	client_finish(c);
}

/* Marks a client dead and queues its teardown. */
static void
client_finish(struct client *c)
{
	struct client_set	*set = c->c_set;

	if (c->c_flags & CLIENT_DEAD)
		return;
	log_debug("client %llu: closed: %s", (unsigned long long)c->c_id,
	    c->c_close_reason ? c->c_close_reason : "closed");
	c->c_flags |= CLIENT_DEAD;
	if (c->c_co != NULL)
		future_cancel(c->c_co);	/* no-op once it has finished */
	if (c->c_flags & CLIENT_FLUSH_QUEUED) {
		TAILQ_REMOVE(&set->s_flushq, c, c_flush_entry);
		c->c_flags &= ~CLIENT_FLUSH_QUEUED;
	}
	if (c->c_rev != NULL)
		event_del(c->c_rev);
	if (c->c_wev != NULL)
		event_del(c->c_wev);
	TAILQ_REMOVE(&set->s_clients, c, c_entry);
	TAILQ_INSERT_TAIL(&set->s_dead, c, c_entry);
	set->s_stats.connected--;
	event_active(set->s_reap_ev, 0, 0);
}

/* Releases everything a dead client holds. */
static void
client_free(struct client *c)
{
	struct hub		*hub = c->c_set->s_hub;
	struct map_iter		 it;
	struct map_entry	*e;
	int			 k;

	hub_subscriber_forget(hub, &c->c_hs);
	client_pending_free(c);
	for (k = 0; k < UPSTREAM_KINDS; k++) {
		map_iter_init(&it, &c->c_subs[k]);
		while ((e = map_iter_next(&it)) != NULL)
			client_drop_sub(c, MAP_ITEM(e, struct hub_sub,
			    hs_owner_entry));
		map_clear(&c->c_subs[k]);
	}
	future_unref(c->c_input);
	future_unref(c->c_co);
	if (c->c_rev != NULL)
		event_free(c->c_rev);
	if (c->c_wev != NULL)
		event_free(c->c_wev);
	if (c->c_in != NULL)
		evbuffer_free(c->c_in);
	if (c->c_out != NULL)
		evbuffer_free(c->c_out);
	resp_parser_free(c->c_parser);
	evutil_closesocket(c->c_fd);
	free(c);
}

/* Tears down the clients closed since the last turn. */
static void
client_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client_set	*set = arg;
	struct client		*c;

	while ((c = TAILQ_FIRST(&set->s_dead)) != NULL) {
		TAILQ_REMOVE(&set->s_dead, c, c_entry);
		client_free(c);
	}
}

/* Removes one subscription from the client and from the hub. */
static void
client_drop_sub(struct client *c, struct hub_sub *sub)
{
	enum upstream_kind	kind = hub_sub_kind(sub);

	map_remove(&c->c_subs[kind], &sub->hs_owner_entry);
	if (hub_sub_active(sub) && kind != UPSTREAM_SHARD)
		c->c_nsubs--;
	hub_unsubscribe(c->c_set->s_hub, sub);
}

/* The coroutine finished (QUIT, end of input, protocol error) or failed. */
static void
client_co_done(struct future *co, void *arg)
{
	struct client	*c = arg;

	switch (future_state(co)) {
	case FUTURE_DONE:
		client_close(c, 1, future_result(co));
		break;
	case FUTURE_FAILED:
		log_warnx("client %llu: %s", (unsigned long long)c->c_id,
		    future_error(co));
		client_close(c, 1, "internal error");
		break;
	default:
		break;		/* cancelled: client_close() is under way */
	}
}

/* Input arrived or the peer closed: wake the coroutine if it waits. */
static void
client_wake(struct client *c)
{
	if (c->c_input != NULL && future_is_pending(c->c_input))
		future_set_result(c->c_input, NULL, NULL);
}

/* The socket is readable. */
static void
client_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client	*c = arg;
	int		 n;

	n = evbuffer_read(c->c_in, fd, CLIENT_READ_MAX);
	if (n > 0) {
		client_wake(c);
		return;
	}
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return;
	if (n == -1) {
		client_close(c, 0, "read error");
		return;
	}
	/* End of input: serve what was read, then close. */
	c->c_flags |= CLIENT_EOF;
	event_del(c->c_rev);
	client_wake(c);
}

/*
 * The client's coroutine: parse a request, serve it, repeat. Everything that
 * lives across an await is in struct client (c_req, c_argi, c_pending).
 */
static int
client_run(struct coro *co, void *arg)
{
	struct client		*c = arg;
	const struct client_cmd	*cmd;
	enum resp_status	 st;

	CO_BEGIN(co);
	for (;;) {
		st = resp_parse(c->c_parser, c->c_in, &c->c_req);
		if (st == RESP_NEED_MORE) {
			if (c->c_flags & CLIENT_EOF)
				CO_RETURN(co, (void *)"end of input", NULL);
			if ((c->c_input = future_new()) == NULL)
				CO_FAIL(co, "out of memory");
			CO_AWAIT(co, c->c_input);
			future_unref(c->c_input);
			c->c_input = NULL;
			continue;
		}
		if (st == RESP_PROTO_ERROR) {
			c->c_set->s_stats.protocol_errors++;
			client_reply_error(c, "ERR %s",
			    resp_parser_error(c->c_parser));
			CO_RETURN(co, (void *)"protocol error", NULL);
		}
		c->c_set->s_stats.commands++;
		if ((cmd = client_lookup(c)) == NULL)
			continue;
		if (cmd->subscribe) {
			if (client_subscribe_start(c) == -1)
				continue;
			for (c->c_argi = 1; c->c_argi < c->c_req.argc;
			    c->c_argi++) {
				if (c->c_pending[c->c_argi].p_ready != NULL)
					CO_AWAIT(co,
					    c->c_pending[c->c_argi].p_ready);
				client_subscribe_finish(c, c->c_argi);
			}
			client_pending_free(c);
		} else if (cmd->fn == NULL) {
			resp_add_simple(client_out(c), "OK");
			client_queue_write(c);
			CO_RETURN(co, (void *)"quit", NULL);
		} else
			cmd->fn(c);
	}
	CO_END(co);
}

/*
 * Finds the command of the current request and checks it as Redis does
 * (unknown, arity, subscribed mode), replying the error itself; NULL then.
 */
static const struct client_cmd *
client_lookup(struct client *c)
{
	const struct client_cmd	*cmd = NULL;
	const struct resp_req	*r = &c->c_req;
	char			 args[160];
	size_t			 i, n = 0;
	int			 a;

	for (i = 0; i < sizeof(client_cmds) / sizeof(client_cmds[0]); i++) {
		if (r->argvlen[0] == strlen(client_cmds[i].name) &&
		    strncasecmp(r->argv[0], client_cmds[i].name,
		    r->argvlen[0]) == 0) {
			cmd = &client_cmds[i];
			break;
		}
	}
	if (cmd == NULL) {
		/* Redis' own words: the first arguments, up to 128 bytes. */
		args[0] = '\0';
		for (a = 1; a < r->argc && n < 128; a++) {
			snprintf(args + n, sizeof(args) - n, "'%.*s' ",
			    (int)(128 - n), r->argv[a]);
			n = strlen(args);
		}
		client_reply_error(c, "ERR unknown command '%.128s', with args "
		    "beginning with: %s", r->argv[0], args);
		return NULL;
	}
	if ((cmd->arity > 0 && r->argc != cmd->arity) ||
	    (cmd->arity < 0 && r->argc < -cmd->arity)) {
		client_reply_error(c, "ERR wrong number of arguments for '%s' "
		    "command", cmd->name);
		return NULL;
	}
	if (c->c_nsubs > 0 && !cmd->pubsub_ok) {
		client_reply_error(c, "ERR Can't execute '%s': only (P|S)"
		    "SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are "
		    "allowed in this context", cmd->name);
		return NULL;
	}
	return cmd;
}

/*
 * Starts a SUBSCRIBE: asks the hub for every channel not yet held, so that
 * their upstream subscriptions are in flight together. Returns -1 (error
 * replied) on allocation failure.
 */
static int
client_subscribe_start(struct client *c)
{
	struct map		*m = &c->c_subs[UPSTREAM_CHANNEL];
	struct client_pending	*p;
	struct hub_sub		*sub;
	const char		*key;
	size_t			 keylen;
	int			 i;

	c->c_pending = calloc((size_t)c->c_req.argc, sizeof(*c->c_pending));
	if (c->c_pending == NULL) {
		client_reply_error(c, "ERR out of memory");
		return -1;
	}
	for (i = 1; i < c->c_req.argc; i++) {
		p = &c->c_pending[i];
		if (map_find(m, c->c_req.argv[i], c->c_req.argvlen[i]) != NULL)
			continue;	/* held, or earlier in this command */
		sub = hub_subscribe(c->c_set->s_hub, &c->c_hs,
		    UPSTREAM_CHANNEL, c->c_req.argv[i], c->c_req.argvlen[i],
		    &p->p_ready);
		if (sub == NULL) {
			p->p_nomem = 1;
			continue;
		}
		key = hub_sub_name(sub, &keylen);
		if (map_insert(m, &sub->hs_owner_entry, key, keylen) == -1) {
			hub_unsubscribe(c->c_set->s_hub, sub);
			future_unref(p->p_ready);
			p->p_ready = NULL;
			p->p_nomem = 1;
			continue;
		}
		p->p_sub = sub;
	}
	return 0;
}

/*
 * Finishes one channel of a SUBSCRIBE whose future is done: activates the
 * subscription and queues its confirmation in the same step.
 */
static void
client_subscribe_finish(struct client *c, int i)
{
	struct client_pending	*p = &c->c_pending[i];

	if (p->p_nomem) {
		client_reply_error(c, "ERR out of memory");
		return;
	}
	if (p->p_sub != NULL) {		/* else: already held */
		if (future_state(p->p_ready) != FUTURE_DONE) {
			client_reply_error(c, "ERR %s",
			    future_error(p->p_ready));
			client_drop_sub(c, p->p_sub);
			p->p_sub = NULL;
			return;
		}
		hub_activate(c->c_set->s_hub, p->p_sub);
		c->c_nsubs++;
		p->p_sub = NULL;
	}
	client_reply_subscription(c, "subscribe", c->c_req.argv[i],
	    c->c_req.argvlen[i], c->c_nsubs);
}

/* Releases what a SUBSCRIBE in progress holds (its subs are in c_subs). */
static void
client_pending_free(struct client *c)
{
	int	i;

	if (c->c_pending == NULL)
		return;
	for (i = 0; i < c->c_req.argc; i++)
		future_unref(c->c_pending[i].p_ready);
	free(c->c_pending);
	c->c_pending = NULL;
}

/* UNSUBSCRIBE [channel ...]: Redis replies once per channel, held or not. */
static void
cmd_unsubscribe(struct client *c)
{
	struct map		*m = &c->c_subs[UPSTREAM_CHANNEL];
	struct map_iter		 it;
	struct map_entry	*e;
	struct hub_sub		*sub;
	const char		*name;
	size_t			 len;
	int			 i;

	if (c->c_req.argc == 1) {
		if (map_count(m) == 0) {
			client_reply_subscription(c, "unsubscribe", NULL, 0,
			    c->c_nsubs);
			return;
		}
		map_iter_init(&it, m);
		while ((e = map_iter_next(&it)) != NULL) {
			sub = MAP_ITEM(e, struct hub_sub, hs_owner_entry);
			/* Reply first: the name lives in the hub's channel. */
			name = hub_sub_name(sub, &len);
			client_reply_subscription(c, "unsubscribe", name, len,
			    c->c_nsubs - 1);
			client_drop_sub(c, sub);
		}
		return;
	}
	for (i = 1; i < c->c_req.argc; i++) {
		e = map_find(m, c->c_req.argv[i], c->c_req.argvlen[i]);
		if (e != NULL)
			client_drop_sub(c, MAP_ITEM(e, struct hub_sub,
			    hs_owner_entry));
		client_reply_subscription(c, "unsubscribe", c->c_req.argv[i],
		    c->c_req.argvlen[i], c->c_nsubs);
	}
}

/* PING [message]: in subscribed mode (RESP2) Redis answers a "pong" array. */
static void
cmd_ping(struct client *c)
{
	struct evbuffer	*out;

	if (c->c_req.argc > 2) {
		client_reply_error(c, "ERR wrong number of arguments for "
		    "'ping' command");
		return;
	}
	out = client_out(c);
	if (c->c_nsubs > 0) {
		resp_add_array(out, 2);
		resp_add_bulk(out, "pong", 4);
		if (c->c_req.argc == 2)
			resp_add_bulk(out, c->c_req.argv[1],
			    c->c_req.argvlen[1]);
		else
			resp_add_bulk(out, "", 0);
	} else if (c->c_req.argc == 2)
		resp_add_bulk(out, c->c_req.argv[1], c->c_req.argvlen[1]);
	else
		resp_add_simple(out, "PONG");
	client_queue_write(c);
}

/*
 * Queues a (un)subscribe confirmation: [kind, name (nil if NULL), count],
 * count being the client's own number of subscriptions.
 */
static void
client_reply_subscription(struct client *c, const char *kind,
    const char *name, size_t len, uint32_t count)
{
	struct evbuffer	*out = client_out(c);

	resp_add_array(out, 3);
	resp_add_bulk(out, kind, strlen(kind));
	if (name != NULL)
		resp_add_bulk(out, name, len);
	else
		resp_add_null(out);
	resp_add_int(out, count);
	client_queue_write(c);
}

/* Queues an error reply; Redis turns CR and LF inside it into spaces. */
static void
client_reply_error(struct client *c, const char *fmt, ...)
{
	char	 msg[512], *p;
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (p = msg; *p != '\0'; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	resp_add_error(client_out(c), "%s", msg);
	client_queue_write(c);
}

/*
 * Returns the output buffer, made on first use, after handing over the
 * messages the hub has pending for the client so that they come first.
 */
static struct evbuffer *
client_out(struct client *c)
{
	hub_subscriber_flush(c->c_set->s_hub, &c->c_hs);
	if (c->c_out == NULL && (c->c_out = evbuffer_new()) == NULL)
		fatalx("out of memory");
	return c->c_out;
}

/* Arranges for the output to be written at the end of this loop turn. */
static void
client_queue_write(struct client *c)
{
	struct client_set	*set = c->c_set;

	if (c->c_flags & (CLIENT_DEAD | CLIENT_FLUSH_QUEUED |
	    CLIENT_WAIT_WRITE))
		return;
	if (TAILQ_EMPTY(&set->s_flushq))
		event_active(set->s_flush_ev, 0, 0);
	TAILQ_INSERT_TAIL(&set->s_flushq, c, c_flush_entry);
	c->c_flags |= CLIENT_FLUSH_QUEUED;
}

/* Writes every queued client's output. */
static void
client_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client_set	*set = arg;
	struct client		*c;

	while ((c = TAILQ_FIRST(&set->s_flushq)) != NULL) {
		TAILQ_REMOVE(&set->s_flushq, c, c_flush_entry);
		c->c_flags &= ~CLIENT_FLUSH_QUEUED;
		client_write(c);
	}
}

/* Waits for the socket to take more (with a timeout when closing). */
static int
client_wait_write(struct client *c, const struct timeval *tv)
{
	if (c->c_wev == NULL) {
		c->c_wev = event_new(c->c_set->s_base, c->c_fd,
		    EV_WRITE | EV_PERSIST, client_write_cb, c);
		if (c->c_wev == NULL)
			return -1;
	}
	if (event_add(c->c_wev, tv) == -1)
		return -1;
	c->c_flags |= CLIENT_WAIT_WRITE;
	return 0;
}

/* Writes as much queued output as the socket takes. */
static void
client_write(struct client *c)
{
	int	n;

	if (c->c_flags & CLIENT_DEAD)
		return;
	while (c->c_out != NULL && evbuffer_get_length(c->c_out) > 0) {
		n = evbuffer_write(c->c_out, c->c_fd);
		if (n > 0)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR)) {
			if (!(c->c_flags & CLIENT_WAIT_WRITE) &&
			    client_wait_write(c, NULL) == -1)
				client_close(c, 0, "out of memory");
			return;
		}
		c->c_close_reason = "write error";
		client_finish(c);
		return;
	}
	if (c->c_flags & CLIENT_WAIT_WRITE) {
		event_del(c->c_wev);
		c->c_flags &= ~CLIENT_WAIT_WRITE;
	}
	if (c->c_flags & CLIENT_CLOSING)
		client_finish(c);
}

/* The socket takes more, or a closing client's flush timed out. */
static void
client_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client	*c = arg;

	if (what & EV_TIMEOUT) {
		c->c_close_reason = "timed out flushing output";
		client_finish(c);
		return;
	}
	client_write(c);
}

/*
 * The hub hands over this client's messages of one batch. Written at once
 * when nothing is queued before them; otherwise (or for what the socket does
 * not take) referenced behind the queue, without a copy. Never calls back
 * into the hub: a client that fails is only marked, torn down later.
 */
static void
client_deliver(struct hub_subscriber *hs, struct hub_batch *batch,
    const char *data, size_t len)
{
	struct client	*c = (struct client *)hs;
	ssize_t		 n = 0;

	if (c->c_flags & (CLIENT_DEAD | CLIENT_CLOSING))
		return;
	if ((c->c_out == NULL || evbuffer_get_length(c->c_out) == 0) &&
	    !(c->c_flags & CLIENT_WAIT_WRITE)) {
		n = send(c->c_fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == (ssize_t)len)
			return;
		if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR) {
			c->c_close_reason = "write error";
			client_finish(c);
			return;
		}
		if (n < 0)
			n = 0;
	}
	if (c->c_out == NULL && (c->c_out = evbuffer_new()) == NULL) {
		c->c_close_reason = "out of memory";
		client_finish(c);
		return;
	}
	hub_batch_ref(batch);
	if (evbuffer_add_reference(c->c_out, data + n, len - (size_t)n,
	    hub_batch_release, batch) == -1) {
		hub_batch_release(NULL, 0, batch);
		c->c_close_reason = "out of memory";
		client_finish(c);
		return;
	}
	if (!(c->c_flags & (CLIENT_WAIT_WRITE | CLIENT_FLUSH_QUEUED)) &&
	    client_wait_write(c, NULL) == -1) {
		c->c_close_reason = "out of memory";
		client_finish(c);
	}
}
