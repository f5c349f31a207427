/*
 * listener.c: accepting clients with libevent's evconnlistener, on TCP
 * addresses and Unix sockets bound here, or on sockets handed over already
 * listening (systemd's socket activation: TCP or Unix). All three end in
 * listener_start(), which wraps a listening socket.
 *
 * A Unix socket is a file that outlives a process killed before it could
 * remove it, and binding fails while the file is there: so a socket file
 * is removed at start-up if connecting to it is refused (nobody listens),
 * and kept (and the start fails) if something answers. One bound here is
 * removed when its listener is freed, unless another file took its place;
 * one systemd passed is systemd's, and left alone.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "client.h"
#include "listener.h"
#include "log.h"

/* "unix:" and a path (sun_path is 108 bytes), or "[v6]:port". */
#define LISTENER_NAME_MAX	128

struct listener {
	struct evconnlistener	*l_evl;		/* owned; owns the socket */
	struct client_set	*l_set;		/* borrowed */
	char			 l_name[LISTENER_NAME_MAX];
	/* A Unix socket file made here, ours to remove; "" otherwise. */
	char			 l_path[sizeof(((struct sockaddr_un *)0)->
				    sun_path)];
	dev_t			 l_dev;		/* that file's */
	ino_t			 l_ino;
	int			 l_tls;		/* its clients speak TLS */
	int			 l_http;	/* and HTTP, not RESP */
	int			 l_ours;	/* bound here, not systemd's */
};

static struct listener *listener_start(struct event_base *,
		    struct client_set *, int, int, char *, size_t);
static void	listener_accept_cb(struct evconnlistener *, evutil_socket_t,
		    struct sockaddr *, int, void *);
static void	listener_error_cb(struct evconnlistener *, void *);
static void	listener_set_name(struct listener *);
static int	listener_clear_stale(const char *, char *, size_t);

/*
 * Accepts into set on fd, a bound socket, listening already or with
 * backlog (0: leave its backlog alone). Owns fd on every path. Returns the
 * listener, or NULL with err filled.
 */
static struct listener *
listener_start(struct event_base *base, struct client_set *set, int fd,
    int backlog, char *err, size_t errlen)
{
	struct listener	*l;

	/* libevent's accept loop needs a nonblocking socket. */
	if (evutil_make_socket_nonblocking(fd) == -1 ||
	    evutil_make_socket_closeonexec(fd) == -1) {
		snprintf(err, errlen, "socket %d: %s", fd, strerror(errno));
		evutil_closesocket(fd);
		return NULL;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		snprintf(err, errlen, "out of memory");
		evutil_closesocket(fd);
		return NULL;
	}
	l->l_set = set;
	l->l_evl = evconnlistener_new(base, listener_accept_cb, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, backlog, fd);
	if (l->l_evl == NULL) {
		snprintf(err, errlen, "socket %d: %s", fd, strerror(errno));
		evutil_closesocket(fd);
		free(l);
		return NULL;
	}
	evconnlistener_set_error_cb(l->l_evl, listener_error_cb);
	listener_set_name(l);
	return l;
}

/* Resolves host:port for a bind; see listener.h. */
int
listener_resolve(const char *host, int port, struct addrinfo **res,
    char *err, size_t errlen)
{
	struct addrinfo	hints;
	char		portstr[16];
	int		rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%d", port);
	*res = NULL;
	if ((rc = getaddrinfo(host, portstr, &hints, res)) != 0) {
		snprintf(err, errlen, "%s: %s", host, gai_strerror(rc));
		return -1;
	}
	return 0;
}

/* Binds host:port and starts accepting. */
struct listener *
listener_new(struct event_base *base, struct client_set *set,
    const char *host, int port, int shared, int backlog, char *err,
    size_t errlen)
{
	struct listener		*l;
	struct addrinfo		*res;
	char			 why[256];
	int			 fd;

	if (listener_resolve(host, port, &res, err, errlen) == -1)
		return NULL;
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1 || evutil_make_listen_socket_reuseable(fd) == -1 ||
	    (shared && evutil_make_listen_socket_reuseable_port(fd) == -1) ||
	    bind(fd, res->ai_addr, res->ai_addrlen) == -1) {
		snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		freeaddrinfo(res);
		return NULL;
	}
	freeaddrinfo(res);
	if ((l = listener_start(base, set, fd, backlog, why,
	    sizeof(why))) == NULL)
		snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port,
		    why);
	else
		l->l_ours = 1;
	return l;
}

