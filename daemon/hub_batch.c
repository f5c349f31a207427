/*
 * hub_batch.c: the hub's fan-out: batches, the frames encoded into them,
 * the segments each subscriber keeps, and the end-of-turn flush.
 *
 * Everything one loop turn (or a few, while Redis has more waiting) reads
 * from Redis is encoded into a shared batch, each message once per output
 * form; each subscriber of a message keeps only a chain of segments
 * (offset, length) of that batch, from a pool the hub reuses, and a
 * segment grows while the frames it receives are adjacent. At the flush
 * each subscriber is handed its chain once, as an iovec array. This file
 * owns the batches (shared by reference with subscribers that keep their
 * bytes), the segment pool, the dirty list and the flush events; hub.c
 * owns the channels whose subscribers it delivers to.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "hub_impl.h"
#include "log.h"
#include "frame.h"
#include "ws.h"

#define HUB_BATCH_SIZE	(256 * 1024)	/* a batch is flushed when full */

/*
 * The segment pool: never smaller than HUB_SEGS_MIN; a batch that would
 * need more than HUB_SEGS_MAX is flushed early (unless one message alone
 * needs more); every HUB_SEGS_TRIM batches a pool that stayed under a
 * quarter of its size is halved.
 */
#define HUB_SEGS_MIN	1024
#define HUB_SEGS_MAX	(256 * 1024)	/* 3 MB */
#define HUB_SEGS_TRIM	1024

/*
 * While Redis has at least HUB_DEFER_BYTES waiting (one more full read:
 * pubsubd is behind), a batch is kept open over the next loop turns, up to
 * HUB_DEFER_NS old or until it is full, so that each subscriber gets more
 * messages per write. Behind, the backlog's wait dwarfs this one.
 */
#define HUB_DEFER_BYTES	(16 * 1024)	/* hiredis reads 16 KiB at a time */
#define HUB_DEFER_NS	10000000	/* 10 ms */

/*
 * Encoded messages shared by every subscriber that received them. Owned by
 * its references: the hub's while it is the current batch, and one for each
 * evbuffer reference a subscriber keeps.
 */
struct hub_batch {
	unsigned int	 b_refs;
	size_t		 b_len;
	size_t		 b_cap;
	char		 b_data[];
};

/*
 * A piece of a batch one subscriber receives: bytes [sg_off, sg_off +
 * sg_len) of it; sg_next is the next of the same subscriber (0: none).
 */
struct hub_seg {
	uint32_t	 sg_off;
	uint32_t	 sg_len;
	uint32_t	 sg_next;
};

/* The fan-out latency buckets' upper bounds: 50 us to 1 s. */
static const struct {
	uint64_t	 ns;
	const char	*text;
} hub_latency_bounds[HUB_LATENCY_BUCKETS] = {
	{ 50000, "0.00005" }, { 100000, "0.0001" }, { 250000, "0.00025" },
	{ 500000, "0.0005" }, { 1000000, "0.001" }, { 2500000, "0.0025" },
	{ 5000000, "0.005" }, { 10000000, "0.01" }, { 25000000, "0.025" },
	{ 50000000, "0.05" }, { 100000000, "0.1" }, { 250000000, "0.25" },
	{ 500000000, "0.5" }, { 1000000000, "1" }
};

static void	hub_flush_cb(evutil_socket_t, short, void *);
static void	hub_subscriber_drop(struct hub *, struct hub_subscriber *);
static size_t	hub_sse_size(const struct upstream_msg *);
static size_t	hub_sse_encode(struct hub_batch *, const struct upstream_msg *);
static size_t	hub_ws_json_encode(struct hub_batch *,
		    const struct upstream_msg *);
static size_t	hub_ws_resp2_encode(struct hub_batch *,
		    const struct upstream_msg *);
static size_t	hub_ws_resp3_encode(struct hub_batch *,
		    const struct upstream_msg *);
static int	hub_reserve(struct hub *, const struct upstream_msg *);
static int	hub_room(struct hub *, uint32_t);
static int	hub_segs_resize(struct hub *, uint32_t);
static void	hub_segs_trim(struct hub *);
static size_t	hub_resp_size(const struct upstream_msg *);
static size_t	hub_resp_encode(struct hub_batch *, const struct upstream_msg *,
		    char);
