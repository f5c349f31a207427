/*
 * upstream_sentinel.c: the upstream of the master a set of Redis Sentinels
 * names (struct upstream_ops of upstream.h; what it does is said in
 * upstream_sentinel.h).
 *
 * Three things run beside the master's own connections, which an
 * upstream_single holds (made at the first master found, moved by
 * upstream_set_conf() to each new one, and the one that every operation
 * but start, set_conf and free is handed to):
 *
 * - a search: one sentinel after another is asked for the master's address
 *   on a command connection (cmdconn.h) and, when one answers, ROLE on
 *   that address on another; each step is bounded by connect_timeout. The
 *   first address that says "master" is believed, unless the master
 *   pubsubd is on still says so too (upstream_sentinel_recheck_done()). When
 *   every sentinel has been tried, it waits out a backoff (as the single
 *   upstream does) and starts again. A +switch-master announcement starts a search at the
 *   address announced, ROLE first.
 * - the watch: a subscription to +switch-master on one sentinel, on a
 *   bufferevent whose replies hiredis' reader parses (hiredis' async layer
 *   cannot mix SUBSCRIBE with the AUTH before it). When it is lost, the
 *   next sentinel is watched after backoff_min, and a search starts, for a
 *   switch may have been missed meanwhile.
 * - a check timer: a search every UPSTREAM_SENTINEL_CHECK_MS, which also
 *   learns sentinels that joined.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "cmdconn.h"
#include "endpoint.h"
#include "future.h"
#include "log.h"
#include "upstream.h"
#include "upstream_facts.h"
#include "upstream_sentinel.h"
#include "upstream_single.h"

/*
 * The master a set of sentinels names. Owned by whoever
 * upstream_sentinel_new() returned its us_if to, freed by upstream_free().
 */
struct upstream_sentinel {
	struct upstream		 us_if;		/* first: what callers hold */
	struct event_base	*us_base;	/* borrowed */
	struct upstream_cbs	 us_cbs;
	void			*us_arg;	/* borrowed: the cbs' */
	struct upstream_conf	 us_conf;	/* us_conf.redis is *us_login */
	struct endpoint		*us_login;	/* owned: the master's
						   credentials and TLS */
	char			*us_name;	/* owned: the master's name */
	struct endpoint		*us_nodes[UPSTREAM_SENTINEL_MAX];
						/* owned: us_nnodes sentinels */
	size_t			 us_nnodes;
	struct upstream		*us_inner;	/* owned, or NULL: no master
						   found yet */
	struct endpoint		*us_master;	/* owned, or NULL: likewise */
	int			 us_started;
	int			 us_moving;	/* inside the inner's set_conf */
	struct upstream_stats	*us_stats;	/* owned: what stats() says */
	struct upstream_facts	*us_facts;	/* owned: none, until found */
	struct event		*us_check_ev;	/* owned: the periodic search */

	/* The search. */
	int			 us_finding;
	size_t			 us_first;	/* the sentinel asked first */
	size_t			 us_tries;	/* sentinels asked so far */
	struct cmdconn		*us_ask;	/* owned: to the sentinel */
	struct cmdconn		*us_role;	/* owned: to the candidate */
	struct future		*us_step;	/* owned: the reply awaited */
	struct future_cb	*us_step_cb;	/* on us_step, until it runs */
	struct future		*us_learn;	/* owned: SENTINEL sentinels */
	struct future_cb	*us_learn_cb;	/* on us_learn, likewise */
	struct cmdconn		*us_learn_conn;	/* owned: its connection */
	struct endpoint		*us_cand;	/* owned: the address asked */
	size_t			 us_cand_from;	/* the sentinel that named it,
						   or us_nnodes: announced */
	char			 us_why[ENDPOINT_NAME_MAX + 256];
						/* the last step's failure */
	long long		 us_announced_ms;	/* when an announcement
						   last moved it, or 0 */
	struct event		*us_retry_ev;	/* owned: after all failed */
	int			 us_backoff_ms;

	/* The watch. */
	struct bufferevent	*us_watch;	/* owned, or NULL */
	redisReader		*us_reader;	/* owned: parses us_watch */
	size_t			 us_watch_node;	/* the sentinel watched */
	int			 us_watch_auth;	/* its AUTH is unanswered */
	int			 us_watch_held;	/* SUBSCRIBE was confirmed */
	int			 us_watch_backoff_ms;
						/* the wait before the next */
	struct event		*us_watch_ev;	/* owned: the next watch */
};

static void	upstream_sentinel_start(struct upstream *);
static int	upstream_sentinel_set_conf(struct upstream *,
		    const struct upstream_conf *);
static void	upstream_sentinel_free(struct upstream *);
static int	upstream_sentinel_connected(const struct upstream *);
static size_t	upstream_sentinel_pending(const struct upstream *);
static struct future *upstream_sentinel_subscribe(struct upstream *,
		    enum upstream_kind, const char *, size_t);
static struct future *upstream_sentinel_unsubscribe(struct upstream *,
		    enum upstream_kind, const char *, size_t);
static struct future *upstream_sentinel_command(struct upstream *, int,
		    const char *const *, const size_t *);
