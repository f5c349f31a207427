/*
 * http.h: the little of HTTP/1.1 that pubsubd's web listeners speak: the
 * head of one request (its request line and headers, parsed by the
 * http_parser library), the pairs of its query string, and short
 * responses with a status and a line of text.
 *
 * A request head is taken whole: bytes accumulate in the connection's
 * input until the blank line that ends the head (or the limit on its size
 * passes), and then the head is parsed in one call; what follows it stays
 * in the input.
 */
#ifndef PUBSUBD_HTTP_H
#define PUBSUBD_HTTP_H

#include <stddef.h>

struct evbuffer;

/*
 * One request head. Owned by whoever http_head_read() filled it for;
 * http_head_clear() frees what it holds. Each string is NUL-terminated,
 * or NULL when the request did not have it.
 */
struct http_head {
	int	 method;	/* http_parser's enum http_method */
	int	 major, minor;	/* HTTP/major.minor */
	char	*path;		/* the target up to '?', as sent */
	char	*query;		/* after '?', as sent */
	char	*host;
	char	*origin;
	char	*upgrade;
	char	*connection;
	char	*authorization;
	char	*ws_key;	/* Sec-WebSocket-Key */
	char	*ws_version;	/* Sec-WebSocket-Version */
	char	*ws_protocol;	/* Sec-WebSocket-Protocol */
	int	 keep_alive;	/* the connection may carry another request */
};

enum http_read {
	HTTP_READ_MORE = 0,	/* no whole head yet */
	HTTP_READ_DONE,		/* *head is filled, the head drained */
	HTTP_READ_BAD		/* *code and *why say what was wrong */
};

/*
 * Reads a request head from the start of in, of at most max bytes.
 * Returns HTTP_READ_DONE (head filled; the head's bytes drained from in),
 * HTTP_READ_MORE, or HTTP_READ_BAD with the status to answer in *code (400
 * malformed, 431 too large, 505 not HTTP/1.x, 500 out of memory) and a
 * line of text in *why.
 */
enum http_read	 http_head_read(struct evbuffer *in, size_t max,
		    struct http_head *head, int *code, const char **why);
void		 http_head_clear(struct http_head *head);

/* The name of a method (http_parser's), e.g. "GET". */
const char	*http_method_name(int method);

/*
 * Iterates over the pairs of a query string: *q is where the next pair
 * starts (the query at first). Decodes the next key and value (percent
 * escapes and '+' as a space) into new strings, NUL-terminated, their
 * lengths in *klen and *vlen (they may hold NUL bytes), to be freed by the
 * caller. Returns 1 with a pair, 0 at the end, -1 for a malformed escape
 * (*key and *value are then NULL), -2 out of memory.
 */
int		 http_query_next(const char **q, char **key, size_t *klen,
		    char **value, size_t *vlen);

/* The reason phrase of a status, e.g. "Not Found". */
const char	*http_reason(int code);

/*
 * Appends a whole response to out: the status line, a text/plain body of
 * one line (text, then CRLF), Content-Length, Connection: close, and any
 * headers in extra (each ending in CRLF; may be NULL). 0, or -1 out of
 * memory.
 */
int		 http_respond(struct evbuffer *out, int code, const char *text,
		    const char *extra);

/*
 * Appends a whole 200 response with a body of len bytes at body (taken by
 * reference: it must outlive the output, as a static page does), of type
 * ctype, and the headers in extra. 0, or -1 out of memory.
 */
int		 http_respond_static(struct evbuffer *out, const char *ctype,
		    const char *body, size_t len, const char *extra);

#endif /* PUBSUBD_HTTP_H */
