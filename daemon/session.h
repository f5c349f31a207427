/*
 * session.h: one client's session, whatever carries it.
 *
 * A session is what a client is to pubsubd apart from its connection: who
 * it is logged in as, what it is subscribed to, its protocol (RESP2 or
 * RESP3), name and database, its reply mode (CLIENT REPLY), and its output:
 * the replies of the requests it was served, in their order, and the slots
 * of replies Redis has still to send (passthrough), behind which whatever
 * follows waits. It knows no socket and no framing: it is told how to reach
 * its connection through struct session_io, which a transport implements
 * (client.c and transport_*.c today: RESP over plain or TLS connections).
 *
 * Replies are built in RESP, the reply language of Redis, and handed to the
 * connection as bytes; the connection frames them for its wire. Messages
 * from the hub reach the session (it embeds the hub's subscriber) once per
 * batch; a session with nothing waiting before them passes them straight to
 * its connection, which writes them without copying.
 *
 * The command handlers (cmd_*.c) see a session only through the functions
 * declared here; the struct itself is session.c's.
 *
 * struct session_env is what every session shares: the event_base, the hub,
 * the upstream, the configuration, the counters and the list of sessions.
 */
#ifndef PUBSUBD_SESSION_H
#define PUBSUBD_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <time.h>

#include "pool.h"
#include "resp.h"
#include "upstream.h"

struct acl;
struct acl_user;
struct cmdconn;
struct command_run;
struct endpoint;
struct event;
struct event_base;
struct evbuffer;
struct future;
struct hub;
struct hub_batch;
struct hub_sub;
struct iovec;
struct session;
struct session_peer;
struct session_slot;

/* What the clients need to know of the configuration. */
struct session_conf {
	int		 passthrough;	/* forward other commands to Redis */
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
	/* Web listeners (the http group). */
	int		 http_keepalive;	/* s; 0: no comments */
	int		 http_header_max;	/* bytes */
	int		 http_request_timeout;	/* ms */
	long long	 http_message_max;	/* bytes of a WebSocket message */
	int		 http_message_rate;	/* a second; 0: any */
	int		 http_page;		/* the built-in page at GET / */
	const char	*http_ticket_secret;	/* borrowed, or NULL */
	char *const	*http_origins;		/* borrowed: the conf's */
	size_t		 http_norigins;
};

/*
 * Why a session ended: the reason that started its connection's closing (a
 * client told to QUIT whose flush then fails still counts as quit).
 */
enum session_end {
	SESSION_END_QUIT = 0,		/* it sent QUIT */
	SESSION_END_EOF,		/* it closed its side */
	SESSION_END_PROTOCOL,		/* a protocol error */
	SESSION_END_READ_ERROR,		/* reading failed (a reset) */
	SESSION_END_WRITE_ERROR,	/* writing failed */
	SESSION_END_OUTPUT_HARD,	/* output over limits.output_hard */
	SESSION_END_OUTPUT_SOFT,	/* over limits.output_soft too long */
	SESSION_END_QUERY_BUFFER,	/* unfinished request over the limit */
	SESSION_END_IDLE,		/* limits.idle_timeout */
	SESSION_END_KILLED,		/* CLIENT KILL */
	SESSION_END_PASSTHROUGH,	/* its passthrough connection was lost */
	SESSION_END_SHUTDOWN,		/* pubsubd is stopping */
	SESSION_END_INTERNAL,		/* out of memory, or a bug */
	SESSION_END_TLS_HANDSHAKE	/* its TLS handshake failed or timed out */
};
#define SESSION_ENDS	14

/* The label of a reason ("quit", "eof", ...), for logs and metrics. */
const char	*session_end_name(enum session_end why);

/* What the log says of a reason ("end of input", ...). */
const char	*session_end_text(enum session_end why);

