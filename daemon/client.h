/*
 * client.h: the RESP clients of pubsubd, over TCP or Unix sockets, plain or
 * TLS: the transport of their sessions.
 *
 * A client owns one connection: its socket (in the set's epoll set, or,
 * with TLS, a bufferevent: see client_tls.c), its input buffer and request
 * parser, and a write event made only once the socket has been full. What
 * it is subscribed to, its replies and the commands it runs are its
 * session's (session.h, command.h): the client reads the requests the
 * session's coroutine asks for and writes the bytes the session and the
 * hub hand it, straight to the nonblocking socket at the end of a loop
 * turn.
 *
 * struct client_set holds what all clients share: the sessions' env (the
 * event_base, the hub, the upstream, the counters), the list of clients,
 * and the deferred work (flushing replies, freeing closed clients on a
 * later loop turn, never inside their own callbacks).
 */
#ifndef PUBSUBD_CLIENT_H
#define PUBSUBD_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <event2/util.h>

#include "session.h"

struct event_base;
struct hub;
struct upstream;
struct client;
struct client_set;
struct ssl_ctx_st;

/* What the clients hold in memory now (a walk over them: not hot). */
struct client_mem {
	size_t		clients;	/* the structs themselves */
	size_t		input;		/* query buffers */
	size_t		output;		/* output not yet taken by sockets */
	size_t		output_max;	/* the largest of one client */
};

/*
 * Returns a new, empty set, owned by the caller; base, hub, up and conf are
 * borrowed and must outlive it.
 */
struct client_set *client_set_new(struct event_base *base, struct hub *hub,
		    struct upstream *up, const struct session_conf *conf);

/* Closes every client at once and frees the set. */
void		 client_set_free(struct client_set *set);

/*
 * Graceful stop: closes every client after it has been sent what it was
 * owed, and calls done(arg) once none is left (at once if none is).
 */
void		 client_set_shutdown(struct client_set *set,
		    void (*done)(void *), void *arg);

/*
 * Serves a new connection; takes ownership of fd (closed on failure). With
 * tls, the client speaks TLS, with the context client_set_tls() gave; with
 * http, HTTP (client_web.c) instead of RESP.
 */
struct client	*client_accept(struct client_set *set, evutil_socket_t fd,
		    int tls, int http);

/*
 * The TLS context new TLS clients get from now on (the set takes a
 * reference of its own; NULL: none, and TLS connections are refused).
 * Clients already connected keep the one they were accepted with.
 */
void		 client_set_tls(struct client_set *set,
		    struct ssl_ctx_st *ctx);

/*
 * Closes a client: stops reading and serving at once; its subscriptions
 * are released and it is freed on a later loop turn. If flush is set, what
 * it has to write is sent first (for a bounded time). why is logged and
 * counted.
 */
void		 client_close(struct client *c, int flush,
		    enum session_end why);

/*
 * After conf->acl was replaced (a reload), moves every client to the user
 * of the same name in the new set, while the old set still exists: a
 * client whose user is gone or disabled is closed; one that holds
 * subscriptions its user may no longer have loses them, with an
 * unsubscribe push for each. A changed password changes nothing.
 */
void		 client_set_users_changed(struct client_set *set);

/* Redis moved: every client's passthrough connection follows (command.h). */
void		 client_set_redis_moved(struct client_set *set);

/* The sessions' counters (see session.h). */
const struct session_stats *client_set_stats(const struct client_set *set);

/* When the set was made (the daemon's start), in seconds since the epoch. */
time_t		 client_set_started(const struct client_set *set);

/* Fills *mem with what the clients hold now; walks every client. */
void		 client_set_memory(const struct client_set *set,
		    struct client_mem *mem);

#endif /* PUBSUBD_CLIENT_H */
