/*
 * client_hiredis.c: a real client on hiredis' async API and its libevent
 * adapter, as applications use it, for tests/test_clients.sh.
 *
 *	client_hiredis PUBSUBD_PORT REDIS_PORT
 *
 * Through pubsubd it subscribes (redisAsyncCommand) to a channel with a
 * binary name and to a pattern. Once both are confirmed it publishes
 * messages with binary payloads on a second connection straight to Redis,
 * checks that each arrives once, in order and intact, unsubscribes from
 * both, and exits 0. Anything else (a wrong frame, a lost connection, 10 s
 * without finishing) prints the reason and exits 1.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#define CH_CHANNEL	"hiredis:\0ch"	/* a NUL inside the name */
#define CH_CHANNEL_LEN	(sizeof(CH_CHANNEL) - 1)
#define CH_PATTERN	"hiredis:p*"
#define CH_TIMEOUT_S	10

/* One message to publish, and where it must arrive. */
struct ch_msg {
	const char	*channel;
	size_t		 channel_len;
	const char	*payload;
	size_t		 payload_len;
	int		 by_pattern;	/* arrives as a pmessage */
};

static const struct ch_msg ch_msgs[] = {
	{ CH_CHANNEL, CH_CHANNEL_LEN, "first", 5, 0 },
	{ "hiredis:p1", 10, "to the \"pattern\"", 16, 1 },
	{ CH_CHANNEL, CH_CHANNEL_LEN, "bin\0\r\n\xff", 7, 0 },
	{ "hiredis:p2", 10, "", 0, 1 },
	{ CH_CHANNEL, CH_CHANNEL_LEN, "*3\r\n$7\r\nmessage\r\n", 17, 0 },
};
#define CH_NMSGS	(sizeof(ch_msgs) / sizeof(ch_msgs[0]))

/* The state of the whole run; the callbacks' argument. */
struct ch_ctx {
	struct event_base	*base;
	redisAsyncContext	*sub;	/* to pubsubd; NULL once gone */
	redisAsyncContext	*pub;	/* to Redis; NULL once gone */
	int			 confirmed;	/* subscribe confirmations */
	size_t			 published;	/* PUBLISH replies */
	size_t			 next_chan;	/* next message index, channel */
	size_t			 next_pat;	/* next message index, pattern */
	size_t			 received;
	int			 unsubscribed;
	int			 failed;
	int			 done;
};

