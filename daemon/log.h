/*
 * log.h: the daemon's small log API, after OpenBSD's log.c.
 *
 * Messages go to stderr: with a "<N>" priority prefix the journal
 * understands when JOURNAL_STREAM is set (running under systemd), with a
 * timestamp otherwise; or, once log_set_syslog() turned it on, to syslog(3)
 * instead, with the matching priorities (LOG_ERR ... LOG_DEBUG). Instead,
 * not as well: under systemd both would reach the journal, each line twice.
 * log_warn() appends strerror(errno); fatal()/fatalx()
 * log and exit, and are only for start-up or broken invariants, never for
 * one client's error. The level is file-static state, set by log_init().
 */
#ifndef PUBSUBD_LOG_H
#define PUBSUBD_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_NOTICE,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG
};

/* Sets the level and routes libevent's own messages into this log. */
void	log_init(enum log_level level);
void	log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Parses "error", "warning", "notice", "info" or "debug"; -1 if unknown. */
int	log_level_parse(const char *name);
const char *log_level_name(enum log_level level);

/* The longest syslog ident, with its NUL. */
#define LOG_IDENT_MAX	64

/* The facility names log_syslog_facility_parse() knows, for messages. */
#define LOG_FACILITY_NAMES \
	"auth, authpriv, cron, daemon, ftp, lpr, mail, news, syslog, user, " \
	"uucp, local0 to local7"

/* Parses a syslog facility name ("daemon", "local0", ...); -1 if unknown. */
int	log_syslog_facility_parse(const char *name);

/*
 * Sends messages to syslog(3) (on = 1) with facility (a LOG_* facility
 * code) and ident (copied; at most LOG_IDENT_MAX - 1 bytes are kept), or
 * back to stderr (on = 0). May be called again, as a reload does.
 */
void	log_set_syslog(int on, int facility, const char *ident);

/*
 * Starts every message with prefix (copied; at most 31 bytes kept): a
 * worker process says which one it is ("worker 1: "), as several share
 * one stderr.
 */
void	log_set_prefix(const char *prefix);

void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif /* PUBSUBD_LOG_H */
