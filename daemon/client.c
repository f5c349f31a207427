/*
 * client.c: one TCP client of pubsubd: its connection, its coroutine, its
 * output. The commands themselves are in command.c.
 *
 * Reading only fills the input buffer and wakes the client's coroutine,
 * which parses and serves one request at a time, in order: a SUBSCRIBE asks
 * the hub for each channel, awaits each subscription's future (done when
 * Redis has confirmed the upstream subscription), then activates it and
 * queues its confirmation in the same step, so no message of a channel can
 * reach the client before the confirmation of that channel.
 *
 * Output: replies are appended to c_out and written at the end of the loop
 * turn; messages arrive from the hub once per batch (the deliver callback)
 * and go straight to the socket when nothing is queued before them, or are
 * referenced, not copied, behind what is queued. A write event exists only
 * once the socket has been full. A reply that Redis will send later (a
 * passthrough command) holds its place as a slot: whatever the client is
 * sent after it waits behind the slot until the reply is in, so replies keep
 * the order of requests even when commands are pipelined to Redis.
 *
 * Closing is two-phase: client_close() stops the client at once (and may let
 * it flush first); the teardown that touches the hub and frees memory runs
 * from the set's reap event on a later loop turn, never from inside one of
 * the client's own callbacks or the hub's.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "acl.h"
#include "client_impl.h"
#include "cmdconn.h"
#include "coro.h"
#include "future.h"
#include "log.h"
#include "tls.h"

#define CLIENT_READ_MAX		(64 * 1024)	/* bytes per read call */
#define CLIENT_CLOSE_FLUSH_SEC	5		/* bound on flushing at close */
#define CLIENT_READS_BATCH	256		/* ready clients per epoll_wait */
/* The coroutine's result when it has served all the input there was. */
#define CLIENT_CO_IDLE		((void *)(uintptr_t)CLIENT_REASONS)
/*
 * Pieces of a batch queued behind a full socket are copied up to this size
 * and referenced above it: a reference to a small piece would keep a whole
 * batch (256 KiB) alive for a few bytes (a stalled reader of one channel
 * among many pinned 190 MB for 13 MB of output), while copying large
 * pieces would multiply what many clients of one channel share.
 */
#define CLIENT_COPY_MAX		512

static void	client_reads_cb(evutil_socket_t, short, void *);
static void	client_read(struct client *);
static int	client_read_start(struct client *);
static void	client_read_stop(struct client *);
static void	client_write_cb(evutil_socket_t, short, void *);
static void	client_close_cb(evutil_socket_t, short, void *);
static void	client_flush_cb(evutil_socket_t, short, void *);
static void	client_reap_cb(evutil_socket_t, short, void *);
static void	client_authlog_cb(evutil_socket_t, short, void *);
static void	client_idle_cb(evutil_socket_t, short, void *);
static int	client_check_output(struct client *);
static size_t	client_pending_output(const struct client *);
static void	client_co_done(struct future *, void *);
static int	client_run(struct coro *, void *);
static void	client_deliver(struct hub_subscriber *, struct hub_batch *,
		    struct iovec *, int, size_t);
static void	client_finish(struct client *, enum client_reason);
static void	client_free(struct client *);
static void	client_wake(struct client *);
static void	client_write(struct client *);
static int	client_wait_write(struct client *);
static void	client_command_begin(struct client *);
static void	client_command_end(struct client *);
static void	client_slot_done(struct future *, void *);
static void	client_slots_advance(struct client *);
static void	client_slot_free(struct client_slot *);
static void	client_release_waits(struct client *);
static void	client_serve_free(struct client *);
static int	client_map_sub(struct client_cold *, struct hub_sub *);
static void	client_unmap_sub(struct client_cold *, struct hub_sub *);
static size_t	client_qbuf(const struct client *);
static int	client_parse(struct client *, enum resp_status *);
static const char *client_addr_string(const struct sockaddr *, char *,
		    size_t);
static int	client_tls_start(struct client *);
static void	client_tls_read_cb(struct bufferevent *, void *);
static void	client_tls_write_cb(struct bufferevent *, void *);
static void	client_tls_event_cb(struct bufferevent *, short, void *);
static void	client_tls_timeout_cb(evutil_socket_t, short, void *);
static void	client_tls_write(struct client *);
static void	client_tls_failed(struct client *, const char *);

static const struct hub_subscriber_ops client_hs_ops = { client_deliver };

/* Each reason's label (metrics) and what the log says. */
static const struct {
	const char	*label;
	const char	*text;
} client_reasons[CLIENT_REASONS] = {
	[CLIENT_R_QUIT] = { "quit", "quit" },
	[CLIENT_R_EOF] = { "eof", "end of input" },
	[CLIENT_R_PROTOCOL] = { "protocol_error", "protocol error" },
	[CLIENT_R_READ_ERROR] = { "read_error", "read error" },
	[CLIENT_R_WRITE_ERROR] = { "write_error", "write error" },
	[CLIENT_R_OUTPUT_HARD] = { "output_hard",
	    "output over the hard limit" },
	[CLIENT_R_OUTPUT_SOFT] = { "output_soft",
	    "output over the soft limit" },
	[CLIENT_R_QUERY_BUFFER] = { "query_buffer", "query buffer limit" },
	[CLIENT_R_IDLE] = { "idle", "idle timeout" },
	[CLIENT_R_KILLED] = { "killed", "killed by CLIENT KILL" },
	[CLIENT_R_PASSTHROUGH] = { "passthrough_lost",
	    "passthrough connection to redis lost" },
	[CLIENT_R_SHUTDOWN] = { "shutdown", "shutting down" },
	[CLIENT_R_INTERNAL] = { "internal_error",
	    "out of memory or internal error" },
	[CLIENT_R_TLS_HANDSHAKE] = { "tls_handshake",
	    "TLS handshake failed" },
};

/* The label of a reason. */
const char *
client_reason_name(enum client_reason why)
{
	if ((unsigned int)why >= CLIENT_REASONS)
		return "unknown";
	return client_reasons[why].label;
}

/* Returns a new, empty client set. */
struct client_set *
client_set_new(struct event_base *base, struct hub *hub, struct upstream *up,
    const struct client_conf *conf)
{
	struct client_set	*set;

	if ((set = calloc(1, sizeof(*set))) == NULL)
		return NULL;
	set->s_base = base;
	set->s_hub = hub;
	set->s_up = up;
	set->s_conf = conf;
	set->s_next_id = 1;
	set->s_started = time(NULL);
	set->s_epfd = epoll_create1(EPOLL_CLOEXEC);
	pool_init(&set->s_pool, sizeof(struct client));
	TAILQ_INIT(&set->s_clients);
	TAILQ_INIT(&set->s_dead);
	TAILQ_INIT(&set->s_flushq);
	set->s_flush_ev = event_new(base, -1, 0, client_flush_cb, set);
	set->s_reap_ev = event_new(base, -1, 0, client_reap_cb, set);
	set->s_discard = evbuffer_new();
	set->s_idle_ev = event_new(base, -1, EV_PERSIST, client_idle_cb, set);
	set->s_authlog_ev = evtimer_new(base, client_authlog_cb, set);
	if (set->s_epfd != -1)
		set->s_reads_ev = event_new(base, set->s_epfd,
		    EV_READ | EV_PERSIST, client_reads_cb, set);
	if (set->s_flush_ev == NULL || set->s_reap_ev == NULL ||
	    set->s_discard == NULL || set->s_idle_ev == NULL ||
	    set->s_authlog_ev == NULL || set->s_reads_ev == NULL ||
	    event_add(set->s_reads_ev, NULL) == -1) {
		client_set_free(set);
		return NULL;
	}
	if (conf->idle_timeout > 0) {
		struct timeval	tv = { 1, 0 };

		event_add(set->s_idle_ev, &tv);
	}
	return set;
}

