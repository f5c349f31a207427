/*
 * conf_topology.c: Redis beyond one server, in the configuration: the
 * redis.sentinel group (the master a set of sentinels names) and the
 * redis.cluster group (a Redis Cluster's seed nodes). Their nodes
 * are "host:port" strings, an IPv6 address in brackets ("[::1]:26379"),
 * as Redis' own tools write them.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "conf_impl.h"

static const char *const conf_sentinel_keys[] = {
	"master", "nodes", "username", "password", NULL
};

static const char *const conf_cluster_keys[] = { "nodes", NULL };

static int	conf_node(struct conf_ctx *, const config_setting_t *,
		    struct conf_node *);
static int	conf_nodes_same(const struct conf_node *, size_t,
		    const struct conf_node *, size_t);
static int	conf_nodes(struct conf_ctx *, const config_setting_t *,
		    const char *, const char *, unsigned int, struct conf_node **, size_t *);

/*
 * Reads one "host:port" (or "[v6]:port") element s into *node. Returns 0,
 * or -1 with the error recorded.
 */
static int
conf_node(struct conf_ctx *ctx, const config_setting_t *s,
    struct conf_node *node)
{
	const char	*v, *colon, *host;
	size_t		 hostlen;
	char		*end;
	long		 port;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		conf_error(ctx, s, "a node must be a string \"host:port\"");
		return -1;
	}
	v = config_setting_get_string(s);
	if ((colon = strrchr(v, ':')) == NULL || colon == v) {
		conf_error(ctx, s, "node '%s' is not \"host:port\"", v);
		return -1;
	}
	host = v;
	hostlen = (size_t)(colon - v);
	if (*v == '[') {
		if (colon[-1] != ']' || hostlen < 3) {
			conf_error(ctx, s, "node '%s': an IPv6 address is "
			    "written \"[address]:port\"", v);
			return -1;
		}
		host++;
		hostlen -= 2;
	} else if (memchr(v, ':', hostlen) != NULL) {
		conf_error(ctx, s, "node '%s': an IPv6 address is written "
		    "\"[address]:port\"", v);
		return -1;
	}
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || port < 1 || port > 65535) {
		conf_error(ctx, s, "node '%s': the port must be 1 to 65535",
		    v);
		return -1;
	}
	if ((node->host = strndup(host, hostlen)) == NULL) {
		conf_error(ctx, s, "out of memory");
		return -1;
	}
	node->port = (int)port;
	return 0;
}

/* Reads redis.sentinel; see conf_impl.h. */
int
conf_sentinel(struct conf_ctx *ctx, struct conf *conf,
    const config_setting_t *g)
{
	struct conf_sentinel	*sc = &conf->redis_sentinel;

	if (conf_check_keys(ctx, g, conf_sentinel_keys) == -1 ||
	    conf_string(ctx, g, "master", &sc->master) == -1 ||
	    conf_string(ctx, g, "username", &sc->username) == -1 ||
	    conf_string(ctx, g, "password", &sc->password) == -1)
		return -1;
	if (sc->master == NULL) {
		conf_error(ctx, g, "'sentinel' needs 'master', the name the "
		    "sentinels monitor it by");
		return -1;
	}
	if (sc->username != NULL && sc->password == NULL) {
		conf_error(ctx, config_setting_get_member(g, "username"),
		    "'username' needs a 'password'");
		return -1;
	}
	return conf_nodes(ctx, g, "sentinel", "sentinel",
	    CONF_SENTINEL_NODES_MAX, &sc->nodes, &sc->nnodes);
}

/*
 * Reads the list 'nodes' of group g (named what, each one a one, for
 * errors), at most max,
 * none twice, into a new array *nodes of *n. Returns 0, or -1 with the
 * error recorded (what was read so far is in *nodes, to be freed).
 */
