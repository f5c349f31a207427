/*
 * command.c: the table of commands pubsubd serves, their lookup and checks,
 * and the coroutine that serves a session's requests (see command.h).
 *
 * Each command is an entry of command_table: its name, its arity, its flags
 * (allowed while subscribed in RESP2, before login, of the connection), and
 * how it is served: at once; by awaiting the hub, for the subscribe family;
 * or by sending something to Redis and awaiting the reply, for PUBLISH,
 * PUBSUB, COMMAND and RESET. A command that is not in the table but that
 * Redis knows goes through to Redis on the session's own connection when
 * passthrough is on. The handlers are in cmd_*.c.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "acl.h"
#include "cluster_map.h"
#include "cmd.h"
#include "cmdconn.h"
#include "command.h"
#include "coro.h"
#include "endpoint.h"
#include "future.h"
#include "hub.h"
#include "log.h"
#include "rawcmd.h"
#include "session.h"

/* The coroutine's result when it has served all the input there was. */
#define COMMAND_CO_IDLE		((void *)(uintptr_t)SESSION_ENDS)

#define P	COMMAND_PUBSUB_OK
#define N	COMMAND_NOAUTH
#define C	COMMAND_CONTAINER
#define X	COMMAND_CONNECTION

/* The table; lookups are by name, case-insensitive. */
static const struct command command_table[] = {
	{ "subscribe", -2, P | X, COMMAND_SUBSCRIBE, UPSTREAM_CHANNEL,
	    NULL, NULL, NULL },
	{ "psubscribe", -2, P | X, COMMAND_SUBSCRIBE, UPSTREAM_PATTERN,
	    NULL, NULL, NULL },
	{ "ssubscribe", -2, P | X, COMMAND_SUBSCRIBE, UPSTREAM_SHARD,
	    NULL, NULL, NULL },
	{ "unsubscribe", -1, P | X, COMMAND_LOCAL, UPSTREAM_CHANNEL,
	    cmd_unsubscribe, NULL, NULL },
	{ "punsubscribe", -1, P | X, COMMAND_LOCAL, UPSTREAM_PATTERN,
	    cmd_unsubscribe, NULL, NULL },
	{ "sunsubscribe", -1, P | X, COMMAND_LOCAL, UPSTREAM_SHARD,
	    cmd_unsubscribe, NULL, NULL },
	{ "ping", -1, P | N, COMMAND_LOCAL, 0, cmd_ping, NULL, NULL },
	{ "quit", -1, P | N | X, COMMAND_QUIT, 0, NULL, NULL, NULL },
	{ "reset", 1, P | N | X, COMMAND_UPSTREAM, 0, NULL, cmd_reset_start,
	    cmd_reset_finish },
	{ "echo", 2, 0, COMMAND_LOCAL, 0, cmd_echo, NULL, NULL },
	{ "hello", -1, N | X, COMMAND_LOCAL, 0, cmd_hello, NULL, NULL },
	{ "auth", -2, N | X, COMMAND_LOCAL, 0, cmd_auth, NULL, NULL },
	{ "acl", -2, C | COMMAND_NO_MULTI, COMMAND_LOCAL, 0, cmd_acl, NULL,
	    NULL },
	{ "select", 2, 0, COMMAND_LOCAL, 0, cmd_select, NULL, NULL },
	{ "client", -2, C, COMMAND_LOCAL, 0, cmd_client, NULL, NULL },
	{ "info", -1, 0, COMMAND_LOCAL, 0, cmd_info, NULL, NULL },
	{ "publish", 3, COMMAND_CHANNEL_ARG, COMMAND_UPSTREAM,
	    UPSTREAM_CHANNEL, NULL, cmd_publish_start, cmd_publish_finish },
	{ "spublish", 3, COMMAND_CHANNEL_ARG, COMMAND_UPSTREAM,
	    UPSTREAM_SHARD, NULL, cmd_publish_start, cmd_publish_finish },
	{ "pubsub", -2, C, COMMAND_UPSTREAM, 0, NULL, cmd_pubsub_start,
	    cmd_pubsub_finish },
	{ "command", -1, C, COMMAND_UPSTREAM, 0, NULL, cmd_command_start,
	    cmd_command_finish },
};
#define COMMAND_N	(sizeof(command_table) / sizeof(command_table[0]))

