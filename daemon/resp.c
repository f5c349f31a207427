/*
 * resp.c: the Redis protocol on the client side.
 *
 * The parser makes the decisions redis-server 7.0 makes in
 * processInlineBuffer() and processMultibulkBuffer(), with the same limits
 * and error texts, but incrementally over an evbuffer:
 *
 * - A request starting with '*' is a multibulk; anything else is an inline
 *   command, split like sdssplitargs() (quotes, escapes, blanks).
 * - Lines are searched as Redis does with strchr(3) on its query buffer: a
 *   NUL byte hides everything after it, so such a line never ends and only
 *   the "too big" limits (more than RESP_INLINE_MAX unparsed bytes and no
 *   end of line) get the connection out of it.
 * - "*N" and "$N" lines end at the first '\r', which must be followed by one
 *   more byte of any value; the two bytes after a bulk payload are skipped
 *   unchecked. Numbers are read like string2ll(): no sign but '-', no
 *   leading zeros, no blanks, at most 20 characters.
 * - "*N" with N <= 0 and inline lines with no words are skipped.
 *
 * Lines stay in the evbuffer until they are complete; p_scan remembers how
 * far the search got, so a line that trickles in a byte at a time is
 * scanned once. Bulk payloads are moved out of the evbuffer as they arrive
 * into the arena p_buf, where every argument of the current request lies
 * NUL-terminated; the arena grows by doubling, so a large bulk costs a
 * linear number of copies, and it is reused by the next request.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "resp.h"

#define RESP_NUM_MAX	20		/* longest string2ll() input */
#define RESP_ARENA_MIN	256		/* first arena allocation */
#define RESP_ARENA_KEEP	(1024 * 1024)	/* larger arenas are freed when idle */
#define RESP_ARGS_MIN	16		/* first argument array allocation */
#define RESP_ARGS_KEEP	4096		/* larger arrays are freed when idle */
#define RESP_CHUNK	(1024 * 1024 * 1024) /* most bytes per evbuffer call */
#define RESP_PEEK_VECS	8

enum resp_state {
	RESP_S_START = 0,	/* before the first byte of a request */
	RESP_S_INLINE,		/* looking for the '\n' of an inline request */
	RESP_S_COUNT,		/* looking for the '\r' after "*N" */
	RESP_S_BULKLEN,		/* looking for the '\r' after "$N" */
	RESP_S_PAYLOAD,		/* moving a bulk payload into the arena */
	RESP_S_TRAILER,		/* skipping the two bytes after a payload */
	RESP_S_FAILED		/* a protocol error was reported */
};

/* What a step of the parser tells resp_parse(). */
enum resp_step {
	RESP_STEP_NEXT = 0,	/* state changed: go on */
	RESP_STEP_MORE,		/* wait for more input */
	RESP_STEP_DONE,		/* a request is complete */
	RESP_STEP_ERROR		/* the parser failed */
};

struct resp_parser {
	struct resp_limits	  p_limits;
	enum resp_state		  p_state;
	size_t			  p_scan;	/* bytes of in searched for EOL */
	long long		  p_left;	/* elements still to read */
	size_t			  p_bulklen;	/* length of the current bulk */
	size_t			  p_got;	/* bytes of it in the arena */
	size_t			  p_skip;	/* trailer bytes still to skip */
	size_t			  p_pending;	/* input drained for this request */

	char			 *p_buf;	/* owned: the arguments, NUL-ended */
	size_t			  p_used;
	size_t			  p_size;

	size_t			 *p_off;	/* owned: argument offsets in p_buf */
	size_t			 *p_len;	/* owned: argument lengths */
	const char		**p_argv;	/* owned array, into p_buf */
	int			  p_argc;
	size_t			  p_argcap;	/* entries in each array */

	char			  p_err[64];
};

static enum resp_step	resp_fail(struct resp_parser *, const char *, ...)
			    __attribute__((format(printf, 2, 3)));
static void		resp_reset(struct resp_parser *);
static int		resp_reserve(struct resp_parser *, size_t);
static int		resp_add_arg(struct resp_parser *, size_t, size_t);
static int		resp_find(struct resp_parser *, struct evbuffer *, char,
			    size_t *);
