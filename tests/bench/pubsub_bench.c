/*
 * pubsub_bench.c: a pub/sub load generator, for Redis or for pubsubd.
 *
 * It opens N subscriber connections to --sub-port, subscribes connection i
 * to channel i % C, waits for every confirmation, then publishes M messages
 * round-robin over the C channels on one pipelined connection to --pub-port
 * (Redis). Each payload starts with a binary sequence number and the
 * CLOCK_MONOTONIC time it was sent; subscribers parse the RESP frames they
 * receive (frames may be split across reads) and record the end-to-end
 * latency in a log-linear histogram. It stops when every subscriber has all
 * its messages, when the timeout passes, or when nothing arrives for 5 s
 * after the last PUBLISH reply; it prints one line of key=value results. Loopback only; one event_base, no globals.
 *
 *   gcc -O2 -Wall -Wextra -Werror pubsub_bench.c -o pubsub_bench \
 *       $(pkg-config --cflags --libs libevent)
 */
#define _GNU_SOURCE

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

/* Sub-buckets per power of two in the histogram (2^HIST_SUB_BITS). */
#define HIST_SUB_BITS	5
#define HIST_BUCKETS	(64 << HIST_SUB_BITS)
/* The most PUBLISH commands waiting for their reply. */
#define PUB_WINDOW	1000
/* Bytes at the head of each payload: sequence number and send time. */
#define PAYLOAD_HEAD	16
/* Seconds without a delivery, once every PUBLISH is answered, that end it. */
#define IDLE_SECONDS	5
/* How often the timer checks the deadline and paces the publisher. */
#define TICK_USEC	2000

struct bench;

/* One subscriber connection. */
struct sub {
	struct bench		*s_bench;	/* borrowed */
	struct bufferevent	*s_bev;		/* owned */
	int			 s_index;
	int			 s_channel;
	int			 s_confirmed;	/* SUBSCRIBE confirmed */
	int			 s_dead;	/* connection lost */
	int			 s_done;	/* has all its messages */
	uint64_t		 s_expected;	/* messages it should get */
	uint64_t		 s_received;
	int64_t			 s_last_seq;	/* -1: none yet */
};

/* The whole run: options, connections, counters and histogram. */
struct bench {
	struct event_base	*b_base;	/* owned */
	struct event		*b_tick;	/* owned */
	struct sockaddr_in	 b_sub_addr;
	struct sockaddr_in	 b_pub_addr;
	int			 b_clients;
	int			 b_channels;
	uint64_t		 b_messages;
	size_t			 b_size;
	double			 b_rate;	/* messages/s, 0: unlimited */
	double			 b_timeout;	/* seconds, per phase */

	struct sub		*b_subs;	/* owned, b_clients of them */
	char			**b_chan_names;	/* owned, b_channels of them */
	char			*b_fill;	/* owned, b_size bytes */
	int			 b_phase;	/* PHASE_* */
	int			 b_failed;
	int			 b_unconfirmed;	/* subscribers not yet confirmed */
	int			 b_remaining;	/* subscribers not done nor dead */

	struct bufferevent	*b_pub;		/* owned */
	uint64_t		 b_sent;
	uint64_t		 b_replies;
	uint64_t		 b_pub_errors;

	uint64_t		 b_start_ns;	/* program start */
	uint64_t		 b_start_cpu_ns; /* CPU time used before it */
	uint64_t		 b_phase_ns;	/* start of the current phase */
	uint64_t		 b_sub_ns;	/* subscribe phase length */
	uint64_t		 b_first_pub_ns;
	uint64_t		 b_last_deliv_ns;
	uint64_t		 b_last_reply_ns;

	uint64_t		 b_delivered;
	uint64_t		 b_expected;
	uint64_t		 b_reordered;
	uint64_t		 b_max_lat_ns;
	uint64_t		 b_hist[HIST_BUCKETS];
};

#define PHASE_SUBSCRIBE	0
#define PHASE_PUBLISH	1
#define PHASE_DONE	2

