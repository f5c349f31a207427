/*
 * session.c: one client's session (see session.h), and what the sessions
 * share.
 *
 * Output: replies are appended to s_out and handed to the connection
 * (session_io.queue_write) to be written at the end of the loop turn;
 * messages arrive from the hub once per batch and go to the connection,
 * which writes them at once when nothing waits before them. A reply that
 * Redis will send later (a passthrough command) holds its place as a slot
 * (session_slot.c).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/uio.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "acl.h"
#include "cmdconn.h"
#include "future.h"
#include "hub.h"
#include "log.h"
#include "map.h"
#include "session_impl.h"

/*
 * Pieces of a batch queued behind a full socket are copied up to this size
 * and referenced above it: a reference to a small piece would keep a whole
 * batch (256 KiB) alive for a few bytes (a stalled reader of one channel
 * among many pinned 190 MB for 13 MB of output), while copying large
 * pieces would multiply what many clients of one channel share.
 */
#define SESSION_COPY_MAX	512

/*
 * How many subscriptions a session holds before they are indexed by hash
 * (till then a lookup walks the list: cheaper than a map for a few).
 */
#define SESSION_SUBS_MAP	16

/* An index entry for one subscription of a session with many. */
struct session_subent {
	struct map_entry	 se_entry;	/* key: hub_sub_name() */
	struct hub_sub		*se_sub;	/* borrowed: lives longer */
};

/*
 * What few sessions need, made the first time one does, so that the many
 * that only subscribe do not carry it.
 */
struct session_cold {
	char			 sc_cmd[128];	/* a name not in our table */
	char			*sc_name;	/* owned, or NULL */
	struct cmdconn		*sc_pt;		/* owned: passthrough, or
						   NULL */
	/* Past SESSION_SUBS_MAP subscriptions, s_sublist is indexed here. */
	int			 sc_mapped;
	struct map		 sc_subs[UPSTREAM_KINDS];	/* of owned
						   session_subent */
};

static void	session_deliver(struct hub_subscriber *, struct hub_batch *,
		    struct iovec *, int, size_t);
static void	session_authlog_cb(evutil_socket_t, short, void *);
static int	session_map_sub(struct session_cold *, struct hub_sub *);
static void	session_unmap_sub(struct session_cold *, struct hub_sub *);
static struct session_cold *session_cold(struct session *);
static uint32_t	session_now_s(void);

static const struct hub_subscriber_ops session_hs_ops = { session_deliver };

/* Each reason's label (metrics) and what the log says. */
static const struct {
	const char	*label;
	const char	*text;
} session_ends[SESSION_ENDS] = {
	[SESSION_END_QUIT] = { "quit", "quit" },
	[SESSION_END_EOF] = { "eof", "end of input" },
	[SESSION_END_PROTOCOL] = { "protocol_error", "protocol error" },
	[SESSION_END_READ_ERROR] = { "read_error", "read error" },
	[SESSION_END_WRITE_ERROR] = { "write_error", "write error" },
	[SESSION_END_OUTPUT_HARD] = { "output_hard",
	    "output over the hard limit" },
	[SESSION_END_OUTPUT_SOFT] = { "output_soft",
	    "output over the soft limit" },
	[SESSION_END_QUERY_BUFFER] = { "query_buffer", "query buffer limit" },
	[SESSION_END_IDLE] = { "idle", "idle timeout" },
	[SESSION_END_KILLED] = { "killed", "killed by CLIENT KILL" },
	[SESSION_END_PASSTHROUGH] = { "passthrough_lost",
	    "passthrough connection to redis lost" },
	[SESSION_END_SHUTDOWN] = { "shutdown", "shutting down" },
	[SESSION_END_INTERNAL] = { "internal_error",
	    "out of memory or internal error" },
	[SESSION_END_TLS_HANDSHAKE] = { "tls_handshake",
	    "TLS handshake failed" },
};

const char *
session_end_name(enum session_end why)
{
	if ((unsigned int)why >= SESSION_ENDS)
		return "unknown";
	return session_ends[why].label;
}

const char *
session_end_text(enum session_end why)
{
	if ((unsigned int)why >= SESSION_ENDS)
		return "unknown";
	return session_ends[why].text;
}

