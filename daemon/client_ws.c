/*
 * client_ws.c: WebSocket clients of a web listener (GET /ws with an
 * Upgrade), after client_web.c read their request head.
 *
 * Two subprotocols, chosen by Sec-WebSocket-Protocol: "json" (also when
 * none is asked for): each text message from the client is a command, a
 * JSON array of strings, and each reply and message goes back as a text
 * frame of JSON (ws.c); "resp": binary (or text) messages carry RESP
 * bytes both ways, and a RESP client can be tunnelled. Either way the
 * commands are the session's, as a RESP client's are.
 *
 * Frames from the client are read by wslay (unmasking, fragments,
 * control frames: it answers a ping and a close itself), fed only whole
 * frames (their length is read from their headers here), so that between
 * messages wslay holds nothing and its context (some 8 KiB) is freed: an
 * idle WebSocket subscriber keeps none. Data frames to the client are
 * pubsubd's own: messages are encoded once per batch by the hub
 * (HUB_FORM_WS_*), replies here, and both wait, wire-ready, in the
 * client's own output (w_out), which the client writes as a RESP client's
 * output; wslay's control frames are appended there too.
 *
 * Refused, each with its close code: a frame over http.message_max
 * (1009), invalid UTF-8 in a text frame (1007), a message that is not a
 * JSON array of strings (1007), binary data on "json" (1003), messages
 * over http.message_rate per second (1008), a protocol error wslay finds
 * (1002).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <wslay/wslay.h>

#include "client_impl.h"
#include "hub.h"
#include "http.h"
#include "log.h"
#include "ws.h"

/* The most bytes of RESP read from frames and not yet served. */
#define CLIENT_WS_RIN_MAX	(64 * 1024)

/* A command of the json subprotocol, waiting to be served. */
struct client_ws_req {
	struct client_ws_req	*q_next;
	int			 q_argc;
	char			**q_argv;	/* owned, each NUL-terminated */
	size_t			*q_argvlen;	/* owned */
};

/*
 * A WebSocket client's state. Owned by its web state (client_web.c),
 * freed by client_ws_free().
 */
struct client_ws {
	struct client		*ws_client;	/* borrowed */
	int			 ws_resp;	/* the "resp" subprotocol */
	wslay_event_context_ptr	 ws_ctx;	/* owned, or NULL: idle */
	size_t			 ws_feed;	/* whole frames' bytes to give
						   wslay */
	int			 ws_frag;	/* a fragmented message is open */
	int			 ws_closing;	/* a close frame went out */
	struct client_ws_req	*ws_head;	/* owned: commands to serve */
	struct client_ws_req	*ws_tail;
	struct client_ws_req	*ws_cur;	/* owned: the one served now */
	struct evbuffer		*ws_rin;	/* owned: "resp" input */
	struct evbuffer		*ws_out;	/* owned: wire-ready output */
	long long		 ws_rate_start;	/* ms: this second's start */
	int			 ws_rate_count;	/* messages in it */
};

static void	client_ws_fail(struct client_ws *, uint16_t, const char *);

/* The session's conf. */
static const struct session_conf *
client_ws_conf(const struct client_ws *ws)
{
	return client_set_of(ws->ws_client)->s_env.se_conf;
}

static void
client_ws_req_free(struct client_ws_req *q)
{
	int	i;

	if (q == NULL)
		return;
	for (i = 0; i < q->q_argc; i++)
		free(q->q_argv[i]);
	free(q->q_argv);
	free(q->q_argvlen);
	free(q);
}

void
client_ws_free(struct client_ws *ws)
{
	struct client_ws_req	*q;

	if (ws == NULL)
		return;
	if (ws->ws_ctx != NULL)
		wslay_event_context_free(ws->ws_ctx);
	while ((q = ws->ws_head) != NULL) {
		ws->ws_head = q->q_next;
		client_ws_req_free(q);
	}
	client_ws_req_free(ws->ws_cur);
	if (ws->ws_rin != NULL)
		evbuffer_free(ws->ws_rin);
	if (ws->ws_out != NULL)
		evbuffer_free(ws->ws_out);
	pool_put(&client_set_of(ws->ws_client)->s_ws_pool, ws);
}

