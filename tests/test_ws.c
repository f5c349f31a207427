/*
 * test_ws.c: Check suite for daemon/ws.c: the handshake key (RFC 6455's
 * own example), frame headers, UTF-8 validation, JSON strings, messages
 * as JSON and RESP frames, and replies read as JSON.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <check.h>

#include "check_run.h"
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "ws.h"

START_TEST(test_accept_key)
{
	char	out[29];

	/* RFC 6455, section 1.3. */
	ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out);
	ck_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	ck_assert(ws_key_valid("dGhlIHNhbXBsZSBub25jZQ=="));
	ck_assert(!ws_key_valid("dGhlIHNhbXBsZSBub25jZQ="));
	ck_assert(!ws_key_valid("dGhlIHNhbXBsZSBub25jZQ=x"));
	ck_assert(!ws_key_valid("dGhlIHNhbXBsZSBub25j*Q=="));
	ck_assert(!ws_key_valid(""));
}
END_TEST

START_TEST(test_header)
{
	char	h[WS_HEADER_MAX];

	ck_assert_uint_eq(ws_header(h, WS_OP_TEXT, 125), 2);
	ck_assert_int_eq((unsigned char)h[0], 0x81);
	ck_assert_int_eq(h[1], 125);
	ck_assert_uint_eq(ws_header(h, WS_OP_BINARY, 126), 4);
	ck_assert_int_eq((unsigned char)h[0], 0x82);
	ck_assert_int_eq(h[1], 126);
	ck_assert_int_eq((unsigned char)h[2], 0);
	ck_assert_int_eq((unsigned char)h[3], 126);
	ck_assert_uint_eq(ws_header(h, WS_OP_TEXT, 65536), 10);
	ck_assert_int_eq(h[1], 127);
	ck_assert_int_eq((unsigned char)h[7], 1);
	ck_assert_int_eq((unsigned char)h[8], 0);
	ck_assert_int_eq((unsigned char)h[9], 0);
}
END_TEST

START_TEST(test_utf8)
{
	ck_assert(ws_utf8_valid("", 0));
	ck_assert(ws_utf8_valid("h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80",
	    15));
	ck_assert(!ws_utf8_valid("\xc0\xaf", 2));	/* overlong '/' */
	ck_assert(!ws_utf8_valid("\xe0\x80\xaf", 3));	/* overlong */
	ck_assert(!ws_utf8_valid("\xed\xa0\x80", 3));	/* a surrogate */
	ck_assert(!ws_utf8_valid("\xf4\x90\x80\x80", 4));	/* > U+10FFFF */
	ck_assert(!ws_utf8_valid("\xc3", 1));		/* cut short */
	ck_assert(!ws_utf8_valid("\xc3\x28", 2));
	ck_assert(!ws_utf8_valid("\xff", 1));
	ck_assert(ws_utf8_valid("a\0b", 3));
}
END_TEST

/* s as JSON, NUL-terminated, in a static buffer. */
static const char *
json(const char *s, size_t len)
{
	static char	buf[256];
	char		*end;

	ck_assert_uint_lt(ws_json_len(s, len), sizeof(buf));
	end = ws_json_put(buf, s, len);
	ck_assert_uint_eq((size_t)(end - buf), ws_json_len(s, len));
	*end = '\0';
	return buf;
}

START_TEST(test_json_string)
{
	ck_assert_str_eq(json("plain", 5), "\"plain\"");
	ck_assert_str_eq(json("a\"b\\c\n\r\t\b\f", 10),
	    "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\"");
	ck_assert_str_eq(json("\x01\x1f", 2), "\"\\u0001\\u001f\"");
	ck_assert_str_eq(json("\0", 1), "\"\\u0000\"");
	ck_assert_str_eq(json("\xc3\xa9", 2), "\"\xc3\xa9\"");
	ck_assert_str_eq(json("\xff\x00\xfe", 3), "{\"base64\":\"/wD+\"}");
	ck_assert_str_eq(json("\xff", 1), "{\"base64\":\"/w==\"}");
}
END_TEST

