/*
 * cmd_passthrough.c: any other command Redis knows, when passthrough is
 * on: sent to Redis on the session's own connection (opened on first use,
 * in the session's database) without waiting, its reply's place among the
 * session's replies held by a slot (see session.h).
 */
#include "config.h"

#include <stdio.h>

#include "cmd.h"
#include "cmdconn.h"
#include "command.h"
#include "future.h"
#include "log.h"
#include "session.h"
#include "upstream.h"

/*
 * The passthrough connection is gone, or goes to where Redis no longer is.
 * If it held no state, the session goes on: its pending replies fail, and
 * the next command opens a connection to wherever Redis is now. If it did
 * (a WATCH, a MULTI, CLIENT settings: what a new connection would silently
 * lack), the client is closed once its replies are in, so that it knows.
 */
static void
cmd_pt_gone(struct session *s, const char *why)
{
	if (session_pt(s) == NULL)
		return;
	if (!(session_flags(s) & SESSION_PT_STATE)) {
		log_info("client %llu: passthrough connection %s; the next "
		    "command opens another", (unsigned long long)session_id(s),
		    why);
		session_close_passthrough(s);
		return;
	}
	log_info("client %llu: passthrough connection %s, with its state: "
	    "closing the client", (unsigned long long)session_id(s), why);
	session_flags_set(s, SESSION_PT_LOST);
	if (session_slots_empty(s))
		session_close(s, 1, SESSION_END_PASSTHROUGH);
}

/* The passthrough connection died. */
static void
cmd_pt_lost(struct cmdconn *conn, const char *why, void *arg)
{
	char	msg[512];

	snprintf(msg, sizeof(msg), "lost: %s", why);
	cmd_pt_gone(arg, msg);
}

/* Redis moved; see command.h. */
void
command_redis_moved(struct session *s)
{
	cmd_pt_gone(s, "left behind: redis moved");
}

/*
 * Whether the command leaves state on the connection that a new one would
 * lack. SELECT is not such: pubsubd selects the session's database on
 * every connection it opens.
 */
static int
cmd_pt_stateful(const struct resp_req *r)
{
	static const char *const names[] = {
		"watch", "multi", "client", "readonly", "readwrite", "asking",
		NULL
	};
	size_t	i;

	for (i = 0; names[i] != NULL; i++)
		if (command_is(r, 0, names[i]))
			return 1;
	return 0;
}

/* Sends the request to Redis; a slot keeps the reply's place. */
void
cmd_passthrough(struct command_run *run)
{
	struct session		*s = run->r_s;
	struct session_env	*env = session_env(s);
	const struct resp_req	*r = &run->r_req;
	struct session_slot	*slot;
	struct cmdconn		*pt;
	const struct endpoint	*ep;
	struct future		*fut;
	const char		*discard = "DISCARD";
	size_t			 discardlen = 7;
	int			 abort;

	/*
	 * An EXEC whose transaction had a command pubsubd refused (so Redis
	 * never queued it) is sent as DISCARD, and answered as Redis answers
	 * a transaction with an error queued: EXECABORT.
	 */
	abort = (session_flags(s) & SESSION_MULTI_DIRTY) &&
	    command_is(r, 0, "exec");
	if ((pt = session_pt(s)) == NULL) {
		/* Redis' master now: the upstream knows (a sentinel's moves). */
		if ((ep = upstream_endpoint(env->se_up)) == NULL) {
			session_error(s, "ERR no redis master known yet");
			return;
		}
		if ((pt = cmdconn_new_at(env->se_base, ep,
		    session_db(s), cmd_pt_lost, s)) == NULL ||
		    session_set_pt(s, pt) == -1) {
			cmdconn_free(pt);
			session_error(s, "ERR out of memory");
			return;
		}
	}
	fut = abort ? cmdconn_command(pt, 1, &discard, &discardlen) :
	    cmdconn_command(pt, r->argc, (const char *const *)r->argv,
	    r->argvlen);
	if (fut == NULL || (slot = session_slot_add(s, fut)) == NULL) {
		future_unref(fut);
		session_error(s, "ERR out of memory");
		return;
	}
	future_unref(fut);
	if (abort)
		session_slot_execabort(slot);
	if (cmd_pt_stateful(r))
		session_flags_set(s, SESSION_PT_STATE);
	if (command_is(r, 0, "multi"))
		session_flags_set(s, SESSION_MULTI);
	else if (command_is(r, 0, "exec") || command_is(r, 0, "discard"))
		session_flags_clear(s, SESSION_MULTI | SESSION_MULTI_DIRTY);
}
