/*
 * upstream_facts.c: what pubsubd learns of a Redis when it connects: its
 * version, its number of databases and its command table.
 *
 * Three questions go out on a command connection (INFO server, CONFIG GET
 * databases, COMMAND); each answer that comes back replaces what was known.
 * The command table is a map from each lower-case command name, and each
 * subcommand's "container|sub" name (Redis 7 lists them at element 9 of a
 * command's entry), to its arity. The facts own their questions' futures
 * and the table; the command connection stays the asker's.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdconn.h"
#include "future.h"
#include "log.h"
#include "map.h"
#include "upstream_facts.h"

#define UPSTREAM_FACTS	3	/* INFO, CONFIG GET databases, COMMAND */

/* A command Redis knows, and its arity; the key is the lower-case name. */
struct upstream_cmd {
	struct map_entry	 uc_entry;
	int			 uc_arity;
	int			 uc_container;	/* has subcommands */
	size_t			 uc_len;
	char			 uc_name[];
};

struct upstream_facts {
	struct future		*uf_asked[UPSTREAM_FACTS];	/* owned */
	char			 uf_version[32];
	int			 uf_databases;
	struct map		 uf_cmds;	/* of struct upstream_cmd */
};

static void	upstream_facts_learnt(struct future *, void *);
static void	upstream_facts_clear(struct map *);
static int	upstream_facts_add(struct map *, const struct cmdconn_reply *);

/* Returns facts that know nothing yet. */
struct upstream_facts *
upstream_facts_new(void)
{
	struct upstream_facts	*f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	snprintf(f->uf_version, sizeof(f->uf_version), "unknown");
	f->uf_databases = 16;
	map_init(&f->uf_cmds);
	return f;
}

/* Frees the facts and stops waiting for answers. */
void
upstream_facts_free(struct upstream_facts *f)
{
	if (f == NULL)
		return;
	upstream_facts_forget(f);
	upstream_facts_clear(&f->uf_cmds);
	free(f);
}

/* Asks Redis what clients may ask of pubsubd: version, databases, commands. */
void
upstream_facts_learn(struct upstream_facts *f, struct cmdconn *cc)
{
	static const char *const info[] = { "INFO", "server" };
	static const char *const dbs[] = { "CONFIG", "GET", "databases" };
	static const char *const cmds[] = { "COMMAND" };
	static const size_t infolen[] = { 4, 6 }, dbslen[] = { 6, 3, 9 };
	static const size_t cmdslen[] = { 7 };
	int	i;

	upstream_facts_forget(f);
	if (cc == NULL)
		return;
	f->uf_asked[0] = cmdconn_command(cc, 2, info, infolen);
	f->uf_asked[1] = cmdconn_command(cc, 3, dbs, dbslen);
	f->uf_asked[2] = cmdconn_command(cc, 1, cmds, cmdslen);
	for (i = 0; i < UPSTREAM_FACTS; i++)
		if (f->uf_asked[i] != NULL)
			future_add_callback(f->uf_asked[i],
			    upstream_facts_learnt, f);
}

/* Stops waiting for facts not yet learnt. */
void
upstream_facts_forget(struct upstream_facts *f)
{
	int	i;

	for (i = 0; i < UPSTREAM_FACTS; i++) {
		if (f->uf_asked[i] == NULL)
			continue;
		future_cancel(f->uf_asked[i]);
		future_unref(f->uf_asked[i]);
		f->uf_asked[i] = NULL;
	}
}

/* Frees a command table. */
static void
upstream_facts_clear(struct map *m)
{
	struct map_iter		 it;
	struct map_entry	*e;

	map_iter_init(&it, m);
	while ((e = map_iter_next(&it)) != NULL) {
		map_remove(m, e);
		free(MAP_ITEM(e, struct upstream_cmd, uc_entry));
	}
	map_clear(m);
}

/*
 * Adds one entry of COMMAND's reply ([name, arity, ..., subcommands]) to a
 * command table, under its lower-case name. Returns 0, or -1 if it is not
 * such an entry or memory ran out.
 */
