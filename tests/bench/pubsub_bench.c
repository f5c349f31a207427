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
 * after the last PUBLISH reply; it prints one line of key=value results.
 * Deliveries/s counts every message every subscriber received.
 *
 * With --procs P (P > 1) the subscribers are split over P forked receiver
 * processes, each with its own event loop, counting deliveries, loss,
 * reordering and latencies for its share; the parent only publishes, and
 * adds up what each receiver reports through a pipe (its counts and its
 * whole histogram, so the percentiles have the precision of one process'
 * histogram and the maximum is exact). One receiving process is then no
 * longer the limit. The line adds the CPU of the receivers (their sum and
 * the busiest one) and of the publisher separately. A receiver that fails
 * or reports nothing fails the run. --procs 1 (the default) is one process
 * doing both, as before.
 *
 * With --idle SECONDS it publishes nothing: it connects the N subscribers
 * all at once, times them until the last SUBSCRIBE is confirmed, lets them
 * idle SECONDS, prints its result line and "ready", and keeps them
 * connected until its standard input ends (or --timeout passes), so that a
 * script can read a server's memory with N idle subscribers. One process
 * holds at most RLIMIT_NOFILE sockets and one source address reaches one
 * server port from at most the ephemeral port range, so idle mode spreads
 * the subscribers over child processes (--procs) and over the source
 * addresses 127.0.0.1, 127.0.0.2, ... (--sources); both default to what N
 * needs here.
 *
 * With --shard PORTS the channels are shard channels (SSUBSCRIBE, SPUBLISH)
 * of a Redis Cluster: PORTS is a comma-separated list of C ports, the port
 * of the master that serves channel c's slot at place c. The publisher
 * keeps one connection to each of those masters and sends every SPUBLISH
 * to its channel's owner; the window of PUBLISH commands waiting for their
 * reply is shared. The subscribers connect to --sub-port (pubsubd), or,
 * with --sub-port owner, each to the owner of its channel, as a
 * cluster-aware client does.
 *
 * With --ws PATH the subscribers are WebSocket clients of an HTTP server
 * (pubsubd's web listener, PATH /ws; Webdis, PATH /.json): each sends the
 * upgrade request (with an Origin, which Webdis requires), then, once the
 * 101 came, its SUBSCRIBE as a masked text frame of JSON, and reads text
 * frames: one that is ["message",CHANNEL,PAYLOAD] (Webdis wraps it as
 * {"SUBSCRIBE":[...]}) is a message, one that holds "subscribe" confirms
 * it. A payload must survive JSON, so in this mode its
 * head is text: 'P', then the sequence number and the send time in 16 hex
 * digits each.
 *
 * With --server-pid PID it also reports the CPU time the server's threads
 * (and its children's: pubsubd's workers) used over the publishing phase
 * (server_cpu_ms), the handshakes and subscribes left out.
 *
 * With --tls the subscribers speak TLS (OpenSSL through libevent's
 * bufferevents; the server's certificate is not checked: loopback, a
 * measurement); the publisher stays plain, it talks to Redis.
 *
 * Loopback only; one event_base per process, no globals.
 *
 *   gcc -O2 -Wall -Wextra -Werror pubsub_bench.c -o pubsub_bench \
 *       $(pkg-config --cflags --libs libevent libevent_openssl libssl)
 */
#define _GNU_SOURCE

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <getopt.h>
#include <poll.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include <openssl/ssl.h>

/* Sub-buckets per power of two in the histogram (2^HIST_SUB_BITS). */
#define HIST_SUB_BITS	5
#define HIST_BUCKETS	(64 << HIST_SUB_BITS)
/* The most PUBLISH commands waiting for their reply. */
#define PUB_WINDOW	1000
/* Bytes at the head of each payload: sequence number and send time. */
#define PAYLOAD_HEAD	16
/* The same as text (--ws): 'P' and 2 x 16 hex digits. */
#define WS_HEAD		33
/* Seconds without a delivery, once every PUBLISH is answered, that end it. */
#define IDLE_SECONDS	5
/* How often the timer checks the deadline and paces the publisher. */
#define TICK_USEC	2000
/* Descriptors a process keeps for other things than its subscribers. */
#define FD_RESERVE	64
/* The most source addresses: 127.0.0.1 to 127.0.0.254. */
#define MAX_SOURCES	254
/* Seconds the parent waits for its receivers' reports once it stopped. */
#define DRAIN_SECONDS	10

struct bench;

/*
 * What a receiver process writes to its parent: once when all its
 * subscribers are confirmed (REPORT_CONFIRMED), and once at its end
 * (REPORT_FINAL, also instead of the first when it fails before). Both
 * processes are the same program: the struct is written as it is.
 */
struct recv_report {
	int		rr_kind;	/* REPORT_* */
	int		rr_failed;
	int		rr_unconfirmed;
	int		rr_dead;	/* subscribers lost */
	uint64_t	rr_confirm_ns;
	uint64_t	rr_cpu_ns;	/* from its confirmation to its end */
	uint64_t	rr_delivered;
	uint64_t	rr_expected;
	uint64_t	rr_reordered;
	uint64_t	rr_max_lat_ns;
	uint64_t	rr_last_deliv_ns;
	uint64_t	rr_hist[HIST_BUCKETS];
};

#define REPORT_CONFIRMED 1
#define REPORT_FINAL	2

/* The parent's view of one receiver process. */
struct recv {
	struct bench		*r_bench;	/* borrowed */
	int			 r_index;
	pid_t			 r_pid;
	int			 r_up;		/* owned: its reports */
	int			 r_down;	/* owned: 'E', then EOF: stop */
	struct event		*r_ev;		/* owned: r_up readable */
	struct evbuffer		*r_in;		/* owned: partial reports */
	int			 r_count;	/* its subscribers */
	int			 r_confirmed;
	int			 r_gone;	/* final report, or EOF */
};

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
	int			 s_ws_up;	/* --ws: the 101 came */
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
	double			 b_idle;	/* s; < 0: publish instead */
	int			 b_procs;	/* 0: as N needs (idle), 1 */
	int			 b_sources;	/* 0: as N needs */
	int			 b_total;	/* all processes' subscribers */
	int			 b_first;	/* global index of b_subs[0] */

	struct sub		*b_subs;	/* owned, b_clients of them */
	char			**b_chan_names;	/* owned, b_channels of them */
	SSL_CTX			 *b_tls;	/* owned: --tls, or NULL */
	char			*b_fill;	/* owned, b_size bytes */
	int			 b_phase;	/* PHASE_* */
	int			 b_failed;
	int			 b_unconfirmed;	/* subscribers not yet confirmed */
	int			 b_remaining;	/* subscribers not done nor dead */

	struct bufferevent	**b_pubs;	/* owned, b_npubs of them */
	int			 b_npubs;
	int			*b_chan_port;	/* owned: --shard, or NULL */
	int			*b_chan_pub;	/* owned: its index in b_pubs */
	int			 b_sub_owner;	/* --sub-port owner */
	const char		*b_ws;		/* --ws PATH, or NULL */
	uint64_t		 b_sent;
	uint64_t		 b_replies;
	uint64_t		 b_pub_errors;

	int			 b_up_fd;	/* idle child: to its parent */
	int			 b_down_fd;	/* idle child: EOF ends it */
	struct event		*b_down_ev;	/* owned */
	struct event		*b_idle_ev;	/* owned */
	int			 b_reported;
	int			 b_connected;	/* subscribers connected */
	int			 b_dropped;	/* lost while idle */
	uint64_t		 b_conn_first_ns; /* first connect() */
	uint64_t		 b_conn_last_ns; /* last connection up */
	uint64_t		 b_confirm_ns;	/* last SUBSCRIBE confirmed */
	uint64_t		 b_confirm_cpu_ns;

	uint64_t		 b_start_ns;	/* program start */
	long			 b_server_pid;	/* --server-pid, or 0 */
	uint64_t		 b_server_cpu0;	/* its CPU ns when publishing
						   began */
	uint64_t		 b_start_cpu_ns; /* CPU time used before it */
	uint64_t		 b_phase_ns;	/* start of the current phase */
	uint64_t		 b_sub_ns;	/* subscribe phase length */
	uint64_t		 b_first_pub_ns;
	uint64_t		 b_last_deliv_ns;
	uint64_t		 b_last_reply_ns;
	uint64_t		 b_last_send_ns;

	int			 b_role;	/* ROLE_* */
	struct recv		*b_recvs;	/* parent: owned, b_procs */
	int			 b_recv_confirmed; /* parent */
	int			 b_recv_gone;	/* parent */
	int			 b_pub_done;	/* receiver: told 'E' */
	int			 b_end_told;	/* parent: wrote 'E' */
	uint64_t		 b_recv_cpu_ns;	/* parent: receivers' sum */
	uint64_t		 b_recv_cpu_max_ns; /* the busiest one's */
	uint64_t		 b_recv_cpu_all_ns; /* all their run (rusage) */

	uint64_t		 b_delivered;
	uint64_t		 b_expected;
	uint64_t		 b_reordered;
	uint64_t		 b_max_lat_ns;
	uint64_t		 b_hist[HIST_BUCKETS];
};