static size_t	hub_resp2_encode(struct hub_batch *,
		    const struct upstream_msg *);
static size_t	hub_resp3_encode(struct hub_batch *,
		    const struct upstream_msg *);
static int	hub_deliver(struct hub *, struct hub_chan *,
		    const struct upstream_msg *);
static uint64_t	hub_now_ns(void);
static void	hub_observe(struct hub *, uint64_t, uint32_t);

/* The frames' fixed first elements. */
static const char *const hub_msg_type[UPSTREAM_KINDS] = {
	"message", "pmessage", "smessage"
};

/*
 * How a message is written in each form: the most bytes its frame takes,
 * and the encoder that appends the frame to a batch (the room reserved) and
 * returns its offset there.
 */
static const struct {
	size_t	(*size)(const struct upstream_msg *);
	size_t	(*encode)(struct hub_batch *, const struct upstream_msg *);
} hub_forms[HUB_FORMS] = {
	{ hub_resp_size, hub_resp2_encode },	/* HUB_FORM_RESP2 */
	{ hub_resp_size, hub_resp3_encode },	/* HUB_FORM_RESP3 */
	{ hub_sse_size, hub_sse_encode },	/* HUB_FORM_SSE */
	{ ws_message_size, hub_ws_json_encode },	/* HUB_FORM_WS_JSON */
	{ ws_resp_size, hub_ws_resp2_encode },	/* HUB_FORM_WS_RESP2 */
	{ ws_resp_size, hub_ws_resp3_encode }	/* HUB_FORM_WS_RESP3 */
};

/* Makes the fan-out's events and segment pool; see hub_impl.h. */
int
hub_batch_setup_(struct hub *hub)
{
	hub->h_nsegs = 1;
	hub->h_flush_ev = event_new(hub->h_base, -1, 0, hub_flush_cb, hub);
	hub->h_defer_ev = evtimer_new(hub->h_base, hub_flush_cb, hub);
	if (hub->h_flush_ev == NULL || hub->h_defer_ev == NULL ||
	    hub_segs_resize(hub, HUB_SEGS_MIN) == -1) {
		if (hub->h_flush_ev != NULL)
			event_free(hub->h_flush_ev);
		if (hub->h_defer_ev != NULL)
			event_free(hub->h_defer_ev);
		hub->h_flush_ev = hub->h_defer_ev = NULL;
		return -1;
	}
	return 0;
}

/* Frees the fan-out's batches, segments and events; see hub_impl.h. */
void
hub_batch_teardown_(struct hub *hub)
{
	int	k;

	for (k = 0; k < HUB_FORMS; k++)
		if (hub->h_batch[k] != NULL)
			hub_batch_release(NULL, 0, hub->h_batch[k]);
	free(hub->h_dirty);
	free(hub->h_segs);
	event_free(hub->h_flush_ev);
	event_free(hub->h_defer_ev);
}

/* Prepares an embedded subscriber. */
void
hub_subscriber_init(struct hub_subscriber *hs,
    const struct hub_subscriber_ops *ops)
{
	memset(hs, 0, sizeof(*hs));
	hs->hs_ops = ops;
}

/*
 * Hands a subscriber its pending segments now, HUB_IOV at a time. The chain
 * is emptied first (the subscriber stays in the batch's dirty list), so a
 * deliver that forgets the subscriber finds nothing left to drop.
 */
void
hub_subscriber_flush(struct hub *hub, struct hub_subscriber *hs)
{
	struct hub_batch	*b = hs->hs_batch;
	const struct hub_seg	*sg;
	struct iovec		 iov[HUB_IOV];
	uint32_t		 i;
	size_t			 len = 0;
	int			 n = 0;

	if (b == NULL || (i = hs->hs_head) == 0)
		return;
	hs->hs_head = hs->hs_tail = 0;
	while (i != 0) {
		sg = &hub->h_segs[i];
		iov[n].iov_base = b->b_data + sg->sg_off;
		iov[n].iov_len = sg->sg_len;
		len += sg->sg_len;
		n++;
		i = sg->sg_next;
		if (n < HUB_IOV && i != 0)
			continue;
		hs->hs_ops->deliver(hs, b, iov, n, len);
		if (hs->hs_batch != b)
			return;		/* forgotten meanwhile */
		n = 0;
		len = 0;
	}
}