static uint64_t	now_ns(void);
static void	usage(void);
static int	parse_args(struct bench *, int, char **);
static int	raise_nofile(void);
static int	hist_index(uint64_t);
static uint64_t	hist_value(int);
static uint64_t	hist_percentile(struct bench *, double);
static ssize_t	resp_line(const char *, size_t, long long *);
static ssize_t	resp_frame(const char *, size_t, const char **, size_t *,
		    const char **, size_t *);
static void	sub_read_cb(struct bufferevent *, void *);
static void	sub_event_cb(struct bufferevent *, short, void *);
static void	sub_message(struct sub *, const char *, size_t, uint64_t);
static void	sub_finish(struct sub *);
static void	pub_start(struct bench *);
static void	pub_pump(struct bench *);
static void	pub_read_cb(struct bufferevent *, void *);
static void	pub_event_cb(struct bufferevent *, short, void *);
static void	tick_cb(evutil_socket_t, short, void *);
static void	bench_stop(struct bench *);
static void	bench_report(struct bench *);
static uint64_t	cpu_ns(void);

/* Returns CLOCK_MONOTONIC in nanoseconds. */
static uint64_t
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec);
}

/* Prints the usage and exits with status 2. */
static void
usage(void)
{
	fprintf(stderr, "usage: pubsub_bench --sub-port P --pub-port R "
	    "--clients N --channels C --messages M --size S\n"
	    "                    [--rate MSGS_PER_S] [--timeout SECONDS]\n");
	exit(2);
}

/* Parses the command line into b; returns 0, or -1 on a bad argument. */
static int
parse_args(struct bench *b, int argc, char **argv)
{
	static const struct option	 opts[] = {
		{ "sub-port", required_argument, NULL, 's' },
		{ "pub-port", required_argument, NULL, 'p' },
		{ "clients", required_argument, NULL, 'n' },
		{ "channels", required_argument, NULL, 'c' },
		{ "messages", required_argument, NULL, 'm' },
		{ "size", required_argument, NULL, 'z' },
		{ "rate", required_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	long long	 v;
	double		 d;
	char		*end;
	int		 ch, sub_port = 0, pub_port = 0;

	b->b_clients = 1;
	b->b_channels = 1;
	b->b_messages = 1000;
	b->b_size = 64;
	b->b_timeout = 60;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == '?')
			return (-1);
		errno = 0;
		if (ch == 'r' || ch == 't') {
			d = strtod(optarg, &end);
			if (errno != 0 || *end != '\0' || d < 0)
				return (-1);
			if (ch == 'r')
				b->b_rate = d;
			else
				b->b_timeout = d;
			continue;
		}
		v = strtoll(optarg, &end, 10);
		if (errno != 0 || *end != '\0' || v < 0)
			return (-1);
		switch (ch) {
		case 's':
			sub_port = (int)v;
			break;
		case 'p':
			pub_port = (int)v;
			break;
		case 'n':
			b->b_clients = (int)v;
			break;
		case 'c':
			b->b_channels = (int)v;
			break;
		case 'm':
			b->b_messages = (uint64_t)v;
			break;
		case 'z':
			b->b_size = (size_t)v;
			break;
		}
	}
	if (optind != argc || sub_port <= 0 || sub_port > 65535 ||
	    pub_port <= 0 || pub_port > 65535 || b->b_clients <= 0 ||
	    b->b_clients > 1000000 || b->b_channels <= 0 ||
	    b->b_size < PAYLOAD_HEAD || b->b_size > 512 * 1024 * 1024 ||
	    b->b_timeout <= 0) {
		fprintf(stderr, "pubsub_bench: --size must be at least %d; "
		    "ports, --clients, --channels must be positive\n",
		    PAYLOAD_HEAD);
		return (-1);
	}
	b->b_sub_addr.sin_family = AF_INET;
	b->b_sub_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	b->b_sub_addr.sin_port = htons((uint16_t)sub_port);
	b->b_pub_addr = b->b_sub_addr;
	b->b_pub_addr.sin_port = htons((uint16_t)pub_port);
	return (0);
}

/* Raises RLIMIT_NOFILE to its hard limit; returns the new soft limit. */
static int
raise_nofile(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return (-1);
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		return (-1);
	return ((int)rl.rlim_cur);
}