static struct future *upstream_sentinel_barrier(struct upstream *,
		    enum upstream_kind);
static const struct upstream_stats *upstream_sentinel_stats(
		    const struct upstream *);
static const struct upstream_facts *upstream_sentinel_facts(
		    const struct upstream *);
static const struct endpoint *upstream_sentinel_endpoint(
		    const struct upstream *);
static struct future *upstream_sentinel_unknown(void);
static void	upstream_sentinel_on_message(void *,
		    const struct upstream_msg *);
static void	upstream_sentinel_on_state(void *, int);
static void	upstream_sentinel_on_lost(void *, enum upstream_kind,
		    const char *, size_t);
static int	upstream_sentinel_add_node(struct upstream_sentinel *,
		    const char *, int);
static void	upstream_sentinel_find(struct upstream_sentinel *,
		    const char *, int);
static void	upstream_sentinel_find_stop(struct upstream_sentinel *);
static void	upstream_sentinel_find_next(struct upstream_sentinel *);
static void	upstream_sentinel_step_drop(struct upstream_sentinel *);
static void	upstream_sentinel_learn_drop(struct upstream_sentinel *);
static int	upstream_sentinel_send(struct upstream_sentinel *,
		    struct cmdconn *, int, const char **, future_cb_fn);
static void	upstream_sentinel_addr_done(struct future *, void *);
static void	upstream_sentinel_role(struct upstream_sentinel *,
		    const char *, int, size_t);
static void	upstream_sentinel_role_done(struct future *, void *);
static void	upstream_sentinel_ask_role(struct upstream_sentinel *,
		    const struct endpoint *, future_cb_fn);
static void	upstream_sentinel_recheck_done(struct future *, void *);
static void	upstream_sentinel_learn(struct upstream_sentinel *);
static void	upstream_sentinel_learn_done(struct future *, void *);
static void	upstream_sentinel_found(struct upstream_sentinel *);
static void	upstream_sentinel_retry_cb(evutil_socket_t, short, void *);
static void	upstream_sentinel_check_cb(evutil_socket_t, short, void *);
static void	upstream_sentinel_watch(struct upstream_sentinel *);
static void	upstream_sentinel_watch_cb(evutil_socket_t, short, void *);
static void	upstream_sentinel_watch_close(struct upstream_sentinel *);
static void	upstream_sentinel_watch_lost(struct upstream_sentinel *,
		    const char *);
static void	upstream_sentinel_watch_read_cb(struct bufferevent *,
		    void *);
static void	upstream_sentinel_watch_event_cb(struct bufferevent *, short,
		    void *);
static int	upstream_sentinel_watch_reply(struct upstream_sentinel *,
		    const redisReply *);

static const struct upstream_ops upstream_sentinel_ops = {
	upstream_sentinel_start,
	upstream_sentinel_set_conf,
	upstream_sentinel_free,
	upstream_sentinel_connected,
	upstream_sentinel_pending,
	upstream_sentinel_subscribe,
	upstream_sentinel_unsubscribe,
	upstream_sentinel_command,
	upstream_sentinel_barrier,
	upstream_sentinel_stats,
	upstream_sentinel_facts,
	upstream_sentinel_endpoint,
	"sentinel"
};

/* Returns a new upstream of the master sc's sentinels name. */
struct upstream *
upstream_sentinel_new(struct event_base *base, const struct upstream_conf *conf,
    const struct upstream_sentinel_conf *sc, const struct upstream_cbs *cbs,
    void *arg)
{
	struct upstream_sentinel	*us;
	size_t				 i;
	int				 ok = 1;

	if ((us = calloc(1, sizeof(*us))) == NULL)
		return NULL;
	us->us_if.u_ops = &upstream_sentinel_ops;
	us->us_base = base;
	us->us_cbs = *cbs;
	us->us_arg = arg;
	us->us_conf = *conf;
	us->us_backoff_ms = conf->backoff_min;
	us->us_watch_backoff_ms = conf->backoff_min;
	if ((us->us_login = endpoint_dup(&conf->redis)) != NULL)
		us->us_conf.redis = *us->us_login;
	for (i = 0; i < sc->nnodes && i < UPSTREAM_SENTINEL_MAX; i++) {
		if ((us->us_nodes[i] = endpoint_dup(&sc->nodes[i])) == NULL)
			ok = 0;
		us->us_nnodes++;
	}
	us->us_name = strdup(sc->master);
	/* Down from the start until a master is found (upstream.h's clock). */
	if ((us->us_stats = calloc(1, sizeof(*us->us_stats))) != NULL)
		us->us_stats->down_since_ms = upstream_now_ms();
	us->us_facts = upstream_facts_new();
	us->us_check_ev = event_new(base, -1, EV_PERSIST,
	    upstream_sentinel_check_cb, us);
	us->us_retry_ev = evtimer_new(base, upstream_sentinel_retry_cb, us);
	us->us_watch_ev = evtimer_new(base, upstream_sentinel_watch_cb, us);
	if (!ok || us->us_nnodes == 0 || us->us_login == NULL ||
	    us->us_name == NULL || us->us_stats == NULL ||
	    us->us_facts == NULL || us->us_check_ev == NULL ||
	    us->us_retry_ev == NULL || us->us_watch_ev == NULL) {
		upstream_sentinel_free(&us->us_if);
		return NULL;
	}
	return &us->us_if;
}

