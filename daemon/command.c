/*
 * command.c: the commands pubsubd serves, with Redis 7's replies.
 *
 * Each command is an entry of command_table: its name, its arity, whether a
 * RESP2 client may run it while subscribed, and how it is served (at once;
 * by awaiting the hub, for the subscribe family; or by sending something to
 * Redis and awaiting the reply, for PUBLISH, PUBSUB and COMMAND). A command
 * that is not in the table but that Redis knows goes through to Redis on the
 * client's own connection when passthrough is on.
 *
 * Counts are the client's own: a confirmation counts the client's
 * subscriptions, PUBLISH and PUBSUB answer as Redis would if every pubsubd
 * client were connected to it directly (Redis' answer, less pubsubd's own
 * upstream subscriptions, plus the local subscribers).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/utsname.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include <hiredis/hiredis.h>

#include "acl.h"
#include "client_impl.h"
#include "cmdconn.h"
#include "endpoint.h"
#include "future.h"
#include "hub.h"
#include "log.h"
#include "pattern.h"
#include "procmem.h"
#include "rawcmd.h"
#include "upstream.h"

static void	cmd_unsubscribe(struct client *);
static void	cmd_ping(struct client *);
static void	cmd_echo(struct client *);
static void	cmd_hello(struct client *);
static void	cmd_auth(struct client *);
static void	cmd_acl(struct client *);
static void	cmd_select(struct client *);
static void	cmd_client(struct client *);
static void	cmd_info(struct client *);
static void	info_server(struct client *, struct evbuffer *);
static void	info_clients(struct client *, struct evbuffer *);
static void	info_memory(struct client *, struct evbuffer *);
static void	info_stats(struct client *, struct evbuffer *);
static void	info_upstream(struct client *, struct evbuffer *);
static void	info_cluster(struct client *, struct evbuffer *);
static void	cmd_reset_start(struct client *);
static void	cmd_reset_finish(struct client *);
static void	cmd_publish_start(struct client *);
static void	cmd_publish_finish(struct client *);
static int	command_settle(struct client *, struct hub_settle *);
static void	command_settled(struct client *);
static int	command_pubsub_settle(struct client *);
static int	command_pubsub_adjust(struct client *);
static void	cmd_pubsub_start(struct client *);
static void	cmd_pubsub_finish(struct client *);
static void	cmd_command_start(struct client *);
static void	cmd_command_finish(struct client *);
static void	command_reset(struct client *);
static int	command_is(const struct resp_req *, int, const char *);
static int	command_int(const char *, size_t, long long *);
static void	command_push_header(struct client *, struct evbuffer *,
		    long long);
static void	command_null(struct client *, struct evbuffer *);
static void	command_verbatim(struct client *, struct evbuffer *,
		    struct evbuffer *);
static void	command_confirm(struct client *, enum upstream_kind, int,
		    const char *, size_t);
static int	command_upstream(struct client *, int, int, const char *const *,
		    const size_t *);
static int	command_name_ok(const char *, size_t);
static int	command_noauth(const char *);
static int	command_admin(const char *, const char *);
static int	command_access(struct client *, const struct command *,
		    const char *, const char *);
static int	command_max_subscriptions(const struct client *);
static int	command_may_name(const struct client *, enum upstream_kind,
		    const char *, size_t);
static int	command_may_hold(const struct client *, struct hub_sub *);
static int	command_login(struct client *, const char *, size_t,
		    const char *, size_t);
struct command_held;
static int	command_held_collect(struct client *, enum upstream_kind,
		    struct command_held *);
static void	command_pt_lost(struct cmdconn *, const char *, void *);
int		command_client_arity(const struct resp_req *, int *);

/* The table; lookups are by name, case-insensitive. */
static const struct command command_table[] = {
	{ "subscribe", -2, 1, 0, COMMAND_SUBSCRIBE, UPSTREAM_CHANNEL,
	    NULL, NULL, NULL },
	{ "psubscribe", -2, 1, 0, COMMAND_SUBSCRIBE, UPSTREAM_PATTERN,
	    NULL, NULL, NULL },
	{ "ssubscribe", -2, 1, 0, COMMAND_SUBSCRIBE, UPSTREAM_SHARD,
	    NULL, NULL, NULL },
	{ "unsubscribe", -1, 1, 0, COMMAND_LOCAL, UPSTREAM_CHANNEL,
	    cmd_unsubscribe, NULL, NULL },
	{ "punsubscribe", -1, 1, 0, COMMAND_LOCAL, UPSTREAM_PATTERN,
	    cmd_unsubscribe, NULL, NULL },
	{ "sunsubscribe", -1, 1, 0, COMMAND_LOCAL, UPSTREAM_SHARD,
	    cmd_unsubscribe, NULL, NULL },
	{ "ping", -1, 1, 0, COMMAND_LOCAL, 0, cmd_ping, NULL, NULL },
	{ "quit", -1, 1, 0, COMMAND_QUIT, 0, NULL, NULL, NULL },
	{ "reset", 1, 1, 0, COMMAND_UPSTREAM, 0, NULL, cmd_reset_start,
	    cmd_reset_finish },
	{ "echo", 2, 0, 0, COMMAND_LOCAL, 0, cmd_echo, NULL, NULL },
	{ "hello", -1, 0, 0, COMMAND_LOCAL, 0, cmd_hello, NULL, NULL },
	{ "auth", -2, 0, 0, COMMAND_LOCAL, 0, cmd_auth, NULL, NULL },
	{ "acl", -2, 0, 1, COMMAND_LOCAL, 0, cmd_acl, NULL, NULL },
	{ "select", 2, 0, 0, COMMAND_LOCAL, 0, cmd_select, NULL, NULL },
	{ "client", -2, 0, 1, COMMAND_LOCAL, 0, cmd_client, NULL, NULL },
	{ "info", -1, 0, 0, COMMAND_LOCAL, 0, cmd_info, NULL, NULL },
	{ "publish", 3, 0, 0, COMMAND_UPSTREAM, UPSTREAM_CHANNEL, NULL,
	    cmd_publish_start, cmd_publish_finish },
	{ "spublish", 3, 0, 0, COMMAND_UPSTREAM, UPSTREAM_SHARD, NULL,
	    cmd_publish_start, cmd_publish_finish },
	{ "pubsub", -2, 0, 1, COMMAND_UPSTREAM, 0, NULL, cmd_pubsub_start,
	    cmd_pubsub_finish },
	{ "command", -1, 0, 1, COMMAND_UPSTREAM, 0, NULL, cmd_command_start,
	    cmd_command_finish },
};
#define COMMAND_N	(sizeof(command_table) / sizeof(command_table[0]))

/* Any other command Redis knows, when passthrough is on. */
static const struct command command_passthrough_entry = {
	"passthrough", -1, 0, 0, COMMAND_LOCAL, 0, command_passthrough, NULL,
	NULL
};

/* Commands that never go through: they would change the connection. */
static const char *const command_refused[] = {
	"monitor", "sync", "psync", "replconf", NULL
};

static const char *const command_verbs[UPSTREAM_KINDS][2] = {
	{ "subscribe", "unsubscribe" },
	{ "psubscribe", "punsubscribe" },
	{ "ssubscribe", "sunsubscribe" }
};

/* Whether argument i of r is word (case-insensitive). */
static int
command_is(const struct resp_req *r, int i, const char *word)
{
	return i < r->argc && r->argvlen[i] == strlen(word) &&
	    strncasecmp(r->argv[i], word, r->argvlen[i]) == 0;
}

/* Parses a whole signed integer as Redis' string2ll does; -1 if not one. */
static int
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

/* Whether a command belongs to the connection, never queued in MULTI. */
static int
command_connection_level(const char *name)
{
	static const char *const names[] = {
		"quit", "reset", "hello", "auth", "subscribe", "psubscribe",
		"ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe",
		NULL
	};

	return command_in(names, name);
}

/* Replies Redis' "unknown command" error for the current request. */
static void
command_unknown(struct client *c)
{
	const struct resp_req	*r = &c->c_sv->sv_req;
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
	client_reply_error(c, "ERR unknown command '%.128s', with args "
	    "beginning with: %s", r->argv[0], args);
}

/*
 * Finds the command of the current request and checks it as Redis does, in
 * Redis' order: unknown command, unknown subcommand, wrong arity (of the
 * subcommand, by its full name "client|getname"), not allowed in RESP2
 * subscribed mode. Replies the error itself and returns NULL, or returns
 * the command to serve. Redis' own command table (learnt on connect) tells
 * what Redis knows; pubsubd's table what pubsubd serves.
 */
const struct command *
command_lookup(struct client *c)
{
	const struct command	*cmd = NULL;
	const struct resp_req	*r = &c->c_sv->sv_req;
	struct upstream		*up = c->c_set->s_up;
	char			 name[64], full[128], upper[64];
	size_t			 i, len = r->argvlen[0];
	int			 arity = 0, container = 0, subarity;

	if (len >= sizeof(name) || memchr(r->argv[0], '\0', len) != NULL) {
		command_unknown(c);
		return NULL;
	}
	for (i = 0; i < len; i++)
		name[i] = (char)tolower((unsigned char)r->argv[0][i]);
	name[len] = '\0';
	for (i = 0; i < COMMAND_N; i++) {
		if (strcmp(name, command_table[i].name) == 0) {
			cmd = &command_table[i];
			arity = cmd->arity;
			container = cmd->container;
			break;
		}
	}
	/* Our own command's name is static: most clients keep no copy. */
	if (cmd != NULL)
		c->c_cmd = cmd->name;
	else
		client_set_cmd(c, name);
	/*
	 * Inside MULTI, Redis queues (and checks) all but the connection's.
	 * Every queued command goes to Redis as it is, pubsubd's own too
	 * (PUBLISH, PUBSUB, CLIENT): each needs the user's permission to be
	 * run there, and PUBLISH its channel's.
	 */
	if ((c->c_flags & CLIENT_MULTI) && !command_connection_level(name)) {
		/* Redis' users are not pubsubd's: ACL never goes there. */
		if (cmd != NULL && cmd->fn == cmd_acl) {
			client_reply_error(c, "ERR ACL is not served by pubsubd "
			    "inside MULTI");
			return NULL;
		}
		if (command_access(c, NULL, name, NULL) == -1 ||
		    (cmd != NULL && cmd->start == cmd_publish_start &&
		    command_access(c, cmd, name, NULL) == -1))
			return NULL;
		return &command_passthrough_entry;
	}
	if (upstream_command_arity(up, name, len, &arity, &container) == -1 &&
	    cmd == NULL) {
		command_unknown(c);
		return NULL;
	}
	snprintf(full, sizeof(full), "%s", name);
	if (container && r->argc >= 2) {
		snprintf(full, sizeof(full), "%s|%.*s", name,
		    (int)r->argvlen[1], r->argv[1]);
		for (i = 0; full[i] != '\0'; i++)
			full[i] = (char)tolower((unsigned char)full[i]);
		if (upstream_command_arity(up, full, strlen(full), &subarity,
		    &container) == 0)
			arity = subarity;
		else if (upstream_commands_known(up) &&
		    !(cmd != NULL && strcmp(name, "client") == 0 &&
		    command_client_arity(r, &subarity) == 0)) {
			for (i = 0; name[i] != '\0'; i++)
				upper[i] = (char)toupper((unsigned char)name[i]);
			upper[i] = '\0';
			client_reply_error(c, "ERR unknown subcommand '%.128s'. "
			    "Try %s HELP.", r->argv[1], upper);
			return NULL;
		} else if (cmd != NULL && strcmp(name, "client") == 0 &&
		    command_client_arity(r, &subarity) == 0)
			arity = subarity;
		client_set_cmd(c, full);
	}
	if ((arity > 0 && r->argc != arity) || (arity < 0 &&
	    r->argc < -arity)) {
		client_reply_error(c, "ERR wrong number of arguments for '%s' "
		    "command", full);
		return NULL;
	}
	/* Authentication and permissions come next, as in Redis. */
	if (command_access(c, cmd, name, strchr(full, '|') != NULL ? full :
	    NULL) == -1)
		return NULL;
	if (c->c_resp == 2 && c->c_nsubs + c->c_nshard > 0 &&
	    (cmd == NULL || !cmd->pubsub_ok)) {
		client_reply_error(c, "ERR Can't execute '%s': only (P|S)"
		    "SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are "
		    "allowed in this context", full);
		return NULL;
	}
	if (cmd != NULL)
		return cmd;
	if (command_in(command_refused, name)) {
		client_reply_error(c, "ERR '%s' is not served by pubsubd",
		    name);
		return NULL;
	}
	if (!c->c_set->s_conf->passthrough) {
		client_reply_error(c, "ERR '%s' is not served by pubsubd: "
		    "passthrough is off (set passthrough = true; in "
		    "pubsubd.conf to forward it to Redis)", name);
		return NULL;
	}
	return &command_passthrough_entry;
}