/* Switches a subscriber's form; its pending segments go out first. */
void
hub_subscriber_set_form(struct hub *hub, struct hub_subscriber *hs,
    enum hub_form form)
{
	hub_subscriber_flush(hub, hs);
	/* Its chain is over; a new one starts in the other batch. */
	hub_subscriber_drop(hub, hs);
	if (hs->hs_form >= HUB_FORMS_ON_DEMAND)
		hub->h_nform[hs->hs_form]--;
	hs->hs_form = (uint8_t)form;
	if (form >= HUB_FORMS_ON_DEMAND)
		hub->h_nform[form]++;
}

/* Drops a subscriber's chain of pending segments. */
static void
hub_subscriber_drop(struct hub *hub, struct hub_subscriber *hs)
{
	if (hs->hs_batch == NULL)
		return;
	hub->h_dirty[hs->hs_dirty] = NULL;
	hs->hs_batch = NULL;
	hs->hs_head = hs->hs_tail = 0;
}

/* Forgets a subscriber's pending segments and its form; it is going away. */
void
hub_subscriber_forget(struct hub *hub, struct hub_subscriber *hs)
{
	hub_subscriber_drop(hub, hs);
	if (hs->hs_form >= HUB_FORMS_ON_DEMAND) {
		hub->h_nform[hs->hs_form]--;
		hs->hs_form = HUB_FORM_RESP2;
	}
}

/* The bytes of a message's frame in RESP2 or RESP3 (the same). */
static size_t
hub_resp_size(const struct upstream_msg *m)
{
	return frame_message_len(m);
}

/*
 * Makes sure every form's batch can take message m's frame without a flush
 * in the middle of its fan-out: flushes first if one cannot, and makes a
 * batch large enough for a message bigger than the usual size.
 */
static int
hub_reserve(struct hub *hub, const struct upstream_msg *m)
{
	struct hub_batch	*b;
	size_t			 cap, need[HUB_FORMS];
	int			 p;

	for (p = 0; p < HUB_FORMS; p++)
		need[p] = p < HUB_FORMS_ON_DEMAND || hub->h_nform[p] > 0 ?
		    hub_forms[p].size(m) : 0;
	for (p = 0; p < HUB_FORMS; p++) {
		b = hub->h_batch[p];
		if (need[p] > 0 && b != NULL && b->b_len + need[p] > b->b_cap) {
			hub_flush(hub);
			break;
		}
	}
	for (p = 0; p < HUB_FORMS; p++) {
		b = hub->h_batch[p];
		if (need[p] == 0 || (b != NULL && b->b_len + need[p] <=
		    b->b_cap))
			continue;
		if (b != NULL) {
			hub_batch_release(NULL, 0, b);
			hub->h_batch[p] = NULL;
		}
		cap = need[p] > HUB_BATCH_SIZE ? need[p] : HUB_BATCH_SIZE;
		if ((b = malloc(sizeof(*b) + cap)) == NULL)
			return -1;
		b->b_refs = 1;
		b->b_len = 0;
		b->b_cap = cap;
		hub->h_batch[p] = b;
	}
	return 0;
}

/*
 * Appends a message's frame to batch b (a RESP2 array or a RESP3 push: they
 * differ only in the first byte, first) and returns its offset; room was
 * reserved.
 */
static size_t
hub_resp_encode(struct hub_batch *b, const struct upstream_msg *m, char first)
{
	char	*start = b->b_data + b->b_len;

	b->b_len += (size_t)(frame_message_put(start, m, first) - start);
	return (size_t)(start - b->b_data);
}

/* The RESP2 form: Redis' own frame, an array. */
static size_t
hub_resp2_encode(struct hub_batch *b, const struct upstream_msg *m)
{
	return hub_resp_encode(b, m, '*');
}

/* The RESP3 form: a push. */
static size_t
hub_resp3_encode(struct hub_batch *b, const struct upstream_msg *m)
{
	return hub_resp_encode(b, m, '>');
}