static void	ch_fail(struct ch_ctx *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static int	ch_is(const redisReply *, const char *, size_t);
static void	ch_publish_all(struct ch_ctx *);
static size_t	ch_next(size_t, int);
static void	ch_on_publish(redisAsyncContext *, void *, void *);
static void	ch_on_sub(redisAsyncContext *, void *, void *);
static void	ch_on_connect(const redisAsyncContext *, int);
static void	ch_on_disconnect(const redisAsyncContext *, int);
static void	ch_on_timeout(evutil_socket_t, short, void *);
static redisAsyncContext *ch_connect(struct ch_ctx *, int);

static struct ch_ctx	*ch_the;	/* for the connect callbacks only */

/* Records a failure and stops the loop. */
static void
ch_fail(struct ch_ctx *ctx, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	fprintf(stderr, "client_hiredis: FAIL: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	ctx->failed = 1;
	event_base_loopbreak(ctx->base);
}

/* Whether a reply element is the bulk string s of length len. */
static int
ch_is(const redisReply *r, const char *s, size_t len)
{
	return r != NULL && r->type == REDIS_REPLY_STRING &&
	    (size_t)r->len == len && memcmp(r->str, s, len) == 0;
}

/* The index of the next message after i that arrives the way by_pattern. */
static size_t
ch_next(size_t i, int by_pattern)
{
	while (i < CH_NMSGS && ch_msgs[i].by_pattern != by_pattern)
		i++;
	return i;
}

/* Publishes every message on the direct connection. */
static void
ch_publish_all(struct ch_ctx *ctx)
{
	size_t	i;

	for (i = 0; i < CH_NMSGS; i++)
		if (redisAsyncCommand(ctx->pub, ch_on_publish, ctx,
		    "PUBLISH %b %b", ch_msgs[i].channel,
		    ch_msgs[i].channel_len, ch_msgs[i].payload,
		    ch_msgs[i].payload_len) != REDIS_OK)
			ch_fail(ctx, "PUBLISH could not be sent");
}

/* A PUBLISH reply from Redis: pubsubd's subscription is one receiver. */
static void
ch_on_publish(redisAsyncContext *ac, void *r, void *arg)
{
	struct ch_ctx	*ctx = arg;
	redisReply	*reply = r;

	(void)ac;
	if (reply == NULL)
		return;
	if (reply->type != REDIS_REPLY_INTEGER || reply->integer < 1)
		ch_fail(ctx, "PUBLISH reached nobody (type %d)", reply->type);
	ctx->published++;
}

/*
 * Every frame of the subscriptions through pubsubd: confirmations, then the
 * messages in order, then the unsubscribe confirmations.
 */
static void
ch_on_sub(redisAsyncContext *ac, void *r, void *arg)
{
	struct ch_ctx		*ctx = arg;
	redisReply		*reply = r, **e;
	const struct ch_msg	*m;
	size_t			 i;

	if (reply == NULL || ctx->failed)
		return;		/* the context is going away */
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3) {
		ch_fail(ctx, "not a pub/sub frame (type %d)", reply->type);
		return;
	}
	e = reply->element;
	if (ch_is(e[0], "subscribe", 9) || ch_is(e[0], "psubscribe", 10)) {
		if (!(ch_is(e[1], CH_CHANNEL, CH_CHANNEL_LEN) ||
		    ch_is(e[1], CH_PATTERN, strlen(CH_PATTERN))) ||
		    e[2]->type != REDIS_REPLY_INTEGER ||
		    e[2]->integer != ++ctx->confirmed) {
			ch_fail(ctx, "bad subscribe confirmation");
			return;
		}
		printf("confirmed %d\n", ctx->confirmed);
		if (ctx->confirmed == 2)
			ch_publish_all(ctx);
		return;
	}
	if (ch_is(e[0], "message", 7) && reply->elements == 3) {
		i = ctx->next_chan = ch_next(ctx->next_chan, 0);
		if (i == CH_NMSGS) {
			ch_fail(ctx, "a message too many");
			return;
		}
		m = &ch_msgs[i];
		if (!ch_is(e[1], m->channel, m->channel_len) ||
		    !ch_is(e[2], m->payload, m->payload_len)) {
			ch_fail(ctx, "message %zu is not the one published", i);
			return;
		}
		ctx->next_chan++;
	} else if (ch_is(e[0], "pmessage", 8) && reply->elements == 4) {
		i = ctx->next_pat = ch_next(ctx->next_pat, 1);
		if (i == CH_NMSGS) {
			ch_fail(ctx, "a pmessage too many");
			return;
		}
		m = &ch_msgs[i];
		if (!ch_is(e[1], CH_PATTERN, strlen(CH_PATTERN)) ||
		    !ch_is(e[2], m->channel, m->channel_len) ||
		    !ch_is(e[3], m->payload, m->payload_len)) {
			ch_fail(ctx, "pmessage %zu is not the one published",
			    i);
			return;
		}
		ctx->next_pat++;
	} else if (ch_is(e[0], "unsubscribe", 11) ||
	    ch_is(e[0], "punsubscribe", 12)) {
		printf("unsubscribed %.*s\n", (int)e[0]->len, e[0]->str);
		if (++ctx->unsubscribed == 2) {
			ctx->done = 1;
			event_base_loopbreak(ctx->base);
		}
		return;
	} else {
		ch_fail(ctx, "unexpected frame %.*s", e[0]->type ==
		    REDIS_REPLY_STRING ? (int)e[0]->len : 1, e[0]->type ==
		    REDIS_REPLY_STRING ? e[0]->str : "?");
		return;
	}
	printf("received %zu\n", ++ctx->received);
	if (ctx->received == CH_NMSGS) {
		if (redisAsyncCommand(ac, NULL, NULL, "UNSUBSCRIBE %b",
		    CH_CHANNEL, CH_CHANNEL_LEN) != REDIS_OK ||
		    redisAsyncCommand(ac, NULL, NULL, "PUNSUBSCRIBE %s",
		    CH_PATTERN) != REDIS_OK)
			ch_fail(ctx, "UNSUBSCRIBE could not be sent");
	}
}

/* A connection is up, or could not be made (hiredis frees it then). */
static void
ch_on_connect(const redisAsyncContext *ac, int status)
{
	if (status == REDIS_OK)
		return;
	if (ac == ch_the->sub)
		ch_the->sub = NULL;
	if (ac == ch_the->pub)
		ch_the->pub = NULL;
	ch_fail(ch_the, "connect: %s", ac->errstr);
}

/* A connection went away (hiredis frees it after this returns). */
static void
ch_on_disconnect(const redisAsyncContext *ac, int status)
{
	if (ac == ch_the->sub)
		ch_the->sub = NULL;
	if (ac == ch_the->pub)
		ch_the->pub = NULL;
	if (!ch_the->done)
		ch_fail(ch_the, "connection lost: %s", status == REDIS_OK ?
		    "closed" : ac->errstr);
}

/* Nothing may take more than CH_TIMEOUT_S. */
static void
ch_on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct ch_ctx	*ctx = arg;

	(void)fd;
	(void)what;
	ch_fail(ctx, "timed out after %d s (%d confirmed, %zu published, "
	    "%zu received, %d unsubscribed)", CH_TIMEOUT_S, ctx->confirmed,
	    ctx->published, ctx->received, ctx->unsubscribed);
}

