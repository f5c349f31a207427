/*
 * upstream_cluster.c: the upstream of a Redis Cluster (struct upstream_ops
 * of upstream.h; what it does is said in upstream_cluster.h): the slot
 * map, a node per master, and where each subscription is held.
 *
 * Every subscription the owner asks for is a struct upstream_cluster_name.
 * Its operation goes to the node the name belongs to (the owner of its
 * slot, or the home node); if that node is not connected, or answers
 * MOVED, ASK, TRYAGAIN or CLUSTERDOWN, the name waits in uc_waiting,
 * and is sent again when a node comes up or a new map is applied (the map
 * is asked for every UPSTREAM_CLUSTER_WAIT_MS while anything waits). The
 * owner's future is completed only by an answer that settles it: Redis'
 * confirmation, or a refusal of another kind (NOPERM).
 *
 * A node's callbacks may run from inside hiredis or a bufferevent of
 * that node, so a node is never freed from inside them: a node that left
 * the map is marked dying and reaped from the event loop.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "cluster_map.h"
#include "cmdconn.h"
#include "endpoint.h"
#include "future.h"
#include "log.h"
#include "map.h"
#include "upstream.h"
#include "upstream_cluster.h"
#include "upstream_cluster_impl.h"
#include "upstream_facts.h"
#include "upstream_single.h"

static void	upstream_cluster_start(struct upstream *);
static int	upstream_cluster_set_conf(struct upstream *,
		    const struct upstream_conf *);
static void	upstream_cluster_free(struct upstream *);
static int	upstream_cluster_connected(const struct upstream *);
static size_t	upstream_cluster_pending(const struct upstream *);
static struct future *upstream_cluster_subscribe(struct upstream *,
		    enum upstream_kind, const char *, size_t);
static struct future *upstream_cluster_unsubscribe(struct upstream *,
		    enum upstream_kind, const char *, size_t);
static const struct upstream_stats *upstream_cluster_stats(
		    const struct upstream *);
static const struct upstream_facts *upstream_cluster_facts(
		    const struct upstream *);
static const struct endpoint *upstream_cluster_endpoint(
		    const struct upstream *);
static struct future *upstream_cluster_op(struct upstream_cluster *, int,
		    enum upstream_kind, const char *, size_t);
static void	upstream_cluster_send(struct upstream_cluster_name *);
static void	upstream_cluster_wait(struct upstream_cluster_name *);
static void	upstream_cluster_unwait(struct upstream_cluster_name *);
static void	upstream_cluster_wake(struct upstream_cluster *);
static void	upstream_cluster_op_done(struct future *, void *);
static void	upstream_cluster_op_end(struct upstream_cluster_name *,
		    const char *);
static void	upstream_cluster_name_drop(struct upstream_cluster_name *);
static void	upstream_cluster_name_free(struct upstream_cluster_name *);
static void	upstream_cluster_lose(struct upstream_cluster *,
		    struct upstream_cluster_node *, int);
static void	upstream_cluster_check(struct upstream_cluster *);
static void	upstream_cluster_fail_all(struct upstream_cluster *,
		    const char *);
static struct upstream_cluster_node *upstream_cluster_node_new(
		    struct upstream_cluster *, const char *, int, int);
static void	upstream_cluster_node_free(struct upstream_cluster_node *);
static int	upstream_cluster_node_slot(const struct cluster_map *, int,
		    int);
static void	upstream_cluster_on_message(void *,
		    const struct upstream_msg *);
static void	upstream_cluster_on_state(void *, int);
static void	upstream_cluster_on_lost(void *, enum upstream_kind,
		    const char *, size_t);
static void	upstream_cluster_ask_next(struct upstream_cluster *);
static void	upstream_cluster_ask_drop(struct upstream_cluster *);
static void	upstream_cluster_ask_done(struct future *, void *);
static void	upstream_cluster_apply(struct upstream_cluster *,
		    struct cluster_map *);
static void	upstream_cluster_refresh_cb(evutil_socket_t, short, void *);
static void	upstream_cluster_wait_cb(evutil_socket_t, short, void *);
static void	upstream_cluster_reap_cb(evutil_socket_t, short, void *);

static const struct upstream_ops upstream_cluster_ops = {
	upstream_cluster_start,
	upstream_cluster_set_conf,
	upstream_cluster_free,
	upstream_cluster_connected,
	upstream_cluster_pending,
	upstream_cluster_subscribe,
	upstream_cluster_unsubscribe,
	upstream_cluster_command,
	upstream_cluster_barrier,
	upstream_cluster_stats,
	upstream_cluster_facts,
	upstream_cluster_endpoint,
	"cluster"
};

static const struct upstream_cbs upstream_cluster_node_cbs = {
	upstream_cluster_on_message, upstream_cluster_on_state,
	upstream_cluster_on_lost
};

/* Returns a new upstream of the cluster cc's seeds belong to. */
struct upstream *
upstream_cluster_new(struct event_base *base, const struct upstream_conf *conf,
    const struct upstream_cluster_conf *cc, const struct upstream_cbs *cbs,
    void *arg)
{
	struct upstream_cluster	*uc;
	size_t			 i;
	int			 ok = 1;

	if ((uc = calloc(1, sizeof(*uc))) == NULL)
		return NULL;
	uc->uc_if.u_ops = &upstream_cluster_ops;
	uc->uc_base = base;
	uc->uc_cbs = *cbs;
	uc->uc_arg = arg;
	uc->uc_conf = *conf;
	uc->uc_backoff_ms = conf->backoff_min;
	map_init(&uc->uc_names);
	TAILQ_INIT(&uc->uc_waiting);
	TAILQ_INIT(&uc->uc_cmds);
	if ((uc->uc_login = endpoint_dup(&conf->redis)) != NULL)
		uc->uc_conf.redis = *uc->uc_login;
	uc->uc_seeds = calloc(cc->nseeds > 0 ? cc->nseeds : 1,
	    sizeof(*uc->uc_seeds));
	for (i = 0; uc->uc_seeds != NULL && i < cc->nseeds &&
	    i < UPSTREAM_CLUSTER_SEEDS_MAX; i++) {
		if ((uc->uc_seeds[i] = endpoint_dup(&cc->seeds[i])) == NULL)
			ok = 0;
		uc->uc_nseeds++;
	}
	if ((uc->uc_stats = calloc(1, sizeof(*uc->uc_stats))) != NULL)
		uc->uc_stats->down_since_ms = upstream_now_ms();
	uc->uc_facts = upstream_facts_new();
	uc->uc_refresh_ev = evtimer_new(base, upstream_cluster_refresh_cb, uc);
	uc->uc_wait_ev = evtimer_new(base, upstream_cluster_wait_cb, uc);
	uc->uc_reap_ev = event_new(base, -1, 0, upstream_cluster_reap_cb, uc);
	if (!ok || uc->uc_nseeds == 0 || uc->uc_login == NULL ||
	    uc->uc_stats == NULL || uc->uc_facts == NULL ||
	    uc->uc_refresh_ev == NULL || uc->uc_wait_ev == NULL ||
	    uc->uc_reap_ev == NULL) {
		upstream_cluster_free(&uc->uc_if);
		return NULL;
	}
	return &uc->uc_if;
}

