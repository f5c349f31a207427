/*
 * test_pattern.c: Check suite for daemon/pattern.c.
 *
 * Every expected result in the table was read off a real redis-server
 * 7.0.15 (a client subscribed to the string, PUBSUB CHANNELS asked with the
 * pattern), quirks included: "*" does not match the empty string, "[^" alone
 * matches any byte, "[a-]" is an unterminated class, ranges compare signed
 * chars. The other tests check that lengths, not NUL bytes, bound both
 * inputs (on exact-size heap copies, so a sanitizer sees any over-read), that
 * the backtracking guard makes a hostile pattern cheap, and Redis' limit of
 * 1000 nested '*'.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <check.h>

#include "check_run.h"
#include <stdlib.h>
#include <string.h>

#include "pattern.h"

/* One table row: pattern, string (lengths from the literals), result. */
struct pattern_case {
	const char	*pc_pattern;
	size_t		 pc_plen;
	const char	*pc_string;
	size_t		 pc_slen;
	int		 pc_match;
};

#define C(p, s, m)	{ (p), sizeof(p) - 1, (s), sizeof(s) - 1, (m) }

/* Results as redis-server 7.0.15 gave them. */
static const struct pattern_case cases[] = {
	/* Empty pattern and empty string: "" matches only "", even for "*". */
	C("", "", 1),
	C("", "a", 0),
	C("*", "", 0),
	C("?", "", 0),
	C("a", "", 0),
	/* '*' and runs of it, anchored at both ends. */
	C("*", "anything", 1),
	C("**", "x", 1),
	C("a*", "a", 1),
	C("a*", "abc", 1),
	C("a**", "a", 1),
	C("*a", "a", 1),
	C("*a", "ba", 1),
	C("*a", "ab", 0),
	C("a*b*c", "aXbYc", 1),
	C("a*b*c", "abcb", 0),
	/* '?' is exactly one byte. */
	C("?", "a", 1),
	C("?", "ab", 0),
	C("??", "a", 0),
	C("a?c", "abc", 1),
	C("*?", "a", 1),
	C("?*", "a", 1),
	/* Classes, negation, ranges (reversed ones too). */
	C("[abc]", "b", 1),
	C("[abc]", "d", 0),
	C("[^a]", "a", 0),
	C("[^a]", "b", 1),
	C("[^ab]", "c", 1),
	C("[a-c]", "b", 1),
	C("[a-c]", "d", 0),
	C("[z-a]", "m", 1),
	C("[z-a]", "A", 0),
	C("[-a]", "-", 1),
	/* Empty classes, and unterminated ones that run to the end. */
	C("[]", "]", 0),
	C("[]]", "]", 0),
	C("[]a", "a", 0),
	C("[^]", "x", 1),
	C("[^", "x", 1),
	C("[^", "^", 1),
	C("[", "[", 0),
	C("[", "", 0),
	C("[a", "a", 1),
	C("[ab", "b", 1),
	C("[ab", "ab", 0),
	/* In "[a-]" the ']' ends the range, so the class is unterminated. */
	C("[a-]", "]", 1),
	C("[a-]", "^", 1),
	C("[a-]", "-", 0),
	C("[a-]b", "b", 1),
	C("[a-]b", "ab", 0),
	/* Escapes inside a class; a trailing '\' there is literal. */
	C("[\\]]", "]", 1),
	C("[\\\\]", "\\", 1),
	C("[\\", "\\", 1),
	C("[\\a]", "a", 1),
	C("[a\\-z]", "-", 1),
	C("[a\\-z]", "m", 0),
	/* Escapes outside a class; a trailing '\' is a literal backslash. */
	C("\\*", "*", 1),
	C("\\*", "a", 0),
	C("\\\\", "\\", 1),
	C("\\", "\\", 1),
	C("a\\", "a\\", 1),
	C("a\\", "a", 0),
	C("\\a", "a", 1),
	C("\\?", "x", 0),
	/* '!' is not negation. */
	C("[!a]", "a", 1),
	C("[!a]", "b", 0),
	/* Ranges compare signed chars, as Redis does on amd64. */
	C("[a-\377]", "\000", 1),
	C("[a-\377]", "a", 1),
	C("[a-\377]", "b", 0),
	C("[a-\377]", "\200", 0),
	C("[a-\377]", "\377", 1),
	C("[\200-\377]", "\220", 1),
	C("[\200-\377]", "a", 0),
	/* NUL bytes are ordinary bytes. */
	C("a\000b", "a\000b", 1),
	C("a\000b", "a\000c", 0),
	C("a?b", "a\000b", 1),
	C("a*", "a\000\000", 1),
	C("[\000]", "\000", 1),
	C("a", "a\000", 0),
	C("a\000", "a", 0),
	C("*\000", "x\000", 1),
	C("\\\000", "\000", 1),
};

