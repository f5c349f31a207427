/*
 * client.c: the RESP clients' connections (see client.h): accepting,
 * reading, writing, limits and closing. TLS is client_tls.c; what a client
 * is apart from its connection is its session (session.c), and what it
 * asks for is served by command.c.
 *
 * Reading only fills the input buffer and wakes the session's coroutine
 * (command_serve()), which asks for one request at a time (client_next()).
 *
 * Output: the session's replies wait in its output buffer and are written
 * at the end of the loop turn (the set's flush queue); messages arrive from
 * the hub once per batch (client_deliver()) and go straight to the socket,
 * all pieces in one system call, when nothing is queued before them, or
 * wait behind what is queued. A write event exists only once the socket
 * has been full.
 *
 * Closing is two-phase: client_close() stops the client at once (and may let
 * it flush first); the teardown that touches the hub and frees memory runs
 * from the set's reap event on a later loop turn, never from inside one of
 * the client's own callbacks or the hub's.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "acl.h"
#include "client_impl.h"
#include "command.h"
#include "log.h"
#include "resp.h"
#include "tls.h"

#define CLIENT_CLOSE_FLUSH_SEC	5		/* bound on flushing at close */
#define CLIENT_READS_BATCH	256		/* ready clients per epoll_wait */

static void	client_reads_cb(evutil_socket_t, short, void *);
static void	client_read(struct client *);
static int	client_read_start(struct client *);
static void	client_read_stop(struct client *);
static void	client_write_cb(evutil_socket_t, short, void *);
static void	client_close_cb(evutil_socket_t, short, void *);
static void	client_flush_cb(evutil_socket_t, short, void *);
static void	client_reap_cb(evutil_socket_t, short, void *);
static void	client_idle_cb(evutil_socket_t, short, void *);
static void	client_web_cb(evutil_socket_t, short, void *);
static size_t	client_pending_output(const struct client *);
static void	client_free(struct client *);
static void	client_write(struct client *);
static int	client_wait_write(struct client *);
static size_t	client_qbuf(const struct client *);
static int	client_next(void *, struct resp_req *, enum resp_status *,
		    int *, const char **);
static void	client_deliver(void *, struct hub_batch *, struct iovec *, int,
		    size_t);
static void	client_io_behind(void *, int);
static void	client_io_close(void *, int, enum session_end);
static const char *client_addr(void *, int, char *, size_t);
static void	client_describe(void *, struct session_peer *);

/* How a session reaches its RESP connection. */
static const struct session_io client_io = {
	client_next, client_queue_write, client_deliver, client_io_behind,
	client_io_close, client_addr, client_describe
};

