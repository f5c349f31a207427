/*
 * acl.c: users, their passwords' digests and their permissions.
 *
 * A set holds few users (a configuration lists them by hand), so it is an
 * array walked by name. Passwords exist here only while being hashed: the
 * configuration holds digests, and AUTH's argument is hashed with
 * libcrypto's SHA-256 and compared with CRYPTO_memcmp(), whose time does
 * not depend on where the digests differ.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "acl.h"
#include "pattern.h"
#include "resp.h"

/* One pattern of a user, for one permission. */
struct acl_pattern {
	char	*ap_str;	/* owned; not NUL-terminated for matching */
	size_t	 ap_len;
};

struct acl_user {
	char			*u_name;	/* owned */
	unsigned char		 u_digest[ACL_DIGEST_LEN];
	int			 u_has_digest;
	int			 u_nopass;
	int			 u_enabled;
	int			 u_max_connections;	/* 0: none */
	int			 u_max_subscriptions;	/* 0: the global */
	unsigned int		 u_connections;		/* logged in now */
	int			 u_all[ACL_PERMS];	/* a "*" pattern */
	struct acl_pattern	*u_patterns[ACL_PERMS];	/* owned arrays */
	size_t			 u_npatterns[ACL_PERMS];
	int			 u_all_commands;	/* "*" */
	char			**u_commands;	/* owned array of owned */
	size_t			 u_ncommands;
};

struct acl {
	struct acl_user		**a_users;	/* owned array of owned */
	size_t			  a_nusers;
	/* Compared against when there is no such user: never matches. */
	unsigned char		  a_dummy[ACL_DIGEST_LEN];
};

static void	acl_user_free(struct acl_user *);

/* Returns a new, empty set. */
struct acl *
acl_new(void)
{
	struct acl	*acl;

	if ((acl = calloc(1, sizeof(*acl))) == NULL)
		return NULL;
	/*
	 * The dummy digest is of a string no password hashes to in practice;
	 * the comparison with it fails anyway, since the user is missing.
	 */
	if (acl_digest("pubsubd: no such user", 21, acl->a_dummy) == -1) {
		free(acl);
		return NULL;
	}
	return acl;
}

/* Returns a set with only the implicit, all-permitted default user. */
struct acl *
acl_new_open(void)
{
	struct acl	*acl;
	struct acl_user	*u;

	if ((acl = acl_new()) == NULL)
		return NULL;
	if ((u = acl_user_add(acl, ACL_DEFAULT_USER)) == NULL ||
	    acl_user_add_pattern(u, ACL_SUBSCRIBE, "*", 1) == -1 ||
	    acl_user_add_pattern(u, ACL_PUBLISH, "*", 1) == -1 ||
	    acl_user_add_command(u, "*") == -1) {
		acl_free(acl);
		return NULL;
	}
	u->u_nopass = 1;
	return acl;
}

/* Frees one user and what it owns. */
static void
acl_user_free(struct acl_user *u)
{
	size_t	i;
	int	p;

	if (u == NULL)
		return;
	for (p = 0; p < ACL_PERMS; p++) {
		for (i = 0; i < u->u_npatterns[p]; i++)
			free(u->u_patterns[p][i].ap_str);
		free(u->u_patterns[p]);
	}
	for (i = 0; i < u->u_ncommands; i++)
		free(u->u_commands[i]);
	free(u->u_commands);
	free(u->u_name);
	/* A digest is not a password, but it need not linger either. */
	explicit_bzero(u->u_digest, sizeof(u->u_digest));
	free(u);
}

/* Frees a set. */
void
acl_free(struct acl *acl)
{
	size_t	i;

	if (acl == NULL)
		return;
	for (i = 0; i < acl->a_nusers; i++)
		acl_user_free(acl->a_users[i]);
	free(acl->a_users);
	free(acl);
}

/* Adds a user with nothing permitted. */
struct acl_user *
acl_user_add(struct acl *acl, const char *name)
{
	struct acl_user	**users, *u;

	if (acl_find(acl, name, strlen(name)) != NULL) {
		errno = EEXIST;
		return NULL;
	}
	users = reallocarray(acl->a_users, acl->a_nusers + 1,
	    sizeof(*users));
	if (users == NULL)
		return NULL;
	acl->a_users = users;
	if ((u = calloc(1, sizeof(*u))) == NULL)
		return NULL;
	if ((u->u_name = strdup(name)) == NULL) {
		free(u);
		return NULL;
	}
	u->u_enabled = 1;
	acl->a_users[acl->a_nusers++] = u;
	return u;
}

