/*
 * cmd_conn.c: the commands of the connection itself: PING, ECHO, HELLO,
 * AUTH, ACL WHOAMI, SELECT and RESET (QUIT is the coroutine's own).
 */
#include "config.h"

#include <limits.h>
#include <string.h>

#include <event2/buffer.h>

#include "acl.h"
#include "cmd.h"
#include "cmdconn.h"
#include "command.h"
#include "future.h"
#include "log.h"
#include "session.h"

/* PING [message]: in RESP2 subscribed mode Redis answers a "pong" array. */
void
cmd_ping(struct command_run *run)
{
	struct session		*s = run->r_s;
	const struct resp_req	*r = &run->r_req;
	struct evbuffer		*out;

	if (r->argc > 2) {
		session_error(s, "ERR wrong number of arguments for 'ping' "
		    "command");
		return;
	}
	out = session_reply(s);
	if (session_resp(s) == 2 && session_subscribed(s)) {
		resp_add_array(out, 2);
		resp_add_bulk(out, "pong", 4);
		if (r->argc == 2)
			resp_add_bulk(out, r->argv[1], r->argvlen[1]);
		else
			resp_add_bulk(out, "", 0);
	} else if (r->argc == 2)
		resp_add_bulk(out, r->argv[1], r->argvlen[1]);
	else
		resp_add_simple(out, "PONG");
	session_queue_write(s);
}

/* ECHO message. */
void
cmd_echo(struct command_run *run)
{
	resp_add_bulk(session_reply(run->r_s), run->r_req.argv[1],
	    run->r_req.argvlen[1]);
	session_queue_write(run->r_s);
}

/* Whether a client name is valid: printable, no spaces (Redis' rule). */
int
cmd_name_ok(const char *name, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		if (name[i] < '!' || name[i] > '~')
			return 0;
	return 1;
}

/*
 * Logs the session in as user (len bytes) if password is right, and the
 * user has room for one more connection. Replies WRONGPASS (the same
 * words whether the user exists or not) or the limit's error, logs and
 * counts the failure, and returns -1; or returns 0 with nothing replied.
 * The password is never logged.
 */
