/*
 * resp.h: the Redis protocol on the client side: an incremental request
 * parser (RESP multibulk and inline commands, as redis-server parses them,
 * with the same limits and the same error texts) and reply encoders.
 */
#ifndef PUBSUBD_RESP_H
#define PUBSUBD_RESP_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

struct evbuffer;
struct resp_parser;

/* Redis' own limits, the defaults of struct resp_limits. */
#define RESP_INLINE_MAX		(64 * 1024)		/* PROTO_INLINE_MAX_SIZE */
#define RESP_MULTIBULK_MAX	INT_MAX			/* largest *N (7.0) */
#define RESP_BULK_MAX		(512LL * 1024 * 1024)	/* proto-max-bulk-len */

struct resp_limits {
	long long	 multibulk_max;	/* largest element count */
	long long	 bulk_max;	/* largest bulk length */
};

/* One parsed request; valid until the next resp_parse() or resp_parser_free(). */
struct resp_req {
	int		  argc;
	const char	**argv;		/* argv[i] has argvlen[i] bytes + a NUL */
	const size_t	 *argvlen;
};

enum resp_status {
	RESP_NEED_MORE = 0,	/* no complete request yet: read more */
	RESP_REQUEST,		/* *req holds a request */
	RESP_PROTO_ERROR	/* bad input: reply resp_parser_error(), close */
};

/*
 * A new parser; NULL limits means Redis' defaults. Owned by the caller.
 * NULL on allocation failure or bad limits (multibulk_max outside
 * 0..INT_MAX, bulk_max negative).
 */
struct resp_parser *resp_parser_new(const struct resp_limits *limits);
void		 resp_parser_free(struct resp_parser *p);

/*
 * Parses the next request from in, draining what it consumes (partial
 * input is kept in the parser or left in in, so a request may arrive one
 * byte at a time). Empty requests (an empty inline line, "*0") are skipped.
 * After RESP_PROTO_ERROR the parser stays failed; an allocation failure is
 * reported the same way, as "Protocol error: out of memory".
 */
enum resp_status resp_parse(struct resp_parser *p, struct evbuffer *in,
		    struct resp_req *req);

/*
 * Whether the parser is between requests with nothing of the next one
 * taken (it may then be freed and a new one made, losing nothing).
 */
int		 resp_parser_idle(const struct resp_parser *p);

/*
 * Overwrites argument i of req with zeros where the parser keeps it (a
 * password: it must not linger in the heap until the buffer is reused or
 * freed). The argument reads as empty bytes afterwards; i out of range is
 * ignored.
 */
void		 resp_req_cleanse(const struct resp_req *req, int i);

/* Redis' text for the last error, e.g. "Protocol error: invalid bulk length". */
const char	*resp_parser_error(const struct resp_parser *p);

/*
 * Input bytes of an unfinished request that the parser has already drained
 * from in (for query buffer limits: add evbuffer_get_length(in)).
 */
size_t		 resp_parser_pending(const struct resp_parser *p);

/*
 * The size of the one whole reply (RESP2 or RESP3, nested to any depth) at
 * the start of buf: 0 if it is not complete yet, -1 if buf is not RESP.
 */
long long	 resp_reply_size(const char *buf, size_t len);

/*
 * Reply encoders (RESP2); each returns 0 or -1 on allocation failure.
 * resp_add_error() turns CR/LF in its text into spaces, as Redis does.
 */
int		 resp_add_simple(struct evbuffer *out, const char *s);
int		 resp_add_error(struct evbuffer *out, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
int		 resp_add_int(struct evbuffer *out, long long n);
int		 resp_add_bulk(struct evbuffer *out, const void *p, size_t len);
int		 resp_add_null(struct evbuffer *out);
int		 resp_add_array(struct evbuffer *out, long long n);

/*
 * The value of hex digit c (either case), or -1: the parser's, for the
 * "\xHH" of inline requests; also the hex the users' digests and URLs are
 * written in.
 */
int		 resp_hexval(int c);

#endif /* PUBSUBD_RESP_H */