/* Prepares what every session shares. */
int
session_env_init(struct session_env *env, struct event_base *base,
    struct hub *hub, struct upstream *up, const struct session_conf *conf)
{
	env->se_base = base;
	env->se_hub = hub;
	env->se_up = up;
	env->se_conf = conf;
	env->se_started = time(NULL);
	env->se_next_id = 1;
	TAILQ_INIT(&env->se_sessions);
	pool_init(&env->se_pool, sizeof(struct session));
	env->se_discard = evbuffer_new();
	env->se_authlog_ev = evtimer_new(base, session_authlog_cb, env);
	if (env->se_discard == NULL || env->se_authlog_ev == NULL)
		return -1;
	return 0;
}

/* Frees what env holds. */
void
session_env_destroy(struct session_env *env)
{
	if (env->se_discard != NULL)
		evbuffer_free(env->se_discard);
	if (env->se_authlog_ev != NULL) {
		/* The failures not logged yet are not lost to the stop. */
		session_authlog_cb(-1, 0, env);
		event_free(env->se_authlog_ev);
	}
	pool_destroy(&env->se_pool);
}

struct session *
session_env_first(struct session_env *env)
{
	return TAILQ_FIRST(&env->se_sessions);
}

struct session *
session_next(struct session *s)
{
	return TAILQ_NEXT(s, s_entry);
}

void *
session_arg(const struct session *s)
{
	return s->s_arg;
}

/* Finds a live session by id. */
struct session *
session_env_find(struct session_env *env, uint64_t id)
{
	struct session	*s;

	TAILQ_FOREACH(s, &env->se_sessions, s_entry)
		if (s->s_id == id)
			return s;
	return NULL;
}

/* Sums what the live sessions and their connections hold. */
void
session_env_memory(const struct session_env *env, struct session_mem *mem)
{
	struct session		*s;
	struct session_peer	 peer;
	size_t			 out;

	memset(mem, 0, sizeof(*mem));
	TAILQ_FOREACH(s, &env->se_sessions, s_entry) {
		memset(&peer, 0, sizeof(peer));
		s->s_io->describe(s->s_arg, &peer);
		mem->clients += sizeof(*s) + peer.mem;
		mem->input += peer.qbuf;
		out = session_pending(s) + peer.omem;
		mem->output += out;
		if (out > mem->output_max)
			mem->output_max = out;
	}
}

/* Milliseconds of a monotonic clock, for limits measured in time. */
long long
session_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The monotonic clock in seconds, rounded up: an idle time computed from it
 * is short by less than a second, never long, so idle_timeout never cuts
 * a client early.
 */
static uint32_t
session_now_s(void)
{
	return (uint32_t)((session_now_ms() + 999) / 1000);
}

/* Returns a new session, logged in as the default user if it may be. */
struct session *
session_new(struct session_env *env, const struct session_io *io, void *arg)
{
	struct session	*s;

	if ((s = pool_get(&env->se_pool)) == NULL)
		return NULL;
	s->s_env = env;
	s->s_io = io;
	s->s_arg = arg;
	s->s_id = env->se_next_id++;
	s->s_resp = 2;
	s->s_age0 = (uint32_t)(time(NULL) - env->se_started);
	s->s_last_s = session_now_s();
	s->s_cmd = "NULL";
	session_set_user(s, acl_login_user(env->se_conf->acl));
	hub_subscriber_init(&s->s_hs, &session_hs_ops);
	TAILQ_INIT(&s->s_slots);
	TAILQ_INIT(&s->s_sublist);
	TAILQ_INSERT_TAIL(&env->se_sessions, s, s_entry);
	return s;
}

/* The connection closed: logged out, and off the list of live ones. */
void
session_end(struct session *s)
{
	if (s->s_flags & SESSION_ENDED)
		return;
	s->s_flags |= SESSION_ENDED;
	session_set_user(s, NULL);
	TAILQ_REMOVE(&s->s_env->se_sessions, s, s_entry);
}

/* Releases everything the session holds. */
void
session_free(struct session *s)
{
	int	k;

	session_end(s);
	s->s_env->se_stats.output_discarded += session_pending(s);
	hub_subscriber_forget(s->s_env->se_hub, &s->s_hs);
	session_unsubscribe_all(s);
	if (s->s_cold != NULL)
		for (k = 0; k < UPSTREAM_KINDS; k++)
			map_clear(&s->s_cold->sc_subs[k]);
	session_slots_free_(s);
	session_close_passthrough(s);
	if (s->s_out != NULL)
		evbuffer_free(s->s_out);
	if (s->s_cold != NULL)
		free(s->s_cold->sc_name);
	free(s->s_cold);
	pool_put(&s->s_env->se_pool, s);
}

