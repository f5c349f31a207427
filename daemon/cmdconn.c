/*
 * cmdconn.c: a connection to Redis for ordinary commands, on hiredis' async
 * API and its libevent adapter, keeping every reply exactly as Redis sent it.
 *
 * Exact replies. hiredis' own reply objects fold "$-1" and "*-1" into one
 * REDIS_REPLY_NIL, so we install our own reply object functions on the
 * context's reader: they build struct cmdconn_reply trees directly, telling
 * the two nulls apart by the type of the read task. Each object is a struct
 * cmdconn_node: first a redisReply "peek" header that mirrors the type and
 * the text, because hiredis' async layer casts every top-level reply to
 * redisReply to look at its type (and, for an error that no command waits
 * for, its text); then the public struct cmdconn_reply; then the bytes.
 *
 * Reply ownership. hiredis calls freeObject(reply) right after the command's
 * callback returns, but the future must own the reply for as long as it
 * lives. So a top-level node is reference counted: the reader's reference
 * is the one freeObject drops; the callback adds one that the future owns
 * and drops with its free function. Whichever goes last frees the tree; the
 * order does not matter, so a future callback that drops the last reference
 * to its future inside our callback is safe. Elements belong to their
 * parent and are freed with it.
 *
 * Lifetime, after hiredis' rules: every command's callback runs exactly
 * once, with NULL when the context goes away, so a struct cmdconn_cmd is
 * owned by hiredis from the send to that call. A NULL reply, a failed
 * connect or a disconnect means hiredis frees the context itself: our
 * pointer is cleared there. We never free the context from inside one of
 * its callbacks (nor does anything our callbacks call, such as a future's
 * callbacks, which may call cmdconn_free()): the free is then deferred to an
 * event on the next loop turn, and that same event tells the owner that the
 * connection was lost, so the lost callback never runs under hiredis.
 */
#include "config.h"

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "cmdconn.h"
#include "endpoint.h"
#include "future.h"
#include "log.h"

/* The element count hiredis passes to createArray (configure checks). */
#ifdef HAVE_HIREDIS_SIZE_T_ELEMENTS
typedef size_t	cmdconn_count;
#else
typedef int	cmdconn_count;
#endif

/* One reply object built by the reader; see the top of the file. */
struct cmdconn_node {
	redisReply		 n_peek;	/* first: what hiredis reads */
	int			 n_refs;	/* top level: reader, future */
	struct cmdconn_reply	 n_reply;
	char			 n_bytes[];	/* STATUS, ERROR, STRING */
};

/* A command in flight; owned by hiredis until its callback has run. */
struct cmdconn_cmd {
	TAILQ_ENTRY(cmdconn_cmd) cmd_entry;
	struct cmdconn		*cmd_conn;	/* borrowed: outlives hiredis' */
	struct future		*cmd_fut;	/* owned ref; NULL once failed */
};
TAILQ_HEAD(cmdconn_cmds, cmdconn_cmd);

struct cmdconn {
	struct event_base	*cc_base;	/* borrowed */
	struct endpoint		*cc_ep;		/* owned: for TLS errors */
	char			 cc_name[ENDPOINT_NAME_MAX];	/* for logs */
	cmdconn_lost_fn		 cc_lost_fn;
	void			*cc_arg;	/* borrowed */
	redisAsyncContext	*cc_ac;		/* owned while not NULL */
	struct cmdconn_cmds	 cc_cmds;	/* in flight, in send order */
	struct event		*cc_defer_ev;	/* owned: cmdconn_deferred() */
	int			 cc_incb;	/* depth in hiredis' callbacks */
	int			 cc_lost;
	int			 cc_told;	/* cc_lost_fn has run */
	int			 cc_freeing;	/* cmdconn_free() was called */
	char			*cc_why;	/* owned: why it was lost */
};

static void	cmdconn_destroy(struct cmdconn *);
static void	cmdconn_lose(struct cmdconn *, const char *);
static const char *cmdconn_why(const struct cmdconn *);
static void	cmdconn_deferred(evutil_socket_t, short, void *);
static void	cmdconn_connect_cb(const redisAsyncContext *, int);
static void	cmdconn_disconnect_cb(const redisAsyncContext *, int);
static void	cmdconn_select_cb(redisAsyncContext *, void *, void *);
static void	cmdconn_auth_cb(redisAsyncContext *, void *, void *);
static void	cmdconn_reply_cb(redisAsyncContext *, void *, void *);
static const char *cmdconn_refused(int, const char *const *,
		    const size_t *);
