/*
 * ws.c: WebSocket frame headers, the handshake key, and messages as JSON
 * or RESP frames (see ws.h). SHA-1 and base64 are OpenSSL's.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include <openssl/evp.h>

#include "frame.h"
#include "ws.h"

/* The GUID of RFC 6455, section 1.3. */
static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* The first element of each kind's message. */
static const char *const ws_kind[UPSTREAM_KINDS] = {
	"message", "pmessage", "smessage"
};

void
ws_accept_key(const char *key, char out[29])
{
	unsigned char	 digest[EVP_MAX_MD_SIZE];
	unsigned int	 n = 0;
	EVP_MD_CTX	*ctx;

	out[0] = '\0';
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return;
	if (EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, key, strlen(key)) == 1 &&
	    EVP_DigestUpdate(ctx, ws_guid, sizeof(ws_guid) - 1) == 1 &&
	    EVP_DigestFinal_ex(ctx, digest, &n) == 1 && n == 20)
		EVP_EncodeBlock((unsigned char *)out, digest, 20);
	EVP_MD_CTX_free(ctx);
}

int
ws_key_valid(const char *key)
{
	unsigned char	raw[32];
	size_t		i;

	if (strlen(key) != 24 || key[22] != '=' || key[23] != '=')
		return 0;
	for (i = 0; i < 22; i++)
		if (!((key[i] >= 'A' && key[i] <= 'Z') ||
		    (key[i] >= 'a' && key[i] <= 'z') ||
		    (key[i] >= '0' && key[i] <= '9') || key[i] == '+' ||
		    key[i] == '/'))
			return 0;
	/* 24 characters decode to 18 bytes, the last 2 padding: 16. */
	return EVP_DecodeBlock(raw, (const unsigned char *)key, 24) == 18;
}

size_t
ws_header(char *p, int opcode, size_t len)
{
	int	i;

	p[0] = (char)(0x80 | opcode);
	if (len < 126) {
		p[1] = (char)len;
		return 2;
	}
	if (len <= 0xffff) {
		p[1] = 126;
		p[2] = (char)(len >> 8);
		p[3] = (char)len;
		return 4;
	}
	p[1] = 127;
	for (i = 0; i < 8; i++)
		p[2 + i] = (char)((uint64_t)len >> (56 - 8 * i));
	return 10;
}

int
ws_utf8_valid(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	const unsigned char	*end = p + len;
	unsigned		 c, n, i, min;

	while (p < end) {
		c = *p++;
		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			min = 0x80;
			c &= 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			min = 0x800;
			c &= 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			min = 0x10000;
			c &= 0x07;
		} else
			return 0;
		if ((size_t)(end - p) < n)
			return 0;
		for (i = 0; i < n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			c = c << 6 | (p[i] & 0x3f);
		}
		p += n;
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return 0;
	}
	return 1;
}

/* What a byte takes in a JSON string: 1, 2 (\" \\ \n ...) or 6 (\u00XX). */
static size_t
ws_json_char_len(unsigned char c)
{
	if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' ||
	    c == '\r' || c == '\t')
		return 2;
	return c < 0x20 ? 6 : 1;
}

size_t
ws_json_len(const char *s, size_t len)
{
	size_t	i, n = 2;

	if (!ws_utf8_valid(s, len))
		return 13 + 4 * ((len + 2) / 3);	/* {"base64":"..."} */
	for (i = 0; i < len; i++)
		n += ws_json_char_len((unsigned char)s[i]);
	return n;
}