/* Asks the seeds for the map. */
static void
upstream_cluster_start(struct upstream *u)
{
	struct upstream_cluster	*uc = (void *)u;

	uc->uc_started = 1;
	upstream_cluster_refresh(uc);
}

/*
 * A reload: new timings or credentials, which every node takes (a node
 * whose login changed reconnects, and its names are subscribed again).
 */
static int
upstream_cluster_set_conf(struct upstream *u, const struct upstream_conf *conf)
{
	struct upstream_cluster		*uc = (void *)u;
	struct upstream_cluster_node	*n;
	struct upstream_conf		 c;
	struct endpoint			*login, *ep;
	size_t				 i;
	int				 rc = 0;

	if ((login = endpoint_dup(&conf->redis)) == NULL)
		return -1;
	endpoint_free(uc->uc_login);
	uc->uc_login = login;
	uc->uc_conf = *conf;
	uc->uc_conf.redis = *login;
	for (i = 0; i < uc->uc_nnodes; i++) {
		n = uc->uc_nodes[i];
		if (n->n_dying)
			continue;
		if ((ep = endpoint_dup_at(login, n->n_ep->host,
		    n->n_ep->port)) == NULL) {
			rc = -1;
			continue;
		}
		endpoint_free(n->n_ep);
		n->n_ep = ep;
		c = uc->uc_conf;
		c.redis = *ep;
		if (upstream_set_conf(n->n_up, &c) == -1)
			rc = -1;
	}
	return rc;
}

/* Frees everything; every future pending fails. */
static void
upstream_cluster_free(struct upstream *u)
{
	struct upstream_cluster	*uc = (void *)u;
	size_t			 i;

	upstream_cluster_ask_drop(uc);
	cmdconn_free(uc->uc_ask);
	endpoint_free(uc->uc_ask_ep);
	uc->uc_up = 0;
	upstream_cluster_fail_all(uc, "upstream closed");
	upstream_cluster_cmds_free(uc);
	for (i = 0; i < uc->uc_nnodes; i++)
		upstream_cluster_node_free(uc->uc_nodes[i]);
	free(uc->uc_nodes);
	map_clear(&uc->uc_names);
	cluster_map_free(uc->uc_map);
	for (i = 0; i < uc->uc_nseeds; i++)
		endpoint_free(uc->uc_seeds[i]);
	free(uc->uc_seeds);
	endpoint_free(uc->uc_login);
	free(uc->uc_stats);
	upstream_facts_free(uc->uc_facts);
	if (uc->uc_refresh_ev != NULL)
		event_free(uc->uc_refresh_ev);
	if (uc->uc_wait_ev != NULL)
		event_free(uc->uc_wait_ev);
	if (uc->uc_reap_ev != NULL)
		event_free(uc->uc_reap_ev);
	free(uc);
}

static int
upstream_cluster_connected(const struct upstream *u)
{
	const struct upstream_cluster	*uc = (const void *)u;

	return uc->uc_up;
}

/* The bytes waiting unread on every node. */
static size_t
upstream_cluster_pending(const struct upstream *u)
{
	const struct upstream_cluster	*uc = (const void *)u;
	size_t				 i, total = 0;

	for (i = 0; i < uc->uc_nnodes; i++)
		total += upstream_pending(uc->uc_nodes[i]->n_up);
	return total;
}

/* The master that serves slot, if it is connected. */
struct upstream_cluster_node *
upstream_cluster_owner(struct upstream_cluster *uc, unsigned slot)
{
	const struct cluster_master	*m;
	size_t				 i;

	if (uc->uc_map == NULL ||
	    (m = cluster_map_owner(uc->uc_map, slot)) == NULL)
		return NULL;
	for (i = 0; i < uc->uc_nnodes; i++)
		if (!uc->uc_nodes[i]->n_dying &&
		    uc->uc_nodes[i]->n_ep->port == m->cm_port &&
		    strcmp(uc->uc_nodes[i]->n_ep->host, m->cm_host) == 0)
			return upstream_connected(uc->uc_nodes[i]->n_up) ?
			    uc->uc_nodes[i] : NULL;
	return NULL;
}

