/*
 * upstream_cluster_cmd.c: pubsubd's own commands and barriers in a Redis
 * Cluster (the command and barrier operations of upstream.h).
 *
 * SPUBLISH goes to the master of its channel's slot; PUBSUB SHARDNUMSUB to
 * the masters of its channels' slots, one part per channel when they are
 * several, the replies joined in the order asked; PUBSUB SHARDCHANNELS to
 * every master, the lists joined. Everything else (PUBLISH, which Redis
 * Cluster broadcasts, PUBSUB NUMSUB and CHANNELS, COMMAND) goes to the
 * home node. A MOVED answer naming a master of the map sends the command
 * there at once; another redirection, or a master not connected, sends it
 * again once a new map is learnt; a few times at most.
 *
 * A joined reply borrows its elements from the parts' replies, whose
 * futures it holds until it is freed.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cluster_map.h"
#include "cmdconn.h"
#include "future.h"
#include "log.h"
#include "upstream.h"
#include "upstream_cluster_impl.h"

#define UPSTREAM_CLUSTER_CMD_TRIES	5

enum upstream_cluster_how {
	UPSTREAM_CLUSTER_ONE = 0,	/* one node's reply, as it is */
	UPSTREAM_CLUSTER_NUMSUB,	/* [name, count] of each part, joined */
	UPSTREAM_CLUSTER_CHANNELS	/* every part's list, joined */
};

/*
 * A command in flight. Owned by its cluster's uc_cmds until it completes
 * the caller's future.
 */
struct upstream_cluster_cmd {
	TAILQ_ENTRY(upstream_cluster_cmd) c_link;	/* in uc_cmds */
	struct upstream_cluster	 *c_uc;		/* borrowed */
	struct future		 *c_fut;	/* owned ref: the caller's */
	enum upstream_cluster_how c_how;
	int			  c_tries;	/* attempts made */
	int			  c_waiting;	/* for a new map */
	size_t			  c_nparts;
	size_t			  c_left;	/* parts unanswered */
	struct future		**c_part;	/* owned: c_nparts */
	struct future_cb	**c_part_cb;	/* on each, until it runs */
	int			  c_argc;
	char			**c_argv;	/* owned copies */
	size_t			 *c_argvlen;
};

/* A joined reply: r first, the parts whose elements it borrows after. */
struct upstream_cluster_joined {
	struct cmdconn_reply	 j_r;
	struct future		**j_held;	/* owned refs */
	size_t			 j_nheld;
};

static int	upstream_cluster_cmd_is(const struct upstream_cluster_cmd *,
		    int, const char *);
static void	upstream_cluster_cmd_try(struct upstream_cluster_cmd *);
static int	upstream_cluster_cmd_send(struct upstream_cluster_cmd *,
		    struct upstream_cluster_node *, int, const char *const *,
		    const size_t *);
static void	upstream_cluster_cmd_part_done(struct future *, void *);
static void	upstream_cluster_cmd_parts_drop(struct upstream_cluster_cmd *);
static void	upstream_cluster_cmd_again(struct upstream_cluster_cmd *,
		    const char *);
static void	upstream_cluster_cmd_finish(struct upstream_cluster_cmd *);
static void	upstream_cluster_cmd_end(struct upstream_cluster_cmd *,
		    const char *);
static void	upstream_cluster_joined_free(void *);
static void	upstream_cluster_barrier_done(struct future *, void *);

/* Sends a command where it belongs; see upstream.h. */
struct future *
upstream_cluster_command(struct upstream *u, int argc, const char *const *argv,
    const size_t *argvlen)
{
	struct upstream_cluster		*uc = (void *)u;
	struct upstream_cluster_cmd	*c;
	struct future			*fut;
	size_t				 len;
	int				 i;

	if ((fut = future_new()) == NULL)
		return NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->c_argv = calloc((size_t)argc, sizeof(*c->c_argv))) == NULL ||
	    (c->c_argvlen = calloc((size_t)argc,
	    sizeof(*c->c_argvlen))) == NULL) {
		if (c != NULL)
			free(c->c_argv);
		free(c);
		future_set_error(fut, "out of memory");
		return fut;
	}
	c->c_uc = uc;
	c->c_fut = future_ref(fut);
	for (i = 0; i < argc; i++) {
		len = argvlen != NULL ? argvlen[i] : strlen(argv[i]);
		if ((c->c_argv[i] = malloc(len + 1)) == NULL)
			break;
		memcpy(c->c_argv[i], argv[i], len);
		c->c_argv[i][len] = '\0';
		c->c_argvlen[i] = len;
		c->c_argc++;
	}
	TAILQ_INSERT_TAIL(&uc->uc_cmds, c, c_link);
	if (c->c_argc < argc) {
		upstream_cluster_cmd_end(c, "out of memory");
		return fut;
	}
	if (upstream_cluster_cmd_is(c, 0, "pubsub") &&
	    upstream_cluster_cmd_is(c, 1, "shardnumsub") && argc > 3)
		c->c_how = UPSTREAM_CLUSTER_NUMSUB;
	else if (upstream_cluster_cmd_is(c, 0, "pubsub") &&
	    upstream_cluster_cmd_is(c, 1, "shardchannels"))
		c->c_how = UPSTREAM_CLUSTER_CHANNELS;
	upstream_cluster_cmd_try(c);
	return fut;
}