char *
ws_json_put(char *p, const char *s, size_t len)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 c;
	size_t			 i;

	if (!ws_utf8_valid(s, len)) {
		memcpy(p, "{\"base64\":\"", 11);
		p += 11;
		p += EVP_EncodeBlock((unsigned char *)p,
		    (const unsigned char *)s, (int)len);
		memcpy(p, "\"}", 2);
		return p + 2;
	}
	*p++ = '"';
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (ws_json_char_len(c) == 1) {
			*p++ = (char)c;
			continue;
		}
		*p++ = '\\';
		switch (c) {
		case '"':	*p++ = '"'; break;
		case '\\':	*p++ = '\\'; break;
		case '\b':	*p++ = 'b'; break;
		case '\f':	*p++ = 'f'; break;
		case '\n':	*p++ = 'n'; break;
		case '\r':	*p++ = 'r'; break;
		case '\t':	*p++ = 't'; break;
		default:
			*p++ = 'u';
			*p++ = '0';
			*p++ = '0';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	*p++ = '"';
	return p;
}

/* The JSON text of m, without the frame: its exact length. */
static size_t
ws_message_json_len(const struct upstream_msg *m)
{
	size_t	n = 2 + strlen(ws_kind[m->kind]) + 2;	/* [" "] */

	if (m->kind == UPSTREAM_PATTERN)
		n += 1 + ws_json_len(m->pattern, m->patternlen);
	n += 1 + ws_json_len(m->channel, m->channellen);
	n += 1 + ws_json_len(m->payload, m->payloadlen);
	return n;
}

size_t
ws_message_size(const struct upstream_msg *m)
{
	return WS_HEADER_MAX + ws_message_json_len(m);
}

size_t
ws_message_put(char *p, const struct upstream_msg *m)
{
	const char	*kind = ws_kind[m->kind];
	size_t		 len = ws_message_json_len(m);
	char		*start = p;

	p += ws_header(p, WS_OP_TEXT, len);
	*p++ = '[';
	*p++ = '"';
	memcpy(p, kind, strlen(kind));
	p += strlen(kind);
	*p++ = '"';
	if (m->kind == UPSTREAM_PATTERN) {
		*p++ = ',';
		p = ws_json_put(p, m->pattern, m->patternlen);
	}
	*p++ = ',';
	p = ws_json_put(p, m->channel, m->channellen);
	*p++ = ',';
	p = ws_json_put(p, m->payload, m->payloadlen);
	*p++ = ']';
	return (size_t)(p - start);
}

size_t
ws_resp_size(const struct upstream_msg *m)
{
	return WS_HEADER_MAX + frame_message_len(m);
}

size_t
ws_resp_put(char *p, const struct upstream_msg *m, char first)
{
	char	*start = p;

	p += ws_header(p, WS_OP_BINARY, frame_message_len(m));
	return (size_t)(frame_message_put(p, m, first) - start);
}

/* Appends len bytes at s as a JSON string (or base64 object); -1 nomem. */
static int
ws_json_add(struct evbuffer *out, const char *s, size_t len)
{
	struct evbuffer_iovec	v;
	size_t			n = ws_json_len(s, len);

	if (evbuffer_reserve_space(out, (ssize_t)n, &v, 1) != 1)
		return -1;
	v.iov_len = (size_t)(ws_json_put(v.iov_base, s, len) -
	    (char *)v.iov_base);
	return evbuffer_commit_space(out, &v, 1);
}

/* Appends an error, {"error":"..."}; -1 out of memory. */
static int
ws_error_add(struct evbuffer *out, const char *s, size_t len)
{
	if (evbuffer_add(out, "{\"error\":", 9) == -1 ||
	    ws_json_add(out, s, len) == -1)
		return -1;
	return evbuffer_add(out, "}", 1);
}

/* Whether [s, s + len) is a JSON number as RESP writes them. */
static int
ws_is_number(const char *s, size_t len)
{
	size_t	i = 0;

	if (len > 0 && s[0] == '-')
		i++;
	if (i == len)
		return 0;
	for (; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
		    s[i] == 'e' || s[i] == 'E' || s[i] == '-' || s[i] == '+'))
			return 0;
	return 1;
}

/*
 * One RESP value at p as JSON into out: the bytes it took, 0 incomplete,
 * -1 malformed.
 */