/*
 * The most bytes of a message as a Server-Sent Event: "event:" its kind,
 * "id:" its channel (each byte at most 3), and a "data:" line for each line
 * of the payload (a line ends at CR, LF or CR LF, as the spec reads them).
 */
static size_t
hub_sse_size(const struct upstream_msg *m)
{
	size_t	i, breaks = 0;

	for (i = 0; i < m->payloadlen; i++)
		if (m->payload[i] == '\n' || m->payload[i] == '\r')
			breaks++;
	return 16 + 5 + 3 * m->channellen + (breaks + 1) * 7 + m->payloadlen +
	    1;
}

/*
 * Appends a message as a Server-Sent Event: its kind as the event's type,
 * its channel as the event's id (bytes outside '!'..'~', and '%', as %XX:
 * decodeURIComponent() gives the name back), its payload as data lines.
 */
static size_t
hub_sse_encode(struct hub_batch *b, const struct upstream_msg *m)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const char		*type = hub_msg_type[m->kind];
	const char		*s = m->payload, *end = s + m->payloadlen, *nl;
	char			*start, *p;
	size_t			 i;
	unsigned char		 c;

	start = p = b->b_data + b->b_len;
	memcpy(p, "event: ", 7);
	p += 7;
	memcpy(p, type, strlen(type));
	p += strlen(type);
	memcpy(p, "\nid: ", 5);
	p += 5;
	for (i = 0; i < m->channellen; i++) {
		c = (unsigned char)m->channel[i];
		if (c > ' ' && c < 0x7f && c != '%')
			*p++ = (char)c;
		else {
			*p++ = '%';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	*p++ = '\n';
	for (;;) {
		for (nl = s; nl < end && *nl != '\n' && *nl != '\r'; nl++)
			;
		memcpy(p, "data: ", 6);
		p += 6;
		memcpy(p, s, (size_t)(nl - s));
		p += nl - s;
		*p++ = '\n';
		if (nl == end)
			break;
		s = nl + (nl[0] == '\r' && nl + 1 < end && nl[1] == '\n' ?
		    2 : 1);
	}
	*p++ = '\n';
	b->b_len += (size_t)(p - start);
	return (size_t)(start - b->b_data);
}

/* The WebSocket forms: whole frames (ws.c), appended; their offsets. */
static size_t
hub_ws_json_encode(struct hub_batch *b, const struct upstream_msg *m)
{
	size_t	off = b->b_len;

	b->b_len += ws_message_put(b->b_data + off, m);
	return off;
}

static size_t
hub_ws_resp2_encode(struct hub_batch *b, const struct upstream_msg *m)
{
	size_t	off = b->b_len;

	b->b_len += ws_resp_put(b->b_data + off, m, '*');
	return off;
}

static size_t
hub_ws_resp3_encode(struct hub_batch *b, const struct upstream_msg *m)
{
	size_t	off = b->b_len;

	b->b_len += ws_resp_put(b->b_data + off, m, '>');
	return off;
}

/* Resizes the segment pool to cap entries (at least those in use). */
static int
hub_segs_resize(struct hub *hub, uint32_t cap)
{
	struct hub_seg	*segs;

	segs = reallocarray(hub->h_segs, cap, sizeof(*segs));
	if (segs == NULL)
		return -1;
	hub->h_segs = segs;
	hub->h_segcap = cap;
	return 0;
}

/*
 * Makes room for n more receivers of a message in the dirty list and the
 * segment pool, growing them by doubling; flushes first if the pool would
 * pass HUB_SEGS_MAX (a batch of many channels' messages interleaved).
 * Called before hub_reserve(), whose room a flush would undo.
 */
static int
hub_room(struct hub *hub, uint32_t n)
{
	struct hub_subscriber	**dirty;
	uint32_t		  cap;

	if (hub->h_ndirty + n > hub->h_dirtycap) {
		cap = hub->h_dirtycap ? hub->h_dirtycap : 64;
		while (cap < hub->h_ndirty + n)
			cap *= 2;
		dirty = reallocarray(hub->h_dirty, cap, sizeof(*dirty));
		if (dirty == NULL)
			return -1;
		hub->h_dirty = dirty;
		hub->h_dirtycap = cap;
	}
	if (hub->h_nsegs + n <= hub->h_segcap)
		return 0;
	if (hub->h_nsegs > 1 && hub->h_nsegs + n > HUB_SEGS_MAX) {
		hub_flush(hub);
		if (hub->h_nsegs + n <= hub->h_segcap)
			return 0;
	}
	cap = hub->h_segcap;
	while (cap < hub->h_nsegs + n) {
		if (cap > UINT32_MAX / 2)
			return -1;
		cap *= 2;
	}
	return hub_segs_resize(hub, cap);
}

/*
 * Halves the segment pool when it stayed under a quarter full for
 * HUB_SEGS_TRIM batches, so that one burst does not keep it large.
 */
static void
hub_segs_trim(struct hub *hub)
{
	uint32_t	cap;

	if (hub->h_nsegs > hub->h_segpeak)
		hub->h_segpeak = hub->h_nsegs;
	if (++hub->h_segbatches < HUB_SEGS_TRIM)
		return;
	cap = hub->h_segcap / 2;
	if (cap >= HUB_SEGS_MIN && hub->h_segpeak < hub->h_segcap / 4)
		(void)hub_segs_resize(hub, cap);	/* kept if it fails */
	hub->h_segpeak = 0;
	hub->h_segbatches = 0;
}

/*
 * Gives every active subscriber of ch the message, encoded at most once in
 * each form: extends the last segment of the subscriber's chain when the
 * frame follows it, else appends a segment from the pool. This is the per
 * message x per subscriber path: no allocation, no copy, no system call.
 */
static int
hub_deliver(struct hub *hub, struct hub_chan *ch, const struct upstream_msg *m)
{
	struct hub_subscriber	*hs;
	struct hub_batch	*b;
	struct hub_seg		*sg;
	uint32_t		 i, n, start[HUB_FORMS], len[HUB_FORMS];
	int			 p, done[HUB_FORMS] = { 0 };

	if (hub_room(hub, ch->ch_nsubs) == -1 ||
	    hub_reserve(hub, m) == -1)
		return -1;
	for (i = 0; i < ch->ch_nsubs; i++) {
		hs = ch->ch_subs[i]->hs_subscriber;
		p = hs->hs_form;
		b = hub->h_batch[p];
		if (!done[p]) {
			start[p] = (uint32_t)hub_forms[p].encode(b, m);
			len[p] = (uint32_t)b->b_len - start[p];
			done[p] = 1;
		}
		if (hs->hs_batch != b) {
			hs->hs_batch = b;
			hs->hs_head = hs->hs_tail = 0;
			hs->hs_dirty = hub->h_ndirty;
			hub->h_dirty[hub->h_ndirty++] = hs;
		} else if (hs->hs_tail != 0) {
			sg = &hub->h_segs[hs->hs_tail];
			if (sg->sg_off + sg->sg_len == start[p]) {
				sg->sg_len += len[p];
				continue;
			}
		}
		n = hub->h_nsegs++;
		sg = &hub->h_segs[n];
		sg->sg_off = start[p];
		sg->sg_len = len[p];
		sg->sg_next = 0;
		if (hs->hs_tail != 0)
			hub->h_segs[hs->hs_tail].sg_next = n;
		else
			hs->hs_head = n;
		hs->hs_tail = n;
	}
	hub->h_stats.deliveries += ch->ch_nsubs;
	return 0;
}

/* A message arrived from Redis: encode it once and hand it to its receivers. */
void
hub_message(struct hub *hub, const struct upstream_msg *msg)
{
	struct map_entry	*e;
	struct hub_chan		*ch;
	const char		*key = msg->channel;
	size_t			 keylen = msg->channellen;

	hub->h_stats.messages_in++;
	if (msg->kind == UPSTREAM_PATTERN) {
		key = msg->pattern;
		keylen = msg->patternlen;
	}
	e = map_find(&hub->h_chans[msg->kind], key, keylen);
	ch = e != NULL ? MAP_ITEM(e, struct hub_chan, ch_entry) : NULL;
	if (ch == NULL || ch->ch_nsubs == 0) {
		hub->h_stats.unrouted++;
		return;
	}
	/* The first message of a loop turn starts the batch's clock. */
	if (hub->h_batch_msgs == 0)
		hub->h_batch_t0 = hub_now_ns();
	if (hub_deliver(hub, ch, msg) == -1) {
		hub->h_stats.dropped++;
		log_warnx("out of memory: message on '%s' dropped",
		    ch->ch_name);
		return;
	}
	hub->h_batch_msgs++;
	if (!hub->h_flush_scheduled) {
		hub->h_flush_scheduled = 1;
		event_active(hub->h_flush_ev, 0, 0);
	}
}

/*
 * Hands every subscriber its segments of the current batches, then resets
 * them and the segment pool.
 */
void
hub_flush(struct hub *hub)
{
	struct hub_subscriber	*hs;
	struct hub_batch	*b;
	uint64_t		 now;
	uint32_t		 i;
	int			 p;

	hub->h_flush_scheduled = 0;
	if (hub->h_deferred) {
		evtimer_del(hub->h_defer_ev);
		hub->h_deferred = 0;
	}
	if (hub->h_ndirty > 0) {
		/* deliver() may close a client, which forgets it. */
		for (i = 0; i < hub->h_ndirty; i++) {
			if ((hs = hub->h_dirty[i]) == NULL)
				continue;
			hub_subscriber_flush(hub, hs);
			hs->hs_batch = NULL;
		}
		hub->h_ndirty = 0;
		hub->h_stats.batches++;
		hub_segs_trim(hub);
		hub->h_nsegs = 1;
	}
	if (hub->h_batch_msgs > 0) {
		/* A flush in mid-turn (a full batch) starts the next one. */
		now = hub_now_ns();
		hub_observe(hub, now - hub->h_batch_t0, hub->h_batch_msgs);
		hub->h_batch_t0 = now;
		hub->h_batch_msgs = 0;
	}
	for (p = 0; p < HUB_FORMS; p++) {
		if ((b = hub->h_batch[p]) == NULL || b->b_len == 0)
			continue;
		if (b->b_refs == 1 && b->b_cap == HUB_BATCH_SIZE)
			b->b_len = 0;		/* nobody kept it: reuse */
		else {
			hub_batch_release(NULL, 0, b);
			hub->h_batch[p] = NULL;
		}
	}
}

/*
 * The end of a loop turn that received messages: flushes, unless Redis has
 * a full read's worth more waiting and the batch is young; then the batch
 * stays open for the next turn, whose reads come before its timers
 * (libevent runs the events of one priority in the order they became
 * active).
 */
static void
hub_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	static const struct timeval	 zero = { 0, 0 };
	struct hub			*hub = arg;

	hub->h_deferred = 0;
	if (hub->h_batch_msgs > 0 &&
	    hub_now_ns() - hub->h_batch_t0 < HUB_DEFER_NS &&
	    upstream_pending(hub->h_up) >= HUB_DEFER_BYTES &&
	    evtimer_add(hub->h_defer_ev, &zero) == 0) {
		hub->h_deferred = 1;
		return;
	}
	hub_flush(hub);
}

/* The upper bound of a latency bucket. */
uint64_t
hub_latency_bound(int i, const char **text)
{
	*text = hub_latency_bounds[i].text;
	return hub_latency_bounds[i].ns;
}

/* Nanoseconds of a monotonic clock (the latency's; the others use ms). */
static uint64_t
hub_now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

/* Records n messages that took ns each to fan out. */
static void
hub_observe(struct hub *hub, uint64_t ns, uint32_t n)
{
	int	i;

	for (i = 0; i < HUB_LATENCY_BUCKETS; i++)
		if (ns <= hub_latency_bounds[i].ns)
			break;
	hub->h_stats.latency[i] += n;
	hub->h_stats.latency_count += n;
	hub->h_stats.latency_sum_ns += ns * n;
}

/* Takes a reference on a batch. */
void
hub_batch_ref(struct hub_batch *batch)
{
	batch->b_refs++;
}

/* Drops a reference on a batch (an evbuffer_ref_cleanup_cb). */
void
hub_batch_release(const void *data, size_t len, void *arg)
{
	struct hub_batch	*b = arg;

	if (--b->b_refs == 0)
		free(b);
}