/* Maps a latency in ns to its log-linear histogram bucket. */
static int
hist_index(uint64_t v)
{
	int	msb, shift;

	if (v < (2U << HIST_SUB_BITS))
		return ((int)v);
	msb = 63 - __builtin_clzll(v);
	shift = msb - HIST_SUB_BITS;
	return ((shift << HIST_SUB_BITS) + (int)(v >> shift));
}

/* Returns the middle of the values a histogram bucket holds, in ns. */
static uint64_t
hist_value(int idx)
{
	uint64_t	m;
	int		shift;

	if (idx < (2 << HIST_SUB_BITS))
		return ((uint64_t)idx);
	shift = (idx >> HIST_SUB_BITS) - 1;
	m = (uint64_t)((idx & ((1 << HIST_SUB_BITS) - 1)) +
	    (1 << HIST_SUB_BITS));
	return ((m << shift) + ((1ULL << shift) >> 1));
}

/* Returns the latency (ns) at fraction q of the recorded deliveries. */
static uint64_t
hist_percentile(struct bench *b, double q)
{
	uint64_t	want, seen = 0;
	int		i;

	if (b->b_delivered == 0)
		return (0);
	want = (uint64_t)(q * (double)b->b_delivered + 0.999999);
	if (want == 0)
		want = 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += b->b_hist[i];
		if (seen >= want) {
			if (hist_value(i) > b->b_max_lat_ns)
				return (b->b_max_lat_ns);
			return (hist_value(i));
		}
	}
	return (b->b_max_lat_ns);
}

/*
 * Parses one RESP header line ("*3", "$7", ":1", "-ERR ...") at p; stores
 * its number in *n and returns the bytes it takes with CRLF, 0 if the line
 * is incomplete, or -1 if it is malformed.
 */
static ssize_t
resp_line(const char *p, size_t len, long long *n)
{
	const char	*nl;
	long long	 v = 0;
	size_t		 i = 1;
	int		 neg = 0;

	if ((nl = memchr(p, '\n', len)) == NULL)
		return (len > 4096 ? -1 : 0);
	if (nl == p || nl[-1] != '\r')
		return (-1);
	if (p[0] == '-' || p[0] == '+') {
		*n = 0;
		return (nl - p + 1);
	}
	if (i < (size_t)(nl - p) && p[i] == '-') {
		neg = 1;
		i++;
	}
	for (; p + i < nl - 1; i++) {
		if (p[i] < '0' || p[i] > '9')
			return (-1);
		v = v * 10 + (p[i] - '0');
	}
	*n = neg ? -v : v;
	return (nl - p + 1);
}

/*
 * Parses one RESP frame at p: a push array of bulk strings or integers.
 * Stores its first element (the kind) and its third (the payload, or NULL)
 * and returns the bytes it takes, 0 if incomplete, -1 if malformed or an
 * error reply (*kind then points at the error line).
 */
static ssize_t
resp_frame(const char *p, size_t len, const char **kind, size_t *kind_len,
    const char **payload, size_t *payload_len)
{
	long long	 n, elems, i;
	size_t		 off = 0;
	ssize_t		 r;

	*kind = *payload = NULL;
	*kind_len = *payload_len = 0;
	if ((r = resp_line(p, len, &elems)) <= 0)
		return (r);
	if (p[0] == '-') {
		*kind = p;
		*kind_len = (size_t)r - 2;
		return (-1);
	}
	if (p[0] != '*' || elems < 1 || elems > 16)
		return (-1);
	off = (size_t)r;
	for (i = 0; i < elems; i++) {
		if ((r = resp_line(p + off, len - off, &n)) <= 0)
			return (r);
		if (p[off] == ':') {
			off += (size_t)r;
			continue;
		}
		if (p[off] != '$')
			return (-1);
		off += (size_t)r;
		if (n < 0)
			continue;
		if ((size_t)n + 2 > len - off)
			return (0);
		if (i == 0) {
			*kind = p + off;
			*kind_len = (size_t)n;
		} else if (i == elems - 1) {
			*payload = p + off;
			*payload_len = (size_t)n;
		}
		off += (size_t)n + 2;
	}
	return ((ssize_t)off);
}

