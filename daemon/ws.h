/*
 * ws.h: what pubsubd writes of WebSocket (RFC 6455) itself, beside the
 * wslay library that reads clients' frames and writes control frames
 * (client_ws.c): the handshake's accept key, the header of an unmasked
 * server frame, and the JSON of a message.
 *
 * A message's frame is encoded once per batch and shared by every
 * WebSocket subscriber of its form (hub_batch.c), which a per-connection
 * send queue such as wslay's cannot do; so those frames are written here,
 * whole: header and payload, into the batch.
 *
 * JSON strings: a string that is valid UTF-8 is written as a JSON string
 * (", \ and control characters escaped); one that is not is written as an
 * object {"base64":"..."} holding its bytes in base64, so that any payload
 * arrives intact.
 */
#ifndef PUBSUBD_WS_H
#define PUBSUBD_WS_H

#include <stddef.h>

#include "upstream.h"

#define WS_OP_TEXT	0x1
#define WS_OP_BINARY	0x2
#define WS_OP_CLOSE	0x8

/* The most bytes of a frame header pubsubd writes (unmasked). */
#define WS_HEADER_MAX	10

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key: 28 characters and a NUL. */
void		 ws_accept_key(const char *key, char out[29]);

/*
 * Whether key is a valid Sec-WebSocket-Key: the base64 of 16 bytes.
 */
int		 ws_key_valid(const char *key);

/* Writes a final frame's header for len bytes of opcode at p; its length. */
size_t		 ws_header(char *p, int opcode, size_t len);

/* Whether len bytes at s are valid UTF-8 (no overlong forms, surrogates). */
int		 ws_utf8_valid(const char *s, size_t len);

/* Bytes of s as a JSON string, or as {"base64":"..."} if not UTF-8. */
size_t		 ws_json_len(const char *s, size_t len);
/* Writes that at p; returns the end. */
char		*ws_json_put(char *p, const char *s, size_t len);

/*
 * A message as the json subprotocol's text frame,
 * ["message",channel,payload] (["pmessage",pattern,channel,payload],
 * ["smessage",...]): the most bytes it takes, and writing it at p
 * (returns its length).
 */
size_t		 ws_message_size(const struct upstream_msg *m);
size_t		 ws_message_put(char *p, const struct upstream_msg *m);

/*
 * A message as the resp subprotocol's binary frame: Redis' own frame
 * (first: '*' RESP2, '>' RESP3), whole: its size and writing it.
 */
size_t		 ws_resp_size(const struct upstream_msg *m);
size_t		 ws_resp_put(char *p, const struct upstream_msg *m, char first);

struct evbuffer;

/*
 * Appends the JSON of the RESP reply (RESP2 or RESP3) at the start of p
 * to out: strings as above, integers and doubles as numbers (an infinite
 * or NaN double as a string), nulls as null, booleans, arrays, sets and
 * pushes as arrays, maps as objects (a key that is not a string as its
 * JSON text), an error as {"error":"..."}. Sets *used to the reply's
 * bytes and returns 1; 0 if it is incomplete, -1 if it is malformed or
 * nested deeper than 64 (out may then hold a part).
 */
int		 ws_reply_json(struct evbuffer *out, const char *p, size_t len,
		    size_t *used);

#endif /* PUBSUBD_WS_H */
