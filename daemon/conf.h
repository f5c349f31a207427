/*
 * conf.h: the configuration, read from a libconfig file into a validated
 * struct conf. Loading parses into a new struct and validates all of it, so
 * a bad file never replaces a good configuration (the caller swaps).
 */
#ifndef PUBSUBD_CONF_H
#define PUBSUBD_CONF_H

#include <stddef.h>

#include "log.h"

#define CONF_DEFAULT_LISTEN_HOST	"127.0.0.1"
#define CONF_DEFAULT_LISTEN_PORT	6479
#define CONF_DEFAULT_REDIS_HOST		"127.0.0.1"
#define CONF_DEFAULT_REDIS_PORT		6379

/* sysexits.h' EX_CONFIG: the exit status for a bad configuration file. */
#define CONF_EXIT_BAD	78

struct conf_listen {
	char	*host;		/* owned; an address or name, IPv4 or IPv6 */
	int	 port;		/* 0 picks a free port */
};

struct conf {
	struct conf_listen	*listen;	/* owned array of nlisten */
	size_t			 nlisten;
	char			*redis_host;	/* owned */
	int			 redis_port;
	enum log_level		 log_level;
	int			 passthrough;	/* forward other commands */
};

/* Returns a configuration holding the built-in defaults, or NULL. */
struct conf	*conf_new_defaults(void);

/*
 * Reads and validates path. Returns a new configuration owned by the caller,
 * or NULL with a "FILE:LINE: message" (or "FILE: message") in err.
 */
struct conf	*conf_load(const char *path, char *err, size_t errlen);

/* Frees a configuration (NULL is ignored). */
void		 conf_free(struct conf *conf);

#endif /* PUBSUBD_CONF_H */