#define PHASE_SUBSCRIBE	0
#define PHASE_PUBLISH	1
#define PHASE_IDLE	2	/* idle mode: confirmed, idling */
#define PHASE_READY	3	/* idle mode: reported, waiting for EOF */
#define PHASE_DONE	4
#define PHASE_DRAIN	5	/* parent: stopped, awaiting reports */

#define ROLE_SINGLE	0	/* subscribes and publishes (--procs 1) */
#define ROLE_RECV	1	/* a receiver process of --procs P */
#define ROLE_PUB	2	/* their parent: publishes, adds up */

static uint64_t	now_ns(void);
static void	usage(void);
static int	parse_args(struct bench *, int, char **);
static int	parse_shard(struct bench *, const char *);
static int	raise_nofile(void);
static int	sources_needed(int);
static int	subs_open(struct bench *);
static evutil_socket_t sub_socket(struct bench *, int);
static void	subscribed(struct bench *);
static uint64_t	server_cpu_ns(long);
static void	idle_start(struct bench *);
static void	idle_cb(evutil_socket_t, short, void *);
static void	down_cb(evutil_socket_t, short, void *);
static void	idle_report(struct bench *);
static int	child_setup(struct bench *, int, int, int, int);
static int	idle_child(struct bench *, int, int, int, int);
static int	idle_main(struct bench *);
static void	bench_free(struct bench *);
static int	hist_index(uint64_t);
static uint64_t	hist_value(int);
static uint64_t	hist_percentile(struct bench *, double);
static ssize_t	resp_line(const char *, size_t, long long *);
static ssize_t	resp_frame(const char *, size_t, const char **, size_t *,
		    const char **, size_t *);
static void	sub_read_cb(struct bufferevent *, void *);
static void	sub_ws_read(struct sub *, struct bufferevent *);
static void	sub_confirmed(struct sub *);
static void	sub_event_cb(struct bufferevent *, short, void *);
static void	sub_message(struct sub *, const char *, size_t, uint64_t);
static void	sub_finish(struct sub *);
static int	pub_connect(struct bench *);
static void	phase_publish(struct bench *);
static void	pub_start(struct bench *);
static void	pub_pump(struct bench *);
static void	pub_read_cb(struct bufferevent *, void *);
static void	pub_event_cb(struct bufferevent *, short, void *);
static void	tick_cb(evutil_socket_t, short, void *);
static void	bench_stop(struct bench *);
static void	bench_report(struct bench *);
static uint64_t	cpu_ns(void);
static void	recv_confirmed(struct bench *);
static void	recv_report(struct bench *, int);
static int	flow_child(struct bench *, int, int, int, int);
static int	flow_main(struct bench *);
static void	flow_read_cb(evutil_socket_t, short, void *);
static void	flow_report(struct bench *, struct recv *,
		    const struct recv_report *);
static void	flow_gone(struct bench *, struct recv *);
static void	flow_tell_end(struct bench *);
static void	flow_stop_recvs(struct bench *);
static int	flow_reap(struct bench *);
static int	write_all(int, const void *, size_t);

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
	    "                    [--rate MSGS_PER_S] [--timeout SECONDS] "
	    "[--procs P] [--sources K] [--tls]\n"
	    "                    [--shard PORT,PORT,... (one per channel)] "
	    "[--sub-port owner] [--ws PATH] [--server-pid PID]\n"
	    "       pubsub_bench --sub-port P --clients N --channels C "
	    "--idle SECONDS\n"
	    "                    [--timeout SECONDS] [--procs P] "
	    "[--sources K]\n");
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
		{ "idle", required_argument, NULL, 'i' },
		{ "procs", required_argument, NULL, 'P' },
		{ "sources", required_argument, NULL, 'S' },
		{ "tls", no_argument, NULL, 'T' },
		{ "shard", required_argument, NULL, 'H' },
		{ "ws", required_argument, NULL, 'W' },
		{ "server-pid", required_argument, NULL, 'X' },
		{ NULL, 0, NULL, 0 }
	};
	long long	 v;
	double		 d;
	char		*end;
	const char	*shard = NULL;
	int		 ch, sub_port = 0, pub_port = 0;

	b->b_clients = 1;
	b->b_channels = 1;
	b->b_messages = 1000;
	b->b_size = 64;
	b->b_timeout = 60;
	b->b_idle = -1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == '?')
			return (-1);
		if (ch == 'T') {
			if (b->b_tls == NULL &&
			    (b->b_tls = SSL_CTX_new(TLS_client_method())) ==
			    NULL)
				return (-1);
			continue;
		}
		if (ch == 'H') {
			shard = optarg;
			continue;
		}
		if (ch == 'W') {
			b->b_ws = optarg;
			continue;
		}
		if (ch == 'X') {
			b->b_server_pid = strtol(optarg, NULL, 10);
			continue;
		}
		if (ch == 's' && strcmp(optarg, "owner") == 0) {
			b->b_sub_owner = 1;
			sub_port = 1;	/* checked below, not used */
			continue;
		}
		errno = 0;
		if (ch == 'r' || ch == 't' || ch == 'i') {
			d = strtod(optarg, &end);
			if (errno != 0 || *end != '\0' || d < 0 || d > 1e7)
				return (-1);
			if (ch == 'r')
				b->b_rate = d;
			else if (ch == 't')
				b->b_timeout = d;
			else
				b->b_idle = d;
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
		case 'P':
			b->b_procs = (int)v;
			break;
		case 'S':
			b->b_sources = (int)v;
			break;
		}
	}
	if (b->b_idle >= 0 && pub_port == 0)
		pub_port = sub_port;	/* idle mode publishes nothing */
	if (optind != argc || sub_port <= 0 || sub_port > 65535 ||
	    pub_port <= 0 || pub_port > 65535 || b->b_clients <= 0 ||
	    b->b_clients > 1000000 || b->b_channels <= 0 ||
	    b->b_channels > 1000000 ||
	    b->b_size < (b->b_ws != NULL ? WS_HEAD : PAYLOAD_HEAD) ||
	    b->b_size > 512 * 1024 * 1024 ||
	    b->b_timeout <= 0 || b->b_procs > 1000 ||
	    b->b_sources > MAX_SOURCES) {
		fprintf(stderr, "pubsub_bench: --size must be at least %d; "
		    "ports, --clients, --channels must be positive; at most "
		    "%d --sources and 1000 --procs\n", PAYLOAD_HEAD,
		    MAX_SOURCES);
		return (-1);
	}
	if ((b->b_sub_owner && shard == NULL) ||
	    (shard != NULL && parse_shard(b, shard) == -1)) {
		fprintf(stderr, "pubsub_bench: --shard takes one port per "
		    "channel, comma-separated (--sub-port owner needs it)\n");
		return (-1);
	}
	b->b_total = b->b_clients;
	b->b_sub_addr.sin_family = AF_INET;
	b->b_sub_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	b->b_sub_addr.sin_port = htons((uint16_t)sub_port);
	b->b_pub_addr = b->b_sub_addr;
	b->b_pub_addr.sin_port = htons((uint16_t)pub_port);
	return (0);
}

/*
 * Parses --shard's list into b_chan_port (one port per channel) and gives
 * each distinct port a publisher connection (b_chan_pub); 0, or -1 if the
 * list is malformed, not one per channel, or memory runs out.
 */