/* The home node: kept while it is connected, else the first that is. */
struct upstream_cluster_node *
upstream_cluster_home(struct upstream_cluster *uc)
{
	size_t	i;

	if (uc->uc_home != NULL && !uc->uc_home->n_dying &&
	    upstream_connected(uc->uc_home->n_up))
		return uc->uc_home;
	uc->uc_home = NULL;
	for (i = 0; i < uc->uc_nnodes; i++)
		if (!uc->uc_nodes[i]->n_dying &&
		    upstream_connected(uc->uc_nodes[i]->n_up)) {
			uc->uc_home = uc->uc_nodes[i];
			log_info("cluster: channels and patterns are held on "
			    "%s", uc->uc_home->n_name);
			break;
		}
	return uc->uc_home;
}

static struct future *
upstream_cluster_subscribe(struct upstream *u, enum upstream_kind kind,
    const char *name, size_t len)
{
	return upstream_cluster_op((void *)u, 1, kind, name, len);
}

static struct future *
upstream_cluster_unsubscribe(struct upstream *u, enum upstream_kind kind,
    const char *name, size_t len)
{
	return upstream_cluster_op((void *)u, 0, kind, name, len);
}

/*
 * Starts (un)subscribing name: a subscription goes where the name belongs
 * now, an unsubscription where it is held (done at once if it is held
 * nowhere: a lost node holds nothing).
 */
static struct future *
upstream_cluster_op(struct upstream_cluster *uc, int sub,
    enum upstream_kind kind, const char *name, size_t len)
{
	struct upstream_cluster_name	*nm;
	struct map_entry		*e;
	struct future			*fut;
	char				 stackkey[256], *key = stackkey;

	if ((fut = future_new()) == NULL)
		return NULL;
	if (!uc->uc_up) {
		future_set_error(fut, "not connected to the redis cluster");
		return fut;
	}
	if (len + 1 > sizeof(stackkey) && (key = malloc(len + 1)) == NULL) {
		future_set_error(fut, "out of memory");
		return fut;
	}
	key[0] = (char)kind;
	memcpy(key + 1, name, len);
	e = map_find(&uc->uc_names, key, len + 1);
	if (key != stackkey)
		free(key);
	nm = e != NULL ? MAP_ITEM(e, struct upstream_cluster_name, nm_entry) :
	    NULL;
	if (nm != NULL && nm->nm_fut != NULL) {
		future_set_error(fut, "an operation on this name is in flight");
		return fut;
	}
	if (!sub && (nm == NULL || !nm->nm_held)) {
		future_set_result(fut, NULL, NULL);
		return fut;
	}
	if (nm == NULL) {
		if ((nm = calloc(1, sizeof(*nm) + len + 2)) == NULL) {
			future_set_error(fut, "out of memory");
			return fut;
		}
		nm->nm_uc = uc;
		nm->nm_kind = kind;
		nm->nm_len = len;
		nm->nm_key[0] = (char)kind;
		memcpy(nm->nm_key + 1, name, len);
		if (map_insert(&uc->uc_names, &nm->nm_entry, nm->nm_key,
		    len + 1) == -1) {
			free(nm);
			future_set_error(fut, "out of memory");
			return fut;
		}
	}
	nm->nm_fut = future_ref(fut);
	nm->nm_sub = sub;
	nm->nm_moved = 0;
	upstream_cluster_send(nm);
	return fut;
}

/*
 * Sends nm's operation to its node: for a subscription, where the name
 * belongs (it waits if no connected master serves it); for an
 * unsubscription, where it is held.
 */
static void
upstream_cluster_send(struct upstream_cluster_name *nm)
{
	struct upstream_cluster		*uc = nm->nm_uc;
	struct upstream_cluster_node	*n;
	const char			*name = nm->nm_key + 1;
	struct future			*inner;
	struct future_cb		*cb;

	upstream_cluster_unwait(nm);
	if (!nm->nm_sub)
		n = nm->nm_node;
	else if (nm->nm_kind == UPSTREAM_SHARD)
		n = upstream_cluster_owner(uc, cluster_map_slot(name,
		    nm->nm_len));
	else
		n = upstream_cluster_home(uc);
	if (n == NULL || n->n_dying || !upstream_connected(n->n_up)) {
		if (nm->nm_sub) {
			upstream_cluster_wait(nm);
			return;
		}
		/* Where it was held is gone, and holds nothing now. */
		nm->nm_held = 0;
		upstream_cluster_op_end(nm, NULL);
		return;
	}
	nm->nm_node = n;
	inner = nm->nm_sub ?
	    upstream_subscribe(n->n_up, nm->nm_kind, name, nm->nm_len) :
	    upstream_unsubscribe(n->n_up, nm->nm_kind, name, nm->nm_len);
	if ((nm->nm_inner = inner) == NULL) {
		upstream_cluster_op_end(nm, "out of memory");
		return;
	}
	/*
	 * A future already complete runs the callback at once, which may
	 * send again: then nm holds the next one, not this.
	 */
	if ((cb = future_add_callback(inner, upstream_cluster_op_done,
	    nm)) != NULL)
		nm->nm_inner_cb = cb;
	else if (future_is_pending(inner))
		upstream_cluster_op_end(nm, "out of memory");
}