/* Whether a command may be run before authentication. */
static int
command_noauth(const char *name)
{
	/* Redis' five, and PING (which Redis 7 refuses) for health checks. */
	static const char *const names[] = {
		"auth", "hello", "quit", "reset", "ping", NULL
	};

	return command_in(names, name);
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
 * Checks that the client may run the current request: it is logged in
 * (or the command needs no login), and its user may run the command
 * (cmd NULL: one that goes through to Redis) with these channels. Replies
 * NOAUTH or NOPERM (Redis 7.0's words) and returns -1 if not; 0 if it may.
 */
static int
command_access(struct client *c, const struct command *cmd, const char *name,
    const char *full)
{
	const struct resp_req	*r = &c->c_sv->sv_req;
	struct client_stats	*st = &c->c_set->s_stats;
	int			 i, ok = 1;

	if (c->c_user == NULL) {
		if (cmd != NULL && command_noauth(cmd->name))
			return 0;
		client_reply_error(c, "NOAUTH Authentication required.");
		return -1;
	}
	if (cmd == NULL || command_admin(name, full)) {
		if (acl_command_ok(c->c_user, name, full))
			return 0;
		st->denied_command++;
		client_reply_error(c, "NOPERM this user has no permissions to "
		    "run the '%s' command", full != NULL ? full : name);
		return -1;
	}
	if (cmd->type == COMMAND_SUBSCRIBE) {
		for (i = 1; ok && i < r->argc; i++)
			ok = cmd->kind == UPSTREAM_PATTERN ?
			    acl_pattern_ok(c->c_user, r->argv[i],
			    r->argvlen[i]) : acl_channel_ok(c->c_user,
			    ACL_SUBSCRIBE, r->argv[i], r->argvlen[i]);
	} else if (cmd->start == cmd_publish_start && r->argc >= 2)
		ok = acl_channel_ok(c->c_user, ACL_PUBLISH, r->argv[1],
		    r->argvlen[1]);
	if (ok)
		return 0;
	/* The whole command is refused: nothing of it is done. */
	st->denied_channel++;
	client_reply_error(c, "NOPERM this user has no permissions to access "
	    "one of the channels used as arguments");
	return -1;
}

/*
 * The subscriptions one connection may hold: its user's max_subscriptions,
 * else limits.max_subscriptions; 0: no limit.
 */
static int
command_max_subscriptions(const struct client *c)
{
	int	n = c->c_user != NULL ?
		    acl_user_max_subscriptions(c->c_user) : 0;

	return n > 0 ? n : c->c_set->s_conf->max_subscriptions;
}

/* Whether the client's user may subscribe to name (len bytes) of kind. */
static int
command_may_name(const struct client *c, enum upstream_kind kind,
    const char *name, size_t len)
{
	if (c->c_user == NULL)
		return 0;
	if (kind == UPSTREAM_PATTERN)
		return acl_pattern_ok(c->c_user, name, len);
	return acl_channel_ok(c->c_user, ACL_SUBSCRIBE, name, len);
}

/* Whether the client's user may still hold sub (a reload may revoke). */
static int
command_may_hold(const struct client *c, struct hub_sub *sub)
{
	const char	*name;
	size_t		 len;

	name = hub_sub_name(sub, &len);
	return command_may_name(c, hub_sub_kind(sub), name, len);
}

/*
 * Drops the subscriptions the client's user may no longer hold (after a
 * reload), each with its unsubscribe push, so that client libraries know.
 * Those of a (P|S)SUBSCRIBE still being served are left to
 * command_subscribe_finish(), which checks again.
 */
void
command_revoke(struct client *c)
{
	struct hub_sub	*sub, *next;
	const char	*name;
	char		*copy;
	size_t		 len;
	int		 i, pending;

	for (sub = TAILQ_FIRST(&c->c_sublist); sub != NULL; sub = next) {
		next = TAILQ_NEXT(sub, hs_owner_link);
		if (command_may_hold(c, sub))
			continue;
		pending = 0;
		for (i = 1; c->c_sv != NULL && c->c_sv->sv_pending != NULL &&
		    i < c->c_sv->sv_req.argc; i++)
			pending |= c->c_sv->sv_pending[i].p_sub == sub;
		if (pending)
			continue;
		/* The name lives in the hub's channel: copy it. */
		name = hub_sub_name(sub, &len);
		if ((copy = malloc(len + 1)) == NULL)
			fatalx("out of memory");
		memcpy(copy, name, len);
		log_info("client %llu: user '%s' may no longer hold '%.*s': "
		    "unsubscribed", (unsigned long long)c->c_id,
		    acl_user_name(c->c_user), (int)(len > 128 ? 128 : len),
		    copy);
		i = hub_sub_kind(sub);
		client_drop_sub(c, sub);
		command_confirm(c, (enum upstream_kind)i, 1, copy, len);
		free(copy);
	}
}

/* Writes the header of a push: ">n" in RESP3, "*n" in RESP2. */
static void
command_push_header(struct client *c, struct evbuffer *out, long long n)
{
	evbuffer_add_printf(out, "%c%lld\r\n", c->c_resp == 3 ? '>' : '*', n);
}

/* Writes a null: "_" in RESP3, a null bulk in RESP2. */
static void
command_null(struct client *c, struct evbuffer *out)
{
	if (c->c_resp == 3)
		evbuffer_add(out, "_\r\n", 3);
	else
		resp_add_null(out);
}

/* Writes text as Redis' verbatim string ("=len\r\ntxt:..." in RESP3). */
static void
command_verbatim(struct client *c, struct evbuffer *out, struct evbuffer *txt)
{
	size_t	len = evbuffer_get_length(txt);

	if (c->c_resp == 3)
		evbuffer_add_printf(out, "=%zu\r\ntxt:", len + 4);
	else
		evbuffer_add_printf(out, "$%zu\r\n", len);
	evbuffer_add_buffer(out, txt);
	evbuffer_add(out, "\r\n", 2);
}

/*
 * Queues a (un)subscribe confirmation: [verb, name (nil if NULL), count]
 * with the client's own count (shard channels are counted apart). A push:
 * CLIENT REPLY OFF does not stop it, as in Redis.
 */
static void
command_confirm(struct client *c, enum upstream_kind kind, int unsub,
    const char *name, size_t len)
{
	struct evbuffer	*out = client_out(c);
	const char	*verb = command_verbs[kind][unsub];

	command_push_header(c, out, 3);
	resp_add_bulk(out, verb, strlen(verb));
	if (name != NULL)
		resp_add_bulk(out, name, len);
	else
		command_null(c, out);
	resp_add_int(out, kind == UPSTREAM_SHARD ? c->c_nshard : c->c_nsubs);
	client_queue_write(c);
}

/*
 * Starts a (P|S)SUBSCRIBE: asks the hub for every name not yet held, so that
 * their upstream subscriptions are in flight together. Returns -1 (error
 * replied) on allocation failure.
 */
int
command_subscribe_start(struct client *c)
{
	const struct client_conf *conf = c->c_set->s_conf;
	struct client_pending	*p;
	struct hub_sub		*sub;
	struct future		*ready;
	char			 msg[128];
	size_t			 held;
	int			 i;

	c->c_sv->sv_kind = c->c_sv->sv_command->kind;
	c->c_sv->sv_pending = calloc((size_t)c->c_sv->sv_req.argc,
	    sizeof(*c->c_sv->sv_pending));
	if (c->c_sv->sv_pending == NULL) {
		client_reply_error(c, "ERR out of memory");
		return -1;
	}
	held = (size_t)c->c_held[UPSTREAM_CHANNEL] +
	    c->c_held[UPSTREAM_PATTERN] + c->c_held[UPSTREAM_SHARD];
	for (i = 1; i < c->c_sv->sv_req.argc; i++) {
		p = &c->c_sv->sv_pending[i];
		if (client_find_sub(c, c->c_sv->sv_kind,
		    c->c_sv->sv_req.argv[i],
		    c->c_sv->sv_req.argvlen[i]) != NULL)
			continue;	/* held, or earlier in this command */
		if (command_max_subscriptions(c) > 0 &&
		    held >= (size_t)command_max_subscriptions(c)) {
			p->p_limit = 1;
			continue;
		}
		sub = hub_subscribe(c->c_set->s_hub, &c->c_hs,
		    c->c_sv->sv_kind, c->c_sv->sv_req.argv[i],
		    c->c_sv->sv_req.argvlen[i], &ready);
		if (sub == NULL) {
			p->p_nomem = 1;
			continue;
		}
		held++;
		/* Redis may be down: the wait is bounded. */
		snprintf(msg, sizeof(msg), "redis did not confirm the "
		    "subscription within %d ms", conf->command_timeout);
		p->p_ready = future_timeout(c->c_set->s_base, ready,
		    conf->command_timeout, msg);
		future_unref(ready);
		if (p->p_ready == NULL) {
			hub_unsubscribe(c->c_set->s_hub, sub);
			p->p_nomem = 1;
			continue;
		}
		if (client_add_sub(c, sub) == -1) {
			hub_unsubscribe(c->c_set->s_hub, sub);
			future_unref(p->p_ready);
			p->p_ready = NULL;
			p->p_nomem = 1;
			continue;
		}
		p->p_sub = sub;
	}
	return 0;
}

/*
 * Finishes one name of a (P|S)SUBSCRIBE whose future is done: activates
 * the subscription and queues its confirmation in the same step.
 */
void
command_subscribe_finish(struct client *c, int i)
{
	struct client_pending	*p = &c->c_sv->sv_pending[i];

	if (p->p_nomem) {
		client_reply_error(c, "ERR out of memory");
		return;
	}
	if (p->p_limit) {
		client_reply_error(c, "ERR max subscriptions per client reached "
		    "(%d)", command_max_subscriptions(c));
		return;
	}
	/*
	 * A reload revoked it while Redis was confirming an earlier name of
	 * this command: whether this one was asked for now (p_sub) or was
	 * already held (command_revoke() dropped it then), it is refused,
	 * never confirmed.
	 */
	if (!command_may_name(c, c->c_sv->sv_kind, c->c_sv->sv_req.argv[i],
	    c->c_sv->sv_req.argvlen[i])) {
		if (p->p_sub != NULL)
			client_drop_sub(c, p->p_sub);
		p->p_sub = NULL;
		c->c_set->s_stats.denied_channel++;
		client_reply_error(c, "NOPERM this user has no permissions to "
		    "access one of the channels used as arguments");
		return;
	}
	if (p->p_sub != NULL) {		/* else: already held */
		if (future_state(p->p_ready) != FUTURE_DONE) {
			client_reply_error(c, "ERR %s",
			    future_error(p->p_ready));
			client_drop_sub(c, p->p_sub);
			p->p_sub = NULL;
			return;
		}
		hub_activate(c->c_set->s_hub, p->p_sub);
		/* Counted only if active, as client_drop_sub() uncounts. */
		if (hub_sub_active(p->p_sub)) {
			if (c->c_sv->sv_kind == UPSTREAM_SHARD)
				c->c_nshard++;
			else
				c->c_nsubs++;
			c->c_set->s_stats.subscriptions[c->c_sv->sv_kind]++;
		}
		p->p_sub = NULL;
	}
	command_confirm(c, c->c_sv->sv_kind, 0, c->c_sv->sv_req.argv[i],
	    c->c_sv->sv_req.argvlen[i]);
}

/* (P|S)UNSUBSCRIBE [name ...]: one confirmation per name, held or not. */
static void
cmd_unsubscribe(struct client *c)
{
	enum upstream_kind	 kind = c->c_sv->sv_command->kind;
	struct hub_sub		*sub, *next;
	const char		*name;
	char			*copy;
	size_t			 len;
	int			 i;

	if (c->c_sv->sv_req.argc == 1) {
		if (c->c_held[kind] == 0) {
			command_confirm(c, kind, 1, NULL, 0);
			return;
		}
		/* In the order of subscription, as Redis does for patterns. */
		for (sub = TAILQ_FIRST(&c->c_sublist); sub != NULL; sub = next) {
			next = TAILQ_NEXT(sub, hs_owner_link);
			if (hub_sub_kind(sub) != kind)
				continue;
			/* The name lives in the hub's channel: copy it. */
			name = hub_sub_name(sub, &len);
			if ((copy = malloc(len + 1)) == NULL)
				fatalx("out of memory");
			memcpy(copy, name, len);
			client_drop_sub(c, sub);
			command_confirm(c, kind, 1, copy, len);
			free(copy);
		}
		return;
	}
	for (i = 1; i < c->c_sv->sv_req.argc; i++) {
		sub = client_find_sub(c, kind, c->c_sv->sv_req.argv[i],
		    c->c_sv->sv_req.argvlen[i]);
		if (sub != NULL)
			client_drop_sub(c, sub);
		command_confirm(c, kind, 1, c->c_sv->sv_req.argv[i],
		    c->c_sv->sv_req.argvlen[i]);
	}
}

/* PING [message]: in RESP2 subscribed mode Redis answers a "pong" array. */
static void
cmd_ping(struct client *c)
{
	struct evbuffer	*out;

	if (c->c_sv->sv_req.argc > 2) {
		client_reply_error(c, "ERR wrong number of arguments for "
		    "'ping' command");
		return;
	}
	out = client_reply(c);
	if (c->c_resp == 2 && c->c_nsubs + c->c_nshard > 0) {
		resp_add_array(out, 2);
		resp_add_bulk(out, "pong", 4);
		if (c->c_sv->sv_req.argc == 2)
			resp_add_bulk(out, c->c_sv->sv_req.argv[1],
			    c->c_sv->sv_req.argvlen[1]);
		else
			resp_add_bulk(out, "", 0);
	} else if (c->c_sv->sv_req.argc == 2)
		resp_add_bulk(out, c->c_sv->sv_req.argv[1],
		    c->c_sv->sv_req.argvlen[1]);
	else
		resp_add_simple(out, "PONG");
	client_queue_write(c);
}

/* ECHO message. */
static void
cmd_echo(struct client *c)
{
	resp_add_bulk(client_reply(c), c->c_sv->sv_req.argv[1],
	    c->c_sv->sv_req.argvlen[1]);
	client_queue_write(c);
}

/* Whether a client name is valid: printable, no spaces (Redis' rule). */
static int
command_name_ok(const char *name, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		if (name[i] < '!' || name[i] > '~')
			return 0;
	return 1;
}

/*
 * HELLO [protover [AUTH username password] [SETNAME name]]: switches the
 * protocol and answers Redis' map (the version is the upstream's).
 */
static void
cmd_hello(struct client *c)
{
	const struct resp_req	*r = &c->c_sv->sv_req;
	struct evbuffer		*out;
	const char		*user = NULL, *name = NULL, *version;
	size_t			 userlen = 0, namelen = 0;
	long long		 ver = 0;
	int			 j, j0 = 0;

	if (r->argc >= 2) {
		if (command_int(r->argv[1], r->argvlen[1], &ver) == -1) {
			client_reply_error(c, "ERR Protocol version is not an "
			    "integer or out of range");
			return;
		}
		if (ver < 2 || ver > 3) {
			client_reply_error(c, "NOPROTO unsupported protocol "
			    "version");
			return;
		}
	}
	for (j = 2; j < r->argc; j++) {
		if (command_is(r, j, "auth") && r->argc - 1 - j >= 2) {
			user = r->argv[j + 1];
			userlen = r->argvlen[j + 1];
			j0 = j;
			j += 2;
		} else if (command_is(r, j, "setname") && r->argc - 1 - j >= 1) {
			name = r->argv[j + 1];
			namelen = r->argvlen[j + 1];
			j++;
		} else {
			client_reply_error(c, "ERR Syntax error in HELLO "
			    "option '%s'", r->argv[j]);
			return;
		}
	}
	if (user != NULL && command_login(c, user, userlen, r->argv[j0 + 2],
	    r->argvlen[j0 + 2]) == -1)
		return;
	if (c->c_user == NULL) {
		/* Redis 7.0's words, "HELLO AUTH" as it writes them. */
		client_reply_error(c, "NOAUTH HELLO must be called with the "
		    "client already authenticated, otherwise the HELLO AUTH "
		    "<user> <pass> option can be used to authenticate the "
		    "client and select the RESP protocol version at the same "
		    "time");
		return;
	}
	if (name != NULL) {
		if (!command_name_ok(name, namelen)) {
			client_reply_error(c, "ERR Client names cannot contain "
			    "spaces, newlines or special characters.");
			return;
		}
		client_set_name(c, name, namelen);
	}
	if (ver != 0)
		client_set_proto(c, (int)ver);
	out = client_reply(c);
	version = upstream_redis_version(c->c_set->s_up);
	if (c->c_resp == 3)
		evbuffer_add(out, "%7\r\n", 4);
	else
		resp_add_array(out, 14);
	resp_add_bulk(out, "server", 6);
	resp_add_bulk(out, "redis", 5);
	resp_add_bulk(out, "version", 7);
	resp_add_bulk(out, version, strlen(version));
	resp_add_bulk(out, "proto", 5);
	resp_add_int(out, c->c_resp);
	resp_add_bulk(out, "id", 2);
	resp_add_int(out, (long long)c->c_id);
	resp_add_bulk(out, "mode", 4);
	resp_add_bulk(out, "standalone", 10);
	resp_add_bulk(out, "role", 4);
	resp_add_bulk(out, "master", 6);
	resp_add_bulk(out, "modules", 7);
	resp_add_array(out, 0);
	client_queue_write(c);
}

/*
 * Logs the client in as user (len bytes) if password is right, and the
 * user has room for one more connection. Replies WRONGPASS (the same
 * words whether the user exists or not) or the limit's error, logs and
 * counts the failure, and returns -1; or returns 0 with nothing replied.
 * The password is never logged.
 */
static int
command_login(struct client *c, const char *user, size_t userlen,
    const char *password, size_t passlen)
{
	struct acl_user	*u;
	char		 addr[CLIENT_ADDR_MAX], shown[64];
	size_t		 i;

	u = acl_authenticate(c->c_set->s_conf->acl, user, userlen, password,
	    passlen);
	if (u != NULL && u != c->c_user && !acl_user_has_room(u)) {
		log_notice("client %llu (%s): user '%s' is at its "
		    "max_connections (%d): login refused",
		    (unsigned long long)c->c_id, client_peer_name(c, addr,
		    sizeof(addr)), acl_user_name(u),
		    acl_user_max_connections(u));
		client_reply_error(c, "ERR max number of connections of user "
		    "'%s' reached (%d)", acl_user_name(u),
		    acl_user_max_connections(u));
		return -1;
	}
	if (u == NULL) {
		/* The name is the client's: shown printable and short. */
		for (i = 0; i < userlen && i < sizeof(shown) - 1; i++)
			shown[i] = user[i] >= ' ' && user[i] <= '~' ?
			    user[i] : '?';
		shown[i] = '\0';
		/* Counted every time; logged within a bound (a flood). */
		c->c_set->s_stats.auth_failures++;
		if (client_auth_log(c->c_set))
			log_notice("client %llu (%s): authentication failed "
			    "for user '%s%s'", (unsigned long long)c->c_id,
			    client_peer_name(c, addr, sizeof(addr)), shown,
			    userlen > i ? "..." : "");
		client_reply_error(c, "WRONGPASS invalid username-password pair "
		    "or user is disabled.");
		return -1;
	}
	if (u != c->c_user && c->c_user != NULL) {
		/*
		 * The connection is now u's: what it holds from the user before
		 * is kept only if u may hold it too, as after a reload.
		 */
		client_set_user(c, u);
		command_revoke(c);
	} else
		client_set_user(c, u);
	return 0;
}

/*
 * AUTH [username] password. With one argument the user is "default"; if
 * that one has nopass, Redis answers an error rather than checking.
 */
static void
cmd_auth(struct client *c)
{
	const struct resp_req	*r = &c->c_sv->sv_req;

	if (r->argc > 3) {
		client_reply_error(c, "ERR syntax error");
		return;
	}
	if (r->argc == 2 && acl_default_nopass(c->c_set->s_conf->acl)) {
		client_reply_error(c, "ERR AUTH <password> called without any "
		    "password configured for the default user. Are you sure "
		    "your configuration is correct?");
		return;
	}
	if (r->argc == 2) {
		if (command_login(c, ACL_DEFAULT_USER,
		    strlen(ACL_DEFAULT_USER), r->argv[1], r->argvlen[1]) == -1)
			return;
	} else if (command_login(c, r->argv[1], r->argvlen[1], r->argv[2],
	    r->argvlen[2]) == -1)
		return;
	resp_add_simple(client_reply(c), "OK");
	client_queue_write(c);
}

/*
 * ACL WHOAMI: the connection's user. Every other subcommand is refused
 * here rather than passed through: pubsubd's users are its own, and
 * Redis' (which pubsubd's own connections log in as) are no business of
 * its clients.
 */
static void
cmd_acl(struct client *c)
{
	const struct resp_req	*r = &c->c_sv->sv_req;
	const char		*name;

	if (command_is(r, 1, "whoami")) {
		if (r->argc != 2) {
			client_reply_error(c, "ERR wrong number of arguments "
			    "for 'acl|whoami' command");
			return;
		}
		name = acl_user_name(c->c_user);
		resp_add_bulk(client_reply(c), name, strlen(name));
		client_queue_write(c);
		return;
	}
	client_reply_error(c, "ERR ACL %.128s is not served by pubsubd: its "
	    "users are set in pubsubd.conf (users), and Redis' users are not "
	    "reachable through it", r->argv[1]);
}

/*
 * Wipes AUTH's arguments, and the password after any AUTH word of HELLO,
 * whether the request logged in, failed, or was refused before it ran
 * (arity, RESP2 subscribed mode): the parser's buffer would otherwise keep
 * them until reused or freed (and free(3) does not clear).
 */
void
command_forget_secrets(struct client *c)
{
	const struct resp_req	*r = &c->c_sv->sv_req;
	int			 i;

	if (r->argc < 2)
		return;
	if (command_is(r, 0, "auth")) {
		for (i = 1; i < r->argc; i++)
			resp_req_cleanse(r, i);
	} else if (command_is(r, 0, "hello")) {
		for (i = 2; i + 2 < r->argc; i++)
			if (command_is(r, i, "auth"))
				resp_req_cleanse(r, i + 2);
	}
}

/* SELECT index: local, or through the passthrough connection once open. */
static void
cmd_select(struct client *c)
{
	struct client_slot	*slot;
	struct future		*fut;
	long long		 db;

	if (command_int(c->c_sv->sv_req.argv[1], c->c_sv->sv_req.argvlen[1],
	    &db) == -1 || db < INT_MIN || db > INT_MAX) {
		client_reply_error(c, "ERR value is not an integer or out of "
		    "range");
		return;
	}
	if (db < 0 || db >= upstream_databases(c->c_set->s_up)) {
		client_reply_error(c, "ERR DB index is out of range");
		return;
	}
	if (client_pt(c) == NULL) {
		c->c_db = (int)db;
		resp_add_simple(client_reply(c), "OK");
		client_queue_write(c);
		return;
	}
	fut = cmdconn_command(client_pt(c), c->c_sv->sv_req.argc,
	    (const char *const *)c->c_sv->sv_req.argv, c->c_sv->sv_req.argvlen);
	if (fut == NULL || (slot = client_slot_add(c, fut)) == NULL) {
		future_unref(fut);
		client_reply_error(c, "ERR out of memory");
		return;
	}
	slot->s_select = 1;
	slot->s_db = (int)db;
	future_unref(fut);
}

/* The passthrough connection died: close the client once its replies are in. */
static void
command_pt_lost(struct cmdconn *conn, const char *why, void *arg)
{
	struct client	*c = arg;

	log_info("client %llu: passthrough connection lost: %s",
	    (unsigned long long)c->c_id, why);
	c->c_flags |= CLIENT_PT_LOST;
	if (TAILQ_EMPTY(&c->c_slots))
		client_close(c, 1, CLIENT_R_PASSTHROUGH);
}

/*
 * Sends the request to Redis on the client's own connection (opened on first
 * use, in the client's database) without waiting: a slot keeps the reply's
 * place among the client's replies.
 */
void
command_passthrough(struct client *c)
{
	const struct client_conf	*conf = c->c_set->s_conf;
	const struct resp_req		*r = &c->c_sv->sv_req;
	struct client_slot		*slot;
	struct future			*fut;
	const char			*discard = "DISCARD";
	size_t				 discardlen = 7;
	int				 abort;

	/*
	 * An EXEC whose transaction had a command pubsubd refused (so Redis
	 * never queued it) is sent as DISCARD, and answered as Redis answers
	 * a transaction with an error queued: EXECABORT.
	 */
	abort = (c->c_flags & CLIENT_MULTI_DIRTY) && command_is(r, 0, "exec");
	if (client_pt(c) == NULL) {
		if (client_cold(c) == NULL || (c->c_cold->cc_pt =
		    cmdconn_new_at(c->c_set->s_base, conf->redis, c->c_db,
		    command_pt_lost, c)) == NULL) {
			client_reply_error(c, "ERR out of memory");
			return;
		}
	}
	fut = abort ? cmdconn_command(client_pt(c), 1, &discard, &discardlen) :
	    cmdconn_command(client_pt(c), r->argc,
	    (const char *const *)r->argv, r->argvlen);
	if (fut == NULL || (slot = client_slot_add(c, fut)) == NULL) {
		future_unref(fut);
		client_reply_error(c, "ERR out of memory");
		return;
	}
	future_unref(fut);
	slot->s_execabort = abort;
	if (command_is(r, 0, "multi"))
		c->c_flags |= CLIENT_MULTI;
	else if (command_is(r, 0, "exec") || command_is(r, 0, "discard"))
		c->c_flags &= ~(CLIENT_MULTI | CLIENT_MULTI_DIRTY);
}

/*
 * Parses a client type (TYPE normal|pubsub|master|replica|slave) into
 * *type: 0 normal, 1 pubsub, 2 replication. Returns 0, or -1 after replying.
 */
static int
command_client_type(struct client *c, int i, int *type)
{
	const struct resp_req	*r = &c->c_sv->sv_req;

	if (command_is(r, i, "normal"))
		*type = 0;
	else if (command_is(r, i, "pubsub"))
		*type = 1;
	else if (command_is(r, i, "master") || command_is(r, i, "replica") ||
	    command_is(r, i, "slave"))
		*type = 2;
	else {
		client_reply_error(c, "ERR Unknown client type '%s'",
		    r->argv[i]);
		return -1;
	}
	return 0;
}

/* Whether o is of a client type (see command_client_type()); -1: any. */
static int
command_client_is(const struct client *o, int type)
{
	return type == -1 || type == (o->c_nsubs + o->c_nshard > 0);
}

/* CLIENT ID. */
static void
client_cmd_id(struct client *c)
{
	resp_add_int(client_reply(c), (long long)c->c_id);
}

/* CLIENT GETNAME. */
static void
client_cmd_getname(struct client *c)
{
	const char	*name = client_name(c);

	if (name != NULL)
		resp_add_bulk(client_reply(c), name, strlen(name));
	else
		command_null(c, client_reply(c));
}

/* CLIENT SETNAME name (empty: no name). */
static void
client_cmd_setname(struct client *c)
{
	const struct resp_req	*r = &c->c_sv->sv_req;

	if (!command_name_ok(r->argv[2], r->argvlen[2])) {
		client_reply_error(c, "ERR Client names cannot contain spaces, "
		    "newlines or special characters.");
		return;
	}
	client_set_name(c, r->argv[2], r->argvlen[2]);
	resp_add_simple(client_reply(c), "OK");
}

/* CLIENT SETINFO lib-name|lib-ver value, as Redis 7.2 checks it. */
static void
client_cmd_setinfo(struct client *c)
{
	const struct resp_req	*r = &c->c_sv->sv_req;

	if (!command_is(r, 2, "lib-name") && !command_is(r, 2, "lib-ver")) {
		client_reply_error(c, "ERR Unrecognized option '%s'",
		    r->argv[2]);
		return;
	}
	if (!command_name_ok(r->argv[3], r->argvlen[3])) {
		client_reply_error(c, "ERR %s cannot contain spaces, newlines "
		    "or special characters.", r->argv[2]);
		return;
	}
	resp_add_simple(client_reply(c), "OK");
}

/* CLIENT INFO: this client's line. */
static void
client_cmd_info(struct client *c)
{
	struct evbuffer	*txt;

	if ((txt = evbuffer_new()) == NULL)
		fatalx("out of memory");
	client_format_info(c, txt);
	command_verbatim(c, client_reply(c), txt);
	evbuffer_free(txt);
}

/* CLIENT NO-EVICT on|off: accepted (pubsubd evicts nobody). */
static void
client_cmd_noevict(struct client *c)
{
	if (!command_is(&c->c_sv->sv_req, 2, "on") &&
	    !command_is(&c->c_sv->sv_req, 2, "off")) {
		client_reply_error(c, "ERR syntax error");
		return;
	}
	resp_add_simple(client_reply(c), "OK");
}

/* CLIENT REPLY ON|OFF|SKIP. */
static void
client_cmd_reply(struct client *c)
{
	const struct resp_req	*r = &c->c_sv->sv_req;

	if (command_is(r, 2, "on")) {
		c->c_flags &= ~(CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP |
		    CLIENT_SKIP_THIS);
		resp_add_simple(client_reply(c), "OK");
	} else if (command_is(r, 2, "off"))
		c->c_flags |= CLIENT_REPLY_OFF;
	else if (command_is(r, 2, "skip")) {
		if (!(c->c_flags & CLIENT_REPLY_OFF))
			c->c_flags |= CLIENT_REPLY_SKIP;
	} else
		client_reply_error(c, "ERR syntax error");
}

/* CLIENT LIST [TYPE type] [ID id ...]. */
static void
client_cmd_list(struct client *c)
{
	const struct resp_req	*r = &c->c_sv->sv_req;
	struct client		*o;
	struct evbuffer		*txt;
	long long		 id;
	int			 i, j, type = -1, ids = 0;

	for (i = 2; i < r->argc; i++) {
		if (command_is(r, i, "type") && i + 1 < r->argc) {
			if (command_client_type(c, ++i, &type) == -1)
				return;
		} else if (command_is(r, i, "id") && i + 1 < r->argc) {
			for (ids = ++i; i < r->argc; i++) {
				if (command_int(r->argv[i], r->argvlen[i],
				    &id) == -1 || id <= 0) {
					client_reply_error(c, "ERR Invalid "
					    "client ID");
					return;
				}
			}
		} else {
			client_reply_error(c, "ERR syntax error");
			return;
		}
	}
	if ((txt = evbuffer_new()) == NULL)
		fatalx("out of memory");
	if (ids > 0) {
		/* In the order of the ids asked for, as Redis does. */
		for (j = ids; j < r->argc; j++) {
			command_int(r->argv[j], r->argvlen[j], &id);
			if ((o = client_find(c->c_set, (uint64_t)id)) != NULL &&
			    command_client_is(o, type))
				client_format_info(o, txt);
		}
	} else {
		TAILQ_FOREACH(o, &c->c_set->s_clients, c_entry)
			if (command_client_is(o, type))
				client_format_info(o, txt);
	}
	command_verbatim(c, client_reply(c), txt);
	evbuffer_free(txt);
}

/*
 * CLIENT KILL addr:port (the old form: +OK or an error), or CLIENT KILL
 * <filter value> ... (the number killed). A client that kills itself gets
 * its reply first.
 */
static void
client_cmd_kill(struct client *c)
{
	const struct resp_req	*r = &c->c_sv->sv_req;
	struct client		*o, *next;
	struct acl_user		*user = NULL;
	const char		*addr = NULL, *laddr = NULL;
	char			 buf[CLIENT_ADDR_MAX];
	long long		 id = 0, n = 0;
	int			 i, type = -1, skipme = 1;

	if (r->argc == 3) {
		addr = r->argv[2];
		skipme = 0;
	}
	for (i = 2; r->argc > 3 && i < r->argc; i += 2) {
		if (i + 1 >= r->argc) {
			client_reply_error(c, "ERR syntax error");
			return;
		}
		if (command_is(r, i, "id")) {
			if (command_int(r->argv[i + 1], r->argvlen[i + 1],
			    &id) == -1 || id <= 0) {
				client_reply_error(c, "ERR client-id should be "
				    "greater than 0");
				return;
			}
		} else if (command_is(r, i, "addr"))
			addr = r->argv[i + 1];
		else if (command_is(r, i, "laddr"))
			laddr = r->argv[i + 1];
		else if (command_is(r, i, "skipme") &&
		    (command_is(r, i + 1, "yes") || command_is(r, i + 1, "no")))
			skipme = command_is(r, i + 1, "yes");
		else if (command_is(r, i, "type")) {
			if (command_client_type(c, i + 1, &type) == -1)
				return;
		} else if (command_is(r, i, "user")) {
			if ((user = acl_find(c->c_set->s_conf->acl,
			    r->argv[i + 1], r->argvlen[i + 1])) == NULL) {
				client_reply_error(c, "ERR No such user '%s'",
				    r->argv[i + 1]);
				return;
			}
		} else {
			client_reply_error(c, "ERR syntax error");
			return;
		}
	}
	for (o = TAILQ_FIRST(&c->c_set->s_clients); o != NULL; o = next) {
		next = TAILQ_NEXT(o, c_entry);
		if ((id != 0 && o->c_id != (uint64_t)id) ||
		    !command_client_is(o, type) ||
		    (user != NULL && o->c_user != user) ||
		    (addr != NULL && strcmp(client_peer_name(o, buf,
		    sizeof(buf)), addr) != 0) ||
		    (laddr != NULL && strcmp(client_local_name(o, buf,
		    sizeof(buf)), laddr) != 0) ||
		    (skipme && o == c))
			continue;
		n++;
		client_close(o, o == c, CLIENT_R_KILLED);
	}
	if (r->argc > 3)
		resp_add_int(client_reply(c), n);
	else if (n > 0)
		resp_add_simple(client_reply(c), "OK");
	else
		client_reply_error(c, "ERR No such client");
}

/* The CLIENT subcommands pubsubd serves, with Redis' arities. */
static const struct {
	const char	*name;
	int		 arity;
	void		(*fn)(struct client *);
} client_cmds[] = {
	{ "id", 2, client_cmd_id },
	{ "getname", 2, client_cmd_getname },
	{ "setname", 3, client_cmd_setname },
	{ "setinfo", 4, client_cmd_setinfo },
	{ "info", 2, client_cmd_info },
	{ "no-evict", 3, client_cmd_noevict },
	{ "reply", 3, client_cmd_reply },
	{ "list", -2, client_cmd_list },
	{ "kill", -3, client_cmd_kill },
};

/* The arity of a CLIENT subcommand pubsubd serves; -1 if it serves none. */
int
command_client_arity(const struct resp_req *r, int *arity)
{
	size_t	i;

	for (i = 0; i < sizeof(client_cmds) / sizeof(client_cmds[0]); i++) {
		if (command_is(r, 1, client_cmds[i].name)) {
			*arity = client_cmds[i].arity;
			return 0;
		}
	}
	return -1;
}

/*
 * CLIENT subcommand [arguments]: the ones client libraries send. The
 * subcommand and its arity were checked by command_lookup().
 */
static void
cmd_client(struct client *c)
{
	const struct resp_req	*r = &c->c_sv->sv_req;
	size_t			 i;
	int			 arity;

	for (i = 0; i < sizeof(client_cmds) / sizeof(client_cmds[0]); i++) {
		if (!command_is(r, 1, client_cmds[i].name))
			continue;
		arity = client_cmds[i].arity;
		if ((arity > 0 && r->argc != arity) ||
		    (arity < 0 && r->argc < -arity)) {
			client_reply_error(c, "ERR wrong number of arguments "
			    "for 'client|%s' command", client_cmds[i].name);
			return;
		}
		client_cmds[i].fn(c);
		client_queue_write(c);
		return;
	}
	client_reply_error(c, "ERR CLIENT %s is not served by pubsubd",
	    r->argv[1]);
}

/* INFO server: who we are, and Redis' version (clients look at it). */
static void
info_server(struct client *c, struct evbuffer *txt)
{
	struct utsname	u;
	long long	uptime;

	uptime = (long long)(time(NULL) - client_set_started(c->c_set));
	if (uname(&u) == -1)
		memset(&u, 0, sizeof(u));
	evbuffer_add_printf(txt, "# Server\r\nredis_version:%s\r\n"
	    "pubsubd_version:%s\r\nredis_mode:standalone\r\n"
	    "os:%s %s %s\r\narch_bits:%d\r\nprocess_id:%ld\r\n"
	    "uptime_in_seconds:%lld\r\nuptime_in_days:%lld\r\n"
	    "pubsubd_worker:%d\r\npubsubd_workers:%d\r\n",
	    upstream_redis_version(c->c_set->s_up), PACKAGE_VERSION,
	    u.sysname, u.release, u.machine, (int)(sizeof(long) * 8),
	    (long)getpid(), uptime, uptime / 86400,
	    c->c_set->s_conf->worker < 0 ? 0 : c->c_set->s_conf->worker,
	    c->c_set->s_conf->nworkers);
}

/* INFO clients: how many, and their subscriptions. */
static void
info_clients(struct client *c, struct evbuffer *txt)
{
	const struct client_stats	*cs = client_set_stats(c->c_set);
	struct client			*o;
	uint64_t			 pubsub = 0;

	TAILQ_FOREACH(o, &c->c_set->s_clients, c_entry)
		pubsub += o->c_nsubs + o->c_nshard > 0;
	evbuffer_add_printf(txt, "# Clients\r\n"
	    "connected_clients:%llu\r\npubsub_clients:%llu\r\n"
	    "maxclients:%d\r\nsubscribed_channels:%llu\r\n"
	    "subscribed_patterns:%llu\r\nsubscribed_shardchannels:%llu\r\n",
	    (unsigned long long)cs->connected, (unsigned long long)pubsub,
	    c->c_set->s_conf->maxclients,
	    (unsigned long long)cs->subscriptions[UPSTREAM_CHANNEL],
	    (unsigned long long)cs->subscriptions[UPSTREAM_PATTERN],
	    (unsigned long long)cs->subscriptions[UPSTREAM_SHARD]);
}

/*
 * INFO memory: Redis' fields where the meaning is the same (used_memory is
 * what malloc has handed out; used_memory_rss what is resident), and
 * pubsubd's own for the rest.
 */
static void
info_memory(struct client *c, struct evbuffer *txt)
{
	struct procmem		pm;
	struct client_mem	cm;
	char			h[3][32];

	(void)procmem_read(&pm);
	client_set_memory(c->c_set, &cm);
	evbuffer_add_printf(txt, "# Memory\r\n");
	if (pm.has_malloc)
		evbuffer_add_printf(txt, "used_memory:%llu\r\n"
		    "used_memory_human:%s\r\n",
		    (unsigned long long)pm.malloc_used,
		    procmem_human(pm.malloc_used, h[0], sizeof(h[0])));
	evbuffer_add_printf(txt, "used_memory_rss:%llu\r\n"
	    "used_memory_rss_human:%s\r\nused_memory_rss_peak:%llu\r\n"
	    "used_memory_rss_peak_human:%s\r\n",
	    (unsigned long long)pm.rss, procmem_human(pm.rss, h[1],
	    sizeof(h[1])), (unsigned long long)pm.rss_peak,
	    procmem_human(pm.rss_peak, h[2], sizeof(h[2])));
	if (pm.has_malloc)
		evbuffer_add_printf(txt, "allocator_arena:%llu\r\n"
		    "allocator_mmapped:%llu\r\nallocator_free:%llu\r\n"
		    "mem_fragmentation_ratio:%.2f\r\n"
		    "mem_fragmentation_bytes:%lld\r\n",
		    (unsigned long long)pm.malloc_arena,
		    (unsigned long long)pm.malloc_mmapped,
		    (unsigned long long)pm.malloc_free,
		    pm.malloc_used > 0 ? (double)pm.rss /
		    (double)pm.malloc_used : 0.0,
		    (long long)pm.rss - (long long)pm.malloc_used);
	evbuffer_add_printf(txt, "mem_clients_normal:%zu\r\n"
	    "client_query_buffers:%zu\r\nclient_output_pending:%zu\r\n"
	    "client_output_pending_max:%zu\r\n"
	    "hub_channels:%zu\r\nhub_patterns:%zu\r\nhub_shardchannels:%zu\r\n"
	    "mem_allocator:libc\r\n",
	    cm.clients + cm.input + cm.output, cm.input, cm.output,
	    cm.output_max,
	    hub_count(c->c_set->s_hub, UPSTREAM_CHANNEL),
	    hub_count(c->c_set->s_hub, UPSTREAM_PATTERN),
	    hub_count(c->c_set->s_hub, UPSTREAM_SHARD));
}

/* INFO stats: what went through, and why clients left. */
static void
info_stats(struct client *c, struct evbuffer *txt)
{
	const struct client_stats	*cs = client_set_stats(c->c_set);
	const struct hub_stats		*hs = hub_stats(c->c_set->s_hub);
	int				 i;

	evbuffer_add_printf(txt, "# Stats\r\n"
	    "total_connections_received:%llu\r\n"
	    "total_commands_processed:%llu\r\n"
	    "total_net_output_bytes:%llu\r\n"
	    "rejected_connections:%llu\r\n"
	    "total_protocol_errors:%llu\r\n"
	    "pubsub_channels:%zu\r\npubsub_patterns:%zu\r\n"
	    "pubsub_shardchannels:%zu\r\n"
	    "messages_received:%llu\r\nmessages_delivered:%llu\r\n"
	    "messages_unrouted:%llu\r\nmessages_dropped:%llu\r\n"
	    "fanout_batches:%llu\r\n"
	    "fanout_latency_count:%llu\r\nfanout_latency_sum_us:%llu\r\n"
	    "client_output_discarded_bytes:%llu\r\n"
	    "clients_cut_hard:%llu\r\nclients_cut_soft:%llu\r\n"
	    "clients_rejected_max:%llu\r\n"
	    "clients_idle_closed:%llu\r\nquery_buffer_cut:%llu\r\n"
	    "acl_access_denied_auth:%llu\r\nacl_access_denied_cmd:%llu\r\n"
	    "acl_access_denied_key:0\r\nacl_access_denied_channel:%llu\r\n"
	    "tls_connected_clients:%llu\r\n"
	    "total_tls_connections_received:%llu\r\n"
	    "tls_handshake_failures:%llu\r\n"
	    "count_waits:%llu\r\ncount_wait_timeouts:%llu\r\n"
	    "client_disconnects:",
	    (unsigned long long)cs->accepted,
	    (unsigned long long)cs->commands,
	    (unsigned long long)cs->bytes_out,
	    (unsigned long long)cs->rejected_max,
	    (unsigned long long)cs->protocol_errors,
	    hub_count(c->c_set->s_hub, UPSTREAM_CHANNEL),
	    hub_count(c->c_set->s_hub, UPSTREAM_PATTERN),
	    hub_count(c->c_set->s_hub, UPSTREAM_SHARD),
	    (unsigned long long)hs->messages_in,
	    (unsigned long long)hs->deliveries,
	    (unsigned long long)hs->unrouted,
	    (unsigned long long)hs->dropped,
	    (unsigned long long)hs->batches,
	    (unsigned long long)hs->latency_count,
	    (unsigned long long)(hs->latency_sum_ns / 1000),
	    (unsigned long long)cs->output_discarded,
	    (unsigned long long)cs->disconnects[CLIENT_R_OUTPUT_HARD],
	    (unsigned long long)cs->disconnects[CLIENT_R_OUTPUT_SOFT],
	    (unsigned long long)cs->rejected_max,
	    (unsigned long long)cs->disconnects[CLIENT_R_IDLE],
	    (unsigned long long)cs->disconnects[CLIENT_R_QUERY_BUFFER],
	    (unsigned long long)cs->auth_failures,
	    (unsigned long long)cs->denied_command,
	    (unsigned long long)cs->denied_channel,
	    (unsigned long long)cs->tls_connected,
	    (unsigned long long)cs->tls_accepted,
	    (unsigned long long)cs->tls_handshake_failures,
	    (unsigned long long)cs->count_waits,
	    (unsigned long long)cs->count_wait_timeouts);
	for (i = 0; i < CLIENT_REASONS; i++)
		evbuffer_add_printf(txt, "%s%s=%llu", i ? "," : "",
		    client_reason_name((enum client_reason)i),
		    (unsigned long long)cs->disconnects[i]);
	evbuffer_add_printf(txt, "\r\n");
}

/* INFO upstream: the connection to Redis and its history. */
static void
info_upstream(struct client *c, struct evbuffer *txt)
{
	const struct hub_stats		*hs = hub_stats(c->c_set->s_hub);
	const struct upstream_stats	*us = upstream_stats(c->c_set->s_up);
	const struct endpoint		*ep = c->c_set->s_conf->redis;

	/* Redis over a Unix socket: its path, and port 0 (as Redis shows). */
	evbuffer_add_printf(txt, "# Upstream\r\n"
	    "upstream_host:%s\r\nupstream_port:%d\r\n"
	    "upstream_connected:%d\r\nupstream_synced:%d\r\n"
	    "upstream_channels:%llu\r\nupstream_patterns:%llu\r\n"
	    "upstream_shardchannels:%llu\r\n"
	    "upstream_subscribes:%llu\r\n"
	    "upstream_unsubscribes:%llu\r\n"
	    "upstream_connects:%llu\r\nupstream_connect_failures:%llu\r\n"
	    "upstream_outages:%llu\r\nupstream_last_outage_ms:%lld\r\n"
	    "upstream_down_since_ms:%lld\r\n"
	    "upstream_health_failures:%llu\r\n",
	    ep->path != NULL ? ep->path : ep->host,
	    ep->path != NULL ? 0 : ep->port,
	    upstream_connected(c->c_set->s_up), hub_synced(c->c_set->s_hub),
	    (unsigned long long)hs->held[UPSTREAM_CHANNEL],
	    (unsigned long long)hs->held[UPSTREAM_PATTERN],
	    (unsigned long long)hs->held[UPSTREAM_SHARD],
	    (unsigned long long)hs->upstream_subscribes,
	    (unsigned long long)hs->upstream_unsubscribes,
	    us->connects, us->connect_failures,
	    us->outages, us->last_outage_ms, upstream_down_ms(c->c_set->s_up),
	    us->health_failures);
}

/* INFO cluster: clients ask; pubsubd is not one. */
static void
info_cluster(struct client *c, struct evbuffer *txt)
{
	evbuffer_add_printf(txt, "# Cluster\r\ncluster_enabled:0\r\n");
}

/*
 * INFO [section ...]: Redis' sections that clients probe, and pubsubd's, in
 * Redis' order; "all", "default" and "everything" (or none) give them all.
 */
static void
cmd_info(struct client *c)
{
	static const struct {
		const char	*name;
		void		(*fn)(struct client *, struct evbuffer *);
	} sections[] = {
		{ "server", info_server },
		{ "clients", info_clients },
		{ "memory", info_memory },
		{ "stats", info_stats },
		{ "upstream", info_upstream },
		{ "cluster", info_cluster },
	};
	const struct resp_req	*r = &c->c_sv->sv_req;
	struct evbuffer		*txt;
	size_t			 k;
	int			 i, want, all = r->argc == 1;

	for (i = 1; i < r->argc; i++)
		if (command_is(r, i, "all") || command_is(r, i, "default") ||
		    command_is(r, i, "everything"))
			all = 1;
	if ((txt = evbuffer_new()) == NULL)
		fatalx("out of memory");
	for (k = 0; k < sizeof(sections) / sizeof(sections[0]); k++) {
		for (want = all, i = 1; !want && i < r->argc; i++)
			want = command_is(r, i, sections[k].name);
		if (!want)
			continue;
		if (evbuffer_get_length(txt) > 0)
			evbuffer_add(txt, "\r\n", 2);
		sections[k].fn(c, txt);
	}
	command_verbatim(c, client_reply(c), txt);
	evbuffer_free(txt);
	client_queue_write(c);
}

/* Puts the connection back as it was when it was made (RESET). */
static void
command_reset(struct client *c)
{
	struct acl_user	*u;

	client_unsubscribe_all(c);
	client_set_proto(c, 2);
	client_set_name(c, NULL, 0);
	c->c_db = 0;
	c->c_flags &= ~(CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP |
	    CLIENT_SKIP_THIS);
	client_close_passthrough(c);
	/*
	 * As Redis: back to the default user, logged in only if nopass, and
	 * (pubsubd's own limit) only while it has room for one more
	 * connection: else logged out, as a new connection would be refused.
	 */
	u = acl_login_user(c->c_set->s_conf->acl);
	if (u != NULL && u != c->c_user && !acl_user_has_room(u))
		u = NULL;
	client_set_user(c, u);
	resp_add_simple(client_reply(c), "RESET");
	client_queue_write(c);
}

/* RESET: first waits for the replies of what went to Redis before it. */
static void
cmd_reset_start(struct client *c)
{
	struct future	*last = client_slots_last(c);

	if (last != NULL)
		c->c_sv->sv_wait[0] = future_ref(last);
	else
		command_reset(c);
}

static void
cmd_reset_finish(struct client *c)
{
	command_reset(c);
}

/*
 * Sends a command on pubsubd's own connection to Redis into c_wait[i].
 * Returns 0, or -1 after replying an error.
 */
static int
command_upstream(struct client *c, int i, int argc, const char *const *argv,
    const size_t *argvlen)
{
	const struct client_conf	*conf = c->c_set->s_conf;
	struct future			*fut;
	char				 msg[64];

	/*
	 * COMMAND DOCS nests deeper than hiredis 0.14's reader goes (7
	 * levels): its bytes are relayed as they come, in the client's own
	 * protocol.
	 */
	if (argc >= 2 && argvlen[0] == 7 && strncasecmp(argv[0], "command",
	    7) == 0 && argvlen[1] == 4 && strncasecmp(argv[1], "docs", 4) == 0) {
		c->c_sv->sv_raw = 1;
		c->c_sv->sv_wait[i] = rawcmd_send(c->c_set->s_base, conf->redis,
		    c->c_resp, argc, argv, argvlen);
	} else
		c->c_sv->sv_wait[i] = upstream_command(c->c_set->s_up, argc,
		    argv, argvlen);
	if (c->c_sv->sv_wait[i] != NULL) {
		/* Redis may be down or hung: the wait is bounded. */
		snprintf(msg, sizeof(msg), "redis did not answer within %d ms",
		    conf->command_timeout);
		fut = future_timeout(c->c_set->s_base, c->c_sv->sv_wait[i],
		    conf->command_timeout, msg);
		future_unref(c->c_sv->sv_wait[i]);
		c->c_sv->sv_wait[i] = fut;
	}
	if (c->c_sv->sv_wait[i] == NULL) {
		client_reply_error(c, "ERR out of memory");
		return -1;
	}
	return 0;
}

/*
 * The reply of c_wait[i]: NULL after replying the error if the command
 * failed or Redis answered an error (passed on as it came).
 */
static const struct cmdconn_reply *
command_upstream_reply(struct client *c, int i)
{
	const struct cmdconn_reply	*r;

	if (future_state(c->c_sv->sv_wait[i]) != FUTURE_DONE) {
		client_reply_error(c, "ERR %s",
		    future_error(c->c_sv->sv_wait[i]));
		return NULL;
	}
	r = future_result(c->c_sv->sv_wait[i]);
	if (r->type == CMDCONN_ERROR) {
		cmdconn_reply_encode_proto(client_reply(c), r, c->c_resp);
		client_queue_write(c);
		return NULL;
	}
	return r;
}

/* Whether the client itself receives what is published to channel. */
static int
command_self_receives(struct client *c, enum upstream_kind kind,
    const char *channel, size_t len)
{
	struct hub_sub	*sub;
	const char	*name;
	size_t		 namelen;

	if (client_find_sub(c, kind, channel, len) != NULL)
		return 1;
	if (kind != UPSTREAM_CHANNEL || c->c_held[UPSTREAM_PATTERN] == 0)
		return 0;
	TAILQ_FOREACH(sub, &c->c_sublist, hs_owner_link) {
		if (hub_sub_kind(sub) != UPSTREAM_PATTERN)
			continue;
		name = hub_sub_name(sub, &namelen);
		if (pattern_match(name, namelen, channel, len))
			return 1;
	}
	return 0;
}

/*
 * Before a command whose answer counts subscriptions goes to Redis: makes
 * the coroutine await the settle st (built by the caller, NULL: nothing in
 * flight; see hub.h), so that Redis has done what the hub believes done
 * when it answers, at most command_timeout ms. Returns 1 if there is
 * something to await (start returns; the coroutine calls it again), else 0.
 */
static int
command_settle(struct client *c, struct hub_settle *st)
{
	const struct client_conf	*conf = c->c_set->s_conf;
	struct future			*f;

	if ((f = hub_settle_end(st)) == NULL)
		return 0;
	c->c_sv->sv_settle = future_timeout(c->c_set->s_base, f,
	    conf->command_timeout, "upstream operations in flight");
	future_unref(f);
	if (c->c_sv->sv_settle == NULL)
		return 0;	/* out of memory: go on without waiting */
	c->c_set->s_stats.count_waits++;
	return 1;
}

/*
 * Called again after the settle: if it timed out (the subscriber connection
 * is slow, not lost: that fails the operations at once), the command goes
 * to Redis all the same; its count may then be off.
 */
static void
command_settled(struct client *c)
{
	if (future_state(c->c_sv->sv_settle) != FUTURE_DONE) {
		c->c_set->s_stats.count_wait_timeouts++;
		log_debug("%s: sent without waiting longer for %s",
		    c->c_sv->sv_command->name, future_error(c->c_sv->sv_settle));
	}
}

/*
 * PUBLISH / SPUBLISH channel message: forwarded, then counted. First, if
 * an upstream (UN)SUBSCRIBE that changes who receives it is in flight, it
 * waits for that to be confirmed (see command_settle()), and takes the
 * correction of Redis' count then, when Redis and the hub agree. A RESP3
 * client that receives its own message gets it before the reply, as from
 * Redis: a barrier waits until the message has come back upstream.
 */
static void
cmd_publish_start(struct client *c)
{
	struct client_serve	*sv = c->c_sv;
	enum upstream_kind	 kind = sv->sv_command->kind;
	struct hub_settle	*st = NULL;
	long long		 own, local;

	if (sv->sv_settle == NULL) {
		hub_settle_add(c->c_set->s_hub, &st, kind,
		    HUB_SETTLE_RECEIVERS, sv->sv_req.argv[1],
		    sv->sv_req.argvlen[1]);
		if (command_settle(c, st))
			return;
	} else
		command_settled(c);
	hub_receivers(c->c_set->s_hub, kind, sv->sv_req.argv[1],
	    sv->sv_req.argvlen[1], &own, &local);
	sv->sv_adj = local - own;
	if (command_upstream(c, 0, sv->sv_req.argc,
	    (const char *const *)sv->sv_req.argv, sv->sv_req.argvlen) == -1)
		return;
	if (c->c_resp == 3 && command_self_receives(c, kind,
	    sv->sv_req.argv[1], sv->sv_req.argvlen[1]))
		sv->sv_wait[1] = upstream_barrier(c->c_set->s_up, kind);
}

/*
 * The receivers as if every pubsubd client were Redis' own: Redis' count,
 * less pubsubd's upstream subscriptions that matched, plus the local
 * subscribers that receive the message, both as they were when the PUBLISH
 * was sent. An (UN)SUBSCRIBE upstream that started after that is
 * concurrent with it: whichever Redis did first, the count is right for
 * one of the two orders.
 */
static void
cmd_publish_finish(struct client *c)
{
	const struct cmdconn_reply	*r;
	long long			 n;

	if ((r = command_upstream_reply(c, 0)) == NULL)
		return;
	if (r->type != CMDCONN_INTEGER) {
		cmdconn_reply_encode_proto(client_reply(c), r, c->c_resp);
		client_queue_write(c);
		return;
	}
	n = r->integer + c->c_sv->sv_adj;
	resp_add_int(client_reply(c), n < 0 ? 0 : n);
	client_queue_write(c);
}

/*
 * The names of one kind that pubsubd holds upstream without an active local
 * subscriber and that match a pattern: Redis' count of them is all
 * pubsubd's or partly other clients', which only NUMSUB tells.
 */
struct command_held {
	const char	 *pattern;	/* NULL: all */
	size_t		  patternlen;
	const char	**argv;		/* owned array; names borrowed */
	size_t		 *argvlen;	/* owned */
	int		  argc;
	int		  cap;
	int		  failed;
};

/* hub_foreach() callback: collects one name. */
static void
command_held_add(const char *name, size_t len, uint32_t local, int held,
    void *arg)
{
	struct command_held	 *h = arg;
	const char		**nargv;
	size_t			 *nlen;
	int			  cap;

	if (!held || local > 0 || h->failed || (h->pattern != NULL &&
	    !pattern_match(h->pattern, h->patternlen, name, len)))
		return;
	if (h->argc == h->cap) {
		cap = h->cap ? h->cap * 2 : 8;
		nargv = reallocarray(h->argv, (size_t)cap, sizeof(*nargv));
		if (nargv != NULL)
			h->argv = nargv;
		nlen = reallocarray(h->argvlen, (size_t)cap, sizeof(*nlen));
		if (nlen != NULL)
			h->argvlen = nlen;
		if (nargv == NULL || nlen == NULL) {
			h->failed = 1;
			return;
		}
		h->cap = cap;
	}
	h->argv[h->argc] = name;
	h->argvlen[h->argc++] = len;
}

/*
 * Makes PUBSUB NUMSUB, SHARDNUMSUB, NUMPAT, CHANNELS and SHARDCHANNELS wait
 * for the upstream operations in flight on the names they count, as
 * PUBLISH does. Returns 1 if there is something to wait for.
 */
static int
command_pubsub_settle(struct client *c)
{
	const struct resp_req	*r = &c->c_sv->sv_req;
	struct hub		*hub = c->c_set->s_hub;
	struct hub_settle	*st = NULL;
	enum upstream_kind	 kind = UPSTREAM_CHANNEL;
	int			 i;

	if (command_is(r, 1, "shardnumsub") ||
	    command_is(r, 1, "shardchannels"))
		kind = UPSTREAM_SHARD;
	if (command_is(r, 1, "numsub") || command_is(r, 1, "shardnumsub")) {
		for (i = 2; i < r->argc; i++)
			hub_settle_add(hub, &st, kind, HUB_SETTLE_NAME,
			    r->argv[i], r->argvlen[i]);
	} else if (command_is(r, 1, "numpat"))
		hub_settle_add(hub, &st, UPSTREAM_PATTERN, HUB_SETTLE_MATCH,
		    NULL, 0);
	else if (command_is(r, 1, "channels") ||
	    command_is(r, 1, "shardchannels"))
		hub_settle_add(hub, &st, kind, HUB_SETTLE_MATCH,
		    r->argc == 3 ? r->argv[2] : NULL,
		    r->argc == 3 ? r->argvlen[2] : 0);
	return command_settle(c, st);
}

/*
 * For PUBSUB NUMSUB and SHARDNUMSUB, takes what each name's count is
 * corrected by now, as it is sent. Returns 0, or -1 after replying an
 * error.
 */
static int
command_pubsub_adjust(struct client *c)
{
	const struct resp_req	*r = &c->c_sv->sv_req;
	struct client_serve	*sv = c->c_sv;
	enum upstream_kind	 kind = UPSTREAM_CHANNEL;
	int			 i;

	if (command_is(r, 1, "shardnumsub"))
		kind = UPSTREAM_SHARD;
	else if (!command_is(r, 1, "numsub"))
		return 0;
	if (r->argc <= 2)
		return 0;
	if ((sv->sv_adjs = calloc((size_t)r->argc - 2,
	    sizeof(*sv->sv_adjs))) == NULL) {
		client_reply_error(c, "ERR out of memory");
		return -1;
	}
	sv->sv_nadjs = r->argc - 2;
	for (i = 2; i < r->argc; i++)
		sv->sv_adjs[i - 2] = (long long)hub_local(c->c_set->s_hub,
		    kind, r->argv[i], r->argvlen[i]) - hub_held(c->c_set->s_hub,
		    kind, r->argv[i], r->argvlen[i]);
	return 0;
}

/* PUBSUB subcommand [arguments]: Redis' answer, counted as if direct. */
static void
cmd_pubsub_start(struct client *c)
{
	const struct resp_req	*r = &c->c_sv->sv_req;
	struct command_held	 h;
	enum upstream_kind	 kind = UPSTREAM_CHANNEL;
	int			 shard = command_is(r, 1, "shardchannels");

	if (c->c_sv->sv_settle == NULL) {
		if (command_pubsub_settle(c))
			return;
	} else
		command_settled(c);
	if (!shard && !command_is(r, 1, "channels")) {
		if (command_pubsub_adjust(c) == -1)
			return;
		command_upstream(c, 0, r->argc, (const char *const *)r->argv,
		    r->argvlen);
		return;
	}
	if (r->argc > 3) {
		client_reply_error(c, "ERR unknown subcommand or wrong number "
		    "of arguments for '%.128s'. Try PUBSUB HELP.", r->argv[1]);
		return;
	}
	if (shard)
		kind = UPSTREAM_SHARD;
	if (command_upstream(c, 0, r->argc, (const char *const *)r->argv,
	    r->argvlen) == -1)
		return;
	memset(&h, 0, sizeof(h));
	if (r->argc == 3) {
		h.pattern = r->argv[2];
		h.patternlen = r->argvlen[2];
	}
	if (command_held_collect(c, kind, &h) == -1)
		return;
	if (h.argc > 0) {
		h.argv[0] = "PUBSUB";
		h.argvlen[0] = 6;
		h.argv[1] = shard ? "SHARDNUMSUB" : "NUMSUB";
		h.argvlen[1] = strlen(h.argv[1]);
		command_upstream(c, 1, h.argc, h.argv, h.argvlen);
	}
	free(h.argv);
	free(h.argvlen);
}

/*
 * Fills h with "PUBSUB NUMSUB" (two words left for the caller) and the
 * held names of kind that need counting; h->argc is 0 if there are none.
 * Returns 0, or -1 after replying an error.
 */
static int
command_held_collect(struct client *c, enum upstream_kind kind,
    struct command_held *h)
{
	h->cap = 8;
	h->argv = calloc((size_t)h->cap, sizeof(*h->argv));
	h->argvlen = calloc((size_t)h->cap, sizeof(*h->argvlen));
	h->argc = 2;
	if (h->argv != NULL && h->argvlen != NULL)
		hub_foreach(c->c_set->s_hub, kind, command_held_add, h);
	if (h->argv == NULL || h->argvlen == NULL || h->failed) {
		free(h->argv);
		free(h->argvlen);
		client_reply_error(c, "ERR out of memory");
		return -1;
	}
	if (h->argc == 2)
		h->argc = 0;
	return 0;
}

/* The count NUMSUB reply r gives name, or 0. */
static long long
command_numsub_of(const struct cmdconn_reply *r, const char *name, size_t len)
{
	size_t	i;

	if (r == NULL || r->type != CMDCONN_ARRAY)
		return 0;
	for (i = 0; i + 1 < r->elements; i += 2) {
		if (r->element[i]->len == len &&
		    memcmp(r->element[i]->str, name, len) == 0 &&
		    r->element[i + 1]->type == CMDCONN_INTEGER)
			return r->element[i + 1]->integer;
	}
	return 0;
}

/* Adds the local-only names of a PUBSUB CHANNELS answer (see below). */
struct command_extra {
	struct client			*c;
	const struct cmdconn_reply	*listed;	/* Redis' list */
	const char			*pattern;
	size_t				 patternlen;
	struct evbuffer			*out;
	long long			 n;
};

/* hub_foreach() callback: a name Redis does not list but clients hold. */
static void
command_extra_add(const char *name, size_t len, uint32_t local, int held,
    void *arg)
{
	struct command_extra	*x = arg;
	size_t			 i;

	if (local == 0 || held || (x->pattern != NULL &&
	    !pattern_match(x->pattern, x->patternlen, name, len)) ||
	    !acl_channel_ok(x->c->c_user, ACL_SUBSCRIBE, name, len))
		return;
	for (i = 0; i < x->listed->elements; i++)
		if (x->listed->element[i]->len == len &&
		    memcmp(x->listed->element[i]->str, name, len) == 0)
			return;
	resp_add_bulk(x->out, name, len);
	x->n++;
}

/*
 * Finishes PUBSUB: CHANNELS lists what Redis lists, less the names only
 * pubsubd held, plus names only pubsubd's clients hold; NUMSUB counts as
 * PUBLISH does; everything else is Redis' answer as it came.
 */
static void
cmd_pubsub_finish(struct client *c)
{
	const struct resp_req		*r = &c->c_sv->sv_req;
	const struct cmdconn_reply	*rep, *nums = NULL, *e;
	struct command_extra		 x;
	struct evbuffer			*list;
	enum upstream_kind		 kind;
	long long			 n;
	size_t				 i;
	int				 held;

	if ((rep = command_upstream_reply(c, 0)) == NULL)
		return;
	kind = command_is(r, 1, "shardchannels") ||
	    command_is(r, 1, "shardnumsub") ? UPSTREAM_SHARD : UPSTREAM_CHANNEL;
	if ((command_is(r, 1, "numsub") || command_is(r, 1, "shardnumsub")) &&
	    rep->type == CMDCONN_ARRAY) {
		resp_add_array(client_reply(c), (long long)rep->elements);
		for (i = 0; i + 1 < rep->elements; i += 2) {
			e = rep->element[i];
			/* Corrected as it was when sent (see PUBLISH). */
			n = rep->element[i + 1]->integer;
			if (i / 2 < (size_t)c->c_sv->sv_nadjs)
				n += c->c_sv->sv_adjs[i / 2];
			else
				n += (long long)hub_local(c->c_set->s_hub,
				    kind, e->str, e->len) - hub_held(
				    c->c_set->s_hub, kind, e->str, e->len);
			/* What the user may not subscribe to, it does not see. */
			if (!acl_channel_ok(c->c_user, ACL_SUBSCRIBE, e->str,
			    e->len))
				n = 0;
			resp_add_bulk(client_reply(c), e->str, e->len);
			resp_add_int(client_reply(c), n < 0 ? 0 : n);
		}
		client_queue_write(c);
		return;
	}
	if ((!command_is(r, 1, "channels") &&
	    !command_is(r, 1, "shardchannels")) || rep->type != CMDCONN_ARRAY) {
		cmdconn_reply_encode_proto(client_reply(c), rep, c->c_resp);
		client_queue_write(c);
		return;
	}
	if (c->c_sv->sv_wait[1] != NULL &&
	    future_state(c->c_sv->sv_wait[1]) == FUTURE_DONE)
		nums = future_result(c->c_sv->sv_wait[1]);
	if ((list = evbuffer_new()) == NULL)
		fatalx("out of memory");
	memset(&x, 0, sizeof(x));
	for (i = 0; i < rep->elements; i++) {
		e = rep->element[i];
		if (e->len >= strlen(UPSTREAM_PRIVATE_PREFIX) && memcmp(e->str,
		    UPSTREAM_PRIVATE_PREFIX,
		    strlen(UPSTREAM_PRIVATE_PREFIX)) == 0)
			continue;	/* a pubsubd's own, not a client's */
		if (!acl_channel_ok(c->c_user, ACL_SUBSCRIBE, e->str, e->len))
			continue;	/* not the user's to see */
		held = hub_held(c->c_set->s_hub, kind, e->str, e->len);
		if (held && hub_local(c->c_set->s_hub, kind, e->str,
		    e->len) == 0 && command_numsub_of(nums, e->str,
		    e->len) <= 1)
			continue;	/* only pubsubd itself holds it */
		resp_add_bulk(list, e->str, e->len);
		x.n++;
	}
	x.c = c;
	x.listed = rep;
	x.out = list;
	if (r->argc == 3) {
		x.pattern = r->argv[2];
		x.patternlen = r->argvlen[2];
	}
	hub_foreach(c->c_set->s_hub, kind, command_extra_add, &x);
	resp_add_array(client_reply(c), x.n);
	evbuffer_add_buffer(client_reply(c), list);
	evbuffer_free(list);
	client_queue_write(c);
}

/* A name that no Redis command has: COMMAND INFO answers nil for it. */
#define COMMAND_NOT_SERVED	"pubsubd-not-served"

/*
 * COMMAND [subcommand ...]: with passthrough on, Redis serves every command
 * and answers for itself; with it off, Redis' answer for the commands
 * pubsubd serves.
 */
static void
cmd_command_start(struct client *c)
{
	const struct resp_req	*r = &c->c_sv->sv_req;
	const char		*argv[COMMAND_N + 2 + 64];
	size_t			 argvlen[COMMAND_N + 2 + 64], i;
	int			 argc = 0, a, ours;

	if (c->c_set->s_conf->passthrough || (r->argc > 1 &&
	    !command_is(r, 1, "count") && !command_is(r, 1, "docs") &&
	    !command_is(r, 1, "info") && !command_is(r, 1, "list"))) {
		command_upstream(c, 0, r->argc, (const char *const *)r->argv,
		    r->argvlen);
		return;
	}
	if (command_is(r, 1, "count")) {
		if (r->argc != 2) {
			client_reply_error(c, "ERR wrong number of arguments "
			    "for 'command|count' command");
			return;
		}
		resp_add_int(client_reply(c), (long long)COMMAND_N);
		client_queue_write(c);
		return;
	}
	if (command_is(r, 1, "list") && r->argc == 2) {
		resp_add_array(client_reply(c), (long long)COMMAND_N);
		for (i = 0; i < COMMAND_N; i++)
			resp_add_bulk(client_reply(c), command_table[i].name,
			    strlen(command_table[i].name));
		client_queue_write(c);
		return;
	}
	if (command_is(r, 1, "list")) {
		/* Filtered by Redis, then cut down to pubsubd's commands. */
		command_upstream(c, 0, r->argc, (const char *const *)r->argv,
		    r->argvlen);
		return;
	}
	/* COMMAND, COMMAND INFO [names], COMMAND DOCS [names]. */
	argv[argc] = "COMMAND";
	argvlen[argc++] = 7;
	argv[argc] = command_is(r, 1, "docs") ? "DOCS" : "INFO";
	argvlen[argc++] = 4;
	if (r->argc <= 2) {
		for (i = 0; i < COMMAND_N; i++) {
			argv[argc] = command_table[i].name;
			argvlen[argc++] = strlen(command_table[i].name);
		}
	} else {
		if (r->argc - 2 > 64) {
			client_reply_error(c, "ERR pubsubd answers COMMAND "
			    "INFO and DOCS for at most 64 names at once");
			return;
		}
		for (a = 2; a < r->argc; a++) {
			ours = 0;
			for (i = 0; i < COMMAND_N; i++)
				ours |= command_is(r, a, command_table[i].name);
			argv[argc] = ours ? r->argv[a] : COMMAND_NOT_SERVED;
			argvlen[argc++] = ours ? r->argvlen[a] :
			    strlen(COMMAND_NOT_SERVED);
		}
	}
	command_upstream(c, 0, argc, argv, argvlen);
}

/*
 * Passes Redis' answer to COMMAND on; for COMMAND LIST with filters and
 * passthrough off, only the commands pubsubd serves.
 */
static void
cmd_command_finish(struct client *c)
{
	const struct cmdconn_reply	*r, *e;
	struct evbuffer			*list;
	long long			 n = 0;
	size_t				 i, j;

	if (c->c_sv->sv_raw) {
		c->c_sv->sv_raw = 0;
		if (future_state(c->c_sv->sv_wait[0]) != FUTURE_DONE)
			client_reply_error(c, "ERR %s",
			    future_error(c->c_sv->sv_wait[0]));
		else
			evbuffer_add_buffer_reference(client_reply(c),
			    future_result(c->c_sv->sv_wait[0]));
		client_queue_write(c);
		return;
	}
	if ((r = command_upstream_reply(c, 0)) == NULL)
		return;
	if (!command_is(&c->c_sv->sv_req, 1, "list") ||
	    c->c_set->s_conf->passthrough || r->type != CMDCONN_ARRAY) {
		cmdconn_reply_encode_proto(client_reply(c), r, c->c_resp);
		client_queue_write(c);
		return;
	}
	if ((list = evbuffer_new()) == NULL)
		fatalx("out of memory");
	for (i = 0; i < r->elements; i++) {
		e = r->element[i];
		for (j = 0; j < COMMAND_N; j++) {
			if (e->type == CMDCONN_STRING &&
			    e->len == strlen(command_table[j].name) &&
			    strncasecmp(e->str, command_table[j].name,
			    e->len) == 0) {
				resp_add_bulk(list, e->str, e->len);
				n++;
			}
		}
	}
	resp_add_array(client_reply(c), n);
	evbuffer_add_buffer(client_reply(c), list);
	evbuffer_free(list);
	client_queue_write(c);
}
