/*
 * test_resp.c: Check suite for daemon/resp.c.
 *
 * The parser is fed byte strings whole, a byte at a time or in chunks, and
 * what it returns is written down as text, "(SET|key|value)" per request
 * and "!<error>" for a protocol error, with bytes outside printable ASCII
 * (and '|', '\\', '(', ')') as \xHH. The expected texts and errors are what
 * redis-server 7.0.15 answered to the same bytes. The encoders are checked
 * byte for byte.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <check.h>

#include "check_run.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "resp.h"

#define OUT_MAX		(RESP_INLINE_MAX + 1024)
#define FEED_WHOLE	((size_t)-1)
#define BIG_BULK	(20 * 1024 * 1024)
#define BIG_CHUNK	(64 * 1024)

#define S(lit)		(lit), sizeof(lit) - 1

/* What one feed produced, as text. */
struct out {
	char	 s[OUT_MAX];
	size_t	 len;
	int	 failed;
	int	 requests;
};

static void	out_add(struct out *, const char *, size_t);
static void	out_req(struct out *, const struct resp_req *);
static void	drain(struct resp_parser *, struct evbuffer *, struct out *);
static void	feed(struct resp_parser *, const char *, size_t, size_t,
		    struct out *);
static void	check_parse(const char *, size_t, const char *);
static void	check_parse_with(const struct resp_limits *, const char *,
		    size_t, const char *);
static void	check_buffer(struct evbuffer *, const char *, size_t);
/* resp_reply_size() measures whole replies of any nesting, RESP2 and 3. */
START_TEST(test_reply_size)
{
	static const struct {
		const char	*in;
		long long	 size;
	} cases[] = {
		{ "+OK\r\n", 5 },
		{ "+OK\r\n+PONG\r\n", 5 },
		{ ":12\r\n", 5 },
		{ "$3\r\nabc\r\n", 9 },
		{ "$-1\r\n", 5 },
		{ "*-1\r\n", 5 },
		{ "*0\r\n", 4 },
		{ "*2\r\n$1\r\na\r\n:1\r\n", 15 },
		{ "%1\r\n+k\r\n+v\r\n", 12 },
		{ ">2\r\n+a\r\n_\r\n", 11 },
		{ "|1\r\n+k\r\n+v\r\n:1\r\n", 16 },
		{ "=8\r\ntxt:abcd\r\n", 14 },
		{ "$3\r\nab", 0 },
		{ "*2\r\n:1\r\n", 0 },
		{ "+OK", 0 },
		{ "", 0 },
		{ "?x\r\n", -1 },
		{ "$x\r\n", -1 },
		{ "+OK\n", -1 },
		/* Found by fuzzing: a header number read past the buffer. */
		{ "*\r\n", -1 },
		{ "$\r\n", -1 },
		{ "*1 \r\n", -1 },
		{ "*\r\n\r\n", -1 },
	};
	char		 deep[4096];
	size_t		 i, n = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(resp_reply_size(cases[i].in, strlen(cases[i].in)) ==
		    cases[i].size, "case %zu", i);
	/* 500 levels deep: far past hiredis 0.14's seven. */
	for (i = 0; i < 500; i++)
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "*1\r\n");
	n += (size_t)snprintf(deep + n, sizeof(deep) - n, ":7\r\n");
	ck_assert_int_eq(resp_reply_size(deep, n), (long long)n);
	ck_assert_int_eq(resp_reply_size(deep, n - 1), 0);
}
END_TEST

static Suite	*resp_suite(void);

/* Appends len bytes to the output text, escaping the unprintable ones. */
static void
out_add(struct out *o, const char *s, size_t len)
{
	unsigned char	 c;
	size_t		 i;

	for (i = 0; i < len; i++) {
		ck_assert_uint_lt(o->len + 5, sizeof(o->s));
		c = (unsigned char)s[i];
		if (c < 0x20 || c > 0x7e || c == '|' || c == '\\' ||
		    c == '(' || c == ')')
			o->len += (size_t)snprintf(o->s + o->len,
			    sizeof(o->s) - o->len, "\\x%02x", c);
		else
			o->s[o->len++] = (char)c;
	}
	o->s[o->len] = '\0';
}