static ssize_t
ws_value(struct evbuffer *out, const char *p, size_t len, int depth)
{
	const char	*nl, *line;
	size_t		 llen, off;
	long long	 n = 0, i;
	ssize_t		 r;
	char		*end;
	int		 map;

	if (depth > 64)
		return -1;
	if (len < 3 || (nl = memchr(p, '\n', len)) == NULL)
		return 0;
	if (nl == p || nl[-1] != '\r')
		return -1;
	line = p + 1;
	llen = (size_t)(nl - 1 - line);
	off = (size_t)(nl - p) + 1;
	/* Strings and aggregates: their length or count; -1 is a null. */
	if (p[0] != '\0' && strchr("$=!*~>%", p[0]) != NULL) {
		n = strtoll(line, &end, 10);
		if (end != line + llen || n < -1)
			return -1;
		if (n == -1)
			return evbuffer_add(out, "null", 4) == -1 ? -1 :
			    (ssize_t)off;
	}
	switch (p[0]) {
	case '+':
	case '(':
		return ws_json_add(out, line, llen) == -1 ? -1 :
		    (ssize_t)off;
	case '-':
		return ws_error_add(out, line, llen) == -1 ? -1 : (ssize_t)off;
	case ':':
	case ',':
		if (!ws_is_number(line, llen))
			return ws_json_add(out, line, llen) == -1 ? -1 :
			    (ssize_t)off;	/* inf, -inf, nan */
		return evbuffer_add(out, line, llen) == -1 ? -1 :
		    (ssize_t)off;
	case '_':
		return evbuffer_add(out, "null", 4) == -1 ? -1 : (ssize_t)off;
	case '#':
		return evbuffer_add(out, llen == 1 && line[0] == 't' ? "true" :
		    "false", llen == 1 && line[0] == 't' ? 4 : 5) == -1 ? -1 :
		    (ssize_t)off;
	case '$':
	case '=':
	case '!':
		if ((size_t)n + 2 > len - off)
			return 0;
		line = p + off;
		llen = (size_t)n;
		if (p[0] == '=' && llen >= 4) {		/* "txt:" */
			line += 4;
			llen -= 4;
		}
		if ((p[0] == '!' ? ws_error_add(out, line, llen) :
		    ws_json_add(out, line, llen)) == -1)
			return -1;
		return (ssize_t)(off + (size_t)n + 2);
	case '*':
	case '~':
	case '>':
	case '%':
		map = p[0] == '%';
		if (evbuffer_add(out, map ? "{" : "[", 1) == -1)
			return -1;
		for (i = 0; i < (map ? 2 * n : n); i++) {
			if (off >= len)
				return 0;
			if (i > 0 && evbuffer_add(out, map && i % 2 == 1 ?
			    ":" : ",", 1) == -1)
				return -1;
			if (map && i % 2 == 0 && p[off] != '+' &&
			    p[off] != '$') {
				/* A key that is not a string: its text. */
				struct evbuffer	*k = evbuffer_new();
				const char	*kp;

				if (k == NULL)
					return -1;
				r = ws_value(k, p + off, len - off, depth + 1);
				kp = (const char *)evbuffer_pullup(k, -1);
				if (r > 0 && ws_json_add(out, kp != NULL ? kp :
				    "", evbuffer_get_length(k)) == -1)
					r = -1;
				evbuffer_free(k);
			} else
				r = ws_value(out, p + off, len - off,
				    depth + 1);
			if (r <= 0)
				return r;
			off += (size_t)r;
		}
		if (evbuffer_add(out, map ? "}" : "]", 1) == -1)
			return -1;
		return (ssize_t)off;
	default:
		return -1;
	}
}

int
ws_reply_json(struct evbuffer *out, const char *p, size_t len, size_t *used)
{
	ssize_t	r = ws_value(out, p, len, 0);

	if (r <= 0)
		return (int)r;
	*used = (size_t)r;
	return 1;
}