struct session_env *
session_env(const struct session *s)
{
	return s->s_env;
}

uint64_t
session_id(const struct session *s)
{
	return s->s_id;
}

time_t
session_created(const struct session *s)
{
	return s->s_env->se_started + (time_t)s->s_age0;
}

long long
session_last_ms(const struct session *s)
{
	return (long long)s->s_last_s * 1000;
}

int
session_resp(const struct session *s)
{
	return s->s_resp;
}

/* Switches the protocol (HELLO, RESET); pushes follow it. */
void
session_set_proto(struct session *s, int resp)
{
	int	ws = s->s_hs.hs_form == HUB_FORM_WS_RESP2 ||
		    s->s_hs.hs_form == HUB_FORM_WS_RESP3;

	s->s_resp = (uint8_t)resp;
	/* The RESP forms follow the protocol; another transport's stays. */
	if (ws || s->s_hs.hs_form <= HUB_FORM_RESP3)
		hub_subscriber_set_form(s->s_env->se_hub, &s->s_hs, resp == 3 ?
		    (ws ? HUB_FORM_WS_RESP3 : HUB_FORM_RESP3) :
		    (ws ? HUB_FORM_WS_RESP2 : HUB_FORM_RESP2));
}

const char *
session_web_refusal_name(enum session_web_refusal why)
{
	static const char *const names[SESSION_WEB_REFUSALS] = {
		"malformed", "origin", "denied", "not_found", "too_large",
		"timeout", "unavailable"
	};

	return (unsigned)why < SESSION_WEB_REFUSALS ? names[why] : "?";
}

void
session_set_form(struct session *s, int form)
{
	hub_subscriber_set_form(s->s_env->se_hub, &s->s_hs,
	    (enum hub_form)form);
}

struct acl_user *
session_user(const struct session *s)
{
	return s->s_user;
}

/* Logs s in as u (NULL: out), keeping the users' connection counts. */
void
session_set_user(struct session *s, struct acl_user *u)
{
	if (s->s_user == u)
		return;
	if (s->s_user != NULL)
		acl_user_detach(s->s_user);
	s->s_user = u;
	if (u != NULL)
		acl_user_attach(u);
}

/* Moves s to the user of the same name after a reload (see session.h). */
int
session_rebind_user(struct session *s)
{
	struct acl_user	*u;
	const char	*name;

	if (s->s_user == NULL)
		return 0;
	/* The old user is still valid: its set is freed after. */
	name = acl_user_name(s->s_user);
	u = acl_find(s->s_env->se_conf->acl, name, strlen(name));
	if (u == NULL || !acl_user_enabled(u)) {
		log_notice("client %llu: user '%s' %s by the reload: closing "
		    "the connection", (unsigned long long)s->s_id, name,
		    u == NULL ? "was removed" : "was disabled");
		/* Not detached from the old set: it goes away whole. */
		s->s_user = NULL;
		return -1;
	}
	s->s_user = NULL;
	session_set_user(s, u);
	return 0;
}

/* The session's rarely needed part, made now if need be; NULL: no memory. */
static struct session_cold *
session_cold(struct session *s)
{
	if (s->s_cold == NULL)
		s->s_cold = calloc(1, sizeof(*s->s_cold));
	return s->s_cold;
}

const char *
session_name(const struct session *s)
{
	return s->s_cold != NULL ? s->s_cold->sc_name : NULL;
}

/*
 * Names the session (len 0: no name). Out of memory, it is left without a
 * name, as before.
 */
void
session_set_name(struct session *s, const char *name, size_t len)
{
	if (s->s_cold != NULL) {
		free(s->s_cold->sc_name);
		s->s_cold->sc_name = NULL;
	}
	if (len > 0 && session_cold(s) != NULL)
		s->s_cold->sc_name = strndup(name, len);
}

const char *
session_cmd(const struct session *s)
{
	return s->s_cmd;
}

/* Records the last command's name, for CLIENT LIST's cmd=. */
void
session_set_cmd(struct session *s, const char *name, int is_static)
{
	struct session_cold	*cold;

	if (is_static) {
		s->s_cmd = name;
		return;
	}
	if ((cold = session_cold(s)) == NULL) {
		s->s_cmd = "NULL";	/* only shown: not worth failing */
		return;
	}
	snprintf(cold->sc_cmd, sizeof(cold->sc_cmd), "%s", name);
	s->s_cmd = cold->sc_cmd;
}

