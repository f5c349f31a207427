/*
 * cmd_client.c: CLIENT and the subcommands client libraries send (ID,
 * GETNAME, SETNAME, SETINFO, INFO, NO-EVICT, REPLY, LIST, KILL), over the
 * sessions of this pubsubd.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "acl.h"
#include "cmd.h"
#include "command.h"
#include "log.h"
#include "session.h"

/*
 * Parses a client type (TYPE normal|pubsub|master|replica|slave) into
 * *type: 0 normal, 1 pubsub, 2 replication. Returns 0, or -1 after replying.
 */
static int
cmd_client_type(struct command_run *run, int i, int *type)
{
	const struct resp_req	*r = &run->r_req;

	if (command_is(r, i, "normal"))
		*type = 0;
	else if (command_is(r, i, "pubsub"))
		*type = 1;
	else if (command_is(r, i, "master") || command_is(r, i, "replica") ||
	    command_is(r, i, "slave"))
		*type = 2;
	else {
		session_error(run->r_s, "ERR Unknown client type '%s'",
		    r->argv[i]);
		return -1;
	}
	return 0;
}

/* Whether o is of a client type (see cmd_client_type()); -1: any. */
static int
cmd_client_is(const struct session *o, int type)
{
	return type == -1 || type == session_subscribed(o);
}

/* CLIENT ID. */
static void
cmd_client_id(struct command_run *run)
{
	resp_add_int(session_reply(run->r_s), (long long)session_id(run->r_s));
}

/* CLIENT GETNAME. */
static void
cmd_client_getname(struct command_run *run)
{
	struct session	*s = run->r_s;
	const char	*name = session_name(s);

	if (name != NULL)
		resp_add_bulk(session_reply(s), name, strlen(name));
	else
		session_null(s, session_reply(s));
}

/* CLIENT SETNAME name (empty: no name). */
static void
cmd_client_setname(struct command_run *run)
{
	const struct resp_req	*r = &run->r_req;

	if (!cmd_name_ok(r->argv[2], r->argvlen[2])) {
		session_error(run->r_s, "ERR Client names cannot contain "
		    "spaces, newlines or special characters.");
		return;
	}
	session_set_name(run->r_s, r->argv[2], r->argvlen[2]);
	resp_add_simple(session_reply(run->r_s), "OK");
}

/* CLIENT SETINFO lib-name|lib-ver value, as Redis 7.2 checks it. */
static void
cmd_client_setinfo(struct command_run *run)
{
	const struct resp_req	*r = &run->r_req;

	if (!command_is(r, 2, "lib-name") && !command_is(r, 2, "lib-ver")) {
		session_error(run->r_s, "ERR Unrecognized option '%s'",
		    r->argv[2]);
		return;
	}
	if (!cmd_name_ok(r->argv[3], r->argvlen[3])) {
		session_error(run->r_s, "ERR %s cannot contain spaces, "
		    "newlines or special characters.", r->argv[2]);
		return;
	}
	resp_add_simple(session_reply(run->r_s), "OK");
}

/* CLIENT INFO: this client's line. */
static void
cmd_client_info(struct command_run *run)
{
	struct evbuffer	*txt;

	if ((txt = evbuffer_new()) == NULL)
		fatalx("out of memory");
	session_format_info(run->r_s, txt);
	session_verbatim(run->r_s, session_reply(run->r_s), txt);
	evbuffer_free(txt);
}

/* CLIENT NO-EVICT on|off: accepted (pubsubd evicts nobody). */
static void
cmd_client_noevict(struct command_run *run)
{
	if (!command_is(&run->r_req, 2, "on") &&
	    !command_is(&run->r_req, 2, "off")) {
		session_error(run->r_s, "ERR syntax error");
		return;
	}
	resp_add_simple(session_reply(run->r_s), "OK");
}