/* Why a web listener refused a request (the statuses it answers). */
enum session_web_refusal {
	SESSION_WEB_MALFORMED = 0,	/* 400, 505: a bad request or query */
	SESSION_WEB_ORIGIN,		/* 403: an Origin not allowed */
	SESSION_WEB_DENIED,		/* 401, 403: NOAUTH, NOPERM */
	SESSION_WEB_NOT_FOUND,		/* 404, 405: nothing there */
	SESSION_WEB_TOO_LARGE,		/* 431: a head over http.header_max */
	SESSION_WEB_TIMEOUT,		/* 408: http.request_timeout */
	SESSION_WEB_UNAVAILABLE		/* 503: Redis unreachable */
};
#define SESSION_WEB_REFUSALS	7

/* The label of a refusal ("malformed", ...), for INFO and metrics. */
const char	*session_web_refusal_name(enum session_web_refusal why);

/*
 * The clients' counters: plain integers bumped where things happen (no
 * allocation, no clock). accepted - sum(disconnects) == connected.
 */
struct session_stats {
	uint64_t	connected;	/* clients now */
	uint64_t	accepted;	/* since start */
	uint64_t	commands;
	uint64_t	protocol_errors;
	uint64_t	rejected_max;	/* refused: maxclients, or stopping */
	uint64_t	disconnects[SESSION_ENDS];
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
	uint64_t	tls_ktls;		/* handshakes after which the
						   kernel encrypts (kTLS) */
	/*
	 * PUBLISH and PUBSUB counts that first waited for upstream
	 * (UN)SUBSCRIBEs in flight, and those waits that timed out.
	 */
	uint64_t	count_waits;
	uint64_t	count_wait_timeouts;
	/* Web clients (protocol = "http"; counted in the above too). */
	uint64_t	web_connected;		/* now */
	uint64_t	web_requests;		/* request heads read */
	uint64_t	web_refused[SESSION_WEB_REFUSALS];
	uint64_t	sse_connected;		/* event streams now */
	uint64_t	sse_accepted;		/* since start */
	uint64_t	ws_connected;		/* WebSockets now */
	uint64_t	ws_accepted;		/* since start */
	uint64_t	web_bytes_out;		/* of bytes_out, to web clients */
};

TAILQ_HEAD(session_list, session);

/*
 * What every session shares. Made by session_env_init() inside its owner
 * (the client set), which sets nothing itself; the fields above the line
 * are for everyone to read, se_stats for everyone to count in.
 */
struct session_env {
	struct event_base	*se_base;	/* borrowed */
	struct hub		*se_hub;	/* borrowed */
	struct upstream		*se_up;		/* borrowed */
	const struct session_conf *se_conf;	/* borrowed */
	time_t			 se_started;	/* the daemon's start */
	struct session_stats	 se_stats;
	/* --- session.c's own --- */
	struct session_list	 se_sessions;	/* live ones, oldest first */
	uint64_t		 se_next_id;
	struct evbuffer		*se_discard;	/* owned: replies turned off */
	struct pool		 se_pool;	/* of struct session */
	/* The failed logins' log lines, bounded: see session_auth_log(). */
	long long		 se_authlog_start;	/* monotonic ms */
	unsigned int		 se_authlog_lines;
	unsigned long long	 se_authlog_more;
	struct event		*se_authlog_ev;	/* owned */
};

/*
 * Prepares env (zeroed by the caller) on base; hub, up and conf are
 * borrowed and must outlive it. Returns 0, or -1 (env_destroy then).
 */
int		 session_env_init(struct session_env *env,
		    struct event_base *base, struct hub *hub,
		    struct upstream *up, const struct session_conf *conf);

/* Frees what env holds; every session must have been freed first. */
void		 session_env_destroy(struct session_env *env);

/* The first live session (oldest), and the one after s; NULL at the end. */
struct session	*session_env_first(struct session_env *env);
struct session	*session_next(struct session *s);
/* The connection a session serves: the arg given to session_new(). */
void		*session_arg(const struct session *s);

/* The live session with this id, or NULL. */
struct session	*session_env_find(struct session_env *env, uint64_t id);

/* The room an address takes: "ip:port", or "path:0" for a Unix socket. */
#define SESSION_ADDR_MAX	128

/* What a connection tells of itself (session_io.describe). */
struct session_peer {
	int		 fd;
	int		 local;		/* a Unix socket */
	size_t		 qbuf;		/* input not yet served */
	size_t		 omem;		/* output the connection holds */
	size_t		 mem;		/* the connection's own structs */
	int		 rbs;		/* the most it reads at once */
};

