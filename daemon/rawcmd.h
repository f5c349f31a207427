/*
 * rawcmd.h: one command to Redis on a connection of its own, whose reply is
 * relayed as the raw bytes Redis sent, whatever their nesting.
 *
 * For the few replies that hiredis 0.14's reader cannot take (it stops at
 * seven levels of nesting, and COMMAND DOCS goes deeper): the reply is only
 * measured (resp_reply_size()), never parsed into objects.
 */
#ifndef PUBSUBD_RAWCMD_H
#define PUBSUBD_RAWCMD_H

#include <stddef.h>

struct event_base;
struct endpoint;
struct future;

/*
 * Connects to Redis at ep (borrowed for the call), sends its AUTH first if
 * it has a password (a refusal fails the future with "authentication
 * failed: " and Redis' text), says HELLO 3 if resp is 3, sends the
 * command and returns a new future owned by the caller: done with an
 * evbuffer (owned by the future) holding the reply's bytes, or failed.
 * Cancelling the future closes the connection. NULL on allocation failure.
 */
struct future	*rawcmd_send(struct event_base *base,
		    const struct endpoint *ep, int resp, int argc,
		    const char *const *argv, const size_t *argvlen);

#endif /* PUBSUBD_RAWCMD_H */
