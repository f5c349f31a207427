/*
 * client_tls.c: RESP clients over TLS. The socket belongs to a bufferevent
 * that runs the TLS (see tls.h): what it decrypts is moved into c_in, and
 * what the client is sent goes to its output buffer, which it encrypts and
 * writes when the socket takes it. Everything else (parsing, serving,
 * slots, limits, closing) is the plain clients' code, in client.c. The
 * handshake has a deadline of its own, which no trickle of bytes extends.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "client_impl.h"
#include "log.h"
#include "tls.h"

static void	client_tls_read_cb(struct bufferevent *, void *);
static void	client_tls_write_cb(struct bufferevent *, void *);
static void	client_tls_event_cb(struct bufferevent *, short, void *);
static void	client_tls_timeout_cb(evutil_socket_t, short, void *);

/* Starts a TLS client's handshake; -1 if it cannot (fd still c's). */
int
client_tls_start(struct client *c)
{
	struct client_set	*set = client_set_of(c);
	struct client_cold	*cold;
	int			 ms = set->s_env.se_conf->tls_handshake_timeout;
	struct timeval		 tv = { ms / 1000, (ms % 1000) * 1000 };

	if (set->s_tls == NULL || (cold = client_cold(c)) == NULL ||
	    (cold->cc_bev = tls_accept(set->s_env.se_base, set->s_tls,
	    c->c_fd)) == NULL)
		return -1;
	/* From here on, the bufferevent owns the socket. */
	c->c_flags |= CLIENT_TLS;
	set->s_env.se_stats.tls_connected++;
	set->s_env.se_stats.tls_accepted++;
	bufferevent_setcb(cold->cc_bev, client_tls_read_cb,
	    client_tls_write_cb, client_tls_event_cb, c);
	if ((cold->cc_hs_ev = evtimer_new(set->s_env.se_base,
	    client_tls_timeout_cb, c)) == NULL ||
	    evtimer_add(cold->cc_hs_ev, &tv) == -1 ||
	    bufferevent_enable(cold->cc_bev, EV_READ | EV_WRITE) == -1)
		return -1;
	return 0;
}

/* Logs, counts and closes a client whose handshake did not succeed. */
static void
client_tls_failed(struct client *c, const char *why)
{
	char	addr[SESSION_ADDR_MAX];

	client_set_of(c)->s_env.se_stats.tls_handshake_failures++;
	log_info("client %llu: TLS handshake with %s failed: %s",
	    (unsigned long long)session_id(c->c_session),
	    session_addr(c->c_session, 0, addr, sizeof(addr)), why);
	client_close(c, 0, SESSION_END_TLS_HANDSHAKE);
}

/* The handshake's deadline passed. */
static void
client_tls_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client	*c = arg;
	char		 why[64];

	snprintf(why, sizeof(why), "not done within %d ms",
	    client_set_of(c)->s_env.se_conf->tls_handshake_timeout);
	client_tls_failed(c, why);
}

/* Decrypted input: into c_in, as a plain read would have put it. */
static void
client_tls_read_cb(struct bufferevent *bev, void *arg)
{
	struct client	*c = arg;

	if (c->c_in == NULL && (c->c_in = evbuffer_new()) == NULL) {
		log_warnx("client %llu: out of memory",
		    (unsigned long long)session_id(c->c_session));
		client_close(c, 0, SESSION_END_INTERNAL);
		return;
	}
	/* Moves the chains, copies nothing. */
	if (evbuffer_add_buffer(c->c_in, bufferevent_get_input(bev)) == -1) {
		client_close(c, 0, SESSION_END_INTERNAL);
		return;
	}
	if (!client_over_query_buffer(c))
		client_wake(c);
}

/* Whether a closing client has nothing left of its own to send. */
static int
client_tls_drained(struct client *c)
{
	struct evbuffer	*out = client_wire(c, 0);

	return (c->c_flags & CLIENT_CLOSING) &&
	    session_slots_empty(c->c_session) &&
	    (out == NULL || evbuffer_get_length(out) == 0);
}

/*
 * The bufferevent wrote all it had: a client closing once its output is
 * out can go now.
 */
static void
client_tls_write_cb(struct bufferevent *bev, void *arg)
{
	struct client	*c = arg;

	if (client_tls_drained(c))
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
		if (tls_ktls_send(bev))
			client_set_of(c)->s_env.se_stats.tls_ktls++;
		log_debug("client %llu: %s%s",
		    (unsigned long long)session_id(c->c_session),
		    tls_version(bev), tls_ktls_send(bev) ? ", kTLS" : "");
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
	log_debug("client %llu: TLS: %s",
	    (unsigned long long)session_id(c->c_session),
	    tls_error(bev, why, sizeof(why)));
	/* Flushing before a close: nothing more can go out, finish now. */
	if (c->c_flags & CLIENT_CLOSING)
		client_finish(c, (what & BEV_EVENT_WRITING) ?
		    SESSION_END_WRITE_ERROR : c->c_why);
	else
		client_close(c, 0, (what & BEV_EVENT_WRITING) ?
		    SESSION_END_WRITE_ERROR : SESSION_END_READ_ERROR);
}

/*
 * Hands the queued output to the bufferevent (which writes it as the
 * socket takes it), and finishes a closing client with nothing left.
 */
void
client_tls_write(struct client *c)
{
	struct evbuffer	*out = bufferevent_get_output(c->c_cold->cc_bev);
	struct evbuffer	*queued = client_wire(c, 0);
	size_t		 n;

	if (queued != NULL) {
		n = evbuffer_get_length(queued);
		if (evbuffer_add_buffer(out, queued) == -1) {
			client_finish(c, SESSION_END_INTERNAL);
			return;
		}
		client_count_out(c, n);
		client_wire_done(c);
	}
	if (client_check_output(c) == -1)
		return;
	if ((c->c_flags & CLIENT_CLOSING) &&
	    session_slots_empty(c->c_session) && evbuffer_get_length(out) == 0)
		client_finish(c, c->c_why);
}

size_t
client_tls_pending(const struct client *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->c_cold->cc_bev));
}

/*
 * TLS encrypts a copy per client anyway: the pieces go to the bufferevent,
 * which writes them when the socket takes them (nothing is queued before
 * them). Counted as written, as client_tls_write() counts.
 */
int
client_tls_deliver(struct client *c, struct hub_batch *batch,
    struct iovec *iov, int iovcnt, size_t len)
{
	if (session_add_pieces(bufferevent_get_output(c->c_cold->cc_bev), batch,
	    iov, iovcnt, 0) == -1)
		return -1;
	client_count_out(c, len);
	return 0;
}