/* Writes a request down, checking that every argument is NUL-terminated. */
static void
out_req(struct out *o, const struct resp_req *req)
{
	int	 i;

	ck_assert_int_gt(req->argc, 0);
	ck_assert_uint_lt(o->len + 1, sizeof(o->s));
	o->s[o->len++] = '(';
	for (i = 0; i < req->argc; i++) {
		ck_assert_int_eq(req->argv[i][req->argvlen[i]], '\0');
		if (i > 0)
			o->s[o->len++] = '|';
		out_add(o, req->argv[i], req->argvlen[i]);
		ck_assert_uint_lt(o->len + 2, sizeof(o->s));
	}
	o->s[o->len++] = ')';
	o->s[o->len] = '\0';
	o->requests++;
}

/* Parses until the parser wants more input or fails. */
static void
drain(struct resp_parser *p, struct evbuffer *in, struct out *o)
{
	struct resp_req	 req;
	enum resp_status st;
	char		 err[128];

	if (o->failed)
		return;
	while ((st = resp_parse(p, in, &req)) == RESP_REQUEST)
		out_req(o, &req);
	if (st == RESP_PROTO_ERROR) {
		o->failed = 1;
		snprintf(err, sizeof(err), "!%s", resp_parser_error(p));
		out_add(o, err, strlen(err));
		/* Failed for good, whatever comes next. */
		evbuffer_add(in, "PING\r\n", 6);
		ck_assert_int_eq(resp_parse(p, in, &req), RESP_PROTO_ERROR);
	}
}

/* Feeds len bytes at s to p in pieces of chunk bytes, parsing after each. */
static void
feed(struct resp_parser *p, const char *s, size_t len, size_t chunk,
    struct out *o)
{
	struct evbuffer	*in;
	size_t		 off, n;

	memset(o, 0, sizeof(*o));
	in = evbuffer_new();
	ck_assert_ptr_nonnull(in);
	for (off = 0; off < len; off += n) {
		n = len - off < chunk ? len - off : chunk;
		ck_assert_int_eq(evbuffer_add(in, s + off, n), 0);
		drain(p, in, o);
	}
	if (len == 0)
		drain(p, in, o);
	evbuffer_free(in);
}

/*
 * Checks that s parses to want, fed whole, a byte at a time and in pieces
 * of 2, 3 and 7 bytes, each time with a fresh parser with these limits.
 */
static void
check_parse_with(const struct resp_limits *limits, const char *s, size_t len,
    const char *want)
{
	static const size_t	 chunks[] = { FEED_WHOLE, 1, 2, 3, 7 };
	struct resp_parser	*p;
	struct out		 o;
	size_t			 i;

	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		p = resp_parser_new(limits);
		ck_assert_ptr_nonnull(p);
		feed(p, s, len, chunks[i], &o);
		ck_assert_msg(strcmp(o.s, want) == 0,
		    "chunk %zu: got \"%s\", want \"%s\"", chunks[i], o.s, want);
		resp_parser_free(p);
	}
}

/* Checks that s parses to want with Redis' default limits. */
static void
check_parse(const char *s, size_t len, const char *want)
{
	check_parse_with(NULL, s, len, want);
}

/* Checks that buf holds exactly len bytes equal to want, and empties it. */
static void
check_buffer(struct evbuffer *buf, const char *want, size_t len)
{
	unsigned char	*got;

	ck_assert_uint_eq(evbuffer_get_length(buf), len);
	got = evbuffer_pullup(buf, -1);
	ck_assert(len == 0 || memcmp(got, want, len) == 0);
	evbuffer_drain(buf, len);
}

START_TEST(test_multibulk_whole)
{
	struct resp_parser	*p;
	struct evbuffer		*in;
	struct resp_req		 req;
	const char		 cmd[] = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n"
				    "$5\r\nvalue\r\n";

	p = resp_parser_new(NULL);
	in = evbuffer_new();
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(in);
	ck_assert_str_eq(resp_parser_error(p), "");
	evbuffer_add(in, cmd, sizeof(cmd) - 1);
	ck_assert_int_eq(resp_parse(p, in, &req), RESP_REQUEST);
	ck_assert_int_eq(req.argc, 3);
	ck_assert_str_eq(req.argv[0], "SET");
	ck_assert_str_eq(req.argv[1], "key");
	ck_assert_str_eq(req.argv[2], "value");
	ck_assert_uint_eq(req.argvlen[0], 3);
	ck_assert_uint_eq(req.argvlen[2], 5);
	ck_assert_uint_eq(evbuffer_get_length(in), 0);
	ck_assert_uint_eq(resp_parser_pending(p), 0);
	ck_assert_int_eq(resp_parse(p, in, &req), RESP_NEED_MORE);
	evbuffer_free(in);
	resp_parser_free(p);
	resp_parser_free(NULL);
}
END_TEST