/* CLIENT REPLY ON|OFF|SKIP. */
static void
cmd_client_reply(struct command_run *run)
{
	struct session		*s = run->r_s;
	const struct resp_req	*r = &run->r_req;

	if (command_is(r, 2, "on")) {
		session_flags_clear(s, SESSION_REPLY_OFF | SESSION_REPLY_SKIP |
		    SESSION_SKIP_THIS);
		resp_add_simple(session_reply(s), "OK");
	} else if (command_is(r, 2, "off"))
		session_flags_set(s, SESSION_REPLY_OFF);
	else if (command_is(r, 2, "skip")) {
		if (!(session_flags(s) & SESSION_REPLY_OFF))
			session_flags_set(s, SESSION_REPLY_SKIP);
	} else
		session_error(s, "ERR syntax error");
}

/* CLIENT LIST [TYPE type] [ID id ...]. */
static void
cmd_client_list(struct command_run *run)
{
	struct session		*s = run->r_s, *o;
	struct session_env	*env = session_env(s);
	const struct resp_req	*r = &run->r_req;
	struct evbuffer		*txt;
	long long		 id;
	int			 i, j, type = -1, ids = 0;

	for (i = 2; i < r->argc; i++) {
		if (command_is(r, i, "type") && i + 1 < r->argc) {
			if (cmd_client_type(run, ++i, &type) == -1)
				return;
		} else if (command_is(r, i, "id") && i + 1 < r->argc) {
			for (ids = ++i; i < r->argc; i++) {
				if (command_int(r->argv[i], r->argvlen[i],
				    &id) == -1 || id <= 0) {
					session_error(s, "ERR Invalid client "
					    "ID");
					return;
				}
			}
		} else {
			session_error(s, "ERR syntax error");
			return;
		}
	}
	if ((txt = evbuffer_new()) == NULL)
		fatalx("out of memory");
	if (ids > 0) {
		/* In the order of the ids asked for, as Redis does. */
		for (j = ids; j < r->argc; j++) {
			command_int(r->argv[j], r->argvlen[j], &id);
			if ((o = session_env_find(env, (uint64_t)id)) != NULL &&
			    cmd_client_is(o, type))
				session_format_info(o, txt);
		}
	} else {
		for (o = session_env_first(env); o != NULL; o = session_next(o))
			if (cmd_client_is(o, type))
				session_format_info(o, txt);
	}
	session_verbatim(s, session_reply(s), txt);
	evbuffer_free(txt);
}

/* The filters of CLIENT KILL. */
struct cmd_kill {
	struct acl_user	*user;		/* borrowed, or NULL: any */
	const char	*addr, *laddr;	/* NULL: any */
	long long	 id;		/* 0: any */
	int		 type;		/* -1: any */
	int		 skipme;
};

/* Parses CLIENT KILL's filters into k. Returns 0, or -1 after replying. */
static int
cmd_client_kill_filters(struct command_run *run, struct cmd_kill *k)
{
	struct session		*s = run->r_s;
	const struct resp_req	*r = &run->r_req;
	int			 i;

	for (i = 2; r->argc > 3 && i < r->argc; i += 2) {
		if (i + 1 >= r->argc) {
			session_error(s, "ERR syntax error");
			return -1;
		}
		if (command_is(r, i, "id")) {
			if (command_int(r->argv[i + 1], r->argvlen[i + 1],
			    &k->id) == -1 || k->id <= 0) {
				session_error(s, "ERR client-id should be "
				    "greater than 0");
				return -1;
			}
		} else if (command_is(r, i, "addr"))
			k->addr = r->argv[i + 1];
		else if (command_is(r, i, "laddr"))
			k->laddr = r->argv[i + 1];
		else if (command_is(r, i, "skipme") &&
		    (command_is(r, i + 1, "yes") || command_is(r, i + 1, "no")))
			k->skipme = command_is(r, i + 1, "yes");
		else if (command_is(r, i, "type")) {
			if (cmd_client_type(run, i + 1, &k->type) == -1)
				return -1;
		} else if (command_is(r, i, "user")) {
			if ((k->user = acl_find(session_env(s)->se_conf->acl,
			    r->argv[i + 1], r->argvlen[i + 1])) == NULL) {
				session_error(s, "ERR No such user '%s'",
				    r->argv[i + 1]);
				return -1;
			}
		} else {
			session_error(s, "ERR syntax error");
			return -1;
		}
	}
	return 0;
}