/* The size of a WebSocket client's state, for its pool. */
size_t
client_ws_size(void)
{
	return sizeof(struct client_ws);
}

/* The client's wire-ready output, made if need be (NULL: out of memory). */
struct evbuffer *
client_ws_wire(struct client_ws *ws, int make)
{
	if (ws->ws_out == NULL && make)
		ws->ws_out = evbuffer_new();
	return ws->ws_out;
}

/* Everything was written: an idle client keeps no buffer. */
void
client_ws_wire_done(struct client_ws *ws)
{
	if (ws->ws_out != NULL && evbuffer_get_length(ws->ws_out) == 0) {
		evbuffer_free(ws->ws_out);
		ws->ws_out = NULL;
	}
}

/* Whether s (len bytes) is one of the tokens of a comma-separated list. */
static int
client_ws_token(const char *list, const char *s)
{
	const char	*p = list, *end;
	size_t		 n;

	while (p != NULL && *p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		for (end = p; *end != '\0' && *end != ','; end++)
			;
		n = (size_t)(end - p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == strlen(s) && strncasecmp(p, s, n) == 0)
			return 1;
		p = end;
	}
	return 0;
}

/*
 * Checks an upgrade request and answers it: 101 and a new WebSocket state
 * in *wsp; or a refusal, with the status and the reason in *code and *why
 * (the caller answers it). 0 upgraded, -1 refused.
 */
int
client_ws_upgrade(struct client *c, const struct http_head *h,
    struct client_ws **wsp, int *code, const char **why)
{
	struct client_ws	*ws;
	struct evbuffer		*out;
	const char		*proto = NULL;
	char			 accept[29];

	*code = 400;
	if (h->upgrade == NULL || !client_ws_token(h->upgrade, "websocket") ||
	    h->connection == NULL ||
	    !client_ws_token(h->connection, "upgrade")) {
		*code = 426;
		*why = "a WebSocket needs Upgrade: websocket and Connection: "
		    "Upgrade";
		return -1;
	}
	if (h->ws_version == NULL || strcmp(h->ws_version, "13") != 0) {
		*code = 426;
		*why = "only WebSocket version 13 is served";
		return -1;
	}
	if (h->ws_key == NULL || !ws_key_valid(h->ws_key)) {
		*why = "Sec-WebSocket-Key is not the base64 of 16 bytes";
		return -1;
	}
	if (h->ws_protocol != NULL) {
		/* The first the client lists that pubsubd speaks. */
		const char	*p = h->ws_protocol;

		while (*p != '\0' && proto == NULL) {
			while (*p == ' ' || *p == ',')
				p++;
			if (strncasecmp(p, "json", 4) == 0 && (p[4] == '\0' ||
			    p[4] == ',' || p[4] == ' '))
				proto = "json";
			else if (strncasecmp(p, "resp", 4) == 0 &&
			    (p[4] == '\0' || p[4] == ',' || p[4] == ' '))
				proto = "resp";
			while (*p != '\0' && *p != ',')
				p++;
		}
		if (proto == NULL) {
			*why = "Sec-WebSocket-Protocol: pubsubd speaks json "
			    "and resp";
			return -1;
		}
	}
	if ((ws = pool_get(&client_set_of(c)->s_ws_pool)) == NULL) {
		*code = 500;
		*why = "out of memory";
		return -1;
	}
	ws->ws_client = c;
	ws->ws_resp = proto != NULL && strcmp(proto, "resp") == 0;
	ws_accept_key(h->ws_key, accept);
	if ((out = client_ws_wire(ws, 1)) == NULL ||
	    evbuffer_add_printf(out, "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: %s\r\n%s%s%s\r\n", accept,
	    proto != NULL ? "Sec-WebSocket-Protocol: " : "",
	    proto != NULL ? proto : "", proto != NULL ? "\r\n" : "") < 0) {
		client_ws_free(ws);
		*code = 500;
		*why = "out of memory";
		return -1;
	}
	client_ws_behind(ws, 0);
	*wsp = ws;
	return 0;
}

/*
 * The length of the whole frame at the start of in (its header read
 * here), 0 if it is not all there yet; -1 if it is longer than max.
 */