int
session_db(const struct session *s)
{
	return s->s_db;
}

void
session_set_db(struct session *s, int db)
{
	s->s_db = (uint16_t)db;
}

int
session_flags(const struct session *s)
{
	return s->s_flags;
}

void
session_flags_set(struct session *s, int flags)
{
	s->s_flags |= (uint8_t)flags;
}

void
session_flags_clear(struct session *s, int flags)
{
	s->s_flags &= (uint8_t)~flags;
}

/* Whether this command's replies are sent (not CLIENT REPLY OFF/SKIP). */
int
session_replying(const struct session *s)
{
	return !(s->s_flags & (SESSION_REPLY_OFF | SESSION_SKIP_THIS));
}

/*
 * Returns where this command's reply goes: the output, or a scratch buffer
 * that is thrown away if CLIENT REPLY turned replies off.
 */
struct evbuffer *
session_reply(struct session *s)
{
	if (!session_replying(s))
		return s->s_env->se_discard;
	return session_out(s);
}

/*
 * Returns the buffer that output goes to now, after handing over the
 * messages the hub has pending for the session so that they come first:
 * s_out (made on first use), or, behind a reply still to come, the last
 * slot's buffer.
 */
struct evbuffer *
session_out(struct session *s)
{
	struct evbuffer	*out;

	hub_subscriber_flush(s->s_env->se_hub, &s->s_hs);
	if (session_behind(s, &out) == -1 ||
	    (out == NULL && (out = session_output_make(s)) == NULL))
		fatalx("out of memory");
	return out;
}

void
session_queue_write(struct session *s)
{
	s->s_io->queue_write(s->s_arg);
}