/* nm waits for a master to serve it. */
static void
upstream_cluster_wait(struct upstream_cluster_name *nm)
{
	struct upstream_cluster	*uc = nm->nm_uc;
	struct timeval		 tv;

	if (nm->nm_waiting)
		return;
	nm->nm_waiting = 1;
	nm->nm_node = NULL;
	TAILQ_INSERT_TAIL(&uc->uc_waiting, nm, nm_wait);
	if (!evtimer_pending(uc->uc_wait_ev, NULL)) {
		tv.tv_sec = 0;
		tv.tv_usec = UPSTREAM_CLUSTER_WAIT_MS * 1000;
		evtimer_add(uc->uc_wait_ev, &tv);
	}
}

static void
upstream_cluster_unwait(struct upstream_cluster_name *nm)
{
	if (!nm->nm_waiting)
		return;
	nm->nm_waiting = 0;
	TAILQ_REMOVE(&nm->nm_uc->uc_waiting, nm, nm_wait);
}

/* Sends again every name that waits (a node came up, the map changed). */
static void
upstream_cluster_wake(struct upstream_cluster *uc)
{
	struct upstream_cluster_names	 all;
	struct upstream_cluster_name	*nm;

	/* Those that still cannot go are queued anew. */
	TAILQ_INIT(&all);
	TAILQ_CONCAT(&all, &uc->uc_waiting, nm_wait);
	while ((nm = TAILQ_FIRST(&all)) != NULL) {
		TAILQ_REMOVE(&all, nm, nm_wait);
		nm->nm_waiting = 0;
		upstream_cluster_send(nm);
	}
}

/* Whether a node's refusal says that the name is elsewhere, or soon. */
static int
upstream_cluster_redirect(const char *err)
{
	return strncmp(err, "MOVED ", 6) == 0 || strncmp(err, "ASK ", 4) == 0 ||
	    strncmp(err, "TRYAGAIN", 8) == 0 ||
	    strncmp(err, "CLUSTERDOWN", 11) == 0;
}

/*
 * A node answered nm's operation, or failed it: a confirmation settles it;
 * a redirection or a lost node makes it wait for the map or the node;
 * another refusal fails it.
 */
static void
upstream_cluster_op_done(struct future *fut, void *arg)
{
	struct upstream_cluster_name	*nm = arg;
	struct upstream_cluster		*uc = nm->nm_uc;
	struct upstream_cluster_node	*n = nm->nm_node;
	const char			*err = future_error(fut);
	int				 gone;

	nm->nm_inner_cb = NULL;
	gone = n == NULL || n->n_dying || !upstream_connected(n->n_up);
	if (future_state(fut) == FUTURE_DONE) {
		nm->nm_held = nm->nm_sub;
		future_unref(nm->nm_inner);
		nm->nm_inner = NULL;
		upstream_cluster_op_end(nm, NULL);
		return;
	}
	future_unref(nm->nm_inner);
	nm->nm_inner = NULL;
	if (!nm->nm_sub && (gone || upstream_cluster_redirect(err))) {
		/* The node, or the slot, is gone from under it. */
		nm->nm_held = 0;
		upstream_cluster_op_end(nm, NULL);
		return;
	}
	if (gone) {
		upstream_cluster_wait(nm);
		return;
	}
	if (upstream_cluster_redirect(err)) {
		log_debug("cluster: %s: %s", n->n_name, err);
		if (strncmp(err, "MOVED ", 6) == 0 &&
		    ++nm->nm_moved > UPSTREAM_CLUSTER_MOVED_MAX) {
			upstream_cluster_op_end(nm, err);
			return;
		}
		upstream_cluster_refresh(uc);
		/*
		 * The new owner, if the map knows it, at once: the node the
		 * map came from may not have heard of the move yet. Twice
		 * at most (two nodes may send it back and forth for a
		 * moment); then, and otherwise, it waits for the map.
		 */
		if (nm->nm_moved <= 2 &&
		    cluster_map_moved(uc->uc_map, err, n->n_ep->host)) {
			upstream_cluster_send(nm);
			return;
		}
		upstream_cluster_wait(nm);
		return;
	}
	upstream_cluster_op_end(nm, err);
}

/*
 * Completes nm's operation: done if error is NULL, else failed; frees nm
 * if Redis holds it nowhere.
 */
static void
upstream_cluster_op_end(struct upstream_cluster_name *nm, const char *error)
{
	struct future	*fut = nm->nm_fut;

	nm->nm_fut = NULL;
	upstream_cluster_unwait(nm);
	if (!nm->nm_held)
		nm->nm_node = NULL;
	upstream_cluster_name_drop(nm);
	if (fut == NULL)
		return;
	if (error != NULL)
		future_set_error(fut, "%s", error);
	else
		future_set_result(fut, NULL, NULL);
	future_unref(fut);
}

/* Frees nm if nothing is left of it: not held, nothing in flight. */
static void
upstream_cluster_name_drop(struct upstream_cluster_name *nm)
{
	if (nm->nm_held || nm->nm_fut != NULL || nm->nm_inner != NULL)
		return;
	map_remove(&nm->nm_uc->uc_names, &nm->nm_entry);
	upstream_cluster_name_free(nm);
}

/* Frees nm, removed from the map, dropping what it awaits. */
static void
upstream_cluster_name_free(struct upstream_cluster_name *nm)
{
	upstream_cluster_unwait(nm);
	if (nm->nm_inner != NULL) {
		future_remove_callback(nm->nm_inner, nm->nm_inner_cb);
		future_unref(nm->nm_inner);
	}
	if (nm->nm_fut != NULL) {
		future_set_error(nm->nm_fut, "not connected to the redis "
		    "cluster");
		future_unref(nm->nm_fut);
	}
	free(nm);
}

