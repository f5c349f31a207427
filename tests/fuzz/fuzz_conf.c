/*
 * fuzz_conf.c: a libFuzzer target for conf_load() in daemon/conf.c.
 *
 * Each input is written to one file in a private directory, made with
 * mkdtemp(3) once and removed at exit, and loaded from there. A
 * configuration that loads must be one conf.h allows (at least one listen
 * address, no empty host name, ports and log level in range, a metrics
 * endpoint that is no listen address) and is freed;
 * a load that fails must leave a NUL-terminated error that starts with the
 * file's name and a ':'. A broken rule prints what broke and calls abort(),
 * a crash to libFuzzer.
 *
 * Inputs holding "@include" are skipped. An include reads a file the input
 * names: a directory there makes libconfig's flex scanner print "input in
 * flex scanner failed" and exit(2) from inside config_read() (libconfig's
 * fault; conf.c can only guard the top-level file, and does), /dev/stdin
 * would block, and an error inside an included file is rightly reported
 * under that file's name, not ours.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"

#define FUZZ_ASSERT(cond) do {						\
	if (!(cond))							\
		fuzz_fail(__LINE__, #cond);				\
} while (0)

static char	fuzz_dir[4096];		/* the private directory */
static char	fuzz_path[4096];	/* the file in it */

int		LLVMFuzzerInitialize(int *, char ***);
int		LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void	fuzz_fail(int, const char *) __attribute__((noreturn));
static void	fuzz_cleanup(void);
static void	fuzz_write(const uint8_t *, size_t);
static void	fuzz_check_conf(const struct conf *);

/* Reports a broken invariant and aborts. */
static void
fuzz_fail(int line, const char *what)
{
	fprintf(stderr, "fuzz_conf.c:%d: invariant broken: %s\n", line, what);
	abort();
}

/* Removes the file and the private directory (at exit). */
static void
fuzz_cleanup(void)
{
	if (fuzz_path[0] != '\0')
		unlink(fuzz_path);
	if (fuzz_dir[0] != '\0')
		rmdir(fuzz_dir);
}

/* Makes the private directory, once, before the first input. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char	*tmp;

	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = "/tmp";
	if ((size_t)snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/fuzz_conf.XXXXXX",
	    tmp) >= sizeof(fuzz_dir) - 16 || mkdtemp(fuzz_dir) == NULL) {
		fprintf(stderr, "fuzz_conf: mkdtemp in %s: %s\n", tmp,
		    strerror(errno));
		exit(1);
	}
	snprintf(fuzz_path, sizeof(fuzz_path), "%s/fuzz.conf", fuzz_dir);
	atexit(fuzz_cleanup);
	return 0;
}

/* Replaces the file's contents with the len bytes at p. */
static void
fuzz_write(const uint8_t *p, size_t len)
{
	ssize_t	 n;
	int	 fd;

	if ((fd = open(fuzz_path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1) {
		fprintf(stderr, "fuzz_conf: %s: %s\n", fuzz_path,
		    strerror(errno));
		abort();
	}
	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "fuzz_conf: write %s: %s\n",
			    fuzz_path, strerror(errno));
			abort();
		}
		p += n;
		len -= (size_t)n;
	}
	close(fd);
}

/* Checks that a loaded configuration is one that conf.h allows. */
static void
fuzz_check_conf(const struct conf *conf)
{
	size_t	 i;

	FUZZ_ASSERT(conf->nlisten > 0 && conf->listen != NULL);
	for (i = 0; i < conf->nlisten; i++) {
		/* Exactly one of a TCP address and a Unix socket path. */
		FUZZ_ASSERT((conf->listen[i].host == NULL) !=
		    (conf->listen[i].path == NULL));
		if (conf->listen[i].path != NULL) {
			FUZZ_ASSERT(conf->listen[i].path[0] == '/');
			FUZZ_ASSERT(strlen(conf->listen[i].path) < 108);
			FUZZ_ASSERT(conf->listen[i].mode >= 0 &&
			    conf->listen[i].mode <= 0777);
			continue;
		}
		FUZZ_ASSERT(conf->listen[i].host[0] != '\0');
		FUZZ_ASSERT(conf->listen[i].port >= 0 &&
		    conf->listen[i].port <= 65535);
	}
	FUZZ_ASSERT(conf->redis_host != NULL && conf->redis_host[0] != '\0');
	FUZZ_ASSERT(conf->redis_port >= 1 && conf->redis_port <= 65535);
	FUZZ_ASSERT(conf->log_level >= LOG_LEVEL_ERROR &&
	    conf->log_level <= LOG_LEVEL_DEBUG);
	FUZZ_ASSERT(conf->passthrough == 0 || conf->passthrough == 1);
	FUZZ_ASSERT(conf->redis_path == NULL || conf->redis_path[0] == '/');
	FUZZ_ASSERT(conf->redis_username == NULL ||
	    conf->redis_password != NULL);
	FUZZ_ASSERT(conf->log_ident != NULL && conf->log_ident[0] != '\0' &&
	    strlen(conf->log_ident) < LOG_IDENT_MAX);
	FUZZ_ASSERT(conf->log_facility >= 0);
	/* The metrics endpoint: a TCP address that no listen entry has. */
	FUZZ_ASSERT(conf->metrics.enabled == 0 || conf->metrics.enabled == 1);
	FUZZ_ASSERT(conf->metrics.host != NULL &&
	    conf->metrics.host[0] != '\0');
	FUZZ_ASSERT(conf->metrics.port >= 0 && conf->metrics.port <= 65535);
	FUZZ_ASSERT(conf->metrics.path != NULL &&
	    conf->metrics.path[0] == '/' && strlen(conf->metrics.path) <= 256 &&
	    strspn(conf->metrics.path, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789/-._~") ==
	    strlen(conf->metrics.path));
	if (conf->metrics.enabled && conf->metrics.port != 0) {
		for (i = 0; i < conf->nlisten; i++)
			FUZZ_ASSERT(conf->listen[i].host == NULL ||
			    conf->listen[i].port != conf->metrics.port ||
			    strcmp(conf->listen[i].host,
			    conf->metrics.host) != 0);
	}
}

/* The libFuzzer entry point: writes the input and loads it. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf	*conf;
	char		 err[1024];
	size_t		 plen;

	if (memmem(data, size, "@include", 8) != NULL)
		return 0;
	fuzz_write(data, size);
	memset(err, 0xa5, sizeof(err));
	if ((conf = conf_load(fuzz_path, err, sizeof(err))) != NULL) {
		fuzz_check_conf(conf);
		conf_free(conf);
		return 0;
	}
	plen = strlen(fuzz_path);
	FUZZ_ASSERT(memchr(err, '\0', sizeof(err)) != NULL);
	FUZZ_ASSERT(strncmp(err, fuzz_path, plen) == 0 && err[plen] == ':');
	return 0;
}
