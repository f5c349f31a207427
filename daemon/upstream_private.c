/*
 * upstream_private.c: pubsubd's private channel on one Redis, and the
 * barriers that travel through it.
 *
 * A barrier is a token, counted per connection, published to the private
 * channel; the barriers of each connection wait in a queue in token order
 * and are done when their token (or a later one) comes back. The private
 * channel owns the queued barriers' references on their futures; the
 * callers own theirs.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "cluster_map.h"
#include "cmdconn.h"
#include "future.h"
#include "upstream.h"
#include "upstream_private.h"

/*
 * A barrier: done when the token published to pubsubd's private channel
 * comes back, so that every message Redis sent before it has arrived.
 */
struct upstream_mark {
	TAILQ_ENTRY(upstream_mark)	 m_entry;
	unsigned long long		 m_token;
	struct future			*m_fut;		/* owned ref */
};
TAILQ_HEAD(upstream_marks, upstream_mark);

struct upstream_private {
	char			 p_name[48];
	size_t			 p_len;
	unsigned long long	 p_token[2];	/* the last sent, per link */
	struct upstream_marks	 p_marks[2];	/* barriers, in order */
};

static void	upstream_private_done(struct upstream_private *, int,
		    unsigned long long);
static void	upstream_private_sent(struct future *, void *);

/*
 * Returns a private channel with a random name; in a cluster, one whose
 * hash tag puts it in slot (found by counting: some tag below a few
 * hundred thousand hashes to each slot).
 */
struct upstream_private *
upstream_private_new(int slot)
{
	struct upstream_private	*p;
	char			 tag[16];
	unsigned		 n;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	tag[0] = '\0';
	for (n = 0; slot >= 0 && n < 4000000; n++) {
		snprintf(tag, sizeof(tag), "{%u}", n);
		if (cluster_map_slot(tag, strlen(tag)) == (unsigned)slot)
			break;
	}
	snprintf(p->p_name, sizeof(p->p_name),
	    UPSTREAM_PRIVATE_PREFIX "%s%08lx%08lx", tag,
	    (unsigned long)random(), (unsigned long)random());
	p->p_len = strlen(p->p_name);
	TAILQ_INIT(&p->p_marks[0]);
	TAILQ_INIT(&p->p_marks[1]);
	return p;
}

/* Completes the barriers still waiting and frees the channel. */
void
upstream_private_free(struct upstream_private *p)
{
	if (p == NULL)
		return;
	upstream_private_release(p);
	free(p);
}

/* The channel's name. */
const char *
upstream_private_name(const struct upstream_private *p)
{
	return p->p_name;
}

/* Completes every barrier of both connections. */
void
upstream_private_release(struct upstream_private *p)
{
	upstream_private_done(p, 0, ~0ULL);
	upstream_private_done(p, 1, ~0ULL);
}

/*
 * If a message is on the private channel, consumes it: a barrier token on
 * connection k, or (k -1) a user pattern's match, only dropped. Returns
 * whether it was one.
 */
int
upstream_private_message(struct upstream_private *p, int k,
    const char *channel, size_t len, const char *payload)
{
	if (len != p->p_len || memcmp(channel, p->p_name, len) != 0)
		return 0;
	if (k >= 0 && payload != NULL)
		upstream_private_done(p, k, strtoull(payload, NULL, 10));
	return 1;
}

/* Completes the barriers of connection k up to token (in order). */
static void
upstream_private_done(struct upstream_private *p, int k,
    unsigned long long token)
{
	struct upstream_mark	*m;

	while ((m = TAILQ_FIRST(&p->p_marks[k])) != NULL &&
	    m->m_token <= token) {
		TAILQ_REMOVE(&p->p_marks[k], m, m_entry);
		future_set_result(m->m_fut, NULL, NULL);
		future_unref(m->m_fut);
		free(m);
	}
}

/*
 * The token's PUBLISH was answered. If it failed, nothing will come back:
 * release the barrier (arg: a reference on its future, dropped here).
 */
static void
upstream_private_sent(struct future *sent, void *arg)
{
	struct future	*barrier = arg;

	if (future_state(sent) != FUTURE_DONE && future_is_pending(barrier))
		future_set_result(barrier, NULL, NULL);
	future_unref(barrier);
}

/* A barrier on connection k; see upstream_private.h. */
struct future *
upstream_private_barrier(struct upstream_private *p, int k,
    struct cmdconn *cc)
{
	struct upstream_mark	*m;
	struct future		*fut, *sent;
	const char		*argv[3];
	size_t			 argvlen[3];
	char			 token[24];

	if ((fut = future_new()) == NULL)
		return NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		future_set_result(fut, NULL, NULL);
		return fut;
	}
	m->m_token = ++p->p_token[k];
	m->m_fut = future_ref(fut);
	TAILQ_INSERT_TAIL(&p->p_marks[k], m, m_entry);
	snprintf(token, sizeof(token), "%llu", m->m_token);
	argv[0] = k ? "SPUBLISH" : "PUBLISH";
	argvlen[0] = strlen(argv[0]);
	argv[1] = p->p_name;
	argvlen[1] = p->p_len;
	argv[2] = token;
	argvlen[2] = strlen(token);
	if (cc == NULL ||
	    (sent = cmdconn_command(cc, 3, argv, argvlen)) == NULL) {
		future_set_result(fut, NULL, NULL);
		return fut;
	}
	future_add_callback(sent, upstream_private_sent, future_ref(fut));
	future_unref(sent);
	return fut;
}
