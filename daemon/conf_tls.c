/*
 * conf_tls.c: the two TLS groups of the configuration: tls (what TLS
 * clients are served with: the certificate, its key, and what clients must
 * show) and redis.tls (TLS on every connection to Redis, in builds with
 * hiredis_ssl; others refuse it). Both only name files, checked readable
 * now, and keep their lines: the tls module loads them, and says there
 * what is wrong with them.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "conf_impl.h"

static int	conf_tls_version(struct conf_ctx *, const config_setting_t *,
		    int *);

#ifdef HAVE_HIREDIS_SSL
static const char *const conf_redis_tls_keys[] = {
	"ca_file", "certificate", "private_key", "server_name", "verify",
	"min_version", NULL
};
#endif
static const char *const conf_tls_keys[] = {
	"certificate", "private_key", "ca_file", "verify_clients",
	"min_version", "ciphers", "ciphersuites", "handshake_timeout", "ktls",
	NULL
};

#ifdef HAVE_HIREDIS_SSL
/*
 * Reads redis.tls. Everything is optional: no ca_file trusts the system's
 * CAs; a client certificate needs its key (and the other way round).
 */
int
conf_redis_tls(struct conf_ctx *ctx, struct conf *conf,
    const config_setting_t *g)
{
	struct conf_rtls	*r = &conf->redis_tls;

	r->enabled = 1;
	r->line = config_setting_source_line(g);
	if (conf_check_keys(ctx, g, conf_redis_tls_keys) == -1 ||
	    conf_file(ctx, g, "ca_file", &r->ca, &r->ca_line) == -1 ||
	    conf_file(ctx, g, "certificate", &r->cert, &r->cert_line) == -1 ||
	    conf_file(ctx, g, "private_key", &r->key, &r->key_line) == -1 ||
	    conf_string(ctx, g, "server_name", &r->server_name) == -1 ||
	    conf_bool(ctx, g, "verify", &r->verify) == -1 ||
	    conf_tls_version(ctx, g, &r->min_version) == -1)
		return -1;
	if ((r->cert == NULL) != (r->key == NULL)) {
		conf_error(ctx, config_setting_get_member(g, r->cert != NULL ?
		    "certificate" : "private_key"), "'tls' in 'redis': a "
		    "client 'certificate' needs its 'private_key', and the "
		    "other way round");
		return -1;
	}
	return 0;
}
#else
/*
 * This build has no TLS to Redis: refused rather than ignored, so that no
 * one believes the link encrypted.
 */
int
conf_redis_tls(struct conf_ctx *ctx, struct conf *conf,
    const config_setting_t *g)
{
	conf_error(ctx, g, "'tls' in 'redis': this build of pubsubd has no "
	    "TLS to Redis: it is built with hiredis %s without hiredis_ssl "
	    "(TLS to Redis needs hiredis >= 1.0 with hiredis_ssl, found by "
	    "configure; Debian 12 has hiredis 0.14.1, without TLS); reach "
	    "Redis on loopback, a Unix socket 'path', or through a TLS tunnel",
	    PUBSUBD_HIREDIS_VERSION);
	return -1;
}
#endif

/* Reads an optional min_version ("TLSv1.2", "TLSv1.3") into *dst (12, 13). */
static int
conf_tls_version(struct conf_ctx *ctx, const config_setting_t *g, int *dst)
{
	char	*version = NULL;
	int	 rc = 0;

	if (conf_string(ctx, g, "min_version", &version) == -1)
		return -1;
	if (version == NULL)
		return 0;
	if (strcmp(version, "TLSv1.2") == 0)
		*dst = 12;
	else if (strcmp(version, "TLSv1.3") == 0)
		*dst = 13;
	else {
		conf_error(ctx, config_setting_get_member(g, "min_version"),
		    "'min_version' must be \"TLSv1.2\" or \"TLSv1.3\"; not "
		    "'%s'", version);
		rc = -1;
	}
	free(version);
	return rc;
}

/*
 * Reads the tls group. A certificate and its key are needed; asking for
 * clients' certificates needs the CA that signs them. Whether the files
 * hold what they should (PEM, a key that matches the certificate) is the
 * tls module's to say, when it loads them.
 */
int
conf_tls(struct conf_ctx *ctx, struct conf *conf, const config_setting_t *g)
{
	struct conf_tls		*t = &conf->tls;
	const config_setting_t	*s;
	char			*verify = NULL;
	int			 rc = -1;

	t->enabled = 1;
	t->line = config_setting_source_line(g);
	if (conf_check_keys(ctx, g, conf_tls_keys) == -1 ||
	    conf_file(ctx, g, "certificate", &t->cert, &t->cert_line) == -1 ||
	    conf_file(ctx, g, "private_key", &t->key, &t->key_line) == -1 ||
	    conf_file(ctx, g, "ca_file", &t->ca, &t->ca_line) == -1 ||
	    conf_string(ctx, g, "verify_clients", &verify) == -1 ||
	    conf_tls_version(ctx, g, &t->min_version) == -1 ||
	    conf_string(ctx, g, "ciphers", &t->ciphers) == -1 ||
	    conf_string(ctx, g, "ciphersuites", &t->ciphersuites) == -1 ||
	    conf_int(ctx, g, "handshake_timeout", 100, 3600000,
	    &t->handshake_timeout) == -1 ||
	    conf_bool(ctx, g, "ktls", &t->ktls) == -1)
		goto out;
	if ((s = config_setting_get_member(g, "ciphers")) != NULL)
		t->ciphers_line = config_setting_source_line(s);
	if ((s = config_setting_get_member(g, "ciphersuites")) != NULL)
		t->ciphersuites_line = config_setting_source_line(s);
	if (t->cert == NULL || t->key == NULL) {
		conf_error(ctx, g, "'tls' needs a 'certificate' and a "
		    "'private_key'");
		goto out;
	}
	if (verify == NULL || strcmp(verify, "no") == 0)
		t->verify = CONF_VERIFY_NO;
	else if (strcmp(verify, "optional") == 0)
		t->verify = CONF_VERIFY_OPTIONAL;
	else if (strcmp(verify, "required") == 0)
		t->verify = CONF_VERIFY_REQUIRED;
	else {
		conf_error(ctx, config_setting_get_member(g, "verify_clients"),
		    "'verify_clients' must be \"no\", \"optional\" or "
		    "\"required\"; not '%s'", verify);
		goto out;
	}
	if (t->verify != CONF_VERIFY_NO && t->ca == NULL) {
		conf_error(ctx, config_setting_get_member(g, "verify_clients"),
		    "'verify_clients' \"%s\" needs a 'ca_file' to check "
		    "clients' certificates against", verify);
		goto out;
	}
	rc = 0;
out:
	free(verify);
	return rc;
}