/* Closes every client now and frees the set. */
void
client_set_free(struct client_set *set)
{
	struct client	*c;

	if (set == NULL)
		return;
	while ((c = TAILQ_FIRST(&set->s_clients)) != NULL)
		client_finish(c, CLIENT_R_SHUTDOWN);	/* also the flushing */
	while ((c = TAILQ_FIRST(&set->s_dead)) != NULL) {
		TAILQ_REMOVE(&set->s_dead, c, c_entry);
		client_free(c);
	}
	if (set->s_flush_ev != NULL)
		event_free(set->s_flush_ev);
	if (set->s_reap_ev != NULL)
		event_free(set->s_reap_ev);
	if (set->s_discard != NULL)
		evbuffer_free(set->s_discard);
	if (set->s_idle_ev != NULL)
		event_free(set->s_idle_ev);
	if (set->s_authlog_ev != NULL) {
		/* The failures not logged yet are not lost to the stop. */
		client_authlog_cb(-1, 0, set);
		event_free(set->s_authlog_ev);
	}
	tls_ctx_unref(set->s_tls);
	if (set->s_reads_ev != NULL)
		event_free(set->s_reads_ev);
	if (set->s_epfd != -1)
		close(set->s_epfd);
	pool_destroy(&set->s_pool);
	free(set);
}

/* Milliseconds of a monotonic clock, for limits measured in time. */
long long
client_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Closes every client, flushing first; done(arg) once all are gone. */
void
client_set_shutdown(struct client_set *set, void (*done)(void *), void *arg)
{
	struct client	*c, *next;

	set->s_done = done;
	set->s_done_arg = arg;
	for (c = TAILQ_FIRST(&set->s_clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, c_entry);
		client_close(c, 1, CLIENT_R_SHUTDOWN);
	}
	if (TAILQ_EMPTY(&set->s_clients))
		event_active(set->s_reap_ev, 0, 0);
}

/* Once a second: closes the clients idle (and unsubscribed) too long. */
static void
client_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client_set	*set = arg;
	struct client		*c, *next;
	long long		 now = client_now_ms();

	for (c = TAILQ_FIRST(&set->s_clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, c_entry);
		if (c->c_nsubs + c->c_nshard > 0 ||
		    (c->c_sv != NULL && c->c_sv->sv_pending != NULL) ||
		    !TAILQ_EMPTY(&c->c_slots) ||
		    (c->c_flags & (CLIENT_CLOSING | CLIENT_DEAD)) ||
		    now - c->c_last_ms < set->s_conf->idle_timeout * 1000LL)
			continue;
		client_close(c, 0, CLIENT_R_IDLE);
	}
}

/* The set's counters. */
const struct client_stats *
client_set_stats(const struct client_set *set)
{
	return &set->s_stats;
}

/* When the set was made. */
time_t
client_set_started(const struct client_set *set)
{
	return set->s_started;
}

/* What the clients hold in memory now. */
void
client_set_memory(const struct client_set *set, struct client_mem *mem)
{
	const struct client	*c;
	size_t			 out;

	memset(mem, 0, sizeof(*mem));
	TAILQ_FOREACH(c, &set->s_clients, c_entry) {
		mem->clients += sizeof(*c);
		mem->input += client_qbuf(c);
		out = client_pending_output(c);
		mem->output += out;
		if (out > mem->output_max)
			mem->output_max = out;
	}
}

/* The TLS context for new TLS clients. */
void
client_set_tls(struct client_set *set, struct ssl_ctx_st *ctx)
{
	if (ctx != NULL)
		tls_ctx_ref(ctx);
	tls_ctx_unref(set->s_tls);
	set->s_tls = ctx;
}

/* Finds a live client by id. */
struct client *
client_find(struct client_set *set, uint64_t id)
{
	struct client	*c;

	TAILQ_FOREACH(c, &set->s_clients, c_entry)
		if (c->c_id == id)
			return c;
	return NULL;
}

/* Serves a new connection; owns fd on every path. */
struct client *
client_accept(struct client_set *set, evutil_socket_t fd, int tls)
{
	static const char	  full[] =
				    "-ERR max number of clients reached\r\n";
	static const char	  user_full[] = "-ERR max number of "
				    "connections of the default user reached\r\n";
	const struct client_conf *conf = set->s_conf;
	struct client		 *c;
	struct acl_user		 *u = acl_login_user(conf->acl);
	struct sockaddr_storage	  ss;
	socklen_t		  len;
	int			  one = 1, idle, intvl = 15, cnt = 3;

	if (set->s_done != NULL || set->s_stats.connected >=
	    (uint64_t)conf->maxclients) {
		/*
		 * As Redis: a best-effort error, then the door (only the
		 * door for TLS: no handshake is spent on a refusal).
		 */
		set->s_stats.rejected_max++;
		if (!tls)
			(void)send(fd, full, sizeof(full) - 1, MSG_NOSIGNAL |
			    MSG_DONTWAIT);
		evutil_closesocket(fd);
		return NULL;
	}
	if (u != NULL && !acl_user_has_room(u)) {
		/* The default user's max_connections: the same door. */
		set->s_stats.rejected_max++;
		if (!tls)
			(void)send(fd, user_full, sizeof(user_full) - 1,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
		evutil_closesocket(fd);
		return NULL;
	}
	if (evutil_make_socket_nonblocking(fd) == -1 ||
	    (c = pool_get(&set->s_pool)) == NULL) {
		log_warn("accept");
		evutil_closesocket(fd);
		return NULL;
	}
	/*
	 * Only the peer's address is kept, in the room an IPv6 one takes (it
	 * could not be asked for once the peer has reset the connection); our
	 * end's is asked for when shown. The peer of a Unix socket has no
	 * name: Redis shows the socket's path for both ends, and so do we.
	 */
	memset(&ss, 0, sizeof(ss));
	len = sizeof(ss);
	(void)getsockname(fd, (struct sockaddr *)&ss, &len);
	if (ss.ss_family == AF_UNIX)
		c->c_flags |= CLIENT_UNIX;
	else {
		memset(&ss, 0, sizeof(ss));
		len = sizeof(ss);
		(void)getpeername(fd, (struct sockaddr *)&ss, &len);
		if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)
			memcpy(&c->c_peer, &ss, ss.ss_family == AF_INET ?
			    sizeof(c->c_peer.sin) : sizeof(c->c_peer.sin6));
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	}
	if ((idle = conf->tcp_keepalive) > 0 && !(c->c_flags & CLIENT_UNIX)) {
		(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one,
		    sizeof(one));
		(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle,
		    sizeof(idle));
		(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl,
		    sizeof(intvl));
		(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt,
		    sizeof(cnt));
	}
	c->c_set = set;
	c->c_fd = fd;
	c->c_id = set->s_next_id++;
	c->c_resp = 2;
	c->c_created = time(NULL);
	c->c_last_ms = client_now_ms();
	c->c_cmd = "NULL";
	client_set_user(c, u);
	hub_subscriber_init(&c->c_hs, &client_hs_ops);
	TAILQ_INIT(&c->c_slots);
	TAILQ_INIT(&c->c_sublist);
	TAILQ_INSERT_TAIL(&set->s_clients, c, c_entry);
	set->s_stats.connected++;
	set->s_stats.accepted++;
	if (tls) {
		if (client_tls_start(c) == -1) {
			log_warnx("client %llu: cannot start TLS%s",
			    (unsigned long long)c->c_id, set->s_tls == NULL ?
			    ": no TLS context" : ": out of memory");
			client_close(c, 0, CLIENT_R_INTERNAL);
			return NULL;
		}
	} else if (client_read_start(c) == -1) {
		log_warn("client %llu: epoll_ctl", (unsigned long long)c->c_id);
		client_close(c, 0, CLIENT_R_INTERNAL);
		return NULL;
	}
	log_debug("client %llu: connected", (unsigned long long)c->c_id);
	return c;
}

