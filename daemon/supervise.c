/*
 * supervise.c: the supervisor of `workers` processes (see supervise.h).
 *
 * Why processes and not threads: every module is written for one event
 * loop and one thread (no locks on the hot path); a worker process is the
 * daemon exactly as it runs alone, so workers = 1 and workers = N share
 * every line of the data path. Why exec and not only fork: the supervisor
 * runs its own libevent loop, and a forked child would share its epoll
 * instance and signal pipe; a fresh image of the same binary shares
 * nothing but the sockets it is meant to.
 *
 * A worker starts with PR_SET_PDEATHSIG, so a supervisor killed outright
 * takes its workers with it (they drain as on SIGTERM). Each worker's
 * start is a pipe read here: "R" when it is ready, EOF when it is gone.
 * A worker that dies before every worker was ready once fails the start
 * (as a lone pubsubd that cannot bind does); later, it is restarted after
 * a backoff (1 s doubling to 30 s; back to 1 s after it ran a minute).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <event2/event.h>

#include "conf.h"
#include "endpoint.h"
#include "log.h"
#include "service.h"
#include "supervise.h"

#define SUPERVISE_ENV		"PUBSUBD_WORKER"
#define SUPERVISE_ENV_FDS	"PUBSUBD_WORKER_FDS"
#define SUPERVISE_BACKOFF_MIN	1000	/* ms before the first restart */
#define SUPERVISE_BACKOFF_MAX	30000	/* the cap of its doubling */
#define SUPERVISE_STABLE_SEC	60	/* a run this long resets it */
#define SUPERVISE_KILL_GRACE	5000	/* ms past shutdown.timeout */

struct supervise;

/* One worker slot; its process comes and goes. */
struct supervise_worker {
	struct supervise	*w_sv;		/* borrowed: the owner */
	int			 w_index;
	pid_t			 w_pid;		/* 0: not running */
	int			 w_readyfd;	/* owned: read end, or -1 */
	struct event		*w_ready_ev;	/* owned, or NULL */
	struct event		*w_restart_ev;	/* owned: the backoff timer */
	int			 w_ready;	/* said "R" since its start */
	int			 w_backoff;	/* ms before the next restart */
	time_t			 w_started;	/* monotonic seconds */
	unsigned long long	 w_restarts;
};

struct supervise {
	struct event_base	*sv_base;	/* owned */
	struct conf		*sv_conf;	/* owned */
	const char		*sv_path;	/* borrowed, or NULL */
	char			**sv_argv;	/* borrowed */
	int			 sv_first;	/* systemd's sockets */
	int			 sv_npassed;
	struct service		*sv_svc;	/* owned */
	struct supervise_worker	*sv_workers;	/* owned array of sv_n */
	int			 sv_n;
	int			 sv_running;	/* processes alive */
	int			 sv_all_ready;	/* every worker was ready once */
	int			 sv_stopping;
	int			 sv_status;	/* the exit status */
	struct event		*sv_sig_ev[4];	/* owned: TERM, INT, HUP, CHLD */
	struct event		*sv_kill_ev;	/* owned: the stop's deadline */
	char			 sv_exe[PATH_MAX];	/* this binary */
};

static int	supervise_spawn(struct supervise_worker *);
static void	supervise_ready_cb(evutil_socket_t, short, void *);
static void	supervise_close_ready(struct supervise_worker *);
static void	supervise_restart_cb(evutil_socket_t, short, void *);
static void	supervise_signal_cb(evutil_socket_t, short, void *);
static void	supervise_reload(struct supervise *);
static void	supervise_stop(struct supervise *, int, int);
static void	supervise_reap(struct supervise *);
static void	supervise_exited(struct supervise_worker *, int);
static void	supervise_kill_cb(evutil_socket_t, short, void *);
static void	supervise_status(void *, char *, size_t);
static void	supervise_signal_all(struct supervise *, int);
static time_t	supervise_now(void);