/*
 * How a session reaches its connection; implemented by the transport, and
 * called with the arg given to session_new().
 */
struct session_io {
	/*
	 * The next request of the input, parsed into req (its strings are
	 * the connection's, valid till the next call): *st is RESP_OK,
	 * RESP_NEED_MORE (then *eof says whether no more can come) or
	 * RESP_PROTO_ERROR (then *error says what was wrong). Returns 0, or
	 * -1 out of memory.
	 */
	int	(*next)(void *arg, struct resp_req *req, enum resp_status *st,
		    int *eof, const char **error);
	/* Output is waiting in session_output(): write it this loop turn. */
	void	(*queue_write)(void *arg);
	/*
	 * The session's messages of one batch (see hub.h for iov and batch):
	 * written at once, or queued behind what waits (session_behind()).
	 */
	void	(*deliver)(void *arg, struct hub_batch *batch,
		    struct iovec *iov, int iovcnt, size_t len);
	/*
	 * A reply is awaited now (behind 1: messages wait with the replies
	 * behind it, in the RESP form of session_resp()), or none is any
	 * more (0). Optional: for a transport whose messages come framed
	 * apart from its replies, which then frames both alike.
	 */
	void	(*behind)(void *arg, int behind);
	/* Closes the connection (flush: send what is queued first). */
	void	(*close)(void *arg, int flush, enum session_end why);
	/* The peer's address (local 0) or our end's (local 1), in buf. */
	const char *(*addr)(void *arg, int local, char *buf, size_t len);
	/* What CLIENT LIST and INFO show of the connection. */
	void	(*describe)(void *arg, struct session_peer *peer);
};

/*
 * Returns a new session of env, logged in as the default user if it has
 * no password, that reaches its connection through io and arg (borrowed),
 * or NULL out of memory. Owned by the caller: session_free().
 */
struct session	*session_new(struct session_env *env,
		    const struct session_io *io, void *arg);

/*
 * Ends a session whose connection closed: it logs out and leaves the list
 * of live sessions (nothing more is sent to it); session_free() follows.
 */
void		 session_end(struct session *s);

/*
 * Releases everything the session holds: its subscriptions (upstream ones
 * held only for it are dropped), slots, passthrough connection and output
 * (counted as discarded). Never call it from a callback of the hub's.
 */
void		 session_free(struct session *s);

/* Monotonic milliseconds, for limits measured in time. */
long long	 session_now_ms(void);

struct session_env *session_env(const struct session *s);
uint64_t	 session_id(const struct session *s);
time_t		 session_created(const struct session *s);
/* Last command's start, monotonic ms. */
/*
 * The last command's time in monotonic ms, kept to the second and rounded
 * up (an idle time from it is short by under a second, never long).
 */
long long	 session_last_ms(const struct session *s);

/* The protocol: 2 or 3; switching it switches the messages' form too. */
int		 session_resp(const struct session *s);
void		 session_set_proto(struct session *s, int resp);
/* Switches the form its messages take (enum hub_form: a web transport's). */
void		 session_set_form(struct session *s, int form);

/* The logged-in user (borrowed), or NULL: not authenticated. */
struct acl_user	*session_user(const struct session *s);
/* Logs s in as u (NULL: out), keeping the users' connection counts. */
void		 session_set_user(struct session *s, struct acl_user *u);
/*
 * After a reload replaced the users: moves s to the user of the same name
 * in the new set (the old one must still exist). Returns 0, or -1 if that
 * user is gone or disabled (s is then logged out; the caller closes it).
 */
int		 session_rebind_user(struct session *s);

/* The client's name (borrowed), or NULL; len 0 removes it. */
const char	*session_name(const struct session *s);
void		 session_set_name(struct session *s, const char *name,
		    size_t len);

/*
 * The last command's full name, for CLIENT LIST's cmd=: name is copied,
 * or with is_static kept as it is (it must then live for ever).
 */
const char	*session_cmd(const struct session *s);
void		 session_set_cmd(struct session *s, const char *name,
		    int is_static);

