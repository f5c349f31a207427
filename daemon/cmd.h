/*
 * cmd.h: the command handlers, by family, for command.c's table.
 *
 *   cmd_pubsub.c	  SUBSCRIBE and UNSUBSCRIBE (all three kinds),
 *			  PUBLISH, SPUBLISH, PUBSUB
 *   cmd_conn.c		  PING, ECHO, HELLO, AUTH, ACL, SELECT, RESET
 *   cmd_client.c	  CLIENT and its subcommands
 *   cmd_info.c		  INFO and COMMAND
 *   cmd_passthrough.c	  any other command Redis knows, on the session's
 *			  own connection to Redis
 *
 * A handler is given the request being served (struct command_run, see
 * command.h) and sees its session only through session.h: it replies into
 * session_reply(), asks the hub and the upstream through the session's
 * env, and never knows what carries the session.
 */
#ifndef PUBSUBD_CMD_H
#define PUBSUBD_CMD_H

#include <stddef.h>

#include "resp.h"

struct command_run;
struct session;

/* cmd_pubsub.c */
int		 cmd_subscribe_start(struct command_run *run);
void		 cmd_subscribe_finish(struct command_run *run, int i);
void		 cmd_unsubscribe(struct command_run *run);
void		 cmd_publish_start(struct command_run *run);
void		 cmd_publish_finish(struct command_run *run);
void		 cmd_pubsub_start(struct command_run *run);
void		 cmd_pubsub_finish(struct command_run *run);
/* Drops what the user may no longer hold (see command_revoke()). */
void		 cmd_pubsub_revoke(struct session *s);

/* cmd_conn.c */
void		 cmd_ping(struct command_run *run);
void		 cmd_echo(struct command_run *run);
void		 cmd_hello(struct command_run *run);
void		 cmd_auth(struct command_run *run);
void		 cmd_acl(struct command_run *run);
void		 cmd_select(struct command_run *run);
void		 cmd_reset_start(struct command_run *run);
void		 cmd_reset_finish(struct command_run *run);
/*
 * Wipes the secrets of the request just served (the passwords of AUTH and
 * HELLO ... AUTH) in the connection's buffer, however the request ended.
 */
void		 cmd_forget_secrets(const struct resp_req *r);
/* Whether a client name is valid: printable, no spaces (Redis' rule). */
int		 cmd_name_ok(const char *name, size_t len);

/* cmd_client.c */
void		 cmd_client(struct command_run *run);
/* The arity of a CLIENT subcommand pubsubd serves; -1 if it serves none. */
int		 cmd_client_arity(const struct resp_req *r, int *arity);

/* cmd_info.c */
void		 cmd_info(struct command_run *run);
void		 cmd_command_start(struct command_run *run);
void		 cmd_command_finish(struct command_run *run);

/* cmd_passthrough.c */
void		 cmd_passthrough(struct command_run *run);

#endif /* PUBSUBD_CMD_H */