/* Returns a new, empty client set. */
struct client_set *
client_set_new(struct event_base *base, struct hub *hub, struct upstream *up,
    const struct session_conf *conf)
{
	struct client_set	*set;

	if ((set = calloc(1, sizeof(*set))) == NULL)
		return NULL;
	set->s_epfd = epoll_create1(EPOLL_CLOEXEC);
	pool_init(&set->s_pool, sizeof(struct client));
	pool_init(&set->s_cold_pool, sizeof(struct client_cold));
	client_web_pools(set);
	TAILQ_INIT(&set->s_dead);
	TAILQ_INIT(&set->s_flushq);
	set->s_flush_ev = event_new(base, -1, 0, client_flush_cb, set);
	set->s_reap_ev = event_new(base, -1, 0, client_reap_cb, set);
	set->s_idle_ev = event_new(base, -1, EV_PERSIST, client_idle_cb, set);
	set->s_web_ev = event_new(base, -1, EV_PERSIST, client_web_cb, set);
	if (set->s_epfd != -1)
		set->s_reads_ev = event_new(base, set->s_epfd,
		    EV_READ | EV_PERSIST, client_reads_cb, set);
	if (session_env_init(&set->s_env, base, hub, up, conf) == -1 ||
	    set->s_flush_ev == NULL || set->s_reap_ev == NULL ||
	    set->s_idle_ev == NULL || set->s_reads_ev == NULL ||
	    set->s_web_ev == NULL || event_add(set->s_reads_ev, NULL) == -1) {
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
	struct session	*s;

	if (set == NULL)
		return;
	while ((s = session_env_first(&set->s_env)) != NULL)
		client_finish(session_arg(s), SESSION_END_SHUTDOWN);
						/* also the flushing */
	while ((c = TAILQ_FIRST(&set->s_dead)) != NULL) {
		TAILQ_REMOVE(&set->s_dead, c, c_qentry);
		client_free(c);
	}
	if (set->s_flush_ev != NULL)
		event_free(set->s_flush_ev);
	if (set->s_reap_ev != NULL)
		event_free(set->s_reap_ev);
	if (set->s_idle_ev != NULL)
		event_free(set->s_idle_ev);
	if (set->s_web_ev != NULL)
		event_free(set->s_web_ev);
	session_env_destroy(&set->s_env);
	tls_ctx_unref(set->s_tls);
	if (set->s_reads_ev != NULL)
		event_free(set->s_reads_ev);
	if (set->s_epfd != -1)
		close(set->s_epfd);
	pool_destroy(&set->s_pool);
	pool_destroy(&set->s_cold_pool);
	pool_destroy(&set->s_web_pool);
	pool_destroy(&set->s_ws_pool);
	free(set);
}

/* Closes every client, flushing first; done(arg) once all are gone. */
void
client_set_shutdown(struct client_set *set, void (*done)(void *), void *arg)
{
	struct session	*s, *next;

	set->s_done = done;
	set->s_done_arg = arg;
	for (s = session_env_first(&set->s_env); s != NULL; s = next) {
		next = session_next(s);
		client_close(session_arg(s), 1, SESSION_END_SHUTDOWN);
	}
	if (session_env_first(&set->s_env) == NULL)
		event_active(set->s_reap_ev, 0, 0);
}

/* Once a second: closes the clients idle (and unsubscribed) too long. */
static void
client_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client_set	*set = arg;
	struct client		*c;
	struct session		*s, *next;
	long long		 now = session_now_ms();

	for (s = session_env_first(&set->s_env); s != NULL; s = next) {
		next = session_next(s);
		c = session_arg(s);
		if (session_subscribed(s) || command_subscribing(s) ||
		    !session_slots_empty(s) ||
		    (c->c_flags & (CLIENT_CLOSING | CLIENT_DEAD)) ||
		    now - session_last_ms(s) <
		    set->s_env.se_conf->idle_timeout * 1000LL)
			continue;
		client_close(c, 0, SESSION_END_IDLE);
	}
}

/* Once a second while web clients are connected: their streams' comments. */
static void
client_web_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client_set	*set = arg;

	if (set->s_env.se_stats.web_connected == 0) {
		event_del(set->s_web_ev);
		return;
	}
	client_web_keepalive(set, session_now_ms());
}

const struct session_stats *
client_set_stats(const struct client_set *set)
{
	return &set->s_env.se_stats;
}

/* When the set was made. */
time_t
client_set_started(const struct client_set *set)
{
	return set->s_env.se_started;
}