/* Queues an error reply; Redis turns CR and LF inside it into spaces. */
void
session_error(struct session *s, const char *fmt, ...)
{
	char	 msg[512], *p;
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (p = msg; *p != '\0'; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	resp_add_error(session_reply(s), "%s", msg);
	session_queue_write(s);
}

/* Writes the header of a push: ">n" in RESP3, "*n" in RESP2. */
void
session_push_header(struct session *s, struct evbuffer *out, long long n)
{
	evbuffer_add_printf(out, "%c%lld\r\n", s->s_resp == 3 ? '>' : '*', n);
}

/* Writes a null: "_" in RESP3, a null bulk in RESP2. */
void
session_null(struct session *s, struct evbuffer *out)
{
	if (s->s_resp == 3)
		evbuffer_add(out, "_\r\n", 3);
	else
		resp_add_null(out);
}

/* Writes text as Redis' verbatim string ("=len\r\ntxt:..." in RESP3). */
void
session_verbatim(struct session *s, struct evbuffer *out, struct evbuffer *txt)
{
	size_t	len = evbuffer_get_length(txt);

	if (s->s_resp == 3)
		evbuffer_add_printf(out, "=%zu\r\ntxt:", len + 4);
	else
		evbuffer_add_printf(out, "$%zu\r\n", len);
	evbuffer_add_buffer(out, txt);
	evbuffer_add(out, "\r\n", 2);
}

struct hub_sub *
session_subs(struct session *s)
{
	return TAILQ_FIRST(&s->s_sublist);
}

uint32_t
session_held(const struct session *s, enum upstream_kind kind)
{
	return s->s_held[kind];
}

uint32_t
session_count(const struct session *s, enum upstream_kind kind)
{
	return kind == UPSTREAM_SHARD ? s->s_nshard : s->s_nsubs;
}

int
session_subscribed(const struct session *s)
{
	return s->s_nsubs + s->s_nshard > 0;
}

/* Indexes sub by name in cold's maps. Returns -1 out of memory. */
static int
session_map_sub(struct session_cold *cold, struct hub_sub *sub)
{
	struct session_subent	*se;
	const char		*key;
	size_t			 keylen;

	if ((se = malloc(sizeof(*se))) == NULL)
		return -1;
	se->se_sub = sub;
	key = hub_sub_name(sub, &keylen);
	if (map_insert(&cold->sc_subs[hub_sub_kind(sub)], &se->se_entry, key,
	    keylen) == -1) {
		free(se);
		return -1;
	}
	return 0;
}

/* Drops sub's index entry, if it has one. */
static void
session_unmap_sub(struct session_cold *cold, struct hub_sub *sub)
{
	struct map		*m = &cold->sc_subs[hub_sub_kind(sub)];
	struct map_entry	*e;
	struct session_subent	*se;
	const char		*key;
	size_t			 keylen;

	key = hub_sub_name(sub, &keylen);
	if ((e = map_find(m, key, keylen)) == NULL)
		return;
	se = MAP_ITEM(e, struct session_subent, se_entry);
	if (se->se_sub != sub)
		return;
	map_remove(m, e);
	free(se);
}

/*
 * Lists a new subscription of the session (its name is the hub's). A few
 * are only listed; past SESSION_SUBS_MAP the list gets a hash index too,
 * kept from then on. Returns 0, or -1 without memory (sub not added).
 */
static int
session_add_sub(struct session *s, struct hub_sub *sub)
{
	enum upstream_kind	 kind = hub_sub_kind(sub);
	struct session_cold	*cold = s->s_cold;
	struct hub_sub		*o;
	size_t			 n;
	int			 k;

	n = s->s_held[0] + s->s_held[1] + s->s_held[2];
	if ((cold == NULL || !cold->sc_mapped) && n + 1 > SESSION_SUBS_MAP &&
	    (cold = session_cold(s)) != NULL) {
		cold->sc_mapped = 1;
		TAILQ_FOREACH(o, &s->s_sublist, hs_owner_link) {
			if (session_map_sub(cold, o) == -1) {
				/* Lists still work: only slower. */
				TAILQ_FOREACH(o, &s->s_sublist, hs_owner_link)
					session_unmap_sub(cold, o);
				for (k = 0; k < UPSTREAM_KINDS; k++)
					map_clear(&cold->sc_subs[k]);
				cold->sc_mapped = 0;
				break;
			}
		}
	}
	if (cold != NULL && cold->sc_mapped && session_map_sub(cold, sub) == -1)
		return -1;
	TAILQ_INSERT_TAIL(&s->s_sublist, sub, hs_owner_link);
	s->s_held[kind]++;
	return 0;
}

/* Asks the hub for name and lists the pending subscription. */
struct hub_sub *
session_subscribe(struct session *s, enum upstream_kind kind,
    const char *name, size_t len, struct future **ready)
{
	struct hub_sub	*sub;

	sub = hub_subscribe(s->s_env->se_hub, &s->s_hs, kind, name, len, ready);
	if (sub == NULL)
		return NULL;
	if (session_add_sub(s, sub) == -1) {
		hub_unsubscribe(s->s_env->se_hub, sub);
		future_unref(*ready);
		*ready = NULL;
		return NULL;
	}
	return sub;
}

/* Starts delivering a subscription whose future is done, and counts it. */
void
session_activate(struct session *s, struct hub_sub *sub)
{
	enum upstream_kind	kind = hub_sub_kind(sub);

	hub_activate(s->s_env->se_hub, sub);
	/* Counted only if active, as session_drop_sub() uncounts. */
	if (!hub_sub_active(sub))
		return;
	if (kind == UPSTREAM_SHARD)
		s->s_nshard++;
	else
		s->s_nsubs++;
	s->s_env->se_stats.subscriptions[kind]++;
}

/* The session's subscription of kind to name (pending or active), or NULL. */
struct hub_sub *
session_find_sub(struct session *s, enum upstream_kind kind, const char *name,
    size_t len)
{
	struct map_entry	*e;
	struct hub_sub		*sub;
	const char		*key;
	size_t			 keylen;

	if (s->s_held[kind] == 0)
		return NULL;
	if (s->s_cold != NULL && s->s_cold->sc_mapped) {
		e = map_find(&s->s_cold->sc_subs[kind], name, len);
		return e != NULL ?
		    MAP_ITEM(e, struct session_subent, se_entry)->se_sub : NULL;
	}
	TAILQ_FOREACH(sub, &s->s_sublist, hs_owner_link) {
		if (hub_sub_kind(sub) != kind)
			continue;
		key = hub_sub_name(sub, &keylen);
		if (keylen == len && memcmp(key, name, len) == 0)
			return sub;
	}
	return NULL;
}

/* Removes one subscription from the session and from the hub. */
void
session_drop_sub(struct session *s, struct hub_sub *sub)
{
	enum upstream_kind	kind = hub_sub_kind(sub);

	if (s->s_cold != NULL && s->s_cold->sc_mapped)
		session_unmap_sub(s->s_cold, sub);
	TAILQ_REMOVE(&s->s_sublist, sub, hs_owner_link);
	s->s_held[kind]--;
	if (hub_sub_active(sub)) {
		if (kind == UPSTREAM_SHARD)
			s->s_nshard--;
		else
			s->s_nsubs--;
		s->s_env->se_stats.subscriptions[kind]--;
	}
	hub_unsubscribe(s->s_env->se_hub, sub);
}

/* Drops every subscription, of every kind, silently (RESET, teardown). */
void
session_unsubscribe_all(struct session *s)
{
	struct hub_sub	*sub;

	while ((sub = TAILQ_FIRST(&s->s_sublist)) != NULL)
		session_drop_sub(s, sub);
}

/* The passthrough connection (borrowed), or NULL. */
struct cmdconn *
session_pt(const struct session *s)
{
	return s->s_cold != NULL ? s->s_cold->sc_pt : NULL;
}

/* Gives the session its passthrough connection. Returns -1 out of memory. */
int
session_set_pt(struct session *s, struct cmdconn *pt)
{
	if (session_cold(s) == NULL)
		return -1;
	s->s_cold->sc_pt = pt;
	return 0;
}

/* Closes the passthrough connection; its pending replies fail. */
void
session_close_passthrough(struct session *s)
{
	struct cmdconn	*pt = session_pt(s);

	if (pt != NULL)
		s->s_cold->sc_pt = NULL;
	session_flags_clear(s, SESSION_MULTI | SESSION_MULTI_DIRTY |
	    SESSION_PT_LOST | SESSION_PT_STATE);
	cmdconn_free(pt);
}

void
session_close(struct session *s, int flush, enum session_end why)
{
	s->s_io->close(s->s_arg, flush, why);
}

const char *
session_addr(struct session *s, int local, char *buf, size_t len)
{
	return s->s_io->addr(s->s_arg, local, buf, len);
}

/* Appends the session's CLIENT LIST line (Redis' fields, with ours). */
void
session_format_info(struct session *s, struct evbuffer *out)
{
	char			 addr[SESSION_ADDR_MAX], laddr[SESSION_ADDR_MAX];
	struct session_peer	 peer;
	time_t			 now = time(NULL);
	long long		 idle = (session_now_ms() - session_last_ms(s)) /
				    1000;
	const char		*name = session_name(s);
	size_t			 omem;
	int			 pubsub = session_subscribed(s);

	memset(&peer, 0, sizeof(peer));
	s->s_io->describe(s->s_arg, &peer);
	omem = peer.omem + (s->s_out ? evbuffer_get_length(s->s_out) : 0);
	evbuffer_add_printf(out, "id=%llu addr=%s laddr=%s fd=%d name=%s "
	    "age=%lld idle=%lld flags=%s db=%d sub=%u psub=%u ssub=%u "
	    "multi=%d qbuf=%zu qbuf-free=0 argv-mem=0 multi-mem=0 rbs=%d "
	    "rbp=0 obl=0 oll=0 omem=%zu tot-mem=%zu events=r%s cmd=%s "
	    "user=%s redir=-1 resp=%d\n",
	    (unsigned long long)s->s_id,
	    session_addr(s, 0, addr, sizeof(addr)),
	    session_addr(s, 1, laddr, sizeof(laddr)), peer.fd,
	    name ? name : "", (long long)(now - session_created(s)),
	    idle, pubsub ? (peer.local ? "PU" : "P") :
	    (peer.local ? "U" : "N"), s->s_db,
	    (unsigned)s->s_held[UPSTREAM_CHANNEL],
	    (unsigned)s->s_held[UPSTREAM_PATTERN],
	    (unsigned)s->s_held[UPSTREAM_SHARD],
	    (s->s_flags & SESSION_MULTI) ? 0 : -1, peer.qbuf, peer.rbs,
	    omem, sizeof(*s) + peer.mem + peer.qbuf + omem,
	    omem > 0 ? "w" : "", s->s_cmd,
	    /* Not logged in: Redis shows its default user too. */
	    s->s_user != NULL ? acl_user_name(s->s_user) : ACL_DEFAULT_USER,
	    s->s_resp);
}

struct command_run *
session_run(const struct session *s)
{
	return s->s_run;
}

void
session_set_run(struct session *s, struct command_run *run)
{
	s->s_run = run;
}

/* Whether a failed login may be logged now (see session.h). */
int
session_auth_log(struct session_env *env)
{
	long long	now = session_now_ms();
	struct timeval	tv;
	long long	left;

	if (now - env->se_authlog_start >= SESSION_AUTHLOG_MS) {
		env->se_authlog_start = now;
		env->se_authlog_lines = 0;
	}
	if (env->se_authlog_lines < SESSION_AUTHLOG_MAX) {
		env->se_authlog_lines++;
		return 1;
	}
	/* The first one refused in this window: its line comes at its end. */
	if (env->se_authlog_more++ == 0) {
		left = env->se_authlog_start + SESSION_AUTHLOG_MS - now;
		if (left < 1)
			left = 1;
		tv.tv_sec = left / 1000;
		tv.tv_usec = (left % 1000) * 1000;
		if (evtimer_add(env->se_authlog_ev, &tv) == -1)
			session_authlog_cb(-1, 0, env);	/* now, then */
	}
	return 0;
}

/* Logs the failed logins session_auth_log() kept out of the log. */
static void
session_authlog_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session_env	*env = arg;

	if (env->se_authlog_more == 0)
		return;
	log_notice("%llu more authentication failures (not logged: at most "
	    "%d lines per second)", env->se_authlog_more, SESSION_AUTHLOG_MAX);
	env->se_authlog_more = 0;
}