static int
conf_nodes(struct conf_ctx *ctx, const config_setting_t *g, const char *what,
    const char *one, unsigned int max, struct conf_node **nodesp, size_t *np)
{
	const config_setting_t	*nodes, *s;
	struct conf_node	*v;
	unsigned int		 i, j, n;

	nodes = config_setting_get_member(g, "nodes");
	if (nodes == NULL || (config_setting_type(nodes) != CONFIG_TYPE_LIST &&
	    config_setting_type(nodes) != CONFIG_TYPE_ARRAY) ||
	    config_setting_length(nodes) == 0) {
		conf_error(ctx, nodes != NULL ? nodes : g, "'%s' needs "
		    "'nodes', a list of %ss as ( \"host:port\", ... )",
		    what, one);
		return -1;
	}
	n = (unsigned int)config_setting_length(nodes);
	if (n > max) {
		conf_error(ctx, nodes, "'nodes' lists %u %ss; at most %u", n,
		    one, max);
		return -1;
	}
	if ((*nodesp = v = calloc(n, sizeof(*v))) == NULL) {
		conf_error(ctx, nodes, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		s = config_setting_get_elem(nodes, i);
		if (conf_node(ctx, s, &v[i]) == -1)
			return -1;
		(*np)++;
		for (j = 0; j < i; j++)
			if (v[j].port == v[i].port &&
			    strcmp(v[j].host, v[i].host) == 0) {
				conf_error(ctx, s, "%s '%s' is listed twice",
				    one, config_setting_get_string(s));
				return -1;
			}
	}
	return 0;
}

/* Reads redis.cluster; see conf_impl.h. */
int
conf_cluster(struct conf_ctx *ctx, struct conf *conf,
    const config_setting_t *g)
{
	struct conf_cluster	*cc = &conf->redis_cluster;

	if (conf_check_keys(ctx, g, conf_cluster_keys) == -1)
		return -1;
	return conf_nodes(ctx, g, "cluster", "node", CONF_CLUSTER_NODES_MAX,
	    &cc->nodes, &cc->nnodes);
}

/* Frees what conf_cluster() read. */
void
conf_cluster_clear(struct conf_cluster *cc)
{
	size_t	i;

	for (i = 0; i < cc->nnodes; i++)
		free(cc->nodes[i].host);
	free(cc->nodes);
	memset(cc, 0, sizeof(*cc));
}

/* Frees what conf_sentinel() read. */
void
conf_sentinel_clear(struct conf_sentinel *sc)
{
	size_t	i;

	free(sc->master);
	for (i = 0; i < sc->nnodes; i++)
		free(sc->nodes[i].host);
	free(sc->nodes);
	free(sc->username);
	if (sc->password != NULL) {
		explicit_bzero(sc->password, strlen(sc->password));
		free(sc->password);
	}
	memset(sc, 0, sizeof(*sc));
}

/* Whether two strings, either NULL, are equal. */
static int
conf_str_same(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Whether a and b name the same master, sentinels and credentials. */
int
conf_sentinel_same(const struct conf_sentinel *a,
    const struct conf_sentinel *b)
{
	return conf_str_same(a->master, b->master) &&
	    conf_str_same(a->username, b->username) &&
	    conf_str_same(a->password, b->password) &&
	    conf_nodes_same(a->nodes, a->nnodes, b->nodes, b->nnodes);
}

/* Whether a and b list the same seeds in the same order. */
int
conf_cluster_same(const struct conf_cluster *a, const struct conf_cluster *b)
{
	return conf_nodes_same(a->nodes, a->nnodes, b->nodes, b->nnodes);
}

/* Whether two lists of nodes are the same, in the same order. */
static int
conf_nodes_same(const struct conf_node *a, size_t na,
    const struct conf_node *b, size_t nb)
{
	size_t	i;

	if (na != nb)
		return 0;
	for (i = 0; i < na; i++)
		if (a[i].port != b[i].port || strcmp(a[i].host, b[i].host) != 0)
			return 0;
	return 1;
}