/* What the clients hold in memory now. */
void
client_set_memory(const struct client_set *set, struct client_mem *mem)
{
	struct session_mem	sm;

	session_env_memory(&set->s_env, &sm);
	mem->clients = sm.clients;
	mem->input = sm.input;
	mem->output = sm.output;
	mem->output_max = sm.output_max;
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

/*
 * Whether a new connection may be served: not while stopping, not past
 * maxclients, nor past the default user's max_connections. If not, as
 * Redis: a best-effort error, then the door (only the door for TLS: no
 * handshake is spent on a refusal). Owns fd when it refuses.
 */
static int
client_admit(struct client_set *set, evutil_socket_t fd, int tls)
{
	static const char	 full[] =
				    "-ERR max number of clients reached\r\n";
	static const char	 user_full[] = "-ERR max number of "
				    "connections of the default user reached\r\n";
	const struct session_conf *conf = set->s_env.se_conf;
	struct acl_user		*u = acl_login_user(conf->acl);
	const char		*msg;

	if (set->s_done != NULL || set->s_env.se_stats.connected >=
	    (uint64_t)conf->maxclients)
		msg = full;
	else if (u != NULL && !acl_user_has_room(u))
		msg = user_full;
	else
		return 1;
	set->s_env.se_stats.rejected_max++;
	if (!tls)
		(void)send(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT);
	evutil_closesocket(fd);
	return 0;
}

/*
 * Keeps the peer's address, in the room an IPv6 one takes (it could not be
 * asked for once the peer has reset the connection); our end's is asked
 * for when shown. The peer of a Unix socket has no name: Redis shows the
 * socket's path for both ends, and so do we. Sets the socket's options.
 */
static void
client_socket_setup(struct client *c, evutil_socket_t fd, int keepalive)
{
	struct sockaddr_storage	ss;
	socklen_t		len;
	int			one = 1, idle = keepalive, intvl = 15, cnt = 3;

	memset(&ss, 0, sizeof(ss));
	len = sizeof(ss);
	(void)getsockname(fd, (struct sockaddr *)&ss, &len);
	if (ss.ss_family == AF_UNIX) {
		c->c_flags |= CLIENT_UNIX;
		return;
	}
	memset(&ss, 0, sizeof(ss));
	len = sizeof(ss);
	(void)getpeername(fd, (struct sockaddr *)&ss, &len);
	if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)
		memcpy(&c->c_peer, &ss, ss.ss_family == AF_INET ?
		    sizeof(c->c_peer.sin) : sizeof(c->c_peer.sin6));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (idle <= 0)
		return;
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl,
	    sizeof(intvl));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

/* Serves a new connection; owns fd on every path. */
struct client *
client_accept(struct client_set *set, evutil_socket_t fd, int tls, int http)
{
	struct client	*c;
	uint64_t	 id;

	if (!client_admit(set, fd, tls))
		return NULL;
	if (evutil_make_socket_nonblocking(fd) == -1 ||
	    (c = pool_get(&set->s_pool)) == NULL) {
		log_warn("accept");
		evutil_closesocket(fd);
		return NULL;
	}
	if ((c->c_session = session_new(&set->s_env, &client_io, c)) == NULL) {
		log_warn("accept");
		pool_put(&set->s_pool, c);
		evutil_closesocket(fd);
		return NULL;
	}
	client_socket_setup(c, fd, set->s_env.se_conf->tcp_keepalive);
	c->c_fd = fd;
	set->s_env.se_stats.connected++;
	set->s_env.se_stats.accepted++;
	id = session_id(c->c_session);
	if (http) {
		struct timeval	tv = { 1, 0 };

		if (client_web_start(c) == -1 ||
		    (!event_pending(set->s_web_ev, EV_TIMEOUT, NULL) &&
		    event_add(set->s_web_ev, &tv) == -1)) {
			log_warnx("client %llu: out of memory",
			    (unsigned long long)id);
			client_close(c, 0, SESSION_END_INTERNAL);
			return NULL;
		}
	}
	if (tls) {
		if (client_tls_start(c) == -1) {
			log_warnx("client %llu: cannot start TLS%s",
			    (unsigned long long)id, set->s_tls == NULL ?
			    ": no TLS context" : ": out of memory");
			client_close(c, 0, SESSION_END_INTERNAL);
			return NULL;
		}
	} else if (client_read_start(c) == -1) {
		log_warn("client %llu: epoll_ctl", (unsigned long long)id);
		client_close(c, 0, SESSION_END_INTERNAL);
		return NULL;
	}
	log_debug("client %llu: connected", (unsigned long long)id);
	return c;
}

