/*
 * frame.c: a message as Redis frames it (see frame.h).
 */
#include "config.h"

#include <string.h>

#include "frame.h"

/* The first element of each kind's message. */
static const char *const frame_kind[UPSTREAM_KINDS] = {
	"message", "pmessage", "smessage"
};

/* The digits of v. */
static size_t
frame_digits(size_t v)
{
	size_t	n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

/* A bulk string's length, framed. */
static size_t
frame_bulk_len(size_t len)
{
	return 1 + frame_digits(len) + 2 + len + 2;
}

size_t
frame_message_len(const struct upstream_msg *m)
{
	size_t	n = 4 + frame_bulk_len(strlen(frame_kind[m->kind]));

	if (m->kind == UPSTREAM_PATTERN)
		n += frame_bulk_len(m->patternlen);
	return n + frame_bulk_len(m->channellen) + frame_bulk_len(m->payloadlen);
}

/* Writes a bulk string at p; returns the end. */
static char *
frame_put_bulk(char *p, const char *s, size_t len)
{
	char	digits[24];
	int	n = 0;
	size_t	v = len;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	*p++ = '$';
	while (n > 0)
		*p++ = digits[--n];
	*p++ = '\r';
	*p++ = '\n';
	memcpy(p, s, len);
	p += len;
	*p++ = '\r';
	*p++ = '\n';
	return p;
}

char *
frame_message_put(char *p, const struct upstream_msg *m, char first)
{
	const char	*kind = frame_kind[m->kind];

	*p++ = first;
	*p++ = m->kind == UPSTREAM_PATTERN ? '4' : '3';
	*p++ = '\r';
	*p++ = '\n';
	p = frame_put_bulk(p, kind, strlen(kind));
	if (m->kind == UPSTREAM_PATTERN)
		p = frame_put_bulk(p, m->pattern, m->patternlen);
	p = frame_put_bulk(p, m->channel, m->channellen);
	return frame_put_bulk(p, m->payload, m->payloadlen);
}