static int
parse_shard(struct bench *b, const char *list)
{
	const char	*p = list;
	char		*end;
	long		 v;
	int		 c, j;

	if ((b->b_chan_port = calloc((size_t)b->b_channels, sizeof(int))) ==
	    NULL || (b->b_chan_pub = calloc((size_t)b->b_channels,
	    sizeof(int))) == NULL)
		return (-1);
	for (c = 0; c < b->b_channels; c++) {
		errno = 0;
		v = strtol(p, &end, 10);
		if (errno != 0 || end == p || v <= 0 || v > 65535 ||
		    (*end != ',' && *end != '\0') ||
		    (*end == '\0') != (c == b->b_channels - 1))
			return (-1);
		b->b_chan_port[c] = (int)v;
		p = end + 1;
		for (j = 0; j < c && b->b_chan_port[j] != (int)v; j++)
			;
		b->b_chan_pub[c] = j < c ? b->b_chan_pub[j] : b->b_npubs++;
	}
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

/*
 * Returns how many source addresses n connections to one server port take:
 * each reaches it from a quarter of the ephemeral port range at most. The
 * kernel looks for a free port by trying them in turn: 100,000 connections
 * from 4 addresses, each range nearly full, took 44 s to connect here, from
 * 25 addresses 4.1 s.
 */
static int
sources_needed(int n)
{
	FILE	*f;
	int	 lo = 32768, hi = 60999, per;

	if ((f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) !=
	    NULL) {
		if (fscanf(f, "%d %d", &lo, &hi) != 2 || hi < lo) {
			lo = 32768;
			hi = 60999;
		}
		fclose(f);
	}
	per = (hi - lo + 1) / 4;
	if (per < 1000)
		per = 1000;
	return ((n + per - 1) / per);
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

/* A subscriber is confirmed: the run goes on once every one is. */
static void
sub_confirmed(struct sub *s)
{
	struct bench	*b = s->s_bench;

	if (s->s_confirmed)
		return;
	s->s_confirmed = 1;
	if (--b->b_unconfirmed == 0 && b->b_phase == PHASE_SUBSCRIBE)
		subscribed(b);
}

/* Sends a masked text frame (mask key 0: the bytes as they are). */
static void
sub_ws_send(struct bufferevent *bev, const char *text, size_t len)
{
	unsigned char	hdr[14];
	size_t		n = 2;

	hdr[0] = 0x81;
	if (len < 126)
		hdr[1] = (unsigned char)(0x80 | len);
	else {
		hdr[1] = 0x80 | 126;
		hdr[2] = (unsigned char)(len >> 8);
		hdr[3] = (unsigned char)len;
		n = 4;
	}
	memset(hdr + n, 0, 4);
	bufferevent_write(bev, hdr, n + 4);
	bufferevent_write(bev, text, len);
}

/*
 * Where a message's payload starts in a JSON text frame of channel CHAN,
 * or NULL: pubsubd sends ["message","CHAN","P..."], Webdis the same array
 * as {"SUBSCRIBE":[...]}. Found at a known place, not searched for: the
 * receivers are the instrument, and scanning every frame made them, not
 * the server, the limit.
 */
static const char *
ws_message_payload(const char *d, size_t len, const char *chan)
{
	static const char	webdis[] = "{\"SUBSCRIBE\":[";
	static const char	kind[] = "\"message\",\"";
	size_t			at, clen = strlen(chan);

	if (len > 0 && d[0] == '[')
		at = 1;
	else if (len >= sizeof webdis - 1 &&
	    memcmp(d, webdis, sizeof webdis - 1) == 0)
		at = sizeof webdis - 1;
	else
		return NULL;
	if (len < at + sizeof kind - 1 + clen + 3 + WS_HEAD ||
	    memcmp(d + at, kind, sizeof kind - 1) != 0)
		return NULL;
	at += sizeof kind - 1;
	if (memcmp(d + at, chan, clen) != 0 ||
	    memcmp(d + at + clen, "\",\"P", 4) != 0)
		return NULL;
	return d + at + clen + 3;
}

/* The value of 16 hex digits (lower or upper case; others count as 0). */
static uint64_t
hex16(const char *p)
{
	uint64_t	v = 0;
	int		i, c;

	for (i = 0; i < 16; i++) {
		c = (unsigned char)p[i];
		if (c >= '0' && c <= '9')
			c -= '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			c = (c | 0x20) - 'a' + 10;
		else
			c = 0;
		v = v << 4 | (uint64_t)c;
	}
	return v;
}

/*
 * --ws: the 101 (then the SUBSCRIBE goes), then whole frames: text ones
 * carry a message (ws_message_payload()) or confirm.
 */
static void
sub_ws_read(struct sub *s, struct bufferevent *bev)
{
	struct bench		*b = s->s_bench;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer_ptr	 end;
	const unsigned char	*p;
	const char		*d, *m, *chan = b->b_chan_names[s->s_channel];
	char			 cmd[256];
	size_t			 len, off = 0, hlen, plen, i;
	uint64_t		 now = now_ns();
	int			 n;

	if (!s->s_ws_up) {
		end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
		if (end.pos == -1)
			return;
		s->s_ws_up = 1;
		evbuffer_drain(in, (size_t)end.pos + 4);
		n = snprintf(cmd, sizeof cmd, "[\"SUBSCRIBE\",\"%s\"]", chan);
		sub_ws_send(bev, cmd, (size_t)n);
	}
	len = evbuffer_get_length(in);
	if (len == 0 || (p = evbuffer_pullup(in, -1)) == NULL)
		return;
	while (len - off >= 2) {
		plen = p[off + 1] & 0x7f;
		hlen = 2;
		if (plen == 126) {
			if (len - off < 4)
				break;
			plen = (size_t)p[off + 2] << 8 | p[off + 3];
			hlen = 4;
		} else if (plen == 127) {
			if (len - off < 10)
				break;
			for (plen = 0, i = 0; i < 8; i++)
				plen = plen << 8 | p[off + 2 + i];
			hlen = 10;
		}
		if (len - off < hlen + plen)
			break;
		d = (const char *)p + off + hlen;
		if ((p[off] & 0x0f) == 1) {
			if ((m = ws_message_payload(d, plen, chan)) != NULL)
				sub_message(s, m, plen - (size_t)(m - d), now);
			else if (memmem(d, plen, "subscribe\"", 10) != NULL)
				sub_confirmed(s);
		}
		off += hlen + plen;
	}
	evbuffer_drain(in, off);
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
	if (b->b_ws != NULL) {
		sub_ws_read(s, bev);
		return;
	}
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
			/* Only the first few, and short: N would hide it. */
			if (kind_len > 120)
				kind_len = 120;
			if (b->b_failed + b->b_dropped < 5)
				fprintf(stderr, "pubsub_bench: subscriber %d: "
				    "%s: %.*s\n", s->s_index, kind != NULL ?
				    "error reply" : "bad frame", kind != NULL ?
				    (int)kind_len : 0,
				    kind != NULL ? kind : "");
			sub_finish(s);
			s->s_dead = 1;
			b->b_failed++;
			bufferevent_disable(bev, EV_READ | EV_WRITE);
			if (b->b_phase == PHASE_SUBSCRIBE)
				bench_stop(b);
			return;
		}
		off += (size_t)r;
		if ((kind_len == 7 && memcmp(kind, "message", 7) == 0) ||
		    (kind_len == 8 && memcmp(kind, "smessage", 8) == 0))
			sub_message(s, payload, payload_len, now);
		else if (((kind_len == 9 && memcmp(kind, "subscribe", 9) ==
		    0) || (kind_len == 10 && memcmp(kind, "ssubscribe", 10) ==
		    0)) && !s->s_confirmed) {
			s->s_confirmed = 1;
			if (--b->b_unconfirmed == 0 &&
			    b->b_phase == PHASE_SUBSCRIBE)
				subscribed(b);
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

	if (b->b_ws != NULL) {
		if (payload == NULL || len < WS_HEAD || payload[0] != 'P')
			return;
		seq = hex16(payload + 1);
		sent = hex16(payload + 17);
	} else {
		if (payload == NULL || len < PAYLOAD_HEAD)
			return;
		memcpy(&seq, payload, sizeof seq);
		memcpy(&sent, payload + 8, sizeof sent);
	}
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

/*
 * Handles a subscriber's connection events: a loss while subscribing ends
 * the run; one while idle is counted (the others stay connected).
 */
static void
sub_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct sub	*s = arg;
	struct bench	*b = s->s_bench;

	if (what & BEV_EVENT_CONNECTED) {
		evutil_socket_t	fd = bufferevent_getfd(bev);
		int		on = 1;

		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
		b->b_connected++;
		b->b_conn_last_ns = now_ns();
		return;
	}
	if (s->s_dead)
		return;
	/* Only the first few: 10000 lines would hide the cause. */
	if (b->b_failed + b->b_dropped < 5)
		fprintf(stderr, "pubsub_bench: subscriber %d: %s\n",
		    s->s_index, (what & BEV_EVENT_EOF) ? "connection closed" :
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	sub_finish(s);
	s->s_dead = 1;
	bufferevent_disable(bev, EV_READ | EV_WRITE);
	if (b->b_phase == PHASE_IDLE || b->b_phase == PHASE_READY) {
		b->b_dropped++;
		return;
	}
	b->b_failed++;
	if (b->b_phase == PHASE_SUBSCRIBE)
		bench_stop(b);
}

/* Every SUBSCRIBE is confirmed: publish, or idle in idle mode. */
static void
subscribed(struct bench *b)
{
	b->b_confirm_ns = now_ns();
	b->b_confirm_cpu_ns = cpu_ns();
	if (b->b_server_pid > 0 && b->b_role != ROLE_RECV)
		b->b_server_cpu0 = server_cpu_ns(b->b_server_pid);
	if (b->b_idle >= 0)
		idle_start(b);
	else if (b->b_role == ROLE_RECV)
		recv_confirmed(b);
	else
		pub_start(b);
}

/*
 * Connects the publisher to Redis (with --shard, to each owner) and starts
 * the progress tick; -1 (said on stderr if not for lack of memory) if it
 * cannot.
 */
static int
pub_connect(struct bench *b)
{
	struct timeval		tick = { 0, TICK_USEC };
	struct sockaddr_in	sin = b->b_pub_addr;
	int			i, c;

	if (b->b_npubs == 0)
		b->b_npubs = 1;
	if ((b->b_pubs = calloc((size_t)b->b_npubs, sizeof *b->b_pubs)) ==
	    NULL)
		return -1;
	for (i = 0; i < b->b_npubs; i++) {
		for (c = 0; b->b_chan_port != NULL && b->b_chan_pub[c] != i;
		    c++)
			;
		if (b->b_chan_port != NULL)
			sin.sin_port = htons((uint16_t)b->b_chan_port[c]);
		if ((b->b_pubs[i] = bufferevent_socket_new(b->b_base, -1,
		    BEV_OPT_CLOSE_ON_FREE)) == NULL)
			return -1;
		bufferevent_setcb(b->b_pubs[i], pub_read_cb, NULL,
		    pub_event_cb, b);
		bufferevent_enable(b->b_pubs[i], EV_READ | EV_WRITE);
		if (bufferevent_socket_connect(b->b_pubs[i],
		    (struct sockaddr *)&sin, sizeof sin) == -1) {
			fprintf(stderr, "pubsub_bench: publisher: connect to "
			    "port %d failed\n", ntohs(sin.sin_port));
			return -1;
		}
	}
	if ((b->b_tick = event_new(b->b_base, -1, EV_PERSIST, tick_cb, b)) ==
	    NULL || event_add(b->b_tick, &tick) == -1)
		return -1;
	return 0;
}

/* Ends the subscribe phase (timing it) and starts the publish phase's clock. */
static void
phase_publish(struct bench *b)
{
	uint64_t	now = now_ns();

	b->b_sub_ns = now - b->b_phase_ns;
	b->b_phase = PHASE_PUBLISH;
	b->b_phase_ns = now;
	b->b_first_pub_ns = now;
}

/* Ends the subscribe phase and starts publishing. */
static void
pub_start(struct bench *b)
{
	phase_publish(b);
	if (b->b_role == ROLE_PUB) {
		/* The receivers end once they have it all, or are told. */
		if (b->b_messages == 0)
			flow_tell_end(b);
		pub_pump(b);
		return;
	}
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
	char		 hdr[256], head[PAYLOAD_HEAD], wshead[WS_HEAD + 1];
	uint64_t	 limit = b->b_messages, allowed, now;
	int		 chan, n;

	if (b->b_pubs == NULL || b->b_phase != PHASE_PUBLISH)
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
	while (b->b_sent < limit) {
		chan = (int)(b->b_sent % (uint64_t)b->b_channels);
		out = bufferevent_get_output(b->b_pubs[b->b_chan_port ==
		    NULL ? 0 : b->b_chan_pub[chan]]);
		n = snprintf(hdr, sizeof hdr,
		    "*3\r\n$%d\r\n%s\r\n$%zu\r\n%s\r\n$%zu\r\n",
		    b->b_chan_port == NULL ? 7 : 8, b->b_chan_port == NULL ?
		    "PUBLISH" : "SPUBLISH", strlen(b->b_chan_names[chan]),
		    b->b_chan_names[chan], b->b_size);
		now = now_ns();
		evbuffer_add(out, hdr, (size_t)n);
		if (b->b_ws != NULL) {
			snprintf(wshead, sizeof wshead, "P%016" PRIx64 "%016"
			    PRIx64, b->b_sent, now);
			evbuffer_add(out, wshead, WS_HEAD);
			evbuffer_add(out, b->b_fill, b->b_size - WS_HEAD);
		} else {
			memcpy(head, &b->b_sent, 8);
			memcpy(head + 8, &now, 8);
			evbuffer_add(out, head, sizeof head);
			evbuffer_add(out, b->b_fill, b->b_size -
			    PAYLOAD_HEAD);
		}
		evbuffer_add(out, "\r\n", 2);
		b->b_sent++;
		b->b_last_send_ns = now;
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
	if (b->b_role == ROLE_PUB && b->b_replies >= b->b_messages)
		flow_tell_end(b);
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
	int		 pub_done;

	(void)fd;
	(void)what;
	/* An idle child waits for its parent, which has a deadline. */
	if (b->b_phase == PHASE_DONE || b->b_phase == PHASE_IDLE ||
	    b->b_phase == PHASE_READY)
		return;
	if (b->b_phase == PHASE_DRAIN) {
		if (now_ns() - b->b_phase_ns > DRAIN_SECONDS * 1000000000ULL) {
			fprintf(stderr, "pubsub_bench: %d receivers did not "
			    "report within %d s of the stop\n", b->b_procs -
			    b->b_recv_gone, DRAIN_SECONDS);
			b->b_failed = 1;
			b->b_phase = PHASE_DONE;
			event_base_loopbreak(b->b_base);
		}
		return;
	}
	/*
	 * A receiver's publish phase began before its parent's, which
	 * stops it on time; this only bounds it if the parent hangs.
	 */
	if (b->b_role == ROLE_RECV && b->b_phase == PHASE_PUBLISH)
		limit = limit * 2 + (IDLE_SECONDS + DRAIN_SECONDS) *
		    1000000000ULL;
	if (now_ns() - b->b_phase_ns > limit) {
		if (b->b_role == ROLE_PUB)
			fprintf(stderr, "pubsub_bench: timeout in the %s phase "
			    "(%d unconfirmed, %" PRIu64 "/%" PRIu64 " PUBLISH "
			    "answered)\n", b->b_phase == PHASE_SUBSCRIBE ?
			    "subscribe" : "publish", b->b_unconfirmed,
			    b->b_replies, b->b_messages);
		else
			fprintf(stderr, "pubsub_bench: timeout in the %s phase "
			    "(%d unconfirmed, %" PRIu64 "/%" PRIu64
			    " delivered)\n", b->b_phase == PHASE_SUBSCRIBE ?
			    "subscribe" : "publish", b->b_unconfirmed,
			    b->b_delivered, b->b_expected);
		b->b_failed = 1;
		bench_stop(b);
		return;
	}
	/* The parent leaves loss to the receivers, which see deliveries. */
	if (b->b_role == ROLE_RECV)
		pub_done = b->b_pub_done;
	else
		pub_done = b->b_role == ROLE_SINGLE &&
		    b->b_replies >= b->b_messages;
	if (b->b_phase == PHASE_PUBLISH && pub_done) {
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
	if (b->b_role == ROLE_PUB && b->b_phase != PHASE_DONE) {
		/* Their reports still count: stop them, then wait for them. */
		if (b->b_phase != PHASE_DRAIN) {
			b->b_phase = PHASE_DRAIN;
			b->b_phase_ns = now_ns();
			flow_stop_recvs(b);
		}
		if (b->b_recv_gone < b->b_procs)
			return;
	}
	b->b_phase = PHASE_DONE;
	event_base_loopbreak(b->b_base);
}

/*
 * The CPU time, in ns, the threads of process pid and of its children
 * (pubsubd's workers under their supervisor) have used so far: the first
 * field of each /proc/P/task/T/schedstat; 0 if unreadable. depth bounds
 * the descent (1: pid and its children).
 */
static uint64_t
server_cpu_ns_at(long pid, int depth)
{
	char		 path[80];
	DIR		*d;
	struct dirent	*e;
	FILE		*f;
	uint64_t	 sum = 0;
	unsigned long long v;
	long		 child;

	snprintf(path, sizeof path, "/proc/%ld/task", pid);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/proc/%ld/task/%.20s/schedstat",
		    pid, e->d_name);
		if ((f = fopen(path, "r")) != NULL) {
			if (fscanf(f, "%llu", &v) == 1)
				sum += v;
			fclose(f);
		}
		if (depth <= 0)
			continue;
		snprintf(path, sizeof path, "/proc/%ld/task/%.20s/children",
		    pid, e->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		while (fscanf(f, "%ld", &child) == 1)
			sum += server_cpu_ns_at(child, depth - 1);
		fclose(f);
	}
	closedir(d);
	return sum;
}

static uint64_t
server_cpu_ns(long pid)
{
	return server_cpu_ns_at(pid, 1);
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

/*
 * Prints the one line of results. Deliveries/s is every message every
 * subscriber received, over first PUBLISH to last delivery; the generator's
 * CPU share is over that publishing phase.
 */
static void
bench_report(struct bench *b)
{
	uint64_t	now = now_ns(), elapsed = 0, pub = 0, cpu = 0, span = 0;
	double		rate = 0, pub_rate = 0;
	char		split[320] = "";

	if (b->b_last_deliv_ns > b->b_first_pub_ns && b->b_first_pub_ns != 0)
		elapsed = b->b_last_deliv_ns - b->b_first_pub_ns;
	if (elapsed > 0)
		rate = (double)b->b_delivered / ((double)elapsed / 1e9);
	if (b->b_sent > 1 && b->b_last_send_ns > b->b_first_pub_ns) {
		pub = b->b_last_send_ns - b->b_first_pub_ns;
		pub_rate = (double)(b->b_sent - 1) / ((double)pub / 1e9);
	}
	if (b->b_first_pub_ns != 0) {
		cpu = cpu_ns() - b->b_confirm_cpu_ns;
		span = now > b->b_first_pub_ns ? now - b->b_first_pub_ns : 0;
	}
	if (b->b_role == ROLE_PUB && span > 0) {
		/* % of one core over the publishing phase, as gen_cpu_pct. */
		snprintf(split, sizeof split, " pub_cpu_pct=%.0f "
		    "recv_cpu_pct=%.0f recv_max_cpu_pct=%.0f "
		    "recv_cpu_all_ms=%.0f",
		    100.0 * (double)cpu / (double)span,
		    100.0 * (double)b->b_recv_cpu_ns / (double)span,
		    100.0 * (double)b->b_recv_cpu_max_ns / (double)span,
		    (double)b->b_recv_cpu_all_ns / 1e6);
		cpu += b->b_recv_cpu_ns;
	}
	if (b->b_server_pid > 0 && b->b_role != ROLE_RECV &&
	    b->b_server_cpu0 != 0) {
		size_t	n = strlen(split);

		/* Over the publishing phase (and the drain), as elapsed. */
		snprintf(split + n, sizeof split - n, " server_cpu_ms=%.1f",
		    (double)(server_cpu_ns(b->b_server_pid) -
		    b->b_server_cpu0) / 1e6);
	}
	printf("clients=%d channels=%d messages=%" PRIu64 " size=%zu "
	    "rate=%.0f sources=%d subscribe_ms=%.1f elapsed_ms=%.1f "
	    "delivered=%" PRIu64 " expected=%" PRIu64 " lost=%" PRIu64
	    " reordered=%" PRIu64 " deliveries_per_s=%.0f pub_per_s=%.0f"
	    " p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f"
	    " procs=%d gen_cpu_pct=%.0f%s\n",
	    b->b_total, b->b_channels, b->b_messages, b->b_size, b->b_rate,
	    b->b_sources, (double)b->b_sub_ns / 1e6, (double)elapsed / 1e6,
	    b->b_delivered, b->b_expected, b->b_expected > b->b_delivered ?
	    b->b_expected - b->b_delivered : 0, b->b_reordered, rate, pub_rate,
	    (double)hist_percentile(b, 0.50) / 1e3,
	    (double)hist_percentile(b, 0.99) / 1e3,
	    (double)hist_percentile(b, 0.999) / 1e3,
	    (double)b->b_max_lat_ns / 1e3, b->b_role == ROLE_PUB ?
	    b->b_procs : 1,
	    span > 0 ? 100.0 * (double)cpu / (double)span : 0, split);
	fflush(stdout);
}

/*
 * Makes the socket of subscriber gi (a global index): bound to its source
 * address when there are several, the port left to connect(), which only
 * needs the 4-tuple to be unique. Returns -1 to let libevent make one, or
 * -2 on failure.
 */
static evutil_socket_t
sub_socket(struct bench *b, int gi)
{
	struct sockaddr_in	sin;
	int			fd, on = 1;

	if (b->b_sources <= 1)
		return (-1);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		fprintf(stderr, "pubsub_bench: socket: %s\n", strerror(errno));
		return (-2);
	}
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK +
	    (uint32_t)(gi % b->b_sources));
	if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on,
	    sizeof on) == -1 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof sin) == -1) {
		fprintf(stderr, "pubsub_bench: bind %s: %s\n",
		    inet_ntoa(sin.sin_addr), strerror(errno));
		close(fd);
		return (-2);
	}
	return (fd);
}