static int	cmdconn_encode(struct evbuffer *,
		    const struct cmdconn_reply *, int);

static struct cmdconn_node *cmdconn_node_new(int, enum cmdconn_type,
		    size_t);
static void	*cmdconn_node_link(const redisReadTask *,
		    struct cmdconn_node *);
static void	cmdconn_node_destroy(struct cmdconn_node *);
static void	cmdconn_node_unref(void *);
static void	cmdconn_reply_unref(void *);
static void	*cmdconn_create_string(const redisReadTask *, char *, size_t);
static void	*cmdconn_create_array(const redisReadTask *, cmdconn_count);
static void	*cmdconn_create_integer(const redisReadTask *, long long);
static void	*cmdconn_create_nil(const redisReadTask *);
#ifdef HAVE_REDISREPLYOBJECTFUNCTIONS_CREATEDOUBLE
static void	*cmdconn_create_double(const redisReadTask *, double, char *,
		    size_t);
#endif
#ifdef HAVE_REDISREPLYOBJECTFUNCTIONS_CREATEBOOL
static void	*cmdconn_create_bool(const redisReadTask *, int);
#endif

/*
 * The reader's functions. Never changed; not const only because the
 * reader's fn member is not.
 */
static redisReplyObjectFunctions cmdconn_fns = {
	.createString = cmdconn_create_string,
	.createArray = cmdconn_create_array,
	.createInteger = cmdconn_create_integer,
#ifdef HAVE_REDISREPLYOBJECTFUNCTIONS_CREATEDOUBLE
	.createDouble = cmdconn_create_double,
#endif
#ifdef HAVE_REDISREPLYOBJECTFUNCTIONS_CREATEBOOL
	.createBool = cmdconn_create_bool,
#endif
	.createNil = cmdconn_create_nil,
	.freeObject = cmdconn_node_unref
};

/* Commands refused because they change how the connection replies. */
static const char *const cmdconn_refused_cmds[] = {
	"SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE",
	"UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE",
	"MONITOR", "SYNC", "PSYNC"
};

/* Returns a new connection to host:port that starts connecting at once. */
struct cmdconn *
cmdconn_new(struct event_base *base, const char *host, int port, int db,
    cmdconn_lost_fn lost, void *arg)
{
	struct endpoint	ep;

	memset(&ep, 0, sizeof(ep));
	ep.host = host;
	ep.port = port;
	return cmdconn_new_at(base, &ep, db, lost, arg);
}