static int
cmd_login(struct session *s, const char *user, size_t userlen,
    const char *password, size_t passlen)
{
	struct session_env	*env = session_env(s);
	struct acl_user		*u, *was = session_user(s);
	char			 addr[SESSION_ADDR_MAX], shown[64];
	size_t			 i;

	u = acl_authenticate(env->se_conf->acl, user, userlen, password,
	    passlen);
	if (u != NULL && u != was && !acl_user_has_room(u)) {
		log_notice("client %llu (%s): user '%s' is at its "
		    "max_connections (%d): login refused",
		    (unsigned long long)session_id(s), session_addr(s, 0, addr,
		    sizeof(addr)), acl_user_name(u),
		    acl_user_max_connections(u));
		session_error(s, "ERR max number of connections of user '%s' "
		    "reached (%d)", acl_user_name(u),
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
		env->se_stats.auth_failures++;
		if (session_auth_log(env))
			log_notice("client %llu (%s): authentication failed "
			    "for user '%s%s'", (unsigned long long)session_id(s),
			    session_addr(s, 0, addr, sizeof(addr)), shown,
			    userlen > i ? "..." : "");
		session_error(s, "WRONGPASS invalid username-password pair or "
		    "user is disabled.");
		return -1;
	}
	session_set_user(s, u);
	/*
	 * The connection is now u's: what it holds from the user before is
	 * kept only if u may hold it too, as after a reload.
	 */
	if (u != was && was != NULL)
		command_revoke(s);
	return 0;
}

/* The options of HELLO after the protocol version. */
struct cmd_hello {
	const char	*user, *password, *name;
	size_t		 userlen, passlen, namelen;
	long long	 ver;		/* 0: not given */
};

/* Parses HELLO's arguments into h. Returns 0, or -1 after replying. */
static int
cmd_hello_parse(struct command_run *run, struct cmd_hello *h)
{
	struct session		*s = run->r_s;
	const struct resp_req	*r = &run->r_req;
	int			 j;

	memset(h, 0, sizeof(*h));
	if (r->argc >= 2) {
		if (command_int(r->argv[1], r->argvlen[1], &h->ver) == -1) {
			session_error(s, "ERR Protocol version is not an "
			    "integer or out of range");
			return -1;
		}
		if (h->ver < 2 || h->ver > 3) {
			session_error(s, "NOPROTO unsupported protocol version");
			return -1;
		}
	}
	for (j = 2; j < r->argc; j++) {
		if (command_is(r, j, "auth") && r->argc - 1 - j >= 2) {
			h->user = r->argv[j + 1];
			h->userlen = r->argvlen[j + 1];
			h->password = r->argv[j + 2];
			h->passlen = r->argvlen[j + 2];
			j += 2;
		} else if (command_is(r, j, "setname") && r->argc - 1 - j >= 1) {
			h->name = r->argv[j + 1];
			h->namelen = r->argvlen[j + 1];
			j++;
		} else {
			session_error(s, "ERR Syntax error in HELLO option '%s'",
			    r->argv[j]);
			return -1;
		}
	}
	return 0;
}

/*
 * HELLO [protover [AUTH username password] [SETNAME name]]: switches the
 * protocol and answers Redis' map (the version is the upstream's).
 */
void
cmd_hello(struct command_run *run)
{
	struct session	*s = run->r_s;
	struct cmd_hello h;
	struct evbuffer	*out;
	const char	*version;

	if (cmd_hello_parse(run, &h) == -1)
		return;
	if (h.user != NULL && cmd_login(s, h.user, h.userlen, h.password,
	    h.passlen) == -1)
		return;
	if (session_user(s) == NULL) {
		/* Redis 7.0's words, "HELLO AUTH" as it writes them. */
		session_error(s, "NOAUTH HELLO must be called with the client "
		    "already authenticated, otherwise the HELLO AUTH <user> "
		    "<pass> option can be used to authenticate the client and "
		    "select the RESP protocol version at the same time");
		return;
	}
	if (h.name != NULL) {
		if (!cmd_name_ok(h.name, h.namelen)) {
			session_error(s, "ERR Client names cannot contain "
			    "spaces, newlines or special characters.");
			return;
		}
		session_set_name(s, h.name, h.namelen);
	}
	if (h.ver != 0)
		session_set_proto(s, (int)h.ver);
	out = session_reply(s);
	version = upstream_redis_version(session_env(s)->se_up);
	if (session_resp(s) == 3)
		evbuffer_add(out, "%7\r\n", 4);
	else
		resp_add_array(out, 14);
	resp_add_bulk(out, "server", 6);
	resp_add_bulk(out, "redis", 5);
	resp_add_bulk(out, "version", 7);
	resp_add_bulk(out, version, strlen(version));
	resp_add_bulk(out, "proto", 5);
	resp_add_int(out, session_resp(s));
	resp_add_bulk(out, "id", 2);
	resp_add_int(out, (long long)session_id(s));
	resp_add_bulk(out, "mode", 4);
	resp_add_bulk(out, "standalone", 10);
	resp_add_bulk(out, "role", 4);
	resp_add_bulk(out, "master", 6);
	resp_add_bulk(out, "modules", 7);
	resp_add_array(out, 0);
	session_queue_write(s);
}

/*
 * AUTH [username] password. With one argument the user is "default"; if
 * that one has nopass, Redis answers an error rather than checking.
 */
void
cmd_auth(struct command_run *run)
{
	struct session		*s = run->r_s;
	const struct resp_req	*r = &run->r_req;

	if (r->argc > 3) {
		session_error(s, "ERR syntax error");
		return;
	}
	if (r->argc == 2 && acl_default_nopass(session_env(s)->se_conf->acl)) {
		session_error(s, "ERR AUTH <password> called without any "
		    "password configured for the default user. Are you sure "
		    "your configuration is correct?");
		return;
	}
	if (r->argc == 2) {
		if (cmd_login(s, ACL_DEFAULT_USER, strlen(ACL_DEFAULT_USER),
		    r->argv[1], r->argvlen[1]) == -1)
			return;
	} else if (cmd_login(s, r->argv[1], r->argvlen[1], r->argv[2],
	    r->argvlen[2]) == -1)
		return;
	resp_add_simple(session_reply(s), "OK");
	session_queue_write(s);
}

/*
 * ACL WHOAMI: the connection's user. Every other subcommand is refused
 * here rather than passed through: pubsubd's users are its own, and
 * Redis' (which pubsubd's own connections log in as) are no business of
 * its clients.
 */
void
cmd_acl(struct command_run *run)
{
	struct session		*s = run->r_s;
	const struct resp_req	*r = &run->r_req;
	const char		*name;

	if (command_is(r, 1, "whoami")) {
		if (r->argc != 2) {
			session_error(s, "ERR wrong number of arguments for "
			    "'acl|whoami' command");
			return;
		}
		name = acl_user_name(session_user(s));
		resp_add_bulk(session_reply(s), name, strlen(name));
		session_queue_write(s);
		return;
	}
	session_error(s, "ERR ACL %.128s is not served by pubsubd: its users "
	    "are set in pubsubd.conf (users), and Redis' users are not "
	    "reachable through it", r->argv[1]);
}

/*
 * Wipes AUTH's arguments, and the password after any AUTH word of HELLO,
 * whether the request logged in, failed, or was refused before it ran
 * (arity, RESP2 subscribed mode): the connection's buffer would otherwise
 * keep them until reused or freed (and free(3) does not clear).
 */
void
cmd_forget_secrets(const struct resp_req *r)
{
	int	i;

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
void
cmd_select(struct command_run *run)
{
	struct session		*s = run->r_s;
	const struct resp_req	*r = &run->r_req;
	struct session_slot	*slot;
	struct future		*fut;
	long long		 db;

	if (command_int(r->argv[1], r->argvlen[1], &db) == -1 ||
	    db < INT_MIN || db > INT_MAX) {
		session_error(s, "ERR value is not an integer or out of range");
		return;
	}
	if (db < 0 || db >= upstream_databases(session_env(s)->se_up) ||
	    db > SESSION_DB_MAX) {
		session_error(s, "ERR DB index is out of range");
		return;
	}
	if (session_pt(s) == NULL) {
		session_set_db(s, (int)db);
		resp_add_simple(session_reply(s), "OK");
		session_queue_write(s);
		return;
	}
	fut = cmdconn_command(session_pt(s), r->argc,
	    (const char *const *)r->argv, r->argvlen);
	if (fut == NULL || (slot = session_slot_add(s, fut)) == NULL) {
		future_unref(fut);
		session_error(s, "ERR out of memory");
		return;
	}
	session_slot_select(slot, (int)db);
	future_unref(fut);
}

/* Puts the connection back as it was when it was made (RESET). */
static void
cmd_reset(struct session *s)
{
	struct acl_user	*u;

	session_unsubscribe_all(s);
	session_set_proto(s, 2);
	session_set_name(s, NULL, 0);
	session_set_db(s, 0);
	session_flags_clear(s, SESSION_REPLY_OFF | SESSION_REPLY_SKIP |
	    SESSION_SKIP_THIS);
	session_close_passthrough(s);
	/*
	 * As Redis: back to the default user, logged in only if nopass, and
	 * (pubsubd's own limit) only while it has room for one more
	 * connection: else logged out, as a new connection would be refused.
	 */
	u = acl_login_user(session_env(s)->se_conf->acl);
	if (u != NULL && u != session_user(s) && !acl_user_has_room(u))
		u = NULL;
	session_set_user(s, u);
	resp_add_simple(session_reply(s), "RESET");
	session_queue_write(s);
}

/* RESET: first waits for the replies of what went to Redis before it. */
void
cmd_reset_start(struct command_run *run)
{
	struct future	*last = session_slots_last(run->r_s);

	if (last != NULL)
		run->r_wait[0] = future_ref(last);
	else
		cmd_reset(run->r_s);
}

void
cmd_reset_finish(struct command_run *run)
{
	cmd_reset(run->r_s);
}
