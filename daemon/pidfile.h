/*
 * pidfile.h: the file that names the running pubsubd's process id, for
 * service managers and scripts (kill -HUP $(cat file)).
 *
 * It is written whole or not at all (a temporary file in the same
 * directory, renamed over it), mode 0644, once the listeners are bound, and
 * removed at exit. A file left by a process that died is replaced; one
 * that names a live process makes the start fail, since that may be a
 * pubsubd already running.
 */
#ifndef PUBSUBD_PIDFILE_H
#define PUBSUBD_PIDFILE_H

#include <stddef.h>

/*
 * Checks that path names no live process other than this one (a missing
 * file, an unreadable number, or a dead process are fine). Returns 0, or
 * -1 with err filled.
 */
int	pidfile_check(const char *path, char *err, size_t errlen);

/* Writes this process' id to path. Returns 0, or -1 with err filled. */
int	pidfile_write(const char *path, char *err, size_t errlen);

/* Removes path if it still names this process (NULL is ignored). */
void	pidfile_remove(const char *path);

#endif /* PUBSUBD_PIDFILE_H */
