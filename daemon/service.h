/*
 * service.h: what pubsubd tells and takes from its service manager
 * (systemd), through libsystemd's sd-daemon calls.
 *
 * Socket activation: the listening sockets systemd passes (LISTEN_FDS),
 * checked to be stream sockets pubsubd can serve.
 *
 * Notifications (NOTIFY_SOCKET): READY=1 once pubsubd listens AND Redis is
 * connected, or once the ready timeout passes without Redis (so that a
 * late Redis does not fail the unit's start; STATUS then says Redis is
 * down); STATUS= lines from the owner's formatter, sent when the upstream
 * comes or goes and otherwise when the text changed, at most about once a
 * second; RELOADING=1 and READY=1 around a reload; STOPPING=1;
 * WATCHDOG=1 from a timer on the event loop every half of WATCHDOG_USEC,
 * so that each one proves the loop still turns.
 *
 * Built without libsystemd, every call does nothing (no socket is passed).
 * Without NOTIFY_SOCKET nothing is sent and no timer runs.
 */
#ifndef PUBSUBD_SERVICE_H
#define PUBSUBD_SERVICE_H

#include <stddef.h>

struct event_base;
struct service;

/*
 * Writes the STATUS= text (without "STATUS=") into buf of len bytes; called
 * with the owner's arg whenever a status may be sent.
 */
typedef void	(*service_status_fn)(void *arg, char *buf, size_t len);

/*
 * The sockets systemd passed: on success returns their number n (0 when
 * none were passed) with *first the lowest (they are first .. first+n-1,
 * each a listening stream socket of AF_INET, AF_INET6 or AF_UNIX, now
 * owned by the caller; LISTEN_* is removed from the environment). Returns -1
 * with err filled if one is something else (all of them are then closed).
 */
int		 service_listen_fds(int *first, char *err, size_t errlen);

/*
 * Returns a new service notifier on base, owned by the caller, that asks
 * status(arg) for the STATUS= text (arg is borrowed and must outlive it);
 * NULL if out of memory. Nothing is sent before service_start().
 */
struct service	*service_new(struct event_base *base, service_status_fn status,
		    void *arg);

/*
 * A worker process (workers > 1) tells its supervisor, not systemd, when
 * it is ready: one byte "R" on fd (owned from here on; closed once written
 * or by service_free()), when READY=1 would go out. The supervisor alone
 * talks to systemd (the worker runs without NOTIFY_SOCKET).
 */
void		 service_set_ready_fd(struct service *svc, int fd);

/* Stops its timers and frees it (NULL is ignored). */
void		 service_free(struct service *svc);

/*
 * pubsubd listens: starts the watchdog (if systemd asked for one) and the
 * status updates, and sends READY=1 once service_upstream(svc, 1) is
 * called or ready_timeout ms have passed (at once if ready_timeout is 0).
 * redis names Redis for the log ("host:port" or a path; copied).
 */
void		 service_start(struct service *svc, int ready_timeout,
		    const char *redis);

/* The upstream connection came up (1) or went down (0). */
void		 service_upstream(struct service *svc, int connected);

/*
 * A reload begins (RELOADING=1) and ends (READY=1). Before the first
 * READY=1, neither is sent: systemd is still waiting for the start.
 */
void		 service_reloading(struct service *svc);
void		 service_reloaded(struct service *svc);

/* A graceful stop begins: STOPPING=1; no more status updates. */
void		 service_stopping(struct service *svc);

#endif /* PUBSUBD_SERVICE_H */