/* Reads a subscriber's input: every complete frame, leaving a partial one. */
static void
sub_read_cb(struct bufferevent *bev, void *arg)
{
	struct sub	*s = arg;
	struct bench	*b = s->s_bench;
	struct evbuffer	*in = bufferevent_get_input(bev);
	const char	*p, *kind, *payload;
	size_t		 len, off = 0, kind_len, payload_len;
	ssize_t		 r;
	uint64_t	 now;

	if (s->s_dead)
		return;
	len = evbuffer_get_length(in);
	if ((p = (const char *)evbuffer_pullup(in, -1)) == NULL)
		return;
	now = now_ns();
	while (off < len) {
		r = resp_frame(p + off, len - off, &kind, &kind_len, &payload,
		    &payload_len);
		if (r == 0)
			break;
		if (r < 0) {
			fprintf(stderr, "pubsub_bench: subscriber %d: %s: %.*s\n",
			    s->s_index, kind != NULL ? "error reply" :
			    "bad frame", kind != NULL ? (int)kind_len : 0,
			    kind != NULL ? kind : "");
			sub_finish(s);
			s->s_dead = 1;
			b->b_failed = 1;
			bufferevent_disable(bev, EV_READ | EV_WRITE);
			return;
		}
		off += (size_t)r;
		if (kind_len == 7 && memcmp(kind, "message", 7) == 0)
			sub_message(s, payload, payload_len, now);
		else if (kind_len == 9 && memcmp(kind, "subscribe", 9) == 0 &&
		    !s->s_confirmed) {
			s->s_confirmed = 1;
			if (--b->b_unconfirmed == 0 &&
			    b->b_phase == PHASE_SUBSCRIBE)
				pub_start(b);
		}
	}
	evbuffer_drain(in, off);
}

/* Counts one delivered message: latency, sequence, completion. */
static void
sub_message(struct sub *s, const char *payload, size_t len, uint64_t now)
{
	struct bench	*b = s->s_bench;
	uint64_t	 seq, sent, lat;

	if (payload == NULL || len < PAYLOAD_HEAD)
		return;
	memcpy(&seq, payload, sizeof seq);
	memcpy(&sent, payload + 8, sizeof sent);
	lat = now > sent ? now - sent : 0;
	b->b_hist[hist_index(lat)]++;
	if (lat > b->b_max_lat_ns)
		b->b_max_lat_ns = lat;
	if (s->s_last_seq >= 0 && (int64_t)seq < s->s_last_seq)
		b->b_reordered++;
	s->s_last_seq = (int64_t)seq;
	b->b_delivered++;
	b->b_last_deliv_ns = now;
	if (++s->s_received >= s->s_expected)
		sub_finish(s);
}

/* Marks a subscriber finished (all messages, or lost); may end the run. */
static void
sub_finish(struct sub *s)
{
	struct bench	*b = s->s_bench;

	if (s->s_done || s->s_dead)
		return;
	s->s_done = 1;
	if (--b->b_remaining == 0 && b->b_phase == PHASE_PUBLISH)
		bench_stop(b);
}

/* Handles a subscriber's connection events: a loss ends it. */
static void
sub_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct sub	*s = arg;

	if (what & BEV_EVENT_CONNECTED) {
		evutil_socket_t	fd = bufferevent_getfd(bev);
		int		on = 1;

		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
		return;
	}
	if (s->s_dead)
		return;
	fprintf(stderr, "pubsub_bench: subscriber %d: %s\n", s->s_index,
	    (what & BEV_EVENT_EOF) ? "connection closed" :
	    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	sub_finish(s);
	s->s_dead = 1;
	s->s_bench->b_failed = 1;
	bufferevent_disable(bev, EV_READ | EV_WRITE);
	if (s->s_bench->b_phase == PHASE_SUBSCRIBE)
		bench_stop(s->s_bench);
}

