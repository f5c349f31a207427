/*
 * rawcmd.c: a one-shot command connection that relays the reply's bytes.
 *
 * The connection is a libevent bufferevent; hiredis only formats the
 * command. The state is freed when the reply is in, when the connection
 * fails, or when the caller cancels the future, whichever comes first.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "endpoint.h"
#include "future.h"
#include "rawcmd.h"
#include "resp.h"

#define RAWCMD_MAX	(64 * 1024 * 1024)	/* the largest reply taken */

struct rawcmd {
	struct bufferevent	*r_bev;		/* owned */
	struct future		*r_fut;		/* owned ref */
	int			 r_auth;	/* AUTH's reply comes first */
	int			 r_skip;	/* replies to drop first (HELLO) */
};

static void	rawcmd_read_cb(struct bufferevent *, void *);
static void	rawcmd_event_cb(struct bufferevent *, short, void *);
static void	rawcmd_cancelled(struct future *, void *);
static void	rawcmd_end(struct rawcmd *);
static void	rawcmd_evbuffer_free(void *);

/* Sends one command on a new connection; see rawcmd.h. */
struct future *
rawcmd_send(struct event_base *base, const struct endpoint *ep, int resp,
    int argc, const char *const *argv, const size_t *argvlen)
{
	struct rawcmd	*r;
	struct future	*fut;
	char		*cmd;
	int		 n;

	if ((fut = future_new()) == NULL)
		return NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		future_set_error(fut, "out of memory");
		return fut;
	}
	r->r_fut = future_ref(fut);
	r->r_bev = endpoint_bev_new(ep, base);
	if (r->r_bev == NULL)
		goto fail;
	bufferevent_setcb(r->r_bev, rawcmd_read_cb, NULL, rawcmd_event_cb, r);
	if ((r->r_auth = endpoint_auth_bev(ep, r->r_bev)) == -1)
		goto fail;
	if (resp == 3) {
		r->r_skip = 1;
		if (bufferevent_write(r->r_bev, "*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n",
		    22) == -1)
			goto fail;
	}
	if ((n = redisFormatCommandArgv(&cmd, argc, (const char **)argv,
	    argvlen)) < 0)
		goto fail;
	if (bufferevent_write(r->r_bev, cmd, (size_t)n) == -1) {
		redisFreeCommand(cmd);
		goto fail;
	}
	redisFreeCommand(cmd);
	if (bufferevent_enable(r->r_bev, EV_READ) == -1 ||
	    endpoint_connect_bev(ep, r->r_bev) == -1)
		goto fail;
	future_set_cancel_hook(fut, rawcmd_cancelled, r);
	return fut;
fail:
	future_set_error(fut, "cannot reach redis");
	rawcmd_end(r);
	return fut;
}

/* Bytes came: once the whole reply is in, hand it over. */
static void
rawcmd_read_cb(struct bufferevent *bev, void *arg)
{
	struct rawcmd	*r = arg;
	struct evbuffer	*in = bufferevent_get_input(bev), *out;
	long long	 size;
	size_t		 len;

	for (;;) {
		len = evbuffer_get_length(in);
		size = resp_reply_size((const char *)evbuffer_pullup(in, -1),
		    len);
		if (size == 0 && len < RAWCMD_MAX)
			return;		/* wait for more */
		if (size <= 0) {
			future_set_error(r->r_fut, "bad reply from redis");
			break;
		}
		if (r->r_auth) {
			r->r_auth = 0;
			if (*(const char *)evbuffer_pullup(in, 1) == '-') {
				future_set_error(r->r_fut, "authentication "
				    "failed: %.*s", (int)(size > 3 ? size - 3 :
				    0), (const char *)evbuffer_pullup(in, -1) +
				    1);
				break;
			}
			evbuffer_drain(in, (size_t)size);
			continue;
		}
		if (r->r_skip > 0) {
			r->r_skip--;
			evbuffer_drain(in, (size_t)size);
			continue;
		}
		if ((out = evbuffer_new()) == NULL ||
		    evbuffer_remove_buffer(in, out, (size_t)size) !=
		    (int)size) {
			if (out != NULL)
				evbuffer_free(out);
			future_set_error(r->r_fut, "out of memory");
			break;
		}
		future_set_result(r->r_fut, out, rawcmd_evbuffer_free);
		break;
	}
	rawcmd_end(r);
}

/* The connection failed or closed before the reply was in. */
static void
rawcmd_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct rawcmd	*r = arg;

	if (what & BEV_EVENT_CONNECTED)
		return;
	future_set_error(r->r_fut, "connection to redis lost");
	rawcmd_end(r);
}

/* The caller no longer wants the reply. */
static void
rawcmd_cancelled(struct future *fut, void *arg)
{
	rawcmd_end(arg);
}

/* Closes the connection and frees the state (bufferevent_free is safe here). */
static void
rawcmd_end(struct rawcmd *r)
{
	future_set_cancel_hook(r->r_fut, NULL, NULL);
	future_unref(r->r_fut);
	if (r->r_bev != NULL)
		bufferevent_free(r->r_bev);
	free(r);
}

/* Frees a reply buffer with its future. */
static void
rawcmd_evbuffer_free(void *buf)
{
	evbuffer_free(buf);
}