static int		resp_number(struct evbuffer *, size_t, long long *);
static int		resp_isspace(int);
static int		resp_remove(struct evbuffer *, char *, size_t);
static int		resp_split(struct resp_parser *);
static void		resp_finish(struct resp_parser *, struct resp_req *);
static enum resp_step	resp_inline(struct resp_parser *, struct evbuffer *);
static enum resp_step	resp_count(struct resp_parser *, struct evbuffer *);
static enum resp_step	resp_bulklen(struct resp_parser *, struct evbuffer *);
static enum resp_step	resp_payload(struct resp_parser *, struct evbuffer *);
static enum resp_step	resp_trailer(struct resp_parser *, struct evbuffer *);
static int		resp_add_line(struct evbuffer *, char, long long);

/* Returns a parser with the given limits (NULL: Redis' defaults). */
struct resp_parser *
resp_parser_new(const struct resp_limits *limits)
{
	struct resp_parser	*p;

	if (limits != NULL && (limits->multibulk_max < 0 ||
	    limits->multibulk_max > INT_MAX || limits->bulk_max < 0 ||
	    (unsigned long long)limits->bulk_max > SIZE_MAX - 2)) {
		errno = EINVAL;
		return NULL;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	if (limits != NULL)
		p->p_limits = *limits;
	else {
		p->p_limits.multibulk_max = RESP_MULTIBULK_MAX;
		p->p_limits.bulk_max = RESP_BULK_MAX;
	}
	p->p_state = RESP_S_START;
	return p;
}

/* Frees a parser and its arena; NULL is allowed. */
void
resp_parser_free(struct resp_parser *p)
{
	if (p == NULL)
		return;
	free(p->p_buf);
	free(p->p_off);
	free(p->p_len);
	free(p->p_argv);
	free(p);
}

/* Whether the parser is between requests, holding nothing of the next. */
int
resp_parser_idle(const struct resp_parser *p)
{
	return p->p_state == RESP_S_START && p->p_pending == 0;
}

/* Returns the text of the protocol error reported, or "" if none was. */
const char *
resp_parser_error(const struct resp_parser *p)
{
	return p->p_err;
}

/* Returns the input bytes of the unfinished request that were drained. */
size_t
resp_parser_pending(const struct resp_parser *p)
{
	return p->p_pending;
}

/*
 * Records a protocol error, with CR and LF turned into spaces as Redis'
 * addReplyErrorFormat() does, and fails the parser for good.
 */
static enum resp_step
resp_fail(struct resp_parser *p, const char *fmt, ...)
{
	va_list	 ap;
	char	*c;

	va_start(ap, fmt);
	vsnprintf(p->p_err, sizeof(p->p_err), fmt, ap);
	va_end(ap);
	for (c = p->p_err; *c != '\0'; c++) {
		if (*c == '\r' || *c == '\n')
			*c = ' ';
	}
	p->p_state = RESP_S_FAILED;
	return RESP_STEP_ERROR;
}

/* Empties the arena for a new request, freeing it if a big one grew it. */
static void
resp_reset(struct resp_parser *p)
{
	if (p->p_size > RESP_ARENA_KEEP) {
		free(p->p_buf);
		p->p_buf = NULL;
		p->p_size = 0;
	}
	if (p->p_argcap > RESP_ARGS_KEEP) {
		free(p->p_off);
		free(p->p_len);
		free(p->p_argv);
		p->p_off = p->p_len = NULL;
		p->p_argv = NULL;
		p->p_argcap = 0;
	}
	p->p_used = 0;
	p->p_argc = 0;
	p->p_pending = 0;
	p->p_scan = 0;
}

/* Makes the arena hold at least need bytes, doubling it; 0 or -1. */
static int
resp_reserve(struct resp_parser *p, size_t need)
{
	size_t	 size;
	char	*buf;

	if (need <= p->p_size)
		return 0;
	size = p->p_size > 0 ? p->p_size : RESP_ARENA_MIN;
	while (size < need) {
		if (size > SIZE_MAX / 2) {
			size = need;
			break;
		}
		size *= 2;
	}
	if ((buf = realloc(p->p_buf, size)) == NULL)
		return -1;
	p->p_buf = buf;
	p->p_size = size;
	return 0;
}

/* Appends an argument at off of len bytes in the arena; 0 or -1. */
static int
resp_add_arg(struct resp_parser *p, size_t off, size_t len)
{
	size_t		  cap;
	size_t		 *noff, *nlen;
	const char	**nargv;

	if (p->p_argc == INT_MAX)
		return -1;
	if ((size_t)p->p_argc == p->p_argcap) {
		cap = p->p_argcap > 0 ? p->p_argcap * 2 : RESP_ARGS_MIN;
		if (cap > SIZE_MAX / sizeof(*noff))
			return -1;
		if ((noff = realloc(p->p_off, cap * sizeof(*noff))) == NULL)
			return -1;
		p->p_off = noff;
		if ((nlen = realloc(p->p_len, cap * sizeof(*nlen))) == NULL)
			return -1;
		p->p_len = nlen;
		if ((nargv = realloc(p->p_argv, cap * sizeof(*nargv))) == NULL)
			return -1;
		p->p_argv = nargv;
		p->p_argcap = cap;
	}
	p->p_off[p->p_argc] = off;
	p->p_len[p->p_argc] = len;
	p->p_argc++;
	return 0;
}

/*
 * Looks for c in in from offset p_scan on, stopping at a NUL byte as
 * strchr(3) would. Returns 1 with the offset in *at, or 0 with p_scan moved
 * to the end of the input or to the NUL that hides the rest.
 */
static int
resp_find(struct resp_parser *p, struct evbuffer *in, char c, size_t *at)
{
	struct evbuffer_ptr	 ptr;
	struct evbuffer_iovec	 v[RESP_PEEK_VECS];
	const char		*base, *hit, *nul;
	size_t			 len, seen;
	int			 i, n;

	if (p->p_scan >= evbuffer_get_length(in))
		return 0;
	if (evbuffer_ptr_set(in, &ptr, p->p_scan, EVBUFFER_PTR_SET) == -1)
		return 0;
	for (;;) {
		n = evbuffer_peek(in, -1, &ptr, v, RESP_PEEK_VECS);
		if (n <= 0)
			return 0;
		if (n > RESP_PEEK_VECS)
			n = RESP_PEEK_VECS;
		for (seen = 0, i = 0; i < n; i++) {
			base = v[i].iov_base;
			len = v[i].iov_len;
			hit = memchr(base, c, len);
			nul = memchr(base, '\0', hit != NULL ?
			    (size_t)(hit - base) : len);
			if (nul != NULL) {
				p->p_scan += nul - base;
				return 0;
			}
			if (hit != NULL) {
				*at = p->p_scan + (size_t)(hit - base);
				return 1;
			}
			p->p_scan += len;
			seen += len;
		}
		/* On from where this batch ended, not from the start. */
		if (p->p_scan >= evbuffer_get_length(in) ||
		    evbuffer_ptr_set(in, &ptr, seen, EVBUFFER_PTR_ADD) == -1)
			return 0;
	}
}

/*
 * Reads the number in the first len bytes of in as string2ll() does.
 * Returns 1 with the value in *v, or 0 if it is not a valid number.
 */
static int
resp_number(struct evbuffer *in, size_t len, long long *v)
{
	char			 s[RESP_NUM_MAX];
	unsigned long long	 u;
	unsigned		 d;
	size_t			 i = 0;
	int			 neg = 0;

	if (len == 0 || len > RESP_NUM_MAX)
		return 0;
	if (evbuffer_copyout(in, s, len) != (ev_ssize_t)len)
		return 0;
	if (len == 1 && s[0] == '0') {
		*v = 0;
		return 1;
	}
	if (s[0] == '-') {
		neg = 1;
		if (++i == len)
			return 0;
	}
	if (s[i] < '1' || s[i] > '9')
		return 0;
	for (u = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		d = (unsigned)(s[i] - '0');
		if (u > (ULLONG_MAX - d) / 10)
			return 0;
		u = u * 10 + d;
	}
	if (neg) {
		if (u > (unsigned long long)LLONG_MAX + 1)
			return 0;
		*v = u == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN :
		    -(long long)u;
	} else {
		if (u > (unsigned long long)LLONG_MAX)
			return 0;
		*v = (long long)u;
	}
	return 1;
}

/* Tells whether c is a blank to isspace(3) in the C locale. */
static int
resp_isspace(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
	    c == '\r';
}

/* The value of hex digit c, or -1 (see resp.h). */
int
resp_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Moves the first n bytes of in to dst; 0, or -1 if they are not there. */
static int
resp_remove(struct evbuffer *in, char *dst, size_t n)
{
	size_t	 chunk;

	while (n > 0) {
		chunk = n < RESP_CHUNK ? n : RESP_CHUNK;
		if (evbuffer_remove(in, dst, chunk) != (int)chunk)
			return -1;
		dst += chunk;
		n -= chunk;
	}
	return 0;
}

/*
 * Splits the NUL-terminated line at the start of the arena into arguments
 * in place, with sdssplitargs()' rules: blanks separate words outside
 * quotes, and only space, tab, CR and LF end an unquoted word (a quote in
 * it opens a quoted part of the same word); "..." knows \n \r \t \b \a
 * \xHH and \<any>; '...' knows only \'; a closing quote must be followed
 * by a blank or the end. Each word is written back over the line, never
 * ahead of where it is read, and NUL-terminated. Returns 0, -1 for
 * unbalanced quotes, -2 without memory.
 */
static int
resp_split(struct resp_parser *p)
{
	char	*r, *w, *start, c;
	int	 inq, insq, done, hi, lo;

	r = w = p->p_buf;
	for (;;) {
		while (*r != '\0' && resp_isspace((unsigned char)*r))
			r++;
		if (*r == '\0')
			return 0;
		start = w;
		inq = insq = done = 0;
		while (!done) {
			if (inq) {
				if (r[0] == '\\' && r[1] == 'x' &&
				    (hi = resp_hexval((unsigned char)r[2])) != -1 &&
				    (lo = resp_hexval((unsigned char)r[3])) != -1) {
					*w++ = (char)(hi * 16 + lo);
					r += 3;
				} else if (r[0] == '\\' && r[1] != '\0') {
					switch (*++r) {
					case 'n':
						c = '\n';
						break;
					case 'r':
						c = '\r';
						break;
					case 't':
						c = '\t';
						break;
					case 'b':
						c = '\b';
						break;
					case 'a':
						c = '\a';
						break;
					default:
						c = *r;
						break;
					}
					*w++ = c;
				} else if (*r == '"') {
					if (r[1] != '\0' &&
					    !resp_isspace((unsigned char)r[1]))
						return -1;
					done = 1;
				} else if (*r == '\0')
					return -1;
				else
					*w++ = *r;
			} else if (insq) {
				if (r[0] == '\\' && r[1] == '\'') {
					r++;
					*w++ = '\'';
				} else if (*r == '\'') {
					if (r[1] != '\0' &&
					    !resp_isspace((unsigned char)r[1]))
						return -1;
					done = 1;
				} else if (*r == '\0')
					return -1;
				else
					*w++ = *r;
			} else {
				switch (*r) {
				case ' ':
				case '\n':
				case '\r':
				case '\t':
				case '\0':
					done = 1;
					break;
				case '"':
					inq = 1;
					break;
				case '\'':
					insq = 1;
					break;
				default:
					*w++ = *r;
					break;
				}
			}
			if (*r != '\0')
				r++;
		}
		/* w is at or before the terminator or closing quote just read. */
		*w = '\0';
		if (resp_add_arg(p, (size_t)(start - p->p_buf),
		    (size_t)(w - start)) == -1)
			return -2;
		w++;
	}
}

/* Points the request at the arguments in the arena; the request is over. */
static void
resp_finish(struct resp_parser *p, struct resp_req *req)
{
	int	 i;

	for (i = 0; i < p->p_argc; i++)
		p->p_argv[i] = p->p_buf + p->p_off[i];
	req->argc = p->p_argc;
	req->argv = p->p_argv;
	req->argvlen = p->p_len;
	p->p_state = RESP_S_START;
	p->p_pending = 0;
}

/* Wipes one argument in the arena, which is the parser's and writable. */
void
resp_req_cleanse(const struct resp_req *req, int i)
{
	if (i < 0 || i >= req->argc)
		return;
	explicit_bzero((char *)(uintptr_t)req->argv[i], req->argvlen[i]);
}

/*
 * Parses an inline request once its '\n' is in: the line, less one '\r'
 * before the '\n', is moved into the arena and split there. A line with no
 * words is skipped.
 */
static enum resp_step
resp_inline(struct resp_parser *p, struct evbuffer *in)
{
	size_t	 at, len;

	if (!resp_find(p, in, '\n', &at)) {
		if (evbuffer_get_length(in) > RESP_INLINE_MAX)
			return resp_fail(p,
			    "Protocol error: too big inline request");
		return RESP_STEP_MORE;
	}
	if (resp_reserve(p, at + 1) == -1 || resp_remove(in, p->p_buf, at) == -1)
		return resp_fail(p, "Protocol error: out of memory");
	evbuffer_drain(in, 1);
	len = at;
	if (len > 0 && p->p_buf[len - 1] == '\r')
		len--;
	p->p_buf[len] = '\0';
	p->p_used = at + 1;
	switch (resp_split(p)) {
	case -1:
		return resp_fail(p,
		    "Protocol error: unbalanced quotes in request");
	case -2:
		return resp_fail(p, "Protocol error: out of memory");
	}
	if (p->p_argc == 0) {
		resp_reset(p);
		p->p_state = RESP_S_START;
		return RESP_STEP_NEXT;
	}
	return RESP_STEP_DONE;
}

/*
 * Reads the "*N" line of a multibulk once its '\r' and one byte more (of
 * any value) are in. "*N" with N <= 0 is skipped.
 */
static enum resp_step
resp_count(struct resp_parser *p, struct evbuffer *in)
{
	size_t		 at;
	long long	 n;

	if (!resp_find(p, in, '\r', &at)) {
		if (evbuffer_get_length(in) > RESP_INLINE_MAX)
			return resp_fail(p,
			    "Protocol error: too big mbulk count string");
		return RESP_STEP_MORE;
	}
	if (at + 2 > evbuffer_get_length(in))
		return RESP_STEP_MORE;
	evbuffer_drain(in, 1);		/* the '*' */
	if (!resp_number(in, at - 1, &n) || n > p->p_limits.multibulk_max)
		return resp_fail(p, "Protocol error: invalid multibulk length");
	evbuffer_drain(in, at + 1);
	if (n <= 0) {
		resp_reset(p);
		p->p_state = RESP_S_START;
		return RESP_STEP_NEXT;
	}
	p->p_scan = 0;
	p->p_pending += at + 2;
	p->p_left = n;
	p->p_state = RESP_S_BULKLEN;
	return RESP_STEP_NEXT;
}

/* Reads a "$N" line once its '\r' and one byte more (of any value) are in. */
static enum resp_step
resp_bulklen(struct resp_parser *p, struct evbuffer *in)
{
	size_t		 at;
	long long	 n;
	unsigned char	 c;

	if (!resp_find(p, in, '\r', &at)) {
		if (evbuffer_get_length(in) > RESP_INLINE_MAX)
			return resp_fail(p,
			    "Protocol error: too big bulk count string");
		return RESP_STEP_MORE;
	}
	if (at + 2 > evbuffer_get_length(in) ||
	    evbuffer_copyout(in, &c, 1) != 1)
		return RESP_STEP_MORE;
	if (c != '$')
		return resp_fail(p, "Protocol error: expected '$', got '%c'", c);
	evbuffer_drain(in, 1);
	if (!resp_number(in, at - 1, &n) || n < 0 ||
	    n > p->p_limits.bulk_max)
		return resp_fail(p, "Protocol error: invalid bulk length");
	evbuffer_drain(in, at + 1);
	if (resp_add_arg(p, p->p_used, (size_t)n) == -1)
		return resp_fail(p, "Protocol error: out of memory");
	p->p_scan = 0;
	p->p_pending += at + 2;
	p->p_bulklen = (size_t)n;
	p->p_got = 0;
	p->p_state = RESP_S_PAYLOAD;
	return RESP_STEP_NEXT;
}

/*
 * Moves what is in of the current bulk payload into the arena; once it is
 * all there, NUL-terminates it and goes on to the two bytes after it.
 */
static enum resp_step
resp_payload(struct resp_parser *p, struct evbuffer *in)
{
	size_t	 n;

	n = evbuffer_get_length(in);
	if (n > p->p_bulklen - p->p_got)
		n = p->p_bulklen - p->p_got;
	if (resp_reserve(p, p->p_used + n + 1) == -1 ||
	    resp_remove(in, p->p_buf + p->p_used, n) == -1)
		return resp_fail(p, "Protocol error: out of memory");
	p->p_used += n;
	p->p_got += n;
	p->p_pending += n;
	if (p->p_got < p->p_bulklen)
		return RESP_STEP_MORE;
	p->p_buf[p->p_used++] = '\0';
	p->p_skip = 2;
	p->p_state = RESP_S_TRAILER;
	return RESP_STEP_NEXT;
}

/*
 * Skips the two bytes after a payload, unchecked as Redis does, and ends
 * the request after its last element.
 */
static enum resp_step
resp_trailer(struct resp_parser *p, struct evbuffer *in)
{
	size_t	 n;

	n = evbuffer_get_length(in);
	if (n > p->p_skip)
		n = p->p_skip;
	evbuffer_drain(in, n);
	p->p_skip -= n;
	p->p_pending += n;
	if (p->p_skip > 0)
		return RESP_STEP_MORE;
	if (--p->p_left > 0) {
		p->p_state = RESP_S_BULKLEN;
		return RESP_STEP_NEXT;
	}
	return RESP_STEP_DONE;
}

/* Parses the next request from in; see resp.h. */
enum resp_status
resp_parse(struct resp_parser *p, struct evbuffer *in, struct resp_req *req)
{
	enum resp_step	 step = RESP_STEP_NEXT;
	unsigned char	 c;

	if (p->p_state == RESP_S_START)
		resp_reset(p);
	while (step == RESP_STEP_NEXT) {
		switch (p->p_state) {
		case RESP_S_START:
			if (evbuffer_copyout(in, &c, 1) != 1)
				return RESP_NEED_MORE;
			p->p_scan = 0;
			p->p_state = c == '*' ? RESP_S_COUNT : RESP_S_INLINE;
			break;
		case RESP_S_INLINE:
			step = resp_inline(p, in);
			break;
		case RESP_S_COUNT:
			step = resp_count(p, in);
			break;
		case RESP_S_BULKLEN:
			step = resp_bulklen(p, in);
			break;
		case RESP_S_PAYLOAD:
			step = resp_payload(p, in);
			break;
		case RESP_S_TRAILER:
			step = resp_trailer(p, in);
			break;
		case RESP_S_FAILED:
			step = RESP_STEP_ERROR;
			break;
		}
	}
	switch (step) {
	case RESP_STEP_DONE:
		resp_finish(p, req);
		return RESP_REQUEST;
	case RESP_STEP_ERROR:
		return RESP_PROTO_ERROR;
	default:
		return RESP_NEED_MORE;
	}
}

/* Appends a '<type><n>\r\n' line. */
static int
resp_add_line(struct evbuffer *out, char type, long long n)
{
	char	 line[32];
	int	 len;

	len = snprintf(line, sizeof(line), "%c%lld\r\n", type, n);
	return evbuffer_add(out, line, (size_t)len);
}

/* Appends "+s\r\n"; s must hold no CR or LF. */
int
resp_add_simple(struct evbuffer *out, const char *s)
{
	size_t	 len = strlen(s);

	if (evbuffer_expand(out, len + 3) == -1)
		return -1;
	if (evbuffer_add(out, "+", 1) == -1 ||
	    evbuffer_add(out, s, len) == -1 ||
	    evbuffer_add(out, "\r\n", 2) == -1)
		return -1;
	return 0;
}

/*
 * Appends "-<text>\r\n", the text formatted from fmt ("ERR ..."); like
 * Redis' addReplyErrorFormat(), CR and LF at either end are dropped and
 * those inside turned into spaces so that the reply stays one line.
 */
int
resp_add_error(struct evbuffer *out, const char *fmt, ...)
{
	va_list	 ap;
	char	 small[256], *s = small, *start, *end, *c;
	int	 len, rv = -1;

	va_start(ap, fmt);
	len = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (len < 0)
		goto out;
	if ((size_t)len >= sizeof(small)) {
		if ((s = malloc((size_t)len + 1)) == NULL)
			goto out;
		va_start(ap, fmt);
		vsnprintf(s, (size_t)len + 1, fmt, ap);
		va_end(ap);
	}
	start = s;
	end = s + len;
	while (start < end && (*start == '\r' || *start == '\n'))
		start++;
	while (end > start && (end[-1] == '\r' || end[-1] == '\n'))
		end--;
	for (c = start; c < end; c++) {
		if (*c == '\r' || *c == '\n')
			*c = ' ';
	}
	if (evbuffer_expand(out, (size_t)(end - start) + 3) == -1)
		goto out;
	if (evbuffer_add(out, "-", 1) == -1 ||
	    evbuffer_add(out, start, (size_t)(end - start)) == -1 ||
	    evbuffer_add(out, "\r\n", 2) == -1)
		goto out;
	rv = 0;
out:
	if (s != small)
		free(s);
	return rv;
}

/* Appends ":n\r\n". */
int
resp_add_int(struct evbuffer *out, long long n)
{
	return resp_add_line(out, ':', n);
}

/* Appends "$len\r\n", the len bytes at p and "\r\n". */
int
resp_add_bulk(struct evbuffer *out, const void *p, size_t len)
{
	char	 hdr[32];
	int	 hlen;

	hlen = snprintf(hdr, sizeof(hdr), "$%zu\r\n", len);
	if (len > SIZE_MAX - (size_t)hlen - 2)
		return -1;
	/* Room first, so that the reply is never left half written. */
	if (evbuffer_expand(out, (size_t)hlen + len + 2) == -1)
		return -1;
	if (evbuffer_add(out, hdr, (size_t)hlen) == -1 ||
	    (len > 0 && evbuffer_add(out, p, len) == -1) ||
	    evbuffer_add(out, "\r\n", 2) == -1)
		return -1;
	return 0;
}

/* Appends the null bulk string "$-1\r\n". */
int
resp_add_null(struct evbuffer *out)
{
	return evbuffer_add(out, "$-1\r\n", 5);
}

/* Appends the array header "*n\r\n"; n elements must follow. */
int
resp_add_array(struct evbuffer *out, long long n)
{
	return resp_add_line(out, '*', n);
}

/*
 * Reads the decimal integer of a reply header that spans exactly
 * [p, p + len) (no terminator is needed); -1 if it is not one.
 */
static int
resp_header_number(const char *p, size_t len, long long *out)
{
	long long	v = 0;
	size_t		i = 0;
	int		neg = 0;

	if (len > 0 && p[0] == '-') {
		neg = 1;
		i = 1;
	}
	if (i == len || len - i > 18)
		return -1;
	for (; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	*out = neg ? -v : v;
	return 0;
}

/*
 * Measures one whole reply without recursion: "pending" counts the values
 * still to read, each aggregate header adding its elements (twice for maps
 * and attributes), so that any depth of nesting costs nothing more. The
 * buffer need not be NUL-terminated.
 */
long long
resp_reply_size(const char *buf, size_t len)
{
	const char	*eol;
	size_t		 off = 0, hdr;
	long long	 pending = 1, n;

	while (pending > 0) {
		if (off >= len)
			return 0;
		eol = memchr(buf + off, '\n', len - off);
		if (eol == NULL)
			return 0;
		hdr = (size_t)(eol - (buf + off)) + 1;
		if (hdr < 3 || buf[off + hdr - 2] != '\r')
			return -1;
		pending--;
		switch (buf[off]) {
		case '+': case '-': case ':': case '_': case ',': case '#':
		case '(':
			off += hdr;
			break;
		case '$': case '!': case '=':
			if (resp_header_number(buf + off + 1, hdr - 3, &n) == -1 ||
			    n < -1)
				return -1;
			off += hdr;
			if (n >= 0) {
				if (len - off < (size_t)n + 2)
					return 0;
				off += (size_t)n + 2;
			}
			break;
		case '*': case '>': case '~': case '%': case '|':
			if (resp_header_number(buf + off + 1, hdr - 3, &n) == -1 ||
			    n < -1 || n > INT32_MAX)
				return -1;
			if (buf[off] == '%' || buf[off] == '|')
				n *= 2;
			if (buf[off] == '|')
				pending++;	/* the attributed value follows */
			if (n > 0)
				pending += n;
			off += hdr;
			break;
		default:
			return -1;
		}
	}
	return (long long)off;
}
