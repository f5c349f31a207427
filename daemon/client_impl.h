/*
 * client_impl.h: the inside of the client module, shared by client.c (the
 * connection: input, output, the coroutine, closing) and command.c (the
 * commands). Nothing outside those two files includes it.
 */
#ifndef PUBSUBD_CLIENT_IMPL_H
#define PUBSUBD_CLIENT_IMPL_H

#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <event2/event_struct.h>

#include "client.h"
#include "hub.h"
#include "map.h"
#include "pool.h"
#include "resp.h"

struct acl_user;
struct bufferevent;
struct cmdconn;
struct cmdconn_reply;
struct event;
struct evbuffer;
struct future;
struct future_cb;
struct upstream;

#define CLIENT_EOF		0x01	/* the peer closed its side */
#define CLIENT_CLOSING		0x02	/* flushing, then teardown */
#define CLIENT_DEAD		0x04	/* waiting for teardown */
#define CLIENT_FLUSH_QUEUED	0x08	/* in the set's flush queue */
#define CLIENT_WAIT_WRITE	0x10	/* the write event is pending */
#define CLIENT_REPLY_OFF	0x20	/* CLIENT REPLY OFF */
#define CLIENT_REPLY_SKIP	0x40	/* CLIENT REPLY SKIP: the next one */
#define CLIENT_SKIP_THIS	0x80	/* this command's reply is dropped */
#define CLIENT_MULTI		0x100	/* a MULTI is open on passthrough */
#define CLIENT_PT_LOST		0x200	/* the passthrough connection died */
#define CLIENT_UNIX		0x400	/* on a Unix socket */
#define CLIENT_TLS		0x800	/* TLS: its I/O is c_cold->cc_bev */
#define CLIENT_TLS_UP		0x1000	/* its TLS handshake is done */
#define CLIENT_READING		0x2000	/* in the set's epoll set */
#define CLIENT_MULTI_DIRTY	0x4000	/* pubsubd refused a command of the
					   open MULTI: EXEC aborts */

/*
 * A reply that comes later (from Redis, through the passthrough
 * connection), holding its place in the output: everything the client is
 * sent after it waits in s_after until the reply is in.
 */
struct client_slot {
	TAILQ_ENTRY(client_slot)  s_entry;
	struct client		 *s_client;	/* borrowed: the owner */
	struct future		 *s_fut;	/* owned ref: the reply */
	struct future_cb	 *s_cb;		/* ours on s_fut */
	struct evbuffer		 *s_after;	/* owned: what follows, or NULL */
	int			  s_silent;	/* CLIENT REPLY OFF/SKIP */
	int			  s_select;	/* a SELECT: track the db */
	int			  s_db;
	int			  s_execabort;	/* an EXEC sent as DISCARD:
						   answer EXECABORT */
};
TAILQ_HEAD(client_slots, client_slot);

/* One channel of a (P|S)SUBSCRIBE being served. */
struct client_pending {
	struct hub_sub	*p_sub;		/* owned by the hub; NULL: held */
	struct future	*p_ready;	/* owned ref, or NULL */
	int		 p_nomem;
	int		 p_limit;	/* over max_subscriptions */
};

/*
 * The coroutine's state across awaits: made when the coroutine starts and
 * freed when the client drops it (it finished with nothing left to serve,
 * or the client is freed), so that an idle client does not carry it.
 */
struct client_serve {
	struct resp_req		 sv_req;	/* borrowed from c_parser */
	const struct command	*sv_command;	/* being served */
	int			 sv_argi;
	enum upstream_kind	 sv_kind;
	struct client_pending	*sv_pending;	/* owned, argc entries */
	struct future		*sv_wait[2];	/* owned refs: upstream
						   replies */
	int			 sv_raw;	/* sv_wait[0] brings raw
						   bytes */
	/*
	 * An UPSTREAM command's start may set sv_settle (see
	 * hub_settle_end()) and return without sending: the coroutine
	 * awaits it and calls start again, which then sends.
	 */
	struct future		*sv_settle;	/* owned ref, or NULL */
	/*
	 * What the count Redis answers is corrected by, taken when the
	 * command was sent (local subscribers less pubsubd's own): one for
	 * PUBLISH, one per name for PUBSUB NUMSUB.
	 */
	long long		 sv_adj;
	long long		*sv_adjs;	/* owned, sv_nadjs of them */
	int			 sv_nadjs;
};