/* Stops a client; teardown follows on a later loop turn. */
void
client_close(struct client *c, int flush, enum client_reason why)
{
	struct timeval	tv = { CLIENT_CLOSE_FLUSH_SEC, 0 };

	if (c->c_flags & (CLIENT_DEAD | CLIENT_CLOSING))
		return;
	c->c_why = why;
	client_read_stop(c);
	if (c->c_flags & CLIENT_TLS) {
		bufferevent_disable(c->c_cold->cc_bev, EV_READ);
		/*
		 * After the peer's end of input libevent writes no more on a
		 * TLS connection (TLS has no half-close): nothing to flush.
		 */
		if (c->c_flags & CLIENT_EOF)
			flush = 0;
	}
	if (c->c_co != NULL)
		future_cancel(c->c_co);	/* no-op once it has finished */
	hub_subscriber_flush(c->c_set->s_hub, &c->c_hs);
	if (flush && (!TAILQ_EMPTY(&c->c_slots) || (c->c_out != NULL &&
	    evbuffer_get_length(c->c_out) > 0) || ((c->c_flags & CLIENT_TLS) &&
	    evbuffer_get_length(bufferevent_get_output(c->c_cold->cc_bev)) >
	    0))) {
		c->c_flags |= CLIENT_CLOSING;
		if (client_cold(c) != NULL &&
		    (c->c_cold->cc_close_ev = evtimer_new(c->c_set->s_base,
		    client_close_cb, c)) != NULL &&
		    evtimer_add(c->c_cold->cc_close_ev, &tv) == 0) {
			client_queue_write(c);
			return;
		}
	}
	client_finish(c, why);
}

/* A closing client took too long to flush. */
static void
client_close_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client	*c = arg;

	log_debug("client %llu: timed out flushing output",
	    (unsigned long long)c->c_id);
	client_finish(c, c->c_why);
}

/*
 * Marks a client dead and queues its teardown. why counts unless the client
 * was already closing: then the reason it started closing for counts.
 */
static void
client_finish(struct client *c, enum client_reason why)
{
	struct client_set	*set = c->c_set;

	if (c->c_flags & CLIENT_DEAD)
		return;
	if (c->c_flags & CLIENT_CLOSING) {
		if (why != c->c_why)
			log_debug("client %llu: %s while closing",
			    (unsigned long long)c->c_id,
			    client_reasons[why].text);
	} else
		c->c_why = why;
	log_debug("client %llu: closed: %s", (unsigned long long)c->c_id,
	    client_reasons[c->c_why].text);
	set->s_stats.disconnects[c->c_why]++;
	c->c_flags |= CLIENT_DEAD;
	client_set_user(c, NULL);
	if (c->c_co != NULL)
		future_cancel(c->c_co);	/* no-op once it has finished */
	if (c->c_flags & CLIENT_FLUSH_QUEUED) {
		TAILQ_REMOVE(&set->s_flushq, c, c_flush_entry);
		c->c_flags &= ~CLIENT_FLUSH_QUEUED;
	}
	client_read_stop(c);
	if (c->c_wev != NULL)
		event_del(c->c_wev);
	if (c->c_cold != NULL && c->c_cold->cc_close_ev != NULL)
		event_del(c->c_cold->cc_close_ev);
	if (c->c_flags & CLIENT_TLS) {
		/* Silent till freed on the reap turn (it owns the socket). */
		bufferevent_disable(c->c_cold->cc_bev, EV_READ | EV_WRITE);
		bufferevent_setcb(c->c_cold->cc_bev, NULL, NULL, NULL, NULL);
		if (c->c_cold->cc_hs_ev != NULL)
			event_del(c->c_cold->cc_hs_ev);
		set->s_stats.tls_connected--;
	}
	TAILQ_REMOVE(&set->s_clients, c, c_entry);
	TAILQ_INSERT_TAIL(&set->s_dead, c, c_entry);
	set->s_stats.connected--;
	event_active(set->s_reap_ev, 0, 0);
}

/* Releases everything a dead client holds. */
static void
client_free(struct client *c)
{
	struct client_slot	*slot;
	int			 k;

	c->c_set->s_stats.output_discarded += client_pending_output(c);
	hub_subscriber_forget(c->c_set->s_hub, &c->c_hs);
	client_serve_free(c);
	client_unsubscribe_all(c);
	if (c->c_cold != NULL)
		for (k = 0; k < UPSTREAM_KINDS; k++)
			map_clear(&c->c_cold->cc_subs[k]);
	while ((slot = TAILQ_FIRST(&c->c_slots)) != NULL)
		client_slot_free(slot);
	client_close_passthrough(c);
	client_read_stop(c);
	if (c->c_wev != NULL)
		event_free(c->c_wev);
	if (c->c_cold != NULL && c->c_cold->cc_close_ev != NULL)
		event_free(c->c_cold->cc_close_ev);
	if (c->c_in != NULL)
		evbuffer_free(c->c_in);
	if (c->c_out != NULL)
		evbuffer_free(c->c_out);
	resp_parser_free(c->c_parser);
	if (c->c_cold != NULL && c->c_cold->cc_hs_ev != NULL)
		event_free(c->c_cold->cc_hs_ev);
	/* A TLS client's bufferevent closes the socket and frees the TLS. */
	if (c->c_cold != NULL && c->c_cold->cc_bev != NULL)
		bufferevent_free(c->c_cold->cc_bev);
	else
		evutil_closesocket(c->c_fd);
	if (c->c_cold != NULL)
		free(c->c_cold->cc_name);
	free(c->c_cold);
	pool_put(&c->c_set->s_pool, c);
}

/* Tears down the clients closed since the last turn. */
static void
client_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client_set	*set = arg;
	struct client		*c;

	while ((c = TAILQ_FIRST(&set->s_dead)) != NULL) {
		TAILQ_REMOVE(&set->s_dead, c, c_entry);
		client_free(c);
	}
	if (set->s_done != NULL && TAILQ_EMPTY(&set->s_clients))
		set->s_done(set->s_done_arg);
}

/*
 * Logs c in as u (NULL: logs it out), keeping the users' connection
 * counts.
 */
void
client_set_user(struct client *c, struct acl_user *u)
{
	if (c->c_user == u)
		return;
	if (c->c_user != NULL)
		acl_user_detach(c->c_user);
	c->c_user = u;
	if (u != NULL)
		acl_user_attach(u);
}

/* Whether a failed login may be logged now (see client_impl.h). */
int
client_auth_log(struct client_set *set)
{
	long long	now = client_now_ms();
	struct timeval	tv;
	long long	left;

	if (now - set->s_authlog_start >= CLIENT_AUTHLOG_MS) {
		set->s_authlog_start = now;
		set->s_authlog_lines = 0;
	}
	if (set->s_authlog_lines < CLIENT_AUTHLOG_MAX) {
		set->s_authlog_lines++;
		return 1;
	}
	/* The first one refused in this window: its line comes at its end. */
	if (set->s_authlog_more++ == 0) {
		left = set->s_authlog_start + CLIENT_AUTHLOG_MS - now;
		if (left < 1)
			left = 1;
		tv.tv_sec = left / 1000;
		tv.tv_usec = (left % 1000) * 1000;
		if (evtimer_add(set->s_authlog_ev, &tv) == -1)
			client_authlog_cb(-1, 0, set);	/* now, then */
	}
	return 0;
}

/* Logs the failed logins client_auth_log() kept out of the log. */
static void
client_authlog_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client_set	*set = arg;

	if (set->s_authlog_more == 0)
		return;
	log_notice("%llu more authentication failures (not logged: at most "
	    "%d lines per second)", set->s_authlog_more, CLIENT_AUTHLOG_MAX);
	set->s_authlog_more = 0;
}

/* Moves every client to the new set of users (see client.h). */
void
client_set_users_changed(struct client_set *set)
{
	struct client	*c, *next;
	struct acl_user	*u;
	const char	*name;

	for (c = TAILQ_FIRST(&set->s_clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, c_entry);
		if (c->c_user == NULL)
			continue;
		/* The old user is still valid: its set is freed after. */
		name = acl_user_name(c->c_user);
		u = acl_find(set->s_conf->acl, name, strlen(name));
		/* Not detached from the old set: it goes away whole. */
		c->c_user = NULL;
		if (u == NULL || !acl_user_enabled(u)) {
			log_notice("client %llu: user '%s' %s by the reload: "
			    "closing the connection", (unsigned long long)c->c_id,
			    name, u == NULL ? "was removed" : "was disabled");
			client_close(c, 0, CLIENT_R_KILLED);
			continue;
		}
		client_set_user(c, u);
		if (!(c->c_flags & (CLIENT_CLOSING | CLIENT_DEAD)))
			command_revoke(c);
	}
}

/* The passthrough connection (borrowed), or NULL. */
struct cmdconn *
client_pt(const struct client *c)
{
	return c->c_cold != NULL ? c->c_cold->cc_pt : NULL;
}

/* The client's name (borrowed), or NULL. */
const char *
client_name(const struct client *c)
{
	return c->c_cold != NULL ? c->c_cold->cc_name : NULL;
}