/* Starts the search, the watch and the periodic check. */
static void
upstream_sentinel_start(struct upstream *u)
{
	struct upstream_sentinel	*us = (void *)u;
	struct timeval			 tv;

	us->us_started = 1;
	tv.tv_sec = UPSTREAM_SENTINEL_CHECK_MS / 1000;
	tv.tv_usec = (UPSTREAM_SENTINEL_CHECK_MS % 1000) * 1000;
	event_add(us->us_check_ev, &tv);
	upstream_sentinel_find(us, NULL, 0);
	upstream_sentinel_watch(us);
}

/*
 * A reload: new timings or new credentials for the master, which the
 * master's connections take at once. The sentinels stay as they were.
 */
static int
upstream_sentinel_set_conf(struct upstream *u, const struct upstream_conf *conf)
{
	struct upstream_sentinel	*us = (void *)u;
	struct upstream_conf		 c;
	struct endpoint			*login, *master = NULL;
	int				 rc = 0;

	if ((login = endpoint_dup(&conf->redis)) == NULL)
		return -1;
	if (us->us_master != NULL && (master = endpoint_dup_at(login,
	    us->us_master->host, us->us_master->port)) == NULL) {
		endpoint_free(login);
		return -1;
	}
	endpoint_free(us->us_login);
	us->us_login = login;
	us->us_conf = *conf;
	us->us_conf.redis = *login;
	if (master != NULL) {
		c = us->us_conf;
		c.redis = *master;
		us->us_moving = 1;
		rc = upstream_set_conf(us->us_inner, &c);
		us->us_moving = 0;
		endpoint_free(us->us_master);
		us->us_master = master;
	}
	return rc;
}

/* Frees everything; the master's pending futures fail. */
static void
upstream_sentinel_free(struct upstream *u)
{
	struct upstream_sentinel	*us = (void *)u;
	size_t				 i;

	upstream_sentinel_find_stop(us);
	upstream_sentinel_watch_close(us);
	upstream_sentinel_learn_drop(us);
	upstream_free(us->us_inner);
	endpoint_free(us->us_master);
	endpoint_free(us->us_login);
	for (i = 0; i < us->us_nnodes; i++)
		endpoint_free(us->us_nodes[i]);
	free(us->us_name);
	free(us->us_stats);
	upstream_facts_free(us->us_facts);
	if (us->us_check_ev != NULL)
		event_free(us->us_check_ev);
	if (us->us_retry_ev != NULL)
		event_free(us->us_retry_ev);
	if (us->us_watch_ev != NULL)
		event_free(us->us_watch_ev);
	free(us);
}

static int
upstream_sentinel_connected(const struct upstream *u)
{
	const struct upstream_sentinel	*us = (const void *)u;

	return us->us_inner != NULL && upstream_connected(us->us_inner);
}

static size_t
upstream_sentinel_pending(const struct upstream *u)
{
	const struct upstream_sentinel	*us = (const void *)u;

	return us->us_inner != NULL ? upstream_pending(us->us_inner) : 0;
}

/* A failed future: no master has been found yet. */
static struct future *
upstream_sentinel_unknown(void)
{
	struct future	*fut;

	if ((fut = future_new()) != NULL)
		future_set_error(fut, "no redis master known yet: the "
		    "sentinels have not named one");
	return fut;
}

static struct future *
upstream_sentinel_subscribe(struct upstream *u, enum upstream_kind kind,
    const char *name, size_t len)
{
	struct upstream_sentinel	*us = (void *)u;

	if (us->us_inner == NULL)
		return upstream_sentinel_unknown();
	return upstream_subscribe(us->us_inner, kind, name, len);
}

static struct future *
upstream_sentinel_unsubscribe(struct upstream *u, enum upstream_kind kind,
    const char *name, size_t len)
{
	struct upstream_sentinel	*us = (void *)u;

	if (us->us_inner == NULL)
		return upstream_sentinel_unknown();
	return upstream_unsubscribe(us->us_inner, kind, name, len);
}

static struct future *
upstream_sentinel_command(struct upstream *u, int argc,
    const char *const *argv, const size_t *argvlen)
{
	struct upstream_sentinel	*us = (void *)u;

	if (us->us_inner == NULL)
		return upstream_sentinel_unknown();
	return upstream_command(us->us_inner, argc, argv, argvlen);
}

/* Not connected, before the first master: done at once. */
static struct future *
upstream_sentinel_barrier(struct upstream *u, enum upstream_kind kind)
{
	struct upstream_sentinel	*us = (void *)u;
	struct future			*fut;

	if (us->us_inner != NULL)
		return upstream_barrier(us->us_inner, kind);
	if ((fut = future_new()) != NULL)
		future_set_result(fut, NULL, NULL);
	return fut;
}