/* An index entry for one subscription of a client with many. */
struct client_subent {
	struct map_entry	 se_entry;	/* key: hub_sub_name() */
	struct hub_sub		*se_sub;	/* borrowed: lives longer */
};

/*
 * What few clients need, made the first time one does, so that the many
 * that only subscribe do not carry it.
 */
struct client_cold {
	char			 cc_cmd[128];	/* a name not in our table */
	char			*cc_name;	/* owned, or NULL */
	struct cmdconn		*cc_pt;		/* owned: passthrough, or
						   NULL */
	struct event		*cc_close_ev;	/* owned: bounds flushing */
	/*
	 * A TLS client's connection: the bufferevent owns the socket
	 * (c_fd) and the TLS state, and the handshake has a deadline.
	 */
	struct bufferevent	*cc_bev;	/* owned, or NULL: plain */
	struct event		*cc_hs_ev;	/* owned: till handshaken */
	/* Past CLIENT_SUBS_MAP subscriptions, c_sublist is indexed here. */
	int			 cc_mapped;
	struct map		 cc_subs[UPSTREAM_KINDS];	/* of owned
						   client_subent */
};

/*
 * How many subscriptions a client holds before they are indexed by hash
 * (till then a lookup walks the list: cheaper than a map for a few).
 */
#define CLIENT_SUBS_MAP		16

struct client {
	struct hub_subscriber	 c_hs;		/* the hub's view; first */
	struct client_set	*c_set;		/* borrowed */
	evutil_socket_t		 c_fd;		/* owned */
	int			 c_flags;
	uint64_t		 c_id;
	time_t			 c_created;
	const char		*c_cmd;		/* last command's full name:
						   static, or c_cold's */
	struct client_cold	*c_cold;	/* owned, or NULL: made by
						   the first rare need */
	struct acl_user		*c_user;	/* borrowed from s_conf->acl:
						   logged in as; NULL: not
						   authenticated */
	long long		 c_soft_since;	/* over the soft limit since, ms */
	long long		 c_last_ms;	/* last command, monotonic ms */
	/* Small fields packed together, then the address. */
	int			 c_db;
	uint8_t			 c_resp;	/* 2 or 3 */
	uint8_t			 c_why;		/* enum client_reason: why
						   it is closing */
	union {
		struct sockaddr		sa;
		struct sockaddr_in	sin;
		struct sockaddr_in6	sin6;
	}			 c_peer;	/* TCP: the peer */
	uint32_t		 c_nshard;	/* confirmed shard channels */
	struct event		*c_wev;		/* owned, lazily made */
	struct evbuffer		*c_in;		/* owned */
	struct evbuffer		*c_out;		/* owned, lazily made */
	struct client_slots	 c_slots;	/* replies still to come */
	struct resp_parser	*c_parser;	/* owned */
	struct future		*c_co;		/* owned ref: the coroutine,
						   while it serves */
	struct client_serve	*c_sv;		/* owned: made and freed with
						   c_co */
	TAILQ_HEAD(, hub_sub)	 c_sublist;	/* all kinds, in order */
	uint32_t		 c_held[UPSTREAM_KINDS];	/* in c_sublist */
	uint32_t		 c_nsubs;	/* confirmed channels+patterns */

	TAILQ_ENTRY(client)	 c_entry;	/* set's clients or dead */
	TAILQ_ENTRY(client)	 c_flush_entry;	/* set's flush queue */
};
TAILQ_HEAD(client_list, client);

struct client_set {
	struct event_base	*s_base;	/* borrowed */
	struct hub		*s_hub;		/* borrowed */
	struct upstream		*s_up;		/* borrowed */
	const struct client_conf *s_conf;	/* borrowed */
	struct client_list	 s_clients;
	struct client_list	 s_dead;
	struct client_list	 s_flushq;
	struct event		*s_flush_ev;	/* owned */
	struct event		*s_reap_ev;	/* owned */
	struct evbuffer		*s_discard;	/* owned: replies turned off */
	struct ssl_ctx_st	*s_tls;		/* owned ref: for new TLS
						   clients, or NULL */
	uint64_t		 s_next_id;
	time_t			 s_started;
	struct client_stats	 s_stats;
	struct event		*s_idle_ev;	/* owned: idle_timeout sweep */
	int			 s_epfd;	/* owned: clients to read */
	struct event		*s_reads_ev;	/* owned: s_epfd readable */
	void			(*s_done)(void *);	/* shutting down */
	void			*s_done_arg;
	struct pool		 s_pool;	/* of struct client */
	/*
	 * The log lines of failed logins, bounded (see client_auth_log()):
	 * the window they are counted in, those logged in it, and those
	 * not logged, which s_authlog_ev logs as one line when it ends.
	 */
	long long		 s_authlog_start;	/* monotonic ms */
	unsigned int		 s_authlog_lines;
	unsigned long long	 s_authlog_more;
	struct event		*s_authlog_ev;	/* owned */
};