#define NCASES	(sizeof(cases) / sizeof(cases[0]))

static char	*copy_exact(const char *, size_t);
static char	*repeat(const char *, size_t, size_t);
static int	 match_str(const char *, const char *);

/* Returns a heap copy of len bytes with nothing after them (caller frees). */
static char *
copy_exact(const char *src, size_t len)
{
	char	*p;

	p = malloc(len > 0 ? len : 1);
	ck_assert_ptr_nonnull(p);
	memcpy(p, src, len);
	return p;
}

/* Returns unit repeated n times, not NUL-terminated (caller frees). */
static char *
repeat(const char *unit, size_t ulen, size_t n)
{
	char	*p;
	size_t	 i;

	p = malloc(ulen * n > 0 ? ulen * n : 1);
	ck_assert_ptr_nonnull(p);
	for (i = 0; i < n; i++)
		memcpy(p + i * ulen, unit, ulen);
	return p;
}

/* Matches two C strings, for the cases without NUL bytes. */
static int
match_str(const char *pattern, const char *string)
{
	return pattern_match(pattern, strlen(pattern), string,
	    strlen(string));
}

/* Each table row gives Redis' result (one loop iteration per row). */
START_TEST(test_redis_table)
{
	const struct pattern_case	*c = &cases[_i];

	ck_assert_msg(pattern_match(c->pc_pattern, c->pc_plen, c->pc_string,
	    c->pc_slen) == c->pc_match, "row %d: pattern_match(\"%s\", \"%s\")"
	    " != %d", _i, c->pc_pattern, c->pc_string, c->pc_match);
}
END_TEST

/* The same rows on exact-size copies: nothing past either length is read. */
START_TEST(test_exact_buffers)
{
	const struct pattern_case	*c = &cases[_i];
	char				*p, *s;

	p = copy_exact(c->pc_pattern, c->pc_plen);
	s = copy_exact(c->pc_string, c->pc_slen);
	ck_assert_int_eq(pattern_match(p, c->pc_plen, s, c->pc_slen),
	    c->pc_match);
	free(s);
	free(p);
}
END_TEST

/* Lengths bound both inputs; NUL bytes are data. */
START_TEST(test_binary_safe)
{
	/* Bytes beyond the lengths are ignored ("[ab]" cut to "[a"). */
	ck_assert_int_eq(pattern_match("abc", 2, "abx", 2), 1);
	ck_assert_int_eq(pattern_match("a*", 1, "ab", 2), 0);
	ck_assert_int_eq(pattern_match("[ab]", 2, "a", 1), 1);
	ck_assert_int_eq(pattern_match("[ab]", 2, "b", 1), 0);
	ck_assert_int_eq(pattern_match("[^a]", 2, "a", 1), 1);
	ck_assert_int_eq(pattern_match("a\\b", 2, "a\\", 2), 1);
	ck_assert_int_eq(pattern_match("a*", 2, "abc", 0), 0);
	ck_assert_int_eq(pattern_match("*", 0, "abc", 0), 1);

	/* A NUL does not end the pattern or the string. */
	ck_assert_int_eq(pattern_match("*\0*", 3, "x\0y", 3), 1);
	ck_assert_int_eq(pattern_match("*\0*", 3, "xy", 2), 0);
	ck_assert_int_eq(pattern_match("?\0", 2, "\0\0", 2), 1);
	ck_assert_int_eq(pattern_match("[^\0]", 4, "\0", 1), 0);
	ck_assert_int_eq(pattern_match("[^\0]", 4, "a", 1), 1);
	ck_assert_int_eq(pattern_match("[\0-b]", 5, "a", 1), 1);
	ck_assert_int_eq(pattern_match("a\0", 2, "a", 1), 0);
	ck_assert_int_eq(pattern_match("a", 1, "a\0", 2), 0);

	/* Bytes above 0x7f compare as themselves outside ranges. */
	ck_assert_int_eq(match_str("\xc3\xa9*", "\xc3\xa9t\xc3\xa9"), 1);
	ck_assert_int_eq(match_str("[\xe9]", "\xe9"), 1);
	ck_assert_int_eq(match_str("?", "\xe9"), 1);
}
END_TEST

