/*
 * cmd_info.c: INFO (Redis' sections that clients probe, and pubsubd's) and
 * COMMAND (Redis' answer, cut down to what pubsubd serves unless
 * passthrough is on).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/utsname.h>

#include <event2/buffer.h>

#include "cmd.h"
#include "cmdconn.h"
#include "command.h"
#include "endpoint.h"
#include "future.h"
#include "hub.h"
#include "log.h"
#include "procmem.h"
#include "session.h"
#include "tls.h"

/* The most arguments COMMAND INFO and DOCS send for pubsubd's table. */
#define CMD_INFO_ARGV	(2 + 64 + 32)

/* INFO server: who we are, and Redis' version (clients look at it). */
static void
cmd_info_server(struct session *s, struct evbuffer *txt)
{
	struct utsname	u;
	long long	uptime;

	uptime = (long long)(time(NULL) - session_env(s)->se_started);
	if (uname(&u) == -1)
		memset(&u, 0, sizeof(u));
	evbuffer_add_printf(txt, "# Server\r\nredis_version:%s\r\n"
	    "pubsubd_version:%s\r\nredis_mode:standalone\r\n"
	    "os:%s %s %s\r\narch_bits:%d\r\nprocess_id:%ld\r\n"
	    "uptime_in_seconds:%lld\r\nuptime_in_days:%lld\r\n"
	    "pubsubd_worker:%d\r\npubsubd_workers:%d\r\n",
	    upstream_redis_version(session_env(s)->se_up), PACKAGE_VERSION,
	    u.sysname, u.release, u.machine, (int)(sizeof(long) * 8),
	    (long)getpid(), uptime, uptime / 86400,
	    session_env(s)->se_conf->worker < 0 ? 0 : session_env(s)->se_conf->worker,
	    session_env(s)->se_conf->nworkers);
}

/* INFO clients: how many, and their subscriptions. */
static void
cmd_info_clients(struct session *s, struct evbuffer *txt)
{
	const struct session_stats	*cs = &session_env(s)->se_stats;
	struct session			*o;
	uint64_t			 pubsub = 0;

	for (o = session_env_first(session_env(s)); o != NULL;
	    o = session_next(o))
		pubsub += session_subscribed(o);
	evbuffer_add_printf(txt, "# Clients\r\n"
	    "connected_clients:%llu\r\npubsub_clients:%llu\r\n"
	    "maxclients:%d\r\nsubscribed_channels:%llu\r\n"
	    "subscribed_patterns:%llu\r\nsubscribed_shardchannels:%llu\r\n",
	    (unsigned long long)cs->connected, (unsigned long long)pubsub,
	    session_env(s)->se_conf->maxclients,
	    (unsigned long long)cs->subscriptions[UPSTREAM_CHANNEL],
	    (unsigned long long)cs->subscriptions[UPSTREAM_PATTERN],
	    (unsigned long long)cs->subscriptions[UPSTREAM_SHARD]);
}

/*
 * INFO memory: Redis' fields where the meaning is the same (used_memory is
 * what malloc has handed out; used_memory_rss what is resident), and
 * pubsubd's own for the rest.
 */
