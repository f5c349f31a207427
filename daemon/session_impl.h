/*
 * session_impl.h: the session's insides, shared by its two files and
 * nobody else.
 *
 * session.c owns the session: its user, subscriptions, output and what
 * the sessions share. session_slot.c owns the slots: replies Redis sends
 * later, each holding its place in the output, and what waits behind them.
 */
#ifndef PUBSUBD_SESSION_IMPL_H
#define PUBSUBD_SESSION_IMPL_H

#include <stdint.h>
#include <sys/queue.h>

#include "hub.h"
#include "session.h"

struct session_cold;
/* The slots of a session, first to last (struct session_slot is
   session_slot.c's). */
TAILQ_HEAD(session_slots, session_slot);

struct session {
	struct hub_subscriber	 s_hs;		/* the hub's view; first */
	struct session_env	*s_env;		/* borrowed */
	const struct session_io	*s_io;		/* borrowed */
	void			*s_arg;		/* borrowed: the connection */
	uint64_t		 s_id;
	const char		*s_cmd;		/* last command's full name:
						   static, or s_cold's */
	struct session_cold	*s_cold;	/* owned, or NULL: made by
						   the first rare need */
	struct acl_user		*s_user;	/* borrowed from the conf's
						   acl: logged in as; NULL:
						   not authenticated */
	/*
	 * Packed into 32 bytes: an idle subscriber is mostly this struct
	 * and its connection's.
	 */
	uint32_t		 s_nsubs;	/* confirmed channels+patterns */
	uint32_t		 s_nshard;	/* confirmed shard channels */
	uint32_t		 s_held[UPSTREAM_KINDS];	/* in s_sublist */
	uint32_t		 s_age0;	/* created, in seconds after
						   se_started */
	uint32_t		 s_last_s;	/* last command: session_now_s() */
	uint16_t		 s_db;		/* <= SESSION_DB_MAX */
	uint8_t			 s_resp;	/* 2 or 3 */
	uint8_t			 s_flags;	/* SESSION_* */
	struct evbuffer		*s_out;		/* owned, lazily made */
	struct session_slots	 s_slots;	/* replies still to come */
	struct command_run	*s_run;		/* borrowed: the command
						   coroutine's, while it
						   serves */
	TAILQ_HEAD(, hub_sub)	 s_sublist;	/* all kinds, in order */
	TAILQ_ENTRY(session)	 s_entry;	/* env's live sessions */
};

/* Frees every slot (the session is going away). */
void		 session_slots_free_(struct session *s);
/* Bytes waiting behind the slots. */
size_t		 session_slots_pending_(const struct session *s);

#endif
