/*
 * cmd_pubsub.c: the pub/sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE,
 * PUBLISH, SPUBLISH and PUBSUB, with Redis 7's replies.
 *
 * Counts are the session's own: a confirmation counts the session's
 * subscriptions; PUBLISH and PUBSUB answer as Redis would if every pubsubd
 * client were connected to it directly (Redis' answer, less pubsubd's own
 * upstream subscriptions, plus the local subscribers).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "acl.h"
#include "cmd.h"
#include "cmdconn.h"
#include "command.h"
#include "future.h"
#include "hub.h"
#include "log.h"
#include "pattern.h"
#include "session.h"

static const char *const cmd_verbs[UPSTREAM_KINDS][2] = {
	{ "subscribe", "unsubscribe" },
	{ "psubscribe", "punsubscribe" },
	{ "ssubscribe", "sunsubscribe" }
};

/*
 * Queues a (un)subscribe confirmation: [verb, name (nil if NULL), count]
 * with the session's own count (shard channels are counted apart). A push:
 * CLIENT REPLY OFF does not stop it, as in Redis.
 */
static void
cmd_confirm(struct session *s, enum upstream_kind kind, int unsub,
    const char *name, size_t len)
{
	struct evbuffer	*out = session_out(s);
	const char	*verb = cmd_verbs[kind][unsub];

	session_push_header(s, out, 3);
	resp_add_bulk(out, verb, strlen(verb));
	if (name != NULL)
		resp_add_bulk(out, name, len);
	else
		session_null(s, out);
	resp_add_int(out, session_count(s, kind));
	session_queue_write(s);
}

/*
 * Drops one subscription and confirms it, with its name copied first (it
 * lives in the hub's channel, which the drop may free).
 */
static void
cmd_drop_confirm(struct session *s, struct hub_sub *sub)
{
	enum upstream_kind	 kind = hub_sub_kind(sub);
	const char		*name;
	char			*copy;
	size_t			 len;

	name = hub_sub_name(sub, &len);
	if ((copy = malloc(len + 1)) == NULL)
		fatalx("out of memory");
	memcpy(copy, name, len);
	session_drop_sub(s, sub);
	cmd_confirm(s, kind, 1, copy, len);
	free(copy);
}

/*
 * The subscriptions one connection may hold: its user's max_subscriptions,
 * else limits.max_subscriptions; 0: no limit.
 */
static int
cmd_max_subscriptions(const struct session *s)
{
	struct acl_user	*u = session_user(s);
	int		 n = u != NULL ? acl_user_max_subscriptions(u) : 0;

	return n > 0 ? n : session_env(s)->se_conf->max_subscriptions;
}

/* Whether the session's user may subscribe to name (len bytes) of kind. */
static int
cmd_may_name(const struct session *s, enum upstream_kind kind,
    const char *name, size_t len)
{
	struct acl_user	*u = session_user(s);

	if (u == NULL)
		return 0;
	if (kind == UPSTREAM_PATTERN)
		return acl_pattern_ok(u, name, len);
	return acl_channel_ok(u, ACL_SUBSCRIBE, name, len);
}

/*
 * Drops the subscriptions the session's user may no longer hold (after a
 * reload), each with its unsubscribe push, so that client libraries know.
 * Those of a (P|S)SUBSCRIBE still being served are left to
 * cmd_subscribe_finish(), which checks again.
 */
void
cmd_pubsub_revoke(struct session *s)
{
	struct command_run	*run = session_run(s);
	struct hub_sub		*sub, *next;
	const char		*name;
	size_t			 len;
	int			 i, pending;

	for (sub = session_subs(s); sub != NULL; sub = next) {
		next = TAILQ_NEXT(sub, hs_owner_link);
		name = hub_sub_name(sub, &len);
		if (cmd_may_name(s, hub_sub_kind(sub), name, len))
			continue;
		pending = 0;
		for (i = 1; run != NULL && run->r_pending != NULL &&
		    i < run->r_req.argc; i++)
			pending |= run->r_pending[i].p_sub == sub;
		if (pending)
			continue;
		log_info("client %llu: user '%s' may no longer hold '%.*s': "
		    "unsubscribed", (unsigned long long)session_id(s),
		    acl_user_name(session_user(s)),
		    (int)(len > 128 ? 128 : len), name);
		cmd_drop_confirm(s, sub);
	}
}