/*
 * Opens b_clients subscriber connections at once, all nonblocking, each
 * with its SUBSCRIBE queued; subscriber i (global index b_first + i) takes
 * channel (b_first + i) % C. Returns 0, or -1 on failure.
 */
static int
subs_open(struct bench *b)
{
	struct sockaddr_in sin;
	struct sub	*s;
	evutil_socket_t	 fd;
	char		 cmd[256];
	uint64_t	 c;
	int		 i, n;

	b->b_phase = PHASE_SUBSCRIBE;
	b->b_phase_ns = b->b_conn_first_ns = now_ns();
	b->b_unconfirmed = b->b_clients;
	b->b_remaining = b->b_clients;
	for (i = 0; i < b->b_clients; i++) {
		s = &b->b_subs[i];
		s->s_bench = b;
		s->s_index = b->b_first + i;
		s->s_channel = s->s_index % b->b_channels;
		s->s_last_seq = -1;
		/* Messages m with m % C == channel, m < M. */
		c = (uint64_t)s->s_channel;
		s->s_expected = b->b_messages > c ? (b->b_messages - c - 1) /
		    (uint64_t)b->b_channels + 1 : 0;
		b->b_expected += s->s_expected;
		if ((fd = sub_socket(b, s->s_index)) == -2)
			return (-1);
		if (b->b_tls != NULL) {
			SSL	*ssl = SSL_new(b->b_tls);

			/* Connected by bufferevent_socket_connect() below. */
			s->s_bev = ssl == NULL ? NULL :
			    bufferevent_openssl_socket_new(b->b_base, fd, ssl,
			    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
			if (s->s_bev == NULL)
				SSL_free(ssl);
			else
				bufferevent_openssl_set_allow_dirty_shutdown(
				    s->s_bev, 1);
		} else
			s->s_bev = bufferevent_socket_new(b->b_base, fd,
			    BEV_OPT_CLOSE_ON_FREE);
		if (s->s_bev == NULL) {
			if (fd >= 0)
				close(fd);
			fprintf(stderr, "pubsub_bench: out of memory\n");
			return (-1);
		}
		bufferevent_setcb(s->s_bev, sub_read_cb, NULL, sub_event_cb, s);
		bufferevent_enable(s->s_bev, EV_READ | EV_WRITE);
		sin = b->b_sub_addr;
		if (b->b_sub_owner)
			sin.sin_port = htons((uint16_t)
			    b->b_chan_port[s->s_channel]);
		if (bufferevent_socket_connect(s->s_bev,
		    (struct sockaddr *)&sin, sizeof sin) == -1) {
			fprintf(stderr, "pubsub_bench: subscriber %d: connect "
			    "failed: %s\n", s->s_index, strerror(errno));
			return (-1);
		}
		if (b->b_ws != NULL)
			/* The SUBSCRIBE follows the 101 (sub_ws_read()). */
			n = snprintf(cmd, sizeof cmd, "GET %s HTTP/1.1\r\n"
			    "Host: 127.0.0.1\r\nUpgrade: websocket\r\n"
			    "Connection: Upgrade\r\nOrigin: http://127.0.0.1"
			    "\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			    "Sec-WebSocket-Version: 13\r\n\r\n", b->b_ws);
		else
			n = snprintf(cmd, sizeof cmd,
			    "*2\r\n$%d\r\n%s\r\n$%zu\r\n%s\r\n",
			    b->b_chan_port == NULL ? 9 : 10,
			    b->b_chan_port == NULL ? "SUBSCRIBE" : "SSUBSCRIBE",
			    strlen(b->b_chan_names[s->s_channel]),
			    b->b_chan_names[s->s_channel]);
		bufferevent_write(s->s_bev, cmd, (size_t)n);
	}
	if (b->b_idle >= 0)
		return (0);
	for (i = 0; i < b->b_clients; i++) {
		s = &b->b_subs[i];
		if (s->s_expected == 0)
			sub_finish(s);
	}
	return (0);
}

/* Idle mode: every SUBSCRIBE is confirmed; idles b_idle seconds. */
static void
idle_start(struct bench *b)
{
	struct timeval	tv;

	b->b_sub_ns = b->b_confirm_ns - b->b_phase_ns;
	b->b_phase = PHASE_IDLE;
	tv.tv_sec = (time_t)b->b_idle;
	tv.tv_usec = (suseconds_t)((b->b_idle - (double)tv.tv_sec) * 1e6);
	if (event_add(b->b_idle_ev, &tv) == -1) {
		b->b_failed++;
		bench_stop(b);
	}
}

/* Idle mode: the idle time is over; reports, then waits for EOF. */
static void
idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bench	*b = arg;

	(void)fd;
	(void)what;
	if (b->b_phase != PHASE_IDLE)
		return;
	b->b_phase = PHASE_READY;
	b->b_phase_ns = now_ns();
	idle_report(b);
}

/* Idle child: the parent closed its end (or died): the child ends. */
static void
down_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bench	*b = arg;
	char		 buf[64];
	ssize_t		 n;

	(void)what;
	n = read(fd, buf, sizeof buf);
	if (n > 0 && b->b_role == ROLE_RECV && memchr(buf, 'E', (size_t)n) !=
	    NULL && !b->b_pub_done) {
		/* Every PUBLISH is answered: the idle rule starts now. */
		b->b_pub_done = 1;
		b->b_last_reply_ns = now_ns();
	}
	if (n > 0 || (n == -1 && (errno == EAGAIN || errno == EINTR)))
		return;
	if (b->b_role == ROLE_RECV) {
		/* The parent stopped (its deadline, or a failure). */
		if (b->b_phase != PHASE_DONE) {
			if (b->b_phase == PHASE_SUBSCRIBE)
				b->b_failed++;
			bench_stop(b);
		}
		return;
	}
	if (b->b_phase != PHASE_READY && b->b_phase != PHASE_DONE) {
		fprintf(stderr, "pubsub_bench: told to stop before ready\n");
		b->b_failed++;
	}
	bench_stop(b);
}