/* Returns a new connection to ep that starts connecting at once. */
struct cmdconn *
cmdconn_new_at(struct event_base *base, const struct endpoint *ep, int db,
    cmdconn_lost_fn lost, void *arg)
{
	struct cmdconn		*conn;
	redisAsyncContext	*ac;
	const char		*argv[3];
	size_t			 argvlen[3];
	char			 dbstr[16], why[256];
	int			 argc;

	if ((conn = calloc(1, sizeof(*conn))) == NULL)
		return NULL;
	conn->cc_base = base;
	conn->cc_lost_fn = lost;
	conn->cc_arg = arg;
	TAILQ_INIT(&conn->cc_cmds);
	endpoint_name(ep, conn->cc_name, sizeof(conn->cc_name));
	conn->cc_defer_ev = event_new(base, -1, 0, cmdconn_deferred, conn);
	if (conn->cc_defer_ev == NULL ||
	    (conn->cc_ep = endpoint_dup(ep)) == NULL) {
		cmdconn_destroy(conn);
		return NULL;
	}
	if (ep->path != NULL)
		ac = redisAsyncConnectUnix(ep->path);
	else
		ac = redisAsyncConnect(ep->host, ep->port);
	if (ac == NULL) {
		cmdconn_destroy(conn);
		return NULL;
	}
	if (ac->err || endpoint_start_tls(ep, &ac->c, why,
	    sizeof(why)) == -1) {
		cmdconn_lose(conn, ac->err ? ac->errstr : why);
		redisAsyncFree(ac);
		return conn;
	}
	/* Nothing has been read yet: the reader is ours from the start. */
	ac->c.reader->fn = &cmdconn_fns;
	ac->data = conn;
	if (redisLibeventAttach(ac, base) != REDIS_OK) {
		cmdconn_lose(conn, "cannot attach to the event loop");
		redisAsyncFree(ac);
		return conn;
	}
	redisAsyncSetConnectCallback(ac, cmdconn_connect_cb);
	redisAsyncSetDisconnectCallback(ac, cmdconn_disconnect_cb);
	conn->cc_ac = ac;
	log_debug("connecting to redis at %s", conn->cc_name);
	if ((argc = endpoint_auth_argv(ep, argv, argvlen)) > 0 &&
	    redisAsyncCommandArgv(ac, cmdconn_auth_cb, conn, argc, argv,
	    argvlen) != REDIS_OK)
		cmdconn_lose(conn, "cannot queue AUTH");
	if (db > 0) {
		/* First in the queue, with its own callback. */
		snprintf(dbstr, sizeof(dbstr), "%d", db);
		argv[0] = "SELECT";
		argv[1] = dbstr;
		if (redisAsyncCommandArgv(ac, cmdconn_select_cb, conn, 2, argv,
		    NULL) != REDIS_OK)
			cmdconn_lose(conn, "cannot queue SELECT");
	}
	return conn;
}

/* Fails what is pending and frees conn, now or on the next loop turn. */
void
cmdconn_free(struct cmdconn *conn)
{
	struct cmdconn_cmd	*cmd;
	struct future		*fut;

	if (conn == NULL || conn->cc_freeing)
		return;
	conn->cc_freeing = 1;
	/*
	 * The futures' callbacks cannot unlink commands: only hiredis calling
	 * back does that, and nothing they may call on conn makes it do so.
	 */
	TAILQ_FOREACH(cmd, &conn->cc_cmds, cmd_entry) {
		if ((fut = cmd->cmd_fut) == NULL)
			continue;
		cmd->cmd_fut = NULL;
		future_set_error(fut, "connection closed");
		future_unref(fut);
	}
	if (conn->cc_incb > 0)
		event_active(conn->cc_defer_ev, EV_TIMEOUT, 1);
	else
		cmdconn_destroy(conn);
}

/* Whether the connection is lost. */
int
cmdconn_is_lost(const struct cmdconn *conn)
{
	return conn->cc_lost;
}

/* Sends one command; returns the future of its reply. */
struct future *
cmdconn_command(struct cmdconn *conn, int argc, const char *const *argv,
    const size_t *argvlen)
{
	struct cmdconn_cmd	*cmd;
	struct future		*fut;
	const char		*refused;

	if ((fut = future_new()) == NULL)
		return NULL;
	if (conn->cc_freeing) {
		future_set_error(fut, "connection closed");
		return fut;
	}
	if (conn->cc_lost || conn->cc_ac == NULL) {
		future_set_error(fut, "connection to redis lost: %s",
		    cmdconn_why(conn));
		return fut;
	}
	if (argc < 1) {
		future_set_error(fut, "empty command");
		return fut;
	}
	if ((refused = cmdconn_refused(argc, argv, argvlen)) != NULL) {
		future_set_error(fut, "%s is not allowed on this connection",
		    refused);
		return fut;
	}
	if ((cmd = calloc(1, sizeof(*cmd))) == NULL) {
		future_set_error(fut, "out of memory");
		return fut;
	}
	cmd->cmd_conn = conn;
	cmd->cmd_fut = future_ref(fut);
	/* hiredis copies argv; its prototype just lacks the inner const. */
	if (redisAsyncCommandArgv(conn->cc_ac, cmdconn_reply_cb, cmd, argc,
	    (const char **)argv, argvlen) != REDIS_OK) {
		future_unref(cmd->cmd_fut);
		free(cmd);
		future_set_error(fut, "cannot queue the command");
		return fut;
	}
	TAILQ_INSERT_TAIL(&conn->cc_cmds, cmd, cmd_entry);
	return fut;
}

