/*
 * command.h: how a session's requests are served.
 *
 * Each session that has input gets a coroutine that reads one request at a
 * time from its connection (session_io.next), finds the command in the
 * table (command.c: name, arity, flags, how it is served), checks it as
 * Redis would (unknown command or subcommand, arity, login and permission,
 * RESP2 subscribed mode), and runs its handler (cmd_*.c). A handler that
 * awaits something (the hub's confirmation of a SUBSCRIBE, Redis' answer
 * to a PUBLISH) keeps what it needs across the await in its struct
 * command_run; the coroutine awaits and then calls it on. Requests are
 * served in order: the next one is read only when the last is answered
 * (or holds its place as a slot: see session.h).
 *
 * The coroutine and its run exist only while there is input to serve: an
 * idle session holds neither.
 */
#ifndef PUBSUBD_COMMAND_H
#define PUBSUBD_COMMAND_H

#include <stddef.h>

#include "resp.h"
#include "upstream.h"

struct cmdconn_reply;
struct command_run;
struct future;
struct hub_settle;
struct hub_sub;
struct session;

/* How a command is served. */
enum command_type {
	COMMAND_LOCAL = 0,	/* at once, by fn */
	COMMAND_SUBSCRIBE,	/* (P|S)SUBSCRIBE: awaits the hub */
	COMMAND_UPSTREAM,	/* start sends, the coroutine awaits, finish */
	COMMAND_QUIT
};

/* Flags of a command entry. */
#define COMMAND_PUBSUB_OK	0x01	/* allowed in RESP2 subscribed mode */
#define COMMAND_NOAUTH		0x02	/* runs before authentication */
#define COMMAND_CONTAINER	0x04	/* has subcommands */
#define COMMAND_CONNECTION	0x08	/* of the connection: never queued
					   inside MULTI */
#define COMMAND_CHANNEL_ARG	0x10	/* its first argument is a channel
					   the user needs to publish to */
#define COMMAND_NO_MULTI	0x20	/* refused inside MULTI */

/* A command pubsubd serves itself: an entry of the table. */
struct command {
	const char		*name;		/* lower case, as in errors */
	int			 arity;		/* N: exactly; -N: at least N */
	int			 flags;		/* COMMAND_* */
	enum command_type	 type;
	enum upstream_kind	 kind;		/* subscribe and publish */
	void			(*fn)(struct command_run *);
	/* COMMAND_UPSTREAM: send (filling r_wait) or reply at once. */
	void			(*start)(struct command_run *);
	void			(*finish)(struct command_run *);
};

/* One name of a (P|S)SUBSCRIBE being served. */
struct command_pending {
	struct hub_sub	*p_sub;		/* owned by the hub; NULL: held */
	struct future	*p_ready;	/* owned ref, or NULL */
	int		 p_nomem;
	int		 p_limit;	/* over max_subscriptions */
};

/*
 * A session's request being served, and what its handler keeps across
 * awaits. Made when the coroutine starts and freed when it ends (it served
 * all the input there was, or the session is closing). Owned by the
 * coroutine; the session borrows it (session_run()).
 */
struct command_run {
	struct session		*r_s;		/* borrowed: served */
	struct future		*r_co;		/* owned ref: the coroutine */
	struct resp_req		 r_req;		/* borrowed: the connection's */
	const struct command	*r_cmd;		/* being served */
	int			 r_argi;
	struct command_pending	*r_pending;	/* owned, argc entries */
	struct future		*r_wait[2];	/* owned refs: upstream
						   replies */
	int			 r_raw;		/* r_wait[0] brings raw bytes */
	/*
	 * An UPSTREAM command's start may set r_settle (see
	 * hub_settle_end()) and return without sending: the coroutine
	 * awaits it and calls start again, which then sends.
	 */
	struct future		*r_settle;	/* owned ref, or NULL */
	/*
	 * What the count Redis answers is corrected by, taken when the
	 * command was sent (local subscribers less pubsubd's own): one for
	 * PUBLISH, one per name for PUBSUB NUMSUB.
	 */
	long long		 r_adj;
	long long		*r_adjs;	/* owned, r_nadjs of them */
	int			 r_nadjs;
};

/*
 * The connection has input, or reached its end: starts serving unless the
 * session's coroutine runs (it then comes to the new input once done with
 * what it serves). Out of memory, the session is closed.
 */
void		 command_serve(struct session *s);

/* Stops serving (the session is closing): the coroutine is cancelled. */
void		 command_stop(struct session *s);

/* Frees what serving holds; before session_free(). */
void		 command_release(struct session *s);

/* Whether a (P|S)SUBSCRIBE of the session is being served. */
int		 command_subscribing(const struct session *s);

/*
 * After a reload or a login as another user: drops the subscriptions the
 * session's user may no longer hold, each with its unsubscribe push.
 */
void		 command_revoke(struct session *s);

/*
 * Redis moved (a Sentinel's failover, a reload to another address): the
 * session's passthrough connection, if any, still goes to the old place.
 * One that holds no state (see cmd_passthrough.c) is dropped, its pending
 * replies failing, and the next command opens one to the new place; one
 * that does is closed with the client, once its replies are in, as when
 * it is lost.
 */
void		 command_redis_moved(struct session *s);

/* The commands of the table, for COMMAND: the i-th, or NULL past the end. */
const struct command *command_at(size_t i);
size_t		 command_count(void);

/* Whether argument i of r is word (case-insensitive). */
int		 command_is(const struct resp_req *r, int i, const char *word);

/* Parses a whole signed integer as Redis' string2ll does; -1 if not one. */
int		 command_int(const char *s, size_t len, long long *out);

/*
 * Sends a command on pubsubd's own connection to Redis into r_wait[i],
 * its wait bounded by command_timeout. Returns 0, or -1 after replying an
 * error.
 */
int		 command_upstream(struct command_run *run, int i, int argc,
		    const char *const *argv, const size_t *argvlen);

/*
 * The reply of r_wait[i]: NULL after replying the error if the command
 * failed or Redis answered an error (passed on as it came).
 */
const struct cmdconn_reply *command_upstream_reply(struct command_run *run,
		    int i);

/*
 * Before a command whose answer counts subscriptions goes to Redis: makes
 * the coroutine await the settle st (built by the caller, NULL: nothing in
 * flight; see hub.h), so that Redis has done what the hub believes done
 * when it answers, at most command_timeout ms. Returns 1 if there is
 * something to await (start returns; the coroutine calls it again), else 0.
 */
int		 command_settle(struct command_run *run, struct hub_settle *st);

/*
 * Called by start again after the settle: if it timed out the command goes
 * to Redis all the same (its count may then be off), counted and logged.
 */
void		 command_settled(struct command_run *run);

#endif /* PUBSUBD_COMMAND_H */