/*
 * Names the client (len 0: no name). Out of memory, it is left without a
 * name, as before.
 */
void
client_set_name(struct client *c, const char *name, size_t len)
{
	if (c->c_cold != NULL) {
		free(c->c_cold->cc_name);
		c->c_cold->cc_name = NULL;
	}
	if (len > 0 && client_cold(c) != NULL)
		c->c_cold->cc_name = strndup(name, len);
}

/* Closes the passthrough connection; its pending replies fail. */
void
client_close_passthrough(struct client *c)
{
	struct cmdconn	*pt = client_pt(c);

	if (pt != NULL)
		c->c_cold->cc_pt = NULL;
	c->c_flags &= ~(CLIENT_MULTI | CLIENT_MULTI_DIRTY | CLIENT_PT_LOST);
	cmdconn_free(pt);
}

/* Indexes sub by name in cold's maps. Returns -1 out of memory. */
static int
client_map_sub(struct client_cold *cold, struct hub_sub *sub)
{
	struct client_subent	*se;
	const char		*key;
	size_t			 keylen;

	if ((se = malloc(sizeof(*se))) == NULL)
		return -1;
	se->se_sub = sub;
	key = hub_sub_name(sub, &keylen);
	if (map_insert(&cold->cc_subs[hub_sub_kind(sub)], &se->se_entry, key,
	    keylen) == -1) {
		free(se);
		return -1;
	}
	return 0;
}

/* Drops sub's index entry, if it has one. */
static void
client_unmap_sub(struct client_cold *cold, struct hub_sub *sub)
{
	struct map		*m = &cold->cc_subs[hub_sub_kind(sub)];
	struct map_entry	*e;
	struct client_subent	*se;
	const char		*key;
	size_t			 keylen;

	key = hub_sub_name(sub, &keylen);
	if ((e = map_find(m, key, keylen)) == NULL)
		return;
	se = MAP_ITEM(e, struct client_subent, se_entry);
	if (se->se_sub != sub)
		return;
	map_remove(m, e);
	free(se);
}

/* Removes one subscription from the client and from the hub. */
void
client_drop_sub(struct client *c, struct hub_sub *sub)
{
	enum upstream_kind	kind = hub_sub_kind(sub);

	if (c->c_cold != NULL && c->c_cold->cc_mapped)
		client_unmap_sub(c->c_cold, sub);
	TAILQ_REMOVE(&c->c_sublist, sub, hs_owner_link);
	c->c_held[kind]--;
	if (hub_sub_active(sub)) {
		if (kind == UPSTREAM_SHARD)
			c->c_nshard--;
		else
			c->c_nsubs--;
		c->c_set->s_stats.subscriptions[kind]--;
	}
	hub_unsubscribe(c->c_set->s_hub, sub);
}

/* Drops every subscription, of every kind, silently (RESET, teardown). */
void
client_unsubscribe_all(struct client *c)
{
	struct hub_sub	*sub;

	while ((sub = TAILQ_FIRST(&c->c_sublist)) != NULL)
		client_drop_sub(c, sub);
}

/*
 * Indexes a new subscription of the client (its name is the hub's). A few
 * are only listed; past CLIENT_SUBS_MAP the list gets a hash index too,
 * kept from then on. Returns 0, or -1 without memory (sub not added).
 */
int
client_add_sub(struct client *c, struct hub_sub *sub)
{
	enum upstream_kind	 kind = hub_sub_kind(sub);
	struct client_cold	*cold = c->c_cold;
	struct hub_sub		*s;
	size_t			 n;
	int			 k;

	n = c->c_held[0] + c->c_held[1] + c->c_held[2];
	if ((cold == NULL || !cold->cc_mapped) && n + 1 > CLIENT_SUBS_MAP &&
	    (cold = client_cold(c)) != NULL) {
		cold->cc_mapped = 1;
		TAILQ_FOREACH(s, &c->c_sublist, hs_owner_link) {
			if (client_map_sub(cold, s) == -1) {
				/* Lists still work: only slower. */
				TAILQ_FOREACH(s, &c->c_sublist, hs_owner_link)
					client_unmap_sub(cold, s);
				for (k = 0; k < UPSTREAM_KINDS; k++)
					map_clear(&cold->cc_subs[k]);
				cold->cc_mapped = 0;
				break;
			}
		}
	}
	if (cold != NULL && cold->cc_mapped && client_map_sub(cold, sub) == -1)
		return -1;
	TAILQ_INSERT_TAIL(&c->c_sublist, sub, hs_owner_link);
	c->c_held[kind]++;
	return 0;
}

/* The client's subscription of kind to name (pending or active), or NULL. */
struct hub_sub *
client_find_sub(struct client *c, enum upstream_kind kind, const char *name,
    size_t len)
{
	struct map_entry	*e;
	struct hub_sub		*sub;
	const char		*key;
	size_t			 keylen;

	if (c->c_held[kind] == 0)
		return NULL;
	if (c->c_cold != NULL && c->c_cold->cc_mapped) {
		e = map_find(&c->c_cold->cc_subs[kind], name, len);
		return e != NULL ?
		    MAP_ITEM(e, struct client_subent, se_entry)->se_sub : NULL;
	}
	TAILQ_FOREACH(sub, &c->c_sublist, hs_owner_link) {
		if (hub_sub_kind(sub) != kind)
			continue;
		key = hub_sub_name(sub, &keylen);
		if (keylen == len && memcmp(key, name, len) == 0)
			return sub;
	}
	return NULL;
}

/* Releases what a SUBSCRIBE in progress holds (its subs are in c_subs). */
void
client_pending_free(struct client *c)
{
	struct client_serve	*sv = c->c_sv;
	int			 i;

	if (sv == NULL || sv->sv_pending == NULL)
		return;
	for (i = 0; i < sv->sv_req.argc; i++)
		future_unref(sv->sv_pending[i].p_ready);
	free(sv->sv_pending);
	sv->sv_pending = NULL;
}

/* Drops the upstream replies an UPSTREAM command awaited. */
static void
client_release_waits(struct client *c)
{
	struct client_serve	*sv = c->c_sv;

	if (sv == NULL)
		return;
	sv->sv_raw = 0;
	if (sv->sv_wait[0] != NULL)
		future_cancel(sv->sv_wait[0]);	/* a raw one closes */
	future_unref(sv->sv_wait[0]);
	future_unref(sv->sv_wait[1]);
	sv->sv_wait[0] = sv->sv_wait[1] = NULL;
	future_unref(sv->sv_settle);
	sv->sv_settle = NULL;
	free(sv->sv_adjs);
	sv->sv_adjs = NULL;
	sv->sv_nadjs = 0;
}

/* Drops the coroutine and its state (the coroutine is over or cancelled). */
static void
client_serve_free(struct client *c)
{
	client_pending_free(c);
	client_release_waits(c);
	free(c->c_sv);
	c->c_sv = NULL;
	future_unref(c->c_co);
	c->c_co = NULL;
}

/*
 * The coroutine finished (out of input, QUIT, end of input, protocol
 * error) or failed.
 */
static void
client_co_done(struct future *co, void *arg)
{
	struct client	*c = arg;

	if (co != c->c_co)
		return;
	switch (future_state(co)) {
	case FUTURE_DONE:
		if (future_result(co) == CLIENT_CO_IDLE) {
			/* The next read starts another. */
			client_serve_free(c);
			break;
		}
		client_close(c, 1,
		    (enum client_reason)(uintptr_t)future_result(co));
		break;
	case FUTURE_FAILED:
		log_warnx("client %llu: %s", (unsigned long long)c->c_id,
		    future_error(co));
		client_close(c, 1, CLIENT_R_INTERNAL);
		break;
	default:
		break;		/* cancelled: client_close() is under way */
	}
}

/*
 * Input arrived or the peer closed: starts the coroutine unless it runs
 * (it then comes to the new input once done with what it serves). It
 * exists only while there is something to serve: an idle client holds no
 * coroutine, no wake event and no future.
 */