static long long
client_ws_frame_len(struct evbuffer *in, size_t max)
{
	unsigned char	 h[14];
	size_t		 have = evbuffer_get_length(in), hlen = 2;
	unsigned long long len;
	int		 i;

	if (have < 2)
		return 0;
	evbuffer_copyout(in, h, have < sizeof(h) ? have : sizeof(h));
	len = h[1] & 0x7f;
	if (len == 126)
		hlen = 4;
	else if (len == 127)
		hlen = 10;
	if (h[1] & 0x80)
		hlen += 4;
	if (have < hlen)
		return 0;
	if (len == 126)
		len = (unsigned long long)h[2] << 8 | h[3];
	else if (len == 127)
		for (len = 0, i = 0; i < 8; i++)
			len = len << 8 | h[2 + i];
	if (len > max)
		return -1;
	return have >= hlen + len ? (long long)(hlen + len) : 0;
}

/* wslay reads: the whole frames of the client's input, no more. */
static ssize_t
client_ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
    int flags, void *arg)
{
	struct client_ws	*ws = arg;
	struct client		*c = ws->ws_client;
	int			 n;

	(void)flags;
	if (ws->ws_feed == 0 || c->c_in == NULL) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (len > ws->ws_feed)
		len = ws->ws_feed;
	n = evbuffer_remove(c->c_in, buf, len);
	if (n <= 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	ws->ws_feed -= (size_t)n;
	return n;
}

/* wslay writes (its control frames): into the wire-ready output. */
static ssize_t
client_ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data,
    size_t len, int flags, void *arg)
{
	struct client_ws	*ws = arg;
	struct evbuffer		*out;

	(void)flags;
	if ((out = client_ws_wire(ws, 1)) == NULL ||
	    evbuffer_add(out, data, len) == -1) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t)len;
}

/* A frame starts: a data frame without FIN opens a fragmented message. */
static void
client_ws_frame_cb(wslay_event_context_ptr ctx,
    const struct wslay_event_on_frame_recv_start_arg *arg, void *data)
{
	struct client_ws	*ws = data;

	(void)ctx;
	if (arg->opcode == WS_OP_TEXT || arg->opcode == WS_OP_BINARY ||
	    arg->opcode == 0)
		ws->ws_frag = !arg->fin;
}

/*
 * Decodes one element of a command: a string, {"base64":...}, an integer.
 * 0, -1 if it is none of those, -2 out of memory.
 */
static int
client_ws_arg(json_t *e, char **s, size_t *len)
{
	json_t		*b;
	const char	*v;
	size_t		 n;
	int		 out;

	*s = NULL;
	if (json_is_string(e)) {
		n = json_string_length(e);
		if ((*s = malloc(n + 1)) == NULL)
			return -2;
		memcpy(*s, json_string_value(e), n);
		(*s)[n] = '\0';
		*len = n;
		return 0;
	}
	if (json_is_integer(e)) {
		if ((*s = malloc(24)) == NULL)
			return -2;
		*len = (size_t)snprintf(*s, 24, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(e));
		return 0;
	}
	if (!json_is_object(e) || json_object_size(e) != 1 ||
	    (b = json_object_get(e, "base64")) == NULL || !json_is_string(b))
		return -1;
	v = json_string_value(b);
	n = json_string_length(b);
	if (n % 4 != 0)
		return -1;
	if ((*s = malloc(n / 4 * 3 + 1)) == NULL)
		return -2;
	if ((out = EVP_DecodeBlock((unsigned char *)*s,
	    (const unsigned char *)v, (int)n)) < 0) {
		free(*s);
		*s = NULL;
		return -1;
	}
	/* EVP_DecodeBlock counts the padding's bytes too. */
	if (n > 0 && v[n - 1] == '=')
		out--;
	if (n > 1 && v[n - 2] == '=')
		out--;
	(*s)[out] = '\0';
	*len = (size_t)out;
	return 0;
}