START_TEST(test_multibulk_bytewise)
{
	struct resp_parser	*p;
	struct evbuffer		*in;
	struct resp_req		 req;
	const char		 cmd[] = "*2\r\n$7\r\nPUBLISH\r\n$4\r\nabcd\r\n";
	size_t			 i, len = sizeof(cmd) - 1, last = 0;

	check_parse(S(cmd), "(PUBLISH|abcd)");

	/* Fed by hand: pending grows as the parser drains the input. */
	p = resp_parser_new(NULL);
	in = evbuffer_new();
	for (i = 0; i < len - 1; i++) {
		evbuffer_add(in, cmd + i, 1);
		ck_assert_int_eq(resp_parse(p, in, &req), RESP_NEED_MORE);
		ck_assert_uint_ge(resp_parser_pending(p), last);
		ck_assert_uint_le(resp_parser_pending(p), i + 1);
		last = resp_parser_pending(p);
	}
	ck_assert_uint_eq(last, len - 1);
	evbuffer_add(in, cmd + len - 1, 1);
	ck_assert_int_eq(resp_parse(p, in, &req), RESP_REQUEST);
	ck_assert_int_eq(req.argc, 2);
	ck_assert_str_eq(req.argv[1], "abcd");
	ck_assert_uint_eq(resp_parser_pending(p), 0);
	evbuffer_free(in);
	resp_parser_free(p);
}
END_TEST

START_TEST(test_pipelined)
{
	struct resp_parser	*p;
	struct evbuffer		*in;
	struct resp_req		 req;
	const char		 cmds[] = "*1\r\n$4\r\nPING\r\nECHO hi\r\n"
				    "*2\r\n$9\r\nSUBSCRIBE\r\n$1\r\nc\r\n";

	check_parse(S(cmds), "(PING)(ECHO|hi)(SUBSCRIBE|c)");

	/* One request per call; the rest stays in the input. */
	p = resp_parser_new(NULL);
	in = evbuffer_new();
	evbuffer_add(in, cmds, sizeof(cmds) - 1);
	ck_assert_int_eq(resp_parse(p, in, &req), RESP_REQUEST);
	ck_assert_str_eq(req.argv[0], "PING");
	ck_assert_uint_eq(evbuffer_get_length(in), sizeof(cmds) - 1 - 14);
	ck_assert_int_eq(resp_parse(p, in, &req), RESP_REQUEST);
	ck_assert_str_eq(req.argv[1], "hi");
	ck_assert_int_eq(resp_parse(p, in, &req), RESP_REQUEST);
	ck_assert_str_eq(req.argv[0], "SUBSCRIBE");
	ck_assert_int_eq(resp_parse(p, in, &req), RESP_NEED_MORE);
	ck_assert_uint_eq(evbuffer_get_length(in), 0);
	evbuffer_free(in);
	resp_parser_free(p);
}
END_TEST

START_TEST(test_inline_quotes)
{
	check_parse(S("SUBSCRIBE a b  c\r\n"), "(SUBSCRIBE|a|b|c)");
	check_parse(S("ECHO \"a b\\n\\x41\\t\\\"\"\r\n"),
	    "(ECHO|a b\\x0aA\\x09\")");
	check_parse(S("ECHO 'it\\'s \\n'\r\n"), "(ECHO|it's \\x5cn)");
	check_parse(S("ECHO foo\"bar baz\"\r\n"), "(ECHO|foobar baz)");
	check_parse(S("ECHO \"\\xZZ\\q\"\r\n"), "(ECHO|xZZq)");
	check_parse(S("ECHO \"\\X41\\xaF\"\r\n"), "(ECHO|X41\\xaf)");
	check_parse(S("ECHO \"\\x4\"\r\n"), "(ECHO|x4)");
	check_parse(S("ECHO \"a\\\\b\"\r\n"), "(ECHO|a\\x5cb)");
	check_parse(S("ECHO '\\x41'\r\n"), "(ECHO|\\x5cx41)");
	check_parse(S("ECHO \"\" ''\r\n"), "(ECHO||)");
	check_parse(S("\"\"\r\n"), "()");
	check_parse(S("ECHO 'ab' 'c\\'d' \"e\\'\"\r\n"), "(ECHO|ab|c'd|e')");
	check_parse(S("ECHO \"a\rb\"\n"), "(ECHO|a\\x0db)");
	/* Only space, tab, CR and LF end an unquoted word. */
	check_parse(S("ECHO a\vb\r\n"), "(ECHO|a\\x0bb)");
	check_parse(S("\vECHO\f a\r\n"), "(ECHO\\x0c|a)");
	check_parse(S("ECHO a\rb\r\n"), "(ECHO|a|b)");
	check_parse(S("ECHO a\r\r\n"), "(ECHO|a)");
	check_parse(S("ECHO \"a\"\vb\r\n"), "(ECHO|a|b)");
	check_parse(S(" *1\r\n"), "(*1)");
	check_parse(S("ECHO \xff\x80\r\n"), "(ECHO|\\xff\\x80)");
}
END_TEST