/* Ends the subscribe phase and starts publishing. */
static void
pub_start(struct bench *b)
{
	uint64_t	now = now_ns();

	b->b_sub_ns = now - b->b_phase_ns;
	b->b_phase = PHASE_PUBLISH;
	b->b_phase_ns = now;
	b->b_first_pub_ns = now;
	if (b->b_remaining == 0 || b->b_messages == 0) {
		bench_stop(b);
		return;
	}
	pub_pump(b);
}

/* Sends PUBLISH commands while the window and the rate allow. */
static void
pub_pump(struct bench *b)
{
	struct evbuffer	*out;
	char		 hdr[256], head[PAYLOAD_HEAD];
	uint64_t	 limit = b->b_messages, allowed, now;
	int		 chan, n;

	if (b->b_pub == NULL || b->b_phase != PHASE_PUBLISH)
		return;
	if (b->b_rate > 0) {
		now = now_ns();
		allowed = (uint64_t)(b->b_rate * (double)(now -
		    b->b_first_pub_ns) / 1e9) + 1;
		if (allowed < limit)
			limit = allowed;
	}
	if (b->b_replies + PUB_WINDOW < limit)
		limit = b->b_replies + PUB_WINDOW;
	out = bufferevent_get_output(b->b_pub);
	while (b->b_sent < limit) {
		chan = (int)(b->b_sent % (uint64_t)b->b_channels);
		n = snprintf(hdr, sizeof hdr,
		    "*3\r\n$7\r\nPUBLISH\r\n$%zu\r\n%s\r\n$%zu\r\n",
		    strlen(b->b_chan_names[chan]), b->b_chan_names[chan],
		    b->b_size);
		now = now_ns();
		memcpy(head, &b->b_sent, 8);
		memcpy(head + 8, &now, 8);
		evbuffer_add(out, hdr, (size_t)n);
		evbuffer_add(out, head, sizeof head);
		evbuffer_add(out, b->b_fill, b->b_size - PAYLOAD_HEAD);
		evbuffer_add(out, "\r\n", 2);
		b->b_sent++;
	}
}

/* Counts the publisher's replies (one line each) and sends more. */
static void
pub_read_cb(struct bufferevent *bev, void *arg)
{
	struct bench	*b = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	const char	*p, *nl, *line;
	size_t		 len, off = 0;

	len = evbuffer_get_length(in);
	if ((p = (const char *)evbuffer_pullup(in, -1)) == NULL)
		return;
	line = p;
	while ((nl = memchr(p + off, '\n', len - off)) != NULL) {
		if (*line == '-') {
			if (b->b_pub_errors++ == 0)
				fprintf(stderr, "pubsub_bench: PUBLISH: %.*s\n",
				    (int)(nl - line), line);
		}
		b->b_replies++;
		b->b_last_reply_ns = now_ns();
		off = (size_t)(nl - p) + 1;
		line = p + off;
	}
	evbuffer_drain(in, off);
	pub_pump(b);
}

/* Handles the publisher's connection events: a loss ends the run. */
static void
pub_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct bench	*b = arg;
	int		 on = 1;

	if (what & BEV_EVENT_CONNECTED) {
		setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY,
		    &on, sizeof on);
		return;
	}
	fprintf(stderr, "pubsub_bench: publisher: %s\n",
	    (what & BEV_EVENT_EOF) ? "connection closed" :
	    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	b->b_failed = 1;
	bufferevent_disable(bev, EV_READ | EV_WRITE);
	bench_stop(b);
}

/*
 * Checks the deadline of the current phase, and the idle time once every
 * PUBLISH is answered (what has not arrived by then is lost); paces the
 * publisher.
 */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bench	*b = arg;
	uint64_t	 limit = (uint64_t)(b->b_timeout * 1e9), last, now;

	(void)fd;
	(void)what;
	if (b->b_phase == PHASE_DONE)
		return;
	if (now_ns() - b->b_phase_ns > limit) {
		fprintf(stderr, "pubsub_bench: timeout in the %s phase "
		    "(%d unconfirmed, %" PRIu64 "/%" PRIu64 " delivered)\n",
		    b->b_phase == PHASE_SUBSCRIBE ? "subscribe" : "publish",
		    b->b_unconfirmed, b->b_delivered, b->b_expected);
		b->b_failed = 1;
		bench_stop(b);
		return;
	}
	if (b->b_phase == PHASE_PUBLISH && b->b_replies >= b->b_messages) {
		now = now_ns();
		last = b->b_last_deliv_ns > b->b_last_reply_ns ?
		    b->b_last_deliv_ns : b->b_last_reply_ns;
		if (now - last > IDLE_SECONDS * 1000000000ULL) {
			fprintf(stderr, "pubsub_bench: nothing delivered for "
			    "%d s after the last PUBLISH reply (%" PRIu64 "/%"
			    PRIu64 " delivered)\n", IDLE_SECONDS,
			    b->b_delivered, b->b_expected);
			b->b_failed = 1;
			bench_stop(b);
			return;
		}
	}
	if (b->b_rate > 0)
		pub_pump(b);
}

