/*
 * pattern.c: Redis' glob-style matching (stringmatchlen() of Redis 7.0).
 *
 * The matcher walks pattern and string together and recurses only at '*',
 * trying every split of the string. Two guards from Redis keep hostile
 * patterns cheap. First, once the rest of a pattern after some '*' has failed
 * at every position of the remaining string, no earlier '*' can do better by
 * swallowing more, so a flag shared by the whole search stops all
 * backtracking at once ("a*a*a*...b" against a long run of 'a' is then
 * linear per star instead of exponential). Second, more than 1000 nested '*'
 * recursions fail outright, which bounds the stack.
 *
 * Quirks kept on purpose, because Redis has them (checked against a real
 * redis-server 7.0.15): the empty string matches only the empty pattern;
 * an unterminated class ends at the end of the pattern; "[^" alone matches
 * any byte; in "[a-]" the ']' is the end of the range, not of the class; a
 * trailing '\' is a literal backslash; and class ranges compare bytes as
 * signed chars (as Redis does on amd64), so "[a-\xff]" holds '\0' to 'a'
 * and '\xff' but not '\x80'.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stddef.h>

#include "pattern.h"

#define PATTERN_MAX_NESTING	1000

static int	pattern_match_from(const char *, size_t, const char *, size_t,
		    int, int *);
static int	pattern_class(const char *, size_t, char, size_t *);
static int	pattern_byte(char);

/* Returns a byte's value as Redis' class ranges see it: a signed char. */
static int
pattern_byte(char c)
{
	return (signed char)c;
}

/*
 * Matches byte c against the class whose body (after the '[') is p[0..plen).
 * Sets *used to the bytes of the body consumed, the closing ']' included if
 * there is one; returns whether c is in the class.
 */
static int
pattern_class(const char *p, size_t plen, char c, size_t *used)
{
	size_t	i = 0;
	int	negate = 0, match = 0, lo, hi, t;

	if (plen > 0 && p[0] == '^') {
		negate = 1;
		i++;
	}
	for (;;) {
		if (i == plen) {
			/* Unterminated: the class runs to the end. */
			*used = plen;
			break;
		}
		if (p[i] == '\\' && plen - i >= 2) {
			i++;
			if (p[i] == c)
				match = 1;
		} else if (p[i] == ']') {
			*used = i + 1;
			break;
		} else if (plen - i >= 3 && p[i + 1] == '-') {
			lo = pattern_byte(p[i]);
			hi = pattern_byte(p[i + 2]);
			if (lo > hi) {
				t = lo;
				lo = hi;
				hi = t;
			}
			if (pattern_byte(c) >= lo && pattern_byte(c) <= hi)
				match = 1;
			i += 2;
		} else if (p[i] == c)
			match = 1;
		i++;
	}
	return negate ? !match : match;
}

/*
 * Matches s[0..slen) against p[0..plen) at '*' depth nesting. *giveup is
 * shared by the whole search: once set, every pending '*' stops trying
 * longer spans. Returns 1 on a match, 0 otherwise.
 */
static int
pattern_match_from(const char *p, size_t plen, const char *s, size_t slen,
    int nesting, int *giveup)
{
	size_t	used;

	if (nesting > PATTERN_MAX_NESTING)
		return 0;
	while (plen > 0 && slen > 0) {
		switch (p[0]) {
		case '*':
			while (plen >= 2 && p[1] == '*') {
				p++;
				plen--;
			}
			if (plen == 1)
				return 1;
			for (; slen > 0; s++, slen--) {
				if (pattern_match_from(p + 1, plen - 1, s, slen,
				    nesting + 1, giveup))
					return 1;
				if (*giveup)
					return 0;
			}
			/*
			 * The rest fails from every position onwards, so an
			 * outer '*' taking a longer span cannot help either.
			 */
			*giveup = 1;
			return 0;
		case '?':
			used = 1;
			break;
		case '[':
			if (!pattern_class(p + 1, plen - 1, s[0], &used))
				return 0;
			used++;
			break;
		case '\\':
			if (plen >= 2) {
				p++;
				plen--;
			}
			/* FALLTHROUGH */
		default:
			if (p[0] != s[0])
				return 0;
			used = 1;
			break;
		}
		p += used;
		plen -= used;
		s++;
		slen--;
		if (slen == 0) {
			/* Trailing stars match the empty rest. */
			while (plen > 0 && p[0] == '*') {
				p++;
				plen--;
			}
		}
	}
	return plen == 0 && slen == 0;
}

/* Whether string matches pattern (Redis' glob rules); both binary-safe. */
int
pattern_match(const char *pattern, size_t plen, const char *string,
    size_t slen)
{
	int	giveup = 0;

	return pattern_match_from(pattern, plen, string, slen, 0, &giveup);
}