START_TEST(test_inline_bare_lf)
{
	check_parse(S("PING\n"), "(PING)");
	check_parse(S("PING\nECHO x\nPING\r\n"), "(PING)(ECHO|x)(PING)");
	check_parse(S("ECHO \"x y\"\r\n"), "(ECHO|x y)");
	check_parse(S("PING"), "");
	check_parse(S("PING\r"), "");
}
END_TEST

START_TEST(test_empty_skipped)
{
	struct resp_parser	*p;
	struct evbuffer		*in;
	struct resp_req		 req;
	const char		 empty[] = "\r\n\n   \t\r\n\v\f\n*0\r\n*-1\r\n"
				    "*-9223372036854775808\r\n";

	check_parse(S("\r\n\n   \t\r\n*0\r\n*-1\r\n*-10\r\n"
	    "*-9223372036854775808\r\nPING\r\n"), "(PING)");
	/* After "*0" a "$4" line is an inline request of its own. */
	check_parse(S("\n\n*0\r\n$4\r\nPING\r\n"), "($4)(PING)");

	/* Only empty requests: all drained, nothing returned. */
	p = resp_parser_new(NULL);
	in = evbuffer_new();
	evbuffer_add(in, empty, sizeof(empty) - 1);
	ck_assert_int_eq(resp_parse(p, in, &req), RESP_NEED_MORE);
	ck_assert_uint_eq(evbuffer_get_length(in), 0);
	ck_assert_uint_eq(resp_parser_pending(p), 0);
	evbuffer_free(in);
	resp_parser_free(p);
}
END_TEST

START_TEST(test_binary_payload)
{
	struct resp_parser	*p;
	struct evbuffer		*in;
	struct resp_req		 req;
	const char		 cmd[] = "*3\r\n$7\r\nPUBLISH\r\n$0\r\n\r\n"
				    "$8\r\na\0\r\nb\n\r\0\r\n";

	check_parse(S(cmd), "(PUBLISH||a\\x00\\x0d\\x0ab\\x0a\\x0d\\x00)");
	check_parse(S("*2\r\n$4\r\nECHO\r\n$6\r\n$3\r\n*1\r\n"),
	    "(ECHO|$3\\x0d\\x0a*1)");

	p = resp_parser_new(NULL);
	in = evbuffer_new();
	evbuffer_add(in, cmd, sizeof(cmd) - 1);
	ck_assert_int_eq(resp_parse(p, in, &req), RESP_REQUEST);
	ck_assert_int_eq(req.argc, 3);
	ck_assert_uint_eq(req.argvlen[1], 0);
	ck_assert_str_eq(req.argv[1], "");
	ck_assert_uint_eq(req.argvlen[2], 8);
	ck_assert(memcmp(req.argv[2], "a\0\r\nb\n\r\0", 9) == 0);
	evbuffer_free(in);
	resp_parser_free(p);
}
END_TEST

START_TEST(test_loose_framing)
{
	/* Redis skips the two bytes after a payload without looking. */
	check_parse(S("*1\r\n$4\r\nPINGxx*1\r\n$4\r\nPING\r\n"), "(PING)(PING)");
	check_parse(S("*1\r\n$4\r\nPING\r"), "");
	/* A '\r' ends "*N" and "$N"; the byte after it is skipped too. */
	check_parse(S("*1\rX$4\r\nPING\r\n"), "(PING)");
	check_parse(S("*1\r"), "");
	check_parse(S("*1\r\n$4\rZPING\r\n"), "(PING)");
}
END_TEST