/*
 * Asks the hub for one name of a (P|S)SUBSCRIBE, its wait bounded by
 * command_timeout; marks p out of memory if that fails.
 */
static void
cmd_subscribe_one(struct command_run *run, struct command_pending *p,
    enum upstream_kind kind, const char *name, size_t len)
{
	struct session		*s = run->r_s;
	struct session_env	*env = session_env(s);
	struct hub_sub		*sub;
	struct future		*ready;
	char			 msg[128];

	if ((sub = session_subscribe(s, kind, name, len, &ready)) == NULL) {
		p->p_nomem = 1;
		return;
	}
	/* Redis may be down: the wait is bounded. */
	snprintf(msg, sizeof(msg), "redis did not confirm the subscription "
	    "within %d ms", env->se_conf->command_timeout);
	p->p_ready = future_timeout(env->se_base, ready,
	    env->se_conf->command_timeout, msg);
	future_unref(ready);
	if (p->p_ready == NULL) {
		session_drop_sub(s, sub);
		p->p_nomem = 1;
		return;
	}
	p->p_sub = sub;
}

/*
 * Starts a (P|S)SUBSCRIBE: asks the hub for every name not yet held, so that
 * their upstream subscriptions are in flight together. Returns -1 (error
 * replied) on allocation failure.
 */
int
cmd_subscribe_start(struct command_run *run)
{
	struct session		*s = run->r_s;
	const struct resp_req	*r = &run->r_req;
	enum upstream_kind	 kind = run->r_cmd->kind;
	struct command_pending	*p;
	size_t			 held;
	int			 i, max = cmd_max_subscriptions(s);

	run->r_pending = calloc((size_t)r->argc, sizeof(*run->r_pending));
	if (run->r_pending == NULL) {
		session_error(s, "ERR out of memory");
		return -1;
	}
	held = (size_t)session_held(s, UPSTREAM_CHANNEL) +
	    session_held(s, UPSTREAM_PATTERN) + session_held(s, UPSTREAM_SHARD);
	for (i = 1; i < r->argc; i++) {
		p = &run->r_pending[i];
		if (session_find_sub(s, kind, r->argv[i], r->argvlen[i]) != NULL)
			continue;	/* held, or earlier in this command */
		if (max > 0 && held >= (size_t)max) {
			p->p_limit = 1;
			continue;
		}
		cmd_subscribe_one(run, p, kind, r->argv[i], r->argvlen[i]);
		if (p->p_sub != NULL)
			held++;
	}
	return 0;
}

/*
 * Finishes one name of a (P|S)SUBSCRIBE whose future is done: activates
 * the subscription and queues its confirmation in the same step.
 */
void
cmd_subscribe_finish(struct command_run *run, int i)
{
	struct session		*s = run->r_s;
	const struct resp_req	*r = &run->r_req;
	enum upstream_kind	 kind = run->r_cmd->kind;
	struct command_pending	*p = &run->r_pending[i];

	if (p->p_nomem) {
		session_error(s, "ERR out of memory");
		return;
	}
	if (p->p_limit) {
		session_error(s, "ERR max subscriptions per client reached "
		    "(%d)", cmd_max_subscriptions(s));
		return;
	}
	/*
	 * A reload revoked it while Redis was confirming an earlier name of
	 * this command: whether this one was asked for now (p_sub) or was
	 * already held (cmd_pubsub_revoke() dropped it then), it is refused,
	 * never confirmed.
	 */
	if (!cmd_may_name(s, kind, r->argv[i], r->argvlen[i])) {
		if (p->p_sub != NULL)
			session_drop_sub(s, p->p_sub);
		p->p_sub = NULL;
		session_env(s)->se_stats.denied_channel++;
		session_error(s, "NOPERM this user has no permissions to access "
		    "one of the channels used as arguments");
		return;
	}
	if (p->p_sub != NULL) {		/* else: already held */
		if (future_state(p->p_ready) != FUTURE_DONE) {
			session_error(s, "ERR %s", future_error(p->p_ready));
			session_drop_sub(s, p->p_sub);
			p->p_sub = NULL;
			return;
		}
		session_activate(s, p->p_sub);
		p->p_sub = NULL;
	}
	cmd_confirm(s, kind, 0, r->argv[i], r->argvlen[i]);
}