/* The id the log shows. */
static unsigned long long
client_id(const struct client *c)
{
	return (unsigned long long)session_id(c->c_session);
}

/* Stops a client; teardown follows on a later loop turn. */
void
client_close(struct client *c, int flush, enum session_end why)
{
	struct timeval	tv = { CLIENT_CLOSE_FLUSH_SEC, 0 };
	struct evbuffer	*out;

	if (c->c_flags & (CLIENT_DEAD | CLIENT_CLOSING))
		return;
	c->c_why = (uint8_t)why;
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
	command_stop(c->c_session);
	session_flush_messages(c->c_session);
	out = session_output(c->c_session);
	if (flush && (!session_slots_empty(c->c_session) || (out != NULL &&
	    evbuffer_get_length(out) > 0) || ((c->c_flags & CLIENT_TLS) &&
	    client_tls_pending(c) > 0) || ((c->c_flags & CLIENT_WEB) &&
	    client_web_pending(c) > 0))) {
		c->c_flags |= CLIENT_CLOSING;
		if (client_cold(c) != NULL &&
		    (c->c_cold->cc_close_ev = evtimer_new(
		    client_set_of(c)->s_env.se_base,
		    client_close_cb, c)) != NULL &&
		    evtimer_add(c->c_cold->cc_close_ev, &tv) == 0) {
			client_queue_write(c);
			return;
		}
	}
	client_finish(c, why);
}

/* A WebSocket frames the messages behind a slot with its replies. */
static void
client_io_behind(void *arg, int behind)
{
	struct client		*c = arg;
	struct client_ws	*ws;

	if ((c->c_flags & CLIENT_WEB) && (ws = client_web_ws(c)) != NULL)
		client_ws_behind(ws, behind);
}

/* The session closes its connection. */
static void
client_io_close(void *arg, int flush, enum session_end why)
{
	client_close(arg, flush, why);
}

/* A closing client took too long to flush. */
static void
client_close_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client	*c = arg;

	log_debug("client %llu: timed out flushing output", client_id(c));
	client_finish(c, c->c_why);
}

/*
 * Marks a client dead and queues its teardown. why counts unless the client
 * was already closing: then the reason it started closing for counts.
 */
void
client_finish(struct client *c, enum session_end why)
{
	struct client_set	*set = client_set_of(c);

	if (c->c_flags & CLIENT_DEAD)
		return;
	if (c->c_flags & CLIENT_CLOSING) {
		if (why != c->c_why)
			log_debug("client %llu: %s while closing", client_id(c),
			    session_end_text(why));
	} else
		c->c_why = (uint8_t)why;
	log_debug("client %llu: closed: %s", client_id(c),
	    session_end_text(c->c_why));
	set->s_env.se_stats.disconnects[c->c_why]++;
	c->c_flags |= CLIENT_DEAD;
	session_end(c->c_session);
	command_stop(c->c_session);
	if (c->c_flags & CLIENT_FLUSH_QUEUED) {
		TAILQ_REMOVE(&set->s_flushq, c, c_qentry);
		c->c_flags &= ~CLIENT_FLUSH_QUEUED;
	}
	client_read_stop(c);
	if (c->c_cold != NULL && c->c_cold->cc_wev != NULL)
		event_del(c->c_cold->cc_wev);
	if (c->c_cold != NULL && c->c_cold->cc_close_ev != NULL)
		event_del(c->c_cold->cc_close_ev);
	if (c->c_flags & CLIENT_TLS) {
		/* Silent till freed on the reap turn (it owns the socket). */
		bufferevent_disable(c->c_cold->cc_bev, EV_READ | EV_WRITE);
		bufferevent_setcb(c->c_cold->cc_bev, NULL, NULL, NULL, NULL);
		if (c->c_cold->cc_hs_ev != NULL)
			event_del(c->c_cold->cc_hs_ev);
		set->s_env.se_stats.tls_connected--;
	}
	/* Off the flush queue (above), so c_qentry is free for it. */
	TAILQ_INSERT_TAIL(&set->s_dead, c, c_qentry);
	set->s_env.se_stats.connected--;
	event_active(set->s_reap_ev, 0, 0);
}

