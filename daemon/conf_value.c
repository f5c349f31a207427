/*
 * conf_value.c: reading one member of a libconfig group, for every group of
 * the schema: its type, its range, a string copied out of libconfig (which
 * owns its own until config_destroy()), a file that must be readable now,
 * a Unix socket path, a permission mode; and the first error of a load,
 * kept as "FILE:LINE: message". Each reader leaves its default in place
 * when the member is absent, and returns 0, or -1 with the error recorded.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "conf_impl.h"

/* Records the first error, as "FILE:LINE: message". */
void
conf_error(struct conf_ctx *ctx, const config_setting_t *s, const char *fmt,
    ...)
{
	char	msg[512];
	va_list	ap;

	if (ctx->failed++)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(ctx->err, ctx->errlen, "%s:%u: %s", ctx->path,
	    s ? config_setting_source_line(s) : 0, msg);
}

/* Fails on any member of group s whose name is not in known. */
int
conf_check_keys(struct conf_ctx *ctx, const config_setting_t *s,
    const char *const *known)
{
	const config_setting_t	*m;
	const char		*name;
	int			 i, j, ok;

	for (i = 0; (m = config_setting_get_elem(s, i)) != NULL; i++) {
		name = config_setting_name(m);
		ok = 0;
		for (j = 0; known[j] != NULL; j++)
			if (strcmp(name, known[j]) == 0)
				ok = 1;
		if (!ok) {
			conf_error(ctx, m, "unknown key '%s'", name);
			return -1;
		}
	}
	return 0;
}

/* Reads an optional group member; *out stays NULL if it is absent. */
int
conf_group(struct conf_ctx *ctx, const config_setting_t *parent,
    const char *name, const config_setting_t **out)
{
	const config_setting_t	*s;

	*out = NULL;
	if ((s = config_setting_get_member(parent, name)) == NULL)
		return 0;
	if (!config_setting_is_group(s)) {
		conf_error(ctx, s, "'%s' must be a group { ... }", name);
		return -1;
	}
	*out = s;
	return 0;
}

/* Reads an optional string member into *dst (replacing the default). */
int
conf_string(struct conf_ctx *ctx, const config_setting_t *parent,
    const char *name, char **dst)
{
	const config_setting_t	*s;
	char			*copy;

	if ((s = config_setting_get_member(parent, name)) == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		conf_error(ctx, s, "'%s' must be a string", name);
		return -1;
	}
	if (*config_setting_get_string(s) == '\0') {
		conf_error(ctx, s, "'%s' must not be empty", name);
		return -1;
	}
	if ((copy = strdup(config_setting_get_string(s))) == NULL) {
		conf_error(ctx, s, "out of memory");
		return -1;
	}
	free(*dst);
	*dst = copy;
	return 0;
}

/* Reads an optional integer member in [min, max] into *dst. */
int
conf_int(struct conf_ctx *ctx, const config_setting_t *parent,
    const char *name, int min, int max, int *dst)
{
	long long	v = *dst;

	if (conf_int64(ctx, parent, name, min, max, &v) == -1)
		return -1;
	*dst = (int)v;
	return 0;
}

/* Reads an optional 64-bit integer member in [min, max] into *dst. */
int
conf_int64(struct conf_ctx *ctx, const config_setting_t *parent,
    const char *name, long long min, long long max, long long *dst)
{
	const config_setting_t	*s;
	long long		 v;

	if ((s = config_setting_get_member(parent, name)) == NULL)
		return 0;
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
		v = config_setting_get_int(s);
		break;
	case CONFIG_TYPE_INT64:
		v = config_setting_get_int64(s);
		break;
	default:
		conf_error(ctx, s, "'%s' must be an integer", name);
		return -1;
	}
	if (v < min || v > max) {
		conf_error(ctx, s, "'%s' must be between %lld and %lld, not "
		    "%lld", name, min, max, v);
		return -1;
	}
	*dst = v;
	return 0;
}

/* Reads an optional boolean member into *dst. */
int
conf_bool(struct conf_ctx *ctx, const config_setting_t *parent,
    const char *name, int *dst)
{
	const config_setting_t	*s;

	if ((s = config_setting_get_member(parent, name)) == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		conf_error(ctx, s, "'%s' must be true or false", name);
		return -1;
	}
	*dst = config_setting_get_bool(s);
	return 0;
}

/*
 * Reads an optional Unix socket path member into *dst: absolute, and short
 * enough for sun_path with its NUL.
 */
int
conf_socket_path(struct conf_ctx *ctx, const config_setting_t *parent,
    const char *name, char **dst)
{
	struct sockaddr_un	sun;
	const char		*p;

	if (conf_string(ctx, parent, name, dst) == -1 || *dst == NULL)
		return ctx->failed ? -1 : 0;
	p = *dst;
	if (p[0] != '/') {
		conf_error(ctx, config_setting_get_member(parent, name),
		    "'%s' must be an absolute path, not '%s'", name, p);
		return -1;
	}
	if (strlen(p) >= sizeof(sun.sun_path)) {
		conf_error(ctx, config_setting_get_member(parent, name),
		    "'%s' is %zu bytes long; a Unix socket's path has at most "
		    "%zu", name, strlen(p), sizeof(sun.sun_path) - 1);
		return -1;
	}
	return 0;
}

/* Reads an optional permission mode, a string of octal digits ("0660"). */
int
conf_mode(struct conf_ctx *ctx, const config_setting_t *parent,
    const char *name, int *dst)
{
	const config_setting_t	*s;
	const char		*p;
	long			 v = 0;

	if ((s = config_setting_get_member(parent, name)) == NULL)
		return 0;
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		p = config_setting_get_string(s);
		for (; *p >= '0' && *p <= '7' && v <= 0777; p++)
			v = v * 8 + (*p - '0');
		if (*p == '\0' && p != config_setting_get_string(s) &&
		    v <= 0777) {
			*dst = (int)v;
			return 0;
		}
	}
	conf_error(ctx, s, "'%s' must be a string of octal digits up to "
	    "\"0777\", such as \"0660\"", name);
	return -1;
}

/*
 * Reads an optional file name member into *dst, and its line into *line:
 * the file must be a regular file this process can read now (the tls
 * module reads it later, at start and at each reload).
 */
int
conf_file(struct conf_ctx *ctx, const config_setting_t *parent,
    const char *name, char **dst, unsigned int *line)
{
	const config_setting_t	*s;
	struct stat		 st;
	FILE			*f;

	if (conf_string(ctx, parent, name, dst) == -1)
		return -1;
	if ((s = config_setting_get_member(parent, name)) == NULL)
		return 0;
	*line = config_setting_source_line(s);
	if ((f = fopen(*dst, "r")) == NULL) {
		conf_error(ctx, s, "'%s': cannot read %s: %s", name, *dst,
		    strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) == -1 || !S_ISREG(st.st_mode)) {
		conf_error(ctx, s, "'%s': %s is not a regular file", name,
		    *dst);
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}