/*
 * Idle child: writes its one line for the parent (once): whether it
 * succeeded, its times on the shared CLOCK_MONOTONIC, its CPU time up to
 * the last confirmation, and its counts.
 */
static void
idle_report(struct bench *b)
{
	char	line[512];
	int	n, ok;

	if (b->b_reported)
		return;
	b->b_reported = 1;
	ok = b->b_failed == 0 && b->b_unconfirmed == 0;
	n = snprintf(line, sizeof line, "%d %" PRIu64 " %" PRIu64 " %" PRIu64
	    " %" PRIu64 " %d %d %d\n", ok, b->b_conn_first_ns,
	    b->b_conn_last_ns, ok ? b->b_confirm_ns : now_ns(),
	    (ok ? b->b_confirm_cpu_ns : cpu_ns()) - b->b_start_cpu_ns,
	    b->b_connected,
	    b->b_clients - b->b_unconfirmed, b->b_failed);
	if (write(b->b_up_fd, line, (size_t)n) != n)
		fprintf(stderr, "pubsub_bench: report: %s\n", strerror(errno));
}

/*
 * What every child process (idle or receiving) starts with: its share of
 * the subscribers (count from global index first), the pipes to its parent
 * (up to write, down to watch), an event loop of its own, the progress
 * tick. Returns 0, or -1 (said on stderr if for lack of memory).
 */
