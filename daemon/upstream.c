/*
 * upstream.c: the upstream interface's calls, each dispatched to the
 * operation of the upstream's kind (struct upstream_ops in upstream.h),
 * and what every kind answers alike: how long it has been down, from its
 * stats, and the facts it learnt of Redis, from its struct upstream_facts.
 * The kinds themselves are files of their own (upstream_single.c,
 * upstream_sentinel.c).
 */
#include "config.h"

#include <time.h>

#include "upstream.h"
#include "upstream_facts.h"

/* Starts connecting. */
void
upstream_start(struct upstream *up)
{
	up->u_ops->start(up);
}

/* Takes a reloaded configuration. */
int
upstream_set_conf(struct upstream *up, const struct upstream_conf *conf)
{
	return up->u_ops->set_conf(up, conf);
}

/* Disconnects and frees; pending futures fail. */
void
upstream_free(struct upstream *up)
{
	if (up != NULL)
		up->u_ops->free(up);
}

/* Whether the upstream takes subscriptions. */
int
upstream_connected(const struct upstream *up)
{
	return up->u_ops->connected(up);
}

/* The bytes of messages waiting unread. */
size_t
upstream_pending(const struct upstream *up)
{
	return up->u_ops->pending != NULL ? up->u_ops->pending(up) : 0;
}

/* Subscribes pubsubd to a name. */
struct future *
upstream_subscribe(struct upstream *up, enum upstream_kind kind,
    const char *name, size_t len)
{
	return up->u_ops->subscribe(up, kind, name, len);
}

/* Unsubscribes pubsubd from a name. */
struct future *
upstream_unsubscribe(struct upstream *up, enum upstream_kind kind,
    const char *name, size_t len)
{
	return up->u_ops->unsubscribe(up, kind, name, len);
}

/* Sends an ordinary command. */
struct future *
upstream_command(struct upstream *up, int argc, const char *const *argv,
    const size_t *argvlen)
{
	return up->u_ops->command(up, argc, argv, argvlen);
}

/* A barrier for the messages of a kind. */
struct future *
upstream_barrier(struct upstream *up, enum upstream_kind kind)
{
	return up->u_ops->barrier(up, kind);
}

/* The upstream's outage counters. */
const struct upstream_stats *
upstream_stats(const struct upstream *up)
{
	return up->u_ops->stats(up);
}

/* Where its connections go now; NULL while unknown (or never said). */
const struct endpoint *
upstream_endpoint(const struct upstream *up)
{
	return up->u_ops->endpoint != NULL ? up->u_ops->endpoint(up) : NULL;
}

/* The kind's name; a scripted test upstream may have none. */
const char *
upstream_mode(const struct upstream *up)
{
	return up->u_ops->mode != NULL ? up->u_ops->mode : "scripted";
}

/* How long the upstream has been down, from its stats' monotonic clock. */
long long
upstream_down_ms(const struct upstream *up)
{
	const struct upstream_stats	*st = upstream_stats(up);

	if (st->down_since_ms == 0)
		return 0;
	return upstream_now_ms() - st->down_since_ms;
}

/* The clock of struct upstream_stats: monotonic milliseconds. */
long long
upstream_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Redis' version, as INFO said. */
const char *
upstream_redis_version(const struct upstream *up)
{
	return upstream_facts_version(up->u_ops->facts(up));
}

/* Redis' number of databases. */
int
upstream_databases(const struct upstream *up)
{
	return upstream_facts_databases(up->u_ops->facts(up));
}

/* The arity of a command or subcommand Redis knows; -1 if it does not. */
int
upstream_command_arity(const struct upstream *up, const char *name,
    size_t len, int *arity, int *container)
{
	return upstream_facts_command_arity(up->u_ops->facts(up), name, len,
	    arity, container);
}

/* Whether Redis' command table is known yet. */
int
upstream_commands_known(const struct upstream *up)
{
	return upstream_facts_commands_known(up->u_ops->facts(up));
}