START_TEST(test_messages)
{
	struct upstream_msg	m = { UPSTREAM_PATTERN, "n*", 2, "news", 4,
				    "hi", 2 };
	char			buf[256];
	size_t			n;

	n = ws_message_put(buf, &m);
	ck_assert_uint_le(n, ws_message_size(&m));
	ck_assert_int_eq((unsigned char)buf[0], 0x81);
	ck_assert_uint_eq((unsigned char)buf[1], n - 2);
	ck_assert(memcmp(buf + 2, "[\"pmessage\",\"n*\",\"news\",\"hi\"]",
	    n - 2) == 0);
	m.kind = UPSTREAM_CHANNEL;
	n = ws_resp_put(buf, &m, '*');
	ck_assert_uint_le(n, ws_resp_size(&m));
	ck_assert_int_eq((unsigned char)buf[0], 0x82);
	ck_assert_uint_eq((unsigned char)buf[1], n - 2);
	ck_assert(memcmp(buf + 2, "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n"
	    "$2\r\nhi\r\n", n - 2) == 0);
	n = ws_resp_put(buf, &m, '>');
	ck_assert_int_eq(buf[2], '>');
}
END_TEST

/* The JSON of the RESP reply resp, and its length in *used. */
static char *
reply(const char *resp, int *r, size_t *used)
{
	struct evbuffer	*out = evbuffer_new();
	char		*s;
	size_t		 n;

	*r = ws_reply_json(out, resp, strlen(resp), used);
	n = evbuffer_get_length(out);
	s = malloc(n + 1);
	evbuffer_remove(out, s, n);
	s[n] = '\0';
	evbuffer_free(out);
	return s;
}

START_TEST(test_replies)
{
	static const struct {
		const char	*resp;
		const char	*json;
	} cases[] = {
		{ "+OK\r\n", "\"OK\"" },
		{ "-ERR no\r\n", "{\"error\":\"ERR no\"}" },
		{ ":42\r\n", "42" },
		{ ":-7\r\n", "-7" },
		{ "$5\r\nhe\"lo\r\n", "\"he\\\"lo\"" },
		{ "$-1\r\n", "null" },
		{ "*-1\r\n", "null" },
		{ "$1\r\n\xff\r\n", "{\"base64\":\"/w==\"}" },
		{ "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n",
		  "[\"subscribe\",\"news\",1]" },
		{ "*0\r\n", "[]" },
		{ "*2\r\n*1\r\n:1\r\n*0\r\n", "[[1],[]]" },
		{ "_\r\n", "null" },
		{ "#t\r\n", "true" },
		{ "#f\r\n", "false" },
		{ ",3.5\r\n", "3.5" },
		{ ",inf\r\n", "\"inf\"" },
		{ "(12345678901234567890\r\n", "\"12345678901234567890\"" },
		{ "=7\r\ntxt:abc\r\n", "\"abc\"" },
		{ "!5\r\nERR x\r\n", "{\"error\":\"ERR x\"}" },
		{ "%2\r\n+proto\r\n:3\r\n$2\r\nid\r\n:9\r\n",
		  "{\"proto\":3,\"id\":9}" },
		{ "%1\r\n:1\r\n+one\r\n", "{\"1\":\"one\"}" },
		{ "~2\r\n+a\r\n+b\r\n", "[\"a\",\"b\"]" },
		{ ">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\np\r\n",
		  "[\"message\",\"c\",\"p\"]" },
	};
	size_t	i, used;
	char	*s;
	int	r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = reply(cases[i].resp, &r, &used);
		ck_assert_msg(r == 1, "%s: %d", cases[i].resp, r);
		ck_assert_uint_eq(used, strlen(cases[i].resp));
		ck_assert_str_eq(s, cases[i].json);
		free(s);
	}
	/* Two replies: the first only. */
	s = reply(":1\r\n:2\r\n", &r, &used);
	ck_assert_int_eq(r, 1);
	ck_assert_uint_eq(used, 4);
	ck_assert_str_eq(s, "1");
	free(s);
	/* Incomplete, and malformed. */
	free(reply("*2\r\n:1\r\n", &r, &used));
	ck_assert_int_eq(r, 0);
	free(reply("$5\r\nab", &r, &used));
	ck_assert_int_eq(r, 0);
	free(reply("?x\r\n", &r, &used));
	ck_assert_int_eq(r, -1);
	free(reply("$x\r\n", &r, &used));
	ck_assert_int_eq(r, -1);
	free(reply(":1\n", &r, &used));
	ck_assert_int_eq(r, -1);
}
END_TEST

static Suite *
ws_suite(void)
{
	Suite	*s = suite_create("ws");
	TCase	*tc = tcase_create("ws");

	tcase_add_test(tc, test_accept_key);
	tcase_add_test(tc, test_header);
	tcase_add_test(tc, test_utf8);
	tcase_add_test(tc, test_json_string);
	tcase_add_test(tc, test_messages);
	tcase_add_test(tc, test_replies);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_run(ws_suite());
}