/*
 * Node n (every node if NULL) holds nothing any more: each name held there
 * is on_lost(), so that the owner subscribes it again; if only_home, just
 * the channels and patterns held on it.
 */
static void
upstream_cluster_lose(struct upstream_cluster *uc,
    struct upstream_cluster_node *n, int only_home)
{
	struct upstream_cluster_name	*nm, **lost;
	struct map_iter			 it;
	struct map_entry		*e;
	size_t				 i, nlost = 0;
	char				*name;

	if ((lost = calloc(map_count(&uc->uc_names) + 1,
	    sizeof(*lost))) == NULL) {
		log_warnx("cluster: out of memory: subscriptions on %s lost",
		    n != NULL ? n->n_name : "the cluster");
		return;
	}
	map_iter_init(&it, &uc->uc_names);
	while ((e = map_iter_next(&it)) != NULL) {
		nm = MAP_ITEM(e, struct upstream_cluster_name, nm_entry);
		if (!nm->nm_held || (n != NULL && nm->nm_node != n) ||
		    (only_home && nm->nm_kind == UPSTREAM_SHARD))
			continue;
		nm->nm_held = 0;
		nm->nm_node = NULL;
		/* Kept, off the map, until its name is told. */
		map_remove(&uc->uc_names, e);
		lost[nlost++] = nm;
	}
	for (i = 0; i < nlost; i++) {
		nm = lost[i];
		name = nm->nm_key + 1;
		if (nm->nm_fut == NULL && nm->nm_inner == NULL) {
			if (uc->uc_cbs.on_lost != NULL)
				uc->uc_cbs.on_lost(uc->uc_arg, nm->nm_kind,
				    name, nm->nm_len);
			free(nm);
			continue;
		}
		/* Busy: back on the map; its operation will settle it. */
		if (map_insert(&uc->uc_names, &nm->nm_entry, nm->nm_key,
		    nm->nm_len + 1) == -1) {
			upstream_cluster_name_free(nm);
			continue;
		}
		if (uc->uc_cbs.on_lost != NULL)
			uc->uc_cbs.on_lost(uc->uc_arg, nm->nm_kind,
			    nm->nm_key + 1, nm->nm_len);
	}
	free(lost);
}

/*
 * Tells the owner when the cluster comes up (a map, and a master
 * connected) or goes down (no master connected).
 */
static void
upstream_cluster_check(struct upstream_cluster *uc)
{
	size_t	i;
	int	any = 0;

	for (i = 0; uc->uc_map != NULL && i < uc->uc_nnodes; i++)
		if (!uc->uc_nodes[i]->n_dying &&
		    upstream_connected(uc->uc_nodes[i]->n_up))
			any = 1;
	if (any == uc->uc_up)
		return;
	uc->uc_up = any;
	if (any) {
		log_notice("cluster: up, %zu master%s in the map",
		    uc->uc_map->cm_nmasters,
		    uc->uc_map->cm_nmasters == 1 ? "" : "s");
		if (uc->uc_stats->down_since_ms > 0 &&
		    uc->uc_stats->connects > 0) {
			uc->uc_stats->last_outage_ms =
			    upstream_now_ms() -
			    uc->uc_stats->down_since_ms;
			log_warnx("cluster: back after %lld ms: what was "
			    "published meanwhile is lost",
			    uc->uc_stats->last_outage_ms);
		}
		uc->uc_stats->connects++;
		uc->uc_stats->down_since_ms = 0;
		uc->uc_cbs.on_state(uc->uc_arg, 1);
		return;
	}
	log_warnx("cluster: no master connected: every subscription is lost");
	uc->uc_stats->outages++;
	uc->uc_stats->down_since_ms = upstream_now_ms();
	upstream_cluster_fail_all(uc, "connection to the redis cluster lost");
	uc->uc_cbs.on_state(uc->uc_arg, 0);
}

/* Fails every operation and forgets every name: Redis holds nothing. */
static void
upstream_cluster_fail_all(struct upstream_cluster *uc, const char *why)
{
	struct upstream_cluster_name	*nm;
	struct map_iter			 it;
	struct map_entry		*e;
	struct future			*fut;

	map_iter_init(&it, &uc->uc_names);
	while ((e = map_iter_next(&it)) != NULL) {
		nm = MAP_ITEM(e, struct upstream_cluster_name, nm_entry);
		map_remove(&uc->uc_names, e);
		fut = nm->nm_fut;
		nm->nm_fut = NULL;
		upstream_cluster_name_free(nm);
		if (fut != NULL) {
			future_set_error(fut, "%s", why);
			future_unref(fut);
		}
	}
}

/*
 * A slot that master index m of map serves, for its private channel: keep
 * is kept if m still serves it, else its last one.
 */
static int
upstream_cluster_node_slot(const struct cluster_map *map, int m, int keep)
{
	int	slot;

	if (keep >= 0 && keep < CLUSTER_SLOTS && map->cm_owner[keep] == m + 1)
		return keep;
	for (slot = CLUSTER_SLOTS - 1; slot >= 0; slot--)
		if (map->cm_owner[slot] == m + 1)
			return slot;
	return 0;
}