/* Whether argument i of c is word, in any case. */
static int
upstream_cluster_cmd_is(const struct upstream_cluster_cmd *c, int i,
    const char *word)
{
	return i < c->c_argc && c->c_argvlen[i] == strlen(word) &&
	    strcasecmp(c->c_argv[i], word) == 0;
}

/* One attempt: every part sent to its node. */
static void
upstream_cluster_cmd_try(struct upstream_cluster_cmd *c)
{
	struct upstream_cluster		*uc = c->c_uc;
	struct upstream_cluster_node	*n;
	const char			*argv[3];
	size_t				 argvlen[3], i, nparts;
	int				 k;

	c->c_tries++;
	c->c_waiting = 0;
	if (!uc->uc_up) {
		upstream_cluster_cmd_end(c, "not connected to the redis "
		    "cluster");
		return;
	}
	if (c->c_how == UPSTREAM_CLUSTER_NUMSUB)
		nparts = (size_t)c->c_argc - 2;
	else if (c->c_how == UPSTREAM_CLUSTER_CHANNELS)
		nparts = uc->uc_nnodes;
	else
		nparts = 1;
	if ((c->c_part = calloc(nparts, sizeof(*c->c_part))) == NULL ||
	    (c->c_part_cb = calloc(nparts, sizeof(*c->c_part_cb))) == NULL) {
		upstream_cluster_cmd_end(c, "out of memory");
		return;
	}
	c->c_left = 1;		/* held while sending: none finishes it */
	for (i = 0; i < nparts; i++) {
		if (c->c_how == UPSTREAM_CLUSTER_NUMSUB) {
			argv[0] = c->c_argv[0];
			argv[1] = c->c_argv[1];
			argv[2] = c->c_argv[i + 2];
			for (k = 0; k < 3; k++)
				argvlen[k] = strlen(argv[k]);
			argvlen[2] = c->c_argvlen[i + 2];
			n = upstream_cluster_owner(uc, cluster_map_slot(argv[2],
			    argvlen[2]));
			if (n == NULL) {
				upstream_cluster_cmd_again(c, "no connected "
				    "master serves the channel's slot");
				return;
			}
			if (upstream_cluster_cmd_send(c, n, 3, argv,
			    argvlen) == -1)
				return;
			continue;
		}
		if (c->c_how == UPSTREAM_CLUSTER_CHANNELS) {
			n = uc->uc_nodes[i];
			if (n->n_dying || !upstream_connected(n->n_up))
				continue;
		} else if (upstream_cluster_cmd_is(c, 0, "spublish") ||
		    (upstream_cluster_cmd_is(c, 0, "pubsub") &&
		    upstream_cluster_cmd_is(c, 1, "shardnumsub") &&
		    c->c_argc == 3)) {
			k = upstream_cluster_cmd_is(c, 0, "spublish") ? 1 : 2;
			n = upstream_cluster_owner(uc, cluster_map_slot(
			    c->c_argv[k], c->c_argvlen[k]));
		} else
			n = upstream_cluster_home(uc);
		if (n == NULL) {
			upstream_cluster_cmd_again(c, "no connected master "
			    "serves the channel's slot");
			return;
		}
		if (upstream_cluster_cmd_send(c, n, c->c_argc,
		    (const char *const *)c->c_argv, c->c_argvlen) == -1)
			return;
	}
	if (--c->c_left == 0)
		upstream_cluster_cmd_finish(c);
}

/* Sends one part to n; -1 if c ended (out of memory). */
static int
upstream_cluster_cmd_send(struct upstream_cluster_cmd *c,
    struct upstream_cluster_node *n, int argc, const char *const *argv,
    const size_t *argvlen)
{
	size_t		 i = c->c_nparts;
	struct future	*f;

	if ((f = upstream_command(n->n_up, argc, argv, argvlen)) == NULL) {
		upstream_cluster_cmd_end(c, "out of memory");
		return -1;
	}
	c->c_part[i] = f;
	c->c_nparts++;
	c->c_left++;
	if ((c->c_part_cb[i] = future_add_callback(f,
	    upstream_cluster_cmd_part_done, c)) == NULL &&
	    future_is_pending(f)) {
		upstream_cluster_cmd_end(c, "out of memory");
		return -1;
	}
	return 0;
}