START_TEST(test_errors)
{
	static const struct {
		const char	*in;
		const char	*want;
	} cases[] = {
		{ "*-9223372036854775809\r\n", "invalid multibulk length" },
		{ "*-0\r\n", "invalid multibulk length" },
		{ "*00\r\n", "invalid multibulk length" },
		{ "*01\r\n$4\r\nPING\r\n", "invalid multibulk length" },
		{ "*+1\r\n$4\r\nPING\r\n", "invalid multibulk length" },
		{ "* 1\r\n", "invalid multibulk length" },
		{ "*1 \r\n", "invalid multibulk length" },
		{ "*\r\n", "invalid multibulk length" },
		{ "*abc\r\n", "invalid multibulk length" },
		{ "*1\n$4\r\nPING\r\n", "invalid multibulk length" },
		{ "*2147483648\r\n", "invalid multibulk length" },
		{ "*3000000000\r\n", "invalid multibulk length" },
		{ "*99999999999999999999\r\n", "invalid multibulk length" },
		{ "*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n",
		    "expected '$', got 'f'" },
		{ "*1\r\n\r\n", "expected '$', got ' '" },
		{ "*1\r\n\n\r\n", "expected '$', got ' '" },
		{ "*1\r\n \r\n", "expected '$', got ' '" },
		{ "*1\r\n:4\r\nPING\r\n", "expected '$', got ':'" },
		{ "*1\r\n\xff\r\n", "expected '$', got '\\xff'" },
		{ "*1\r\nxyz...................\r\n", "expected '$', got 'x'" },
		{ "*1\r\n$-1\r\n", "invalid bulk length" },
		{ "*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n",
		    "invalid bulk length" },
		{ "*1\r\n$\r\n", "invalid bulk length" },
		{ "*1\r\n$04\r\nPING\r\n", "invalid bulk length" },
		{ "*1\r\n$+4\r\nPING\r\n", "invalid bulk length" },
		{ "*1\r\n$4x\r\nPING\r\n", "invalid bulk length" },
		{ "*1\r\n$4\nPING\r\n", "invalid bulk length" },
		{ "*1\r\n$536870913\r\n", "invalid bulk length" },
		{ "*1\r\n$2147483648\r\n", "invalid bulk length" },
		{ "*1\r\n$4........................\r\n",
		    "invalid bulk length" },
		{ "ECHO \"abc\r\n", "unbalanced quotes in request" },
		{ "ECHO 'abc\r\n", "unbalanced quotes in request" },
		{ "ECHO \"a\"b\r\n", "unbalanced quotes in request" },
		{ "ECHO 'a'b\r\n", "unbalanced quotes in request" },
		{ "ECHO \"ab\\\"\r\n", "unbalanced quotes in request" },
		{ "ECHO 'a\\\\'\r\n", "unbalanced quotes in request" },
		{ "\"\r\n", "unbalanced quotes in request" },
	};
	char	 want[256];
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(want, sizeof(want), "!Protocol error: %s",
		    cases[i].want);
		check_parse(cases[i].in, strlen(cases[i].in), want);
	}

	/* Requests before the error are returned first. */
	check_parse(S("PING\r\n*1\r\n$x\r\nPING\r\n"),
	    "(PING)!Protocol error: invalid bulk length");
}
END_TEST

START_TEST(test_too_big)
{
	struct resp_parser	*p;
	struct out		 o;
	char			*s;
	size_t			 n = RESP_INLINE_MAX + 64;

	s = malloc(n + 16);
	ck_assert_ptr_nonnull(s);

	/* Inline: more than 64 KiB and no '\n' yet. */
	memset(s, 'a', n);
	check_parse_with(NULL, s, RESP_INLINE_MAX, "");
	p = resp_parser_new(NULL);
	feed(p, s, RESP_INLINE_MAX + 1, FEED_WHOLE, &o);
	ck_assert_str_eq(o.s, "!Protocol error: too big inline request");
	resp_parser_free(p);

	/* A 64 KiB line whose '\n' comes in time is fine. */
	s[RESP_INLINE_MAX] = '\n';
	p = resp_parser_new(NULL);
	feed(p, s, RESP_INLINE_MAX + 1, RESP_INLINE_MAX, &o);
	ck_assert_int_eq(o.requests, 1);
	ck_assert_uint_eq(o.len, RESP_INLINE_MAX + 2);
	resp_parser_free(p);

	/* "*N" with no '\r'. */
	memset(s, '1', n);
	s[0] = '*';
	p = resp_parser_new(NULL);
	feed(p, s, RESP_INLINE_MAX, FEED_WHOLE, &o);
	ck_assert_str_eq(o.s, "");
	resp_parser_free(p);
	p = resp_parser_new(NULL);
	feed(p, s, RESP_INLINE_MAX + 1, 4096, &o);
	ck_assert_str_eq(o.s, "!Protocol error: too big mbulk count string");
	resp_parser_free(p);

	/* "$N" with no '\r': counted from the '$'. */
	memcpy(s, "*1\r\n$", 5);
	p = resp_parser_new(NULL);
	feed(p, s, 4 + RESP_INLINE_MAX, FEED_WHOLE, &o);
	ck_assert_str_eq(o.s, "");
	resp_parser_free(p);
	p = resp_parser_new(NULL);
	feed(p, s, 4 + RESP_INLINE_MAX + 1, 1000, &o);
	ck_assert_str_eq(o.s, "!Protocol error: too big bulk count string");
	resp_parser_free(p);
	free(s);
}
END_TEST