static void
cmd_info_memory(struct session *s, struct evbuffer *txt)
{
	struct procmem		pm;
	struct session_mem	cm;
	char			h[3][32];

	(void)procmem_read(&pm);
	session_env_memory(session_env(s), &cm);
	evbuffer_add_printf(txt, "# Memory\r\n");
	if (pm.has_malloc)
		evbuffer_add_printf(txt, "used_memory:%llu\r\n"
		    "used_memory_human:%s\r\n",
		    (unsigned long long)pm.malloc_used,
		    procmem_human(pm.malloc_used, h[0], sizeof(h[0])));
	evbuffer_add_printf(txt, "used_memory_rss:%llu\r\n"
	    "used_memory_rss_human:%s\r\nused_memory_rss_peak:%llu\r\n"
	    "used_memory_rss_peak_human:%s\r\n",
	    (unsigned long long)pm.rss, procmem_human(pm.rss, h[1],
	    sizeof(h[1])), (unsigned long long)pm.rss_peak,
	    procmem_human(pm.rss_peak, h[2], sizeof(h[2])));
	if (pm.has_malloc)
		evbuffer_add_printf(txt, "allocator_arena:%llu\r\n"
		    "allocator_mmapped:%llu\r\nallocator_free:%llu\r\n"
		    "mem_fragmentation_ratio:%.2f\r\n"
		    "mem_fragmentation_bytes:%lld\r\n",
		    (unsigned long long)pm.malloc_arena,
		    (unsigned long long)pm.malloc_mmapped,
		    (unsigned long long)pm.malloc_free,
		    pm.malloc_used > 0 ? (double)pm.rss /
		    (double)pm.malloc_used : 0.0,
		    (long long)pm.rss - (long long)pm.malloc_used);
	evbuffer_add_printf(txt, "mem_clients_normal:%zu\r\n"
	    "client_query_buffers:%zu\r\nclient_output_pending:%zu\r\n"
	    "client_output_pending_max:%zu\r\n"
	    "hub_channels:%zu\r\nhub_patterns:%zu\r\nhub_shardchannels:%zu\r\n"
	    "mem_allocator:libc\r\n",
	    cm.clients + cm.input + cm.output, cm.input, cm.output,
	    cm.output_max,
	    hub_count(session_env(s)->se_hub, UPSTREAM_CHANNEL),
	    hub_count(session_env(s)->se_hub, UPSTREAM_PATTERN),
	    hub_count(session_env(s)->se_hub, UPSTREAM_SHARD));
}