/* A json message: queued as a command; -1 (closed) if it is not one. */
static int
client_ws_command(struct client_ws *ws, const char *msg, size_t len)
{
	struct client_ws_req	*q;
	json_error_t		 err;
	json_t			*a;
	size_t			 i, n;
	int			 r;

	if (!ws_utf8_valid(msg, len)) {
		client_ws_fail(ws, 1007, "a text frame that is not UTF-8");
		return -1;
	}
	if ((a = json_loadb(msg, len, JSON_ALLOW_NUL, &err)) == NULL ||
	    !json_is_array(a) || (n = json_array_size(a)) == 0 ||
	    n > (size_t)client_ws_conf(ws)->multibulk_max) {
		json_decref(a);
		client_ws_fail(ws, 1007, "a command is a JSON array of "
		    "strings, e.g. [\"SUBSCRIBE\",\"news\"]");
		return -1;
	}
	if ((q = calloc(1, sizeof(*q))) == NULL ||
	    (q->q_argv = calloc(n, sizeof(*q->q_argv))) == NULL ||
	    (q->q_argvlen = calloc(n, sizeof(*q->q_argvlen))) == NULL)
		goto nomem;
	for (i = 0; i < n; i++) {
		if ((r = client_ws_arg(json_array_get(a, i), &q->q_argv[i],
		    &q->q_argvlen[i])) != 0) {
			if (r == -1) {
				q->q_argc = (int)i;
				client_ws_req_free(q);
				json_decref(a);
				client_ws_fail(ws, 1007, "a command's words "
				    "are strings (or {\"base64\":\"...\"})");
				return -1;
			}
			goto nomem;
		}
		q->q_argc = (int)i + 1;
	}
	json_decref(a);
	if (ws->ws_tail != NULL)
		ws->ws_tail->q_next = q;
	else
		ws->ws_head = q;
	ws->ws_tail = q;
	return 0;
nomem:
	json_decref(a);
	client_ws_req_free(q);
	client_close(ws->ws_client, 0, SESSION_END_INTERNAL);
	return -1;
}

/* A whole message from the client. */
static void
client_ws_msg_cb(wslay_event_context_ptr ctx,
    const struct wslay_event_on_msg_recv_arg *arg, void *data)
{
	struct client_ws		*ws = data;
	const struct session_conf	*conf = client_ws_conf(ws);
	long long			 now;

	(void)ctx;
	if (ws->ws_closing || (arg->opcode != WS_OP_TEXT &&
	    arg->opcode != WS_OP_BINARY))
		return;			/* wslay answers the others */
	if (conf->http_message_rate > 0) {
		now = session_now_ms();
		if (now - ws->ws_rate_start >= 1000) {
			ws->ws_rate_start = now;
			ws->ws_rate_count = 0;
		}
		if (++ws->ws_rate_count > conf->http_message_rate) {
			client_ws_fail(ws, 1008, "more messages a second than "
			    "http.message_rate");
			return;
		}
	}
	if (ws->ws_resp) {
		if ((ws->ws_rin == NULL && (ws->ws_rin = evbuffer_new()) ==
		    NULL) || evbuffer_add(ws->ws_rin, arg->msg,
		    arg->msg_length) == -1)
			client_close(ws->ws_client, 0, SESSION_END_INTERNAL);
		return;
	}
	if (arg->opcode == WS_OP_BINARY) {
		client_ws_fail(ws, 1003, "the json subprotocol takes text "
		    "frames");
		return;
	}
	(void)client_ws_command(ws, (const char *)arg->msg, arg->msg_length);
}

/* Sends a close frame with code and reason; the connection then ends. */
static void
client_ws_fail(struct client_ws *ws, uint16_t code, const char *reason)
{
	struct client	*c = ws->ws_client;
	struct evbuffer	*out;
	char		 frame[WS_HEADER_MAX + 125];
	size_t		 n, rlen = strlen(reason);

	if (ws->ws_closing)
		return;
	ws->ws_closing = 1;
	log_info("client %llu: WebSocket closed with %u: %s",
	    (unsigned long long)session_id(c->c_session), code, reason);
	if (rlen > 123)
		rlen = 123;
	n = ws_header(frame, WS_OP_CLOSE, 2 + rlen);
	frame[n++] = (char)(code >> 8);
	frame[n++] = (char)code;
	memcpy(frame + n, reason, rlen);
	n += rlen;
	if ((out = client_ws_wire(ws, 1)) == NULL ||
	    evbuffer_add(out, frame, n) == -1) {
		client_close(c, 0, SESSION_END_INTERNAL);
		return;
	}
	client_close(c, 1, SESSION_END_PROTOCOL);
}