/* The master's connections' counters, and the switches between masters. */
static const struct upstream_stats *
upstream_sentinel_stats(const struct upstream *u)
{
	const struct upstream_sentinel	*us = (const void *)u;
	unsigned long long		 switches = us->us_stats->switches;

	if (us->us_inner != NULL) {
		*us->us_stats = *upstream_stats(us->us_inner);
		us->us_stats->switches = switches;
	}
	return us->us_stats;
}

static const struct upstream_facts *
upstream_sentinel_facts(const struct upstream *u)
{
	const struct upstream_sentinel	*us = (const void *)u;

	if (us->us_inner != NULL)
		return us->us_inner->u_ops->facts(us->us_inner);
	return us->us_facts;
}

static const struct endpoint *
upstream_sentinel_endpoint(const struct upstream *u)
{
	const struct upstream_sentinel	*us = (const void *)u;

	return us->us_master;
}

/* The master's connections' callbacks, passed on. */
static void
upstream_sentinel_on_message(void *arg, const struct upstream_msg *msg)
{
	struct upstream_sentinel	*us = arg;

	us->us_cbs.on_message(us->us_arg, msg);
}

/* The master is lost: it may have moved, so ask, as well as reconnect. */
static void
upstream_sentinel_on_state(void *arg, int connected)
{
	struct upstream_sentinel	*us = arg;

	us->us_cbs.on_state(us->us_arg, connected);
	if (!connected && !us->us_moving && !us->us_finding)
		upstream_sentinel_find(us, NULL, 0);
}

static void
upstream_sentinel_on_lost(void *arg, enum upstream_kind kind,
    const char *name, size_t len)
{
	struct upstream_sentinel	*us = arg;

	if (us->us_cbs.on_lost != NULL)
		us->us_cbs.on_lost(us->us_arg, kind, name, len);
}

/*
 * Adds the sentinel host:port, logging in as the configured ones do, if it
 * is not known yet and there is room. Returns 1 if added, else 0.
 */
static int
upstream_sentinel_add_node(struct upstream_sentinel *us, const char *host,
    int port)
{
	struct endpoint	*e;
	size_t		 i;

	for (i = 0; i < us->us_nnodes; i++)
		if (us->us_nodes[i]->port == port &&
		    strcmp(us->us_nodes[i]->host, host) == 0)
			return 0;
	if (us->us_nnodes == UPSTREAM_SENTINEL_MAX ||
	    (e = endpoint_dup_at(us->us_nodes[0], host, port)) == NULL)
		return 0;
	us->us_nodes[us->us_nnodes++] = e;
	return 1;
}

/*
 * Starts a search: at host:port first if host is not NULL (announced by
 * +switch-master; a search under way is dropped for it), else by asking
 * the sentinels from the watched one on (unless a search is under way).
 */
static void
upstream_sentinel_find(struct upstream_sentinel *us, const char *host,
    int port)
{
	if (!us->us_started || (us->us_finding && host == NULL))
		return;
	upstream_sentinel_find_stop(us);
	evtimer_del(us->us_retry_ev);
	us->us_finding = 1;
	us->us_first = us->us_watch_node;
	us->us_tries = 0;
	snprintf(us->us_why, sizeof(us->us_why), "no sentinel answered");
	if (host != NULL)
		upstream_sentinel_role(us, host, port, us->us_nnodes);
	else
		upstream_sentinel_find_next(us);
}

/*
 * Stops awaiting the search's step: its callback, queued or not, will not
 * run (a completion may be queued behind the running callback, since
 * futures dispatch from a queue).
 */
static void
upstream_sentinel_step_drop(struct upstream_sentinel *us)
{
	if (us->us_step != NULL)
		future_remove_callback(us->us_step, us->us_step_cb);
	us->us_step_cb = NULL;
	future_unref(us->us_step);
	us->us_step = NULL;
}

/* The same for SENTINEL sentinels, with its connection. */
static void
upstream_sentinel_learn_drop(struct upstream_sentinel *us)
{
	if (us->us_learn != NULL)
		future_remove_callback(us->us_learn, us->us_learn_cb);
	us->us_learn_cb = NULL;
	future_unref(us->us_learn);
	us->us_learn = NULL;
	cmdconn_free(us->us_learn_conn);
	us->us_learn_conn = NULL;
}

/* Drops the search's connections and the reply it awaited. */
static void
upstream_sentinel_find_stop(struct upstream_sentinel *us)
{
	upstream_sentinel_step_drop(us);
	cmdconn_free(us->us_ask);
	cmdconn_free(us->us_role);
	us->us_ask = us->us_role = NULL;
	endpoint_free(us->us_cand);
	us->us_cand = NULL;
	us->us_finding = 0;
}