/* Appends reply as Redis would have sent it, all of it or nothing. */
int
cmdconn_reply_encode(struct evbuffer *out, const struct cmdconn_reply *reply)
{
	return cmdconn_reply_encode_proto(out, reply, 2);
}

/*
 * Appends reply for a client of protocol resp: RESP2 as Redis sent it, or
 * for RESP3 with its nulls as RESP3's null, all of it or nothing.
 */
int
cmdconn_reply_encode_proto(struct evbuffer *out,
    const struct cmdconn_reply *reply, int resp)
{
	struct evbuffer	*tmp;
	int		 rv = -1;

	if ((tmp = evbuffer_new()) == NULL)
		return -1;
	if (cmdconn_encode(tmp, reply, resp == 3) == 0 &&
	    evbuffer_add_buffer(out, tmp) == 0)
		rv = 0;
	evbuffer_free(tmp);
	return rv;
}

/* Appends one reply and its elements; -1 if it cannot be encoded. */
static int
cmdconn_encode(struct evbuffer *buf, const struct cmdconn_reply *r,
    int resp3)
{
	size_t	i;

	switch (r->type) {
	case CMDCONN_STATUS:
	case CMDCONN_ERROR:
		if (memchr(r->str, '\r', r->len) != NULL ||
		    memchr(r->str, '\n', r->len) != NULL)
			return -1;
		if (evbuffer_add(buf, r->type == CMDCONN_STATUS ? "+" : "-",
		    1) == -1 || evbuffer_add(buf, r->str, r->len) == -1 ||
		    evbuffer_add(buf, "\r\n", 2) == -1)
			return -1;
		return 0;
	case CMDCONN_INTEGER:
		return evbuffer_add_printf(buf, ":%lld\r\n", r->integer) < 0 ?
		    -1 : 0;
	case CMDCONN_STRING:
		if (evbuffer_add_printf(buf, "$%zu\r\n", r->len) < 0 ||
		    evbuffer_add(buf, r->str, r->len) == -1 ||
		    evbuffer_add(buf, "\r\n", 2) == -1)
			return -1;
		return 0;
	case CMDCONN_NIL:
		if (resp3)
			return evbuffer_add(buf, "_\r\n", 3);
		return evbuffer_add(buf, "$-1\r\n", 5);
	case CMDCONN_ARRAY:
		if (evbuffer_add_printf(buf, "*%zu\r\n", r->elements) < 0)
			return -1;
		for (i = 0; i < r->elements; i++) {
			if (r->element[i] == NULL ||
			    cmdconn_encode(buf, r->element[i], resp3) == -1)
				return -1;
		}
		return 0;
	case CMDCONN_NIL_ARRAY:
		if (resp3)
			return evbuffer_add(buf, "_\r\n", 3);
		return evbuffer_add(buf, "*-1\r\n", 5);
	}
	return -1;
}

/*
 * Frees conn and the hiredis context if it still has one; never called
 * from inside hiredis' callbacks for it.
 */
static void
cmdconn_destroy(struct cmdconn *conn)
{
	redisAsyncContext	*ac;
	struct cmdconn_cmd	*cmd;

	if ((ac = conn->cc_ac) != NULL) {
		/* Calls every command back with NULL, which frees them. */
		conn->cc_ac = NULL;
		redisAsyncFree(ac);
	}
	/* None is left unless hiredis broke its word: do not leak them. */
	while ((cmd = TAILQ_FIRST(&conn->cc_cmds)) != NULL) {
		TAILQ_REMOVE(&conn->cc_cmds, cmd, cmd_entry);
		future_unref(cmd->cmd_fut);
		free(cmd);
	}
	if (conn->cc_defer_ev != NULL)
		event_free(conn->cc_defer_ev);
	endpoint_free(conn->cc_ep);
	free(conn->cc_why);
	free(conn);
}

/*
 * Marks conn lost (once; not while it is being freed) and schedules the
 * rest for the loop: dropping a context hiredis still holds, and the lost
 * callback.
 */
static void
cmdconn_lose(struct cmdconn *conn, const char *why)
{
	if (conn->cc_lost || conn->cc_freeing)
		return;
	conn->cc_lost = 1;
	conn->cc_why = strdup(why);
	log_debug("lost connection to redis at %s: %s", conn->cc_name,
	    cmdconn_why(conn));
	event_active(conn->cc_defer_ev, EV_TIMEOUT, 1);
}