/* Releases everything a dead client holds. */
static void
client_free(struct client *c)
{
	struct client_set	*set = client_set_of(c);

	if (c->c_flags & CLIENT_TLS)
		set->s_env.se_stats.output_discarded += client_tls_pending(c);
	client_read_stop(c);
	client_web_free(c);
	command_release(c->c_session);
	session_free(c->c_session);	/* client_set_of(c) no more */
	if (c->c_cold != NULL && c->c_cold->cc_wev != NULL)
		event_free(c->c_cold->cc_wev);
	if (c->c_cold != NULL && c->c_cold->cc_close_ev != NULL)
		event_free(c->c_cold->cc_close_ev);
	if (c->c_in != NULL)
		evbuffer_free(c->c_in);
	resp_parser_free(c->c_parser);
	if (c->c_cold != NULL && c->c_cold->cc_hs_ev != NULL)
		event_free(c->c_cold->cc_hs_ev);
	/* A TLS client's bufferevent closes the socket and frees the TLS. */
	if (c->c_cold != NULL && c->c_cold->cc_bev != NULL)
		bufferevent_free(c->c_cold->cc_bev);
	else
		evutil_closesocket(c->c_fd);
	pool_put(&set->s_cold_pool, c->c_cold);
	pool_put(&set->s_pool, c);
}

/* Tears down the clients closed since the last turn. */
static void
client_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client_set	*set = arg;
	struct client		*c;

	while ((c = TAILQ_FIRST(&set->s_dead)) != NULL) {
		TAILQ_REMOVE(&set->s_dead, c, c_qentry);
		client_free(c);
	}
	if (set->s_done != NULL && session_env_first(&set->s_env) == NULL)
		set->s_done(set->s_done_arg);
}

/* Moves every client to the new set of users (see client.h). */
void
client_set_users_changed(struct client_set *set)
{
	struct client	*c;
	struct session	*s, *next;

	for (s = session_env_first(&set->s_env); s != NULL; s = next) {
		next = session_next(s);
		c = session_arg(s);
		if (session_user(c->c_session) == NULL)
			continue;
		if (session_rebind_user(c->c_session) == -1) {
			client_close(c, 0, SESSION_END_KILLED);
			continue;
		}
		if (!(c->c_flags & (CLIENT_CLOSING | CLIENT_DEAD)))
			command_revoke(c->c_session);
	}
}

/* Redis moved: see client.h. */
void
client_set_redis_moved(struct client_set *set)
{
	struct client	*c;
	struct session	*s, *next;

	for (s = session_env_first(&set->s_env); s != NULL; s = next) {
		next = session_next(s);
		c = session_arg(s);
		if (!(c->c_flags & (CLIENT_CLOSING | CLIENT_DEAD)))
			command_redis_moved(c->c_session);
	}
}

/* The connection's rarely needed part, made now if need be; NULL: none. */
struct client_cold *
client_cold(struct client *c)
{
	if (c->c_cold == NULL)
		c->c_cold = pool_get(&client_set_of(c)->s_cold_pool);
	return c->c_cold;
}

/*
 * Input arrived or the peer closed: the session's coroutine serves it
 * (started unless it runs).
 */