/* Sets the password digest from its hex form. */
int
acl_user_set_digest_hex(struct acl_user *u, const char *hex)
{
	unsigned char	d[ACL_DIGEST_LEN];
	size_t		i;
	int		hi, lo;

	if (strlen(hex) != ACL_DIGEST_HEX_LEN)
		return -1;
	for (i = 0; i < ACL_DIGEST_LEN; i++) {
		if ((hi = resp_hexval((unsigned char)hex[2 * i])) == -1 ||
		    (lo = resp_hexval((unsigned char)hex[2 * i + 1])) == -1)
			return -1;
		d[i] = (unsigned char)(hi << 4 | lo);
	}
	memcpy(u->u_digest, d, sizeof(d));
	u->u_has_digest = 1;
	return 0;
}

void
acl_user_set_nopass(struct acl_user *u, int on)
{
	u->u_nopass = on != 0;
}

void
acl_user_set_enabled(struct acl_user *u, int on)
{
	u->u_enabled = on != 0;
}

void
acl_user_set_limits(struct acl_user *u, int max_connections,
    int max_subscriptions)
{
	u->u_max_connections = max_connections;
	u->u_max_subscriptions = max_subscriptions;
}

/* Adds a channel pattern for perm. */
int
acl_user_add_pattern(struct acl_user *u, enum acl_perm perm,
    const char *pattern, size_t len)
{
	struct acl_pattern	*ps;

	ps = reallocarray(u->u_patterns[perm], u->u_npatterns[perm] + 1,
	    sizeof(*ps));
	if (ps == NULL)
		return -1;
	u->u_patterns[perm] = ps;
	if ((ps[u->u_npatterns[perm]].ap_str = malloc(len + 1)) == NULL)
		return -1;
	memcpy(ps[u->u_npatterns[perm]].ap_str, pattern, len);
	ps[u->u_npatterns[perm]].ap_str[len] = '\0';
	ps[u->u_npatterns[perm]].ap_len = len;
	u->u_npatterns[perm]++;
	if (len == 1 && pattern[0] == '*')
		u->u_all[perm] = 1;
	return 0;
}

/* Adds a permitted command. */
int
acl_user_add_command(struct acl_user *u, const char *name)
{
	char	**cmds, *copy;

	if (strcmp(name, "*") == 0) {
		u->u_all_commands = 1;
		return 0;
	}
	cmds = reallocarray(u->u_commands, u->u_ncommands + 1,
	    sizeof(*cmds));
	if (cmds == NULL)
		return -1;
	u->u_commands = cmds;
	if ((copy = strdup(name)) == NULL)
		return -1;
	u->u_commands[u->u_ncommands++] = copy;
	return 0;
}

int
acl_user_has_credentials(const struct acl_user *u)
{
	return u->u_has_digest || u->u_nopass;
}

/* Finds a user by name. */
struct acl_user *
acl_find(const struct acl *acl, const char *name, size_t len)
{
	size_t	i;

	for (i = 0; i < acl->a_nusers; i++)
		if (strlen(acl->a_users[i]->u_name) == len &&
		    memcmp(acl->a_users[i]->u_name, name, len) == 0)
			return acl->a_users[i];
	return NULL;
}

size_t
acl_count(const struct acl *acl)
{
	return acl->a_nusers;
}

/* The user connections start as, or NULL. */
struct acl_user *
acl_login_user(const struct acl *acl)
{
	struct acl_user	*u;

	u = acl_find(acl, ACL_DEFAULT_USER, strlen(ACL_DEFAULT_USER));
	if (u == NULL || !u->u_enabled || !u->u_nopass)
		return NULL;
	return u;
}

/* Whether the default user exists and has nopass. */
int
acl_default_nopass(const struct acl *acl)
{
	struct acl_user	*u;

	u = acl_find(acl, ACL_DEFAULT_USER, strlen(ACL_DEFAULT_USER));
	return u != NULL && u->u_nopass;
}