/* Why conn was lost (borrowed). */
static const char *
cmdconn_why(const struct cmdconn *conn)
{
	return conn->cc_why != NULL ? conn->cc_why : "out of memory";
}

/*
 * Runs on the loop, outside hiredis: drops a context that a lost
 * connection still holds, then frees conn if cmdconn_free() deferred that,
 * else tells the owner once that it is lost.
 */
static void
cmdconn_deferred(evutil_socket_t fd, short what, void *arg)
{
	struct cmdconn		*conn = arg;
	redisAsyncContext	*ac;

	(void)fd;
	(void)what;
	if (!conn->cc_freeing && (ac = conn->cc_ac) != NULL) {
		/* SELECT failed: pending commands fail as lost. */
		conn->cc_ac = NULL;
		redisAsyncFree(ac);
	}
	if (conn->cc_freeing) {
		cmdconn_destroy(conn);
		return;
	}
	if (conn->cc_lost && !conn->cc_told) {
		conn->cc_told = 1;
		if (conn->cc_lost_fn != NULL)
			conn->cc_lost_fn(conn, cmdconn_why(conn), conn->cc_arg);
		/* conn may be freed now. */
	}
}

/* hiredis connected, or failed to (then it frees the context). */
static void
cmdconn_connect_cb(const redisAsyncContext *ac, int status)
{
	struct cmdconn	*conn = ac->data;
	char		 why[512];

	conn->cc_incb++;
	if (status != REDIS_OK) {
		conn->cc_ac = NULL;
		cmdconn_lose(conn, endpoint_why(conn->cc_ep, ac->errstr, why,
		    sizeof(why)));
	} else
		log_debug("connected to redis at %s", conn->cc_name);
	conn->cc_incb--;
}

/* The connection is gone; hiredis frees the context after this returns. */
static void
cmdconn_disconnect_cb(const redisAsyncContext *ac, int status)
{
	struct cmdconn	*conn = ac->data;
	char		 why[512];

	conn->cc_incb++;
	conn->cc_ac = NULL;
	cmdconn_lose(conn, status == REDIS_OK ? "connection closed" :
	    endpoint_why(conn->cc_ep, ac->errstr, why, sizeof(why)));
	conn->cc_incb--;
}

/* The reply to SELECT: an error loses the connection with its text. */
static void
cmdconn_select_cb(redisAsyncContext *ac, void *obj, void *privdata)
{
	struct cmdconn		*conn = privdata;
	struct cmdconn_node	*n = obj;

	conn->cc_incb++;
	if (n == NULL) {
		conn->cc_ac = NULL;
		cmdconn_lose(conn, ac->err ? ac->errstr : "connection closed");
	} else if (n->n_reply.type == CMDCONN_ERROR)
		cmdconn_lose(conn, n->n_reply.str);
	/* hiredis frees n (our only reference) when we return. */
	conn->cc_incb--;
}

/*
 * The reply to AUTH: a refusal loses the connection, so that every command
 * sent behind it fails rather than getting Redis' NOAUTH as its reply.
 */
static void
cmdconn_auth_cb(redisAsyncContext *ac, void *obj, void *privdata)
{
	struct cmdconn		*conn = privdata;
	struct cmdconn_node	*n = obj;
	char			 why[512];

	conn->cc_incb++;
	if (n == NULL) {
		conn->cc_ac = NULL;
		cmdconn_lose(conn, ac->err ? ac->errstr : "connection closed");
	} else if (n->n_reply.type == CMDCONN_ERROR) {
		snprintf(why, sizeof(why), "authentication failed: %s",
		    n->n_reply.str);
		log_info("redis at %s refused AUTH: %s", conn->cc_name,
		    n->n_reply.str);
		cmdconn_lose(conn, why);
	}
	conn->cc_incb--;
}

/*
 * The reply to one command, or NULL if the context is going away: completes
 * its future (unless cmdconn_free() has failed it) and frees the command.
 */
