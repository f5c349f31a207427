/*
 * client_impl.h: the inside of the client module (RESP over a socket),
 * shared by client.c (the set, accepting, reading, writing, closing) and
 * client_tls.c (the same over TLS). Nothing outside those two includes it.
 */
#ifndef PUBSUBD_CLIENT_IMPL_H
#define PUBSUBD_CLIENT_IMPL_H

#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <event2/util.h>

#include "client.h"
#include "pool.h"
#include "session.h"

struct bufferevent;
struct event;
struct evbuffer;
struct hub_batch;
struct iovec;
struct resp_parser;
struct client_web;
struct client_ws;
struct http_head;

#define CLIENT_EOF		0x01	/* the peer closed its side */
#define CLIENT_CLOSING		0x02	/* flushing, then teardown */
#define CLIENT_DEAD		0x04	/* waiting for teardown */
#define CLIENT_FLUSH_QUEUED	0x08	/* in the set's flush queue */
#define CLIENT_WAIT_WRITE	0x10	/* the write event is pending */
#define CLIENT_UNIX		0x20	/* on a Unix socket */
#define CLIENT_TLS		0x40	/* TLS: its I/O is c_cold->cc_bev */
#define CLIENT_TLS_UP		0x80	/* its TLS handshake is done */
#define CLIENT_READING		0x100	/* in the set's epoll set */
#define CLIENT_WEB		0x200	/* HTTP: c_cold->cc_web */

#define CLIENT_READ_MAX		(64 * 1024)	/* bytes per read call */

/* What few connections need, made the first time one does. */
struct client_cold {
	struct event		*cc_close_ev;	/* owned: bounds flushing */
	/* A client the socket did not take everything of, at least once. */
	struct event		*cc_wev;	/* owned: waits for writable */
	long long		 cc_soft_since;	/* over the soft limit since,
						   ms; 0: not over */
	/*
	 * A TLS client's connection: the bufferevent owns the socket
	 * (c_fd) and the TLS state, and the handshake has a deadline.
	 */
	struct bufferevent	*cc_bev;	/* owned, or NULL: plain */
	struct event		*cc_hs_ev;	/* owned: till handshaken */
	struct client_web	*cc_web;	/* owned: a web client's */
};

/*
 * One connection speaking RESP: its socket, input and parser, write event
 * and flags. Its session (what it is subscribed to, its replies) is
 * c_session, which reaches it back through client.c's struct session_io.
 */
struct client {
	struct session		*c_session;	/* owned */
	evutil_socket_t		 c_fd;		/* owned */
	int			 c_flags;
	struct client_cold	*c_cold;	/* owned, or NULL */
	union {
		struct sockaddr		sa;
		struct sockaddr_in	sin;
		struct sockaddr_in6	sin6;
	}			 c_peer;	/* TCP: the peer */
	uint8_t			 c_why;		/* enum session_end: why it
						   is closing (in c_peer's
						   padding) */
	struct evbuffer		*c_in;		/* owned */
	struct resp_parser	*c_parser;	/* owned */
	/*
	 * The set's flush queue while it lives (CLIENT_FLUSH_QUEUED), its
	 * dead list once dead: never both. The live clients are their
	 * sessions, on the session list (session_env_first()).
	 */
	TAILQ_ENTRY(client)	 c_qentry;
};
TAILQ_HEAD(client_list, client);

/*
 * The set a client is of: its session's env is the set's s_env, which is
 * the set's first member, so a client needs no pointer of its own. Valid
 * while the session lives (client_free() takes it first).
 */
#define client_set_of(c)						\
	((struct client_set *)(void *)session_env((c)->c_session))

struct client_set {
	struct session_env	 s_env;		/* what the sessions share;
						   first (client_set_of()) */
	struct client_list	 s_dead;
	struct client_list	 s_flushq;
	struct event		*s_flush_ev;	/* owned */
	struct event		*s_reap_ev;	/* owned */
	struct ssl_ctx_st	*s_tls;		/* owned ref: for new TLS
						   clients, or NULL */
	struct event		*s_idle_ev;	/* owned: idle_timeout sweep */
	int			 s_epfd;	/* owned: clients to read */
	struct event		*s_reads_ev;	/* owned: s_epfd readable */
	struct event		*s_web_ev;	/* owned: streams' comments */
	void			(*s_done)(void *);	/* shutting down */
	void			*s_done_arg;
	struct pool		 s_pool;	/* of struct client */
	struct pool		 s_cold_pool;	/* of struct client_cold */
	struct pool		 s_web_pool;	/* of client_web.c's state */
	struct pool		 s_ws_pool;	/* of client_ws.c's state */
};

/* client.c, for client_tls.c */
void		 client_finish(struct client *c, enum session_end why);
void		 client_wake(struct client *c);
void		 client_queue_write(void *arg);
int		 client_check_output(struct client *c);
int		 client_over_query_buffer(struct client *c);
struct client_cold *client_cold(struct client *c);

/* client_tls.c */
int		 client_tls_start(struct client *c);
void		 client_tls_write(struct client *c);
/* The output the TLS connection holds (encrypting, or to be). */
size_t		 client_tls_pending(const struct client *c);
/* Pieces of a batch with nothing queued before them: to the TLS. */
int		 client_tls_deliver(struct client *c, struct hub_batch *batch,
		    struct iovec *iov, int iovcnt, size_t len);

/* client_web.c */
/* Prepares the set's pools of web and WebSocket state. */
void		 client_web_pools(struct client_set *set);
int		 client_web_start(struct client *c);
void		 client_web_free(struct client *c);
int		 client_web_next(struct client *c, struct resp_req *req,
		    enum resp_status *st, int *eof, const char **error);
int		 client_web_replies(struct client *c);
int		 client_web_hold(struct client *c, struct hub_batch *batch,
		    const struct iovec *iov, int iovcnt);
size_t		 client_web_pending(const struct client *c);
void		 client_web_keepalive(struct client_set *set, long long now);
struct client_ws *client_web_ws(struct client *c);

/* client_ws.c */
size_t		 client_ws_size(void);
int		 client_ws_upgrade(struct client *c, const struct http_head *h,
		    struct client_ws **wsp, int *code, const char **why);
void		 client_ws_free(struct client_ws *ws);
int		 client_ws_next(struct client_ws *ws, struct resp_req *req,
		    enum resp_status *st, int *eof, const char **error);
int		 client_ws_replies(struct client_ws *ws);
void		 client_ws_behind(struct client_ws *ws, int behind);
size_t		 client_ws_pending(const struct client_ws *ws);
struct evbuffer	*client_ws_wire(struct client_ws *ws, int make);
void		 client_ws_wire_done(struct client_ws *ws);

/*
 * Where a client's wire-ready output waits: its session's output, or a
 * WebSocket client's own (its session's output holds RESP replies until
 * they are framed). make: made if need be (NULL: out of memory).
 */
struct evbuffer	*client_wire(struct client *c, int make);
void		 client_count_out(struct client *c, uint64_t n);
void		 client_wire_done(struct client *c);

#endif /* PUBSUBD_CLIENT_IMPL_H */