/* How a command is served. */
enum command_type {
	COMMAND_LOCAL = 0,	/* at once, by fn */
	COMMAND_SUBSCRIBE,	/* (P|S)SUBSCRIBE: awaits the hub */
	COMMAND_UPSTREAM,	/* start sends, the coroutine awaits, finish */
	COMMAND_QUIT
};

/* A command pubsubd serves itself. */
struct command {
	const char		*name;		/* lower case, as in errors */
	int			 arity;		/* N: exactly; -N: at least N */
	int			 pubsub_ok;	/* allowed in RESP2 subscribed */
	int			 container;	/* has subcommands */
	enum command_type	 type;
	enum upstream_kind	 kind;		/* COMMAND_SUBSCRIBE */
	void			(*fn)(struct client *);
	/* COMMAND_UPSTREAM: send (filling c_wait) or reply at once. */
	void			(*start)(struct client *);
	void			(*finish)(struct client *);
};

/* command.c */
const struct command *command_lookup(struct client *c);
int		 command_subscribe_start(struct client *c);
void		 command_subscribe_finish(struct client *c, int i);
void		 command_passthrough(struct client *c);
void		 command_revoke(struct client *c);
/*
 * Wipes the secrets of the request just served (the passwords of AUTH and
 * HELLO ... AUTH) in the parser's buffer, however the request ended.
 */
void		 command_forget_secrets(struct client *c);

/* client.c, for command.c (the clock is the upstream's too: monotonic ms) */
long long	 client_now_ms(void);
struct evbuffer	*client_out(struct client *c);
struct evbuffer	*client_reply(struct client *c);
void		 client_queue_write(struct client *c);
void		 client_reply_error(struct client *c, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
int		 client_replying(const struct client *c);
void		 client_drop_sub(struct client *c, struct hub_sub *sub);
int		 client_add_sub(struct client *c, struct hub_sub *sub);
struct hub_sub	*client_find_sub(struct client *c, enum upstream_kind kind,
		    const char *name, size_t len);
void		 client_pending_free(struct client *c);
void		 client_unsubscribe_all(struct client *c);
struct client_slot *client_slot_add(struct client *c, struct future *fut);
struct future	*client_slots_last(struct client *c);
void		 client_format_info(struct client *c, struct evbuffer *out);

/*
 * The room client_peer_name() and client_local_name() need: "ip:port", or
 * for a Unix socket client "path:0" (both ends), as Redis shows them.
 */
#define CLIENT_ADDR_MAX	128
const char	*client_peer_name(struct client *c, char *buf, size_t len);
const char	*client_local_name(struct client *c, char *buf, size_t len);
struct client	*client_find(struct client_set *set, uint64_t id);
struct client_cold *client_cold(struct client *c);
struct cmdconn	*client_pt(const struct client *c);
const char	*client_name(const struct client *c);
void		 client_set_name(struct client *c, const char *name,
		    size_t len);
void		 client_set_cmd(struct client *c, const char *name);
void		 client_set_proto(struct client *c, int resp);
void		 client_close_passthrough(struct client *c);
void		 client_set_user(struct client *c, struct acl_user *u);
/*
 * Whether one more failed login may be logged now: at most
 * CLIENT_AUTHLOG_MAX lines per CLIENT_AUTHLOG_MS, so that a flood of bad
 * passwords cannot flood the log. Those refused are counted and logged as
 * one "N more authentication failures" line when the window ends. The
 * INFO and metrics counters are the caller's, and count every one.
 */
#define CLIENT_AUTHLOG_MAX	10
#define CLIENT_AUTHLOG_MS	1000
int		 client_auth_log(struct client_set *set);

#endif /* PUBSUBD_CLIENT_IMPL_H */