/* Asks the next sentinel, or, once every one was asked, waits and retries. */
static void
upstream_sentinel_find_next(struct upstream_sentinel *us)
{
	const char	*argv[3] = { "SENTINEL", "get-master-addr-by-name",
			    us->us_name };
	struct timeval	 tv;
	size_t		 node;
	char		 name[ENDPOINT_NAME_MAX];

	upstream_sentinel_step_drop(us);
	cmdconn_free(us->us_ask);
	cmdconn_free(us->us_role);
	us->us_ask = us->us_role = NULL;
	if (us->us_tries > 0)
		log_info("sentinel: %s", us->us_why);	/* the step that failed */
	if (us->us_tries >= us->us_nnodes) {
		log_warnx("sentinel: no master '%s' confirmed by any of %zu "
		    "sentinel%s (last: %s); asking again in %d ms",
		    us->us_name, us->us_nnodes, us->us_nnodes == 1 ? "" : "s",
		    us->us_why, us->us_backoff_ms);
		us->us_stats->connect_failures += us->us_inner == NULL;
		upstream_sentinel_find_stop(us);
		tv.tv_sec = us->us_backoff_ms / 1000;
		tv.tv_usec = (us->us_backoff_ms % 1000) * 1000;
		evtimer_add(us->us_retry_ev, &tv);
		us->us_backoff_ms = us->us_backoff_ms * 2 > us->us_conf.backoff_max ?
		    us->us_conf.backoff_max : us->us_backoff_ms * 2;
		return;
	}
	node = (us->us_first + us->us_tries++) % us->us_nnodes;
	log_debug("sentinel: asking %s where '%s' is",
	    endpoint_name(us->us_nodes[node], name, sizeof(name)), us->us_name);
	us->us_ask = cmdconn_new_at(us->us_base, us->us_nodes[node], 0, NULL,
	    NULL);
	us->us_cand_from = node;
	if (upstream_sentinel_send(us, us->us_ask, 3, argv,
	    upstream_sentinel_addr_done) == -1) {
		snprintf(us->us_why, sizeof(us->us_why), "out of memory");
		upstream_sentinel_find_next(us);
	}
}

/*
 * Sends argv on conn as the search's step, bounded by connect_timeout,
 * with done to run on its reply. Returns 0, or -1 if out of memory.
 */
static int
upstream_sentinel_send(struct upstream_sentinel *us, struct cmdconn *conn,
    int argc, const char **argv, future_cb_fn done)
{
	struct future		*fut, *step;
	struct future_cb	*cb;

	if (conn == NULL || (fut = cmdconn_command(conn, argc, argv,
	    NULL)) == NULL)
		return -1;
	step = future_timeout(us->us_base, fut, us->us_conf.connect_timeout,
	    "no answer in time");
	future_unref(fut);
	if ((us->us_step = step) == NULL)
		return -1;
	/* Complete already: done has run, and may have taken the next step. */
	if ((cb = future_add_callback(step, done, us)) != NULL)
		us->us_step_cb = cb;
	else if (future_is_pending(step))
		return -1;
	return 0;
}

/* A sentinel's answer: the master's address, to be confirmed by ROLE. */
static void
upstream_sentinel_addr_done(struct future *fut, void *arg)
{
	struct upstream_sentinel	*us = arg;
	const struct cmdconn_reply	*r = future_result(fut);
	char				 name[ENDPOINT_NAME_MAX];
	char				*end = NULL;
	long				 port;

	us->us_step_cb = NULL;		/* running: freed once it returns */
	endpoint_name(us->us_nodes[us->us_cand_from], name, sizeof(name));
	if (future_error(fut) != NULL) {
		snprintf(us->us_why, sizeof(us->us_why), "sentinel %s: %s",
		    name, future_error(fut));
		upstream_sentinel_find_next(us);
		return;
	}
	if (r->type == CMDCONN_NIL_ARRAY || r->type == CMDCONN_NIL ||
	    r->type == CMDCONN_ERROR) {
		snprintf(us->us_why, sizeof(us->us_why), "sentinel %s: %s",
		    name, r->type == CMDCONN_ERROR ? r->str :
		    "it monitors no such master");
		upstream_sentinel_find_next(us);
		return;
	}
	port = 0;
	if (r->type == CMDCONN_ARRAY && r->elements == 2 &&
	    r->element[0]->type == CMDCONN_STRING &&
	    r->element[1]->type == CMDCONN_STRING && r->element[0]->len > 0)
		port = strtol(r->element[1]->str, &end, 10);
	if (port < 1 || port > 65535 || *end != '\0') {
		snprintf(us->us_why, sizeof(us->us_why), "sentinel %s: not a "
		    "\"host\", \"port\" reply", name);
		upstream_sentinel_find_next(us);
		return;
	}
	upstream_sentinel_learn(us);
	upstream_sentinel_role(us, r->element[0]->str, (int)port,
	    us->us_cand_from);
}

/* Asks host:port (named by sentinel from, or announced) for its ROLE. */
static void
upstream_sentinel_role(struct upstream_sentinel *us, const char *host,
    int port, size_t from)
{
	struct endpoint	*cand;

	if ((cand = endpoint_dup_at(us->us_login, host, port)) == NULL) {
		snprintf(us->us_why, sizeof(us->us_why), "out of memory");
		upstream_sentinel_find_next(us);
		return;
	}
	endpoint_free(us->us_cand);
	us->us_cand = cand;
	us->us_cand_from = from;
	upstream_sentinel_ask_role(us, cand, upstream_sentinel_role_done);
}

