/*
 * session_slot.c: replies that come later (see session.h).
 *
 * A passthrough command's reply comes from Redis, later; a slot holds its
 * place in the session's output. Whatever the session is sent after it,
 * replies and messages, waits in the slot's sl_after until the reply is
 * in; then the leading done slots are written out in order, so replies
 * keep the order of requests even when commands are pipelined to Redis.
 *
 * While a slot waits, messages are in the replies' form (RESP), whatever
 * the connection's wire form: a transport that frames its replies itself
 * (WebSocket) frames them with the replies they wait among
 * (session_io.behind). Once no slot waits, the wire form is back.
 */
#include "config.h"

#include <stdlib.h>

#include <event2/buffer.h>

#include "cmdconn.h"
#include "future.h"
#include "hub.h"
#include "log.h"
#include "resp.h"
#include "session_impl.h"

/*
 * A reply that comes later (from Redis, through the passthrough
 * connection), holding its place in the output: everything the session is
 * sent after it waits in sl_after until the reply is in.
 */
struct session_slot {
	TAILQ_ENTRY(session_slot) sl_entry;
	struct session		 *sl_session;	/* borrowed: the owner */
	struct future		 *sl_fut;	/* owned ref: the reply */
	struct future_cb	 *sl_cb;	/* ours on sl_fut */
	struct evbuffer		 *sl_after;	/* owned: what follows, or NULL */
	int			  sl_silent;	/* CLIENT REPLY OFF/SKIP */
	int			  sl_select;	/* a SELECT: track the db */
	int			  sl_db;
	int			  sl_execabort;	/* an EXEC sent as DISCARD:
						   answer EXECABORT */
};

static void	session_slot_done(struct future *, void *);
static void	session_slots_advance(struct session *);
static void	session_slot_free(struct session_slot *);

/* A slot is waiting now (1), or none is any more (0): tell the connection. */
static void
session_slots_behind(struct session *s, int behind)
{
	if (s->s_io->behind != NULL)
		s->s_io->behind(s->s_arg, behind);
}

/*
 * Adds a slot for a reply that fut will bring (a new reference is taken);
 * output that follows waits behind it.
 */
struct session_slot *
session_slot_add(struct session *s, struct future *fut)
{
	struct session_slot	*slot;

	hub_subscriber_flush(s->s_env->se_hub, &s->s_hs);
	if ((slot = calloc(1, sizeof(*slot))) == NULL)
		return NULL;
	if (TAILQ_EMPTY(&s->s_slots))
		session_slots_behind(s, 1);
	slot->sl_session = s;
	slot->sl_silent = !session_replying(s);
	slot->sl_fut = future_ref(fut);
	TAILQ_INSERT_TAIL(&s->s_slots, slot, sl_entry);
	slot->sl_cb = future_add_callback(fut, session_slot_done, slot);
	return slot;
}

void
session_slot_select(struct session_slot *slot, int db)
{
	slot->sl_select = 1;
	slot->sl_db = db;
}

void
session_slot_execabort(struct session_slot *slot)
{
	slot->sl_execabort = 1;
}

/* The future of the last slot (borrowed), or NULL if none is pending. */
struct future *
session_slots_last(const struct session *s)
{
	struct session_slot	*slot = TAILQ_LAST(&s->s_slots, session_slots);

	return slot != NULL ? slot->sl_fut : NULL;
}

int
session_slots_empty(const struct session *s)
{
	return TAILQ_EMPTY(&s->s_slots);
}

/* A slot's reply came: release what waits on the slots before it. */
static void
session_slot_done(struct future *fut, void *arg)
{
	struct session_slot	*slot = arg;

	slot->sl_cb = NULL;
	if (TAILQ_FIRST(&slot->sl_session->s_slots) == slot)
		session_slots_advance(slot->sl_session);
}

/*
 * Moves the replies of the leading done slots, and what waited behind each,
 * into the output.
 */
static void
session_slots_advance(struct session *s)
{
	struct session_slot		*slot;
	const struct cmdconn_reply	*r;
	struct evbuffer			*out;

	/* The hub's pending messages go behind the slots while they wait. */
	hub_subscriber_flush(s->s_env->se_hub, &s->s_hs);
	while ((slot = TAILQ_FIRST(&s->s_slots)) != NULL &&
	    !future_is_pending(slot->sl_fut)) {
		if ((out = session_output_make(s)) == NULL)
			fatalx("out of memory");
		r = future_state(slot->sl_fut) == FUTURE_DONE ?
		    future_result(slot->sl_fut) : NULL;
		if (r != NULL && slot->sl_select && r->type == CMDCONN_STATUS)
			s->s_db = (uint16_t)slot->sl_db;
		if (slot->sl_silent)
			;
		else if (slot->sl_execabort)
			resp_add_error(out, "EXECABORT Transaction discarded "
			    "because of previous errors.");
		else if (r != NULL)
			cmdconn_reply_encode_proto(out, r, s->s_resp);
		else
			resp_add_error(out, "ERR %s",
			    future_error(slot->sl_fut));
		if (slot->sl_after != NULL)
			evbuffer_add_buffer(out, slot->sl_after);
		session_slot_free(slot);
	}
	if (TAILQ_EMPTY(&s->s_slots))
		session_slots_behind(s, 0);
	session_queue_write(s);
	if ((s->s_flags & SESSION_PT_LOST) && TAILQ_EMPTY(&s->s_slots))
		session_close(s, 1, SESSION_END_PASSTHROUGH);
}

/* Unlinks and frees a slot. */
static void
session_slot_free(struct session_slot *slot)
{
	TAILQ_REMOVE(&slot->sl_session->s_slots, slot, sl_entry);
	if (slot->sl_cb != NULL)
		future_remove_callback(slot->sl_fut, slot->sl_cb);
	future_unref(slot->sl_fut);
	if (slot->sl_after != NULL)
		evbuffer_free(slot->sl_after);
	free(slot);
}

void
session_slots_free_(struct session *s)
{
	struct session_slot	*slot;

	while ((slot = TAILQ_FIRST(&s->s_slots)) != NULL)
		session_slot_free(slot);
}

size_t
session_slots_pending_(const struct session *s)
{
	const struct session_slot	*slot;
	size_t				 n = 0;

	TAILQ_FOREACH(slot, &s->s_slots, sl_entry)
		if (slot->sl_after != NULL)
			n += evbuffer_get_length(slot->sl_after);
	return n;
}

/* Where messages wait that cannot be written now (see session.h). */
int
session_behind(struct session *s, struct evbuffer **out)
{
	struct session_slot	*slot;

	*out = NULL;
	if ((slot = TAILQ_LAST(&s->s_slots, session_slots)) == NULL)
		return 0;
	if (slot->sl_after == NULL && (slot->sl_after = evbuffer_new()) == NULL)
		return -1;
	*out = slot->sl_after;
	return 0;
}