/* Makes wslay's context for a burst of input; -1 out of memory. */
static int
client_ws_ctx(struct client_ws *ws)
{
	static const struct wslay_event_callbacks cbs = {
		client_ws_recv_cb, client_ws_send_cb, NULL,
		client_ws_frame_cb, NULL, NULL, client_ws_msg_cb
	};

	if (ws->ws_ctx != NULL)
		return 0;
	if (wslay_event_context_server_init(&ws->ws_ctx, &cbs, ws) != 0)
		return -1;
	wslay_event_config_set_max_recv_msg_length(ws->ws_ctx,
	    (uint64_t)client_ws_conf(ws)->http_message_max);
	return 0;
}

/*
 * Gives wslay the whole frames that came, until a command waits (json) or
 * CLIENT_WS_RIN_MAX bytes of RESP do; afterwards wslay's context is let go
 * unless a fragmented message or a frame of its own is pending. Returns
 * how many frames it read.
 */
static int
client_ws_read(struct client_ws *ws)
{
	struct client	*c = ws->ws_client;
	long long	 n;
	int		 r, frames = 0;

	while (!ws->ws_closing && c->c_in != NULL && ws->ws_head == NULL &&
	    (ws->ws_rin == NULL || evbuffer_get_length(ws->ws_rin) <
	    CLIENT_WS_RIN_MAX)) {
		n = client_ws_frame_len(c->c_in, (size_t)client_ws_conf(ws)->
		    http_message_max);
		if (n == -1) {
			client_ws_fail(ws, 1009, "a frame over "
			    "http.message_max");
			return frames;
		}
		if (n == 0)
			break;
		if (client_ws_ctx(ws) == -1) {
			client_close(c, 0, SESSION_END_INTERNAL);
			return frames;
		}
		frames++;
		ws->ws_feed = (size_t)n;
		r = wslay_event_recv(ws->ws_ctx);
		if (r == 0)
			r = wslay_event_send(ws->ws_ctx);
		if (r != 0) {
			client_close(c, 0, SESSION_END_INTERNAL);
			return frames;
		}
		if (ws->ws_closing)
			return frames;
		if (wslay_event_get_close_sent(ws->ws_ctx)) {
			/* A close answered, or a protocol error told. */
			ws->ws_closing = 1;
			if (wslay_event_get_status_code_sent(ws->ws_ctx) !=
			    1000 && !wslay_event_get_close_received(
			    ws->ws_ctx))
				log_info("client %llu: WebSocket closed with "
				    "%u", (unsigned long long)session_id(
				    c->c_session),
				    wslay_event_get_status_code_sent(
				    ws->ws_ctx));
			client_close(c, 1, wslay_event_get_close_received(
			    ws->ws_ctx) ? SESSION_END_QUIT :
			    SESSION_END_PROTOCOL);
			return frames;
		}
		if (ws->ws_out != NULL && evbuffer_get_length(ws->ws_out) > 0)
			client_queue_write(c);
	}
	if (ws->ws_ctx != NULL && !ws->ws_frag &&
	    !wslay_event_want_write(ws->ws_ctx)) {
		wslay_event_context_free(ws->ws_ctx);
		ws->ws_ctx = NULL;
	}
	return frames;
}

/* The session's next request (session_io.next) for a WebSocket client. */
int
client_ws_next(struct client_ws *ws, struct resp_req *req,
    enum resp_status *st, int *eof, const char **error)
{
	struct client			*c = ws->ws_client;
	const struct session_conf	*conf = client_ws_conf(ws);
	struct resp_limits		 limits;
	struct client_ws_req		*q;
	int				 frames;