START_TEST(test_nul_hides_line)
{
	struct resp_parser	*p;
	struct evbuffer		*in;
	struct resp_req		 req;
	char			*pad;

	/* Redis looks for the end of line with strchr(3). */
	check_parse(S("PING\0\r\nPING\r\n"), "");
	check_parse(S("\0PING\r\n"), "");
	check_parse(S("*1\0\r\n$4\r\nPING\r\n"), "");
	check_parse(S("*1\r\n$4\0\r\nPING\r\n"), "");
	check_parse(S("ECHO a\r\0\n"), "");

	/* Until the input is too big. */
	pad = calloc(1, RESP_INLINE_MAX);
	ck_assert_ptr_nonnull(pad);
	p = resp_parser_new(NULL);
	in = evbuffer_new();
	evbuffer_add(in, "PING\0\r\n", 7);
	ck_assert_int_eq(resp_parse(p, in, &req), RESP_NEED_MORE);
	ck_assert_uint_eq(evbuffer_get_length(in), 7);
	evbuffer_add(in, pad, RESP_INLINE_MAX);
	ck_assert_int_eq(resp_parse(p, in, &req), RESP_PROTO_ERROR);
	ck_assert_str_eq(resp_parser_error(p),
	    "Protocol error: too big inline request");
	evbuffer_free(in);
	resp_parser_free(p);

	p = resp_parser_new(NULL);
	in = evbuffer_new();
	evbuffer_add(in, "*1\r\n$4\0\r\nPING\r\n", 15);
	ck_assert_int_eq(resp_parse(p, in, &req), RESP_NEED_MORE);
	evbuffer_add(in, pad, RESP_INLINE_MAX);
	ck_assert_int_eq(resp_parse(p, in, &req), RESP_PROTO_ERROR);
	ck_assert_str_eq(resp_parser_error(p),
	    "Protocol error: too big bulk count string");
	evbuffer_free(in);
	resp_parser_free(p);
	free(pad);
}
END_TEST

START_TEST(test_limits)
{
	struct resp_limits	 l = { 3, 10 };
	struct resp_limits	 bad[] = {
		{ -1, 10 }, { (long long)INT_MAX + 1, 10 }, { 3, -1 }
	};
	struct resp_parser	*p;
	struct evbuffer		*in;
	struct resp_req		 req;
	size_t			 i;

	check_parse_with(&l, S("*3\r\n$1\r\na\r\n$1\r\nb\r\n$10\r\n0123456789\r\n"),
	    "(a|b|0123456789)");
	check_parse_with(&l, S("*4\r\n"),
	    "!Protocol error: invalid multibulk length");
	check_parse_with(&l, S("*1\r\n$11\r\n"),
	    "!Protocol error: invalid bulk length");
	/* Inline requests know no such limits, as in Redis. */
	check_parse_with(&l, S("a b c d e 0123456789ab\r\n"),
	    "(a|b|c|d|e|0123456789ab)");

	/* Redis 7.0's defaults: *N up to INT_MAX, $N up to 512 MB. */
	check_parse(S("*2147483647\r\n$4\r\nPING\r\n"), "");
	check_parse(S("*1\r\n$536870912\r\n"), "");

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_ptr_null(resp_parser_new(&bad[i]));

	/* A huge count costs only what arrives. */
	p = resp_parser_new(NULL);
	in = evbuffer_new();
	evbuffer_add(in, "*2147483647\r\n", 13);
	for (i = 0; i < 100000; i++) {
		evbuffer_add(in, "$1\r\nx\r\n", 7);
		ck_assert_int_eq(resp_parse(p, in, &req), RESP_NEED_MORE);
	}
	ck_assert_uint_eq(resp_parser_pending(p), 13 + 7 * 100000);
	evbuffer_free(in);
	resp_parser_free(p);
}
END_TEST