/* Ends the run: the loop exits on its next turn. */
static void
bench_stop(struct bench *b)
{
	if (b->b_phase == PHASE_SUBSCRIBE)
		b->b_sub_ns = now_ns() - b->b_phase_ns;
	b->b_phase = PHASE_DONE;
	event_base_loopbreak(b->b_base);
}

/* Returns this process' user and system CPU time in nanoseconds. */
static uint64_t
cpu_ns(void)
{
	struct rusage	ru;

	if (getrusage(RUSAGE_SELF, &ru) == -1)
		return (0);
	return ((uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) *
	    1000000000ULL + (uint64_t)(ru.ru_utime.tv_usec +
	    ru.ru_stime.tv_usec) * 1000ULL);
}

/* Prints the one line of results. */
static void
bench_report(struct bench *b)
{
	uint64_t	wall = now_ns() - b->b_start_ns, elapsed = 0, cpu;
	double		rate = 0;

	if (b->b_last_deliv_ns > b->b_first_pub_ns && b->b_first_pub_ns != 0)
		elapsed = b->b_last_deliv_ns - b->b_first_pub_ns;
	if (elapsed > 0)
		rate = (double)b->b_delivered / ((double)elapsed / 1e9);
	cpu = cpu_ns() - b->b_start_cpu_ns;
	printf("clients=%d channels=%d messages=%" PRIu64 " size=%zu "
	    "subscribe_ms=%.1f elapsed_ms=%.1f delivered=%" PRIu64
	    " expected=%" PRIu64 " lost=%" PRIu64 " reordered=%" PRIu64
	    " msgs_per_s=%.0f p50_us=%.1f p99_us=%.1f p999_us=%.1f"
	    " max_us=%.1f gen_cpu_pct=%.0f\n",
	    b->b_clients, b->b_channels, b->b_messages, b->b_size,
	    (double)b->b_sub_ns / 1e6, (double)elapsed / 1e6, b->b_delivered,
	    b->b_expected, b->b_expected > b->b_delivered ?
	    b->b_expected - b->b_delivered : 0, b->b_reordered, rate,
	    (double)hist_percentile(b, 0.50) / 1e3,
	    (double)hist_percentile(b, 0.99) / 1e3,
	    (double)hist_percentile(b, 0.999) / 1e3,
	    (double)b->b_max_lat_ns / 1e3,
	    wall > 0 ? 100.0 * (double)cpu / (double)wall : 0);
	fflush(stdout);
}