#undef P
#undef N
#undef C
#undef X

/* Any other command Redis knows, when passthrough is on. */
static const struct command command_passthrough_entry = {
	"passthrough", -1, 0, COMMAND_LOCAL, 0, cmd_passthrough, NULL, NULL
};

/* Commands that never go through: they would change the connection. */
static const char *const command_refused[] = {
	"monitor", "sync", "psync", "replconf", NULL
};

static int	command_run_co(struct coro *, void *);
static void	command_co_done(struct future *, void *);

const struct command *
command_at(size_t i)
{
	return i < COMMAND_N ? &command_table[i] : NULL;
}

size_t
command_count(void)
{
	return COMMAND_N;
}

/* Whether argument i of r is word (case-insensitive). */
int
command_is(const struct resp_req *r, int i, const char *word)
{
	return i < r->argc && r->argvlen[i] == strlen(word) &&
	    strncasecmp(r->argv[i], word, r->argvlen[i]) == 0;
}

/* Parses a whole signed integer as Redis' string2ll does; -1 if not one. */
int
command_int(const char *s, size_t len, long long *out)
{
	char	buf[32], *end;

	if (len == 0 || len >= sizeof(buf) || (len > 1 && s[0] == '0') ||
	    s[0] == '+' || isspace((unsigned char)s[0]))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (strcmp(buf, "-0") == 0)
		return -1;
	errno = 0;
	*out = strtoll(buf, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	return 0;
}

/* Whether name is one of names (NULL-terminated). */
static int
command_in(const char *const *names, const char *name)
{
	int	i;

	for (i = 0; names[i] != NULL; i++)
		if (strcmp(name, names[i]) == 0)
			return 1;
	return 0;
}

/* The entry of a lower-case name, or NULL. */
static const struct command *
command_find(const char *name)
{
	size_t	i;

	for (i = 0; i < COMMAND_N; i++)
		if (strcmp(name, command_table[i].name) == 0)
			return &command_table[i];
	return NULL;
}

/* Replies Redis' "unknown command" error for the current request. */
static void
command_unknown(struct command_run *run)
{
	const struct resp_req	*r = &run->r_req;
	char			 args[160];
	size_t			 n = 0;
	int			 a;

	/* Redis' own words: the first arguments, up to 128 bytes. */
	args[0] = '\0';
	for (a = 1; a < r->argc && n < 128; a++) {
		snprintf(args + n, sizeof(args) - n, "'%.*s' ", (int)(128 - n),
		    r->argv[a]);
		n = strlen(args);
	}
	session_error(run->r_s, "ERR unknown command '%.128s', with args "
	    "beginning with: %s", r->argv[0], args);
}

/*
 * Whether pubsubd's own command full (or name) needs the user's `commands`
 * permission: the ones that show or act on other users' connections.
 */
static int
command_admin(const char *name, const char *full)
{
	return full != NULL && (strcmp(full, "client|kill") == 0 ||
	    strcmp(full, "client|list") == 0);
}

/*
 * Checks that the session may run the current request: it is logged in
 * (or the command needs no login), and its user may run the command
 * (cmd NULL: one that goes through to Redis) with these channels. Replies
 * NOAUTH or NOPERM (Redis 7.0's words) and returns -1 if not; 0 if it may.
 */
static int
command_access(struct command_run *run, const struct command *cmd,
    const char *name, const char *full)
{
	struct session		*s = run->r_s;
	const struct resp_req	*r = &run->r_req;
	struct session_stats	*st = &session_env(s)->se_stats;
	struct acl_user		*u = session_user(s);
	int			 i, ok = 1;

	if (u == NULL) {
		if (cmd != NULL && (cmd->flags & COMMAND_NOAUTH))
			return 0;
		session_error(s, "NOAUTH Authentication required.");
		return -1;
	}
	if (cmd == NULL || command_admin(name, full)) {
		if (acl_command_ok(u, name, full))
			return 0;
		st->denied_command++;
		session_error(s, "NOPERM this user has no permissions to run "
		    "the '%s' command", full != NULL ? full : name);
		return -1;
	}
	if (cmd->type == COMMAND_SUBSCRIBE) {
		for (i = 1; ok && i < r->argc; i++)
			ok = cmd->kind == UPSTREAM_PATTERN ?
			    acl_pattern_ok(u, r->argv[i], r->argvlen[i]) :
			    acl_channel_ok(u, ACL_SUBSCRIBE, r->argv[i],
			    r->argvlen[i]);
	} else if ((cmd->flags & COMMAND_CHANNEL_ARG) && r->argc >= 2)
		ok = acl_channel_ok(u, ACL_PUBLISH, r->argv[1], r->argvlen[1]);
	if (ok)
		return 0;
	/* The whole command is refused: nothing of it is done. */
	st->denied_channel++;
	session_error(s, "NOPERM this user has no permissions to access one "
	    "of the channels used as arguments");
	return -1;
}

/*
 * Inside MULTI, Redis queues (and checks) all but the connection's
 * commands. Every queued command goes to Redis as it is, pubsubd's own too
 * (PUBLISH, PUBSUB, CLIENT): each needs the user's permission to be run
 * there, and PUBLISH its channel's.
 */
static const struct command *
command_queued(struct command_run *run, const struct command *cmd,
    const char *name)
{
	/* Redis' users are not pubsubd's: ACL never goes there. */
	if (cmd != NULL && (cmd->flags & COMMAND_NO_MULTI)) {
		session_error(run->r_s, "ERR ACL is not served by pubsubd "
		    "inside MULTI");
		return NULL;
	}
	if (command_access(run, NULL, name, NULL) == -1 ||
	    (cmd != NULL && (cmd->flags & COMMAND_CHANNEL_ARG) &&
	    command_access(run, cmd, name, NULL) == -1))
		return NULL;
	return &command_passthrough_entry;
}

/*
 * The subcommand's full name ("client|getname") into full, and its arity
 * into *arity, as Redis' table (or, for the CLIENT subcommands Redis does
 * not list, pubsubd's) says. Returns 0, or -1 after replying Redis' error
 * for an unknown subcommand.
 */
static int
command_subcommand(struct command_run *run, const struct command *cmd,
    const char *name, char *full, size_t fullsize, int *arity)
{
	struct upstream		*up = session_env(run->r_s)->se_up;
	const struct resp_req	*r = &run->r_req;
	char			 upper[64];
	size_t			 i;
	int			 subarity, container, client;

	snprintf(full, fullsize, "%s|%.*s", name, (int)r->argvlen[1],
	    r->argv[1]);
	for (i = 0; full[i] != '\0'; i++)
		full[i] = (char)tolower((unsigned char)full[i]);
	client = cmd != NULL && strcmp(name, "client") == 0 &&
	    cmd_client_arity(r, &subarity) == 0;
	if (upstream_command_arity(up, full, strlen(full), &subarity,
	    &container) == 0)
		*arity = subarity;
	else if (upstream_commands_known(up) && !client) {
		for (i = 0; name[i] != '\0'; i++)
			upper[i] = (char)toupper((unsigned char)name[i]);
		upper[i] = '\0';
		session_error(run->r_s, "ERR unknown subcommand '%.128s'. Try "
		    "%s HELP.", r->argv[1], upper);
		return -1;
	} else if (client)
		*arity = subarity;
	session_set_cmd(run->r_s, full, 0);
	return 0;
}

/*
 * Once known and of the right arity: the checks after, in Redis' order
 * (login and permissions, RESP2 subscribed mode), then what serves a
 * command not in the table. Returns the command to serve, or NULL after
 * replying the error.
 */
static const struct command *
command_check(struct command_run *run, const struct command *cmd,
    const char *name, const char *full)
{
	struct session	*s = run->r_s;

	if (command_access(run, cmd, name, strchr(full, '|') != NULL ? full :
	    NULL) == -1)
		return NULL;
	/* A cluster node's own answer, after the permissions as in Redis. */
	if (cmd != NULL && (strcmp(name, "ssubscribe") == 0 ||
	    strcmp(name, "sunsubscribe") == 0) &&
	    strcmp(upstream_mode(session_env(s)->se_up), "cluster") == 0 &&
	    cluster_map_crossslot(run->r_req.argc,
	    (const char *const *)run->r_req.argv,
	    run->r_req.argvlen, 1)) {
		session_error(s, "CROSSSLOT Keys in request don't hash to the "
		    "same slot");
		return NULL;
	}
	if (session_resp(s) == 2 && session_subscribed(s) &&
	    (cmd == NULL || !(cmd->flags & COMMAND_PUBSUB_OK))) {
		session_error(s, "ERR Can't execute '%s': only (P|S)SUBSCRIBE / "
		    "(P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this "
		    "context", full);
		return NULL;
	}
	if (cmd != NULL)
		return cmd;
	if (command_in(command_refused, name)) {
		session_error(s, "ERR '%s' is not served by pubsubd", name);
		return NULL;
	}
	if (!session_env(s)->se_conf->passthrough) {
		session_error(s, "ERR '%s' is not served by pubsubd: passthrough "
		    "is off (set passthrough = true; in pubsubd.conf to forward "
		    "it to Redis)", name);
		return NULL;
	}
	return &command_passthrough_entry;
}

/*
 * Finds the command of the current request and checks it as Redis does, in
 * Redis' order: unknown command, unknown subcommand, wrong arity (of the
 * subcommand, by its full name "client|getname"), login and permissions,
 * not allowed in RESP2 subscribed mode. Replies the error itself and
 * returns NULL, or returns the command to serve. Redis' own command table
 * (learnt on connect) tells what Redis knows; pubsubd's table what pubsubd
 * serves.
 */
static const struct command *
command_lookup(struct command_run *run)
{
	struct session		*s = run->r_s;
	const struct command	*cmd;
	const struct resp_req	*r = &run->r_req;
	struct upstream		*up = session_env(s)->se_up;
	char			 name[64], full[128];
	size_t			 i, len = r->argvlen[0];
	int			 arity = 0, container = 0;

	if (len >= sizeof(name) || memchr(r->argv[0], '\0', len) != NULL) {
		command_unknown(run);
		return NULL;
	}
	for (i = 0; i < len; i++)
		name[i] = (char)tolower((unsigned char)r->argv[0][i]);
	name[len] = '\0';
	if ((cmd = command_find(name)) != NULL) {
		arity = cmd->arity;
		container = (cmd->flags & COMMAND_CONTAINER) != 0;
		/* Our own command's name is static: most keep no copy. */
		session_set_cmd(s, cmd->name, 1);
	} else
		session_set_cmd(s, name, 0);
	if ((session_flags(s) & SESSION_MULTI) &&
	    !(cmd != NULL && (cmd->flags & COMMAND_CONNECTION)))
		return command_queued(run, cmd, name);
	if (upstream_command_arity(up, name, len, &arity, &container) == -1 &&
	    cmd == NULL) {
		command_unknown(run);
		return NULL;
	}
	snprintf(full, sizeof(full), "%s", name);
	if (container && r->argc >= 2 && command_subcommand(run, cmd, name,
	    full, sizeof(full), &arity) == -1)
		return NULL;
	if ((arity > 0 && r->argc != arity) || (arity < 0 &&
	    r->argc < -arity)) {
		session_error(s, "ERR wrong number of arguments for '%s' "
		    "command", full);
		return NULL;
	}
	return command_check(run, cmd, name, full);
}

/* Drops what a (P|S)SUBSCRIBE in progress holds (its subs are listed). */
static void
command_pending_free(struct command_run *run)
{
	int	i;

	if (run->r_pending == NULL)
		return;
	for (i = 0; i < run->r_req.argc; i++)
		future_unref(run->r_pending[i].p_ready);
	free(run->r_pending);
	run->r_pending = NULL;
}

/* Drops the upstream replies an UPSTREAM command awaited. */
static void
command_release_waits(struct command_run *run)
{
	run->r_raw = 0;
	if (run->r_wait[0] != NULL)
		future_cancel(run->r_wait[0]);	/* a raw one closes */
	future_unref(run->r_wait[0]);
	future_unref(run->r_wait[1]);
	run->r_wait[0] = run->r_wait[1] = NULL;
	future_unref(run->r_settle);
	run->r_settle = NULL;
	free(run->r_adjs);
	run->r_adjs = NULL;
	run->r_nadjs = 0;
}

/* Frees the run and its coroutine (over, or cancelled). */
void
command_release(struct session *s)
{
	struct command_run	*run = session_run(s);

	if (run == NULL)
		return;
	command_pending_free(run);
	command_release_waits(run);
	future_unref(run->r_co);
	session_set_run(s, NULL);
	free(run);
}

void
command_stop(struct session *s)
{
	struct command_run	*run = session_run(s);

	if (run != NULL && run->r_co != NULL)
		future_cancel(run->r_co);	/* no-op once it has finished */
}

int
command_subscribing(const struct session *s)
{
	struct command_run	*run = session_run(s);

	return run != NULL && run->r_pending != NULL;
}

void
command_revoke(struct session *s)
{
	cmd_pubsub_revoke(s);
}

/* Starts serving the session's input, unless it is served already. */
void
command_serve(struct session *s)
{
	struct command_run	*run = session_run(s);
	struct future		*co;

	if (run != NULL && run->r_co != NULL)
		return;
	if (run == NULL) {
		if ((run = calloc(1, sizeof(*run))) == NULL)
			goto nomem;
		run->r_s = s;
		session_set_run(s, run);
	}
	if ((co = coro_spawn(session_env(s)->se_base, command_run_co, run,
	    NULL)) == NULL)
		goto nomem;
	run->r_co = co;
	if (future_add_callback(co, command_co_done, run) == NULL)
		goto nomem;
	return;
nomem:
	log_warnx("client %llu: out of memory",
	    (unsigned long long)session_id(s));
	session_close(s, 0, SESSION_END_INTERNAL);
}

/*
 * The coroutine finished (out of input, QUIT, end of input, protocol
 * error) or failed.
 */
static void
command_co_done(struct future *co, void *arg)
{
	struct command_run	*run = arg;
	struct session		*s = run->r_s;

	if (co != run->r_co)
		return;
	switch (future_state(co)) {
	case FUTURE_DONE:
		if (future_result(co) == COMMAND_CO_IDLE) {
			/* The next read starts another. */
			command_release(s);
			break;
		}
		session_close(s, 1,
		    (enum session_end)(uintptr_t)future_result(co));
		break;
	case FUTURE_FAILED:
		log_warnx("client %llu: %s", (unsigned long long)session_id(s),
		    future_error(co));
		session_close(s, 1, SESSION_END_INTERNAL);
		break;
	default:
		break;		/* cancelled: the close is under way */
	}
}

/* After a command: its secrets and the replies not sent are forgotten. */
static void
command_end(struct command_run *run)
{
	cmd_forget_secrets(&run->r_req);
	session_command_end(run->r_s);
}

/*
 * The session's coroutine: read a request, serve it, repeat. Everything
 * that lives across an await is in the run (made with the coroutine by
 * command_serve()).
 */
static int
command_run_co(struct coro *co, void *arg)
{
	struct command_run	*run = arg;
	struct session		*s = run->r_s;
	enum resp_status	 st;
	const char		*error;
	int			 eof;

	CO_BEGIN(co);
	for (;;) {
		if (session_request(s, &run->r_req, &st, &eof, &error) == -1)
			CO_FAIL(co, "out of memory");
		if (st == RESP_NEED_MORE) {
			if (eof)
				CO_RETURN(co, (void *)(uintptr_t)SESSION_END_EOF,
				    NULL);
			CO_RETURN(co, COMMAND_CO_IDLE, NULL);
		}
		if (st == RESP_PROTO_ERROR) {
			session_env(s)->se_stats.protocol_errors++;
			resp_add_error(session_out(s), "ERR %s", error);
			session_queue_write(s);
			CO_RETURN(co, (void *)(uintptr_t)SESSION_END_PROTOCOL,
			    NULL);
		}
		session_command_begin(s);
		if ((run->r_cmd = command_lookup(run)) == NULL) {
			/*
			 * Refused here, never queued on Redis: as Redis
			 * does, the open transaction is then aborted.
			 */
			if (session_flags(s) & SESSION_MULTI)
				session_flags_set(s, SESSION_MULTI_DIRTY);
			command_end(run);
			continue;
		}
		if (run->r_cmd->type == COMMAND_SUBSCRIBE) {
			/* Every name asked for at once, then each awaited. */
			if (cmd_subscribe_start(run) == -1) {
				command_end(run);
				continue;
			}
			for (run->r_argi = 1; run->r_argi < run->r_req.argc;
			    run->r_argi++) {
				if (run->r_pending[run->r_argi].p_ready != NULL)
					CO_AWAIT(co,
					    run->r_pending[run->r_argi].p_ready);
				cmd_subscribe_finish(run, run->r_argi);
			}
			command_pending_free(run);
		} else if (run->r_cmd->type == COMMAND_UPSTREAM) {
			run->r_cmd->start(run);
			if (run->r_settle != NULL) {
				CO_AWAIT(co, run->r_settle);
				run->r_cmd->start(run);
			}
			if (run->r_wait[0] != NULL) {
				CO_AWAIT(co, run->r_wait[0]);
				if (run->r_wait[1] != NULL)
					CO_AWAIT(co, run->r_wait[1]);
				run->r_cmd->finish(run);
			}
			command_release_waits(run);
		} else if (run->r_cmd->type == COMMAND_QUIT) {
			resp_add_simple(session_reply(s), "OK");
			session_queue_write(s);
			command_end(run);
			CO_RETURN(co, (void *)(uintptr_t)SESSION_END_QUIT, NULL);
		} else
			run->r_cmd->fn(run);
		command_end(run);
	}
	CO_END(co);
}

/* Sends a command to Redis into r_wait[i] (see command.h). */
int
command_upstream(struct command_run *run, int i, int argc,
    const char *const *argv, const size_t *argvlen)
{
	struct session_env	*env = session_env(run->r_s);
	const struct endpoint	*ep;
	struct future		*fut;
	char			 msg[64];

	/*
	 * COMMAND DOCS nests deeper than hiredis 0.14's reader goes (7
	 * levels): its bytes are relayed as they come, in the client's own
	 * protocol.
	 */
	if (argc >= 2 && argvlen[0] == 7 && strncasecmp(argv[0], "command",
	    7) == 0 && argvlen[1] == 4 && strncasecmp(argv[1], "docs", 4) == 0 &&
	    (ep = upstream_endpoint(env->se_up)) != NULL) {
		run->r_raw = 1;
		run->r_wait[i] = rawcmd_send(env->se_base, ep,
		    session_resp(run->r_s), argc, argv, argvlen);
	} else
		run->r_wait[i] = upstream_command(env->se_up, argc, argv,
		    argvlen);
	if (run->r_wait[i] != NULL) {
		/* Redis may be down or hung: the wait is bounded. */
		snprintf(msg, sizeof(msg), "redis did not answer within %d ms",
		    env->se_conf->command_timeout);
		fut = future_timeout(env->se_base, run->r_wait[i],
		    env->se_conf->command_timeout, msg);
		future_unref(run->r_wait[i]);
		run->r_wait[i] = fut;
	}
	if (run->r_wait[i] == NULL) {
		session_error(run->r_s, "ERR out of memory");
		return -1;
	}
	return 0;
}

/* The reply of r_wait[i], or NULL after replying its error. */
const struct cmdconn_reply *
command_upstream_reply(struct command_run *run, int i)
{
	struct session			*s = run->r_s;
	const struct cmdconn_reply	*r;

	if (future_state(run->r_wait[i]) != FUTURE_DONE) {
		session_error(s, "ERR %s", future_error(run->r_wait[i]));
		return NULL;
	}
	r = future_result(run->r_wait[i]);
	if (r->type == CMDCONN_ERROR) {
		cmdconn_reply_encode_proto(session_reply(s), r, session_resp(s));
		session_queue_write(s);
		return NULL;
	}
	return r;
}

/* Makes the coroutine await st first (see command.h). */
int
command_settle(struct command_run *run, struct hub_settle *st)
{
	struct session_env	*env = session_env(run->r_s);
	struct future		*f;

	if ((f = hub_settle_end(st)) == NULL)
		return 0;
	run->r_settle = future_timeout(env->se_base, f,
	    env->se_conf->command_timeout, "upstream operations in flight");
	future_unref(f);
	if (run->r_settle == NULL)
		return 0;	/* out of memory: go on without waiting */
	env->se_stats.count_waits++;
	return 1;
}

/* After the settle (see command.h). */
void
command_settled(struct command_run *run)
{
	if (future_state(run->r_settle) != FUTURE_DONE) {
		session_env(run->r_s)->se_stats.count_wait_timeouts++;
		log_debug("%s: sent without waiting longer for %s",
		    run->r_cmd->name, future_error(run->r_settle));
	}
}