static void
cmdconn_reply_cb(redisAsyncContext *ac, void *obj, void *privdata)
{
	struct cmdconn_cmd	*cmd = privdata;
	struct cmdconn		*conn = cmd->cmd_conn;
	struct cmdconn_node	*n = obj;
	struct future		*fut = cmd->cmd_fut;

	conn->cc_incb++;
	TAILQ_REMOVE(&conn->cc_cmds, cmd, cmd_entry);
	free(cmd);
	if (n == NULL) {
		conn->cc_ac = NULL;
		cmdconn_lose(conn, ac->err ? ac->errstr : "connection closed");
	}
	if (fut != NULL) {
		if (conn->cc_lost || n == NULL)
			future_set_error(fut, "connection to redis lost: %s",
			    cmdconn_why(conn));
		else {
			n->n_refs++;	/* the future's; hiredis drops its own */
			future_set_result(fut, &n->n_reply,
			    cmdconn_reply_unref);
		}
		future_unref(fut);
	}
	conn->cc_incb--;
}

/* The name of a refused command (static), or NULL if it may be sent. */
static const char *
cmdconn_refused(int argc, const char *const *argv, const size_t *argvlen)
{
	size_t	len0, len1, i;

	len0 = argvlen != NULL ? argvlen[0] : strlen(argv[0]);
	for (i = 0; i < sizeof(cmdconn_refused_cmds) /
	    sizeof(cmdconn_refused_cmds[0]); i++) {
		if (len0 == strlen(cmdconn_refused_cmds[i]) &&
		    strncasecmp(argv[0], cmdconn_refused_cmds[i], len0) == 0)
			return cmdconn_refused_cmds[i];
	}
	if (argc < 2)
		return NULL;
	len1 = argvlen != NULL ? argvlen[1] : strlen(argv[1]);
	if (len0 == 5 && strncasecmp(argv[0], "HELLO", 5) == 0 &&
	    (len1 != 1 || argv[1][0] != '2'))
		return "HELLO with a protocol other than 2";
	if (len0 == 6 && strncasecmp(argv[0], "CLIENT", 6) == 0 &&
	    len1 == 5 && strncasecmp(argv[1], "REPLY", 5) == 0)
		return "CLIENT REPLY";
	return NULL;
}

/*
 * Returns a new top-level node with hiredis' type htype in its peek header
 * and room for extra bytes after it, or NULL.
 */
static struct cmdconn_node *
cmdconn_node_new(int htype, enum cmdconn_type type, size_t extra)
{
	struct cmdconn_node	*n;

	if (extra > SIZE_MAX - sizeof(*n) ||
	    (n = calloc(1, sizeof(*n) + extra)) == NULL)
		return NULL;
	n->n_peek.type = htype;
	n->n_refs = 1;
	n->n_reply.type = type;
	return n;
}

/*
 * Links a new node into its parent as hiredis' own functions do (the parent
 * task's object, at the task's index) and returns it; returns NULL after
 * freeing it if the parent is not an array with that slot. A NULL return is
 * what the reader takes for out of memory.
 */
static void *
cmdconn_node_link(const redisReadTask *task, struct cmdconn_node *n)
{
	struct cmdconn_node	*parent;

	if (n == NULL || task->parent == NULL)
		return n;
	parent = task->parent->obj;
	if (parent == NULL || parent->n_reply.type != CMDCONN_ARRAY ||
	    task->idx < 0 || (size_t)task->idx >= parent->n_reply.elements) {
		cmdconn_node_destroy(n);
		return NULL;
	}
	parent->n_reply.element[task->idx] = &n->n_reply;
	return n;
}

/* Frees a node and its elements, whatever their counts. */
static void
cmdconn_node_destroy(struct cmdconn_node *n)
{
	struct cmdconn_reply	*e;
	size_t			 i;

	if (n->n_reply.type == CMDCONN_ARRAY) {
		for (i = 0; i < n->n_reply.elements; i++) {
			if ((e = n->n_reply.element[i]) != NULL)
				cmdconn_node_destroy((struct cmdconn_node *)
				    ((char *)e - offsetof(struct cmdconn_node,
				    n_reply)));
		}
		free(n->n_reply.element);
	}
	free(n);
}