/* Accepts on fd, a socket already bound and listening; owns it. */
struct listener *
listener_new_fd(struct event_base *base, struct client_set *set, int fd,
    char *err, size_t errlen)
{
	struct listener	*l;
	char		 why[256];

	/* A backlog of 0: it listens already, with the backlog it was given. */
	if ((l = listener_start(base, set, fd, 0, why, sizeof(why))) == NULL)
		snprintf(err, errlen, "cannot accept on a socket from "
		    "systemd: %s", why);
	return l;
}

/* Names l by its socket's address: "ip:port", "[v6]:port" or a path. */
static void
listener_set_name(struct listener *l)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof(ss);
	char			 addr[INET6_ADDRSTRLEN];

	memset(&ss, 0, sizeof(ss));
	if (getsockname(evconnlistener_get_fd(l->l_evl),
	    (struct sockaddr *)&ss, &sslen) == -1) {
		snprintf(l->l_name, sizeof(l->l_name), "socket %d",
		    (int)evconnlistener_get_fd(l->l_evl));
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof(addr));
		snprintf(l->l_name, sizeof(l->l_name), "[%s]:%u", addr,
		    ntohs(s6->sin6_port));
	} else if (ss.ss_family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr));
		snprintf(l->l_name, sizeof(l->l_name), "%s:%u", addr,
		    ntohs(s4->sin_port));
	} else if (ss.ss_family == AF_UNIX) {
		struct sockaddr_un *su = (struct sockaddr_un *)&ss;

		/* An abstract socket's name starts with a NUL: show '@'. */
		if (sslen > offsetof(struct sockaddr_un, sun_path) &&
		    su->sun_path[0] == '\0')
			snprintf(l->l_name, sizeof(l->l_name), "unix:@%.*s",
			    (int)(sslen - offsetof(struct sockaddr_un,
			    sun_path) - 1), su->sun_path + 1);
		else
			snprintf(l->l_name, sizeof(l->l_name), "unix:%.*s",
			    (int)sizeof(su->sun_path), su->sun_path);
	} else
		snprintf(l->l_name, sizeof(l->l_name), "socket %d",
		    (int)evconnlistener_get_fd(l->l_evl));
}

/*
 * Makes way for a Unix socket at path: nothing there, or a socket that
 * refuses connections (stale: removed). Returns 0, or -1 with err filled.
 */
static int
listener_clear_stale(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un	sun;
	struct stat		st;
	int			fd, rc;

	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "cannot listen on %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "cannot listen on %s: a file that is not "
		    "a socket is in the way", path);
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	/* Nonblocking: a full backlog must not hang us (EAGAIN: alive). */
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		snprintf(err, errlen, "cannot listen on %s: socket: %s", path,
		    strerror(errno));
		return -1;
	}
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	if (rc == -1 && errno == ECONNREFUSED) {
		close(fd);
		if (unlink(path) == -1 && errno != ENOENT) {
			snprintf(err, errlen, "cannot remove the stale socket "
			    "%s: %s", path, strerror(errno));
			return -1;
		}
		log_notice("removed the stale socket %s (nothing listened "
		    "on it)", path);
		return 0;
	}
	if (rc == 0 || errno == EAGAIN || errno == EINPROGRESS)
		snprintf(err, errlen, "cannot listen on %s: another process "
		    "is listening on it (is pubsubd already running?)", path);
	else
		snprintf(err, errlen, "cannot listen on %s: cannot tell "
		    "whether the socket there is in use: %s", path,
		    strerror(errno));
	close(fd);
	return -1;
}