static int
child_setup(struct bench *b, int first, int count, int up, int down)
{
	struct timeval	tick = { 0, 50000 };

	b->b_start_ns = now_ns();
	b->b_start_cpu_ns = cpu_ns();
	b->b_first = first;
	b->b_clients = count;
	b->b_up_fd = up;
	b->b_down_fd = down;
	if ((b->b_base = event_base_new()) == NULL ||
	    (b->b_subs = calloc((size_t)count, sizeof *b->b_subs)) == NULL) {
		fprintf(stderr, "pubsub_bench: out of memory\n");
		return -1;
	}
	if ((b->b_tick = event_new(b->b_base, -1, EV_PERSIST, tick_cb, b)) ==
	    NULL || event_add(b->b_tick, &tick) == -1 ||
	    (b->b_down_ev = event_new(b->b_base, down, EV_READ | EV_PERSIST,
	    down_cb, b)) == NULL || event_add(b->b_down_ev, NULL) == -1)
		return -1;
	return 0;
}

/*
 * Idle child: subscribes count subscribers from global index first,
 * reports on up once they have idled, and keeps them until down ends.
 * Returns the exit status: 0, or 1 if one failed or was dropped.
 */
static int
idle_child(struct bench *b, int first, int count, int up, int down)
{
	int	status = 1;

	if (child_setup(b, first, count, up, down) == -1 ||
	    (b->b_idle_ev = evtimer_new(b->b_base, idle_cb, b)) == NULL) {
		b->b_failed++;
		goto out;
	}
	if (subs_open(b) == -1) {
		b->b_failed++;
		goto out;
	}
	event_base_dispatch(b->b_base);
	if (!b->b_failed && b->b_dropped == 0 && b->b_unconfirmed == 0)
		status = 0;
	if (b->b_dropped > 0)
		fprintf(stderr, "pubsub_bench: %d subscribers dropped while "
		    "idle\n", b->b_dropped);
out:
	idle_report(b);		/* a no-op unless it failed before ready */
	bench_free(b);
	return (status);
}

/*
 * Idle mode: forks the children, each with its slice of the subscribers,
 * sums their lines into one, prints it and "ready", waits for the end of
 * standard input (at most --timeout), then closes their pipes and reaps
 * them. Returns the exit status.
 */
static int
idle_main(struct bench *b)
{
	pid_t		*pids = NULL;
	int		*ups = NULL, *downs = NULL;
	int		 nofile, per, p, j, first, count, ok, conn, conf, fail;
	int		 up[2], down[2], status = 0, wstatus, all_ok = 1;
	int		 connected = 0, confirmed = 0, failed = 0;
	uint64_t	 start, connl, confl, cpu, t0 = UINT64_MAX, tc = 0;
	uint64_t	 tf = 0, cpu_sum = 0;
	char		 line[512];
	size_t		 len;
	ssize_t		 n;
	struct pollfd	 pfd;
	double		 conn_ms, sub_ms;

	nofile = raise_nofile();
	per = nofile > 2 * FD_RESERVE ? nofile - FD_RESERVE : 1000;
	if (b->b_procs == 0)
		b->b_procs = (b->b_total + per - 1) / per;
	if (b->b_procs > b->b_total)
		b->b_procs = b->b_total;
	if ((b->b_total + b->b_procs - 1) / b->b_procs > per)
		fprintf(stderr, "pubsub_bench: warning: %d subscribers in %d "
		    "processes of %d descriptors\n", b->b_total, b->b_procs,
		    nofile);
	if (b->b_sources == 0)
		b->b_sources = sources_needed(b->b_total);
	if (b->b_sources > MAX_SOURCES) {
		fprintf(stderr, "pubsub_bench: %d subscribers need more than "
		    "%d source addresses\n", b->b_total, MAX_SOURCES);
		return (1);
	}
	if ((pids = calloc((size_t)b->b_procs, sizeof *pids)) == NULL ||
	    (ups = calloc((size_t)b->b_procs, sizeof *ups)) == NULL ||
	    (downs = calloc((size_t)b->b_procs, sizeof *downs)) == NULL) {
		fprintf(stderr, "pubsub_bench: out of memory\n");
		free(pids);
		free(ups);
		return (1);
	}
	for (p = 0; p < b->b_procs; p++)
		ups[p] = downs[p] = -1;
	fflush(stdout);
	first = 0;
	for (p = 0; p < b->b_procs; p++) {
		count = b->b_total / b->b_procs +
		    (p < b->b_total % b->b_procs ? 1 : 0);
		if (pipe2(up, O_CLOEXEC) == -1 ||
		    pipe2(down, O_CLOEXEC) == -1) {
			fprintf(stderr, "pubsub_bench: pipe: %s\n",
			    strerror(errno));
			status = 1;
			break;
		}
		if ((pids[p] = fork()) == -1) {
			fprintf(stderr, "pubsub_bench: fork: %s\n",
			    strerror(errno));
			close(up[0]);
			close(up[1]);
			close(down[0]);
			close(down[1]);
			status = 1;
			break;
		}
		if (pids[p] == 0) {
			/* Only the parent may hold the others' pipes. */
			for (j = 0; j < p; j++) {
				close(ups[j]);
				close(downs[j]);
			}
			close(up[0]);
			close(down[1]);
			_exit(idle_child(b, first, count, up[1], down[0]));
		}
		close(up[1]);
		close(down[0]);
		ups[p] = up[0];
		downs[p] = down[1];
		first += count;
	}

	/* Every child writes one line, by its own deadline. */
	for (p = 0; p < b->b_procs && pids[p] > 0; p++) {
		len = 0;
		while (len < sizeof line - 1 && (n = read(ups[p], line + len,
		    sizeof line - 1 - len)) != 0) {
			if (n == -1) {
				if (errno == EINTR)
					continue;
				break;
			}
			len += (size_t)n;
			if (memchr(line, '\n', len) != NULL)
				break;
		}
		line[len] = '\0';
		if (sscanf(line, "%d %" SCNu64 " %" SCNu64 " %" SCNu64 " %"
		    SCNu64 " %d %d %d", &ok, &start, &connl, &confl, &cpu,
		    &conn, &conf, &fail) != 8) {
			fprintf(stderr, "pubsub_bench: child %d reported "
			    "nothing\n", p);
			all_ok = 0;
			continue;
		}
		all_ok &= ok;
		connected += conn;
		confirmed += conf;
		failed += fail;
		cpu_sum += cpu;
		if (start != 0 && start < t0)
			t0 = start;
		if (connl > tc)
			tc = connl;
		if (confl > tf)
			tf = confl;
	}
	if (p < b->b_procs)
		all_ok = 0;
	conn_ms = tc > t0 ? (double)(tc - t0) / 1e6 : 0;
	sub_ms = tf > t0 ? (double)(tf - t0) / 1e6 : 0;
	printf("mode=idle clients=%d channels=%d procs=%d sources=%d "
	    "connected=%d confirmed=%d failed=%d connect_ms=%.1f "
	    "connects_per_s=%.0f subscribe_ms=%.1f subscribes_per_s=%.0f "
	    "idle_s=%g gen_cpu_ms=%.0f gen_cpu_pct=%.0f ok=%d\nready\n",
	    b->b_total, b->b_channels, b->b_procs, b->b_sources, connected,
	    confirmed, failed, conn_ms, conn_ms > 0 ? connected / conn_ms *
	    1e3 : 0, sub_ms, sub_ms > 0 ? confirmed / sub_ms * 1e3 : 0,
	    b->b_idle, (double)cpu_sum / 1e6, sub_ms > 0 ? (double)cpu_sum /
	    1e6 / sub_ms * 100 : 0, all_ok);
	fflush(stdout);
	if (!all_ok)
		status = 1;

	/* Until standard input ends, a signal ends us, or the deadline. */
	pfd.fd = STDIN_FILENO;
	pfd.events = POLLIN;
	while (poll(&pfd, 1, (int)(b->b_timeout * 1000)) > 0) {
		n = read(STDIN_FILENO, line, sizeof line);
		if (n == 0 || (n == -1 && errno != EINTR && errno != EAGAIN))
			break;
	}

	for (p = 0; p < b->b_procs; p++) {
		if (ups[p] != -1)
			close(ups[p]);
		if (downs[p] != -1)
			close(downs[p]);
	}
	for (p = 0; p < b->b_procs && pids[p] > 0; p++) {
		while (waitpid(pids[p], &wstatus, 0) == -1 && errno == EINTR)
			;
		if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0)
			status = 1;
	}
	free(pids);
	free(ups);
	free(downs);
	return (status);
}