/* A part was answered; the last one finishes the attempt. */
static void
upstream_cluster_cmd_part_done(struct future *fut, void *arg)
{
	struct upstream_cluster_cmd	*c = arg;
	size_t				 i;

	for (i = 0; i < c->c_nparts; i++)
		if (c->c_part[i] == fut)
			c->c_part_cb[i] = NULL;	/* running */
	if (--c->c_left == 0)
		upstream_cluster_cmd_finish(c);
}

/* Lets go of the attempt's parts. */
static void
upstream_cluster_cmd_parts_drop(struct upstream_cluster_cmd *c)
{
	size_t	i;

	for (i = 0; i < c->c_nparts; i++) {
		future_remove_callback(c->c_part[i], c->c_part_cb[i]);
		future_unref(c->c_part[i]);
	}
	free(c->c_part);
	free(c->c_part_cb);
	c->c_part = NULL;
	c->c_part_cb = NULL;
	c->c_nparts = c->c_left = 0;
}

/*
 * The attempt cannot be answered here (why): c waits for a new map and is
 * tried again, unless it was tried enough.
 */
static void
upstream_cluster_cmd_again(struct upstream_cluster_cmd *c, const char *why)
{
	upstream_cluster_cmd_parts_drop(c);
	if (c->c_tries >= UPSTREAM_CLUSTER_CMD_TRIES) {
		upstream_cluster_cmd_end(c, why);
		return;
	}
	log_debug("cluster: a command waits for the slot map: %s", why);
	c->c_waiting = 1;
	upstream_cluster_refresh(c->c_uc);
}

/*
 * Every part answered: a redirection or a lost node means again; else the
 * caller's future gets the reply, one part's or the parts' joined.
 */
static void
upstream_cluster_cmd_finish(struct upstream_cluster_cmd *c)
{
	struct upstream_cluster_joined	*j;
	const struct cmdconn_reply	*r, *e;
	size_t				 i, k, m, n = 0;

	for (i = 0; i < c->c_nparts; i++) {
		r = future_result(c->c_part[i]);
		if (future_state(c->c_part[i]) != FUTURE_DONE) {
			upstream_cluster_cmd_again(c,
			    future_error(c->c_part[i]));
			return;
		}
		if (r->type == CMDCONN_ERROR && (strncmp(r->str, "MOVED ",
		    6) == 0 || strncmp(r->str, "ASK ", 4) == 0 ||
		    strncmp(r->str, "TRYAGAIN", 8) == 0)) {
			/*
			 * MOVED to a master the map knows: sent there at
			 * once (the node the map came from may not know it
			 * yet), while the map is learnt again.
			 */
			if (c->c_tries < UPSTREAM_CLUSTER_CMD_TRIES &&
			    cluster_map_moved(c->c_uc->uc_map, r->str, "")) {
				log_debug("cluster: a command follows %s",
				    r->str);
				upstream_cluster_refresh(c->c_uc);
				upstream_cluster_cmd_parts_drop(c);
				upstream_cluster_cmd_try(c);
				return;
			}
			upstream_cluster_cmd_again(c, r->str);
			return;
		}
		if (r->type == CMDCONN_ERROR || (r->type != CMDCONN_ARRAY &&
		    c->c_how != UPSTREAM_CLUSTER_ONE)) {
			/* Redis' refusal, as it is. */
			future_chain(c->c_fut, c->c_part[i]);
			upstream_cluster_cmd_end(c, NULL);
			return;
		}
		n += r->type == CMDCONN_ARRAY ? r->elements : 0;
	}
	if (c->c_how == UPSTREAM_CLUSTER_ONE && c->c_nparts == 1) {
		future_chain(c->c_fut, c->c_part[0]);
		upstream_cluster_cmd_end(c, NULL);
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->j_r.element = calloc(n + 1, sizeof(*j->j_r.element))) ==
	    NULL || (j->j_held = calloc(c->c_nparts + 1,
	    sizeof(*j->j_held))) == NULL) {
		if (j != NULL)
			free(j->j_r.element);
		free(j);
		upstream_cluster_cmd_end(c, "out of memory");
		return;
	}
	j->j_r.type = CMDCONN_ARRAY;
	for (i = 0; i < c->c_nparts; i++) {
		r = future_result(c->c_part[i]);
		for (k = 0; k < r->elements; k++) {
			e = r->element[k];
			/* A slot in migration may list a channel twice. */
			for (m = 0; c->c_how == UPSTREAM_CLUSTER_CHANNELS &&
			    m < j->j_r.elements; m++)
				if (j->j_r.element[m]->len == e->len &&
				    memcmp(j->j_r.element[m]->str, e->str,
				    e->len) == 0)
					break;
			if (c->c_how != UPSTREAM_CLUSTER_CHANNELS ||
			    m == j->j_r.elements)
				j->j_r.element[j->j_r.elements++] =
				    (struct cmdconn_reply *)e;
		}
		j->j_held[j->j_nheld++] = future_ref(c->c_part[i]);
	}
	future_set_result(c->c_fut, j, upstream_cluster_joined_free);
	upstream_cluster_cmd_end(c, NULL);
}

