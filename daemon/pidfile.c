/*
 * pidfile.c: writing, checking and removing the pid file.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "pidfile.h"

static long	pidfile_read(const char *, int *);
static int	pidfile_alive(long);

/*
 * Returns the process id path names, 0 if it names none (no number, or no
 * file: then *missing is set), or -1 with errno set if it cannot be read.
 */
static long
pidfile_read(const char *path, int *missing)
{
	char	 buf[32], *end;
	ssize_t	 n;
	long	 pid;
	int	 fd;

	*missing = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		if (errno != ENOENT)
			return -1;
		*missing = 1;
		return 0;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	errno = 0;
	pid = strtol(buf, &end, 10);
	if (errno != 0 || end == buf || (*end != '\n' && *end != '\0') ||
	    pid <= 0 || pid > INT_MAX)
		return 0;
	return pid;
}

/*
 * Whether process pid runs: it exists (EPERM: someone else's) and is not a
 * zombie, which is dead but not yet reaped by its parent.
 */
static int
pidfile_alive(long pid)
{
	char	 path[64], buf[256], *p;
	ssize_t	 n;
	int	 fd;

	if (kill((pid_t)pid, 0) == -1 && errno != EPERM)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 1;	/* no /proc: trust kill() */
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 1;
	buf[n] = '\0';
	/* "pid (comm) S ...": the state follows the last ')'. */
	if ((p = strrchr(buf, ')')) != NULL && p[1] == ' ' && p[2] == 'Z')
		return 0;
	return 1;
}

/* Fails if path names a live process other than this one. */
int
pidfile_check(const char *path, char *err, size_t errlen)
{
	long	pid;
	int	missing;

	if ((pid = pidfile_read(path, &missing)) == -1) {
		snprintf(err, errlen, "cannot read the pid file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (pid == 0 || pid == (long)getpid())
		return 0;
	if (pidfile_alive(pid)) {
		snprintf(err, errlen, "the pid file %s names process %ld, "
		    "which is running: is pubsubd already running? (if that "
		    "process is not pubsubd, remove the file)", path, pid);
		return -1;
	}
	return 0;
}

/* Writes this process' id to path, atomically. */
int
pidfile_write(const char *path, char *err, size_t errlen)
{
	char	*tmp;
	char	 line[32];
	int	 fd, len, saved, ok;

	if (asprintf(&tmp, "%s.XXXXXX", path) == -1) {
		snprintf(err, errlen, "cannot write the pid file %s: out of "
		    "memory", path);
		return -1;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		saved = errno;
		snprintf(err, errlen, "cannot write the pid file %s: %s", path,
		    strerror(saved));
		free(tmp);
		return -1;
	}
	len = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
	errno = EIO;		/* what a short write leaves */
	ok = fchmod(fd, 0644) == 0 && write(fd, line, (size_t)len) == len;
	saved = errno;
	if (close(fd) == -1 && ok) {
		ok = 0;
		saved = errno;
	}
	if (ok && rename(tmp, path) == -1) {
		ok = 0;
		saved = errno;
	}
	if (!ok) {
		unlink(tmp);
		snprintf(err, errlen, "cannot write the pid file %s: %s", path,
		    strerror(saved));
		free(tmp);
		return -1;
	}
	free(tmp);
	return 0;
}

/* Removes path if it names this process. */
void
pidfile_remove(const char *path)
{
	int	missing;

	if (path != NULL && pidfile_read(path, &missing) == (long)getpid())
		unlink(path);
}
