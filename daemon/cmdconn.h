/*
 * cmdconn.h: a connection to Redis for ordinary commands, on hiredis'
 * async API and its libevent adapter.
 *
 * pubsubd keeps one for its own commands (PUBLISH, SPUBLISH, PUBSUB, INFO)
 * and one per client that uses passthrough. Commands may be sent at once,
 * before the connection is up (hiredis queues them), and pipelined; each
 * returns a future that its reply completes, in the order sent. Replies are
 * kept exactly: a null bulk ("$-1") and a null array ("*-1") stay distinct,
 * so a reply can be written back to a client byte for byte as Redis sent it.
 *
 * A connection is made once and never remade: when it is lost (or cannot be
 * made), what was pending fails, the lost callback runs once, and every
 * later command fails at once; the owner frees it and makes a new one.
 */
#ifndef PUBSUBD_CMDCONN_H
#define PUBSUBD_CMDCONN_H

#include <stddef.h>

struct event_base;
struct evbuffer;
struct endpoint;
struct future;
struct cmdconn;

/* The kinds of reply (RESP2). */
enum cmdconn_type {
	CMDCONN_STATUS = 0,	/* +text */
	CMDCONN_ERROR,		/* -text */
	CMDCONN_INTEGER,	/* :n */
	CMDCONN_STRING,		/* $len text */
	CMDCONN_NIL,		/* $-1 */
	CMDCONN_ARRAY,		/* *n ... */
	CMDCONN_NIL_ARRAY	/* *-1 */
};

/*
 * One reply. A reply that a future carries is owned by that future, with
 * all its elements, and read-only for everyone: it lives as long as the
 * future does.
 */
struct cmdconn_reply {
	enum cmdconn_type	   type;
	long long		   integer;	/* CMDCONN_INTEGER */
	char			  *str;		/* STATUS, ERROR, STRING: len */
	size_t			   len;		/* bytes, then a NUL not counted */
	struct cmdconn_reply	 **element;	/* ARRAY: elements of them */
	size_t			   elements;
};

/*
 * Called once when the connection is lost or cannot be made, with the
 * reason (hiredis' error text, or Redis' own if SELECT failed), borrowed for
 * the call. It runs from the event loop after every pending future has
 * failed, never from inside cmdconn_*() or hiredis, so it may call
 * cmdconn_free(). It is never called after cmdconn_free().
 */
typedef void (*cmdconn_lost_fn)(struct cmdconn *conn, const char *why,
		    void *arg);

/*
 * Returns a new connection to host:port, owned by the caller; it starts
 * connecting at once. base and arg are borrowed and must outlive it; host
 * is copied. If db > 0 it selects that database before any command; if
 * SELECT fails, the connection is lost with Redis' error text. lost (may be
 * NULL) is called as said above; a connection that fails at once (say, an
 * unknown host) is returned lost, and lost runs on the next loop turn.
 * NULL on allocation failure.
 */
struct cmdconn	*cmdconn_new(struct event_base *base, const char *host,
		    int port, int db, cmdconn_lost_fn lost, void *arg);

/*
 * The same for Redis at ep (copied): over TCP or a Unix socket, and if ep
 * has a password, with AUTH as the very first command (before SELECT). A
 * refused AUTH loses the connection with "authentication failed: " and
 * Redis' error text, so that every command sent meanwhile fails.
 */
struct cmdconn	*cmdconn_new_at(struct event_base *base,
		    const struct endpoint *ep, int db, cmdconn_lost_fn lost,
		    void *arg);

/*
 * Closes the connection and frees it (NULL is ignored); conn must not be
 * used afterwards. Futures still pending fail at once ("connection
 * closed") and lost is not called. Safe to call at any time, also from a
 * future's callback or from lost: when that runs inside hiredis' callbacks
 * for this connection, freeing the hiredis context is deferred to the next
 * loop turn, so the loop must run once more for it to be released.
 */
void		 cmdconn_free(struct cmdconn *conn);

/* Whether the connection is lost (every command then fails at once). */
int		 cmdconn_is_lost(const struct cmdconn *conn);

/*
 * Sends one command of argc (>= 1) arguments: argv[i] of argvlen[i] bytes,
 * or NUL-terminated if argvlen is NULL; both are borrowed for the call.
 * Returns a new future owned by the caller: done with a struct
 * cmdconn_reply (owned by the future; an error reply is a done future with a
 * CMDCONN_ERROR reply), or failed if the connection is lost before the reply
 * ("connection to redis lost: why"), closed ("connection closed"), or if the
 * command is refused. Refused, because they change how the connection
 * replies and would break the pairing of replies with commands: SUBSCRIBE and
 * its kin, MONITOR, SYNC, PSYNC, CLIENT REPLY, and HELLO with a protocol
 * other than 2. NULL only if the future itself cannot be allocated.
 */
struct future	*cmdconn_command(struct cmdconn *conn, int argc,
		    const char *const *argv, const size_t *argvlen);

/*
 * Appends reply to out as Redis would have sent it (RESP2). Returns 0, or
 * -1 with nothing appended (out of memory, or a reply that RESP2 cannot
 * carry: an unknown type, a missing element, CR or LF in a status or error).
 */
int		 cmdconn_reply_encode(struct evbuffer *out,
		    const struct cmdconn_reply *reply);

/*
 * The same for a client speaking protocol resp (2 or 3): for RESP3 the
 * nulls become RESP3's "_" (the reply came over RESP2, so its other types
 * stay RESP2's).
 */
int		 cmdconn_reply_encode_proto(struct evbuffer *out,
		    const struct cmdconn_reply *reply, int resp);

#endif /* PUBSUBD_CMDCONN_H */
