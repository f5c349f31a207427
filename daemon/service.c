/*
 * service.c: socket activation and sd_notify(3) for systemd.
 *
 * The state is small: whether READY=1 went out, the timers (ready timeout,
 * status, watchdog), and the last STATUS= text so that an unchanged one is
 * not sent again. Everything is sent from the event loop, never from a
 * signal handler (libevent delivers signals as events).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include <event2/event.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "endpoint.h"
#include "log.h"
#include "service.h"

#define SERVICE_STATUS_MS	1000	/* status updates at most this often */
#define SERVICE_STATUS_SLACK	100	/* timer jitter allowed for */
#define SERVICE_STATUS_MAX	256

struct service {
	struct event_base	*s_base;	/* borrowed */
	service_status_fn	 s_status;
	void			*s_arg;		/* borrowed */
	int			 s_notify;	/* NOTIFY_SOCKET is set */
	int			 s_readyfd;	/* owned: a worker's pipe to
						   its supervisor, or -1 */
	int			 s_started;
	int			 s_ready;	/* READY=1 sent */
	int			 s_stopping;
	int			 s_warned;	/* a failed send was logged */
	char			 s_redis[ENDPOINT_NAME_MAX];
	int			 s_ready_timeout;	/* ms */
	struct event		*s_ready_ev;	/* owned: the ready timeout */
	struct event		*s_status_ev;	/* owned: persistent, 1 s */
	struct event		*s_watchdog_ev;	/* owned: persistent, or NULL */
	long long		 s_status_ms;	/* when STATUS= was last sent */
	char			 s_last[SERVICE_STATUS_MAX];
};

static void	service_send(struct service *, const char *, int);
static int	service_status_changed(struct service *);
static void	service_ready_now(struct service *, const char *);
static void	service_ready_cb(evutil_socket_t, short, void *);
static void	service_status_cb(evutil_socket_t, short, void *);
#ifdef HAVE_LIBSYSTEMD
static void	service_watchdog_cb(evutil_socket_t, short, void *);
#endif
static long long service_now_ms(void);

/* The passed sockets, checked; see service.h. */
int
service_listen_fds(int *first, char *err, size_t errlen)
{
#ifdef HAVE_LIBSYSTEMD
	int	n, i, fd;

	*first = SD_LISTEN_FDS_START;
	/* 1: unset LISTEN_* and make the sockets close-on-exec. */
	if ((n = sd_listen_fds(1)) < 0) {
		snprintf(err, errlen, "the sockets systemd passed: %s",
		    strerror(-n));
		return -1;
	}
	for (i = 0; i < n; i++) {
		fd = SD_LISTEN_FDS_START + i;
		if (sd_is_socket(fd, AF_INET, SOCK_STREAM, 1) > 0 ||
		    sd_is_socket(fd, AF_INET6, SOCK_STREAM, 1) > 0 ||
		    sd_is_socket(fd, AF_UNIX, SOCK_STREAM, 1) > 0)
			continue;
		snprintf(err, errlen, "socket %d that systemd passed is not a "
		    "listening stream socket (TCP or Unix): the socket unit "
		    "must have only ListenStream= lines", fd);
		for (i = 0; i < n; i++)
			close(SD_LISTEN_FDS_START + i);
		return -1;
	}
	return n;
#else
	*first = 3;
	return 0;
#endif
}

/* A worker's pipe to its supervisor; see service.h. */
void
service_set_ready_fd(struct service *svc, int fd)
{
	if (svc->s_readyfd != -1)
		close(svc->s_readyfd);
	svc->s_readyfd = fd;
}

/* A new notifier; see service.h. */
struct service *
service_new(struct event_base *base, service_status_fn status, void *arg)
{
	struct service	*svc;
	const char	*ns = getenv("NOTIFY_SOCKET");

	if ((svc = calloc(1, sizeof(*svc))) == NULL)
		return NULL;
	svc->s_base = base;
	svc->s_status = status;
	svc->s_arg = arg;
	svc->s_readyfd = -1;
#ifdef HAVE_LIBSYSTEMD
	svc->s_notify = ns != NULL && *ns != '\0';
#else
	(void)ns;
#endif
	return svc;
}