int		 session_db(const struct session *s);
/* db is 0 to SESSION_DB_MAX (Redis' default configuration has 0 to 15). */
void		 session_set_db(struct session *s, int db);
#define SESSION_DB_MAX	65535

/* Flags a session's commands set and test. */
#define SESSION_REPLY_OFF	0x01	/* CLIENT REPLY OFF */
#define SESSION_REPLY_SKIP	0x02	/* CLIENT REPLY SKIP: the next one */
#define SESSION_SKIP_THIS	0x04	/* this command's reply is dropped */
#define SESSION_MULTI		0x08	/* a MULTI is open on passthrough */
#define SESSION_MULTI_DIRTY	0x10	/* pubsubd refused a command of the
					   open MULTI: EXEC aborts */
#define SESSION_PT_LOST		0x20	/* the passthrough connection died */
#define SESSION_ENDED		0x40	/* session_end() was called */
#define SESSION_PT_STATE	0x80	/* the passthrough connection holds
					   state a new one would lack (WATCH,
					   MULTI, CLIENT ...) */
int		 session_flags(const struct session *s);
void		 session_flags_set(struct session *s, int flags);
void		 session_flags_clear(struct session *s, int flags);

/*
 * Replies. session_out() is where output goes now: after the messages the
 * hub had pending for the session (handed over first, so they come
 * before), behind the last slot still waiting, if any. session_reply() is
 * where this command's reply goes: session_out(), or a scratch buffer
 * thrown away while CLIENT REPLY is OFF or SKIP. Both are borrowed, valid
 * till the next call of either. After adding to them, queue a write.
 */