/* Seconds of a monotonic clock. */
static time_t
supervise_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* Reads the supervisor's environment in a worker; see supervise.h. */
int
supervise_worker_env(int *worker, int *nworkers, int *readyfd, int *first,
    int *npassed)
{
	const char	*e = getenv(SUPERVISE_ENV), *f = getenv(SUPERVISE_ENV_FDS);
	int		 w, n, fd, a, b;

	if (e == NULL)
		return 0;
	if (sscanf(e, "%d/%d/%d", &w, &n, &fd) != 3 || n < 2 ||
	    n > CONF_WORKERS_MAX || w < 0 || w >= n || fd < 3) {
		log_warnx("%s=%s: not what a supervisor sets", SUPERVISE_ENV,
		    e);
		return -1;
	}
	if (f != NULL && (sscanf(f, "%d/%d", &a, &b) != 2 || a < 3 ||
	    b < 1)) {
		log_warnx("%s=%s: not what a supervisor sets",
		    SUPERVISE_ENV_FDS, f);
		return -1;
	}
	if (f != NULL) {
		*first = a;
		*npassed = b;
	}
	*worker = w;
	*nworkers = n;
	*readyfd = fd;
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	unsetenv(SUPERVISE_ENV);
	unsetenv(SUPERVISE_ENV_FDS);
	return 0;
}

/*
 * Starts worker w's process: a pipe for its "ready", then fork and exec
 * of this very binary with the same command line. Returns 0, or -1
 * (logged) if no process could be made.
 */
static int
supervise_spawn(struct supervise_worker *w)
{
	struct supervise	*sv = w->w_sv;
	sigset_t		 held;
	char			 env[64];
	int			 p[2], i;
	pid_t			 pid, parent = getpid();

	if (pipe2(p, O_CLOEXEC) == -1) {
		log_warn("worker %d: pipe", w->w_index);
		return -1;
	}
	if ((pid = fork()) == -1) {
		log_warn("worker %d: fork", w->w_index);
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		/* The child: only what exec needs, then the new image. */
		close(p[0]);
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 ||
		    getppid() != parent)
			_exit(1);	/* the supervisor is gone already */
		(void)fcntl(p[1], F_SETFD, 0);
		snprintf(env, sizeof(env), "%d/%d/%d", w->w_index, sv->sv_n,
		    p[1]);
		setenv(SUPERVISE_ENV, env, 1);
		if (sv->sv_npassed > 0) {
			for (i = 0; i < sv->sv_npassed; i++)
				(void)fcntl(sv->sv_first + i, F_SETFD, 0);
			snprintf(env, sizeof(env), "%d/%d", sv->sv_first,
			    sv->sv_npassed);
			setenv(SUPERVISE_ENV_FDS, env, 1);
		}
		/* systemd hears the supervisor only. */
		unsetenv("NOTIFY_SOCKET");
		unsetenv("WATCHDOG_USEC");
		unsetenv("WATCHDOG_PID");
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		/*
		 * Held until the worker handles them (the mask outlives
		 * exec): a stop or reload passed on while it starts must
		 * not kill it with their default action.
		 */
		sigemptyset(&held);
		sigaddset(&held, SIGTERM);
		sigaddset(&held, SIGINT);
		sigaddset(&held, SIGHUP);
		sigprocmask(SIG_BLOCK, &held, NULL);
		execv(sv->sv_exe, sv->sv_argv);
		fprintf(stderr, "pubsubd: worker %d: cannot run %s: %s\n",
		    w->w_index, sv->sv_exe, strerror(errno));
		_exit(127);
	}
	close(p[1]);
	w->w_pid = pid;
	w->w_ready = 0;
	w->w_readyfd = p[0];
	w->w_started = supervise_now();
	sv->sv_running++;
	w->w_ready_ev = event_new(sv->sv_base, p[0], EV_READ | EV_PERSIST,
	    supervise_ready_cb, w);
	if (w->w_ready_ev == NULL || event_add(w->w_ready_ev, NULL) == -1)
		log_warnx("worker %d: cannot watch its start; it is served "
		    "all the same", w->w_index);
	log_info("worker %d started (pid %ld)", w->w_index, (long)pid);
	return 0;
}

/* Stops watching worker w's ready pipe and closes it. */
static void
supervise_close_ready(struct supervise_worker *w)
{
	if (w->w_ready_ev != NULL) {
		event_free(w->w_ready_ev);
		w->w_ready_ev = NULL;
	}
	if (w->w_readyfd != -1) {
		close(w->w_readyfd);
		w->w_readyfd = -1;
	}
}

