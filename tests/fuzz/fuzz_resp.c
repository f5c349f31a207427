/*
 * fuzz_resp.c: a libFuzzer target for the request parser and for
 * resp_reply_size() in daemon/resp.c.
 *
 * An input is a short header saying how to feed the rest, then the body:
 *
 *   byte 0    flags: bits 0-2 the number n of chunk sizes that follow;
 *             bit 3 adds chunks as chains of their own, exact-size copies
 *             passed to evbuffer_add_reference(), so that ASan sees a read
 *             past any chunk (the first FUZZ_CHAINS_MAX only: a socket
 *             never gives an evbuffer thousands of one-byte chains, and
 *             searching those is quadratic); bits 4-5 the limits (0 Redis' own,
 *             1 small, 2 zero, 3 NULL for the defaults); bits 6 and 7
 *             both set amplify the body, as byte k says.
 *   n bytes   the chunk sizes, used in turn: (byte & 0x7f) + 1 bytes,
 *             parsed at once, or with 0x80 set held until the next chunk
 *             (so that a line may span many chains before it is searched).
 *   1 byte    k, if amplifying: with bit 7 clear, the body is padded
 *             with (k & 0x7f) KiB more of its last byte; with it set, what
 *             follows the first line of the body (all of it if that is
 *             all) is repeated to make 2 + (k & 0x7f) * 64 copies. Either
 *             stops at FUZZ_AMPLIFY_MAX bytes. A small input reaches the
 *             "too big" limits, large bulks, long pipelines and requests
 *             of thousands of arguments.
 *
 * The body is parsed twice, fed in those chunks and fed whole. After every
 * resp_parse() the request, the status and resp_parser_pending() are
 * checked against what was drained; a failed parser must stay failed with
 * a "Protocol error: " text. Both runs must give the same requests and end
 * in the same state, except that a "too big" error depends on how much
 * input is buffered when the limit is checked: after one the runs need
 * only agree up to it. resp_reply_size() is then run on the body, which
 * ends where the fuzzer's allocation ends: it must stay inside it, and a
 * size it returns must be at most the length and self-consistent. A broken
 * invariant prints what broke and calls abort(), a crash to libFuzzer.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "resp.h"

#define FUZZ_SIZES_MAX		7
#define FUZZ_CHAINS_MAX		256
#define FUZZ_AMPLIFY_MAX	(96 * 1024)
#define FUZZ_ERR_PREFIX		"Protocol error: "
#define FUZZ_ERR_MAX		64	/* sizeof(p_err) in resp.c */

#define FUZZ_ASSERT(cond) do {						\
	if (!(cond))							\
		fuzz_fail(__LINE__, #cond);				\
} while (0)

/* How the body is fed, decoded from the header. */
struct fuzz_feed {
	const uint8_t	*sizes;		/* borrowed: nsizes chunk sizes */
	size_t		 nsizes;
	int		 chains;	/* one evbuffer chain per chunk */
	struct resp_limits limits;
	int		 defaults;	/* pass NULL limits */
};

/* What one run of the parser over the body gave. */
struct fuzz_run {
	uint64_t	*hashes;	/* owned: one hash per request */
	size_t		 nhashes;
	size_t		 caphashes;
	size_t		 fed;		/* bytes added to the evbuffer */
	size_t		 mark;		/* bytes drained at the last request */
	int		 failed;
	char		 err[FUZZ_ERR_MAX];
	size_t		 pending;	/* resp_parser_pending() at the end */
	size_t		 drained;	/* bytes drained from the evbuffer */
};

int		LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void	fuzz_fail(int, const char *) __attribute__((noreturn));
static uint64_t	fuzz_hash(uint64_t, const void *, size_t);
static void	fuzz_record(struct fuzz_run *, uint64_t);
static void	fuzz_check_req(struct fuzz_run *, const struct resp_req *,
		    size_t);
static void	fuzz_drain(struct fuzz_run *, struct resp_parser *,
		    struct evbuffer *);
static void	fuzz_unref(const void *, size_t, void *);
static void	fuzz_add(struct evbuffer *, const uint8_t *, size_t, int);
static void	fuzz_parse(struct fuzz_run *, const struct fuzz_feed *,
		    const uint8_t *, size_t, int);
static int	fuzz_too_big(const struct fuzz_run *);
static void	fuzz_compare(const struct fuzz_run *,
		    const struct fuzz_run *);
static void	fuzz_reply_size(const uint8_t *, size_t);

/* Reports a broken invariant and aborts. */
static void
fuzz_fail(int line, const char *what)
{
	fprintf(stderr, "fuzz_resp.c:%d: invariant broken: %s\n", line, what);
	abort();
}