/* INFO stats: what went through, and why clients left. */
static void
cmd_info_stats(struct session *s, struct evbuffer *txt)
{
	const struct session_stats	*cs = &session_env(s)->se_stats;
	const struct hub_stats		*hs = hub_stats(session_env(s)->se_hub);
	char				 ulps[256];
	int				 i;

	evbuffer_add_printf(txt, "# Stats\r\n"
	    "total_connections_received:%llu\r\n"
	    "total_commands_processed:%llu\r\n"
	    "total_net_output_bytes:%llu\r\n"
	    "rejected_connections:%llu\r\n"
	    "total_protocol_errors:%llu\r\n"
	    "pubsub_channels:%zu\r\npubsub_patterns:%zu\r\n"
	    "pubsub_shardchannels:%zu\r\n"
	    "messages_received:%llu\r\nmessages_delivered:%llu\r\n"
	    "messages_unrouted:%llu\r\nmessages_dropped:%llu\r\n"
	    "fanout_batches:%llu\r\n"
	    "fanout_latency_count:%llu\r\nfanout_latency_sum_us:%llu\r\n"
	    "client_output_discarded_bytes:%llu\r\n"
	    "clients_cut_hard:%llu\r\nclients_cut_soft:%llu\r\n"
	    "clients_rejected_max:%llu\r\n"
	    "clients_idle_closed:%llu\r\nquery_buffer_cut:%llu\r\n"
	    "acl_access_denied_auth:%llu\r\nacl_access_denied_cmd:%llu\r\n"
	    "acl_access_denied_key:0\r\nacl_access_denied_channel:%llu\r\n"
	    "tls_connected_clients:%llu\r\n"
	    "total_tls_connections_received:%llu\r\n"
	    "tls_handshake_failures:%llu\r\n"
	    "total_tls_ktls_connections:%llu\r\ntls_ktls_kernel:%d\r\n"
	    "web_connected_clients:%llu\r\ntotal_web_requests:%llu\r\n"
	    "sse_connected_clients:%llu\r\ntotal_sse_streams:%llu\r\n"
	    "ws_connected_clients:%llu\r\ntotal_ws_connections:%llu\r\n"
	    "total_web_net_output_bytes:%llu\r\n"
	    "count_waits:%llu\r\ncount_wait_timeouts:%llu\r\n"
	    "client_disconnects:",
	    (unsigned long long)cs->accepted,
	    (unsigned long long)cs->commands,
	    (unsigned long long)cs->bytes_out,
	    (unsigned long long)cs->rejected_max,
	    (unsigned long long)cs->protocol_errors,
	    hub_count(session_env(s)->se_hub, UPSTREAM_CHANNEL),
	    hub_count(session_env(s)->se_hub, UPSTREAM_PATTERN),
	    hub_count(session_env(s)->se_hub, UPSTREAM_SHARD),
	    (unsigned long long)hs->messages_in,
	    (unsigned long long)hs->deliveries,
	    (unsigned long long)hs->unrouted,
	    (unsigned long long)hs->dropped,
	    (unsigned long long)hs->batches,
	    (unsigned long long)hs->latency_count,
	    (unsigned long long)(hs->latency_sum_ns / 1000),
	    (unsigned long long)cs->output_discarded,
	    (unsigned long long)cs->disconnects[SESSION_END_OUTPUT_HARD],
	    (unsigned long long)cs->disconnects[SESSION_END_OUTPUT_SOFT],
	    (unsigned long long)cs->rejected_max,
	    (unsigned long long)cs->disconnects[SESSION_END_IDLE],
	    (unsigned long long)cs->disconnects[SESSION_END_QUERY_BUFFER],
	    (unsigned long long)cs->auth_failures,
	    (unsigned long long)cs->denied_command,
	    (unsigned long long)cs->denied_channel,
	    (unsigned long long)cs->tls_connected,
	    (unsigned long long)cs->tls_accepted,
	    (unsigned long long)cs->tls_handshake_failures,
	    (unsigned long long)cs->tls_ktls, tls_ktls_kernel(ulps,
	    sizeof(ulps)),
	    (unsigned long long)cs->web_connected,
	    (unsigned long long)cs->web_requests,
	    (unsigned long long)cs->sse_connected,
	    (unsigned long long)cs->sse_accepted,
	    (unsigned long long)cs->ws_connected,
	    (unsigned long long)cs->ws_accepted,
	    (unsigned long long)cs->web_bytes_out,
	    (unsigned long long)cs->count_waits,
	    (unsigned long long)cs->count_wait_timeouts);
	for (i = 0; i < SESSION_ENDS; i++)
		evbuffer_add_printf(txt, "%s%s=%llu", i ? "," : "",
		    session_end_name((enum session_end)i),
		    (unsigned long long)cs->disconnects[i]);
	evbuffer_add_printf(txt, "\r\nweb_refused:");
	for (i = 0; i < SESSION_WEB_REFUSALS; i++)
		evbuffer_add_printf(txt, "%s%s=%llu", i ? "," : "",
		    session_web_refusal_name((enum session_web_refusal)i),
		    (unsigned long long)cs->web_refused[i]);
	evbuffer_add_printf(txt, "\r\n");
}