/* Asks Redis at at for its ROLE, as the search's step; done on the reply. */
static void
upstream_sentinel_ask_role(struct upstream_sentinel *us,
    const struct endpoint *at, future_cb_fn done)
{
	const char	*argv[1] = { "ROLE" };

	upstream_sentinel_step_drop(us);
	cmdconn_free(us->us_role);
	us->us_role = cmdconn_new_at(us->us_base, at, 0, NULL, NULL);
	if (upstream_sentinel_send(us, us->us_role, 1, argv, done) == -1) {
		snprintf(us->us_why, sizeof(us->us_why), "out of memory");
		upstream_sentinel_find_next(us);
	}
}

/* The candidate's ROLE: a master is believed, anything else is not. */
static void
upstream_sentinel_role_done(struct future *fut, void *arg)
{
	struct upstream_sentinel	*us = arg;
	const struct cmdconn_reply	*r = future_result(fut);
	char				 name[ENDPOINT_NAME_MAX];

	us->us_step_cb = NULL;		/* running: freed once it returns */
	endpoint_name(us->us_cand, name, sizeof(name));
	if (future_error(fut) != NULL)
		snprintf(us->us_why, sizeof(us->us_why), "%s: %s", name,
		    future_error(fut));
	else if (r->type == CMDCONN_ERROR)
		snprintf(us->us_why, sizeof(us->us_why), "%s: ROLE: %s", name,
		    r->str);
	else if (r->type != CMDCONN_ARRAY || r->elements == 0 ||
	    r->element[0]->type != CMDCONN_STRING)
		snprintf(us->us_why, sizeof(us->us_why), "%s: ROLE: not a "
		    "role reply", name);
	else if (strcmp(r->element[0]->str, "master") != 0)
		snprintf(us->us_why, sizeof(us->us_why), "%s: ROLE says %s, "
		    "not master", name, r->element[0]->str);
	else if (us->us_cand_from < us->us_nnodes && us->us_master != NULL &&
	    us->us_announced_ms != 0 && upstream_now_ms() -
	    us->us_announced_ms < UPSTREAM_SENTINEL_HOLD_MS &&
	    !endpoint_same_place(us->us_master, us->us_cand)) {
		upstream_sentinel_ask_role(us, us->us_master,
		    upstream_sentinel_recheck_done);
		return;
	} else {
		upstream_sentinel_found(us);
		return;
	}
	upstream_sentinel_find_next(us);
}

/*
 * Shortly after a +switch-master moved pubsubd, a sentinel named another
 * master, which says master: so does the old master for a moment after a
 * failover (until the sentinels turn it into a replica), and a sentinel
 * that has not heard of the switch yet still names it. pubsubd moves only
 * if the announced master no longer says master (or cannot answer): ROLE
 * on it, whose reply comes here: still master, pubsubd stays; else it
 * moves. Past UPSTREAM_SENTINEL_HOLD_MS, the sentinels are believed (a
 * switch may have been missed, the announced master cut off).
 */
static void
upstream_sentinel_recheck_done(struct future *fut, void *arg)
{
	struct upstream_sentinel	*us = arg;
	const struct cmdconn_reply	*r = future_result(fut);
	char				 cur[ENDPOINT_NAME_MAX];
	char				 cand[ENDPOINT_NAME_MAX];

	us->us_step_cb = NULL;		/* running: freed once it returns */
	if (future_error(fut) == NULL && r->type == CMDCONN_ARRAY &&
	    r->elements > 0 && r->element[0]->type == CMDCONN_STRING &&
	    strcmp(r->element[0]->str, "master") == 0) {
		log_info("sentinel: %s was named master '%s', but %s, where "
		    "pubsubd is, still says master: staying",
		    endpoint_name(us->us_cand, cand, sizeof(cand)),
		    us->us_name, endpoint_name(us->us_master, cur,
		    sizeof(cur)));
		us->us_backoff_ms = us->us_conf.backoff_min;
		upstream_sentinel_find_stop(us);
		return;
	}
	upstream_sentinel_found(us);
}

/* Asks the sentinel that answered for the others it knows of. */
static void
upstream_sentinel_learn(struct upstream_sentinel *us)
{
	const char	*argv[3] = { "SENTINEL", "sentinels", us->us_name };
	struct future	*fut;

	if (us->us_learn != NULL || us->us_ask == NULL ||
	    (fut = cmdconn_command(us->us_ask, 3, argv, NULL)) == NULL)
		return;
	/* The search may move on: this connection stays for the answer. */
	us->us_learn = fut;
	us->us_learn_conn = us->us_ask;
	us->us_ask = NULL;
	if ((us->us_learn_cb = future_add_callback(fut,
	    upstream_sentinel_learn_done, us)) == NULL && future_is_pending(fut))
		upstream_sentinel_learn_drop(us);
}

