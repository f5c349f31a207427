/*
 * frame.h: a message from Redis as Redis frames it for a subscriber: a
 * RESP2 array or a RESP3 push (they differ only in the first byte),
 * ["message", channel, payload], ["pmessage", pattern, channel, payload]
 * or ["smessage", channel, payload]; exactly sized, for the hub's RESP
 * forms and the WebSocket resp subprotocol's frames.
 */
#ifndef PUBSUBD_FRAME_H
#define PUBSUBD_FRAME_H

#include <stddef.h>

#include "upstream.h"

/* Its exact length. */
size_t		 frame_message_len(const struct upstream_msg *m);

/* Writes it at p (first: '*' RESP2, '>' RESP3); returns the end. */
char		*frame_message_put(char *p, const struct upstream_msg *m,
		    char first);

#endif /* PUBSUBD_FRAME_H */