void
client_wake(struct client *c)
{
	command_serve(c->c_session);
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
	if (epoll_ctl(client_set_of(c)->s_epfd, EPOLL_CTL_ADD, c->c_fd,
	    &ev) == -1)
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
	(void)epoll_ctl(client_set_of(c)->s_epfd, EPOLL_CTL_DEL, c->c_fd, NULL);
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

/*
 * After input was added to c_in: closes a client over the query buffer
 * limit (returns 1), else returns 0.
 */
int
client_over_query_buffer(struct client *c)
{
	if ((long long)client_qbuf(c) <=
	    client_set_of(c)->s_env.se_conf->query_buffer)
		return 0;
	log_info("client %llu: closed: over the query buffer limit",
	    client_id(c));
	client_close(c, 0, SESSION_END_QUERY_BUFFER);
	return 1;
}

/* The socket is readable. */
static void
client_read(struct client *c)
{
	int	n;

	if (c->c_in == NULL && (c->c_in = evbuffer_new()) == NULL) {
		log_warnx("client %llu: out of memory", client_id(c));
		client_close(c, 0, SESSION_END_INTERNAL);
		return;
	}
	n = evbuffer_read(c->c_in, c->c_fd, CLIENT_READ_MAX);
	if (n > 0) {
		if (!client_over_query_buffer(c))
			client_wake(c);
		return;
	}
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return;
	if (n == -1) {
		client_close(c, 0, SESSION_END_READ_ERROR);
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
 * Parses the next request into req (session_io.next). The input buffer
 * and the parser exist only while there is input to serve: made by the
 * first read (the buffer) and the first parse (the parser) of a burst,
 * freed when the coroutine runs out of input between requests. An idle
 * client then holds neither (most of what one costs otherwise: the
 * parser's arena).
 */
static int
client_next(void *arg, struct resp_req *req, enum resp_status *st, int *eof,
    const char **error)
{
	struct client			*c = arg;
	const struct session_conf	*conf = client_set_of(c)->s_env.se_conf;
	struct resp_limits		 limits;

	if (c->c_flags & CLIENT_WEB)
		return client_web_next(c, req, st, eof, error);
	*st = RESP_NEED_MORE;
	*eof = (c->c_flags & CLIENT_EOF) != 0;
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
	*st = resp_parse(c->c_parser, c->c_in, req);
	if (*st == RESP_PROTO_ERROR)
		*error = resp_parser_error(c->c_parser);
	if (*st != RESP_NEED_MORE || !resp_parser_idle(c->c_parser) ||
	    evbuffer_get_length(c->c_in) > 0)
		return 0;
	resp_parser_free(c->c_parser);
	c->c_parser = NULL;
idle:
	evbuffer_free(c->c_in);
	c->c_in = NULL;
	memset(req, 0, sizeof(*req));
	return 0;
}

/* Counts n bytes written to c's socket (and to a web client's). */
void
client_count_out(struct client *c, uint64_t n)
{
	struct session_stats	*st = &client_set_of(c)->s_env.se_stats;

	st->bytes_out += n;
	if (c->c_flags & CLIENT_WEB)
		st->web_bytes_out += n;
}

struct evbuffer *
client_wire(struct client *c, int make)
{
	struct client_ws	*ws;

	if ((c->c_flags & CLIENT_WEB) && (ws = client_web_ws(c)) != NULL)
		return client_ws_wire(ws, make);
	return make ? session_output_make(c->c_session) :
	    session_output(c->c_session);
}

void
client_wire_done(struct client *c)
{
	struct client_ws	*ws;

	if ((c->c_flags & CLIENT_WEB) && (ws = client_web_ws(c)) != NULL)
		client_ws_wire_done(ws);
	else
		session_output_done(c->c_session);
}

/* Arranges for the output to be written at the end of this loop turn. */
void
client_queue_write(void *arg)
{
	struct client		*c = arg;
	struct client_set	*set = client_set_of(c);

	if (c->c_flags & CLIENT_DEAD)
		return;
	/*
	 * A web client's replies are framed, or set its stream up, as they
	 * come (each reply once, whether a write is queued already or not).
	 */
	if ((c->c_flags & CLIENT_WEB) && client_web_replies(c))
		return;
	/* (Framing may have failed and finished the client.) */
	if (c->c_flags & (CLIENT_DEAD | CLIENT_FLUSH_QUEUED |
	    CLIENT_WAIT_WRITE))
		return;
	if (TAILQ_EMPTY(&set->s_flushq))
		event_active(set->s_flush_ev, 0, 0);
	TAILQ_INSERT_TAIL(&set->s_flushq, c, c_qentry);
	c->c_flags |= CLIENT_FLUSH_QUEUED;
}

/* Writes every queued client's output. */
static void
client_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client_set	*set = arg;
	struct client		*c;

	while ((c = TAILQ_FIRST(&set->s_flushq)) != NULL) {
		TAILQ_REMOVE(&set->s_flushq, c, c_qentry);
		c->c_flags &= ~CLIENT_FLUSH_QUEUED;
		client_write(c);
	}
}

/* Waits for the socket to take more. */
static int
client_wait_write(struct client *c)
{
	struct client_cold	*cold;

	/* Its event is cold: most clients never wait. */
	if ((cold = client_cold(c)) == NULL)
		return -1;
	if (cold->cc_wev == NULL) {
		cold->cc_wev = event_new(client_set_of(c)->s_env.se_base,
		    c->c_fd,
		    EV_WRITE | EV_PERSIST, client_write_cb, c);
		if (cold->cc_wev == NULL)
			return -1;
	}
	if (event_add(cold->cc_wev, NULL) == -1)
		return -1;
	c->c_flags |= CLIENT_WAIT_WRITE;
	return 0;
}

/* Writes as much queued output as the socket takes. */
static void
client_write(struct client *c)
{
	struct evbuffer	*out;
	int		 n;

	if (c->c_flags & CLIENT_DEAD)
		return;
	if (c->c_flags & CLIENT_TLS) {
		client_tls_write(c);
		return;
	}
	while ((out = client_wire(c, 0)) != NULL &&
	    evbuffer_get_length(out) > 0) {
		n = evbuffer_write(out, c->c_fd);
		if (n > 0) {
			client_count_out(c, (uint64_t)n);
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR)) {
			if (!(c->c_flags & CLIENT_WAIT_WRITE) &&
			    client_wait_write(c) == -1)
				client_finish(c, SESSION_END_INTERNAL);
			return;
		}
		client_finish(c, SESSION_END_WRITE_ERROR);
		return;
	}
	/*
	 * All written: an idle client keeps no buffer (the next reply, or a
	 * message the socket does not take at once, makes a new one).
	 */
	client_wire_done(c);
	if (c->c_flags & CLIENT_WAIT_WRITE) {
		event_del(c->c_cold->cc_wev);
		c->c_flags &= ~CLIENT_WAIT_WRITE;
	}
	if ((c->c_flags & CLIENT_CLOSING) && session_slots_empty(c->c_session))
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
 * behind the queue (session_add_pieces()). Never calls back into the hub:
 * a client that fails is only marked, torn down later.
 */
static void
client_deliver(void *arg, struct hub_batch *batch, struct iovec *iov,
    int iovcnt, size_t len)
{
	struct client	*c = arg;
	struct evbuffer	*out, *behind;
	struct msghdr	 mh;
	size_t		 skip = 0;
	ssize_t		 n;

	if (c->c_flags & (CLIENT_DEAD | CLIENT_CLOSING))
		return;
	if ((c->c_flags & CLIENT_WEB) && client_web_hold(c, batch, iov,
	    iovcnt)) {
		client_check_output(c);
		return;
	}
	if (session_behind(c->c_session, &behind) == -1)
		goto nomem;
	out = client_wire(c, 0);
	if (behind == NULL && (out == NULL || evbuffer_get_length(out) == 0) &&
	    !(c->c_flags & CLIENT_WAIT_WRITE)) {
		if (c->c_flags & CLIENT_TLS) {
			if (client_tls_deliver(c, batch, iov, iovcnt, len) == -1)
				goto nomem;
			client_check_output(c);
			return;
		}
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = iov;
		mh.msg_iovlen = (size_t)iovcnt;
		n = sendmsg(c->c_fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0)
			client_count_out(c, (uint64_t)n);
		if (n == (ssize_t)len)
			return;
		if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR) {
			client_finish(c, SESSION_END_WRITE_ERROR);
			return;
		}
		if (n > 0)
			skip = (size_t)n;
	}
	if (behind != NULL)
		out = behind;
	else if ((out = client_wire(c, 1)) == NULL)
		goto nomem;
	if (session_add_pieces(out, batch, iov, iovcnt, skip) == -1)
		goto nomem;
	if (behind == NULL && (c->c_flags & CLIENT_TLS))
		client_queue_write(c);
	else if (behind == NULL && !(c->c_flags & (CLIENT_WAIT_WRITE |
	    CLIENT_FLUSH_QUEUED)) && client_wait_write(c) == -1)
		goto nomem;
	client_check_output(c);
	return;
nomem:
	client_finish(c, SESSION_END_INTERNAL);
}

/* Bytes queued for the client and not yet taken by its socket. */
static size_t
client_pending_output(const struct client *c)
{
	size_t	n = session_pending(c->c_session);

	if (c->c_flags & CLIENT_TLS)
		n += client_tls_pending(c);
	if (c->c_flags & CLIENT_WEB)
		n += client_web_pending(c);
	return n;
}

/*
 * Enforces the output limits, as Redis' client-output-buffer-limit does
 * for pubsub clients: over the hard limit, or over the soft one for longer
 * than its seconds, the client is cut off (and the others never wait for
 * it). Returns -1 if it was.
 */
int
client_check_output(struct client *c)
{
	const struct session_conf	*conf = client_set_of(c)->s_env.se_conf;
	long long			 n = (long long)client_pending_output(c);
	long long			 now;
	struct client_cold		*cold;

	if (conf->output_hard > 0 && n > conf->output_hard) {
		log_info("client %llu: closed: %lld bytes of output, over the "
		    "hard limit (%lld)", client_id(c), n, conf->output_hard);
		client_finish(c, SESSION_END_OUTPUT_HARD);
		return -1;
	}
	if (conf->output_soft == 0 || n <= conf->output_soft) {
		if (c->c_cold != NULL)
			c->c_cold->cc_soft_since = 0;
		return 0;
	}
	now = session_now_ms();
	if ((cold = client_cold(c)) == NULL) {
		/* Out of memory: the clock cannot run; cut it now. */
		client_finish(c, SESSION_END_OUTPUT_SOFT);
		return -1;
	}
	if (cold->cc_soft_since == 0)
		cold->cc_soft_since = now;
	else if (now - cold->cc_soft_since >=
	    conf->output_soft_seconds * 1000LL) {
		log_info("client %llu: closed: output over the soft limit "
		    "(%lld) for %d seconds", client_id(c), conf->output_soft,
		    conf->output_soft_seconds);
		client_finish(c, SESSION_END_OUTPUT_SOFT);
		return -1;
	}
	return 0;
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

/*
 * The peer's address (local 0) or ours (local 1, asked of the socket) as
 * "ip:port", in buf.
 */
static const char *
client_addr(void *arg, int local, char *buf, size_t len)
{
	struct client		*c = arg;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof(ss);

	if (!local && !(c->c_flags & CLIENT_UNIX))
		return client_addr_string(&c->c_peer.sa, buf, len);
	memset(&ss, 0, sizeof(ss));
	(void)getsockname(c->c_fd, (struct sockaddr *)&ss, &sslen);
	return client_addr_string((struct sockaddr *)&ss, buf, len);
}

/* What CLIENT LIST and INFO show of the connection. */
static void
client_describe(void *arg, struct session_peer *peer)
{
	struct client	*c = arg;

	peer->fd = c->c_fd;
	peer->local = (c->c_flags & CLIENT_UNIX) != 0;
	peer->qbuf = client_qbuf(c);
	peer->omem = (c->c_flags & CLIENT_TLS) ? client_tls_pending(c) : 0;
	peer->mem = sizeof(*c);
	peer->rbs = CLIENT_READ_MAX;
}