static void
client_wake(struct client *c)
{
	struct future	*co;

	if (c->c_co != NULL)
		return;
	if (c->c_sv == NULL && (c->c_sv = calloc(1, sizeof(*c->c_sv))) == NULL)
		goto nomem;
	if ((co = coro_spawn(c->c_set->s_base, client_run, c, NULL)) == NULL)
		goto nomem;
	c->c_co = co;
	if (future_add_callback(co, client_co_done, c) == NULL)
		goto nomem;
	return;
nomem:
	log_warnx("client %llu: out of memory", (unsigned long long)c->c_id);
	client_close(c, 0, CLIENT_R_INTERNAL);
}

/*
 * Starts watching the client's socket for input: in the set's own epoll
 * set, not with an event of its own. An event is 128 bytes in the client
 * and libevent keeps some 40 more per descriptor, interleaved with the
 * memory of requests in flight: the kernel's epoll set keeps all that out
 * of our heap, and the set's one event reads it. Returns 0, or -1 (errno).
 */
static int
client_read_start(struct client *c)
{
	struct epoll_event	ev;

	if (c->c_flags & CLIENT_READING)
		return 0;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;		/* level-triggered, as libevent's */
	ev.data.ptr = c;
	if (epoll_ctl(c->c_set->s_epfd, EPOLL_CTL_ADD, c->c_fd, &ev) == -1)
		return -1;
	c->c_flags |= CLIENT_READING;
	return 0;
}

/* Stops watching for input (no-op if not watching). */
static void
client_read_stop(struct client *c)
{
	if (!(c->c_flags & CLIENT_READING))
		return;
	(void)epoll_ctl(c->c_set->s_epfd, EPOLL_CTL_DEL, c->c_fd, NULL);
	c->c_flags &= ~CLIENT_READING;
}

/*
 * Some clients have input: reads each of those epoll_wait() reports, up to
 * a batch per loop turn (level-triggered: the rest come next turn, after
 * the other events). Reading never frees a client (teardown is deferred to
 * the reap event), so every client of the batch is still there; one
 * stopped by an earlier one of the batch is skipped.
 */
static void
client_reads_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client_set	*set = arg;
	struct epoll_event	 evs[CLIENT_READS_BATCH];
	struct client		*c;
	int			 i, n;

	n = epoll_wait(set->s_epfd, evs, CLIENT_READS_BATCH, 0);
	for (i = 0; i < n; i++) {
		c = evs[i].data.ptr;
		if (c->c_flags & CLIENT_READING)
			client_read(c);
	}
}

/* The socket is readable. */
static void
client_read(struct client *c)
{
	evutil_socket_t	fd = c->c_fd;
	int		n;

	if (c->c_in == NULL && (c->c_in = evbuffer_new()) == NULL) {
		log_warnx("client %llu: out of memory",
		    (unsigned long long)c->c_id);
		client_close(c, 0, CLIENT_R_INTERNAL);
		return;
	}
	n = evbuffer_read(c->c_in, fd, CLIENT_READ_MAX);
	if (n > 0) {
		if ((long long)client_qbuf(c) > c->c_set->s_conf->query_buffer) {
			log_info("client %llu: closed: over the query buffer "
			    "limit", (unsigned long long)c->c_id);
			client_close(c, 0, CLIENT_R_QUERY_BUFFER);
			return;
		}
		client_wake(c);
		return;
	}
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return;
	if (n == -1) {
		client_close(c, 0, CLIENT_R_READ_ERROR);
		return;
	}
	/* End of input: serve what was read, then close. */
	c->c_flags |= CLIENT_EOF;
	client_read_stop(c);
	client_wake(c);
}

/*
 * Bytes of input not yet served: what is in c_in and what the parser took
 * of an unfinished request.
 */
static size_t
client_qbuf(const struct client *c)
{
	size_t	n = 0;

	if (c->c_in != NULL)
		n += evbuffer_get_length(c->c_in);
	if (c->c_parser != NULL)
		n += resp_parser_pending(c->c_parser);
	return n;
}

/*
 * Parses the next request into c_req. The input buffer and the parser
 * exist only while there is input to serve: made by the first read (the
 * buffer) and the first parse (the parser) of a burst, freed when the
 * coroutine runs out of input between requests. An idle client then holds
 * neither (most of what one costs otherwise: the parser's arena).
 */
static int
client_parse(struct client *c, enum resp_status *st)
{
	const struct client_conf	*conf = c->c_set->s_conf;
	struct resp_limits		 limits;

	*st = RESP_NEED_MORE;
	if (c->c_in == NULL)
		return 0;
	if (c->c_parser == NULL) {
		if (evbuffer_get_length(c->c_in) == 0)
			goto idle;
		limits.multibulk_max = conf->multibulk_max;
		limits.bulk_max = conf->bulk_max;
		if ((c->c_parser = resp_parser_new(&limits)) == NULL)
			return -1;
	}
	*st = resp_parse(c->c_parser, c->c_in, &c->c_sv->sv_req);
	if (*st != RESP_NEED_MORE || !resp_parser_idle(c->c_parser) ||
	    evbuffer_get_length(c->c_in) > 0)
		return 0;
	resp_parser_free(c->c_parser);
	c->c_parser = NULL;
idle:
	evbuffer_free(c->c_in);
	c->c_in = NULL;
	memset(&c->c_sv->sv_req, 0, sizeof(c->c_sv->sv_req));
	return 0;
}

/* Before a command: CLIENT REPLY SKIP covers exactly the next one. */
static void
client_command_begin(struct client *c)
{
	c->c_set->s_stats.commands++;
	c->c_last_ms = client_now_ms();
	if (c->c_flags & CLIENT_REPLY_SKIP) {
		c->c_flags &= ~CLIENT_REPLY_SKIP;
		c->c_flags |= CLIENT_SKIP_THIS;
	}
}

/* After a command: forget what replies were dropped. */
static void
client_command_end(struct client *c)
{
	command_forget_secrets(c);
	c->c_flags &= ~CLIENT_SKIP_THIS;
	evbuffer_drain(c->c_set->s_discard,
	    evbuffer_get_length(c->c_set->s_discard));
}

/*
 * The client's coroutine: parse a request, serve it, repeat. Everything that
 * lives across an await is in c_sv (made with the coroutine by
 * client_wake()).
 */
static int
client_run(struct coro *co, void *arg)
{
	struct client		*c = arg;
	struct client_serve	*sv = c->c_sv;
	struct client_pending	*p;
	enum resp_status	 st;

	CO_BEGIN(co);
	for (;;) {
		if (client_parse(c, &st) == -1)
			CO_FAIL(co, "out of memory");
		if (st == RESP_NEED_MORE) {
			if (c->c_flags & CLIENT_EOF)
				CO_RETURN(co, (void *)(uintptr_t)CLIENT_R_EOF, NULL);
			CO_RETURN(co, CLIENT_CO_IDLE, NULL);
		}
		if (st == RESP_PROTO_ERROR) {
			c->c_set->s_stats.protocol_errors++;
			resp_add_error(client_out(c), "ERR %s",
			    resp_parser_error(c->c_parser));
			client_queue_write(c);
			CO_RETURN(co, (void *)(uintptr_t)CLIENT_R_PROTOCOL, NULL);
		}
		client_command_begin(c);
		if ((sv->sv_command = command_lookup(c)) == NULL) {
			/*
			 * Refused here, never queued on Redis: as Redis
			 * does, the open transaction is then aborted.
			 */
			if (c->c_flags & CLIENT_MULTI)
				c->c_flags |= CLIENT_MULTI_DIRTY;
			client_command_end(c);
			continue;
		}
		if (sv->sv_command->type == COMMAND_SUBSCRIBE) {
			if (command_subscribe_start(c) == -1) {
				client_command_end(c);
				continue;
			}
			for (sv->sv_argi = 1; sv->sv_argi < sv->sv_req.argc;
			    sv->sv_argi++) {
				p = &sv->sv_pending[sv->sv_argi];
				if (p->p_ready != NULL)
					CO_AWAIT(co, p->p_ready);
				command_subscribe_finish(c, sv->sv_argi);
			}
			client_pending_free(c);
		} else if (sv->sv_command->type == COMMAND_UPSTREAM) {
			sv->sv_command->start(c);
			if (sv->sv_settle != NULL) {
				CO_AWAIT(co, sv->sv_settle);
				sv->sv_command->start(c);
			}
			if (sv->sv_wait[0] != NULL) {
				CO_AWAIT(co, sv->sv_wait[0]);
				if (sv->sv_wait[1] != NULL)
					CO_AWAIT(co, sv->sv_wait[1]);
				sv->sv_command->finish(c);
			}
			client_release_waits(c);
		} else if (sv->sv_command->type == COMMAND_QUIT) {
			resp_add_simple(client_reply(c), "OK");
			client_queue_write(c);
			client_command_end(c);
			CO_RETURN(co, (void *)(uintptr_t)CLIENT_R_QUIT, NULL);
		} else
			sv->sv_command->fn(c);
		client_command_end(c);
	}
	CO_END(co);
}