/* Connects to 127.0.0.1:port with the libevent adapter; NULL on failure. */
static redisAsyncContext *
ch_connect(struct ch_ctx *ctx, int port)
{
	redisAsyncContext	*ac = redisAsyncConnect("127.0.0.1", port);

	if (ac == NULL)
		return NULL;
	if (ac->err) {
		fprintf(stderr, "client_hiredis: %s\n", ac->errstr);
		redisAsyncFree(ac);
		return NULL;
	}
	if (redisLibeventAttach(ac, ctx->base) != REDIS_OK) {
		redisAsyncFree(ac);
		return NULL;
	}
	redisAsyncSetConnectCallback(ac, ch_on_connect);
	redisAsyncSetDisconnectCallback(ac, ch_on_disconnect);
	return ac;
}

int
main(int argc, char *argv[])
{
	struct ch_ctx	 ctx;
	struct event	*timeout;
	struct timeval	 tv = { CH_TIMEOUT_S, 0 };

	if (argc != 3) {
		fprintf(stderr, "usage: client_hiredis PUBSUBD_PORT "
		    "REDIS_PORT\n");
		return 2;
	}
	memset(&ctx, 0, sizeof(ctx));
	ch_the = &ctx;
	if ((ctx.base = event_base_new()) == NULL)
		return 2;
	ctx.sub = ch_connect(&ctx, atoi(argv[1]));
	ctx.pub = ch_connect(&ctx, atoi(argv[2]));
	if (ctx.sub == NULL || ctx.pub == NULL) {
		fprintf(stderr, "client_hiredis: cannot connect\n");
		return 1;
	}
	if (redisAsyncCommand(ctx.sub, ch_on_sub, &ctx, "SUBSCRIBE %b",
	    CH_CHANNEL, CH_CHANNEL_LEN) != REDIS_OK ||
	    redisAsyncCommand(ctx.sub, ch_on_sub, &ctx, "PSUBSCRIBE %s",
	    CH_PATTERN) != REDIS_OK) {
		fprintf(stderr, "client_hiredis: SUBSCRIBE not sent\n");
		return 1;
	}
	timeout = evtimer_new(ctx.base, ch_on_timeout, &ctx);
	evtimer_add(timeout, &tv);
	event_base_dispatch(ctx.base);

	ctx.done = 1;		/* a disconnect from here on is ours */
	if (ctx.sub != NULL)
		redisAsyncFree(ctx.sub);
	if (ctx.pub != NULL)
		redisAsyncFree(ctx.pub);
	event_free(timeout);
	event_base_free(ctx.base);
	if (ctx.failed || ctx.received != CH_NMSGS || ctx.unsubscribed != 2)
		return 1;
	printf("PASS: %zu messages through pubsubd\n", ctx.received);
	return 0;
}
