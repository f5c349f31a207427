/*
 * upstream_facts.h: what pubsubd learns of a Redis when it connects.
 *
 * Its version (INFO server), its number of databases (CONFIG GET
 * databases) and its command table (COMMAND: each command and subcommand,
 * its arity and whether it has subcommands), for the clients' checks and
 * INFO. An upstream owns one, asks again after each connect, and answers
 * the upstream_redis_version() and upstream_command_arity() questions
 * from it. Until the answers come, what was known before stays: "unknown"
 * and 16 databases at first, and no command table.
 */
#ifndef PUBSUBD_UPSTREAM_FACTS_H
#define PUBSUBD_UPSTREAM_FACTS_H

#include <stddef.h>

struct cmdconn;
struct upstream_facts;

/* Returns new facts (nothing learnt yet), owned by the caller, or NULL. */
struct upstream_facts *upstream_facts_new(void);

/* Frees f (NULL is fine), no longer waiting for answers. */
void		 upstream_facts_free(struct upstream_facts *f);

/*
 * Asks Redis on cc (borrowed for the call; NULL: nothing is asked) for its
 * facts again, forgetting any question still unanswered. The answers
 * replace what f knows as they come; a failed question changes nothing.
 */
void		 upstream_facts_learn(struct upstream_facts *f,
		    struct cmdconn *cc);

/* Stops waiting for the answers not yet come (the connection is gone). */
void		 upstream_facts_forget(struct upstream_facts *f);

/* Redis' version as INFO said ("unknown" before); valid while f lives. */
const char	*upstream_facts_version(const struct upstream_facts *f);

/* Redis' number of databases (16 before it answers). */
int		 upstream_facts_databases(const struct upstream_facts *f);

/*
 * The arity of a command or a subcommand ("client|getname"), in any case,
 * and whether it has subcommands. Returns 0, or -1 if Redis does not know
 * name or nothing is known yet (upstream_facts_commands_known() says which).
 */
int		 upstream_facts_command_arity(const struct upstream_facts *f,
		    const char *name, size_t len, int *arity, int *container);

/* Whether Redis' command table is known. */
int		 upstream_facts_commands_known(const struct upstream_facts *f);

#endif /* PUBSUBD_UPSTREAM_FACTS_H */