/* Worker w said "R" (ready) or closed its pipe. */
static void
supervise_ready_cb(evutil_socket_t fd, short what, void *arg)
{
	struct supervise_worker	*w = arg;
	struct supervise	*sv = w->w_sv;
	char			 c;
	ssize_t			 n;
	int			 i;

	if ((n = read(fd, &c, 1)) == -1 && (errno == EAGAIN ||
	    errno == EINTR))
		return;
	supervise_close_ready(w);
	if (n != 1 || c != 'R')
		return;		/* it died: SIGCHLD tells */
	w->w_ready = 1;
	log_info("worker %d (pid %ld) is ready", w->w_index, (long)w->w_pid);
	if (sv->sv_all_ready)
		return;
	for (i = 0; i < sv->sv_n; i++)
		if (!sv->sv_workers[i].w_ready)
			return;
	sv->sv_all_ready = 1;
	log_notice("all %d workers are ready", sv->sv_n);
	service_upstream(sv->sv_svc, 1);
}

/* The backoff of worker w passed: start it again. */
static void
supervise_restart_cb(evutil_socket_t fd, short what, void *arg)
{
	struct supervise_worker	*w = arg;

	if (w->w_sv->sv_stopping || w->w_pid != 0)
		return;
	w->w_restarts++;
	if (supervise_spawn(w) == -1)
		supervise_exited(w, -1);	/* try again, later */
}

/*
 * Worker w's process is gone (status from waitpid, or -1: it could not be
 * started): while stopping, one fewer to wait for; during the start, the
 * start fails; otherwise it is started again after its backoff.
 */
static void
supervise_exited(struct supervise_worker *w, int status)
{
	struct supervise	*sv = w->w_sv;
	struct timeval		 tv;

	if (sv->sv_stopping) {
		if (sv->sv_running == 0)
			event_base_loopbreak(sv->sv_base);
		return;
	}
	if (!sv->sv_all_ready) {
		log_warnx("worker %d failed to start: stopping the others",
		    w->w_index);
		supervise_stop(sv, SIGTERM, 1);
		return;
	}
	if (status != -1 && supervise_now() - w->w_started >=
	    SUPERVISE_STABLE_SEC)
		w->w_backoff = SUPERVISE_BACKOFF_MIN;
	tv.tv_sec = w->w_backoff / 1000;
	tv.tv_usec = (w->w_backoff % 1000) * 1000;
	log_warnx("worker %d: its clients are lost; restarting it in %d ms",
	    w->w_index, w->w_backoff);
	if (evtimer_add(w->w_restart_ev, &tv) == -1)
		log_warnx("worker %d: cannot schedule its restart",
		    w->w_index);
	w->w_backoff = w->w_backoff * 2 > SUPERVISE_BACKOFF_MAX ?
	    SUPERVISE_BACKOFF_MAX : w->w_backoff * 2;
}

/* Collects every worker that ended, and logs how. */
static void
supervise_reap(struct supervise *sv)
{
	struct supervise_worker	*w;
	pid_t			 pid;
	int			 status, i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0, w = NULL; i < sv->sv_n; i++)
			if (sv->sv_workers[i].w_pid == pid)
				w = &sv->sv_workers[i];
		if (w == NULL)
			continue;
		w->w_pid = 0;
		sv->sv_running--;
		supervise_close_ready(w);
		if (WIFSIGNALED(status))
			log_warnx("worker %d (pid %ld) was killed by signal %d",
			    w->w_index, (long)pid, WTERMSIG(status));
		else if (WEXITSTATUS(status) != 0 || !sv->sv_stopping)
			log_warnx("worker %d (pid %ld) exited with status %d",
			    w->w_index, (long)pid, WEXITSTATUS(status));
		else
			log_info("worker %d (pid %ld) stopped", w->w_index,
			    (long)pid);
		supervise_exited(w, status);
	}
}

/* Sends sig to every running worker. */
static void
supervise_signal_all(struct supervise *sv, int sig)
{
	int	i;

	for (i = 0; i < sv->sv_n; i++)
		if (sv->sv_workers[i].w_pid > 0 &&
		    kill(sv->sv_workers[i].w_pid, sig) == -1 && errno != ESRCH)
			log_warn("worker %d: kill %d", i, sig);
}

