/*
 * log.c: leveled logging to stderr, journal-aware, or to syslog(3).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <syslog.h>
#include <sys/time.h>

#include <event2/event.h>

#include "log.h"

static enum log_level	log_level = LOG_LEVEL_INFO;
static int		log_journal = -1;	/* -1: not yet checked */
static int		log_syslog;		/* openlog() is in force */
static char		log_ident[LOG_IDENT_MAX];	/* openlog keeps it */
static char		log_prefix[32];		/* "worker 1: ", or "" */

static const char *const log_names[] = {
	"error", "warning", "notice", "info", "debug"
};

/* syslog priorities, by level (also the journal's "<N>" prefix). */
static const int log_prio[] = {
	LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG
};

/* The facilities a configuration may name. */
static const struct {
	const char	*name;
	int		 code;
} log_facilities[] = {
	{ "auth", LOG_AUTH }, { "authpriv", LOG_AUTHPRIV },
	{ "cron", LOG_CRON }, { "daemon", LOG_DAEMON }, { "ftp", LOG_FTP },
	{ "lpr", LOG_LPR }, { "mail", LOG_MAIL }, { "news", LOG_NEWS },
	{ "syslog", LOG_SYSLOG }, { "user", LOG_USER }, { "uucp", LOG_UUCP },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 }
};

static void	log_vwrite(enum log_level, const char *, const char *, va_list)
		    __attribute__((format(printf, 3, 0)));
static void	log_event_cb(int, const char *);

/* Sets the level and routes libevent's own messages into this log. */
void
log_init(enum log_level level)
{
	log_level = level;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
	event_set_log_callback(log_event_cb);
}

/* Changes the level, as a reload does. */
void
log_set_level(enum log_level level)
{
	log_level = level;
}

/* Returns the level in force. */
enum log_level
log_get_level(void)
{
	return log_level;
}

/* Parses a level name; -1 if it is not one. */
int
log_level_parse(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++)
		if (strcmp(name, log_names[i]) == 0)
			return (int)i;
	return -1;
}

/* Returns the name of a level. */
const char *
log_level_name(enum log_level level)
{
	return log_names[level];
}

/* Parses a syslog facility name; -1 if it is not one. */
int
log_syslog_facility_parse(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(log_facilities) / sizeof(log_facilities[0]);
	    i++)
		if (strcmp(name, log_facilities[i].name) == 0)
			return log_facilities[i].code;
	return -1;
}

/* Sends messages to syslog with facility and ident, or back to stderr. */
void
log_set_syslog(int on, int facility, const char *ident)
{
	if (log_syslog)
		closelog();
	log_syslog = on;
	if (!on)
		return;
	snprintf(log_ident, sizeof(log_ident), "%s", ident);
	/* Connect now: a later chroot or sandbox may hide /dev/log. */
	openlog(log_ident, LOG_PID | LOG_NDELAY, facility);
}

/* Starts every message with prefix (copied, truncated; "" for none). */
void
log_set_prefix(const char *prefix)
{
	snprintf(log_prefix, sizeof(log_prefix), "%s", prefix);
}

/* Writes one line at level, with an optional suffix (strerror). */
static void
log_vwrite(enum log_level level, const char *suffix, const char *fmt,
    va_list ap)
{
	char		 msg[1024], stamp[32];
	struct timeval	 tv;
	struct tm	 tm;

	size_t		 plen = strlen(log_prefix);

	if (level > log_level)
		return;
	memcpy(msg, log_prefix, plen);
	vsnprintf(msg + plen, sizeof(msg) - plen, fmt, ap);
	if (log_syslog) {
		syslog(log_prio[level], "%s%s%s", msg, suffix ? ": " : "",
		    suffix ? suffix : "");
		return;
	}
	if (log_journal == -1)
		log_journal = getenv("JOURNAL_STREAM") != NULL;
	if (log_journal) {
		fprintf(stderr, "<%d>%s%s%s\n", log_prio[level], msg,
		    suffix ? ": " : "", suffix ? suffix : "");
		return;
	}
	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ld [%s] %s%s%s\n", stamp,
	    (long)tv.tv_usec / 1000, log_names[level], msg,
	    suffix ? ": " : "", suffix ? suffix : "");
}

/* Logs a warning with strerror(errno) appended. */
void
log_warn(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_WARNING, strerror(saved), fmt, ap);
	va_end(ap);
	errno = saved;
}

/* Logs a warning. */
void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_WARNING, NULL, fmt, ap);
	va_end(ap);
}

/* Logs a notice: normal but significant (start, stop, upstream changes). */
void
log_notice(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_NOTICE, NULL, fmt, ap);
	va_end(ap);
}

/* Logs an informational message. */
void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_INFO, NULL, fmt, ap);
	va_end(ap);
}

/* Logs a debugging message. */
void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_DEBUG, NULL, fmt, ap);
	va_end(ap);
}

/* Logs an error with strerror(errno) and exits. */
void
fatal(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERROR, strerror(saved), fmt, ap);
	va_end(ap);
	exit(1);
}

/* Logs an error and exits. */
void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERROR, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}

/* Receives libevent's own messages. */
static void
log_event_cb(int severity, const char *msg)
{
	switch (severity) {
	case EVENT_LOG_DEBUG:
		log_debug("libevent: %s", msg);
		break;
	case EVENT_LOG_MSG:
		log_info("libevent: %s", msg);
		break;
	default:
		log_warnx("libevent: %s", msg);
		break;
	}
}
