/*
 * port.c: free loopback ports for the servers a test starts.
 *
 * Asking the kernel for one (bind to port 0) is not enough: two asks in a
 * row give the same port about once in 12,500 pairs (measured here), so a
 * test that takes a port for pubsubd and one for Redis before starting
 * either can hand both the same one, and pubsubd's PING then reaches
 * Redis. The kernel also gives ports of that (ephemeral) range to every
 * outgoing connection, which can take one between the ask and the bind.
 * So a port comes from below the ephemeral range, at random, is free when
 * bound here, and is never handed out twice by one process (nor by a
 * test's fork, which inherits what its parent gave). tests/freeport.py
 * does the same for the Python drivers and the shell scripts.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "harness.h"

#define PORT_LOW	10000	/* nothing below is taken (well-known) */
#define PORT_TRIES	2000

static unsigned char	port_given[65536 / 8];	/* a bit per handed out */
static unsigned int	port_seed;
static pid_t		port_seed_pid;	/* a fork seeds again */

/* The first port of the kernel's ephemeral range (32768 if unknown). */
static int
port_ephemeral_low(void)
{
	FILE	*f;
	int	 low = 32768, high;

	if ((f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) !=
	    NULL) {
		if (fscanf(f, "%d %d", &low, &high) != 2)
			low = 32768;
		fclose(f);
	}
	return low;
}

/* Whether port can be bound on the loopback of family af now. */
static int
port_bindable(int af, int port)
{
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6;
	struct sockaddr		*sa;
	socklen_t		 len;
	int			 fd, ok;

	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	if (af == AF_INET) {
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin.sin_port = htons(port);
		sa = (struct sockaddr *)&sin, len = sizeof(sin);
	} else {
		sin6.sin6_family = AF_INET6;
		sin6.sin6_addr = in6addr_loopback;
		sin6.sin6_port = htons(port);
		sa = (struct sockaddr *)&sin6, len = sizeof(sin6);
	}
	if ((fd = socket(af, SOCK_STREAM, 0)) == -1)
		return 0;
	ok = bind(fd, sa, len) == 0;
	close(fd);
	return ok;
}

/* A port free on the loopback of af, not given before; 0 if none. */
static int
port_pick(int af)
{
	struct timespec	ts;
	int		i, port, low = port_ephemeral_low();

	if (low - PORT_LOW < 1000)	/* no room below it: anywhere */
		low = 65536;
	if (port_seed_pid != getpid()) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		port_seed_pid = getpid();
		port_seed = (unsigned int)port_seed_pid * 2654435761u ^
		    (unsigned int)ts.tv_nsec;
	}
	for (i = 0; i < PORT_TRIES; i++) {
		port = PORT_LOW + (int)(rand_r(&port_seed) % (unsigned int)
		    (low - PORT_LOW));
		if (port_given[port / 8] & (1u << (port % 8)) ||
		    !port_bindable(af, port))
			continue;
		port_given[port / 8] |= 1u << (port % 8);
		return port;
	}
	return 0;
}

/* Returns a port nobody listens on now on 127.0.0.1. */
int
h_free_port(void)
{
	int	port;

	if ((port = port_pick(AF_INET)) == 0) {
		fprintf(stderr, "harness: no free port on 127.0.0.1\n");
		exit(99);
	}
	return port;
}

/* Returns a free port on ::1, or 0 if this host cannot listen there. */
int
h_free_port6(void)
{
	return port_bindable(AF_INET6, 0) ? port_pick(AF_INET6) : 0;
}