/*
 * Stops: no more restarts, sig to every worker (they drain their clients
 * for up to shutdown.timeout), and a deadline past which the stragglers
 * are killed. status is what the supervisor will exit with.
 */
static void
supervise_stop(struct supervise *sv, int sig, int status)
{
	struct timeval	tv;
	int		ms = sv->sv_conf->shutdown_timeout +
			    SUPERVISE_KILL_GRACE, i;

	if (sv->sv_stopping) {
		supervise_signal_all(sv, sig);	/* theirs: "stop now" */
		return;
	}
	sv->sv_stopping = 1;
	sv->sv_status = status;
	service_stopping(sv->sv_svc);
	for (i = 0; i < sv->sv_n; i++)
		evtimer_del(sv->sv_workers[i].w_restart_ev);
	if (sv->sv_running == 0) {
		event_base_loopbreak(sv->sv_base);
		return;
	}
	supervise_signal_all(sv, sig);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if (evtimer_add(sv->sv_kill_ev, &tv) == -1)
		log_warnx("cannot set the stop's deadline");
}

/* The stop's deadline passed with workers left: kill them. */
static void
supervise_kill_cb(evutil_socket_t fd, short what, void *arg)
{
	struct supervise	*sv = arg;

	log_warnx("%d worker%s still running %d ms after the stop: killing",
	    sv->sv_running, sv->sv_running == 1 ? "" : "s",
	    sv->sv_conf->shutdown_timeout + SUPERVISE_KILL_GRACE);
	supervise_signal_all(sv, SIGKILL);
}

/*
 * SIGHUP: checks the file first; a bad one is logged and reaches no
 * worker. A good one is passed on: each worker reads it again and applies
 * it live as a lone pubsubd does. `workers` itself takes effect at the
 * next start.
 */
static void
supervise_reload(struct supervise *sv)
{
	struct conf	*nc;
	char		 err[1024];

	service_reloading(sv->sv_svc);
	if (sv->sv_path == NULL || sv->sv_stopping) {
		log_notice("SIGHUP: %s", sv->sv_stopping ? "stopping, not "
		    "reloading" : "no configuration file to reload");
		goto done;
	}
	if ((nc = conf_load(sv->sv_path, err, sizeof(err))) == NULL) {
		log_warnx("reload failed, keeping the running configuration "
		    "(not passed to the workers): %s", err);
		goto done;
	}
	if (nc->workers != sv->sv_n)
		log_warnx("reload: 'workers' is now %d: it takes effect at the "
		    "next start (%d workers run)", nc->workers, sv->sv_n);
	log_set_level(nc->log_level);
	log_set_syslog(nc->log_syslog, nc->log_facility, nc->log_ident);
	conf_free(sv->sv_conf);
	sv->sv_conf = nc;
	log_notice("configuration checked: passing SIGHUP to the workers");
	supervise_signal_all(sv, SIGHUP);
done:
	service_reloaded(sv->sv_svc);
}

/* A signal for the supervisor, from the loop. */
static void
supervise_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct supervise	*sv = arg;

	switch (sig) {
	case SIGCHLD:
		supervise_reap(sv);
		break;
	case SIGHUP:
		supervise_reload(sv);
		break;
	default:
		log_notice("received signal %d, %s", (int)sig,
		    sv->sv_stopping ? "telling the workers to stop now" :
		    "stopping the workers");
		supervise_stop(sv, (int)sig, sv->sv_stopping ?
		    sv->sv_status : 0);
		break;
	}
}

/* The STATUS= text systemd shows for the supervisor. */
static void
supervise_status(void *arg, char *buf, size_t len)
{
	struct supervise	*sv = arg;
	unsigned long long	 restarts = 0;
	int			 i, ready = 0;

	for (i = 0; i < sv->sv_n; i++) {
		restarts += sv->sv_workers[i].w_restarts;
		ready += sv->sv_workers[i].w_pid > 0 &&
		    sv->sv_workers[i].w_ready;
	}
	snprintf(buf, len, "%d workers: %d running, %d ready; %llu "
	    "restart%s", sv->sv_n, sv->sv_running, ready, restarts,
	    restarts == 1 ? "" : "s");
}