/* Makes and starts a node for master host:port; NULL if out of memory. */
static struct upstream_cluster_node *
upstream_cluster_node_new(struct upstream_cluster *uc, const char *host,
    int port, int slot)
{
	struct upstream_cluster_node	*n, **nodes;
	struct upstream_conf		 c;

	nodes = realloc(uc->uc_nodes, (uc->uc_nnodes + 1) * sizeof(*nodes));
	if (nodes == NULL)
		return NULL;
	uc->uc_nodes = nodes;
	if ((n = calloc(1, sizeof(*n))) == NULL)
		return NULL;
	n->n_uc = uc;
	n->n_slot = slot;
	if ((n->n_ep = endpoint_dup_at(uc->uc_login, host, port)) ==
	    NULL) {
		free(n);
		return NULL;
	}
	endpoint_name(n->n_ep, n->n_name, sizeof(n->n_name));
	c = uc->uc_conf;
	c.redis = *n->n_ep;
	if ((n->n_up = upstream_single_new_node(uc->uc_base, &c, slot,
	    &upstream_cluster_node_cbs, n)) == NULL) {
		endpoint_free(n->n_ep);
		free(n);
		return NULL;
	}
	uc->uc_nodes[uc->uc_nnodes++] = n;
	log_info("cluster: master %s", n->n_name);
	upstream_start(n->n_up);
	return n;
}

static void
upstream_cluster_node_free(struct upstream_cluster_node *n)
{
	upstream_free(n->n_up);
	endpoint_free(n->n_ep);
	free(n);
}

/* A node's message: the cluster's. */
static void
upstream_cluster_on_message(void *arg, const struct upstream_msg *msg)
{
	struct upstream_cluster_node	*n = arg;

	n->n_uc->uc_cbs.on_message(n->n_uc->uc_arg, msg);
}

/*
 * A node came up: the names that wait may go now. A node went down: what
 * it held is lost (on_lost), and the map is asked again, for its slots may
 * have failed over.
 */
static void
upstream_cluster_on_state(void *arg, int connected)
{
	struct upstream_cluster_node	*n = arg;
	struct upstream_cluster		*uc = n->n_uc;

	if (n->n_dying)
		return;
	if (connected) {
		upstream_cluster_check(uc);
		upstream_cluster_wake(uc);
		return;
	}
	if (uc->uc_home == n)
		uc->uc_home = NULL;
	upstream_cluster_check(uc);
	if (uc->uc_up)
		upstream_cluster_lose(uc, n, 0);
	upstream_cluster_refresh(uc);
}

/* A node let go of a shard channel unasked: its slot moved. */
static void
upstream_cluster_on_lost(void *arg, enum upstream_kind kind, const char *name,
    size_t len)
{
	struct upstream_cluster_node	*n = arg;
	struct upstream_cluster		*uc = n->n_uc;
	struct upstream_cluster_name	*nm;
	struct map_entry		*e;
	char				 stackkey[256], *key = stackkey;

	if (len + 1 > sizeof(stackkey) && (key = malloc(len + 1)) == NULL)
		return;
	key[0] = (char)kind;
	memcpy(key + 1, name, len);
	e = map_find(&uc->uc_names, key, len + 1);
	if (key != stackkey)
		free(key);
	upstream_cluster_refresh(uc);
	if (e == NULL)
		return;
	nm = MAP_ITEM(e, struct upstream_cluster_name, nm_entry);
	if (!nm->nm_held || nm->nm_node != n)
		return;
	nm->nm_held = 0;
	nm->nm_node = NULL;
	upstream_cluster_name_drop(nm);
	if (uc->uc_cbs.on_lost != NULL)
		uc->uc_cbs.on_lost(uc->uc_arg, kind, name, len);
}

/* Learns the map again; see upstream_cluster_impl.h. */
void
upstream_cluster_refresh(struct upstream_cluster *uc)
{
	if (!uc->uc_started)
		return;
	if (uc->uc_asking) {
		log_debug("cluster: map asked for again");
		uc->uc_ask_again = 1;
		return;
	}
	evtimer_del(uc->uc_refresh_ev);
	uc->uc_asking = 1;
	uc->uc_ask_again = 0;
	uc->uc_ask_tries = 0;
	upstream_cluster_ask_next(uc);
}

/* Stops awaiting CLUSTER SLOTS. */
static void
upstream_cluster_ask_drop(struct upstream_cluster *uc)
{
	if (uc->uc_ask_fut != NULL)
		future_remove_callback(uc->uc_ask_fut, uc->uc_ask_cb);
	uc->uc_ask_cb = NULL;
	future_unref(uc->uc_ask_fut);
	uc->uc_ask_fut = NULL;
}

/*
 * Sends CLUSTER SLOTS: on the connection of the last answer while it
 * lives, else to the next candidate (the masters of the map, then the
 * seeds); once every one failed, again after a backoff.
 */