struct evbuffer *
session_output(const struct session *s)
{
	return s->s_out;
}

struct evbuffer *
session_output_make(struct session *s)
{
	if (s->s_out == NULL)
		s->s_out = evbuffer_new();
	return s->s_out;
}

/* All written: an idle session keeps no buffer. */
void
session_output_done(struct session *s)
{
	if (s->s_out != NULL) {
		evbuffer_free(s->s_out);
		s->s_out = NULL;
	}
}

/* Bytes the session holds to send: its output and what waits on slots. */
size_t
session_pending(const struct session *s)
{
	return (s->s_out != NULL ? evbuffer_get_length(s->s_out) : 0) +
	    session_slots_pending_(s);
}

void
session_flush_messages(struct session *s)
{
	hub_subscriber_flush(s->s_env->se_hub, &s->s_hs);
}

/* The hub hands over the session's messages of one batch. */
static void
session_deliver(struct hub_subscriber *hs, struct hub_batch *batch,
    struct iovec *iov, int iovcnt, size_t len)
{
	struct session	*s = (struct session *)hs;

	s->s_io->deliver(s->s_arg, batch, iov, iovcnt, len);
}

/*
 * Appends the pieces after skip bytes to out: small ones copied (cheaper
 * than a reference, and they do not keep a whole batch alive), larger ones
 * referenced.
 */