/* Runs the benchmark; exits 0 if every message arrived, 1 otherwise. */
int
main(int argc, char **argv)
{
	struct bench	*b;
	struct sub	*s;
	struct timeval	 tick = { 0, TICK_USEC };
	char		 cmd[256];
	int		 i, n, nofile, status = 1;
	uint64_t	 c;

	if ((b = calloc(1, sizeof *b)) == NULL)
		return (1);
	if (parse_args(b, argc, argv) == -1)
		usage();
	b->b_start_ns = now_ns();
	b->b_start_cpu_ns = cpu_ns();
	nofile = raise_nofile();
	if (nofile != -1 && nofile < b->b_clients + 16)
		fprintf(stderr, "pubsub_bench: warning: RLIMIT_NOFILE is %d\n",
		    nofile);

	if ((b->b_base = event_base_new()) == NULL ||
	    (b->b_subs = calloc((size_t)b->b_clients, sizeof *b->b_subs)) ==
	    NULL || (b->b_chan_names = calloc((size_t)b->b_channels,
	    sizeof *b->b_chan_names)) == NULL ||
	    (b->b_fill = malloc(b->b_size)) == NULL) {
		fprintf(stderr, "pubsub_bench: out of memory\n");
		goto out;
	}
	memset(b->b_fill, 'x', b->b_size);
	for (i = 0; i < b->b_channels; i++) {
		if (asprintf(&b->b_chan_names[i], "bench:%d", i) == -1) {
			b->b_chan_names[i] = NULL;
			goto out;
		}
	}

	/* Subscribe phase: every connection at once, all nonblocking. */
	b->b_phase = PHASE_SUBSCRIBE;
	b->b_phase_ns = now_ns();
	b->b_unconfirmed = b->b_clients;
	b->b_remaining = b->b_clients;
	for (i = 0; i < b->b_clients; i++) {
		s = &b->b_subs[i];
		s->s_bench = b;
		s->s_index = i;
		s->s_channel = i % b->b_channels;
		s->s_last_seq = -1;
		/* Messages m with m % C == channel, m < M. */
		c = (uint64_t)s->s_channel;
		s->s_expected = b->b_messages > c ? (b->b_messages - c - 1) /
		    (uint64_t)b->b_channels + 1 : 0;
		b->b_expected += s->s_expected;
		s->s_bev = bufferevent_socket_new(b->b_base, -1,
		    BEV_OPT_CLOSE_ON_FREE);
		if (s->s_bev == NULL)
			goto out;
		bufferevent_setcb(s->s_bev, sub_read_cb, NULL, sub_event_cb, s);
		bufferevent_enable(s->s_bev, EV_READ | EV_WRITE);
		if (bufferevent_socket_connect(s->s_bev,
		    (struct sockaddr *)&b->b_sub_addr,
		    sizeof b->b_sub_addr) == -1) {
			fprintf(stderr, "pubsub_bench: subscriber %d: connect "
			    "failed\n", i);
			goto out;
		}
		n = snprintf(cmd, sizeof cmd,
		    "*2\r\n$9\r\nSUBSCRIBE\r\n$%zu\r\n%s\r\n",
		    strlen(b->b_chan_names[s->s_channel]),
		    b->b_chan_names[s->s_channel]);
		bufferevent_write(s->s_bev, cmd, (size_t)n);
	}
	for (i = 0; i < b->b_clients; i++) {
		s = &b->b_subs[i];
		if (s->s_expected == 0)
			sub_finish(s);
	}

	if ((b->b_pub = bufferevent_socket_new(b->b_base, -1,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL)
		goto out;
	bufferevent_setcb(b->b_pub, pub_read_cb, NULL, pub_event_cb, b);
	bufferevent_enable(b->b_pub, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(b->b_pub,
	    (struct sockaddr *)&b->b_pub_addr, sizeof b->b_pub_addr) == -1) {
		fprintf(stderr, "pubsub_bench: publisher: connect failed\n");
		goto out;
	}

	if ((b->b_tick = event_new(b->b_base, -1, EV_PERSIST, tick_cb, b)) ==
	    NULL || event_add(b->b_tick, &tick) == -1)
		goto out;
	event_base_dispatch(b->b_base);

	bench_report(b);
	if (!b->b_failed && b->b_delivered >= b->b_expected)
		status = 0;

out:
	if (b->b_tick != NULL)
		event_free(b->b_tick);
	if (b->b_pub != NULL)
		bufferevent_free(b->b_pub);
	if (b->b_subs != NULL) {
		for (i = 0; i < b->b_clients; i++) {
			if (b->b_subs[i].s_bev != NULL)
				bufferevent_free(b->b_subs[i].s_bev);
		}
	}
	if (b->b_chan_names != NULL) {
		for (i = 0; i < b->b_channels; i++)
			free(b->b_chan_names[i]);
	}
	free(b->b_chan_names);
	free(b->b_subs);
	free(b->b_fill);
	if (b->b_base != NULL)
		event_base_free(b->b_base);
	free(b);
	return (status);
}