/* SENTINEL sentinels: an array of flat field/value arrays. */
static void
upstream_sentinel_learn_done(struct future *fut, void *arg)
{
	struct upstream_sentinel	*us = arg;
	const struct cmdconn_reply	*r = future_result(fut);
	const struct cmdconn_reply	*s;
	const char			*ip;
	size_t				 i, j;
	int				 port;

	us->us_learn_cb = NULL;		/* running: freed once it returns */
	for (i = 0; r != NULL && r->type == CMDCONN_ARRAY &&
	    i < r->elements; i++) {
		s = r->element[i];
		ip = NULL;
		port = 0;
		for (j = 0; s->type == CMDCONN_ARRAY && j + 1 < s->elements;
		    j += 2) {
			if (s->element[j]->type != CMDCONN_STRING ||
			    s->element[j + 1]->type != CMDCONN_STRING)
				continue;
			if (strcmp(s->element[j]->str, "ip") == 0)
				ip = s->element[j + 1]->str;
			else if (strcmp(s->element[j]->str, "port") == 0)
				port = atoi(s->element[j + 1]->str);
		}
		if (ip != NULL && *ip != '\0' && port > 0 && port < 65536 &&
		    upstream_sentinel_add_node(us, ip, port))
			log_info("sentinel: learnt of sentinel %s:%d", ip,
			    port);
	}
	upstream_sentinel_learn_drop(us);
}

/* The candidate is the master: move there, if it is a new one. */
static void
upstream_sentinel_found(struct upstream_sentinel *us)
{
	static const struct upstream_cbs cbs = {
		upstream_sentinel_on_message, upstream_sentinel_on_state,
		upstream_sentinel_on_lost
	};
	struct upstream_conf	 c;
	struct endpoint		*old = us->us_master;
	char			 name[ENDPOINT_NAME_MAX];
	char			 was[ENDPOINT_NAME_MAX];
	int			 rc;

	us->us_backoff_ms = us->us_conf.backoff_min;
	if (old != NULL && endpoint_same_place(old, us->us_cand)) {
		upstream_sentinel_find_stop(us);
		return;
	}
	us->us_announced_ms = us->us_cand_from == us->us_nnodes ?
	    upstream_now_ms() : 0;
	us->us_master = us->us_cand;
	us->us_cand = NULL;
	upstream_sentinel_find_stop(us);
	endpoint_name(us->us_master, name, sizeof(name));
	c = us->us_conf;
	c.redis = *us->us_master;
	if (old == NULL) {
		log_notice("sentinel: master '%s' is at %s", us->us_name,
		    name);
		if ((us->us_inner = upstream_single_new(us->us_base, &c, &cbs,
		    us)) == NULL) {
			log_warnx("sentinel: out of memory");
			endpoint_free(us->us_master);
			us->us_master = NULL;
			return;
		}
		upstream_start(us->us_inner);
		return;
	}
	us->us_stats->switches++;
	log_notice("sentinel: master '%s' moved from %s to %s (switch %llu)",
	    us->us_name, endpoint_name(old, was, sizeof(was)), name,
	    us->us_stats->switches);
	us->us_moving = 1;
	rc = upstream_set_conf(us->us_inner, &c);
	us->us_moving = 0;
	if (rc == -1) {
		log_warnx("sentinel: out of memory moving to %s", name);
		endpoint_free(us->us_master);
		us->us_master = old;
		return;
	}
	endpoint_free(old);
}

/* Every sentinel failed: try them all again. */
static void
upstream_sentinel_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	upstream_sentinel_find(arg, NULL, 0);
}

/* The periodic search. */
static void
upstream_sentinel_check_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upstream_sentinel	*us = arg;

	if (!evtimer_pending(us->us_retry_ev, NULL))
		upstream_sentinel_find(us, NULL, 0);
}

/* Subscribes to +switch-master on the sentinel us_watch_node. */
static void
upstream_sentinel_watch(struct upstream_sentinel *us)
{
	const struct endpoint	*node = us->us_nodes[us->us_watch_node];
	char			 name[ENDPOINT_NAME_MAX];

	upstream_sentinel_watch_close(us);
	endpoint_name(node, name, sizeof(name));
	log_debug("sentinel: watching %s for +switch-master", name);
	if ((us->us_reader = redisReaderCreate()) == NULL ||
	    (us->us_watch = endpoint_bev_new(node, us->us_base)) == NULL) {
		upstream_sentinel_watch_lost(us, "out of memory");
		return;
	}
	bufferevent_setcb(us->us_watch, upstream_sentinel_watch_read_cb, NULL,
	    upstream_sentinel_watch_event_cb, us);
	if ((us->us_watch_auth = endpoint_auth_bev(node, us->us_watch)) == -1 ||
	    evbuffer_add_printf(bufferevent_get_output(us->us_watch),
	    "SUBSCRIBE +switch-master\r\n") == -1 ||
	    bufferevent_enable(us->us_watch, EV_READ) == -1 ||
	    endpoint_connect_bev(node, us->us_watch) == -1) {
		upstream_sentinel_watch_lost(us, "cannot connect");
		return;
	}
}

/* The time to watch the next sentinel has come. */
static void
upstream_sentinel_watch_cb(evutil_socket_t fd, short what, void *arg)
{
	upstream_sentinel_watch(arg);
}

/* Closes the watch connection, if open. */
static void
upstream_sentinel_watch_close(struct upstream_sentinel *us)
{
	if (us->us_watch != NULL)
		bufferevent_free(us->us_watch);
	if (us->us_reader != NULL)
		redisReaderFree(us->us_reader);
	us->us_watch = NULL;
	us->us_reader = NULL;
}