/* (P|S)UNSUBSCRIBE [name ...]: one confirmation per name, held or not. */
void
cmd_unsubscribe(struct command_run *run)
{
	struct session		*s = run->r_s;
	const struct resp_req	*r = &run->r_req;
	enum upstream_kind	 kind = run->r_cmd->kind;
	struct hub_sub		*sub, *next;
	int			 i;

	if (r->argc == 1) {
		if (session_held(s, kind) == 0) {
			cmd_confirm(s, kind, 1, NULL, 0);
			return;
		}
		/* In the order of subscription, as Redis does for patterns. */
		for (sub = session_subs(s); sub != NULL; sub = next) {
			next = TAILQ_NEXT(sub, hs_owner_link);
			if (hub_sub_kind(sub) == kind)
				cmd_drop_confirm(s, sub);
		}
		return;
	}
	for (i = 1; i < r->argc; i++) {
		sub = session_find_sub(s, kind, r->argv[i], r->argvlen[i]);
		if (sub != NULL)
			session_drop_sub(s, sub);
		cmd_confirm(s, kind, 1, r->argv[i], r->argvlen[i]);
	}
}

/* Whether the session itself receives what is published to channel. */
static int
cmd_self_receives(struct session *s, enum upstream_kind kind,
    const char *channel, size_t len)
{
	struct hub_sub	*sub;
	const char	*name;
	size_t		 namelen;

	if (session_find_sub(s, kind, channel, len) != NULL)
		return 1;
	if (kind != UPSTREAM_CHANNEL || session_held(s, UPSTREAM_PATTERN) == 0)
		return 0;
	for (sub = session_subs(s); sub != NULL;
	    sub = TAILQ_NEXT(sub, hs_owner_link)) {
		if (hub_sub_kind(sub) != UPSTREAM_PATTERN)
			continue;
		name = hub_sub_name(sub, &namelen);
		if (pattern_match(name, namelen, channel, len))
			return 1;
	}
	return 0;
}

/*
 * PUBLISH / SPUBLISH channel message: forwarded, then counted. First, if
 * an upstream (UN)SUBSCRIBE that changes who receives it is in flight, it
 * waits for that to be confirmed (see command_settle()), and takes the
 * correction of Redis' count then, when Redis and the hub agree. A RESP3
 * client that receives its own message gets it before the reply, as from
 * Redis: a barrier waits until the message has come back upstream.
 */
void
cmd_publish_start(struct command_run *run)
{
	struct session		*s = run->r_s;
	struct session_env	*env = session_env(s);
	const struct resp_req	*r = &run->r_req;
	enum upstream_kind	 kind = run->r_cmd->kind;
	struct hub_settle	*st = NULL;
	long long		 own, local;

	if (run->r_settle == NULL) {
		hub_settle_add(env->se_hub, &st, kind, HUB_SETTLE_RECEIVERS,
		    r->argv[1], r->argvlen[1]);
		if (command_settle(run, st))
			return;
	} else
		command_settled(run);
	hub_receivers(env->se_hub, kind, r->argv[1], r->argvlen[1], &own,
	    &local);
	run->r_adj = local - own;
	if (command_upstream(run, 0, r->argc, (const char *const *)r->argv,
	    r->argvlen) == -1)
		return;
	if (session_resp(s) == 3 && cmd_self_receives(s, kind, r->argv[1],
	    r->argvlen[1]))
		run->r_wait[1] = upstream_barrier(env->se_up, kind);
}

