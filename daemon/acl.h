/*
 * acl.h: who may connect and what each may do (Redis' ACL, cut down to
 * what a pub/sub gateway needs).
 *
 * A struct acl is the set of users of one configuration. Each user has a
 * name, a password kept only as its SHA-256 digest (or none: nopass), the
 * channel patterns it may subscribe to and publish to, the passthrough
 * commands it may run, and limits. A configuration without users gets an
 * open set: one implicit "default" user, without a password, permitted
 * everything (acl_new_open()), which is what pubsubd did before users.
 *
 * Permissions follow Redis' ACL `&pattern` rules: a channel is permitted if
 * one of the user's patterns glob-matches it; a PSUBSCRIBE pattern only if
 * it equals one of the user's patterns byte for byte (a pattern "*" permits
 * every channel and every pattern, as Redis' `&*` is allchannels).
 *
 * The set is immutable once built but for the count of connections logged
 * in as each user, which the clients keep with acl_user_attach() and
 * acl_user_detach().
 */
#ifndef PUBSUBD_ACL_H
#define PUBSUBD_ACL_H

#include <stddef.h>

#define ACL_DIGEST_LEN		32	/* SHA-256 */
#define ACL_DIGEST_HEX_LEN	(2 * ACL_DIGEST_LEN)
#define ACL_DEFAULT_USER	"default"

/* What a channel pattern of a user permits. */
enum acl_perm {
	ACL_SUBSCRIBE = 0,	/* SUBSCRIBE, SSUBSCRIBE; PSUBSCRIBE literally */
	ACL_PUBLISH		/* PUBLISH, SPUBLISH */
};
#define ACL_PERMS	2

struct acl;
struct acl_user;

/* Returns a new set with no users (build it with acl_user_add()), or NULL. */
struct acl	*acl_new(void);

/*
 * Returns a new open set: the implicit "default" user with no password and
 * every permission; or NULL.
 */
struct acl	*acl_new_open(void);

/* Frees a set and its users (NULL is ignored); no client may point in it. */
void		 acl_free(struct acl *acl);

/*
 * Adds a user named name (copied) with no password, no permissions,
 * enabled and no limits. Returns it (owned by acl), or NULL if the name is
 * taken or memory ran out (errno EEXIST or ENOMEM).
 */
struct acl_user	*acl_user_add(struct acl *acl, const char *name);

/*
 * Sets u's password digest from 64 hex digits (either case). Returns 0, or
 * -1 if hex is not that.
 */
int		 acl_user_set_digest_hex(struct acl_user *u, const char *hex);

/* Lets u log in with any password (or none: see acl_login_user()). */
void		 acl_user_set_nopass(struct acl_user *u, int on);
void		 acl_user_set_enabled(struct acl_user *u, int on);

/*
 * Limits: connections logged in as u at once, and subscriptions per
 * connection (overriding limits.max_subscriptions); 0: none.
 */
void		 acl_user_set_limits(struct acl_user *u, int max_connections,
		    int max_subscriptions);

/*
 * Permits u the channels pattern (len bytes, copied) matches, for perm.
 * Returns 0, or -1 out of memory.
 */
int		 acl_user_add_pattern(struct acl_user *u, enum acl_perm perm,
		    const char *pattern, size_t len);

/*
 * Permits u a command: a lower-case name ("get"), a subcommand
 * ("client|kill"), or "*" for every one. Returns 0, or -1 out of memory.
 */
int		 acl_user_add_command(struct acl_user *u, const char *name);

/* Whether u has a password or nopass (else nobody can log in as u). */
int		 acl_user_has_credentials(const struct acl_user *u);

/* The user named name (len bytes), or NULL. */
struct acl_user	*acl_find(const struct acl *acl, const char *name, size_t len);

/* How many users the set has (an open set: 1). */
size_t		 acl_count(const struct acl *acl);

/*
 * The user a new connection is logged in as without AUTH: "default" if it
 * is enabled and has nopass; else NULL (the connection must AUTH).
 */
struct acl_user	*acl_login_user(const struct acl *acl);

/*
 * Whether AUTH <password> (no user name) is a mistake: the default user
 * has nopass (Redis then answers an error rather than WRONGPASS).
 */
int		 acl_default_nopass(const struct acl *acl);

/*
 * Checks a user name and password (both binary, borrowed for the call).
 * Returns the user (borrowed from acl), or NULL if the user does not
 * exist, is disabled, or the password is wrong. The password is hashed
 * and compared in constant time in every case, against a dummy digest
 * when there is no such user, so that neither the time taken nor the
 * answer tells whether a user exists.
 */
struct acl_user	*acl_authenticate(const struct acl *acl, const char *name,
		    size_t namelen, const char *password, size_t passlen);

/* Fills out with the SHA-256 digest of buf; 0, or -1 if libcrypto fails. */
int		 acl_digest(const void *buf, size_t len,
		    unsigned char out[ACL_DIGEST_LEN]);

/* Writes the digest as 64 lower-case hex digits and a NUL into hex. */
void		 acl_digest_hex(const unsigned char digest[ACL_DIGEST_LEN],
		    char hex[ACL_DIGEST_HEX_LEN + 1]);

const char	*acl_user_name(const struct acl_user *u);
int		 acl_user_enabled(const struct acl_user *u);
int		 acl_user_max_connections(const struct acl_user *u);
int		 acl_user_max_subscriptions(const struct acl_user *u);

/* Whether u may run one more connection (max_connections). */
int		 acl_user_has_room(const struct acl_user *u);

/* Counts a connection logged in as u in, or out. */
void		 acl_user_attach(struct acl_user *u);
void		 acl_user_detach(struct acl_user *u);
unsigned int	 acl_user_connections(const struct acl_user *u);

/* Whether u may use channel (len bytes) for perm: a pattern matches it. */
int		 acl_channel_ok(const struct acl_user *u, enum acl_perm perm,
		    const char *channel, size_t len);

/* Whether u may PSUBSCRIBE pattern: it is one of u's, literally. */
int		 acl_pattern_ok(const struct acl_user *u, const char *pattern,
		    size_t len);

/*
 * Whether u may run the command name ("get"), or its subcommand full
 * ("client|kill"; NULL if it has none): either is listed, or "*".
 */
int		 acl_command_ok(const struct acl_user *u, const char *name,
		    const char *full);

#endif /* PUBSUBD_ACL_H */