/* Whether this command's replies are sent (not CLIENT REPLY OFF/SKIP). */
int
client_replying(const struct client *c)
{
	return !(c->c_flags & (CLIENT_REPLY_OFF | CLIENT_SKIP_THIS));
}

/*
 * Returns where this command's reply goes: the output, or a scratch buffer
 * that is thrown away if CLIENT REPLY turned replies off.
 */
struct evbuffer *
client_reply(struct client *c)
{
	if (!client_replying(c))
		return c->c_set->s_discard;
	return client_out(c);
}

/* Queues an error reply; Redis turns CR and LF inside it into spaces. */
void
client_reply_error(struct client *c, const char *fmt, ...)
{
	char	 msg[512], *p;
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (p = msg; *p != '\0'; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	resp_add_error(client_reply(c), "%s", msg);
	client_queue_write(c);
}

/*
 * Returns the buffer that output goes to now, after handing over the
 * messages the hub has pending for the client so that they come first:
 * c_out (made on first use), or, behind a reply still to come, the last
 * slot's buffer.
 */
struct evbuffer *
client_out(struct client *c)
{
	struct client_slot	*slot;

	hub_subscriber_flush(c->c_set->s_hub, &c->c_hs);
	if ((slot = TAILQ_LAST(&c->c_slots, client_slots)) != NULL) {
		if (slot->s_after == NULL &&
		    (slot->s_after = evbuffer_new()) == NULL)
			fatalx("out of memory");
		return slot->s_after;
	}
	if (c->c_out == NULL && (c->c_out = evbuffer_new()) == NULL)
		fatalx("out of memory");
	return c->c_out;
}

/* The client's rarely needed part, made now if need be; NULL: no memory. */
struct client_cold *
client_cold(struct client *c)
{
	if (c->c_cold == NULL)
		c->c_cold = calloc(1, sizeof(*c->c_cold));
	return c->c_cold;
}

/* Records the last command's name (copied), for CLIENT LIST's cmd=. */
void
client_set_cmd(struct client *c, const char *name)
{
	struct client_cold	*cold;

	if ((cold = client_cold(c)) == NULL) {
		c->c_cmd = "NULL";	/* only shown: not worth failing */
		return;
	}
	snprintf(cold->cc_cmd, sizeof(cold->cc_cmd), "%s", name);
	c->c_cmd = cold->cc_cmd;
}

/* Switches the protocol (HELLO, RESET); pushes follow it. */
void
client_set_proto(struct client *c, int resp)
{
	c->c_resp = resp;
	hub_subscriber_set_resp3(c->c_set->s_hub, &c->c_hs, resp == 3);
}

/* Arranges for the output to be written at the end of this loop turn. */
void
client_queue_write(struct client *c)
{
	struct client_set	*set = c->c_set;

	if (c->c_flags & (CLIENT_DEAD | CLIENT_FLUSH_QUEUED |
	    CLIENT_WAIT_WRITE))
		return;
	if (TAILQ_EMPTY(&set->s_flushq))
		event_active(set->s_flush_ev, 0, 0);
	TAILQ_INSERT_TAIL(&set->s_flushq, c, c_flush_entry);
	c->c_flags |= CLIENT_FLUSH_QUEUED;
}

/* Writes every queued client's output. */
static void
client_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client_set	*set = arg;
	struct client		*c;

	while ((c = TAILQ_FIRST(&set->s_flushq)) != NULL) {
		TAILQ_REMOVE(&set->s_flushq, c, c_flush_entry);
		c->c_flags &= ~CLIENT_FLUSH_QUEUED;
		client_write(c);
	}
}

/* Waits for the socket to take more. */
static int
client_wait_write(struct client *c)
{
	if (c->c_wev == NULL) {
		c->c_wev = event_new(c->c_set->s_base, c->c_fd,
		    EV_WRITE | EV_PERSIST, client_write_cb, c);
		if (c->c_wev == NULL)
			return -1;
	}
	if (event_add(c->c_wev, NULL) == -1)
		return -1;
	c->c_flags |= CLIENT_WAIT_WRITE;
	return 0;
}

/* Writes as much queued output as the socket takes. */
static void
client_write(struct client *c)
{
	int	n;

	if (c->c_flags & CLIENT_DEAD)
		return;
	if (c->c_flags & CLIENT_TLS) {
		client_tls_write(c);
		return;
	}
	while (c->c_out != NULL && evbuffer_get_length(c->c_out) > 0) {
		n = evbuffer_write(c->c_out, c->c_fd);
		if (n > 0) {
			c->c_set->s_stats.bytes_out += (uint64_t)n;
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR)) {
			if (!(c->c_flags & CLIENT_WAIT_WRITE) &&
			    client_wait_write(c) == -1)
				client_finish(c, CLIENT_R_INTERNAL);
			return;
		}
		client_finish(c, CLIENT_R_WRITE_ERROR);
		return;
	}
	/*
	 * All written: an idle client keeps no buffer (the next reply, or a
	 * message the socket does not take at once, makes a new one).
	 */
	if (c->c_out != NULL) {
		evbuffer_free(c->c_out);
		c->c_out = NULL;
	}
	if (c->c_flags & CLIENT_WAIT_WRITE) {
		event_del(c->c_wev);
		c->c_flags &= ~CLIENT_WAIT_WRITE;
	}
	if ((c->c_flags & CLIENT_CLOSING) && TAILQ_EMPTY(&c->c_slots))
		client_finish(c, c->c_why);
}

/* The socket takes more. */
static void
client_write_cb(evutil_socket_t fd, short what, void *arg)
{
	client_write(arg);
}

/*
 * The hub hands over this client's messages of one batch, as pieces of it.
 * Written at once, all pieces in one system call, when nothing is queued
 * before them; otherwise (or for what the socket does not take) queued
 * behind the queue: small pieces copied (cheaper than a reference, and they
 * do not keep a whole batch alive), larger ones referenced. Never calls
 * back into the hub: a client that fails is only marked, torn down later.
 */
static void
client_deliver(struct hub_subscriber *hs, struct hub_batch *batch,
    struct iovec *iov, int iovcnt, size_t len)
{
	struct client	*c = (struct client *)hs;
	struct evbuffer	*out;
	struct client_slot *slot;
	struct msghdr	 mh;
	const char	*data;
	size_t		 skip = 0, rest;
	ssize_t		 n;
	int		 i;

	if (c->c_flags & (CLIENT_DEAD | CLIENT_CLOSING))
		return;
	if ((slot = TAILQ_LAST(&c->c_slots, client_slots)) == NULL &&
	    (c->c_out == NULL || evbuffer_get_length(c->c_out) == 0) &&
	    !(c->c_flags & (CLIENT_WAIT_WRITE | CLIENT_TLS))) {
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = iov;
		mh.msg_iovlen = (size_t)iovcnt;
		n = sendmsg(c->c_fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0)
			c->c_set->s_stats.bytes_out += (uint64_t)n;
		if (n == (ssize_t)len)
			return;
		if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR) {
			client_finish(c, CLIENT_R_WRITE_ERROR);
			return;
		}
		if (n > 0)
			skip = (size_t)n;
	}
	if (slot != NULL) {
		if (slot->s_after == NULL &&
		    (slot->s_after = evbuffer_new()) == NULL)
			goto nomem;
		out = slot->s_after;
	} else if ((c->c_flags & CLIENT_TLS) && (c->c_out == NULL ||
	    evbuffer_get_length(c->c_out) == 0)) {
		/*
		 * TLS encrypts a copy per client anyway: the pieces go to
		 * the bufferevent, which writes them when the socket takes
		 * them (nothing is queued before them).
		 */
		out = bufferevent_get_output(c->c_cold->cc_bev);
	} else {
		if (c->c_out == NULL && (c->c_out = evbuffer_new()) == NULL)
			goto nomem;
		out = c->c_out;
	}
	for (i = 0; i < iovcnt; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		data = (const char *)iov[i].iov_base + skip;
		rest = iov[i].iov_len - skip;
		skip = 0;
		if (rest <= CLIENT_COPY_MAX) {
			if (evbuffer_add(out, data, rest) == -1)
				goto nomem;
			continue;
		}
		hub_batch_ref(batch);
		if (evbuffer_add_reference(out, data, rest, hub_batch_release,
		    batch) == -1) {
			hub_batch_release(NULL, 0, batch);
			goto nomem;
		}
	}
	if (c->c_flags & CLIENT_TLS) {
		if (slot == NULL && out == c->c_out)
			client_queue_write(c);
		else if (slot == NULL)
			/* Handed to the socket's TLS, as client_tls_write(). */
			c->c_set->s_stats.bytes_out += len;
	} else if (slot == NULL && !(c->c_flags & (CLIENT_WAIT_WRITE |
	    CLIENT_FLUSH_QUEUED)) && client_wait_write(c) == -1)
		goto nomem;
	client_check_output(c);
	return;