/*
 * The receivers as if every pubsubd client were Redis' own: Redis' count,
 * less pubsubd's upstream subscriptions that matched, plus the local
 * subscribers that receive the message, both as they were when the PUBLISH
 * was sent. An (UN)SUBSCRIBE upstream that started after that is
 * concurrent with it: whichever Redis did first, the count is right for
 * one of the two orders.
 */
void
cmd_publish_finish(struct command_run *run)
{
	struct session			*s = run->r_s;
	const struct cmdconn_reply	*r;
	long long			 n;

	if ((r = command_upstream_reply(run, 0)) == NULL)
		return;
	if (r->type != CMDCONN_INTEGER) {
		cmdconn_reply_encode_proto(session_reply(s), r, session_resp(s));
		session_queue_write(s);
		return;
	}
	n = r->integer + run->r_adj;
	resp_add_int(session_reply(s), n < 0 ? 0 : n);
	session_queue_write(s);
}

/*
 * The names of one kind that pubsubd holds upstream without an active local
 * subscriber and that match a pattern: Redis' count of them is all
 * pubsubd's or partly other clients', which only NUMSUB tells.
 */
struct cmd_held {
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
cmd_held_add(const char *name, size_t len, uint32_t local, int held,
    void *arg)
{
	struct cmd_held	 *h = arg;
	const char	**nargv;
	size_t		 *nlen;
	int		  cap;

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
 * Fills h with "PUBSUB NUMSUB" (two words left for the caller) and the
 * held names of kind that need counting; h->argc is 0 if there are none.
 * Returns 0, or -1 after replying an error.
 */
static int
cmd_held_collect(struct session *s, enum upstream_kind kind,
    struct cmd_held *h)
{
	h->cap = 8;
	h->argv = calloc((size_t)h->cap, sizeof(*h->argv));
	h->argvlen = calloc((size_t)h->cap, sizeof(*h->argvlen));
	h->argc = 2;
	if (h->argv != NULL && h->argvlen != NULL)
		hub_foreach(session_env(s)->se_hub, kind, cmd_held_add, h);
	if (h->argv == NULL || h->argvlen == NULL || h->failed) {
		free(h->argv);
		free(h->argvlen);
		session_error(s, "ERR out of memory");
		return -1;
	}
	if (h->argc == 2)
		h->argc = 0;
	return 0;
}

/*
 * Makes PUBSUB NUMSUB, SHARDNUMSUB, NUMPAT, CHANNELS and SHARDCHANNELS wait
 * for the upstream operations in flight on the names they count, as
 * PUBLISH does. Returns 1 if there is something to wait for.
 */
static int
cmd_pubsub_settle(struct command_run *run)
{
	const struct resp_req	*r = &run->r_req;
	struct hub		*hub = session_env(run->r_s)->se_hub;
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
	return command_settle(run, st);
}

/*
 * For PUBSUB NUMSUB and SHARDNUMSUB, takes what each name's count is
 * corrected by now, as it is sent. Returns 0, or -1 after replying an
 * error.
 */
static int
cmd_pubsub_adjust(struct command_run *run)
{
	const struct resp_req	*r = &run->r_req;
	struct hub		*hub = session_env(run->r_s)->se_hub;
	enum upstream_kind	 kind = UPSTREAM_CHANNEL;
	int			 i;

	if (command_is(r, 1, "shardnumsub"))
		kind = UPSTREAM_SHARD;
	else if (!command_is(r, 1, "numsub"))
		return 0;
	if (r->argc <= 2)
		return 0;
	if ((run->r_adjs = calloc((size_t)r->argc - 2,
	    sizeof(*run->r_adjs))) == NULL) {
		session_error(run->r_s, "ERR out of memory");
		return -1;
	}
	run->r_nadjs = r->argc - 2;
	for (i = 2; i < r->argc; i++)
		run->r_adjs[i - 2] = (long long)hub_local(hub, kind, r->argv[i],
		    r->argvlen[i]) - hub_held(hub, kind, r->argv[i],
		    r->argvlen[i]);
	return 0;
}

/* PUBSUB subcommand [arguments]: Redis' answer, counted as if direct. */
void
cmd_pubsub_start(struct command_run *run)
{
	const struct resp_req	*r = &run->r_req;
	struct cmd_held		 h;
	enum upstream_kind	 kind = UPSTREAM_CHANNEL;
	int			 shard = command_is(r, 1, "shardchannels");

	if (run->r_settle == NULL) {
		if (cmd_pubsub_settle(run))
			return;
	} else
		command_settled(run);
	if (!shard && !command_is(r, 1, "channels")) {
		if (cmd_pubsub_adjust(run) == -1)
			return;
		command_upstream(run, 0, r->argc, (const char *const *)r->argv,
		    r->argvlen);
		return;
	}
	if (r->argc > 3) {
		session_error(run->r_s, "ERR unknown subcommand or wrong number "
		    "of arguments for '%.128s'. Try PUBSUB HELP.", r->argv[1]);
		return;
	}
	if (shard)
		kind = UPSTREAM_SHARD;
	if (command_upstream(run, 0, r->argc, (const char *const *)r->argv,
	    r->argvlen) == -1)
		return;
	memset(&h, 0, sizeof(h));
	if (r->argc == 3) {
		h.pattern = r->argv[2];
		h.patternlen = r->argvlen[2];
	}
	if (cmd_held_collect(run->r_s, kind, &h) == -1)
		return;
	if (h.argc > 0) {
		h.argv[0] = "PUBSUB";
		h.argvlen[0] = 6;
		h.argv[1] = shard ? "SHARDNUMSUB" : "NUMSUB";
		h.argvlen[1] = strlen(h.argv[1]);
		command_upstream(run, 1, h.argc, h.argv, h.argvlen);
	}
	free(h.argv);
	free(h.argvlen);
}

/* The count NUMSUB reply r gives name, or 0. */
static long long
cmd_numsub_of(const struct cmdconn_reply *r, const char *name, size_t len)
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
struct cmd_extra {
	struct acl_user			*user;		/* borrowed */
	const struct cmdconn_reply	*listed;	/* Redis' list */
	const char			*pattern;
	size_t				 patternlen;
	struct evbuffer			*out;
	long long			 n;
};

/* hub_foreach() callback: a name Redis does not list but clients hold. */
static void
cmd_extra_add(const char *name, size_t len, uint32_t local, int held,
    void *arg)
{
	struct cmd_extra	*x = arg;
	size_t			 i;

	if (local == 0 || held || (x->pattern != NULL &&
	    !pattern_match(x->pattern, x->patternlen, name, len)) ||
	    !acl_channel_ok(x->user, ACL_SUBSCRIBE, name, len))
		return;
	for (i = 0; i < x->listed->elements; i++)
		if (x->listed->element[i]->len == len &&
		    memcmp(x->listed->element[i]->str, name, len) == 0)
			return;
	resp_add_bulk(x->out, name, len);
	x->n++;
}

/* PUBSUB NUMSUB and SHARDNUMSUB: counted as PUBLISH is. */
static void
cmd_pubsub_numsub(struct command_run *run, const struct cmdconn_reply *rep,
    enum upstream_kind kind)
{
	struct session			*s = run->r_s;
	struct hub			*hub = session_env(s)->se_hub;
	const struct cmdconn_reply	*e;
	long long			 n;
	size_t				 i;

	resp_add_array(session_reply(s), (long long)rep->elements);
	for (i = 0; i + 1 < rep->elements; i += 2) {
		e = rep->element[i];
		/* Corrected as it was when sent (see PUBLISH). */
		n = rep->element[i + 1]->integer;
		if (i / 2 < (size_t)run->r_nadjs)
			n += run->r_adjs[i / 2];
		else
			n += (long long)hub_local(hub, kind, e->str, e->len) -
			    hub_held(hub, kind, e->str, e->len);
		/* What the user may not subscribe to, it does not see. */
		if (!acl_channel_ok(session_user(s), ACL_SUBSCRIBE, e->str,
		    e->len))
			n = 0;
		resp_add_bulk(session_reply(s), e->str, e->len);
		resp_add_int(session_reply(s), n < 0 ? 0 : n);
	}
	session_queue_write(s);
}

/*
 * PUBSUB CHANNELS and SHARDCHANNELS: what Redis lists, less the names only
 * pubsubd held, plus names only pubsubd's clients hold.
 */
static void
cmd_pubsub_channels(struct command_run *run, const struct cmdconn_reply *rep,
    enum upstream_kind kind)
{
	struct session			*s = run->r_s;
	const struct resp_req		*r = &run->r_req;
	struct hub			*hub = session_env(s)->se_hub;
	const struct cmdconn_reply	*nums = NULL, *e;
	struct cmd_extra		 x;
	struct evbuffer			*list;
	size_t				 i, plen = strlen(UPSTREAM_PRIVATE_PREFIX);

	if (run->r_wait[1] != NULL &&
	    future_state(run->r_wait[1]) == FUTURE_DONE)
		nums = future_result(run->r_wait[1]);
	if ((list = evbuffer_new()) == NULL)
		fatalx("out of memory");
	memset(&x, 0, sizeof(x));
	for (i = 0; i < rep->elements; i++) {
		e = rep->element[i];
		if (e->len >= plen && memcmp(e->str, UPSTREAM_PRIVATE_PREFIX,
		    plen) == 0)
			continue;	/* a pubsubd's own, not a client's */
		if (!acl_channel_ok(session_user(s), ACL_SUBSCRIBE, e->str,
		    e->len))
			continue;	/* not the user's to see */
		if (hub_held(hub, kind, e->str, e->len) &&
		    hub_local(hub, kind, e->str, e->len) == 0 &&
		    cmd_numsub_of(nums, e->str, e->len) <= 1)
			continue;	/* only pubsubd itself holds it */
		resp_add_bulk(list, e->str, e->len);
		x.n++;
	}
	x.user = session_user(s);
	x.listed = rep;
	x.out = list;
	if (r->argc == 3) {
		x.pattern = r->argv[2];
		x.patternlen = r->argvlen[2];
	}
	hub_foreach(hub, kind, cmd_extra_add, &x);
	resp_add_array(session_reply(s), x.n);
	evbuffer_add_buffer(session_reply(s), list);
	evbuffer_free(list);
	session_queue_write(s);
}

/*
 * Finishes PUBSUB: CHANNELS and NUMSUB corrected as above; everything else
 * is Redis' answer as it came.
 */
void
cmd_pubsub_finish(struct command_run *run)
{
	struct session			*s = run->r_s;
	const struct resp_req		*r = &run->r_req;
	const struct cmdconn_reply	*rep;
	enum upstream_kind		 kind;

	if ((rep = command_upstream_reply(run, 0)) == NULL)
		return;
	kind = command_is(r, 1, "shardchannels") ||
	    command_is(r, 1, "shardnumsub") ? UPSTREAM_SHARD : UPSTREAM_CHANNEL;
	if ((command_is(r, 1, "numsub") || command_is(r, 1, "shardnumsub")) &&
	    rep->type == CMDCONN_ARRAY) {
		cmd_pubsub_numsub(run, rep, kind);
		return;
	}
	if ((!command_is(r, 1, "channels") &&
	    !command_is(r, 1, "shardchannels")) || rep->type != CMDCONN_ARRAY) {
		cmdconn_reply_encode_proto(session_reply(s), rep,
		    session_resp(s));
		session_queue_write(s);
		return;
	}
	cmd_pubsub_channels(run, rep, kind);
}
