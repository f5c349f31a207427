/*
 * http.c: request heads, query strings and short responses (see http.h).
 * The parsing of the request line and the headers is http_parser's; this
 * file keeps the headers pubsubd looks at.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <http_parser.h>

#include "http.h"
#include "resp.h"

/* What the parser's callbacks fill. */
struct http_ctx {
	struct http_head	*c_head;
	char			**c_value;	/* the header being read's slot,
						   or NULL: one not kept */
	int			 c_nomem;
	int			 c_done;	/* the head is complete */
};

/* The headers kept, by name, and where each goes. */
static char **
http_slot(struct http_head *h, const char *name, size_t len)
{
	static const struct {
		const char	*name;
		size_t		 off;
	} kept[] = {
		{ "host", offsetof(struct http_head, host) },
		{ "origin", offsetof(struct http_head, origin) },
		{ "upgrade", offsetof(struct http_head, upgrade) },
		{ "connection", offsetof(struct http_head, connection) },
		{ "authorization", offsetof(struct http_head, authorization) },
		{ "sec-websocket-key", offsetof(struct http_head, ws_key) },
		{ "sec-websocket-version",
		    offsetof(struct http_head, ws_version) },
		{ "sec-websocket-protocol",
		    offsetof(struct http_head, ws_protocol) },
	};
	size_t	i;

	for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		if (strlen(kept[i].name) == len &&
		    strncasecmp(kept[i].name, name, len) == 0)
			return (char **)(void *)((char *)h + kept[i].off);
	return NULL;
}