/* Binds a Unix socket and starts accepting. */
struct listener *
listener_new_unix(struct event_base *base, struct client_set *set,
    const char *path, int mode, int backlog, char *err, size_t errlen)
{
	struct listener		*l;
	struct sockaddr_un	 sun;
	struct stat		 st;
	mode_t			 old;
	char			 why[256];
	int			 fd, rc;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "cannot listen on %s: the path is too "
		    "long", path);
		return NULL;
	}
	if (listener_clear_stale(path, err, errlen) == -1)
		return NULL;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "cannot listen on %s: socket: %s", path,
		    strerror(errno));
		return NULL;
	}
	/* Never more open than mode, not even until the chmod below. */
	old = umask(0777 & ~(mode_t)mode);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc == -1) {
		snprintf(err, errlen, "cannot listen on %s: %s", path,
		    strerror(errno));
		close(fd);
		return NULL;
	}
	if (chmod(path, (mode_t)mode) == -1 || lstat(path, &st) == -1) {
		snprintf(err, errlen, "cannot set the mode of %s: %s", path,
		    strerror(errno));
		close(fd);
		unlink(path);
		return NULL;
	}
	if ((l = listener_start(base, set, fd, backlog, why,
	    sizeof(why))) == NULL) {
		snprintf(err, errlen, "cannot listen on %s: %s", path, why);
		unlink(path);
		return NULL;
	}
	l->l_ours = 1;
	/* This file is ours: listener_free() removes it. */
	memcpy(l->l_path, path, strlen(path) + 1);
	l->l_dev = st.st_dev;
	l->l_ino = st.st_ino;
	return l;
}

/* Sets the permissions of a Unix socket file made here. */
int
listener_chmod(struct listener *l, int mode)
{
	if (l->l_path[0] == '\0')
		return 0;
	return chmod(l->l_path, (mode_t)mode);
}

/*
 * Sets the backlog of a socket bound here: listen(2) again on a listening
 * socket only changes its backlog (Linux), the queue it has stays.
 */
int
listener_set_backlog(struct listener *l, int backlog)
{
	if (!l->l_ours)
		return 0;
	return listen(evconnlistener_get_fd(l->l_evl), backlog);
}

/*
 * Stops accepting; removes the socket file made here (never one systemd
 * passed: those are systemd's).
 */
void
listener_free(struct listener *l)
{
	struct stat	st;

	if (l == NULL)
		return;
	evconnlistener_free(l->l_evl);
	/* Not a file someone else put there since (a newer pubsubd's). */
	if (l->l_path[0] != '\0' && lstat(l->l_path, &st) == 0 &&
	    st.st_dev == l->l_dev && st.st_ino == l->l_ino &&
	    unlink(l->l_path) == -1)
		log_warn("cannot remove %s", l->l_path);
	free(l);
}

/* Whether clients accepted from now on speak TLS. */
void
listener_set_tls(struct listener *l, int tls)
{
	l->l_tls = tls;
}

void
listener_set_http(struct listener *l, int http)
{
	l->l_http = http;
}

/* Whether its clients speak TLS. */
int
listener_tls(const struct listener *l)
{
	return l->l_tls;
}

/* The bound address. */
const char *
listener_name(const struct listener *l)
{
	return l->l_name;
}

/* Whether l is bound to a loopback address; -1: a Unix socket. */
int
listener_is_loopback(const struct listener *l)
{
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof(ss);

	memset(&ss, 0, sizeof(ss));
	if (getsockname(evconnlistener_get_fd(l->l_evl),
	    (struct sockaddr *)&ss, &len) == -1)
		return 0;
	return listener_addr_is_loopback((struct sockaddr *)&ss);
}

/*
 * Whether sa is a loopback address; -1 for AF_UNIX. Shared with main.c's
 * check of configured addresses before they are bound.
 */
int
listener_addr_is_loopback(const struct sockaddr *sa)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	const uint8_t			*b;

	switch (sa->sa_family) {
	case AF_UNIX:
		return -1;
	case AF_INET:
		sin = (const struct sockaddr_in *)sa;
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)sa;
		b = sin6->sin6_addr.s6_addr;
		if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			return 1;
		return IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) && b[12] == 127;
	default:
		return 0;
	}
}

/* A connection was accepted. */
static void
listener_accept_cb(struct evconnlistener *evl, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct listener	*l = arg;

	client_accept(l->l_set, fd, l->l_tls, l->l_http);
}

/*
 * accept() failed: out of descriptors or a transient error. libevent keeps
 * the listener enabled; log and go on (the peer is retried by the kernel).
 */
static void
listener_error_cb(struct evconnlistener *evl, void *arg)
{
	struct listener	*l = arg;

	log_warn("accept on %s", l->l_name);
}
