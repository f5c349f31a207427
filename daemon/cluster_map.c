/*
 * cluster_map.c: key slots and the slot map of a Redis Cluster (see
 * cluster_map.h).
 *
 * The slot is CRC-16/XMODEM (polynomial 0x1021, initial value 0, no
 * reflection: the checksum Redis Cluster's specification names) of the key
 * or its hash tag, modulo 16384. It is computed a bit at a time: pubsubd
 * asks it once per subscription or SPUBLISH, never per delivery.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_map.h"
#include "cmdconn.h"

static uint16_t	 cluster_crc16(const char *, size_t);
static int	 cluster_map_master(struct cluster_map *,
		    const struct cmdconn_reply *, const char *, char *,
		    size_t);

/* CRC-16/XMODEM of len bytes. */
static uint16_t
cluster_crc16(const char *buf, size_t len)
{
	uint16_t	crc = 0;
	size_t		i;
	int		bit;

	for (i = 0; i < len; i++) {
		crc ^= (uint16_t)((unsigned char)buf[i] << 8);
		for (bit = 0; bit < 8; bit++)
			crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) :
			    (uint16_t)(crc << 1);
	}
	return crc;
}

unsigned
cluster_map_slot(const char *key, size_t len)
{
	const char	*open, *close;

	if ((open = memchr(key, '{', len)) != NULL &&
	    (close = memchr(open + 1, '}', len - (size_t)(open + 1 - key))) !=
	    NULL && close > open + 1)
		return cluster_crc16(open + 1, (size_t)(close - open - 1)) %
		    CLUSTER_SLOTS;
	return cluster_crc16(key, len) % CLUSTER_SLOTS;
}

/* Whether the keys cross slots; see cluster_map.h. */
int
cluster_map_crossslot(int argc, const char *const *argv, const size_t *argvlen,
    int first)
{
	unsigned	slot;
	int		i;

	if (first >= argc)
		return 0;
	slot = cluster_map_slot(argv[first], argvlen[first]);
	for (i = first + 1; i < argc; i++)
		if (cluster_map_slot(argv[i], argvlen[i]) != slot)
			return 1;
	return 0;
}

/*
 * The master of one CLUSTER SLOTS entry ([host, port, id, ...]): its index
 * in map->cm_masters, added if new; -1 with err on a bad shape or no
 * memory.
 */