/* INFO upstream: the connection to Redis and its history. */
static void
cmd_info_upstream(struct session *s, struct evbuffer *txt)
{
	struct upstream			*up = session_env(s)->se_up;
	const struct hub_stats		*hs = hub_stats(session_env(s)->se_hub);
	const struct upstream_stats	*us = upstream_stats(up);
	const struct endpoint		*ep = upstream_endpoint(up);

	/*
	 * Redis over a Unix socket: its path, and port 0 (as Redis shows); a
	 * master that no sentinel has named yet: no host, and port 0.
	 */
	evbuffer_add_printf(txt, "# Upstream\r\n"
	    "upstream_host:%s\r\nupstream_port:%d\r\n"
	    "upstream_connected:%d\r\nupstream_synced:%d\r\n"
	    "upstream_channels:%llu\r\nupstream_patterns:%llu\r\n"
	    "upstream_shardchannels:%llu\r\n"
	    "upstream_subscribes:%llu\r\n"
	    "upstream_unsubscribes:%llu\r\n"
	    "upstream_connects:%llu\r\nupstream_connect_failures:%llu\r\n"
	    "upstream_outages:%llu\r\nupstream_last_outage_ms:%lld\r\n"
	    "upstream_down_since_ms:%lld\r\n"
	    "upstream_health_failures:%llu\r\n"
	    "upstream_mode:%s\r\nupstream_switches:%llu\r\n",
	    ep == NULL ? "" : ep->path != NULL ? ep->path : ep->host,
	    ep == NULL || ep->path != NULL ? 0 : ep->port,
	    upstream_connected(up), hub_synced(session_env(s)->se_hub),
	    (unsigned long long)hs->held[UPSTREAM_CHANNEL],
	    (unsigned long long)hs->held[UPSTREAM_PATTERN],
	    (unsigned long long)hs->held[UPSTREAM_SHARD],
	    (unsigned long long)hs->upstream_subscribes,
	    (unsigned long long)hs->upstream_unsubscribes,
	    us->connects, us->connect_failures,
	    us->outages, us->last_outage_ms, upstream_down_ms(up),
	    us->health_failures, upstream_mode(up), us->switches);
}

/* INFO cluster: clients ask; pubsubd is not one. */
static void
cmd_info_cluster(struct session *s, struct evbuffer *txt)
{
	evbuffer_add_printf(txt, "# Cluster\r\ncluster_enabled:0\r\n");
}

/*
 * INFO [section ...]: Redis' sections that clients probe, and pubsubd's, in
 * Redis' order; "all", "default" and "everything" (or none) give them all.
 */
void
cmd_info(struct command_run *run)
{
	static const struct {
		const char	*name;
		void		(*fn)(struct session *, struct evbuffer *);
	} sections[] = {
		{ "server", cmd_info_server },
		{ "clients", cmd_info_clients },
		{ "memory", cmd_info_memory },
		{ "stats", cmd_info_stats },
		{ "upstream", cmd_info_upstream },
		{ "cluster", cmd_info_cluster },
	};
	struct session		*s = run->r_s;
	const struct resp_req	*r = &run->r_req;
	struct evbuffer		*txt;
	size_t			 k;
	int			 i, want, all = r->argc == 1;

	for (i = 1; i < r->argc; i++)
		if (command_is(r, i, "all") || command_is(r, i, "default") ||
		    command_is(r, i, "everything"))
			all = 1;
	if ((txt = evbuffer_new()) == NULL)
		fatalx("out of memory");
	for (k = 0; k < sizeof(sections) / sizeof(sections[0]); k++) {
		for (want = all, i = 1; !want && i < r->argc; i++)
			want = command_is(r, i, sections[k].name);
		if (!want)
			continue;
		if (evbuffer_get_length(txt) > 0)
			evbuffer_add(txt, "\r\n", 2);
		sections[k].fn(s, txt);
	}
	session_verbatim(s, session_reply(s), txt);
	evbuffer_free(txt);
	session_queue_write(s);
}

/* A name that no Redis command has: COMMAND INFO answers nil for it. */
#define COMMAND_NOT_SERVED	"pubsubd-not-served"

/*
 * COMMAND [subcommand ...]: with passthrough on, Redis serves every command
 * and answers for itself; with it off, Redis' answer for the commands
 * pubsubd serves.
 */
