/*
 * client.h: the clients' side of pubsubd.
 *
 * A client owns one connection (TCP or a Unix socket, plain or TLS): a read
 * event (or, with TLS, a bufferevent: see client.c), its input buffer and
 * request parser, a coroutine that serves its commands one at a time in the
 * order they came, its subscriptions, and its pending output. Replies and
 * messages are written straight to the nonblocking socket at the end of a
 * loop turn; a write event is created (lazily) and waited for only when the
 * socket is full.
 *
 * struct client_set holds what all clients share: the event_base, the hub,
 * the list of clients, and the deferred work (flushing replies, freeing
 * closed clients on a later loop turn, never inside their own callbacks).
 */
#ifndef PUBSUBD_CLIENT_H
#define PUBSUBD_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <event2/util.h>

#include "upstream.h"

struct acl;
struct endpoint;
struct event_base;
struct hub;
struct upstream;
struct client;
struct client_set;
struct ssl_ctx_st;

/* What the clients need to know of the configuration. */
struct client_conf {
	int		 passthrough;	/* forward other commands to Redis */
	const struct endpoint *redis;	/* borrowed: for passthrough */
	int		 command_timeout;	/* ms Redis has to answer */
	int		 maxclients;
	long long	 output_hard;		/* bytes; 0: none */
	long long	 output_soft;		/* bytes; 0: none */
	int		 output_soft_seconds;
	long long	 query_buffer;		/* bytes */
	long long	 multibulk_max;
	long long	 bulk_max;
	int		 max_subscriptions;	/* 0: none */
	int		 idle_timeout;		/* seconds; 0: off */
	int		 tcp_keepalive;		/* seconds; 0: off */
	int		 worker;	/* this worker's index; -1: no workers */
	int		 nworkers;	/* how many workers there are (1) */
	struct acl	*acl;		/* borrowed: the users (their
					   connection counts change) */
	int		 tls_handshake_timeout;	/* ms */
};

/*
 * Why a client was disconnected: the reason that started its closing (a
 * client told to QUIT whose flush then fails still counts as quit).
 */
enum client_reason {
	CLIENT_R_QUIT = 0,	/* it sent QUIT */
	CLIENT_R_EOF,		/* it closed its side */
	CLIENT_R_PROTOCOL,	/* a protocol error */
	CLIENT_R_READ_ERROR,	/* reading failed (a reset) */
	CLIENT_R_WRITE_ERROR,	/* writing failed */
	CLIENT_R_OUTPUT_HARD,	/* output over limits.output_hard */
	CLIENT_R_OUTPUT_SOFT,	/* over limits.output_soft too long */
	CLIENT_R_QUERY_BUFFER,	/* unfinished request over the limit */
	CLIENT_R_IDLE,		/* limits.idle_timeout */
	CLIENT_R_KILLED,	/* CLIENT KILL */
	CLIENT_R_PASSTHROUGH,	/* its passthrough connection was lost */
	CLIENT_R_SHUTDOWN,	/* pubsubd is stopping */
	CLIENT_R_INTERNAL,	/* out of memory, or a bug */
	CLIENT_R_TLS_HANDSHAKE	/* its TLS handshake failed or timed out */
};
#define CLIENT_REASONS	14

/*
 * The clients' counters: plain integers bumped where things happen (no
 * allocation, no clock). accepted - sum(disconnects) == connected.
 */
struct client_stats {
	uint64_t	connected;	/* clients now */
	uint64_t	accepted;	/* since start */
	uint64_t	commands;
	uint64_t	protocol_errors;
	uint64_t	rejected_max;	/* refused: maxclients, or stopping */
	uint64_t	disconnects[CLIENT_REASONS];
	uint64_t	subscriptions[UPSTREAM_KINDS];	/* confirmed, now */
	uint64_t	bytes_out;	/* written to client sockets */
	uint64_t	output_discarded;	/* bytes never written */
	uint64_t	auth_failures;	/* AUTH, HELLO AUTH refused */
	uint64_t	denied_command;	/* NOPERM for a command */
	uint64_t	denied_channel;	/* NOPERM for a channel or pattern */
	/* TLS clients (counted in the above too). */
	uint64_t	tls_connected;		/* now, handshaking or not */
	uint64_t	tls_accepted;		/* since start */
	uint64_t	tls_handshake_failures;	/* failed, or timed out */
	/*
	 * PUBLISH and PUBSUB counts that first waited for upstream
	 * (UN)SUBSCRIBEs in flight, and those waits that timed out.
	 */
	uint64_t	count_waits;
	uint64_t	count_wait_timeouts;
};

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
		    struct upstream *up, const struct client_conf *conf);

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
 * tls, the client speaks TLS, with the context client_set_tls() gave.
 */
struct client	*client_accept(struct client_set *set, evutil_socket_t fd,
		    int tls);

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
		    enum client_reason why);

/*
 * After conf->acl was replaced (a reload), moves every client to the user
 * of the same name in the new set, while the old set still exists: a
 * client whose user is gone or disabled is closed; one that holds
 * subscriptions its user may no longer have loses them, with an
 * unsubscribe push for each. A changed password changes nothing.
 */
void		 client_set_users_changed(struct client_set *set);

/* The label of a reason ("quit", "eof", ...), for logs and metrics. */
const char	*client_reason_name(enum client_reason why);

const struct client_stats *client_set_stats(const struct client_set *set);

/* When the set was made (the daemon's start), in seconds since the epoch. */
time_t		 client_set_started(const struct client_set *set);

/* Fills *mem with what the clients hold now; walks every client. */
void		 client_set_memory(const struct client_set *set,
		    struct client_mem *mem);

#endif /* PUBSUBD_CLIENT_H */