static int
upstream_facts_add(struct map *cmds, const struct cmdconn_reply *e)
{
	const struct cmdconn_reply	*name;
	struct upstream_cmd		*uc;
	size_t				 j;

	if (e->type != CMDCONN_ARRAY || e->elements < 2 ||
	    e->element[0]->type != CMDCONN_STRING ||
	    e->element[1]->type != CMDCONN_INTEGER)
		return -1;
	name = e->element[0];
	if ((uc = malloc(sizeof(*uc) + name->len + 1)) == NULL)
		return -1;
	for (j = 0; j < name->len; j++)
		uc->uc_name[j] = (char)tolower((unsigned char)name->str[j]);
	uc->uc_name[name->len] = '\0';
	uc->uc_len = name->len;
	uc->uc_arity = (int)e->element[1]->integer;
	uc->uc_container = e->elements >= 10 &&
	    e->element[9]->type == CMDCONN_ARRAY && e->element[9]->elements > 0;
	if (map_find(cmds, uc->uc_name, uc->uc_len) != NULL ||
	    map_insert(cmds, &uc->uc_entry, uc->uc_name, uc->uc_len) == -1) {
		free(uc);
		return -1;
	}
	return 0;
}

/* A fact came back: keep what it says. */
static void
upstream_facts_learnt(struct future *fut, void *arg)
{
	struct upstream_facts		*f = arg;
	const struct cmdconn_reply	*r, *e;
	struct map			 cmds;
	const char			*p;
	size_t				 i, j;
	int				 n;

	if (future_state(fut) != FUTURE_DONE)
		return;		/* lost or forgotten: asked again on connect */
	r = future_result(fut);
	if (fut == f->uf_asked[0] && r->type == CMDCONN_STRING &&
	    (p = strstr(r->str, "redis_version:")) != NULL) {
		p += strlen("redis_version:");
		n = (int)strcspn(p, "\r\n");
		snprintf(f->uf_version, sizeof(f->uf_version), "%.*s", n, p);
	} else if (fut == f->uf_asked[1] && r->type == CMDCONN_ARRAY &&
	    r->elements == 2 && r->element[1]->type == CMDCONN_STRING &&
	    (n = atoi(r->element[1]->str)) > 0)
		f->uf_databases = n;
	else if (fut == f->uf_asked[2] && r->type == CMDCONN_ARRAY) {
		map_init(&cmds);
		for (i = 0; i < r->elements; i++) {
			e = r->element[i];
			if (upstream_facts_add(&cmds, e) == -1)
				continue;
			/* Redis 7: element 9 lists the subcommands. */
			if (e->elements < 10 ||
			    e->element[9]->type != CMDCONN_ARRAY)
				continue;
			for (j = 0; j < e->element[9]->elements; j++)
				upstream_facts_add(&cmds,
				    e->element[9]->element[j]);
		}
		upstream_facts_clear(&f->uf_cmds);
		f->uf_cmds = cmds;
		log_info("redis %s knows %zu commands", f->uf_version,
		    map_count(&f->uf_cmds));
	}
}

/* Redis' version, as INFO said. */
const char *
upstream_facts_version(const struct upstream_facts *f)
{
	return f->uf_version;
}

/* Redis' number of databases. */
int
upstream_facts_databases(const struct upstream_facts *f)
{
	return f->uf_databases;
}

/* The arity of a command or subcommand Redis knows; -1 if it does not. */
int
upstream_facts_command_arity(const struct upstream_facts *f,
    const char *name, size_t len, int *arity, int *container)
{
	const struct map_entry		*e;
	const struct upstream_cmd	*uc;
	char				 lower[128];
	size_t				 i;

	if (len >= sizeof(lower))
		return -1;
	for (i = 0; i < len; i++)
		lower[i] = (char)tolower((unsigned char)name[i]);
	if ((e = map_find(&f->uf_cmds, lower, len)) == NULL)
		return -1;
	uc = MAP_ITEM(e, struct upstream_cmd, uc_entry);
	*arity = uc->uc_arity;
	*container = uc->uc_container;
	return 0;
}

/* Whether Redis' command table is known yet. */
int
upstream_facts_commands_known(const struct upstream_facts *f)
{
	return map_count(&f->uf_cmds) > 0;
}