/* The supervisor's life; see supervise.h. */
int
supervise_run(struct conf *conf, const char *path, char *argv[], int first,
    int npassed)
{
	static const int	 sigs[4] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD };
	struct supervise	 sv;
	struct supervise_worker	*w;
	char			 redis[ENDPOINT_NAME_MAX];
	int			 i, status;
	ssize_t			 n;

	memset(&sv, 0, sizeof(sv));
	/* The binary by its name (ps shows it), found once: it may move. */
	if ((n = readlink("/proc/self/exe", sv.sv_exe,
	    sizeof(sv.sv_exe) - 1)) <= 0)
		snprintf(sv.sv_exe, sizeof(sv.sv_exe), "/proc/self/exe");
	else
		sv.sv_exe[n] = '\0';
	sv.sv_conf = conf;
	sv.sv_path = path;
	sv.sv_argv = argv;
	sv.sv_first = first;
	sv.sv_npassed = npassed;
	sv.sv_n = conf->workers;
	log_set_level(conf->log_level);
	log_set_syslog(conf->log_syslog, conf->log_facility, conf->log_ident);
	if ((sv.sv_base = event_base_new()) == NULL ||
	    (sv.sv_svc = service_new(sv.sv_base, supervise_status,
	    &sv)) == NULL ||
	    (sv.sv_workers = calloc((size_t)sv.sv_n,
	    sizeof(*sv.sv_workers))) == NULL ||
	    (sv.sv_kill_ev = evtimer_new(sv.sv_base, supervise_kill_cb,
	    &sv)) == NULL)
		fatalx("supervisor: out of memory");
	for (i = 0; i < 4; i++)
		if ((sv.sv_sig_ev[i] = evsignal_new(sv.sv_base, sigs[i],
		    supervise_signal_cb, &sv)) == NULL ||
		    evsignal_add(sv.sv_sig_ev[i], NULL) == -1)
			fatalx("supervisor: cannot handle signals");
	for (i = 0; i < sv.sv_n; i++) {
		w = &sv.sv_workers[i];
		w->w_sv = &sv;
		w->w_index = i;
		w->w_readyfd = -1;
		w->w_backoff = SUPERVISE_BACKOFF_MIN;
		if ((w->w_restart_ev = evtimer_new(sv.sv_base,
		    supervise_restart_cb, w)) == NULL)
			fatalx("supervisor: out of memory");
	}
	if (conf->redis_path != NULL)
		snprintf(redis, sizeof(redis), "%s", conf->redis_path);
	else
		snprintf(redis, sizeof(redis), "%s:%d", conf->redis_host,
		    conf->redis_port);
	log_notice("pubsubd %s supervisor started (pid %ld): %d workers, "
	    "redis at %s", PACKAGE_VERSION, (long)getpid(), sv.sv_n, redis);
	for (i = 0; i < sv.sv_n && !sv.sv_stopping; i++)
		if (supervise_spawn(&sv.sv_workers[i]) == -1)
			supervise_stop(&sv, SIGTERM, 1);
	/* READY=1 once every worker said so, or after the timeout. */
	service_start(sv.sv_svc, conf->ready_timeout, redis);
	if (!sv.sv_stopping || sv.sv_running > 0)
		event_base_dispatch(sv.sv_base);

	/* Stopped: a further signal must not cut the clean-up short. */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	status = sv.sv_status;
	for (i = 0; i < sv.sv_n; i++) {
		w = &sv.sv_workers[i];
		supervise_close_ready(w);
		event_free(w->w_restart_ev);
	}
	for (i = 0; i < 4; i++)
		event_free(sv.sv_sig_ev[i]);
	event_free(sv.sv_kill_ev);
	service_free(sv.sv_svc);
	event_base_free(sv.sv_base);
	free(sv.sv_workers);
	for (i = 0; i < npassed; i++)
		close(first + i);
	conf_free(sv.sv_conf);
	log_notice("supervisor stopped");
	return status;
}

/* Lets the signals held since the worker's start through; see supervise.h. */
void
supervise_worker_signals(void)
{
	sigset_t	held;

	sigemptyset(&held);
	sigaddset(&held, SIGTERM);
	sigaddset(&held, SIGINT);
	sigaddset(&held, SIGHUP);
	sigprocmask(SIG_UNBLOCK, &held, NULL);
}