START_TEST(test_many_args)
{
	struct resp_parser	*p;
	struct evbuffer		*in;
	struct resp_req		 req;
	char			 arg[32];
	int			 i, n = 50000, len;

	p = resp_parser_new(NULL);
	in = evbuffer_new();
	evbuffer_add_printf(in, "*%d\r\n", n);
	for (i = 0; i < n; i++) {
		len = snprintf(arg, sizeof(arg), "%d", i);
		evbuffer_add_printf(in, "$%d\r\n%s\r\n", len, arg);
	}
	evbuffer_add(in, "PING\r\n", 6);
	ck_assert_int_eq(resp_parse(p, in, &req), RESP_REQUEST);
	ck_assert_int_eq(req.argc, n);
	for (i = 0; i < n; i++) {
		snprintf(arg, sizeof(arg), "%d", i);
		ck_assert_str_eq(req.argv[i], arg);
	}
	/* The arena is reused for the next request. */
	ck_assert_int_eq(resp_parse(p, in, &req), RESP_REQUEST);
	ck_assert_int_eq(req.argc, 1);
	ck_assert_str_eq(req.argv[0], "PING");
	evbuffer_free(in);
	resp_parser_free(p);
}
END_TEST

START_TEST(test_large_bulk)
{
	struct resp_parser	*p;
	struct evbuffer		*in;
	struct resp_req		 req;
	enum resp_status	 st = RESP_NEED_MORE;
	char			*payload;
	size_t			 off, n, last = 0;
	int			 grew = 0;

	payload = malloc(BIG_BULK);
	ck_assert_ptr_nonnull(payload);
	for (off = 0; off < BIG_BULK; off++)
		payload[off] = (char)(off * 131 % 251);

	p = resp_parser_new(NULL);
	in = evbuffer_new();
	evbuffer_add_printf(in, "*3\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$%d\r\n",
	    BIG_BULK);
	for (off = 0; off < BIG_BULK; off += n) {
		n = BIG_BULK - off < BIG_CHUNK ? BIG_BULK - off : BIG_CHUNK;
		evbuffer_add(in, payload + off, n);
		ck_assert_int_eq(resp_parse(p, in, &req), RESP_NEED_MORE);
		ck_assert_uint_eq(evbuffer_get_length(in), 0);
		ck_assert_uint_ge(resp_parser_pending(p), last);
		if (resp_parser_pending(p) > last)
			grew++;
		last = resp_parser_pending(p);
	}
	ck_assert_int_eq(grew, BIG_BULK / BIG_CHUNK);
	ck_assert_uint_ge(last, BIG_BULK);
	evbuffer_add(in, "\r", 1);
	ck_assert_int_eq(resp_parse(p, in, &req), RESP_NEED_MORE);
	evbuffer_add(in, "\n*1\r\n$4\r\nPING\r\n", 15);
	st = resp_parse(p, in, &req);
	ck_assert_int_eq(st, RESP_REQUEST);
	ck_assert_int_eq(req.argc, 3);
	ck_assert_uint_eq(req.argvlen[2], BIG_BULK);
	ck_assert(memcmp(req.argv[2], payload, BIG_BULK) == 0);
	ck_assert_int_eq(req.argv[2][BIG_BULK], '\0');
	ck_assert_uint_eq(resp_parser_pending(p), 0);
	ck_assert_int_eq(resp_parse(p, in, &req), RESP_REQUEST);
	ck_assert_str_eq(req.argv[0], "PING");
	evbuffer_free(in);
	resp_parser_free(p);
	free(payload);
}
END_TEST