/* Checks a name and password in time independent of the user's existence. */
struct acl_user *
acl_authenticate(const struct acl *acl, const char *name, size_t namelen,
    const char *password, size_t passlen)
{
	unsigned char	 d[ACL_DIGEST_LEN];
	const unsigned char *want;
	struct acl_user	*u;
	int		 same, ok;

	u = acl_find(acl, name, namelen);
	want = u != NULL && u->u_has_digest ? u->u_digest : acl->a_dummy;
	if (acl_digest(password, passlen, d) == -1)
		return NULL;
	same = CRYPTO_memcmp(d, want, sizeof(d)) == 0;
	/* The digest of a submitted password would let one test guesses. */
	OPENSSL_cleanse(d, sizeof(d));
	ok = u != NULL && u->u_enabled && (u->u_nopass ||
	    (u->u_has_digest && same));
	return ok ? u : NULL;
}

/* SHA-256 of buf. */
int
acl_digest(const void *buf, size_t len, unsigned char out[ACL_DIGEST_LEN])
{
	unsigned int	n = 0;

	if (EVP_Digest(buf, len, out, &n, EVP_sha256(), NULL) != 1 ||
	    n != ACL_DIGEST_LEN)
		return -1;
	return 0;
}

/* The digest in lower-case hex. */
void
acl_digest_hex(const unsigned char digest[ACL_DIGEST_LEN],
    char hex[ACL_DIGEST_HEX_LEN + 1])
{
	static const char	digits[] = "0123456789abcdef";
	size_t			i;

	for (i = 0; i < ACL_DIGEST_LEN; i++) {
		hex[2 * i] = digits[digest[i] >> 4];
		hex[2 * i + 1] = digits[digest[i] & 0xf];
	}
	hex[ACL_DIGEST_HEX_LEN] = '\0';
}

const char *
acl_user_name(const struct acl_user *u)
{
	return u->u_name;
}

int
acl_user_enabled(const struct acl_user *u)
{
	return u->u_enabled;
}

int
acl_user_max_connections(const struct acl_user *u)
{
	return u->u_max_connections;
}

int
acl_user_max_subscriptions(const struct acl_user *u)
{
	return u->u_max_subscriptions;
}

int
acl_user_has_room(const struct acl_user *u)
{
	return u->u_max_connections == 0 ||
	    u->u_connections < (unsigned int)u->u_max_connections;
}

void
acl_user_attach(struct acl_user *u)
{
	u->u_connections++;
}

void
acl_user_detach(struct acl_user *u)
{
	if (u->u_connections > 0)
		u->u_connections--;
}

unsigned int
acl_user_connections(const struct acl_user *u)
{
	return u->u_connections;
}

/* Whether one of u's patterns for perm matches channel. */
int
acl_channel_ok(const struct acl_user *u, enum acl_perm perm,
    const char *channel, size_t len)
{
	size_t	i;

	if (u->u_all[perm])
		return 1;
	for (i = 0; i < u->u_npatterns[perm]; i++)
		if (pattern_match(u->u_patterns[perm][i].ap_str,
		    u->u_patterns[perm][i].ap_len, channel, len))
			return 1;
	return 0;
}

/* Whether pattern is one of u's subscribe patterns, byte for byte. */
int
acl_pattern_ok(const struct acl_user *u, const char *pattern, size_t len)
{
	size_t	i;

	if (u->u_all[ACL_SUBSCRIBE])
		return 1;
	for (i = 0; i < u->u_npatterns[ACL_SUBSCRIBE]; i++)
		if (u->u_patterns[ACL_SUBSCRIBE][i].ap_len == len &&
		    memcmp(u->u_patterns[ACL_SUBSCRIBE][i].ap_str, pattern,
		    len) == 0)
			return 1;
	return 0;
}

/* Whether u may run a command (or its subcommand). */
int
acl_command_ok(const struct acl_user *u, const char *name, const char *full)
{
	size_t	i;

	if (u->u_all_commands)
		return 1;
	for (i = 0; i < u->u_ncommands; i++)
		if (strcmp(u->u_commands[i], name) == 0 ||
		    (full != NULL && strcmp(u->u_commands[i], full) == 0))
			return 1;
	return 0;
}