/* Whether session o passes the filters of CLIENT KILL k, served for s. */
static int
cmd_client_kill_match(struct session *s, struct session *o,
    const struct cmd_kill *k)
{
	char	buf[SESSION_ADDR_MAX];

	return !((k->id != 0 && session_id(o) != (uint64_t)k->id) ||
	    !cmd_client_is(o, k->type) ||
	    (k->user != NULL && session_user(o) != k->user) ||
	    (k->addr != NULL && strcmp(session_addr(o, 0, buf, sizeof(buf)),
	    k->addr) != 0) ||
	    (k->laddr != NULL && strcmp(session_addr(o, 1, buf, sizeof(buf)),
	    k->laddr) != 0) ||
	    (k->skipme && o == s));
}

/*
 * CLIENT KILL addr:port (the old form: +OK or an error), or CLIENT KILL
 * <filter value> ... (the number killed). A client that kills itself gets
 * its reply first.
 */
static void
cmd_client_kill(struct command_run *run)
{
	struct session		*s = run->r_s, *o, *next;
	const struct resp_req	*r = &run->r_req;
	struct cmd_kill		 k;
	long long		 n = 0;

	memset(&k, 0, sizeof(k));
	k.type = -1;
	k.skipme = 1;
	if (r->argc == 3) {
		k.addr = r->argv[2];
		k.skipme = 0;
	}
	if (cmd_client_kill_filters(run, &k) == -1)
		return;
	for (o = session_env_first(session_env(s)); o != NULL; o = next) {
		next = session_next(o);
		if (!cmd_client_kill_match(s, o, &k))
			continue;
		n++;
		session_close(o, o == s, SESSION_END_KILLED);
	}
	if (r->argc > 3)
		resp_add_int(session_reply(s), n);
	else if (n > 0)
		resp_add_simple(session_reply(s), "OK");
	else
		session_error(s, "ERR No such client");
}

/* The CLIENT subcommands pubsubd serves, with Redis' arities. */
static const struct {
	const char	*name;
	int		 arity;
	void		(*fn)(struct command_run *);
} cmd_client_table[] = {
	{ "id", 2, cmd_client_id },
	{ "getname", 2, cmd_client_getname },
	{ "setname", 3, cmd_client_setname },
	{ "setinfo", 4, cmd_client_setinfo },
	{ "info", 2, cmd_client_info },
	{ "no-evict", 3, cmd_client_noevict },
	{ "reply", 3, cmd_client_reply },
	{ "list", -2, cmd_client_list },
	{ "kill", -3, cmd_client_kill },
};
#define CMD_CLIENT_N	(sizeof(cmd_client_table) / sizeof(cmd_client_table[0]))

/* The arity of a CLIENT subcommand pubsubd serves; -1 if it serves none. */
int
cmd_client_arity(const struct resp_req *r, int *arity)
{
	size_t	i;

	for (i = 0; i < CMD_CLIENT_N; i++) {
		if (command_is(r, 1, cmd_client_table[i].name)) {
			*arity = cmd_client_table[i].arity;
			return 0;
		}
	}
	return -1;
}

/*
 * CLIENT subcommand [arguments]: the ones client libraries send. The
 * subcommand and its arity were checked by the lookup.
 */
void
cmd_client(struct command_run *run)
{
	const struct resp_req	*r = &run->r_req;
	size_t			 i;
	int			 arity;

	for (i = 0; i < CMD_CLIENT_N; i++) {
		if (!command_is(r, 1, cmd_client_table[i].name))
			continue;
		arity = cmd_client_table[i].arity;
		if ((arity > 0 && r->argc != arity) ||
		    (arity < 0 && r->argc < -arity)) {
			session_error(run->r_s, "ERR wrong number of arguments "
			    "for 'client|%s' command", cmd_client_table[i].name);
			return;
		}
		cmd_client_table[i].fn(run);
		session_queue_write(run->r_s);
		return;
	}
	session_error(run->r_s, "ERR CLIENT %s is not served by pubsubd",
	    r->argv[1]);
}