/*
 * The watch is lost: watch the next sentinel after a backoff (backoff_min,
 * doubled up to backoff_max while no watch holds), and ask where the
 * master is, for a switch may have gone unseen.
 */
static void
upstream_sentinel_watch_lost(struct upstream_sentinel *us, const char *why)
{
	struct timeval	tv;
	char		name[ENDPOINT_NAME_MAX];

	/* Only a watch that held is news; failing to make one again is not. */
	endpoint_name(us->us_nodes[us->us_watch_node], name, sizeof(name));
	if (us->us_watch_held)
		log_warnx("sentinel: lost the watch on %s: %s", name, why);
	else
		log_info("sentinel: cannot watch %s: %s", name, why);
	us->us_watch_held = 0;
	upstream_sentinel_watch_close(us);
	us->us_watch_node = (us->us_watch_node + 1) % us->us_nnodes;
	tv.tv_sec = us->us_watch_backoff_ms / 1000;
	tv.tv_usec = (us->us_watch_backoff_ms % 1000) * 1000;
	evtimer_add(us->us_watch_ev, &tv);
	us->us_watch_backoff_ms = us->us_watch_backoff_ms * 2 >
	    us->us_conf.backoff_max ? us->us_conf.backoff_max :
	    us->us_watch_backoff_ms * 2;
	upstream_sentinel_find(us, NULL, 0);
}

/* Parses what the watched sentinel sent. */
static void
upstream_sentinel_watch_read_cb(struct bufferevent *bev, void *arg)
{
	struct upstream_sentinel	*us = arg;
	struct evbuffer			*in = bufferevent_get_input(bev);
	struct evbuffer_iovec		 v[8];
	void				*reply;
	int				 i, n, rc;

	while (evbuffer_get_length(in) > 0) {
		n = evbuffer_peek(in, -1, NULL, v, 8);
		if (n > 8)
			n = 8;
		for (i = 0; i < n; i++) {
			if (redisReaderFeed(us->us_reader, v[i].iov_base,
			    v[i].iov_len) != REDIS_OK) {
				upstream_sentinel_watch_lost(us,
				    "out of memory");
				return;
			}
			evbuffer_drain(in, v[i].iov_len);
		}
	}
	for (;;) {
		if (redisReaderGetReply(us->us_reader, &reply) != REDIS_OK) {
			upstream_sentinel_watch_lost(us, "protocol error");
			return;
		}
		if (reply == NULL)
			return;
		rc = upstream_sentinel_watch_reply(us, reply);
		freeReplyObject(reply);
		if (rc == -1)
			return;
	}
}

/*
 * One reply on the watch: AUTH's answer, the subscription's confirmation,
 * or a +switch-master message ("name old-ip old-port new-ip new-port").
 * Returns -1 if the watch was lost (or a search replaced it).
 */
static int
upstream_sentinel_watch_reply(struct upstream_sentinel *us,
    const redisReply *r)
{
	char		 name[128], oldip[64], newip[64], buf[256];
	int		 oldport, newport;
	size_t		 len;

	if (us->us_watch_auth == 1) {
		us->us_watch_auth = 0;
		if (r->type == REDIS_REPLY_ERROR) {
			snprintf(buf, sizeof(buf), "AUTH refused: %s", r->str);
			upstream_sentinel_watch_lost(us, buf);
			return -1;
		}
		return 0;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(buf, sizeof(buf), "SUBSCRIBE refused: %s", r->str);
		upstream_sentinel_watch_lost(us, buf);
		return -1;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[2]->type != REDIS_REPLY_STRING ||
	    strcmp(r->element[0]->str, "message") != 0) {
		/* The confirmation: the watch holds. */
		us->us_watch_backoff_ms = us->us_conf.backoff_min;
		us->us_watch_held = 1;
		return 0;
	}
	len = r->element[2]->len < sizeof(buf) - 1 ? r->element[2]->len :
	    sizeof(buf) - 1;
	memcpy(buf, r->element[2]->str, len);
	buf[len] = '\0';
	if (sscanf(buf, "%127s %63s %d %63s %d", name, oldip, &oldport, newip,
	    &newport) != 5 || newport < 1 || newport > 65535) {
		log_warnx("sentinel: a +switch-master not understood: %s",
		    buf);
		return 0;
	}
	if (strcmp(name, us->us_name) != 0)
		return 0;
	log_notice("sentinel: +switch-master '%s' %s:%d -> %s:%d", name,
	    oldip, oldport, newip, newport);
	upstream_sentinel_find(us, newip, newport);
	return 0;
}

/* The watch connected, or failed. */
static void
upstream_sentinel_watch_event_cb(struct bufferevent *bev, short what,
    void *arg)
{
	struct upstream_sentinel	*us = arg;
	const struct endpoint		*node = us->us_nodes[us->us_watch_node];
	char				 why[256];

	if (what & BEV_EVENT_CONNECTED)
		return;
	upstream_sentinel_watch_lost(us, endpoint_bev_error(node, bev,
	    (what & BEV_EVENT_EOF) != 0, why, sizeof(why)));
}