static void
upstream_cluster_ask_next(struct upstream_cluster *uc)
{
	const char	*argv[2] = { "CLUSTER", "SLOTS" };
	size_t		 nmasters = uc->uc_map != NULL ?
			    uc->uc_map->cm_nmasters : 0;
	size_t		 total = nmasters + uc->uc_nseeds, i;
	struct timeval	 tv;
	struct future	*fut, *step;
	struct future_cb *cb;
	const struct cluster_master *m;

	upstream_cluster_ask_drop(uc);
	if (uc->uc_ask != NULL && cmdconn_is_lost(uc->uc_ask)) {
		cmdconn_free(uc->uc_ask);
		uc->uc_ask = NULL;
	}
	if (uc->uc_ask == NULL) {
		if (uc->uc_ask_tries >= total) {
			log_warnx("cluster: no node answered CLUSTER SLOTS; "
			    "asking again in %d ms", uc->uc_backoff_ms);
			uc->uc_asking = 0;
			tv.tv_sec = uc->uc_backoff_ms / 1000;
			tv.tv_usec = (uc->uc_backoff_ms % 1000) * 1000;
			evtimer_add(uc->uc_refresh_ev, &tv);
			uc->uc_backoff_ms = uc->uc_backoff_ms * 2 >
			    uc->uc_conf.backoff_max ? uc->uc_conf.backoff_max :
			    uc->uc_backoff_ms * 2;
			upstream_cluster_cmds_retry(uc, 0);
			return;
		}
		i = uc->uc_ask_next++ % total;
		uc->uc_ask_tries++;
		endpoint_free(uc->uc_ask_ep);
		uc->uc_ask_ep = NULL;
		if (i < nmasters) {
			m = &uc->uc_map->cm_masters[i];
			uc->uc_ask_ep = endpoint_dup_at(uc->uc_login,
			    m->cm_host, m->cm_port);
		} else
			uc->uc_ask_ep = endpoint_dup(uc->uc_seeds[i - nmasters]);
		if (uc->uc_ask_ep != NULL)
			log_debug("cluster: asking %s for the slot map",
			    uc->uc_ask_ep->host);
		if (uc->uc_ask_ep != NULL)
			uc->uc_ask = cmdconn_new_at(uc->uc_base,
			    uc->uc_ask_ep, 0, NULL, NULL);
		if (uc->uc_ask == NULL) {
			upstream_cluster_ask_next(uc);
			return;
		}
	}
	if ((fut = cmdconn_command(uc->uc_ask, 2, argv, NULL)) == NULL ||
	    (step = future_timeout(uc->uc_base, fut,
	    uc->uc_conf.connect_timeout, "no answer in time")) == NULL) {
		future_unref(fut);
		cmdconn_free(uc->uc_ask);
		uc->uc_ask = NULL;
		upstream_cluster_ask_next(uc);
		return;
	}
	future_unref(fut);
	uc->uc_ask_fut = step;
	/* Failed at once (a lost connection): the callback runs, and asks on. */
	if ((cb = future_add_callback(step, upstream_cluster_ask_done,
	    uc)) != NULL)
		uc->uc_ask_cb = cb;
	else if (future_is_pending(step)) {
		upstream_cluster_ask_drop(uc);
		cmdconn_free(uc->uc_ask);
		uc->uc_ask = NULL;
		uc->uc_asking = 0;
	}
}

/* CLUSTER SLOTS answered (or failed): apply the map, or ask the next. */
static void
upstream_cluster_ask_done(struct future *fut, void *arg)
{
	struct upstream_cluster		*uc = arg;
	const struct cmdconn_reply	*r = future_result(fut);
	struct cluster_map		*map = NULL;
	char				 name[ENDPOINT_NAME_MAX], err[256];
	struct timeval			 tv;

	uc->uc_ask_cb = NULL;		/* running: freed once it returns */
	endpoint_name(uc->uc_ask_ep, name, sizeof(name));
	if (future_error(fut) != NULL)
		snprintf(err, sizeof(err), "%s", future_error(fut));
	else if (r->type == CMDCONN_ERROR)
		snprintf(err, sizeof(err), "%s", r->str);
	else if ((map = cluster_map_new(r, uc->uc_ask_ep->host, err,
	    sizeof(err))) != NULL && map->cm_nmasters == 0) {
		snprintf(err, sizeof(err), "it knows of no master serving a "
		    "slot");
		cluster_map_free(map);
		map = NULL;
	}
	if (map == NULL) {
		log_info("cluster: CLUSTER SLOTS on %s: %s", name, err);
		cmdconn_free(uc->uc_ask);
		uc->uc_ask = NULL;
		upstream_cluster_ask_next(uc);
		return;
	}
	uc->uc_asking = 0;
	uc->uc_backoff_ms = uc->uc_conf.backoff_min;
	upstream_cluster_apply(uc, map);
	if (uc->uc_ask_again)
		upstream_cluster_refresh(uc);
	else if (!evtimer_pending(uc->uc_refresh_ev, NULL)) {
		tv.tv_sec = UPSTREAM_CLUSTER_REFRESH_MS / 1000;
		tv.tv_usec = (UPSTREAM_CLUSTER_REFRESH_MS % 1000) * 1000;
		evtimer_add(uc->uc_refresh_ev, &tv);
	}
}

/* Whether maps a and b give every slot the same master. */
static int
upstream_cluster_map_same(const struct cluster_map *a,
    const struct cluster_map *b)
{
	const struct cluster_master	*ma, *mb;
	unsigned			 slot;

	if (a == NULL || a->cm_nmasters != b->cm_nmasters)
		return 0;
	for (slot = 0; slot < CLUSTER_SLOTS; slot++) {
		ma = cluster_map_owner(a, slot);
		mb = cluster_map_owner(b, slot);
		if ((ma == NULL) != (mb == NULL))
			return 0;
		if (ma != NULL && (ma->cm_port != mb->cm_port ||
		    strcmp(ma->cm_host, mb->cm_host) != 0))
			return 0;
	}
	return 1;
}

/*
 * Takes map (owned now): a node for each new master, the nodes of masters
 * gone are let go (what they held is lost), each node's private channel
 * kept on a slot it serves, and the names that wait sent again.
 */