static int
cluster_map_master(struct cluster_map *map, const struct cmdconn_reply *n,
    const char *answered_host, char *err, size_t errlen)
{
	struct cluster_master	*m;
	const char		*host;
	long long		 port;
	int			 i;

	if (n->type != CMDCONN_ARRAY || n->elements < 2 ||
	    n->element[0]->type != CMDCONN_STRING ||
	    n->element[1]->type != CMDCONN_INTEGER) {
		snprintf(err, errlen, "CLUSTER SLOTS: a node is not [host, "
		    "port, ...]");
		return -1;
	}
	host = n->element[0]->str;
	if (*host == '\0' || strcmp(host, "?") == 0)
		host = answered_host;
	port = n->element[1]->integer;
	if (port < 1 || port > 65535) {
		snprintf(err, errlen, "CLUSTER SLOTS: port %lld", port);
		return -1;
	}
	if ((i = cluster_map_find(map, host, (int)port)) != -1)
		return i;
	if (map->cm_nmasters == CLUSTER_MASTERS_MAX) {
		snprintf(err, errlen, "CLUSTER SLOTS: more than %d masters",
		    CLUSTER_MASTERS_MAX);
		return -1;
	}
	m = &map->cm_masters[map->cm_nmasters];
	m->cm_host = strdup(host);
	m->cm_id = strdup(n->elements > 2 &&
	    n->element[2]->type == CMDCONN_STRING ? n->element[2]->str : "");
	m->cm_port = (int)port;
	m->cm_slots = 0;
	if (m->cm_host == NULL || m->cm_id == NULL) {
		free(m->cm_host);
		free(m->cm_id);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return (int)map->cm_nmasters++;
}

struct cluster_map *
cluster_map_new(const struct cmdconn_reply *r, const char *answered_host,
    char *err, size_t errlen)
{
	struct cluster_map		*map;
	const struct cmdconn_reply	*e;
	long long			 start, end, s;
	size_t				 i;
	int				 m;

	if (r->type != CMDCONN_ARRAY) {
		snprintf(err, errlen, "CLUSTER SLOTS: %s", r->type ==
		    CMDCONN_ERROR ? r->str : "not an array");
		return NULL;
	}
	if ((map = calloc(1, sizeof(*map))) == NULL ||
	    (map->cm_masters = calloc(r->elements < CLUSTER_MASTERS_MAX ?
	    r->elements + 1 : CLUSTER_MASTERS_MAX,
	    sizeof(*map->cm_masters))) == NULL) {
		free(map);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (i = 0; i < r->elements; i++) {
		e = r->element[i];
		if (e->type != CMDCONN_ARRAY || e->elements < 3 ||
		    e->element[0]->type != CMDCONN_INTEGER ||
		    e->element[1]->type != CMDCONN_INTEGER) {
			snprintf(err, errlen, "CLUSTER SLOTS: entry %zu is not "
			    "[start, end, master, ...]", i);
			goto fail;
		}
		start = e->element[0]->integer;
		end = e->element[1]->integer;
		if (start < 0 || end < start || end >= CLUSTER_SLOTS) {
			snprintf(err, errlen, "CLUSTER SLOTS: slots %lld-%lld",
			    start, end);
			goto fail;
		}
		if ((m = cluster_map_master(map, e->element[2], answered_host,
		    err, errlen)) == -1)
			goto fail;
		for (s = start; s <= end; s++) {
			if (map->cm_owner[s] != 0) {
				snprintf(err, errlen, "CLUSTER SLOTS: slot "
				    "%lld served twice", s);
				goto fail;
			}
			map->cm_owner[s] = (uint16_t)(m + 1);
		}
		map->cm_masters[m].cm_slots += (size_t)(end - start + 1);
		map->cm_covered += (size_t)(end - start + 1);
	}
	return map;
fail:
	cluster_map_free(map);
	return NULL;
}

void
cluster_map_free(struct cluster_map *map)
{
	size_t	i;

	if (map == NULL)
		return;
	for (i = 0; i < map->cm_nmasters; i++) {
		free(map->cm_masters[i].cm_host);
		free(map->cm_masters[i].cm_id);
	}
	free(map->cm_masters);
	free(map);
}

const struct cluster_master *
cluster_map_owner(const struct cluster_map *map, unsigned slot)
{
	if (slot >= CLUSTER_SLOTS || map->cm_owner[slot] == 0)
		return NULL;
	return &map->cm_masters[map->cm_owner[slot] - 1];
}

int
cluster_map_find(const struct cluster_map *map, const char *host, int port)
{
	size_t	i;

	for (i = 0; i < map->cm_nmasters; i++)
		if (map->cm_masters[i].cm_port == port &&
		    strcmp(map->cm_masters[i].cm_host, host) == 0)
			return (int)i;
	return -1;
}

int
cluster_map_moved(struct cluster_map *map, const char *err,
    const char *answered_host)
{
	const char	*p, *colon;
	char		 host[256], *end;
	unsigned long	 slot, port;
	size_t		 hostlen;
	int		 idx, old;

	if (map == NULL || strncmp(err, "MOVED ", 6) != 0)
		return 0;
	p = err + 6;
	if (*p < '0' || *p > '9')
		return 0;
	errno = 0;
	slot = strtoul(p, &end, 10);
	if (errno != 0 || slot >= CLUSTER_SLOTS || *end != ' ')
		return 0;
	p = end + 1;
	/* The port follows the last ':' (an IPv6 address has several). */
	if ((colon = strrchr(p, ':')) == NULL || colon[1] < '0' ||
	    colon[1] > '9')
		return 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno != 0 || port == 0 || port > 65535 || *end != '\0')
		return 0;
	hostlen = (size_t)(colon - p);
	if (hostlen >= sizeof(host))
		return 0;
	memcpy(host, p, hostlen);
	host[hostlen] = '\0';
	if ((idx = cluster_map_find(map, hostlen > 0 ? host : answered_host,
	    (int)port)) == -1)
		return 0;
	if ((old = map->cm_owner[slot]) == idx + 1)
		return 1;
	if (old != 0)
		map->cm_masters[old - 1].cm_slots--;
	else
		map->cm_covered++;
	map->cm_owner[slot] = (uint16_t)(idx + 1);
	map->cm_masters[idx].cm_slots++;
	return 1;
}