/* Frees the notifier and its timers. */
void
service_free(struct service *svc)
{
	if (svc == NULL)
		return;
	if (svc->s_readyfd != -1)
		close(svc->s_readyfd);
	if (svc->s_ready_ev != NULL)
		event_free(svc->s_ready_ev);
	if (svc->s_status_ev != NULL)
		event_free(svc->s_status_ev);
	if (svc->s_watchdog_ev != NULL)
		event_free(svc->s_watchdog_ev);
	free(svc);
}

/* Milliseconds of a monotonic clock (the status rate limit). */
static long long
service_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Sends msg (newline-separated assignments) to systemd. A failure is logged
 * once: the service manager going away must not fill the log.
 */
static void
service_send(struct service *svc, const char *msg, int with_status)
{
#ifdef HAVE_LIBSYSTEMD
	char	buf[SERVICE_STATUS_MAX + 128];
	int	rc;

	if (!svc->s_notify)
		return;
	if (with_status) {
		svc->s_last[0] = '\0';
		svc->s_status(svc->s_arg, svc->s_last, sizeof(svc->s_last));
		svc->s_status_ms = service_now_ms();
		snprintf(buf, sizeof(buf), "%s%sSTATUS=%s", msg,
		    *msg != '\0' ? "\n" : "", svc->s_last);
		msg = buf;
	}
	log_debug("sd_notify: %s", msg);
	if ((rc = sd_notify(0, msg)) < 0 && !svc->s_warned) {
		svc->s_warned = 1;
		log_warnx("cannot notify systemd: %s", strerror(-rc));
	}
#else
	(void)svc;
	(void)msg;
	(void)with_status;
#endif
}

/* Whether the STATUS= text now differs from the last one sent. */
static int
service_status_changed(struct service *svc)
{
	char	text[SERVICE_STATUS_MAX];

	text[0] = '\0';
	svc->s_status(svc->s_arg, text, sizeof(text));
	return strcmp(text, svc->s_last) != 0;
}

/* Sends READY=1 (once), with the status; why goes to the log. */
static void
service_ready_now(struct service *svc, const char *why)
{
	if (svc->s_ready)
		return;
	svc->s_ready = 1;
	if (svc->s_ready_ev != NULL)
		evtimer_del(svc->s_ready_ev);
	if (svc->s_readyfd != -1) {
		/* The supervisor reads one byte; EOF would mean we died. */
		if (write(svc->s_readyfd, "R", 1) != 1)
			log_warn("cannot tell the supervisor we are ready");
		close(svc->s_readyfd);
		svc->s_readyfd = -1;
		log_info("ready (told the supervisor): %s", why);
	}
	if (svc->s_notify)
		log_info("ready (told systemd): %s", why);
	service_send(svc, "READY=1", 1);
}

