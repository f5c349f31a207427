/*
 * conf_users.c: the users list of the configuration, the ACL that replaces
 * the open set of a configuration without users: each user's name, its
 * password's SHA-256 digest (or nopass), whether it is enabled, the
 * channels it may subscribe to and publish on, the commands it may run,
 * and its limits. A password digest read is wiped from memory once used.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "conf_impl.h"

static int	conf_user(struct conf_ctx *, struct acl *,
		    const config_setting_t *);
static int	conf_user_strings(struct conf_ctx *, struct acl_user *,
		    const config_setting_t *, const char *);

static const char *const conf_user_keys[] = {
	"name", "password_sha256", "nopass", "enabled", "subscribe", "publish",
	"commands", "max_connections", "max_subscriptions", NULL
};

/*
 * Reads the users list: ( { name = "..."; password_sha256 = "..."; ... },
 * ... ), replacing the open set of a configuration without users.
 */
int
conf_users(struct conf_ctx *ctx, struct conf *conf, const config_setting_t *s)
{
	struct acl	*acl;
	int		 i, n;

	if (!config_setting_is_list(s)) {
		conf_error(ctx, s, "'users' must be a list ( { name = ...; "
		    "password_sha256 = ...; }, ... )");
		return -1;
	}
	if ((n = config_setting_length(s)) == 0) {
		conf_error(ctx, s, "'users' must name at least one user (leave "
		    "it out for no authentication)");
		return -1;
	}
	if ((acl = acl_new()) == NULL) {
		conf_error(ctx, s, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (conf_user(ctx, acl, config_setting_get_elem(s,
		    (unsigned int)i)) == -1) {
			acl_free(acl);
			return -1;
		}
	}
	acl_free(conf->acl);
	conf->acl = acl;
	return 0;
}

/* Reads one entry e of the users list into acl. */
static int
conf_user(struct conf_ctx *ctx, struct acl *acl, const config_setting_t *e)
{
	const config_setting_t	*s;
	struct acl_user		*u;
	char			*name = NULL, *hex = NULL;
	const char		*p;
	int			 nopass = 0, enabled = 1, maxconn = 0, maxsubs = 0;
	int			 rc = -1;

	if (!config_setting_is_group(e)) {
		conf_error(ctx, e, "each 'users' entry must be a group "
		    "{ name = ...; password_sha256 = ...; }");
		return -1;
	}
	if (conf_check_keys(ctx, e, conf_user_keys) == -1 ||
	    conf_string(ctx, e, "name", &name) == -1 ||
	    conf_string(ctx, e, "password_sha256", &hex) == -1 ||
	    conf_bool(ctx, e, "nopass", &nopass) == -1 ||
	    conf_bool(ctx, e, "enabled", &enabled) == -1 ||
	    conf_int(ctx, e, "max_connections", 0, INT_MAX, &maxconn) == -1 ||
	    conf_int(ctx, e, "max_subscriptions", 0, INT_MAX, &maxsubs) == -1)
		goto out;
	if (name == NULL) {
		conf_error(ctx, e, "a user needs a 'name'");
		goto out;
	}
	s = config_setting_get_member(e, "name");
	for (p = name; *p != '\0'; p++) {
		if (*p < '!' || *p > '~') {
			conf_error(ctx, s, "user name '%s' may hold only "
			    "printable characters, no spaces", name);
			goto out;
		}
	}
	if (strlen(name) > 128) {
		conf_error(ctx, s, "user name '%.32s...' is longer than 128 "
		    "bytes", name);
		goto out;
	}
	if ((u = acl_user_add(acl, name)) == NULL) {
		conf_error(ctx, s, errno == EEXIST ? "user '%s' is listed "
		    "twice" : "out of memory (user '%s')", name);
		goto out;
	}
	if (hex != NULL && nopass) {
		conf_error(ctx, config_setting_get_member(e, "nopass"),
		    "user '%s' has both 'password_sha256' and 'nopass'", name);
		goto out;
	}
	if (hex != NULL && acl_user_set_digest_hex(u, hex) == -1) {
		conf_error(ctx, config_setting_get_member(e,
		    "password_sha256"), "user '%s': 'password_sha256' must be "
		    "%d hex digits, the SHA-256 digest of the password (printf "
		    "%%s 'password' | sha256sum)", name, ACL_DIGEST_HEX_LEN);
		goto out;
	}
	if (hex == NULL && !nopass) {
		conf_error(ctx, e, "user '%s' needs 'password_sha256' (or "
		    "'nopass = true;')", name);
		goto out;
	}
	acl_user_set_nopass(u, nopass);
	acl_user_set_enabled(u, enabled);
	acl_user_set_limits(u, maxconn, maxsubs);
	if (conf_user_strings(ctx, u, e, "subscribe") == -1 ||
	    conf_user_strings(ctx, u, e, "publish") == -1 ||
	    conf_user_strings(ctx, u, e, "commands") == -1)
		goto out;
	rc = 0;
out:
	free(name);
	if (hex != NULL) {
		explicit_bzero(hex, strlen(hex));
		free(hex);
	}
	return rc;
}

/*
 * Reads user u's optional array of strings key: channel patterns
 * ("subscribe", "publish") or command names ("commands": lower-cased;
 * "cmd", "cmd|subcmd" or "*").
 */
static int
conf_user_strings(struct conf_ctx *ctx, struct acl_user *u,
    const config_setting_t *e, const char *key)
{
	const config_setting_t	*s, *v;
	const char		*str;
	char			 cmd[128];
	size_t			 len, j;
	int			 i, n, rc;

	if ((s = config_setting_get_member(e, key)) == NULL)
		return 0;
	if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
		conf_error(ctx, s, "'%s' must be an array of strings "
		    "[ \"...\", ... ]", key);
		return -1;
	}
	n = config_setting_length(s);
	for (i = 0; i < n; i++) {
		v = config_setting_get_elem(s, (unsigned int)i);
		if (config_setting_type(v) != CONFIG_TYPE_STRING) {
			conf_error(ctx, v, "'%s' must be an array of strings "
			    "[ \"...\", ... ]", key);
			return -1;
		}
		str = config_setting_get_string(v);
		if ((len = strlen(str)) == 0) {
			conf_error(ctx, v, "'%s' must not hold an empty "
			    "string", key);
			return -1;
		}
		if (strcmp(key, "commands") != 0) {
			rc = acl_user_add_pattern(u, strcmp(key, "publish") ==
			    0 ? ACL_PUBLISH : ACL_SUBSCRIBE, str, len);
		} else {
			if (len >= sizeof(cmd) || (strcmp(str, "*") != 0 &&
			    strspn(str, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijk"
			    "lmnopqrstuvwxyz0123456789-_.|") != len)) {
				conf_error(ctx, v, "'commands' holds command "
				    "names (\"get\", \"client|kill\") or "
				    "\"*\", not '%s'", str);
				return -1;
			}
			for (j = 0; j <= len; j++)
				cmd[j] = (char)tolower((unsigned char)str[j]);
			rc = acl_user_add_command(u, cmd);
		}
		if (rc == -1) {
			conf_error(ctx, v, "out of memory");
			return -1;
		}
	}
	return 0;
}