/* Common channel patterns behave as a user expects. */
START_TEST(test_everyday)
{
	ck_assert_int_eq(match_str("news.*", "news.sport"), 1);
	ck_assert_int_eq(match_str("news.*", "news."), 1);
	ck_assert_int_eq(match_str("news.*", "news"), 0);
	ck_assert_int_eq(match_str("news.*", "weather.news.x"), 0);
	ck_assert_int_eq(match_str("*.log", "app.log"), 1);
	ck_assert_int_eq(match_str("h?llo", "hello"), 1);
	ck_assert_int_eq(match_str("h[ae]llo", "hallo"), 1);
	ck_assert_int_eq(match_str("h[ae]llo", "hillo"), 0);
	ck_assert_int_eq(match_str("h[^e]llo", "hello"), 0);
	ck_assert_int_eq(match_str("user:[0-9]*:events", "user:42:events"),
	    1);
	ck_assert_int_eq(match_str("user:[0-9]*:events", "user:x:events"), 0);
	ck_assert_int_eq(match_str("a*b*c*d", "axxbyyczzd"), 1);
	ck_assert_int_eq(match_str("a*b*c*d", "axxbyyczz"), 0);
}
END_TEST

/* Many stars against a long run that cannot match end fast (no timeout). */
START_TEST(test_pathological)
{
	static const char	 hostile[] = "a*a*a*a*a*a*a*a*a*a*b";
	char			*s, *p;
	size_t			 n = 100000;

	s = repeat("a", 1, n);
	ck_assert_int_eq(pattern_match(hostile, sizeof(hostile) - 1, s, n),
	    0);
	s[n - 1] = 'b';
	ck_assert_int_eq(pattern_match(hostile, sizeof(hostile) - 1, s, n),
	    1);
	free(s);

	/* 500 stars, 20000 bytes, no match anywhere. */
	p = repeat("*a", 2, 500);
	s = repeat("a", 1, 20000);
	s[19999] = 'b';
	ck_assert_int_eq(pattern_match(p, 1000, s, 20000), 0);
	free(s);
	free(p);

	/* Same shape that does match. */
	p = repeat("*a", 2, 500);
	s = repeat("ba", 2, 10000);
	ck_assert_int_eq(pattern_match(p, 1000, s, 20000), 1);
	free(s);
	free(p);
}
END_TEST

/* As in Redis, a match needing over 1000 nested '*' fails. */
START_TEST(test_nesting_limit)
{
	char	*p, *s;

	s = repeat("a", 1, 1001);
	p = repeat("*a", 2, 1000);
	ck_assert_int_eq(pattern_match(p, 2000, s, 1000), 1);
	ck_assert_int_eq(pattern_match(p, 2000, s, 1001), 1);
	free(p);
	p = repeat("*a", 2, 1001);
	ck_assert_int_eq(pattern_match(p, 2002, s, 1001), 0);
	free(p);
	/* "a*" repeated ends in '*', which matches without recursing. */
	p = repeat("a*", 2, 1000);
	ck_assert_int_eq(pattern_match(p, 2000, s, 1000), 1);
	free(p);
	free(s);
}
END_TEST

/* Returns the pattern suite. */
static Suite *
pattern_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("pattern");
	tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_redis_table, 0, (int)NCASES);
	tcase_add_loop_test(tc, test_exact_buffers, 0, (int)NCASES);
	tcase_add_test(tc, test_binary_safe);
	tcase_add_test(tc, test_everyday);
	tcase_add_test(tc, test_pathological);
	tcase_add_test(tc, test_nesting_limit);
	suite_add_tcase(s, tc);
	return s;
}

/* Runs the pattern suite; exits non-zero if a test failed. */
int
main(void)
{
	return check_run(pattern_suite());
}