/* Writes all len bytes of buf to fd (blocking); returns 0, or -1. */
static int
write_all(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

/*
 * Receiver: every subscriber of its share is confirmed: tells the parent,
 * which publishes once all are, and counts deliveries from now on.
 */
static void
recv_confirmed(struct bench *b)
{
	phase_publish(b);
	recv_report(b, REPORT_CONFIRMED);
	if (b->b_remaining == 0 || b->b_messages == 0)
		bench_stop(b);
}

/*
 * Receiver: writes a report of kind to the parent, each kind once and
 * none after the final one. A receiver that cannot write leaves its
 * parent an EOF without a final report, which fails the run.
 */
static void
recv_report(struct bench *b, int kind)
{
	struct recv_report	*rr;
	int			 i;

	if (b->b_reported >= kind)
		return;
	b->b_reported = kind;
	if ((rr = calloc(1, sizeof *rr)) == NULL) {
		fprintf(stderr, "pubsub_bench: out of memory\n");
		return;
	}
	rr->rr_kind = kind;
	rr->rr_failed = b->b_failed;
	rr->rr_unconfirmed = b->b_unconfirmed;
	rr->rr_confirm_ns = b->b_confirm_ns;
	if (kind == REPORT_FINAL) {
		for (i = 0; b->b_subs != NULL && i < b->b_clients; i++)
			rr->rr_dead += b->b_subs[i].s_dead;
		if (b->b_confirm_cpu_ns != 0)
			rr->rr_cpu_ns = cpu_ns() - b->b_confirm_cpu_ns;
		rr->rr_delivered = b->b_delivered;
		rr->rr_expected = b->b_expected;
		rr->rr_reordered = b->b_reordered;
		rr->rr_max_lat_ns = b->b_max_lat_ns;
		rr->rr_last_deliv_ns = b->b_last_deliv_ns;
		memcpy(rr->rr_hist, b->b_hist, sizeof rr->rr_hist);
	}
	if (write_all(b->b_up_fd, rr, sizeof *rr) == -1)
		fprintf(stderr, "pubsub_bench: report: %s\n", strerror(errno));
	free(rr);
}

/*
 * Receiver process: subscribes count subscribers from global index first,
 * reports on up once all are confirmed, counts their deliveries until each
 * has all its messages (or, once down says publishing ended, nothing came
 * for IDLE_SECONDS; or down ends), then writes its final report. Returns
 * the exit status: 0, or 1 if anything failed or was lost.
 */
static int
flow_child(struct bench *b, int first, int count, int up, int down)
{
	int	status = 1;

	b->b_role = ROLE_RECV;
	b->b_expected = 0;	/* the parent's count is of all subscribers */
	if (child_setup(b, first, count, up, down) == -1) {
		b->b_failed++;
		goto out;
	}
	if (subs_open(b) == -1) {
		b->b_failed++;
		goto out;
	}
	event_base_dispatch(b->b_base);
	if (!b->b_failed && b->b_delivered >= b->b_expected)
		status = 0;
out:
	recv_report(b, REPORT_FINAL);
	bench_free(b);
	return (status);
}

/* Parent: a receiver's pipe is readable: takes in its whole reports. */
static void
flow_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct recv		*r = arg;
	struct bench		*b = r->r_bench;
	struct recv_report	*rr;
	int			 n;

	(void)what;
	n = evbuffer_read(r->r_in, fd, -1);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if ((rr = malloc(sizeof *rr)) == NULL) {
		fprintf(stderr, "pubsub_bench: out of memory\n");
		b->b_failed = 1;
		flow_gone(b, r);
		return;
	}
	while (!r->r_gone && evbuffer_get_length(r->r_in) >= sizeof *rr) {
		evbuffer_remove(r->r_in, rr, sizeof *rr);
		flow_report(b, r, rr);
	}
	free(rr);
	if (n <= 0 && !r->r_gone) {
		fprintf(stderr, "pubsub_bench: receiver %d (pid %d) ended "
		    "without its report%s\n", r->r_index, (int)r->r_pid,
		    n == -1 ? " (read error)" : "");
		b->b_failed = 1;
		flow_gone(b, r);
	}
}

/* Parent: takes in one report of receiver r. */
static void
flow_report(struct bench *b, struct recv *r, const struct recv_report *rr)
{
	uint64_t	cpu = rr->rr_cpu_ns;
	int		i;

	if (rr->rr_kind == REPORT_CONFIRMED) {
		if (r->r_confirmed)
			return;
		r->r_confirmed = 1;
		b->b_unconfirmed -= r->r_count;
		if (rr->rr_confirm_ns > b->b_confirm_ns)
			b->b_confirm_ns = rr->rr_confirm_ns;
		if (++b->b_recv_confirmed == b->b_procs &&
		    b->b_phase == PHASE_SUBSCRIBE) {
			b->b_confirm_cpu_ns = cpu_ns();
			if (b->b_server_pid > 0)
				b->b_server_cpu0 = server_cpu_ns(
				    b->b_server_pid);
			pub_start(b);
		}
		return;
	}
	/* b_expected is all subscribers': one that never reports lost all. */
	b->b_delivered += rr->rr_delivered;
	b->b_reordered += rr->rr_reordered;
	if (rr->rr_max_lat_ns > b->b_max_lat_ns)
		b->b_max_lat_ns = rr->rr_max_lat_ns;
	if (rr->rr_last_deliv_ns > b->b_last_deliv_ns)
		b->b_last_deliv_ns = rr->rr_last_deliv_ns;
	for (i = 0; i < HIST_BUCKETS; i++)
		b->b_hist[i] += rr->rr_hist[i];
	b->b_recv_cpu_ns += cpu;
	if (cpu > b->b_recv_cpu_max_ns)
		b->b_recv_cpu_max_ns = cpu;
	if (rr->rr_failed != 0 || rr->rr_unconfirmed != 0 ||
	    !r->r_confirmed) {
		fprintf(stderr, "pubsub_bench: receiver %d failed: %d "
		    "unconfirmed, %d subscribers lost, %" PRIu64 "/%" PRIu64
		    " delivered\n", r->r_index, rr->rr_unconfirmed,
		    rr->rr_dead, rr->rr_delivered, rr->rr_expected);
		b->b_failed = 1;
	}
	flow_gone(b, r);
	/* Without all of them confirmed, nothing is published. */
	if (!r->r_confirmed)
		bench_stop(b);
}

/*
 * Parent: receiver r reported its end, or its pipe ended: stops watching
 * it; the run ends once all have.
 */
static void
flow_gone(struct bench *b, struct recv *r)
{
	if (r->r_gone)
		return;
	r->r_gone = 1;
	event_del(r->r_ev);
	close(r->r_up);
	r->r_up = -1;
	if (++b->b_recv_gone == b->b_procs || b->b_phase == PHASE_DRAIN)
		bench_stop(b);
}

/*
 * Parent: every PUBLISH is answered: tells the receivers, whose idle rule
 * (what has not come IDLE_SECONDS later is lost) starts then.
 */
static void
flow_tell_end(struct bench *b)
{
	int	p;

	if (b->b_end_told)
		return;
	b->b_end_told = 1;
	for (p = 0; p < b->b_procs; p++) {
		/* One that ended already is no error (SIGPIPE is ignored). */
		if (b->b_recvs[p].r_down != -1)
			(void)write(b->b_recvs[p].r_down, "E", 1);
	}
}

/* Parent: closes the receivers' down pipes: each stops and reports. */
static void
flow_stop_recvs(struct bench *b)
{
	int	p;

	for (p = 0; p < b->b_procs; p++) {
		if (b->b_recvs[p].r_down != -1) {
			close(b->b_recvs[p].r_down);
			b->b_recvs[p].r_down = -1;
		}
	}
}

/*
 * Parent: stops and reaps the receivers (each within DRAIN_SECONDS, or it
 * is killed), and reads the CPU time they used in all. Returns 0, or -1
 * if one failed.
 */
