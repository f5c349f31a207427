/*
 * cmd_passthrough.c: any other command Redis knows, when passthrough is
 * on: sent to Redis on the session's own connection (opened on first use,
 * in the session's database) without waiting, its reply's place among the
 * session's replies held by a slot (see session.h).
 */
#include "config.h"

#include "cmd.h"
#include "cmdconn.h"
#include "command.h"
#include "future.h"
#include "log.h"
#include "session.h"

/* The passthrough connection died: close once its replies are in. */
static void
cmd_pt_lost(struct cmdconn *conn, const char *why, void *arg)
{
	struct session	*s = arg;

	log_info("client %llu: passthrough connection lost: %s",
	    (unsigned long long)session_id(s), why);
	session_flags_set(s, SESSION_PT_LOST);
	if (session_slots_empty(s))
		session_close(s, 1, SESSION_END_PASSTHROUGH);
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
		if ((pt = cmdconn_new_at(env->se_base, env->se_conf->redis,
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
	if (command_is(r, 0, "multi"))
		session_flags_set(s, SESSION_MULTI);
	else if (command_is(r, 0, "exec") || command_is(r, 0, "discard"))
		session_flags_clear(s, SESSION_MULTI | SESSION_MULTI_DIRTY);
}
