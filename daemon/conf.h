/*
 * conf.h: the configuration, read from a libconfig file into a validated
 * struct conf. Loading parses into a new struct and validates all of it, so
 * a bad file never replaces a good configuration (the caller swaps).
 */
#ifndef PUBSUBD_CONF_H
#define PUBSUBD_CONF_H

#include <stddef.h>

#include "log.h"

struct acl;

#define CONF_DEFAULT_LISTEN_HOST	"127.0.0.1"
#define CONF_DEFAULT_LISTEN_PORT	6479
#define CONF_DEFAULT_REDIS_HOST		"127.0.0.1"
#define CONF_DEFAULT_REDIS_PORT		6379
#define CONF_DEFAULT_METRICS_HOST	"127.0.0.1"
#define CONF_DEFAULT_METRICS_PORT	9479
#define CONF_DEFAULT_METRICS_PATH	"/metrics"

/* The most worker processes `workers` may ask for. */
#define CONF_WORKERS_MAX		64

/* sysexits.h' EX_CONFIG: the exit status for a bad configuration file. */
#define CONF_EXIT_BAD	78

/*
 * One listen entry: a TCP address (host and port) or a Unix socket (path
 * and mode); exactly one of host and path is set.
 */
struct conf_listen {
	char	*host;		/* owned; an address or name, IPv4 or IPv6 */
	int	 port;		/* 0 picks a free port */
	char	*path;		/* owned; a Unix socket's absolute path */
	int	 mode;		/* its permission bits, 0 to 0777 */
	int	 tls;		/* clients speak TLS (the tls group's) */
	int	 http;		/* protocol = "http": WebSocket and SSE */
	int	 backlog;	/* listen(2)'s; the kernel caps it at somaxconn */
	unsigned int line;	/* of the entry in the file; 0: a default */
};

/* Redis' tcp-backlog default; at most 65535, as the kernel keeps it. */
#define CONF_DEFAULT_LISTEN_BACKLOG	511
#define CONF_LISTEN_BACKLOG_MAX		65535

/* Whether and how clients' certificates are asked for (tls.verify_clients). */
enum conf_verify {
	CONF_VERIFY_NO = 0,	/* never asked for */
	CONF_VERIFY_OPTIONAL,	/* asked for; one sent must be valid */
	CONF_VERIFY_REQUIRED	/* a valid one is needed */
};

/*
 * The tls group: the server's certificate and key, and what clients must
 * show. The files are only named here (and checked to be readable); the
 * tls module loads them, and reports what is wrong with them at the line
 * kept for each (0: not set in the file).
 */
struct conf_tls {
	int		 enabled;	/* the group is there */
	char		*cert;		/* owned: PEM, the chain after it */
	char		*key;		/* owned: PEM */
	char		*ca;		/* owned, or NULL: PEM, for clients */
	enum conf_verify verify;
	int		 min_version;	/* 12: TLSv1.2, 13: TLSv1.3 */
	char		*ciphers;	/* owned, or NULL: OpenSSL's */
	char		*ciphersuites;	/* owned, or NULL: OpenSSL's */
	int		 handshake_timeout;	/* ms */
	int		 ktls;		/* let the kernel encrypt records
					   where it can (SSL_OP_ENABLE_KTLS) */
	unsigned int	 line;		/* of the group */
	unsigned int	 cert_line, key_line, ca_line, ciphers_line,
			 ciphersuites_line;
};

#define CONF_DEFAULT_TLS_HANDSHAKE_TIMEOUT	10000

/*
 * The redis.tls group: TLS on every connection pubsubd opens to Redis
 * (builds with hiredis_ssl only; others refuse the group). Like the tls
 * group, it names files and keeps their lines; the tls module loads them.
 */
struct conf_rtls {
	int		 enabled;	/* the group is there */
	char		*ca;		/* owned, or NULL: the system's CAs */
	char		*cert;		/* owned, or NULL: no client certificate */
	char		*key;		/* owned; set exactly when cert is */
	char		*server_name;	/* owned, or NULL: redis.host */
	int		 verify;	/* check Redis' certificate and name */
	int		 min_version;	/* 12: TLSv1.2, 13: TLSv1.3 */
	unsigned int	 line;		/* of the group */
	unsigned int	 ca_line, cert_line, key_line;
};

#define CONF_DEFAULT_UNIX_MODE		0660
#define CONF_DEFAULT_SYSLOG_FACILITY	"daemon"
#define CONF_DEFAULT_SYSLOG_IDENT	"pubsubd"