void
cmd_command_start(struct command_run *run)
{
	struct session		*s = run->r_s;
	const struct resp_req	*r = &run->r_req;
	const char		*argv[CMD_INFO_ARGV];
	size_t			 argvlen[CMD_INFO_ARGV], i;
	int			 argc = 0, a, ours;

	if (session_env(s)->se_conf->passthrough || (r->argc > 1 &&
	    !command_is(r, 1, "count") && !command_is(r, 1, "docs") &&
	    !command_is(r, 1, "info") && !command_is(r, 1, "list"))) {
		command_upstream(run, 0, r->argc, (const char *const *)r->argv,
		    r->argvlen);
		return;
	}
	if (command_is(r, 1, "count")) {
		if (r->argc != 2) {
			session_error(s, "ERR wrong number of arguments "
			    "for 'command|count' command");
			return;
		}
		resp_add_int(session_reply(s), (long long)command_count());
		session_queue_write(s);
		return;
	}
	if (command_is(r, 1, "list") && r->argc == 2) {
		resp_add_array(session_reply(s), (long long)command_count());
		for (i = 0; i < command_count(); i++)
			resp_add_bulk(session_reply(s), command_at(i)->name,
			    strlen(command_at(i)->name));
		session_queue_write(s);
		return;
	}
	if (command_is(r, 1, "list")) {
		/* Filtered by Redis, then cut down to pubsubd's commands. */
		command_upstream(run, 0, r->argc, (const char *const *)r->argv,
		    r->argvlen);
		return;
	}
	/* COMMAND, COMMAND INFO [names], COMMAND DOCS [names]. */
	argv[argc] = "COMMAND";
	argvlen[argc++] = 7;
	argv[argc] = command_is(r, 1, "docs") ? "DOCS" : "INFO";
	argvlen[argc++] = 4;
	if (r->argc <= 2) {
		for (i = 0; i < command_count(); i++) {
			argv[argc] = command_at(i)->name;
			argvlen[argc++] = strlen(command_at(i)->name);
		}
	} else {
		if (r->argc - 2 > 64) {
			session_error(s, "ERR pubsubd answers COMMAND "
			    "INFO and DOCS for at most 64 names at once");
			return;
		}
		for (a = 2; a < r->argc; a++) {
			ours = 0;
			for (i = 0; i < command_count(); i++)
				ours |= command_is(r, a, command_at(i)->name);
			argv[argc] = ours ? r->argv[a] : COMMAND_NOT_SERVED;
			argvlen[argc++] = ours ? r->argvlen[a] :
			    strlen(COMMAND_NOT_SERVED);
		}
	}
	command_upstream(run, 0, argc, argv, argvlen);
}

/*
 * Passes Redis' answer to COMMAND on; for COMMAND LIST with filters and
 * passthrough off, only the commands pubsubd serves.
 */
void
cmd_command_finish(struct command_run *run)
{
	struct session			*s = run->r_s;
	const struct cmdconn_reply	*r, *e;
	struct evbuffer			*list;
	long long			 n = 0;
	size_t				 i, j;

	if (run->r_raw) {
		run->r_raw = 0;
		if (future_state(run->r_wait[0]) != FUTURE_DONE)
			session_error(s, "ERR %s",
			    future_error(run->r_wait[0]));
		else
			evbuffer_add_buffer_reference(session_reply(s),
			    future_result(run->r_wait[0]));
		session_queue_write(s);
		return;
	}
	if ((r = command_upstream_reply(run, 0)) == NULL)
		return;
	if (!command_is(&run->r_req, 1, "list") ||
	    session_env(s)->se_conf->passthrough || r->type != CMDCONN_ARRAY) {
		cmdconn_reply_encode_proto(session_reply(s), r, session_resp(s));
		session_queue_write(s);
		return;
	}
	if ((list = evbuffer_new()) == NULL)
		fatalx("out of memory");
	for (i = 0; i < r->elements; i++) {
		e = r->element[i];
		for (j = 0; j < command_count(); j++) {
			if (e->type == CMDCONN_STRING &&
			    e->len == strlen(command_at(j)->name) &&
			    strncasecmp(e->str, command_at(j)->name,
			    e->len) == 0) {
				resp_add_bulk(list, e->str, e->len);
				n++;
			}
		}
	}
	resp_add_array(session_reply(s), n);
	evbuffer_add_buffer(session_reply(s), list);
	evbuffer_free(list);
	session_queue_write(s);
}