/*
 * Ends c: fails the caller's future with error if that is not NULL (else
 * it is complete already) and frees c.
 */
static void
upstream_cluster_cmd_end(struct upstream_cluster_cmd *c, const char *error)
{
	int	i;

	TAILQ_REMOVE(&c->c_uc->uc_cmds, c, c_link);
	upstream_cluster_cmd_parts_drop(c);
	if (error != NULL)
		future_set_error(c->c_fut, "%s", error);
	future_unref(c->c_fut);
	for (i = 0; i < c->c_argc; i++)
		free(c->c_argv[i]);
	free(c->c_argv);
	free(c->c_argvlen);
	free(c);
}

/* Frees a joined reply and lets go of the parts it borrowed from. */
static void
upstream_cluster_joined_free(void *arg)
{
	struct upstream_cluster_joined	*j = arg;
	size_t				 i;

	for (i = 0; i < j->j_nheld; i++)
		future_unref(j->j_held[i]);
	free(j->j_held);
	free(j->j_r.element);
	free(j);
}

/* A new map (map_ok), or none to be had: the waiting commands go, or fail. */
void
upstream_cluster_cmds_retry(struct upstream_cluster *uc, int map_ok)
{
	struct upstream_cluster_cmd	*c, *next;

	for (c = TAILQ_FIRST(&uc->uc_cmds); c != NULL; c = next) {
		next = TAILQ_NEXT(c, c_link);
		if (!c->c_waiting)
			continue;
		if (map_ok)
			upstream_cluster_cmd_try(c);
		else
			upstream_cluster_cmd_end(c, "no node of the redis "
			    "cluster answers");
	}
}

/* Fails every command still in flight. */
void
upstream_cluster_cmds_free(struct upstream_cluster *uc)
{
	struct upstream_cluster_cmd	*c;

	while ((c = TAILQ_FIRST(&uc->uc_cmds)) != NULL)
		upstream_cluster_cmd_end(c, "upstream closed");
}

/* Several nodes' barriers, done when all are. */
struct upstream_cluster_barrier {
	struct future	*b_fut;		/* owned ref: the caller's */
	size_t		 b_left;
};

/*
 * A barrier: on the home node for channels and patterns; on every master
 * for shard channels, whose messages any of them may be sending.
 */
struct future *
upstream_cluster_barrier(struct upstream *u, enum upstream_kind kind)
{
	struct upstream_cluster		*uc = (void *)u;
	struct upstream_cluster_barrier	*b;
	struct upstream_cluster_node	*n;
	struct future			*fut, *f;
	size_t				 i;

	if (kind != UPSTREAM_SHARD && (n = upstream_cluster_home(uc)) != NULL)
		return upstream_barrier(n->n_up, kind);
	if ((fut = future_new()) == NULL)
		return NULL;
	if (kind != UPSTREAM_SHARD || (b = calloc(1, sizeof(*b))) == NULL) {
		future_set_result(fut, NULL, NULL);
		return fut;
	}
	b->b_fut = future_ref(fut);
	b->b_left = 1;
	for (i = 0; i < uc->uc_nnodes; i++) {
		n = uc->uc_nodes[i];
		if (n->n_dying || !upstream_connected(n->n_up) ||
		    (f = upstream_barrier(n->n_up, kind)) == NULL)
			continue;
		b->b_left++;
		if (future_add_callback(f, upstream_cluster_barrier_done,
		    b) == NULL && future_is_pending(f))
			b->b_left--;	/* out of memory: not waited for */
		future_unref(f);	/* the node keeps its own */
	}
	upstream_cluster_barrier_done(NULL, b);
	return fut;
}

/* One node's barrier is done (or the sending of them is). */
static void
upstream_cluster_barrier_done(struct future *fut, void *arg)
{
	struct upstream_cluster_barrier	*b = arg;

	if (--b->b_left > 0)
		return;
	future_set_result(b->b_fut, NULL, NULL);
	future_unref(b->b_fut);
	free(b);
}