/* A copy of len bytes at p, NUL-terminated; NULL out of memory. */
static char *
http_strndup(const char *p, size_t len)
{
	char	*s;

	if ((s = malloc(len + 1)) == NULL)
		return NULL;
	memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

static int
http_on_url(http_parser *p, const char *at, size_t len)
{
	struct http_ctx		*ctx = p->data;
	struct http_head	*h = ctx->c_head;
	const char		*q;

	if ((q = memchr(at, '?', len)) == NULL)
		q = at + len;
	free(h->path);
	free(h->query);
	h->path = http_strndup(at, (size_t)(q - at));
	h->query = q < at + len ? http_strndup(q + 1, (size_t)(at + len -
	    q - 1)) : NULL;
	if (h->path == NULL || (q < at + len && h->query == NULL)) {
		ctx->c_nomem = 1;
		return 1;
	}
	return 0;
}

static int
http_on_field(http_parser *p, const char *at, size_t len)
{
	struct http_ctx	*ctx = p->data;

	ctx->c_value = http_slot(ctx->c_head, at, len);
	return 0;
}

/* A header given twice is both values, joined by ", " (as HTTP says). */
static int
http_on_value(http_parser *p, const char *at, size_t len)
{
	struct http_ctx	*ctx = p->data;
	char		*v, *old;
	size_t		 n;

	if (ctx->c_value == NULL)
		return 0;
	if ((old = *ctx->c_value) == NULL)
		v = http_strndup(at, len);
	else if ((v = malloc((n = strlen(old)) + 2 + len + 1)) != NULL) {
		memcpy(v, old, n);
		memcpy(v + n, ", ", 2);
		memcpy(v + n + 2, at, len);
		v[n + 2 + len] = '\0';
	}
	if (v == NULL) {
		ctx->c_nomem = 1;
		return 1;
	}
	free(old);
	*ctx->c_value = v;
	ctx->c_value = NULL;
	return 0;
}

static int
http_on_headers_complete(http_parser *p)
{
	struct http_ctx		*ctx = p->data;
	struct http_head	*h = ctx->c_head;

	h->method = (int)p->method;
	h->major = p->http_major;
	h->minor = p->http_minor;
	h->keep_alive = http_should_keep_alive(p) != 0;
	ctx->c_done = 1;
	return 1;		/* no body is read */
}

enum http_read
http_head_read(struct evbuffer *in, size_t max, struct http_head *head,
    int *code, const char **why)
{
	http_parser_settings	 settings;
	http_parser		 parser;
	struct http_ctx		 ctx;
	struct evbuffer_ptr	 end;
	const char		*p;
	size_t			 len;

	memset(head, 0, sizeof(*head));
	end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (end.pos == -1) {
		if (evbuffer_get_length(in) <= max)
			return HTTP_READ_MORE;
		*code = 431;
		*why = "the request head is too large";
		return HTTP_READ_BAD;
	}
	len = (size_t)end.pos + 4;
	if (len > max) {
		*code = 431;
		*why = "the request head is too large";
		return HTTP_READ_BAD;
	}
	if ((p = (const char *)evbuffer_pullup(in, (ssize_t)len)) == NULL) {
		*code = 500;
		*why = "out of memory";
		return HTTP_READ_BAD;
	}
	http_parser_settings_init(&settings);
	settings.on_url = http_on_url;
	settings.on_header_field = http_on_field;
	settings.on_header_value = http_on_value;
	settings.on_headers_complete = http_on_headers_complete;
	http_parser_init(&parser, HTTP_REQUEST);
	memset(&ctx, 0, sizeof(ctx));
	ctx.c_head = head;
	parser.data = &ctx;
	(void)http_parser_execute(&parser, &settings, p, len);
	if (ctx.c_nomem) {
		*code = 500;
		*why = "out of memory";
	} else if (!ctx.c_done || head->path == NULL) {
		*code = 400;
		*why = HTTP_PARSER_ERRNO(&parser) != HPE_OK ?
		    http_errno_description(HTTP_PARSER_ERRNO(&parser)) :
		    "not a request head";
	} else if (head->major != 1) {
		*code = 505;
		*why = "only HTTP/1.x is served";
	} else {
		evbuffer_drain(in, len);
		return HTTP_READ_DONE;
	}
	http_head_clear(head);
	return HTTP_READ_BAD;
}

void
http_head_clear(struct http_head *head)
{
	free(head->path);
	free(head->query);
	free(head->host);
	free(head->origin);
	free(head->upgrade);
	free(head->connection);
	free(head->authorization);
	free(head->ws_key);
	free(head->ws_version);
	free(head->ws_protocol);
	memset(head, 0, sizeof(*head));
}

const char *
http_method_name(int method)
{
	return http_method_str((enum http_method)method);
}

/* Decodes [p, end) into a new string; NULL with *bad set if malformed. */
static char *
http_unescape(const char *p, const char *end, size_t *len, int *bad)
{
	char	*s, *o;
	int	 hi, lo;

	if ((s = o = malloc((size_t)(end - p) + 1)) == NULL)
		return NULL;
	for (; p < end; p++) {
		if (*p == '+')
			*o++ = ' ';
		else if (*p != '%')
			*o++ = *p;
		else if (end - p < 3 ||
		    (hi = resp_hexval((unsigned char)p[1])) == -1 ||
		    (lo = resp_hexval((unsigned char)p[2])) == -1) {
			free(s);
			*bad = 1;
			return NULL;
		} else {
			*o++ = (char)(hi << 4 | lo);
			p += 2;
		}
	}
	*o = '\0';
	*len = (size_t)(o - s);
	return s;
}

int
http_query_next(const char **q, char **key, size_t *klen, char **value,
    size_t *vlen)
{
	const char	*p = *q, *amp, *eq;
	int		 bad = 0;

	*key = *value = NULL;
	while (p != NULL && *p == '&')
		p++;
	if (p == NULL || *p == '\0')
		return 0;
	if ((amp = strchr(p, '&')) == NULL)
		amp = p + strlen(p);
	if ((eq = memchr(p, '=', (size_t)(amp - p))) == NULL)
		eq = amp;
	*q = amp;
	if ((*key = http_unescape(p, eq, klen, &bad)) == NULL ||
	    (*value = http_unescape(eq < amp ? eq + 1 : amp, amp, vlen,
	    &bad)) == NULL) {
		free(*key);
		*key = NULL;
		return bad ? -1 : -2;
	}
	return 1;
}

const char *
http_reason(int code)
{
	switch (code) {
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 426: return "Upgrade Required";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

int
http_respond(struct evbuffer *out, int code, const char *text,
    const char *extra)
{
	return evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n"
	    "Connection: close\r\n"
	    "%s\r\n"
	    "%s\r\n", code, http_reason(code), strlen(text) + 2,
	    extra != NULL ? extra : "", text) < 0 ? -1 : 0;
}

int
http_respond_static(struct evbuffer *out, const char *ctype, const char *body,
    size_t len, const char *extra)
{
	if (evbuffer_add_printf(out, "HTTP/1.1 200 OK\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "Connection: close\r\n"
	    "%s\r\n", ctype, len, extra != NULL ? extra : "") < 0)
		return -1;
	return evbuffer_add_reference(out, body, len, NULL, NULL);
}
