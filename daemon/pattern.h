/*
 * pattern.h: Redis' glob-style matching, as PSUBSCRIBE and PUBSUB CHANNELS
 * apply it.
 *
 * The rules are those of Redis 7.0's stringmatchlen(), quirks included, so
 * that a pattern selects exactly the channels Redis itself would: '*' is any
 * run of bytes, '?' any one byte, "[abc]", "[^abc]" and "[a-z]" (reversed
 * ranges allowed) a class, and '\' quotes the next byte inside a class or out.
 * Both pattern and string are byte strings with explicit lengths.
 */
#ifndef PUBSUBD_PATTERN_H
#define PUBSUBD_PATTERN_H

#include <stddef.h>

/*
 * Whether string matches pattern (Redis' glob rules); both binary-safe.
 * Borrows both buffers for the call only; returns 1 on a match, 0 otherwise.
 * As in Redis, a non-empty pattern never matches the empty string ("*"
 * included), and a pattern needing more than 1000 nested '*' never matches.
 */
int	pattern_match(const char *pattern, size_t plen, const char *string,
	    size_t slen);

#endif /* PUBSUBD_PATTERN_H */