int
session_add_pieces(struct evbuffer *out, struct hub_batch *batch,
    const struct iovec *iov, int iovcnt, size_t skip)
{
	const char	*data;
	size_t		 rest;
	int		 i;

	for (i = 0; i < iovcnt; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		data = (const char *)iov[i].iov_base + skip;
		rest = iov[i].iov_len - skip;
		skip = 0;
		if (rest <= SESSION_COPY_MAX) {
			if (evbuffer_add(out, data, rest) == -1)
				return -1;
			continue;
		}
		hub_batch_ref(batch);
		if (evbuffer_add_reference(out, data, rest, hub_batch_release,
		    batch) == -1) {
			hub_batch_release(NULL, 0, batch);
			return -1;
		}
	}
	return 0;
}

int
session_request(struct session *s, struct resp_req *req, enum resp_status *st,
    int *eof, const char **error)
{
	*eof = 0;
	*error = NULL;
	return s->s_io->next(s->s_arg, req, st, eof, error);
}

/* Before a command: CLIENT REPLY SKIP covers exactly the next one. */
void
session_command_begin(struct session *s)
{
	s->s_env->se_stats.commands++;
	s->s_last_s = session_now_s();
	if (s->s_flags & SESSION_REPLY_SKIP) {
		s->s_flags &= ~SESSION_REPLY_SKIP;
		s->s_flags |= SESSION_SKIP_THIS;
	}
}

/* After a command: forget what replies were dropped. */
void
session_command_end(struct session *s)
{
	s->s_flags &= ~SESSION_SKIP_THIS;
	evbuffer_drain(s->s_env->se_discard,
	    evbuffer_get_length(s->s_env->se_discard));
}