	*st = RESP_NEED_MORE;
	*eof = 0;
	memset(req, 0, sizeof(*req));
	client_ws_req_free(ws->ws_cur);
	ws->ws_cur = NULL;
	for (;;) {
		frames = client_ws_read(ws);
		if (c->c_flags & (CLIENT_CLOSING | CLIENT_DEAD))
			return 0;
		if ((q = ws->ws_head) != NULL) {
			if ((ws->ws_head = q->q_next) == NULL)
				ws->ws_tail = NULL;
			ws->ws_cur = q;
			req->argc = q->q_argc;
			req->argv = (const char **)q->q_argv;
			req->argvlen = q->q_argvlen;
			*st = RESP_REQUEST;
			return 0;
		}
		if (ws->ws_rin == NULL || evbuffer_get_length(ws->ws_rin) == 0)
			break;
		if (c->c_parser == NULL) {
			limits.multibulk_max = conf->multibulk_max;
			limits.bulk_max = conf->bulk_max;
			if ((c->c_parser = resp_parser_new(&limits)) == NULL)
				return -1;
		}
		*st = resp_parse(c->c_parser, ws->ws_rin, req);
		if (*st == RESP_PROTO_ERROR)
			*error = resp_parser_error(c->c_parser);
		if (*st != RESP_NEED_MORE)
			return 0;
		/* The rest of the request may be in frames not read yet. */
		if (frames == 0)
			break;
	}
	/* Between messages an idle client keeps no input buffer. */
	if (c->c_in != NULL && evbuffer_get_length(c->c_in) == 0) {
		evbuffer_free(c->c_in);
		c->c_in = NULL;
	}
	if (ws->ws_rin != NULL && evbuffer_get_length(ws->ws_rin) == 0) {
		evbuffer_free(ws->ws_rin);
		ws->ws_rin = NULL;
	}
	if (ws->ws_rin == NULL && c->c_parser != NULL &&
	    resp_parser_idle(c->c_parser)) {
		resp_parser_free(c->c_parser);
		c->c_parser = NULL;
	}
	*eof = (c->c_flags & CLIENT_EOF) != 0;
	return 0;
}

/*
 * The session queued replies (RESP): framed into the wire-ready output,
 * each reply a JSON text frame ("json") or all of them one binary frame
 * ("resp"). -1 out of memory.
 */
int
client_ws_replies(struct client_ws *ws)
{
	struct evbuffer	*in = session_output(ws->ws_client->c_session);
	struct evbuffer	*out, *json = NULL;
	char		 hdr[WS_HEADER_MAX];
	const char	*p;
	size_t		 len, off = 0, used;
	int		 r;

	if (in == NULL || (len = evbuffer_get_length(in)) == 0)
		return 0;
	if ((out = client_ws_wire(ws, 1)) == NULL)
		return -1;
	if (ws->ws_resp) {
		if (evbuffer_add(out, hdr, ws_header(hdr, WS_OP_BINARY,
		    len)) == -1 || evbuffer_add_buffer(out, in) == -1)
			return -1;
		return 0;
	}
	if ((p = (const char *)evbuffer_pullup(in, -1)) == NULL ||
	    (json = evbuffer_new()) == NULL)
		return -1;
	while (off < len) {
		r = ws_reply_json(json, p + off, len - off, &used);
		if (r <= 0) {
			/* Our own replies are whole and well-formed. */
			log_warnx("a reply could not be read as RESP");
			break;
		}
		if (evbuffer_add(out, hdr, ws_header(hdr, WS_OP_TEXT,
		    evbuffer_get_length(json))) == -1 ||
		    evbuffer_add_buffer(out, json) == -1) {
			evbuffer_free(json);
			return -1;
		}
		off += used;
	}
	evbuffer_free(json);
	evbuffer_drain(in, len);
	return 0;
}

/*
 * The form messages come in: frames of the subprotocol, or, while a reply
 * is awaited (behind), RESP, to wait among the replies and be framed with
 * them (client_ws_replies()) in their order.
 */
void
client_ws_behind(struct client_ws *ws, int behind)
{
	struct session	*s = ws->ws_client->c_session;
	int		 resp3 = session_resp(s) == 3;
	enum hub_form	 form;

	if (behind)
		form = resp3 ? HUB_FORM_RESP3 : HUB_FORM_RESP2;
	else if (ws->ws_resp)
		form = resp3 ? HUB_FORM_WS_RESP3 : HUB_FORM_WS_RESP2;
	else
		form = HUB_FORM_WS_JSON;
	session_set_form(s, form);
}

/* Bytes the client's wire-ready output holds. */
size_t
client_ws_pending(const struct client_ws *ws)
{
	return ws->ws_out != NULL ? evbuffer_get_length(ws->ws_out) : 0;
}