/* Drops a reference to a top-level node: the reader's freeObject. */
static void
cmdconn_node_unref(void *obj)
{
	struct cmdconn_node	*n = obj;

	if (n != NULL && --n->n_refs == 0)
		cmdconn_node_destroy(n);
}

/* Drops the future's reference to its reply: the future's free function. */
static void
cmdconn_reply_unref(void *reply)
{
	cmdconn_node_unref((char *)reply - offsetof(struct cmdconn_node,
	    n_reply));
}

/* Builds a status, error or bulk string reply (a copy of str). */
static void *
cmdconn_create_string(const redisReadTask *task, char *str, size_t len)
{
	struct cmdconn_node	*n;
	enum cmdconn_type	 type;

	switch (task->type) {
	case REDIS_REPLY_STATUS:
		type = CMDCONN_STATUS;
		break;
	case REDIS_REPLY_ERROR:
		type = CMDCONN_ERROR;
		break;
	case REDIS_REPLY_STRING:
		type = CMDCONN_STRING;
		break;
	default:
		return NULL;	/* RESP3 (hiredis 1.x): never asked for */
	}
	if (len == SIZE_MAX ||
	    (n = cmdconn_node_new(task->type, type, len + 1)) == NULL)
		return NULL;
	memcpy(n->n_bytes, str, len);
	n->n_bytes[len] = '\0';
	n->n_reply.str = n->n_peek.str = n->n_bytes;
	n->n_reply.len = n->n_peek.len = len;
	return cmdconn_node_link(task, n);
}

/* Builds an array reply; the reader fills its elements in afterwards. */
static void *
cmdconn_create_array(const redisReadTask *task, cmdconn_count elements)
{
	struct cmdconn_node	*n;

	if (task->type != REDIS_REPLY_ARRAY)
		return NULL;	/* RESP3 maps, sets and pushes */
#ifndef HAVE_HIREDIS_SIZE_T_ELEMENTS
	if (elements < 0)
		return NULL;
#endif
	if ((n = cmdconn_node_new(REDIS_REPLY_ARRAY, CMDCONN_ARRAY, 0)) == NULL)
		return NULL;
	if (elements > 0 && (n->n_reply.element = calloc((size_t)elements,
	    sizeof(*n->n_reply.element))) == NULL) {
		free(n);
		return NULL;
	}
	n->n_reply.elements = (size_t)elements;
	return cmdconn_node_link(task, n);
}

/* Builds an integer reply. */
static void *
cmdconn_create_integer(const redisReadTask *task, long long value)
{
	struct cmdconn_node	*n;

	if ((n = cmdconn_node_new(REDIS_REPLY_INTEGER, CMDCONN_INTEGER,
	    0)) == NULL)
		return NULL;
	n->n_reply.integer = n->n_peek.integer = value;
	return cmdconn_node_link(task, n);
}

/* Builds a null: "$-1" in a bulk's task, "*-1" in an array's. */
static void *
cmdconn_create_nil(const redisReadTask *task)
{
	enum cmdconn_type	type;

	switch (task->type) {
	case REDIS_REPLY_STRING:
		type = CMDCONN_NIL;
		break;
	case REDIS_REPLY_ARRAY:
		type = CMDCONN_NIL_ARRAY;
		break;
	default:
		return NULL;	/* RESP3's "_" (hiredis 1.x) */
	}
	return cmdconn_node_link(task, cmdconn_node_new(REDIS_REPLY_NIL, type,
	    0));
}

#ifdef HAVE_REDISREPLYOBJECTFUNCTIONS_CREATEDOUBLE
/*
 * RESP3 doubles cannot be written back in RESP2: refused (the reader then
 * drops the connection). Provided because hiredis 1.x would otherwise
 * return a fake pointer as the object.
 */
static void *
cmdconn_create_double(const redisReadTask *task, double value, char *str,
    size_t len)
{
	(void)task;
	(void)value;
	(void)str;
	(void)len;
	return NULL;
}
#endif

#ifdef HAVE_REDISREPLYOBJECTFUNCTIONS_CREATEBOOL
/* RESP3 booleans: refused, as doubles are. */
static void *
cmdconn_create_bool(const redisReadTask *task, int value)
{
	(void)task;
	(void)value;
	return NULL;
}
#endif