nomem:
	client_finish(c, CLIENT_R_INTERNAL);
}

/* Bytes queued for the client and not yet taken by its socket. */
static size_t
client_pending_output(const struct client *c)
{
	const struct client_slot	*slot;
	size_t				 n = 0;

	if (c->c_out != NULL)
		n = evbuffer_get_length(c->c_out);
	if (c->c_flags & CLIENT_TLS)
		n += evbuffer_get_length(bufferevent_get_output(
		    c->c_cold->cc_bev));
	TAILQ_FOREACH(slot, &c->c_slots, s_entry)
		if (slot->s_after != NULL)
			n += evbuffer_get_length(slot->s_after);
	return n;
}

/*
 * Enforces the output limits, as Redis' client-output-buffer-limit does
 * for pubsub clients: over the hard limit, or over the soft one for longer
 * than its seconds, the client is cut off (and the others never wait for
 * it). Returns -1 if it was.
 */
static int
client_check_output(struct client *c)
{
	const struct client_conf	*conf = c->c_set->s_conf;
	long long			 n = (long long)client_pending_output(c);
	long long			 now;

	if (conf->output_hard > 0 && n > conf->output_hard) {
		log_info("client %llu: closed: %lld bytes of output, over the "
		    "hard limit (%lld)", (unsigned long long)c->c_id, n,
		    conf->output_hard);
		client_finish(c, CLIENT_R_OUTPUT_HARD);
		return -1;
	}
	if (conf->output_soft == 0 || n <= conf->output_soft) {
		c->c_soft_since = 0;
		return 0;
	}
	now = client_now_ms();
	if (c->c_soft_since == 0)
		c->c_soft_since = now;
	else if (now - c->c_soft_since >= conf->output_soft_seconds * 1000LL) {
		log_info("client %llu: closed: output over the soft limit "
		    "(%lld) for %d seconds", (unsigned long long)c->c_id,
		    conf->output_soft, conf->output_soft_seconds);
		client_finish(c, CLIENT_R_OUTPUT_SOFT);
		return -1;
	}
	return 0;
}

/*
 * Adds a slot for a reply that fut will bring (a new reference is taken);
 * output that follows waits behind it.
 */
struct client_slot *
client_slot_add(struct client *c, struct future *fut)
{
	struct client_slot	*slot;

	hub_subscriber_flush(c->c_set->s_hub, &c->c_hs);
	if ((slot = calloc(1, sizeof(*slot))) == NULL)
		return NULL;
	slot->s_client = c;
	slot->s_silent = !client_replying(c);
	slot->s_fut = future_ref(fut);
	TAILQ_INSERT_TAIL(&c->c_slots, slot, s_entry);
	slot->s_cb = future_add_callback(fut, client_slot_done, slot);
	return slot;
}

/* The future of the last slot (borrowed), or NULL if none is pending. */
struct future *
client_slots_last(struct client *c)
{
	struct client_slot	*slot = TAILQ_LAST(&c->c_slots, client_slots);

	return slot != NULL ? slot->s_fut : NULL;
}

/* A slot's reply came: release what waits on the slots before it. */
static void
client_slot_done(struct future *fut, void *arg)
{
	struct client_slot	*slot = arg;

	slot->s_cb = NULL;
	if (TAILQ_FIRST(&slot->s_client->c_slots) == slot)
		client_slots_advance(slot->s_client);
}

/*
 * Moves the replies of the leading done slots, and what waited behind each,
 * into the output.
 */
static void
client_slots_advance(struct client *c)
{
	struct client_slot		*slot;
	const struct cmdconn_reply	*r;

	while ((slot = TAILQ_FIRST(&c->c_slots)) != NULL &&
	    !future_is_pending(slot->s_fut)) {
		if (c->c_out == NULL && (c->c_out = evbuffer_new()) == NULL)
			fatalx("out of memory");
		r = future_state(slot->s_fut) == FUTURE_DONE ?
		    future_result(slot->s_fut) : NULL;
		if (r != NULL && slot->s_select && r->type == CMDCONN_STATUS)
			c->c_db = slot->s_db;
		if (slot->s_silent)
			;
		else if (slot->s_execabort)
			resp_add_error(c->c_out, "EXECABORT Transaction "
			    "discarded because of previous errors.");
		else if (r != NULL)
			cmdconn_reply_encode_proto(c->c_out, r, c->c_resp);
		else
			resp_add_error(c->c_out, "ERR %s",
			    future_error(slot->s_fut));
		if (slot->s_after != NULL)
			evbuffer_add_buffer(c->c_out, slot->s_after);
		client_slot_free(slot);
	}
	client_queue_write(c);
	if ((c->c_flags & CLIENT_PT_LOST) && TAILQ_EMPTY(&c->c_slots))
		client_close(c, 1, CLIENT_R_PASSTHROUGH);
}

/* Unlinks and frees a slot. */
static void
client_slot_free(struct client_slot *slot)
{
	TAILQ_REMOVE(&slot->s_client->c_slots, slot, s_entry);
	if (slot->s_cb != NULL)
		future_remove_callback(slot->s_fut, slot->s_cb);
	future_unref(slot->s_fut);
	if (slot->s_after != NULL)
		evbuffer_free(slot->s_after);
	free(slot);
}

/*
 * Formats an address as Redis does: "ip:port" ("[v6]:port" not used), or
 * "path:0" for a Unix socket.
 */
static const char *
client_addr_string(const struct sockaddr *ss, char *buf, size_t len)
{
	char	ip[INET6_ADDRSTRLEN];

	if (ss->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(s6->sin6_port));
	} else if (ss->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(s4->sin_port));
	} else if (ss->sa_family == AF_UNIX) {
		const struct sockaddr_un *su = (const void *)ss;

		/* conf.c keeps paths short enough to end in a NUL. */
		snprintf(buf, len, "%.*s:0", (int)sizeof(su->sun_path),
		    su->sun_path);
	} else
		snprintf(buf, len, "?:0");
	return buf;
}

/* The peer's address as "ip:port" (borrowed buf). */
const char *
client_peer_name(struct client *c, char *buf, size_t len)
{
	if (c->c_flags & CLIENT_UNIX)
		return client_local_name(c, buf, len);
	return client_addr_string(&c->c_peer.sa, buf, len);
}

/* Our end's address as "ip:port" (borrowed buf), asked of the socket. */
const char *
client_local_name(struct client *c, char *buf, size_t len)
{
	struct sockaddr_storage	ss;
	socklen_t		sslen = sizeof(ss);

	memset(&ss, 0, sizeof(ss));
	(void)getsockname(c->c_fd, (struct sockaddr *)&ss, &sslen);
	return client_addr_string((struct sockaddr *)&ss, buf, len);
}