static void
upstream_cluster_apply(struct upstream_cluster *uc, struct cluster_map *map)
{
	struct upstream_cluster_node	*n;
	const struct cluster_master	*m;
	size_t				 i, j;
	int				 slot, idx, changed;

	changed = !upstream_cluster_map_same(uc->uc_map, map);
	cluster_map_free(uc->uc_map);
	uc->uc_map = map;
	if (changed) {
		uc->uc_stats->switches++;
		log_notice("cluster: slot map %llu: %zu master%s, %zu of %d "
		    "slots served", uc->uc_stats->switches, map->cm_nmasters,
		    map->cm_nmasters == 1 ? "" : "s", map->cm_covered,
		    CLUSTER_SLOTS);
	}
	for (i = 0; i < uc->uc_nnodes; i++)
		uc->uc_nodes[i]->n_mark = 0;
	for (j = 0; j < map->cm_nmasters; j++) {
		m = &map->cm_masters[j];
		for (i = 0; i < uc->uc_nnodes; i++) {
			n = uc->uc_nodes[i];
			if (!n->n_dying && n->n_ep->port == m->cm_port &&
			    strcmp(n->n_ep->host, m->cm_host) == 0)
				break;
		}
		if (i < uc->uc_nnodes) {
			n->n_mark = 1;
			continue;
		}
		slot = upstream_cluster_node_slot(map, (int)j, -1);
		if ((n = upstream_cluster_node_new(uc, m->cm_host, m->cm_port,
		    slot)) == NULL)
			log_warnx("cluster: out of memory for master %s:%d",
			    m->cm_host, m->cm_port);
		else
			n->n_mark = 1;
	}
	for (i = 0; i < uc->uc_nnodes; i++) {
		n = uc->uc_nodes[i];
		if (n->n_dying)
			continue;
		if (!n->n_mark) {
			log_info("cluster: %s is no master of the map now",
			    n->n_name);
			n->n_dying = 1;
			if (uc->uc_home == n)
				uc->uc_home = NULL;
			upstream_cluster_lose(uc, n, 0);
			event_active(uc->uc_reap_ev, 0, 0);
			continue;
		}
		idx = cluster_map_find(map, n->n_ep->host, n->n_ep->port);
		slot = upstream_cluster_node_slot(map, idx, n->n_slot);
		if (slot != n->n_slot) {
			n->n_slot = slot;
			if (upstream_single_set_slot(n->n_up, slot) == -1)
				log_warnx("cluster: out of memory");
		}
	}
	upstream_cluster_check(uc);
	/*
	 * The same map again sends no waiting name: it would be answered as
	 * before (they go on the wait timer, or when a node comes up).
	 */
	if (changed)
		upstream_cluster_wake(uc);
	upstream_cluster_cmds_retry(uc, 1);
}

/* The periodic refresh, or the retry after every node failed. */
static void
upstream_cluster_refresh_cb(evutil_socket_t fd, short what, void *arg)
{
	upstream_cluster_refresh(arg);
}

/* Names wait: ask for the map again, and send those that can go. */
static void
upstream_cluster_wait_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upstream_cluster	*uc = arg;
	struct timeval		 tv;

	if (TAILQ_EMPTY(&uc->uc_waiting))
		return;
	upstream_cluster_refresh(uc);
	upstream_cluster_wake(uc);
	if (!TAILQ_EMPTY(&uc->uc_waiting) &&
	    !evtimer_pending(uc->uc_wait_ev, NULL)) {
		tv.tv_sec = 0;
		tv.tv_usec = UPSTREAM_CLUSTER_WAIT_MS * 1000;
		evtimer_add(uc->uc_wait_ev, &tv);
	}
}

/* Frees the nodes that left the map, from the loop. */
static void
upstream_cluster_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upstream_cluster	*uc = arg;
	size_t			 i, j;

	for (i = j = 0; i < uc->uc_nnodes; i++) {
		if (uc->uc_nodes[i]->n_dying)
			upstream_cluster_node_free(uc->uc_nodes[i]);
		else
			uc->uc_nodes[j++] = uc->uc_nodes[i];
	}
	uc->uc_nnodes = j;
	upstream_cluster_wake(uc);
}

/* Counters: the cluster's own outages, and the nodes' connects summed. */
static const struct upstream_stats *
upstream_cluster_stats(const struct upstream *u)
{
	const struct upstream_cluster	*uc = (const void *)u;
	const struct upstream_stats	*s;
	size_t				 i;
	unsigned long long		 fails = 0, health = 0;

	for (i = 0; i < uc->uc_nnodes; i++) {
		s = upstream_stats(uc->uc_nodes[i]->n_up);
		fails += s->connect_failures;
		health += s->health_failures;
	}
	uc->uc_stats->connect_failures = fails;
	uc->uc_stats->health_failures = health;
	return uc->uc_stats;
}

/* What the home node (or any node) learnt of Redis. */
static const struct upstream_facts *
upstream_cluster_facts(const struct upstream *u)
{
	const struct upstream_cluster	*uc = (const void *)u;
	const struct upstream		*up = NULL;
	size_t				 i;

	if (uc->uc_home != NULL)
		up = uc->uc_home->n_up;
	for (i = 0; up == NULL && i < uc->uc_nnodes; i++)
		if (upstream_connected(uc->uc_nodes[i]->n_up))
			up = uc->uc_nodes[i]->n_up;
	if (up != NULL)
		return up->u_ops->facts(up);
	return uc->uc_facts;
}

/* The home node's address, else the first seed's: for logs and INFO. */
static const struct endpoint *
upstream_cluster_endpoint(const struct upstream *u)
{
	const struct upstream_cluster	*uc = (const void *)u;

	if (uc->uc_home != NULL && !uc->uc_home->n_dying)
		return uc->uc_home->n_ep;
	return uc->uc_seeds[0];
}