/* Limits on clients (Redis' defaults, for its pubsub client class). */
struct conf_limits {
	int		maxclients;
	long long	output_hard;		/* bytes; 0: none */
	long long	output_soft;		/* bytes; 0: none */
	int		output_soft_seconds;
	long long	query_buffer;		/* bytes */
	long long	multibulk_max;		/* elements of one request */
	long long	bulk_max;		/* bytes of one argument */
	int		max_subscriptions;	/* per client; 0: none */
	int		idle_timeout;		/* seconds; 0: off */
	int		tcp_keepalive;		/* seconds; 0: off */
};

/*
 * The Prometheus endpoint. Off by default: it is one more listening socket,
 * and two pubsubd on one host (or anything already on the port) would
 * collide on a fixed default port; enabling it is one line.
 */
struct conf_metrics {
	int	 enabled;
	char	*host;		/* owned */
	int	 port;		/* 0 picks a free port */
	char	*path;		/* owned; '/' and URL-safe characters */
};

/* One node's address, from "host:port" or "[v6]:port". */
struct conf_node {
	char	*host;		/* owned */
	int	 port;
};

/*
 * The redis.sentinel group: Redis is the master that these sentinels name,
 * followed through failovers, in place of redis.host, port and path.
 */
#define CONF_SENTINEL_NODES_MAX	64	/* UPSTREAM_SENTINEL_MAX */

struct conf_sentinel {
	char		 *master;	/* owned, or NULL: no sentinel */
	struct conf_node *nodes;	/* owned array of nnodes (>= 1) */
	size_t		  nnodes;
	char		 *username;	/* owned, or NULL: the sentinels' */
	char		 *password;	/* owned, or NULL: no AUTH */
};

/*
 * The redis.cluster group: Redis is a Redis Cluster, first reached through
 * these seed nodes (the rest is learnt from its slot map), in place of
 * redis.host, port and path.
 */
#define CONF_CLUSTER_NODES_MAX	64

struct conf_cluster {
	struct conf_node *nodes;	/* owned array of nnodes; NULL and 0:
					   no cluster */
	size_t		  nnodes;
};

/* What the web listeners (protocol = "http") share: the http group. */
struct conf_http {
	char	**origins;	/* owned: norigins Origin values allowed
				   ("*": any); none: the request's own Host */
	size_t	  norigins;
	int	  keepalive;	/* s between an SSE stream's comments; 0: none */
	int	  header_max;	/* bytes a request head may take */
	int	  request_timeout;	/* ms a client has to send its head */
	long long message_max;	/* bytes of a WebSocket message */
	int	  message_rate;	/* WebSocket messages a second; 0: any */
	int	  page;		/* serve the built-in page at GET / */
	char	 *ticket_secret;	/* owned: signs login tickets, or NULL */
};

#define CONF_HTTP_ORIGINS_MAX	256

struct conf {
	struct conf_listen	*listen;	/* owned array of nlisten */
	size_t			 nlisten;
	char			*redis_host;	/* owned */
	int			 redis_port;
	char			*redis_path;	/* owned; a Unix socket, or NULL */
	char			*redis_username;	/* owned, or NULL */
	char			*redis_password;	/* owned, or NULL */
	struct conf_rtls	 redis_tls;
	struct conf_sentinel	 redis_sentinel;
	struct conf_cluster	 redis_cluster;
	int			 connect_timeout;	/* ms */
	int			 backoff_min;		/* ms */
	int			 backoff_max;		/* ms */
	int			 health_interval;	/* ms; 0: off */
	int			 health_timeout;	/* ms of silence: hung */
	int			 command_timeout;	/* ms */
	struct conf_limits	 limits;
	int			 shutdown_timeout;	/* ms */
	int			 ready_timeout;	/* ms to wait for Redis before
						   READY=1; 0: don't wait */
	enum log_level		 log_level;
	int			 log_syslog;	/* to syslog(3), not stderr */
	int			 log_facility;	/* LOG_DAEMON, ... */
	char			*log_ident;	/* owned */
	int			 passthrough;	/* forward other commands */
	struct conf_metrics	 metrics;
	char			*pidfile;	/* owned, or NULL: none */
	int			 workers;	/* event loops, each its own
						   process; 1: no supervisor */
	struct acl		*acl;		/* owned, never NULL: the users,
						   or the open set if none */
	int			 protected_mode;	/* refuse non-loopback
						   listeners without a
						   password */
	struct conf_tls		 tls;
	struct conf_http	 http;
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

/*
 * Whether two redis.sentinel groups are the same (both off, or the same
 * master, sentinels in the same order, and credentials): a reload cannot
 * change them.
 */
int		 conf_sentinel_same(const struct conf_sentinel *a,
		    const struct conf_sentinel *b);

/* The same for redis.cluster: its seeds, in order. */
int		 conf_cluster_same(const struct conf_cluster *a,
		    const struct conf_cluster *b);

#endif /* PUBSUBD_CONF_H */