START_TEST(test_encoders)
{
	struct evbuffer	*out;
	char		 big[300];

	out = evbuffer_new();
	ck_assert_ptr_nonnull(out);

	ck_assert_int_eq(resp_add_simple(out, "OK"), 0);
	check_buffer(out, S("+OK\r\n"));
	ck_assert_int_eq(resp_add_simple(out, ""), 0);
	check_buffer(out, S("+\r\n"));

	ck_assert_int_eq(resp_add_error(out, "ERR unknown command '%s'",
	    "FOO"), 0);
	check_buffer(out, S("-ERR unknown command 'FOO'\r\n"));
	ck_assert_int_eq(resp_add_error(out, "ERR %s", "a\r\nb\n"), 0);
	check_buffer(out, S("-ERR a  b\r\n"));
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(resp_add_error(out, "ERR %s", big), 0);
	ck_assert_uint_eq(evbuffer_get_length(out), 1 + 4 + 299 + 2);
	evbuffer_drain(out, evbuffer_get_length(out));

	ck_assert_int_eq(resp_add_int(out, 0), 0);
	ck_assert_int_eq(resp_add_int(out, -42), 0);
	ck_assert_int_eq(resp_add_int(out, LLONG_MIN), 0);
	check_buffer(out, S(":0\r\n:-42\r\n:-9223372036854775808\r\n"));

	ck_assert_int_eq(resp_add_bulk(out, "hello", 5), 0);
	ck_assert_int_eq(resp_add_bulk(out, NULL, 0), 0);
	ck_assert_int_eq(resp_add_bulk(out, "a\0\r\n", 4), 0);
	check_buffer(out, S("$5\r\nhello\r\n$0\r\n\r\n$4\r\na\0\r\n\r\n"));

	ck_assert_int_eq(resp_add_null(out), 0);
	check_buffer(out, S("$-1\r\n"));

	ck_assert_int_eq(resp_add_array(out, 3), 0);
	ck_assert_int_eq(resp_add_array(out, 0), 0);
	ck_assert_int_eq(resp_add_array(out, -1), 0);
	check_buffer(out, S("*3\r\n*0\r\n*-1\r\n"));

	/* A whole pub/sub message. */
	resp_add_array(out, 3);
	resp_add_bulk(out, "message", 7);
	resp_add_bulk(out, "ch", 2);
	resp_add_bulk(out, "hi", 2);
	check_buffer(out, S("*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"));
	evbuffer_free(out);
}
END_TEST

/*
 * resp_req_cleanse() zeroes a password where the parser keeps it, in
 * multibulk and inline requests alike, and leaves the other arguments and
 * the next pipelined request alone.
 */
START_TEST(test_req_cleanse)
{
	struct resp_parser	*p;
	struct evbuffer		*in;
	struct resp_req		 req;
	const char		 cmds[] = "*3\r\n$4\r\nAUTH\r\n$5\r\nalice\r\n"
				    "$6\r\nsecret\r\nAUTH hunter2\r\nPING\r\n";
	static const char	 zero[8];

	p = resp_parser_new(NULL);
	in = evbuffer_new();
	evbuffer_add(in, cmds, sizeof(cmds) - 1);
	ck_assert_int_eq(resp_parse(p, in, &req), RESP_REQUEST);
	ck_assert_str_eq(req.argv[2], "secret");
	resp_req_cleanse(&req, 2);
	resp_req_cleanse(&req, 3);	/* out of range: ignored */
	resp_req_cleanse(&req, -1);
	ck_assert_uint_eq(req.argvlen[2], 6);
	ck_assert(memcmp(req.argv[2], zero, 6) == 0);
	ck_assert_str_eq(req.argv[1], "alice");
	ck_assert_int_eq(resp_parse(p, in, &req), RESP_REQUEST);
	ck_assert_int_eq(req.argc, 2);
	ck_assert_str_eq(req.argv[1], "hunter2");
	resp_req_cleanse(&req, 1);
	ck_assert(memcmp(req.argv[1], zero, 7) == 0);
	ck_assert_int_eq(resp_parse(p, in, &req), RESP_REQUEST);
	ck_assert_str_eq(req.argv[0], "PING");
	evbuffer_free(in);
	resp_parser_free(p);
}
END_TEST

/* All the parser and encoder tests. */
static Suite *
resp_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("resp");
	tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_multibulk_whole);
	tcase_add_test(tc, test_multibulk_bytewise);
	tcase_add_test(tc, test_pipelined);
	tcase_add_test(tc, test_req_cleanse);
	tcase_add_test(tc, test_inline_quotes);
	tcase_add_test(tc, test_inline_bare_lf);
	tcase_add_test(tc, test_empty_skipped);
	tcase_add_test(tc, test_binary_payload);
	tcase_add_test(tc, test_loose_framing);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_too_big);
	tcase_add_test(tc, test_nul_hides_line);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_many_args);
	tcase_add_test(tc, test_large_bulk);
	tcase_add_test(tc, test_encoders);
	tcase_add_test(tc, test_reply_size);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_run(resp_suite());
}