/* Starts the timers and READY=1 handling; see service.h. */
void
service_start(struct service *svc, int ready_timeout, const char *redis)
{
	struct timeval	tv;
	uint64_t	usec = 0;

	if (svc->s_started)
		return;
	svc->s_started = 1;
	svc->s_ready_timeout = ready_timeout;
	snprintf(svc->s_redis, sizeof(svc->s_redis), "%s", redis);
	if (!svc->s_notify && svc->s_readyfd == -1)
		return;
#ifdef HAVE_LIBSYSTEMD
	/* > 0: systemd wants WATCHDOG=1 within usec (and meant this pid). */
	if (svc->s_notify && sd_watchdog_enabled(1, &usec) > 0 && usec > 0) {
		usec /= 2;
		if (usec < 1000)
			usec = 1000;
		tv.tv_sec = (time_t)(usec / 1000000);
		tv.tv_usec = (suseconds_t)(usec % 1000000);
		if ((svc->s_watchdog_ev = event_new(svc->s_base, -1,
		    EV_PERSIST, service_watchdog_cb, svc)) == NULL ||
		    event_add(svc->s_watchdog_ev, &tv) == -1)
			log_warnx("cannot start the watchdog timer");
		else
			log_info("systemd watchdog: WATCHDOG=1 every %llu ms",
			    (unsigned long long)(usec / 1000));
		service_send(svc, "WATCHDOG=1", 0);
	}
#else
	(void)usec;
#endif
	tv.tv_sec = SERVICE_STATUS_MS / 1000;
	tv.tv_usec = (SERVICE_STATUS_MS % 1000) * 1000;
	if (svc->s_notify && ((svc->s_status_ev = event_new(svc->s_base, -1,
	    EV_PERSIST, service_status_cb, svc)) == NULL ||
	    event_add(svc->s_status_ev, &tv) == -1))
		log_warnx("cannot start the status timer");
	if (svc->s_ready)
		return;
	if (ready_timeout == 0) {
		service_ready_now(svc,
		    "listening (systemd.ready_timeout is 0)");
		return;
	}
	service_send(svc, "", 1);
	tv.tv_sec = ready_timeout / 1000;
	tv.tv_usec = (ready_timeout % 1000) * 1000;
	if ((svc->s_ready_ev = evtimer_new(svc->s_base, service_ready_cb,
	    svc)) == NULL || evtimer_add(svc->s_ready_ev, &tv) == -1)
		service_ready_now(svc, "listening (no timer to wait for "
		    "redis)");
}

/* The ready timeout passed without Redis: ready anyway. */
static void
service_ready_cb(evutil_socket_t fd, short what, void *arg)
{
	struct service	*svc = arg;

	if (!svc->s_notify)
		log_warnx("redis at %s is not connected after %d ms: telling "
		    "the supervisor this worker is ready anyway", svc->s_redis,
		    svc->s_ready_timeout);
	else
		log_warnx("redis at %s is not connected after %d ms: telling systemd "
	    "pubsubd is ready anyway (clients are served; their commands "
	    "wait for redis up to redis.command_timeout)", svc->s_redis,
	    svc->s_ready_timeout);
	service_ready_now(svc, "listening, but redis is down");
}

/* Once a second: the status, if it changed and none went out just now. */
static void
service_status_cb(evutil_socket_t fd, short what, void *arg)
{
	struct service	*svc = arg;

	if (svc->s_stopping || service_now_ms() - svc->s_status_ms <
	    SERVICE_STATUS_MS - SERVICE_STATUS_SLACK)
		return;
	if (service_status_changed(svc))
		service_send(svc, "", 1);
}

#ifdef HAVE_LIBSYSTEMD
/* The loop turned: tell the watchdog. */
static void
service_watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	service_send(arg, "WATCHDOG=1", 0);
}
#endif

/* The upstream came or went; see service.h. */
void
service_upstream(struct service *svc, int connected)
{
	if (!svc->s_started || svc->s_stopping)
		return;
	if (connected && !svc->s_ready) {
		service_ready_now(svc, "listening, and redis is connected");
		return;
	}
	/* Now if the last went out long enough ago, else on the next tick. */
	if (service_now_ms() - svc->s_status_ms >= SERVICE_STATUS_MS)
		service_send(svc, "", 1);
}

/* A reload begins. */
void
service_reloading(struct service *svc)
{
	char	msg[64];

	if (!svc->s_ready || svc->s_stopping)
		return;
	/* MONOTONIC_USEC: what systemd 253's Type=notify-reload wants. */
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)service_now_ms() * 1000);
	service_send(svc, msg, 0);
}

/* A reload ended (applied or not). */
void
service_reloaded(struct service *svc)
{
	if (!svc->s_ready || svc->s_stopping)
		return;
	service_send(svc, "READY=1", 1);
}

/* A graceful stop begins. */
void
service_stopping(struct service *svc)
{
	if (svc->s_stopping)
		return;
	svc->s_stopping = 1;
	if (svc->s_ready_ev != NULL)
		evtimer_del(svc->s_ready_ev);
	if (svc->s_status_ev != NULL)
		event_del(svc->s_status_ev);
	if (svc->s_notify)
		service_send(svc, "STOPPING=1\nSTATUS=stopping", 0);
}