static int
flow_reap(struct bench *b)
{
	struct rusage	 ru;
	struct recv	*r;
	pid_t		 pid;
	int		 p, i, ws, rc = 0;

	flow_stop_recvs(b);
	for (p = 0; p < b->b_procs; p++) {
		r = &b->b_recvs[p];
		if (r->r_pid <= 0)
			continue;
		for (i = 0; i < DRAIN_SECONDS * 100; i++) {
			if ((pid = waitpid(r->r_pid, &ws, WNOHANG)) != 0 &&
			    !(pid == -1 && errno == EINTR))
				break;
			usleep(10000);
		}
		if (i == DRAIN_SECONDS * 100) {
			fprintf(stderr, "pubsub_bench: receiver %d (pid %d) "
			    "did not end: killed\n", p, (int)r->r_pid);
			kill(r->r_pid, SIGKILL);
			while ((pid = waitpid(r->r_pid, &ws, 0)) == -1 &&
			    errno == EINTR)
				;
		}
		r->r_pid = 0;
		if (pid == -1) {
			rc = -1;
			continue;
		}
		if (WIFSIGNALED(ws)) {
			fprintf(stderr, "pubsub_bench: receiver %d killed by "
			    "signal %d\n", p, WTERMSIG(ws));
			rc = -1;
		} else if (WEXITSTATUS(ws) != 0) {
			/* Unless it told already (its report, or loss). */
			if (WEXITSTATUS(ws) != 1 || (!b->b_failed &&
			    b->b_delivered >= b->b_expected))
				fprintf(stderr, "pubsub_bench: receiver %d "
				    "exited with %d\n", p, WEXITSTATUS(ws));
			rc = -1;
		}
	}
	if (getrusage(RUSAGE_CHILDREN, &ru) == 0)
		b->b_recv_cpu_all_ns = (uint64_t)(ru.ru_utime.tv_sec +
		    ru.ru_stime.tv_sec) * 1000000000ULL +
		    (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) *
		    1000ULL;
	return (rc);
}

/*
 * Throughput and latency with --procs P > 1: forks P receivers, each with
 * its share of the subscribers, publishes once all confirmed theirs, and
 * adds up their reports into one result line. Returns the exit status: 0
 * if every message arrived and every receiver succeeded, 1 otherwise.
 */
static int
flow_main(struct bench *b)
{
	struct recv	*r;
	uint64_t	 c;
	int		 nofile, per, p, j, first, up[2], down[2], status = 1;

	nofile = raise_nofile();
	per = (b->b_total + b->b_procs - 1) / b->b_procs;
	if (nofile != -1 && nofile < per + FD_RESERVE) {
		fprintf(stderr, "pubsub_bench: %d subscribers per process "
		    "need more than RLIMIT_NOFILE (%d) allows; use more "
		    "--procs\n", per, nofile);
		return (1);
	}
	if (b->b_sources == 0)
		b->b_sources = sources_needed(b->b_total);
	if (b->b_sources > MAX_SOURCES) {
		fprintf(stderr, "pubsub_bench: %d subscribers need more than "
		    "%d source addresses\n", b->b_total, MAX_SOURCES);
		return (1);
	}
	/* Telling a receiver that ended already must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	b->b_role = ROLE_PUB;
	if ((b->b_recvs = calloc((size_t)b->b_procs, sizeof *b->b_recvs)) ==
	    NULL) {
		fprintf(stderr, "pubsub_bench: out of memory\n");
		return (1);
	}
	for (p = 0; p < b->b_procs; p++) {
		b->b_recvs[p].r_bench = b;
		b->b_recvs[p].r_index = p;
		b->b_recvs[p].r_up = b->b_recvs[p].r_down = -1;
	}
	fflush(stdout);
	fflush(stderr);
	b->b_start_ns = now_ns();
	b->b_start_cpu_ns = cpu_ns();
	b->b_phase = PHASE_SUBSCRIBE;
	b->b_phase_ns = b->b_start_ns;
	b->b_unconfirmed = b->b_total;
	for (j = 0; j < b->b_total; j++) {
		c = (uint64_t)(j % b->b_channels);
		b->b_expected += b->b_messages > c ? (b->b_messages - c - 1) /
		    (uint64_t)b->b_channels + 1 : 0;
	}
	first = 0;
	for (p = 0; p < b->b_procs; p++) {
		r = &b->b_recvs[p];
		r->r_count = b->b_total / b->b_procs +
		    (p < b->b_total % b->b_procs ? 1 : 0);
		if (pipe2(up, O_CLOEXEC) == -1) {
			fprintf(stderr, "pubsub_bench: pipe: %s\n",
			    strerror(errno));
			goto out;
		}
		if (pipe2(down, O_CLOEXEC) == -1) {
			fprintf(stderr, "pubsub_bench: pipe: %s\n",
			    strerror(errno));
			close(up[0]);
			close(up[1]);
			goto out;
		}
		if ((r->r_pid = fork()) == -1) {
			fprintf(stderr, "pubsub_bench: fork: %s\n",
			    strerror(errno));
			r->r_pid = 0;
			close(up[0]);
			close(up[1]);
			close(down[0]);
			close(down[1]);
			goto out;
		}
		if (r->r_pid == 0) {
			/* Only the parent may hold the others' pipes. */
			for (j = 0; j < p; j++) {
				close(b->b_recvs[j].r_up);
				close(b->b_recvs[j].r_down);
			}
			j = r->r_count;
			free(b->b_recvs);
			b->b_recvs = NULL;
			close(up[0]);
			close(down[1]);
			_exit(flow_child(b, first, j, up[1], down[0]));
		}
		close(up[1]);
		close(down[0]);
		r->r_up = up[0];
		r->r_down = down[1];
		first += r->r_count;
	}

	if ((b->b_base = event_base_new()) == NULL)
		goto out;
	for (p = 0; p < b->b_procs; p++) {
		r = &b->b_recvs[p];
		if ((r->r_in = evbuffer_new()) == NULL ||
		    (r->r_ev = event_new(b->b_base, r->r_up,
		    EV_READ | EV_PERSIST, flow_read_cb, r)) == NULL ||
		    event_add(r->r_ev, NULL) == -1)
			goto out;
	}
	if (pub_connect(b) == -1)
		goto out;
	event_base_dispatch(b->b_base);
	if (flow_reap(b) == 0 && !b->b_failed &&
	    b->b_recv_gone == b->b_procs && b->b_delivered >= b->b_expected)
		status = 0;
	bench_report(b);
	return (status);

out:
	b->b_failed = 1;
	(void)flow_reap(b);
	return (1);
}

/* Frees what b holds (NULL-safe), b included. */
static void
bench_free(struct bench *b)
{
	int	i;

	if (b->b_tick != NULL)
		event_free(b->b_tick);
	if (b->b_idle_ev != NULL)
		event_free(b->b_idle_ev);
	if (b->b_down_ev != NULL)
		event_free(b->b_down_ev);
	for (i = 0; b->b_pubs != NULL && i < b->b_npubs; i++) {
		if (b->b_pubs[i] != NULL)
			bufferevent_free(b->b_pubs[i]);
	}
	free(b->b_pubs);
	free(b->b_chan_port);
	free(b->b_chan_pub);
	for (i = 0; b->b_recvs != NULL && i < b->b_procs; i++) {
		if (b->b_recvs[i].r_ev != NULL)
			event_free(b->b_recvs[i].r_ev);
		if (b->b_recvs[i].r_in != NULL)
			evbuffer_free(b->b_recvs[i].r_in);
		if (b->b_recvs[i].r_up != -1)
			close(b->b_recvs[i].r_up);
		if (b->b_recvs[i].r_down != -1)
			close(b->b_recvs[i].r_down);
	}
	free(b->b_recvs);
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
	SSL_CTX_free(b->b_tls);
	free(b);
}

/*
 * Runs the benchmark; exits 0 if every message arrived (idle mode: every
 * subscriber was confirmed and none dropped), 1 otherwise.
 */
int
main(int argc, char **argv)
{
	struct bench	*b;
	int		 i, nofile, status = 1;

	if ((b = calloc(1, sizeof *b)) == NULL)
		return (1);
	if (parse_args(b, argc, argv) == -1)
		usage();
	if ((b->b_chan_names = calloc((size_t)b->b_channels,
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
	if (b->b_idle >= 0) {
		status = idle_main(b);
		goto out;
	}
	if (b->b_procs > b->b_total)
		b->b_procs = b->b_total;
	if (b->b_procs > 1) {
		status = flow_main(b);
		goto out;
	}
	b->b_procs = 1;

	b->b_start_ns = now_ns();
	b->b_start_cpu_ns = cpu_ns();
	nofile = raise_nofile();
	if (nofile != -1 && nofile < b->b_clients + FD_RESERVE) {
		fprintf(stderr, "pubsub_bench: %d subscribers need more than "
		    "RLIMIT_NOFILE (%d) allows one process; only --idle "
		    "spreads them over processes\n", b->b_clients, nofile);
		goto out;
	}
	if (b->b_sources == 0)
		b->b_sources = sources_needed(b->b_clients);
	if ((b->b_base = event_base_new()) == NULL ||
	    (b->b_subs = calloc((size_t)b->b_clients, sizeof *b->b_subs)) ==
	    NULL) {
		fprintf(stderr, "pubsub_bench: out of memory\n");
		goto out;
	}
	if (subs_open(b) == -1)
		goto out;

	if (pub_connect(b) == -1)
		goto out;
	event_base_dispatch(b->b_base);

	bench_report(b);
	if (!b->b_failed && b->b_delivered >= b->b_expected)
		status = 0;

out:
	bench_free(b);
	return (status);
}