/* Appends the client's CLIENT LIST line (Redis' fields, with ours). */
void
client_format_info(struct client *c, struct evbuffer *out)
{
	char		 addr[CLIENT_ADDR_MAX], laddr[CLIENT_ADDR_MAX];
	time_t		 now = time(NULL);
	long long	 idle = (client_now_ms() - c->c_last_ms) / 1000;
	const char	*name = client_name(c);
	size_t		 qbuf = client_qbuf(c);
	size_t		 omem = c->c_out ? evbuffer_get_length(c->c_out) : 0;
	int		 pubsub = c->c_nsubs + c->c_nshard > 0;
	int		 local = (c->c_flags & CLIENT_UNIX) != 0;

	if (c->c_flags & CLIENT_TLS)
		omem += evbuffer_get_length(bufferevent_get_output(
		    c->c_cold->cc_bev));

	evbuffer_add_printf(out, "id=%llu addr=%s laddr=%s fd=%d name=%s "
	    "age=%lld idle=%lld flags=%s db=%d sub=%u psub=%u ssub=%u "
	    "multi=%d qbuf=%zu qbuf-free=0 argv-mem=0 multi-mem=0 rbs=%d "
	    "rbp=0 obl=0 oll=0 omem=%zu tot-mem=%zu events=r%s cmd=%s "
	    "user=%s redir=-1 resp=%d\n",
	    (unsigned long long)c->c_id,
	    client_peer_name(c, addr, sizeof(addr)),
	    client_local_name(c, laddr, sizeof(laddr)), c->c_fd,
	    name ? name : "", (long long)(now - c->c_created),
	    idle, pubsub ? (local ? "PU" : "P") :
	    (local ? "U" : "N"), c->c_db,
	    (unsigned)c->c_held[UPSTREAM_CHANNEL],
	    (unsigned)c->c_held[UPSTREAM_PATTERN],
	    (unsigned)c->c_held[UPSTREAM_SHARD],
	    (c->c_flags & CLIENT_MULTI) ? 0 : -1, qbuf, CLIENT_READ_MAX,
	    omem, sizeof(*c) + qbuf + omem, omem > 0 ? "w" : "", c->c_cmd,
	    /* Not logged in: Redis shows its default user too. */
	    c->c_user != NULL ? acl_user_name(c->c_user) : ACL_DEFAULT_USER,
	    c->c_resp);
}

/*
 * TLS clients. The socket belongs to a bufferevent that runs the TLS (see
 * tls.h): what it decrypts is moved into c_in, and what the client is sent
 * goes to its output buffer, which it encrypts and writes when the socket
 * takes it. Everything else (parsing, serving, slots, limits, closing) is
 * the plain clients' code. The handshake has a deadline of its own, which
 * no trickle of bytes extends.
 */

/* Starts a TLS client's handshake; -1 if it cannot (fd still c's). */
static int
client_tls_start(struct client *c)
{
	struct client_set	*set = c->c_set;
	struct client_cold	*cold;
	int			 ms = set->s_conf->tls_handshake_timeout;
	struct timeval		 tv = { ms / 1000, (ms % 1000) * 1000 };

	if (set->s_tls == NULL || (cold = client_cold(c)) == NULL ||
	    (cold->cc_bev = tls_accept(set->s_base, set->s_tls,
	    c->c_fd)) == NULL)
		return -1;
	/* From here on, the bufferevent owns the socket. */
	c->c_flags |= CLIENT_TLS;
	set->s_stats.tls_connected++;
	set->s_stats.tls_accepted++;
	bufferevent_setcb(cold->cc_bev, client_tls_read_cb,
	    client_tls_write_cb, client_tls_event_cb, c);
	if ((cold->cc_hs_ev = evtimer_new(set->s_base, client_tls_timeout_cb,
	    c)) == NULL || evtimer_add(cold->cc_hs_ev, &tv) == -1 ||
	    bufferevent_enable(cold->cc_bev, EV_READ | EV_WRITE) == -1)
		return -1;
	return 0;
}

/* Logs, counts and closes a client whose handshake did not succeed. */
static void
client_tls_failed(struct client *c, const char *why)
{
	char	addr[CLIENT_ADDR_MAX];

	c->c_set->s_stats.tls_handshake_failures++;
	log_info("client %llu: TLS handshake with %s failed: %s",
	    (unsigned long long)c->c_id,
	    client_peer_name(c, addr, sizeof(addr)), why);
	client_close(c, 0, CLIENT_R_TLS_HANDSHAKE);
}

/* The handshake's deadline passed. */
static void
client_tls_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client	*c = arg;
	char		 why[64];

	snprintf(why, sizeof(why), "not done within %d ms",
	    c->c_set->s_conf->tls_handshake_timeout);
	client_tls_failed(c, why);
}

/* Decrypted input: into c_in, as a plain read would have put it. */
static void
client_tls_read_cb(struct bufferevent *bev, void *arg)
{
	struct client	*c = arg;

	if (c->c_in == NULL && (c->c_in = evbuffer_new()) == NULL) {
		log_warnx("client %llu: out of memory",
		    (unsigned long long)c->c_id);
		client_close(c, 0, CLIENT_R_INTERNAL);
		return;
	}
	/* Moves the chains, copies nothing. */
	if (evbuffer_add_buffer(c->c_in, bufferevent_get_input(bev)) == -1) {
		client_close(c, 0, CLIENT_R_INTERNAL);
		return;
	}
	if ((long long)client_qbuf(c) > c->c_set->s_conf->query_buffer) {
		log_info("client %llu: closed: over the query buffer limit",
		    (unsigned long long)c->c_id);
		client_close(c, 0, CLIENT_R_QUERY_BUFFER);
		return;
	}
	client_wake(c);
}

/*
 * The bufferevent wrote all it had: a client closing once its output is
 * out can go now.
 */
static void
client_tls_write_cb(struct bufferevent *bev, void *arg)
{
	struct client	*c = arg;

	if ((c->c_flags & CLIENT_CLOSING) && TAILQ_EMPTY(&c->c_slots) &&
	    (c->c_out == NULL || evbuffer_get_length(c->c_out) == 0))
		client_finish(c, c->c_why);
}

/* The handshake finished or failed, or the connection ended. */
static void
client_tls_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct client	*c = arg;
	char		 why[256];

	if (what & BEV_EVENT_CONNECTED) {
		c->c_flags |= CLIENT_TLS_UP;
		event_free(c->c_cold->cc_hs_ev);
		c->c_cold->cc_hs_ev = NULL;
		log_debug("client %llu: %s", (unsigned long long)c->c_id,
		    tls_version(bev));
		return;
	}
	if (!(c->c_flags & CLIENT_TLS_UP)) {
		if (what & BEV_EVENT_EOF)
			snprintf(why, sizeof(why), "the peer closed the "
			    "connection");
		else
			tls_error(bev, why, sizeof(why));
		client_tls_failed(c, why);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		/* End of input: serve what was read, then close. */
		c->c_flags |= CLIENT_EOF;
		bufferevent_disable(bev, EV_READ);
		client_wake(c);
		return;
	}
	log_debug("client %llu: TLS: %s", (unsigned long long)c->c_id,
	    tls_error(bev, why, sizeof(why)));
	/* Flushing before a close: nothing more can go out, finish now. */
	if (c->c_flags & CLIENT_CLOSING)
		client_finish(c, (what & BEV_EVENT_WRITING) ?
		    CLIENT_R_WRITE_ERROR : c->c_why);
	else
		client_close(c, 0, (what & BEV_EVENT_WRITING) ?
		    CLIENT_R_WRITE_ERROR : CLIENT_R_READ_ERROR);
}

/*
 * Hands the queued output to the bufferevent (which writes it as the
 * socket takes it), and finishes a closing client with nothing left.
 */
static void
client_tls_write(struct client *c)
{
	struct evbuffer	*out = bufferevent_get_output(c->c_cold->cc_bev);
	size_t		 n;

	if (c->c_out != NULL) {
		n = evbuffer_get_length(c->c_out);
		if (evbuffer_add_buffer(out, c->c_out) == -1) {
			client_finish(c, CLIENT_R_INTERNAL);
			return;
		}
		c->c_set->s_stats.bytes_out += n;
		evbuffer_free(c->c_out);
		c->c_out = NULL;
	}
	if (client_check_output(c) == -1)
		return;
	if ((c->c_flags & CLIENT_CLOSING) && TAILQ_EMPTY(&c->c_slots) &&
	    evbuffer_get_length(out) == 0)
		client_finish(c, c->c_why);
}