/* Folds len bytes at p into FNV-1a hash h; reads every byte (for ASan). */
static uint64_t
fuzz_hash(uint64_t h, const void *p, size_t len)
{
	const unsigned char	*c = p;
	size_t			 i;

	for (i = 0; i < len; i++) {
		h ^= c[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Appends the hash of a request to the run. */
static void
fuzz_record(struct fuzz_run *r, uint64_t h)
{
	uint64_t	*n;
	size_t		 cap;

	if (r->nhashes == r->caphashes) {
		cap = r->caphashes > 0 ? r->caphashes * 2 : 64;
		if ((n = realloc(r->hashes, cap * sizeof(*n))) == NULL)
			abort();
		r->hashes = n;
		r->caphashes = cap;
	}
	r->hashes[r->nhashes++] = h;
}

/*
 * Checks a request against the bytes drained since the last one (its
 * arguments cannot hold more) and records its hash.
 */
static void
fuzz_check_req(struct fuzz_run *r, const struct resp_req *req,
    size_t drained)
{
	uint64_t	 h = 0xcbf29ce484222325ULL;
	size_t		 total = 0;
	int		 i;

	FUZZ_ASSERT(req->argc > 0);
	FUZZ_ASSERT(req->argv != NULL && req->argvlen != NULL);
	h = fuzz_hash(h, &req->argc, sizeof(req->argc));
	for (i = 0; i < req->argc; i++) {
		FUZZ_ASSERT(req->argv[i] != NULL);
		FUZZ_ASSERT(req->argvlen[i] <= drained);
		FUZZ_ASSERT(req->argv[i][req->argvlen[i]] == '\0');
		total += req->argvlen[i];
		FUZZ_ASSERT(total <= drained);
		h = fuzz_hash(h, &req->argvlen[i], sizeof(req->argvlen[i]));
		h = fuzz_hash(h, req->argv[i], req->argvlen[i] + 1);
	}
	fuzz_record(r, h);
}

/*
 * Calls resp_parse() until it needs more input or fails, checking each
 * answer, and notes how the run stands.
 */
static void
fuzz_drain(struct fuzz_run *r, struct resp_parser *p, struct evbuffer *in)
{
	struct resp_req		 req;
	enum resp_status	 st;
	size_t			 drained, pending, left;
	const char		*err;

	for (;;) {
		memset(&req, 0, sizeof(req));
		st = resp_parse(p, in, &req);
		left = evbuffer_get_length(in);
		FUZZ_ASSERT(left <= r->fed);
		FUZZ_ASSERT(r->fed - left >= r->mark);
		drained = r->fed - left - r->mark;
		pending = resp_parser_pending(p);
		switch (st) {
		case RESP_REQUEST:
			FUZZ_ASSERT(drained > 0);
			FUZZ_ASSERT(pending == 0);
			fuzz_check_req(r, &req, drained);
			r->mark = r->fed - left;
			break;
		case RESP_NEED_MORE:
			FUZZ_ASSERT(pending <= drained);
			r->pending = pending;
			r->drained = r->fed - left;
			return;
		case RESP_PROTO_ERROR:
			err = resp_parser_error(p);
			FUZZ_ASSERT(memchr(err, '\0', FUZZ_ERR_MAX) != NULL);
			FUZZ_ASSERT(strncmp(err, FUZZ_ERR_PREFIX,
			    strlen(FUZZ_ERR_PREFIX)) == 0);
			FUZZ_ASSERT(strpbrk(err, "\r\n") == NULL);
			r->failed = 1;
			snprintf(r->err, sizeof(r->err), "%s", err);
			/* The parser stays failed and takes nothing more. */
			st = resp_parse(p, in, &req);
			FUZZ_ASSERT(st == RESP_PROTO_ERROR);
			FUZZ_ASSERT(evbuffer_get_length(in) == left);
			FUZZ_ASSERT(strcmp(resp_parser_error(p), r->err) == 0);
			r->pending = pending;
			r->drained = r->fed - left;
			return;
		default:
			FUZZ_ASSERT(!"unknown resp_status");
		}
	}
}

/* Frees a chunk that evbuffer_add_reference() was handed. */
static void
fuzz_unref(const void *data, size_t len, void *arg)
{
	free(arg);
}

/* Adds len bytes at p to in, as a chain of their own if chains is set. */
static void
fuzz_add(struct evbuffer *in, const uint8_t *p, size_t len, int chains)
{
	void	*copy;

	if (!chains) {
		if (evbuffer_add(in, p, len) == -1)
			abort();
		return;
	}
	if ((copy = malloc(len)) == NULL)
		abort();
	memcpy(copy, p, len);
	if (evbuffer_add_reference(in, copy, len, fuzz_unref, copy) == -1)
		abort();
}

/* Runs a fresh parser over body, in the feed's chunks or (whole) at once. */
static void
fuzz_parse(struct fuzz_run *r, const struct fuzz_feed *f,
    const uint8_t *body, size_t len, int whole)
{
	struct resp_parser	*p;
	struct evbuffer		*in;
	size_t			 off = 0, i = 0, chunks = 0, n;
	int			 hold;

	if ((p = resp_parser_new(f->defaults ? NULL : &f->limits)) == NULL ||
	    (in = evbuffer_new()) == NULL)
		abort();
	while (off < len && !r->failed) {
		n = len - off;
		hold = 0;
		if (!whole && f->nsizes > 0) {
			if (n > (size_t)(f->sizes[i] & 0x7f) + 1)
				n = (size_t)(f->sizes[i] & 0x7f) + 1;
			hold = (f->sizes[i] & 0x80) != 0;
			i = (i + 1) % f->nsizes;
		}
		fuzz_add(in, body + off, n,
		    !whole && f->chains && chunks++ < FUZZ_CHAINS_MAX);
		off += n;
		r->fed += n;
		if (!hold || off == len)
			fuzz_drain(r, p, in);
	}
	if (len == 0)
		fuzz_drain(r, p, in);
	evbuffer_free(in);
	resp_parser_free(p);
}

/* Tells whether a run ended on one of the "too big" limits. */
static int
fuzz_too_big(const struct fuzz_run *r)
{
	return r->failed && strstr(r->err, "too big") != NULL;
}

/* Checks that the chunked run a and the whole run b agree. */
static void
fuzz_compare(const struct fuzz_run *a, const struct fuzz_run *b)
{
	size_t	 n;

	n = a->nhashes < b->nhashes ? a->nhashes : b->nhashes;
	FUZZ_ASSERT(n == 0 ||
	    memcmp(a->hashes, b->hashes, n * sizeof(*a->hashes)) == 0);
	/* Whole input over the limit is over it however it arrives. */
	if (fuzz_too_big(b)) {
		FUZZ_ASSERT(fuzz_too_big(a));
		FUZZ_ASSERT(a->nhashes <= b->nhashes);
	}
	if (fuzz_too_big(a))
		return;
	FUZZ_ASSERT(a->nhashes == b->nhashes);
	FUZZ_ASSERT(a->failed == b->failed);
	FUZZ_ASSERT(strcmp(a->err, b->err) == 0);
	FUZZ_ASSERT(a->pending == b->pending);
	FUZZ_ASSERT(a->drained == b->drained);
}

/*
 * Measures the reply at the start of buf, whose end is the end of its
 * allocation, and checks the size against shorter prefixes.
 */
static void
fuzz_reply_size(const uint8_t *buf, size_t len)
{
	long long	 n;

	n = resp_reply_size((const char *)buf, len);
	FUZZ_ASSERT(n >= -1 && n <= (long long)len);
	if (n > 0) {
		/* The reply alone is the same reply; one byte less is not. */
		FUZZ_ASSERT(resp_reply_size((const char *)buf, (size_t)n) == n);
		FUZZ_ASSERT(resp_reply_size((const char *)buf,
		    (size_t)n - 1) == 0);
	}
}

/* The libFuzzer entry point: decodes the header, runs all the checks. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_feed	 f;
	struct fuzz_run		 a, b;
	const uint8_t		*body;
	uint8_t			*big = NULL, *nl;
	size_t			 hdr, len, n, k, i, first, part;
	int			 amplify, repeat;

	if (size == 0)
		return 0;
	memset(&f, 0, sizeof(f));
	f.nsizes = data[0] & FUZZ_SIZES_MAX;
	f.chains = (data[0] & 0x08) != 0;
	switch ((data[0] >> 4) & 0x03) {
	case 1:
		f.limits.multibulk_max = 3;
		f.limits.bulk_max = 8;
		break;
	case 2:
		f.limits.multibulk_max = 0;
		f.limits.bulk_max = 0;
		break;
	case 3:
		f.defaults = 1;
		break;
	default:
		f.limits.multibulk_max = RESP_MULTIBULK_MAX;
		f.limits.bulk_max = RESP_BULK_MAX;
		break;
	}
	amplify = (data[0] & 0xc0) == 0xc0;
	hdr = 1;
	if (f.nsizes > size - hdr)
		f.nsizes = size - hdr;
	f.sizes = data + hdr;
	hdr += f.nsizes;
	k = 0;
	if (amplify && hdr < size)
		k = data[hdr++];
	repeat = (k & 0x80) != 0;
	k &= 0x7f;
	body = data + hdr;
	len = size - hdr;

	/* The raw body first: it ends where the fuzzer's buffer ends. */
	fuzz_reply_size(body, len);

	if (amplify && len > 0 && len < FUZZ_AMPLIFY_MAX) {
		if ((big = malloc(FUZZ_AMPLIFY_MAX)) == NULL)
			abort();
		n = repeat ? 0 : k * 1024;
		if (n > FUZZ_AMPLIFY_MAX - len)
			n = FUZZ_AMPLIFY_MAX - len;
		memcpy(big, body, len);
		memset(big + len, body[len - 1], n);
		len += n;
		/* What follows the first line is repeated, or all of it. */
		nl = memchr(big, '\n', len - 1);
		first = nl != NULL ? (size_t)(nl - big) + 1 : 0;
		part = len - first;
		for (i = 1; repeat && i < 2 + k * 64 &&
		    part <= FUZZ_AMPLIFY_MAX - len; i++) {
			memcpy(big + len, big + first, part);
			len += part;
		}
		body = big;
	}

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	fuzz_parse(&a, &f, body, len, 0);
	fuzz_parse(&b, &f, body, len, 1);
	fuzz_compare(&a, &b);

	free(a.hashes);
	free(b.hashes);
	free(big);
	return 0;
}
