/*
 * supervise.h: `workers` above 1. The process pubsubd started as becomes a
 * supervisor that serves no client: it starts the workers, each a full
 * pubsubd (its own event loop, hub, clients and connections to Redis) in
 * a process of its own, started again from the same binary; it owns the
 * pid file and the talk with systemd, passes SIGHUP (once it checked the
 * file) and SIGTERM/SIGINT on, restarts a worker that dies (with a backoff)
 * and exits once every worker has stopped.
 *
 * A worker learns what it is from the environment the supervisor sets
 * (PUBSUBD_WORKER, PUBSUBD_WORKER_FDS; internal, not an interface), reads
 * the same configuration file, binds the TCP addresses with SO_REUSEPORT,
 * and tells the supervisor it is ready through a pipe.
 */
#ifndef PUBSUBD_SUPERVISE_H
#define PUBSUBD_SUPERVISE_H

struct conf;

/*
 * Runs the supervisor of conf->workers workers until they all stopped.
 * Takes ownership of conf. path is the configuration file (NULL: the
 * defaults; borrowed), argv the command line to start each worker with
 * (borrowed), first .. first + npassed - 1 the sockets systemd passed
 * (owned; every worker serves them all). Returns the exit status: 0 after
 * a stop by signal, 1 if a worker could not start.
 */
int	supervise_run(struct conf *conf, const char *path, char *argv[],
	    int first, int npassed);

/*
 * In a worker, reads and removes what the supervisor put in the
 * environment: *worker (its index, 0 ..), *nworkers, *readyfd (the pipe to
 * tell it "ready", owned by the caller), and the inherited systemd sockets
 * (*first, *npassed; unchanged if none). Outside a worker, sets nothing
 * and returns 0. Returns -1 (logged) if the environment is malformed.
 */
int	supervise_worker_env(int *worker, int *nworkers, int *readyfd,
	    int *first, int *npassed);

/*
 * In a worker, once its own handlers are in place: lets the signals the
 * supervisor held through the start (SIGTERM, SIGINT, SIGHUP) through; one
 * sent meanwhile is handled now.
 */
void	supervise_worker_signals(void);

#endif /* PUBSUBD_SUPERVISE_H */
