/*
 * conf_impl.h: the inside of the conf module (the libconfig schema), shared
 * by conf.c (defaults, the top-level walk, the plain groups) and the files
 * that each read a part of it: conf_value.c (one member of a group, by its
 * type), conf_listen.c (the listen list), conf_tls.c (the tls and redis.tls
 * groups), conf_users.c (the users list) and conf_topology.c (Redis
 * beyond one server: redis.sentinel). Only the conf*.c files include
 * it; the rest of the daemon knows conf.h alone.
 */
#ifndef PUBSUBD_CONF_IMPL_H
#define PUBSUBD_CONF_IMPL_H

#include <stddef.h>

#include <libconfig.h>

#include "conf.h"

/* What a load is doing: the file, where errors go, whether one happened. */
struct conf_ctx {
	const char	*path;		/* borrowed: the file loaded */
	char		*err;		/* borrowed: the caller's */
	size_t		 errlen;
	int		 failed;	/* err holds the first error */
};

/*
 * conf_value.c. A reader reads the optional member name of group parent
 * into *dst, leaves *dst as it is when there is no such member, and returns
 * 0, or -1 with the error recorded in ctx.
 */

/* Records the first error of a load as "FILE:LINE: message", s's line. */
void		 conf_error(struct conf_ctx *ctx, const config_setting_t *s,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Fails on any member of group s whose name is not in known (NULL ends). */
int		 conf_check_keys(struct conf_ctx *ctx,
		    const config_setting_t *s, const char *const *known);
/* A group, borrowed from libconfig into *out; NULL if there is none. */
int		 conf_group(struct conf_ctx *ctx,
		    const config_setting_t *parent, const char *name,
		    const config_setting_t **out);
/* A string, not empty, copied; the old *dst is freed. */
int		 conf_string(struct conf_ctx *ctx,
		    const config_setting_t *parent, const char *name,
		    char **dst);
/* An integer in [min, max]. */
int		 conf_int(struct conf_ctx *ctx,
		    const config_setting_t *parent, const char *name, int min,
		    int max, int *dst);
/* A 64-bit integer in [min, max]. */
int		 conf_int64(struct conf_ctx *ctx,
		    const config_setting_t *parent, const char *name,
		    long long min, long long max, long long *dst);
/* true or false, as 1 or 0. */
int		 conf_bool(struct conf_ctx *ctx,
		    const config_setting_t *parent, const char *name, int *dst);
/* A Unix socket's path: absolute, short enough for sun_path; copied. */
int		 conf_socket_path(struct conf_ctx *ctx,
		    const config_setting_t *parent, const char *name,
		    char **dst);
/* A permission mode, a string of octal digits up to "0777". */
int		 conf_mode(struct conf_ctx *ctx,
		    const config_setting_t *parent, const char *name, int *dst);
/*
 * The name of a regular file this process can read now, copied, and the
 * member's line into *line (where the tls module reports on the file).
 */
int		 conf_file(struct conf_ctx *ctx,
		    const config_setting_t *parent, const char *name,
		    char **dst, unsigned int *line);

/*
 * conf_listen.c: reads the listen list s into conf, replacing the default
 * address. Returns 0, or -1 with the error recorded in ctx.
 */
int		 conf_http(struct conf_ctx *ctx, struct conf *conf,
		    const config_setting_t *g);
int		 conf_listen(struct conf_ctx *ctx, struct conf *conf,
		    const config_setting_t *s);

/*
 * conf_tls.c: reads the tls group g, or the tls group g of redis (a build
 * without hiredis_ssl refuses it, whatever its form), into conf. Each
 * returns 0, or -1 with the error recorded in ctx.
 */
int		 conf_tls(struct conf_ctx *ctx, struct conf *conf,
		    const config_setting_t *g);
int		 conf_redis_tls(struct conf_ctx *ctx, struct conf *conf,
		    const config_setting_t *g);

/*
 * conf_users.c: reads the users list s into a new ACL that replaces
 * conf's. Returns 0, or -1 with the error recorded in ctx (conf's ACL as it
 * was).
 */
int		 conf_users(struct conf_ctx *ctx, struct conf *conf,
		    const config_setting_t *s);

/*
 * conf_topology.c: reads the sentinel group g of redis into conf, and
 * frees what it read (conf_sentinel_clear()). conf_redis() has checked
 * that g is a group. Returns 0, or -1 with the error recorded in ctx.
 */
int		 conf_sentinel(struct conf_ctx *ctx, struct conf *conf,
		    const config_setting_t *g);
void		 conf_sentinel_clear(struct conf_sentinel *s);

/* The same for the cluster group g of redis. */
int		 conf_cluster(struct conf_ctx *ctx, struct conf *conf,
		    const config_setting_t *g);
void		 conf_cluster_clear(struct conf_cluster *c);

#endif /* PUBSUBD_CONF_IMPL_H */