struct evbuffer	*session_out(struct session *s);
struct evbuffer	*session_reply(struct session *s);
int		 session_replying(const struct session *s);
void		 session_queue_write(struct session *s);
/* Queues an error reply; CR and LF in it become spaces, as in Redis. */
void		 session_error(struct session *s, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
/* A push header: ">n" in RESP3, "*n" in RESP2. */
void		 session_push_header(struct session *s, struct evbuffer *out,
		    long long n);
/* A null: "_" in RESP3, a null bulk in RESP2. */
void		 session_null(struct session *s, struct evbuffer *out);
/* txt (drained) as Redis' verbatim string ("=len\r\ntxt:..." in RESP3). */
void		 session_verbatim(struct session *s, struct evbuffer *out,
		    struct evbuffer *txt);

/*
 * Slots (session_slot.c). A reply that comes later (fut, from Redis: a
 * struct cmdconn_reply),
 * holding its place in the output: what the session is sent after it
 * waits until it is in. Takes a reference on fut. Returns the slot
 * (borrowed: the session frees it once written), or NULL out of memory.
 */
struct session_slot *session_slot_add(struct session *s, struct future *fut);
/* The slot is a SELECT of db: an OK reply switches the session's db. */
void		 session_slot_select(struct session_slot *slot, int db);
/* The slot is an EXEC sent as DISCARD: it is answered EXECABORT. */
void		 session_slot_execabort(struct session_slot *slot);
/* The future of the last slot (borrowed), or NULL if none is waiting. */
struct future	*session_slots_last(const struct session *s);
int		 session_slots_empty(const struct session *s);

/*
 * Subscriptions. A session lists its own (struct hub_sub, the hub's) in the
 * order made, every kind in one list: session_subs() is the first,
 * TAILQ_NEXT(sub, hs_owner_link) the next. session_held() counts those of
 * kind, pending or confirmed; session_count() the confirmed ones a
 * confirmation counts (channels and patterns together, shard channels
 * apart, as Redis does); session_subscribed() whether any is confirmed.
 */
struct hub_sub	*session_subs(struct session *s);
uint32_t	 session_held(const struct session *s, enum upstream_kind kind);
uint32_t	 session_count(const struct session *s, enum upstream_kind kind);
int		 session_subscribed(const struct session *s);

/*
 * Asks the hub for name and lists the pending subscription (see
 * hub_subscribe(): *ready is the caller's). Returns it, or NULL out of
 * memory (nothing is held then).
 */
struct hub_sub	*session_subscribe(struct session *s, enum upstream_kind kind,
		    const char *name, size_t len, struct future **ready);
/* Starts delivering a pending subscription whose future is done. */
void		 session_activate(struct session *s, struct hub_sub *sub);
/* The subscription of kind to name (pending or confirmed), or NULL. */
struct hub_sub	*session_find_sub(struct session *s, enum upstream_kind kind,
		    const char *name, size_t len);
/* Ends one subscription, here and in the hub. */
void		 session_drop_sub(struct session *s, struct hub_sub *sub);
/* Ends every subscription, of every kind, silently (RESET, teardown). */
void		 session_unsubscribe_all(struct session *s);

/*
 * The session's own connection to Redis for passthrough (borrowed), or
 * NULL; set_pt takes ownership. close_passthrough frees it (its pending
 * replies fail) and forgets MULTI.
 */
struct cmdconn	*session_pt(const struct session *s);
int		 session_set_pt(struct session *s, struct cmdconn *pt);
void		 session_close_passthrough(struct session *s);

/* Closes the session's connection (flush: send what is queued first). */
void		 session_close(struct session *s, int flush,
		    enum session_end why);

/* The peer's address (local 0) or our end's (local 1), in buf. */
const char	*session_addr(struct session *s, int local, char *buf,
		    size_t len);

/* Appends the session's CLIENT LIST line (Redis' fields, with ours). */
void		 session_format_info(struct session *s, struct evbuffer *out);

/*
 * The request being served (borrowed), set by the serving coroutine while
 * it runs, for what must look at it from outside (a reload's revocations).
 */
struct command_run *session_run(const struct session *s);
void		 session_set_run(struct session *s, struct command_run *run);

/*
 * Whether one more failed login may be logged now: at most
 * SESSION_AUTHLOG_MAX lines per SESSION_AUTHLOG_MS, so that a flood of bad
 * passwords cannot flood the log. Those refused are counted and logged as
 * one "N more authentication failures" line when the window ends. The
 * INFO and metrics counters are the caller's, and count every one.
 */
#define SESSION_AUTHLOG_MAX	10
#define SESSION_AUTHLOG_MS	1000
int		 session_auth_log(struct session_env *env);

/*
 * For the connection: the output the session holds for it (borrowed; NULL
 * when there is none), to write or to queue messages behind; made on
 * demand by session_output_make() (NULL out of memory); dropped once
 * written (session_output_done(): an idle session keeps no buffer).
 * session_pending() is every byte the session holds to send: its output and
 * what waits behind slots.
 */
struct evbuffer	*session_output(const struct session *s);
struct evbuffer	*session_output_make(struct session *s);
void		 session_output_done(struct session *s);
size_t		 session_pending(const struct session *s);
/* Hands the session's pending messages of the batch to its connection. */
void		 session_flush_messages(struct session *s);
/*
 * Where messages go that cannot be written at once: behind the last slot
 * still waiting (*out, that slot's buffer), or, with no slot waiting, NULL
 * in *out (the connection's own queue). Returns 0, or -1 out of memory.
 */
int		 session_behind(struct session *s, struct evbuffer **out);

/* The next request of the connection's input (see session_io.next). */
int		 session_request(struct session *s, struct resp_req *req,
		    enum resp_status *st, int *eof, const char **error);

/*
 * Around each command the coroutine serves: begin counts it and starts
 * CLIENT REPLY SKIP's one command; end throws away the replies not sent.
 */
void		 session_command_begin(struct session *s);
void		 session_command_end(struct session *s);

/* What the sessions and their connections hold in memory now. */
struct session_mem {
	size_t	clients;	/* the structs */
	size_t	input;		/* query buffers */
	size_t	output;		/* output not yet written */
	size_t	output_max;	/* of one client */
};
void		 session_env_memory(const struct session_env *env,
		    struct session_mem *mem);

/*
 * Appends the pieces of a batch after skip bytes to out: small pieces are
 * copied (they would keep a whole batch alive for a few bytes), larger
 * ones referenced. Returns 0, or -1 out of memory.
 */
int		 session_add_pieces(struct evbuffer *out, struct hub_batch *batch,
		    const struct iovec *iov, int iovcnt, size_t skip);

#endif /* PUBSUBD_SESSION_H */
