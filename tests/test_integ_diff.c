/*
 * test_integ_diff.c: the differential runner. Each session in tests/diff/
 * is a small script of connections and what they send. It runs twice: once
 * with its client connections to redis-server, once with them to pubsubd
 * (connections the session marks "direct" go to redis-server both times),
 * and every client connection must receive the same bytes both times.
 *
 * The runs are made deterministic by the Redis run: after each step it
 * reads until the connections have been quiet for a moment and records how
 * many whole RESP replies each connection has (and whether it was closed);
 * the pubsubd run waits (bounded) for the same counts before each next
 * step. Differences that are documented are written into the session as
 * masks, each with its reason. The session file format is described in
 * tests/diff/README; one line per session is printed: "name: same" or
 * "name: DIFFERENT" followed by the first difference.
 *
 * Environment: DIFF_DIR (the corpus; default $TESTS_SRCDIR/diff, then
 * tests/diff), DIFF_ONLY (a glob of session names to run), DIFF_BOTH_REDIS
 * (run both sides against redis-server: every session must come out the
 * same, which proves the runner itself deterministic), DIFF_WAIT_MS (the
 * longest the pubsubd run waits for one step's replies; default 5000),
 * DIFF_DUMP (print every reply of both runs, to review a session).
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <poll.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <check.h>

#include "harness.h"

#define DIFF_MAX_CONNS		16
#define DIFF_MAX_VARS		16
#define DIFF_MAX_CONFIGS	8
#define DIFF_WAIT_MS		5000	/* a step's replies, pubsubd run */
#define DIFF_SHORT_WAIT_MS	300	/* the same once one wait timed out */
#define DIFF_QUIET_MS		50	/* silence that ends a step, Redis run */
#define DIFF_FINAL_QUIET_MS	250	/* silence that ends a session */
#define DIFF_CLOSE_PAUSE_MS	50	/* lets servers see a close */
#define DIFF_CLOSE_WAIT_MS	2000	/* bounds waiting for it */
#define DIFF_SHOW		240	/* bytes of a reply shown in a diff */

/* Out of memory (or a broken invariant): nothing sensible is left to do. */
#define DIFF_NEED(x) do {						\
	if (!(x)) {							\
		fprintf(stderr, "%s:%d: %s failed\n", __FILE__,	\
		    __LINE__, #x);					\
		abort();						\
	}								\
} while (0)

/* What a step does. */
enum diff_op {
	DIFF_OPEN,	/* NAME open [direct] */
	DIFF_SEND,	/* NAME send ARG...: queue a command, then flush */
	DIFF_QUEUE,	/* NAME queue ARG...: queue a command (pipelining) */
	DIFF_FLUSH,	/* NAME flush */
	DIFF_RAW,	/* NAME raw BYTES: queue bytes, then flush */
	DIFF_CLOSE,	/* NAME close */
	DIFF_SLEEP,	/* sleep MS */
	DIFF_WAIT,	/* NAME wait N: N more replies, bounded */
	DIFF_SET	/* set VAR NAME REGEX: capture from the last reply */
};

/* Which run a mask applies to. */
enum diff_side {
	DIFF_BOTH = 0,
	DIFF_REDIS,
	DIFF_PUBSUBD
};

/* One step of a session. */
struct diff_step {
	enum diff_op	  op;
	int		  line;		/* in the session file */
	char		 *text;		/* owned: the source line */
	int		  conn;		/* index, or -1 */
	char		**argv;		/* owned: SEND/QUEUE args, RAW bytes */
	size_t		 *argl;		/* owned */
	int		  argc;
	int		  n;		/* SLEEP ms, WAIT replies */
	int		  var;		/* SET: index of the variable */
	regex_t		  re;		/* SET */
	int		  has_re;
};

/* A normalisation rule: matches in each reply are replaced. */
struct diff_mask {
	enum diff_side	  side;
	int		  conn;		/* index, or -1 for every connection */
	regex_t		  re;
	char		 *repl;		/* owned; \1..\9 are groups */
	int		  line;
};

/* A parsed session file. */
struct diff_session {
	char		 *name;		/* owned: the file name sans .sess */
	char		 *area;		/* owned: the name up to the first '-' */
	char		 *config;	/* owned: extra pubsubd config, or NULL */
	char		 *conn_name[DIFF_MAX_CONNS];	/* owned */
	int		  conn_direct[DIFF_MAX_CONNS];
	int		  conn_unordered[DIFF_MAX_CONNS];
	int		  nconns;
	char		 *var_name[DIFF_MAX_VARS];	/* owned */
	int		  nvars;
	struct diff_step *steps;	/* owned */
	int		  nsteps;
	struct diff_mask *masks;	/* owned */
	int		  nmasks;
	char		  err[512];	/* a parse error, or "" */
};

/* One connection during a run. */
struct diff_rconn {
	int		  fd;		/* -1 when not open */
	int		  opened;
	int		  eof;		/* the server closed it */
	int		  refused;	/* it could not be opened */
	int		  closed;	/* the session closed it */
	char		 *buf;		/* owned: everything received */
	size_t		  len, cap;
	size_t		  done;		/* bytes of whole replies */
	int		  nrep;
	size_t		 *rep_off;	/* owned: where each reply starts */
	int		 *rep_step;	/* owned: the step it arrived in */
	int		  rep_cap;
	char		 *out;		/* owned: queued bytes */
	size_t		  outlen, outcap;
	int		  prev;		/* nrep at the end of the last step */
};

/* One run of a session. */
struct diff_run {
	const struct diff_session *s;
	int		  redis_run;	/* 1: the reference run */
	enum diff_side	  side;		/* whose masks apply */
	int		  port;		/* where client connections go */
	int		  wait_ms;
	int		  step;		/* the current step */
	struct diff_rconn c[DIFF_MAX_CONNS];
	char		 *var[DIFF_MAX_VARS];	/* owned */
	size_t		  varlen[DIFF_MAX_VARS];
	int		(*count)[DIFF_MAX_CONNS];	/* per step; borrowed */
	int		(*eof)[DIFF_MAX_CONNS];		/* per step; borrowed */
	char		  note[1024];	/* what went wrong, for the report */
};

/* One element of a reply being sorted. */
struct diff_elem {
	const char	*p;
	size_t		 len;
};

/* A pubsubd started with a session's extra configuration. */
struct diff_daemon {
	char		 *config;
	int		  port;		/* 0 if it did not start */
	pid_t		  pid;
};

static struct h_env		 env;
static int			 env_failed;
static struct diff_session	**sessions;
static int			 nsessions;
static struct diff_daemon	 daemons[DIFF_MAX_CONFIGS];
static int			 ndaemons;
static char			*baseline[3];	/* PUBSUB state at start */

static void	 diff_errf(struct diff_session *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static void	 diff_unescape(const char *, size_t, char **, size_t *);
static int	 diff_token(const char **, char **, size_t *, int, int *);
static int	 diff_conn_index(struct diff_session *, const char *);
static int	 diff_var_index(struct diff_session *, const char *, int);
static int	 diff_regcomp(struct diff_session *, int, regex_t *,
		    const char *);
static int	 diff_reason(struct diff_session *, int, const char **);
static int	 diff_parse_line(struct diff_session *, int, const char *);
static struct diff_session *diff_load(const char *, const char *);
static void	 diff_session_free(struct diff_session *);
static void	 diff_notef(struct diff_run *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	 diff_record(struct diff_rconn *, int);
static int	 diff_pump(struct diff_run *, int);
static void	 diff_quiet(struct diff_run *, int);
static int	 diff_wait_counts(struct diff_run *, const int *,
		    const int *);
static char	*diff_subst(struct diff_run *, const char *, size_t,
		    size_t *);
static void	 diff_queue(struct diff_rconn *, const char *, size_t);
static void	 diff_flush(struct diff_rconn *);
static void	 diff_exec(struct diff_run *, const struct diff_step *);
static void	 diff_prologue(void);
static void	 diff_run(struct diff_run *, const struct diff_session *,
		    int, int, int (*)[DIFF_MAX_CONNS],
		    int (*)[DIFF_MAX_CONNS]);
static void	 diff_run_free(struct diff_run *);
static char	*diff_mask_apply(const struct diff_mask *, const char *,
		    size_t, size_t *);
static int	 diff_bulk_cmp(const void *, const void *);
static void	 diff_sort_reply(char *, size_t);
static char	*diff_normal(const struct diff_run *, int, int, size_t *);
static void	 diff_show(FILE *, const char *, size_t);
static void	 diff_print_notes(const char *, const char *);
static void	 diff_dump(const struct diff_run *, const char *);
static int	 diff_compare(const struct diff_session *, struct diff_run *,
		    struct diff_run *, const char *);
static char	*diff_admin(struct h_conn *, const char *, ...)
		    __attribute__((sentinel));

/* Records a parse error (the first one) of a session. */
static void
diff_errf(struct diff_session *s, int line, const char *fmt, ...)
{
	va_list	ap;
	size_t	n;

	if (s->err[0] != '\0')
		return;
	n = (size_t)snprintf(s->err, sizeof(s->err), "line %d: ", line);
	va_start(ap, fmt);
	vsnprintf(s->err + n, sizeof(s->err) - n, fmt, ap);
	va_end(ap);
}

/*
 * Turns the C escapes \r \n \t \a \b \\ \" \' and \xHH of src into bytes;
 * any other backslash stays as it is (so regular expressions keep \$ \. and
 * replacements keep \1). *outp is malloc'd and NUL terminated.
 */
static void
diff_unescape(const char *src, size_t len, char **outp, size_t *outlenp)
{
	char	*out = malloc(len + 1);
	size_t	 i, o = 0;
	int	 hi, lo;

	DIFF_NEED(out);
	for (i = 0; i < len; i++) {
		if (src[i] != '\\' || i + 1 == len) {
			out[o++] = src[i];
			continue;
		}
		switch (src[i + 1]) {
		case 'r': out[o++] = '\r'; i++; break;
		case 'n': out[o++] = '\n'; i++; break;
		case 't': out[o++] = '\t'; i++; break;
		case 'a': out[o++] = '\a'; i++; break;
		case 'b': out[o++] = '\b'; i++; break;
		case '\\': out[o++] = '\\'; i++; break;
		case '"': out[o++] = '"'; i++; break;
		case '\'': out[o++] = '\''; i++; break;
		case 'x':
			if (i + 3 < len &&
			    isxdigit((unsigned char)src[i + 2]) &&
			    isxdigit((unsigned char)src[i + 3])) {
				hi = isdigit((unsigned char)src[i + 2]) ?
				    src[i + 2] - '0' :
				    tolower((unsigned char)src[i + 2]) - 'a' + 10;
				lo = isdigit((unsigned char)src[i + 3]) ?
				    src[i + 3] - '0' :
				    tolower((unsigned char)src[i + 3]) - 'a' + 10;
				out[o++] = (char)(hi * 16 + lo);
				i += 3;
				break;
			}
			/* FALLTHROUGH */
		default:
			out[o++] = '\\';
			break;
		}
	}
	out[o] = '\0';
	*outp = out;
	*outlenp = o;
}

/*
 * Splits the next token off *pp: a bare word or a "double quoted" string
 * (both with the escapes of diff_unescape) or a 'single quoted' one (taken
 * as it is). With comments set, a bare word starting with '#' starts a
 * comment: *is_comment is set and the token is the rest of the line.
 * Returns 1 with a malloc'd token, 0 at the end of the line, -1 for an
 * unterminated quote.
 */
static int
diff_token(const char **pp, char **tokp, size_t *lenp, int comments,
    int *is_comment)
{
	const char	*p = *pp, *start;
	char		 q;

	if (is_comment != NULL)
		*is_comment = 0;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return 0;
	if (comments && *p == '#') {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		*tokp = strdup(p);
		DIFF_NEED(*tokp);
		*lenp = strlen(p);
		*is_comment = 1;
		*pp = p + strlen(p);
		return 1;
	}
	if (*p == '"' || *p == '\'') {
		q = *p++;
		start = p;
		while (*p != '\0' && *p != q) {
			if (q == '"' && *p == '\\' && p[1] != '\0')
				p++;
			p++;
		}
		if (*p != q)
			return -1;
		if (q == '"')
			diff_unescape(start, (size_t)(p - start), tokp, lenp);
		else {
			*tokp = strndup(start, (size_t)(p - start));
			DIFF_NEED(*tokp);
			*lenp = (size_t)(p - start);
		}
		*pp = p + 1;
		return 1;
	}
	start = p;
	while (*p != '\0' && *p != ' ' && *p != '\t')
		p++;
	diff_unescape(start, (size_t)(p - start), tokp, lenp);
	*pp = p;
	return 1;
}

/* The index of a declared connection, or -1. */
static int
diff_conn_index(struct diff_session *s, const char *name)
{
	int	i;

	if (strcmp(name, "*") == 0)
		return -1;
	for (i = 0; i < s->nconns; i++)
		if (strcmp(s->conn_name[i], name) == 0)
			return i;
	return -2;
}

/* The index of a variable, declared on first use if add is set. */
static int
diff_var_index(struct diff_session *s, const char *name, int add)
{
	int	i;

	for (i = 0; i < s->nvars; i++)
		if (strcmp(s->var_name[i], name) == 0)
			return i;
	if (!add || s->nvars == DIFF_MAX_VARS)
		return -1;
	s->var_name[s->nvars] = strdup(name);
	DIFF_NEED(s->var_name[s->nvars]);
	return s->nvars++;
}

/* Compiles an extended regular expression; 0 or -1 (an error recorded). */
static int
diff_regcomp(struct diff_session *s, int line, regex_t *re, const char *src)
{
	char	msg[128];
	int	rc;

	if ((rc = regcomp(re, src, REG_EXTENDED)) != 0) {
		regerror(rc, re, msg, sizeof(msg));
		diff_errf(s, line, "bad regular expression: %s", msg);
		return -1;
	}
	return 0;
}

/* Requires the rest of a line to be a non-empty "# reason" comment. */
static int
diff_reason(struct diff_session *s, int line, const char **pp)
{
	char	*tok = NULL;
	size_t	 len;
	int	 comment, rc;

	rc = diff_token(pp, &tok, &len, 1, &comment);
	if (rc != 1 || !comment || len == 0) {
		diff_errf(s, line, "a mask or differ needs a '# reason' "
		    "comment at the end of its line");
		free(tok);
		return -1;
	}
	free(tok);
	return 0;
}

/* Parses one line of a session file into s (errors go to s->err). */
static int
diff_parse_line(struct diff_session *s, int line, const char *text)
{
	struct diff_step	 st;
	struct diff_mask	 m[2];
	const char		*p = text;
	char			*kw = NULL, *verb = NULL, *a = NULL, *b = NULL,
				*c = NULL, *tok;
	size_t			 len, alen, blen, clen;
	int			 conn, rc, comment, nm = 0, i, reason = 0;
	char			*cfg;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0' || *p == '#')
		return 0;
	memset(&st, 0, sizeof(st));
	memset(m, 0, sizeof(m));
	st.line = line;
	st.conn = -1;
	if (diff_token(&p, &kw, &len, 0, NULL) != 1)
		goto bad;

	if (strcmp(kw, "config") == 0) {
		while (*p == ' ')
			p++;
		if (asprintf(&cfg, "%s%s\n", s->config ? s->config : "", p) ==
		    -1)
			DIFF_NEED(0);
		free(s->config);
		s->config = cfg;
		free(kw);
		return 0;
	}
	if (strcmp(kw, "mask") == 0 || strcmp(kw, "mask-redis") == 0 ||
	    strcmp(kw, "mask-pubsubd") == 0 || strcmp(kw, "differ") == 0) {
		if (diff_token(&p, &a, &alen, 0, NULL) != 1 ||
		    diff_token(&p, &b, &blen, 0, NULL) != 1) {
			diff_errf(s, line, "%s CONN REGEX ...", kw);
			goto bad;
		}
		if ((conn = diff_conn_index(s, a)) == -2) {
			diff_errf(s, line, "no connection '%s' opened yet", a);
			goto bad;
		}
		rc = diff_token(&p, &c, &clen, 1, &comment);
		if (rc == -1)
			goto bad;
		if (rc == 1 && comment) {
			/* No replacement: this is the reason already. */
			reason = clen > 0;
			free(c);
			c = NULL;
		}
		if (strcmp(kw, "differ") == 0) {
			if (c == NULL) {
				diff_errf(s, line, "differ CONN REDIS_REGEX "
				    "PUBSUBD_REGEX # reason");
				goto bad;
			}
			m[0].side = DIFF_REDIS;
			m[1].side = DIFF_PUBSUBD;
			nm = 2;
			if (diff_regcomp(s, line, &m[0].re, b) == -1)
				goto bad;
			if (diff_regcomp(s, line, &m[1].re, c) == -1) {
				regfree(&m[0].re);
				goto bad;
			}
			if (asprintf(&m[0].repl, "<differ:%d>", line) == -1 ||
			    (m[1].repl = strdup(m[0].repl)) == NULL)
				DIFF_NEED(0);
		} else {
			m[0].side = strcmp(kw, "mask") == 0 ? DIFF_BOTH :
			    strcmp(kw, "mask-redis") == 0 ? DIFF_REDIS :
			    DIFF_PUBSUBD;
			nm = 1;
			if (diff_regcomp(s, line, &m[0].re, b) == -1)
				goto bad;
			m[0].repl = c != NULL ? c : strdup("<masked>");
			c = NULL;
		}
		if (!reason && diff_reason(s, line, &p) == -1) {
			for (i = 0; i < nm; i++) {
				regfree(&m[i].re);
				free(m[i].repl);
			}
			goto bad;
		}
		s->masks = realloc(s->masks, sizeof(*s->masks) *
		    (size_t)(s->nmasks + nm));
		DIFF_NEED(s->masks);
		for (i = 0; i < nm; i++) {
			m[i].conn = conn;
			m[i].line = line;
			s->masks[s->nmasks++] = m[i];
		}
		free(kw);
		free(a);
		free(b);
		free(c);
		return 0;
	}

	if (strcmp(kw, "unordered") == 0) {
		if (diff_token(&p, &a, &alen, 0, NULL) != 1 ||
		    (conn = diff_conn_index(s, a)) < 0) {
			diff_errf(s, line, "unordered CONN # reason (CONN "
			    "opened before)");
			goto bad;
		}
		if (diff_reason(s, line, &p) == -1)
			goto bad;
		s->conn_unordered[conn] = 1;
		free(kw);
		free(a);
		return 0;
	}
	if (strcmp(kw, "sleep") == 0) {
		st.op = DIFF_SLEEP;
		if (diff_token(&p, &a, &alen, 0, NULL) != 1 ||
		    (st.n = atoi(a)) <= 0 || st.n > 60000) {
			diff_errf(s, line, "sleep MILLISECONDS");
			goto bad;
		}
		goto add;
	}
	if (strcmp(kw, "set") == 0) {
		st.op = DIFF_SET;
		if (diff_token(&p, &a, &alen, 0, NULL) != 1 ||
		    diff_token(&p, &b, &blen, 0, NULL) != 1 ||
		    diff_token(&p, &c, &clen, 0, NULL) != 1) {
			diff_errf(s, line, "set VAR CONN REGEX");
			goto bad;
		}
		if ((st.conn = diff_conn_index(s, b)) < 0) {
			diff_errf(s, line, "no connection '%s' opened yet", b);
			goto bad;
		}
		if ((st.var = diff_var_index(s, a, 1)) == -1) {
			diff_errf(s, line, "too many variables");
			goto bad;
		}
		if (diff_regcomp(s, line, &st.re, c) == -1)
			goto bad;
		st.has_re = 1;
		goto add;
	}

	/* NAME VERB ... */
	for (i = 0; kw[i] != '\0'; i++)
		if (!isalnum((unsigned char)kw[i]) && kw[i] != '_') {
			diff_errf(s, line, "unknown directive '%s'", kw);
			goto bad;
		}
	if (diff_token(&p, &verb, &len, 0, NULL) != 1) {
		diff_errf(s, line, "'%s' needs a verb", kw);
		goto bad;
	}
	conn = diff_conn_index(s, kw);
	if (strcmp(verb, "open") == 0) {
		if (conn >= 0) {
			diff_errf(s, line, "'%s' is opened twice", kw);
			goto bad;
		}
		if (s->nconns == DIFF_MAX_CONNS) {
			diff_errf(s, line, "too many connections");
			goto bad;
		}
		conn = s->nconns++;
		s->conn_name[conn] = strdup(kw);
		DIFF_NEED(s->conn_name[conn]);
		if (diff_token(&p, &a, &alen, 0, NULL) == 1) {
			if (strcmp(a, "direct") != 0) {
				diff_errf(s, line, "NAME open [direct]");
				goto bad;
			}
			s->conn_direct[conn] = 1;
		}
		st.op = DIFF_OPEN;
		st.conn = conn;
		goto add;
	}
	if (conn < 0) {
		diff_errf(s, line, "no connection '%s' opened yet", kw);
		goto bad;
	}
	st.conn = conn;
	if (strcmp(verb, "send") == 0 || strcmp(verb, "queue") == 0) {
		st.op = verb[0] == 's' ? DIFF_SEND : DIFF_QUEUE;
		while ((rc = diff_token(&p, &tok, &len, 0, NULL)) == 1) {
			st.argv = realloc(st.argv, sizeof(*st.argv) *
			    (size_t)(st.argc + 1));
			st.argl = realloc(st.argl, sizeof(*st.argl) *
			    (size_t)(st.argc + 1));
			DIFF_NEED(st.argv != NULL && st.argl != NULL);
			st.argv[st.argc] = tok;
			st.argl[st.argc++] = len;
		}
		if (rc == -1 || st.argc == 0) {
			diff_errf(s, line, rc == -1 ? "unterminated quote" :
			    "%s needs a command", verb);
			goto bad;
		}
	} else if (strcmp(verb, "raw") == 0) {
		st.op = DIFF_RAW;
		if (*p == ' ')
			p++;
		st.argv = malloc(sizeof(*st.argv));
		st.argl = malloc(sizeof(*st.argl));
		DIFF_NEED(st.argv != NULL && st.argl != NULL);
		diff_unescape(p, strlen(p), &st.argv[0], &st.argl[0]);
		st.argc = 1;
	} else if (strcmp(verb, "flush") == 0)
		st.op = DIFF_FLUSH;
	else if (strcmp(verb, "close") == 0)
		st.op = DIFF_CLOSE;
	else if (strcmp(verb, "wait") == 0) {
		st.op = DIFF_WAIT;
		if (diff_token(&p, &a, &alen, 0, NULL) != 1 ||
		    (st.n = atoi(a)) <= 0) {
			diff_errf(s, line, "NAME wait REPLIES");
			goto bad;
		}
	} else {
		diff_errf(s, line, "unknown verb '%s'", verb);
		goto bad;
	}
add:
	st.text = strdup(text);
	DIFF_NEED(st.text);
	s->steps = realloc(s->steps, sizeof(*s->steps) *
	    (size_t)(s->nsteps + 1));
	DIFF_NEED(s->steps);
	s->steps[s->nsteps++] = st;
	free(kw);
	free(verb);
	free(a);
	free(b);
	free(c);
	return 0;
bad:
	diff_errf(s, line, "cannot parse '%s'", text);
	for (i = 0; i < st.argc; i++)
		free(st.argv[i]);
	free(st.argv);
	free(st.argl);
	if (st.has_re)
		regfree(&st.re);
	free(kw);
	free(verb);
	free(a);
	free(b);
	free(c);
	return -1;
}

/* Reads and parses one session file; never NULL (errors are in ->err). */
static struct diff_session *
diff_load(const char *dir, const char *file)
{
	struct diff_session	*s = calloc(1, sizeof(*s));
	char			*path, *line = NULL, *dash;
	size_t			 cap = 0;
	ssize_t			 n;
	FILE			*f;
	int			 lineno = 0, i, clients = 0;

	DIFF_NEED(s);
	s->name = strndup(file, strlen(file) - strlen(".sess"));
	DIFF_NEED(s->name);
	s->area = strdup(s->name);
	DIFF_NEED(s->area);
	if ((dash = strchr(s->area, '-')) != NULL)
		*dash = '\0';
	if (asprintf(&path, "%s/%s", dir, file) == -1)
		DIFF_NEED(0);
	f = fopen(path, "r");
	if (f == NULL) {
		diff_errf(s, 0, "%s: %s", path, strerror(errno));
		free(path);
		return s;
	}
	free(path);
	while ((n = getline(&line, &cap, f)) != -1) {
		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (diff_parse_line(s, lineno, line) == -1)
			break;
	}
	free(line);
	fclose(f);
	for (i = 0; i < s->nconns; i++)
		if (!s->conn_direct[i])
			clients++;
	if (s->err[0] == '\0' && clients == 0)
		diff_errf(s, lineno, "no client connection (only direct ones)");
	return s;
}

/* Frees a session. */
static void
diff_session_free(struct diff_session *s)
{
	int	i, j;

	if (s == NULL)
		return;
	for (i = 0; i < s->nsteps; i++) {
		for (j = 0; j < s->steps[i].argc; j++)
			free(s->steps[i].argv[j]);
		free(s->steps[i].argv);
		free(s->steps[i].argl);
		free(s->steps[i].text);
		if (s->steps[i].has_re)
			regfree(&s->steps[i].re);
	}
	for (i = 0; i < s->nmasks; i++) {
		regfree(&s->masks[i].re);
		free(s->masks[i].repl);
	}
	for (i = 0; i < s->nconns; i++)
		free(s->conn_name[i]);
	for (i = 0; i < s->nvars; i++)
		free(s->var_name[i]);
	free(s->steps);
	free(s->masks);
	free(s->name);
	free(s->area);
	free(s->config);
	free(s);
}

/* Adds a line to the notes of a run. */
static void
diff_notef(struct diff_run *r, const char *fmt, ...)
{
	va_list	ap;
	size_t	n = strlen(r->note);

	if (n + 2 >= sizeof(r->note))
		return;
	va_start(ap, fmt);
	vsnprintf(r->note + n, sizeof(r->note) - n, fmt, ap);
	va_end(ap);
	n = strlen(r->note);
	if (n + 1 < sizeof(r->note)) {
		r->note[n] = '\n';
		r->note[n + 1] = '\0';
	}
}

/* Counts the whole replies now in a connection's buffer. */
static void
diff_record(struct diff_rconn *c, int step)
{
	size_t	n;

	while (c->done < c->len &&
	    (n = h_resp_size(c->buf + c->done, c->len - c->done)) > 0) {
		if (c->nrep == c->rep_cap) {
			c->rep_cap = c->rep_cap ? c->rep_cap * 2 : 16;
			c->rep_off = realloc(c->rep_off, sizeof(*c->rep_off) *
			    (size_t)c->rep_cap);
			c->rep_step = realloc(c->rep_step,
			    sizeof(*c->rep_step) * (size_t)c->rep_cap);
			DIFF_NEED(c->rep_off != NULL && c->rep_step != NULL);
		}
		c->rep_off[c->nrep] = c->done;
		c->rep_step[c->nrep++] = step;
		c->done += n;
	}
}

/*
 * Reads whatever arrives on the open connections within timeout_ms (less
 * if something arrives sooner). Returns 1 if anything arrived (or closed),
 * else 0.
 */
static int
diff_pump(struct diff_run *r, int timeout_ms)
{
	struct pollfd		 pfd[DIFF_MAX_CONNS];
	int			 idx[DIFF_MAX_CONNS], n = 0, i, got = 0;
	struct diff_rconn	*c;
	ssize_t			 k;

	for (i = 0; i < r->s->nconns; i++) {
		c = &r->c[i];
		if (c->fd == -1 || c->eof)
			continue;
		pfd[n].fd = c->fd;
		pfd[n].events = POLLIN;
		pfd[n].revents = 0;
		idx[n++] = i;
	}
	if (n == 0) {
		usleep((useconds_t)timeout_ms * 1000);
		return 0;
	}
	if (poll(pfd, (nfds_t)n, timeout_ms) <= 0)
		return 0;
	for (i = 0; i < n; i++) {
		if (pfd[i].revents == 0)
			continue;
		c = &r->c[idx[i]];
		if (c->cap - c->len < 65536) {
			c->cap += 65536;
			c->buf = realloc(c->buf, c->cap);
			DIFF_NEED(c->buf);
		}
		k = recv(c->fd, c->buf + c->len, c->cap - c->len - 1,
		    MSG_DONTWAIT);
		if (k > 0) {
			c->len += (size_t)k;
			c->buf[c->len] = '\0';	/* regexec() reads to a NUL */
			diff_record(c, r->step);
		} else if (k == 0 || (errno != EAGAIN && errno != EINTR))
			c->eof = 1;
		got = 1;
	}
	return got;
}

/* Reads until nothing arrives for quiet_ms (at most 5 s in all). */
static void
diff_quiet(struct diff_run *r, int quiet_ms)
{
	long long	deadline = h_now_ms() + 5000;

	while (diff_pump(r, quiet_ms) && h_now_ms() < deadline)
		;
}

/*
 * Waits until each connection has at least want[i] replies (and is closed
 * by the server if want_eof[i]), within the run's wait budget. Returns 0,
 * or -1 on timeout (the budget is then shortened for the rest of the run).
 */
static int
diff_wait_counts(struct diff_run *r, const int *want, const int *want_eof)
{
	long long		 deadline = h_now_ms() + r->wait_ms, left;
	struct diff_rconn	*c;
	char			 where[32];
	int			 i, pending;

	for (;;) {
		pending = 0;
		for (i = 0; i < r->s->nconns; i++) {
			c = &r->c[i];
			if (c->fd == -1 || c->eof)
				continue;
			if (c->nrep < want[i] || want_eof[i])
				pending = 1;
		}
		if (!pending)
			return 0;
		left = deadline - h_now_ms();
		if (left <= 0)
			break;
		diff_pump(r, left < 100 ? (int)left : 100);
	}
	if (r->step < r->s->nsteps)
		snprintf(where, sizeof(where), "after line %d",
		    r->s->steps[r->step].line);
	else
		snprintf(where, sizeof(where), "at the end");
	for (i = 0; i < r->s->nconns; i++) {
		c = &r->c[i];
		if (c->fd == -1 || c->eof)
			continue;
		if (c->nrep < want[i])
			diff_notef(r, "%s: waited %d ms %s for %d replies, "
			    "had %d", r->s->conn_name[i], r->wait_ms, where,
			    want[i], c->nrep);
		else if (want_eof[i])
			diff_notef(r, "%s: waited %d ms %s for the server to "
			    "close the connection", r->s->conn_name[i],
			    r->wait_ms, where);
	}
	r->wait_ms = DIFF_SHORT_WAIT_MS;
	return -1;
}

/* Replaces ${VAR} in bytes with the variables captured so far. */
static char *
diff_subst(struct diff_run *r, const char *src, size_t len, size_t *outlenp)
{
	char		*out;
	size_t		 o = 0, cap = len + 1, i, nl, vl;
	const char	*end;
	int		 v, found;

	out = malloc(cap);
	DIFF_NEED(out);
	for (i = 0; i < len; i++) {
		found = 0;
		if (src[i] == '$' && i + 1 < len && src[i + 1] == '{' &&
		    (end = memchr(src + i, '}', len - i)) != NULL) {
			nl = (size_t)(end - (src + i + 2));
			for (v = 0; v < r->s->nvars; v++) {
				if (strlen(r->s->var_name[v]) != nl ||
				    memcmp(r->s->var_name[v], src + i + 2,
				    nl) != 0)
					continue;
				vl = r->var[v] != NULL ? r->varlen[v] : 0;
				cap += vl;
				out = realloc(out, cap);
				DIFF_NEED(out);
				if (vl > 0)
					memcpy(out + o, r->var[v], vl);
				o += vl;
				i += nl + 2;
				found = 1;
				break;
			}
		}
		if (!found)
			out[o++] = src[i];
	}
	*outlenp = o;
	return out;
}

/* Appends bytes to a connection's queue. */
static void
diff_queue(struct diff_rconn *c, const char *buf, size_t len)
{
	if (c->outlen + len > c->outcap) {
		c->outcap = c->outlen + len + 256;
		c->out = realloc(c->out, c->outcap);
		DIFF_NEED(c->out);
	}
	memcpy(c->out + c->outlen, buf, len);
	c->outlen += len;
}

/* Sends the queue in one write (errors ignored: the server may be gone). */
static void
diff_flush(struct diff_rconn *c)
{
	size_t	off = 0;
	ssize_t	n;

	while (c->fd != -1 && off < c->outlen) {
		n = send(c->fd, c->out + off, c->outlen - off, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	c->outlen = 0;
}

/* Runs one step (without the settling that follows it). */
static void
diff_exec(struct diff_run *r, const struct diff_step *st)
{
	struct diff_rconn	*c = st->conn >= 0 ? &r->c[st->conn] : NULL;
	struct h_conn		*hc;
	struct timeval		 tv = { 5, 0 };
	regmatch_t		 pm[2];
	char			 hdr[32], *b;
	size_t			 bl, start, end;
	long long		 deadline, clients;
	int			 i, g, port;

	switch (st->op) {
	case DIFF_OPEN:
		port = r->s->conn_direct[st->conn] ? env.redis_port : r->port;
		hc = port > 0 ? h_connect(port) : NULL;
		c->opened = 1;
		if (hc == NULL) {
			diff_notef(r, "%s: cannot connect to port %d (line "
			    "%d)", r->s->conn_name[st->conn], port, st->line);
			c->eof = 1;
			c->refused = 1;
			break;
		}
		c->fd = dup(hc->fd);
		h_close(hc);
		setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		break;
	case DIFF_SEND:
	case DIFF_QUEUE:
		snprintf(hdr, sizeof(hdr), "*%d\r\n", st->argc);
		diff_queue(c, hdr, strlen(hdr));
		for (i = 0; i < st->argc; i++) {
			b = diff_subst(r, st->argv[i], st->argl[i], &bl);
			snprintf(hdr, sizeof(hdr), "$%zu\r\n", bl);
			diff_queue(c, hdr, strlen(hdr));
			diff_queue(c, b, bl);
			diff_queue(c, "\r\n", 2);
			free(b);
		}
		if (st->op == DIFF_SEND)
			diff_flush(c);
		break;
	case DIFF_RAW:
		b = diff_subst(r, st->argv[0], st->argl[0], &bl);
		diff_queue(c, b, bl);
		free(b);
		diff_flush(c);
		break;
	case DIFF_FLUSH:
		diff_flush(c);
		break;
	case DIFF_CLOSE:
		/*
		 * The server must have seen the close before the next step
		 * (a count taken then must not include it): wait until its
		 * connected_clients is below what it was, then pause.
		 */
		port = r->s->conn_direct[st->conn] ? env.redis_port : r->port;
		clients = c->fd != -1 && !c->eof && port > 0 ?
		    h_info_field(port, "clients", "connected_clients", 2000) :
		    -1;
		if (c->fd != -1)
			close(c->fd);
		c->fd = -1;
		c->closed = 1;
		deadline = h_now_ms() + DIFF_CLOSE_WAIT_MS;
		while (clients > 0 && h_now_ms() < deadline &&
		    h_info_field(port, "clients", "connected_clients", 2000) >=
		    clients)
			diff_pump(r, 10);
		deadline = h_now_ms() + DIFF_CLOSE_PAUSE_MS;
		while (h_now_ms() < deadline)
			diff_pump(r, (int)(deadline - h_now_ms()));
		break;
	case DIFF_SLEEP:
		deadline = h_now_ms() + st->n;
		while (h_now_ms() < deadline)
			diff_pump(r, (int)(deadline - h_now_ms()));
		break;
	case DIFF_WAIT:
		deadline = h_now_ms() + DIFF_WAIT_MS;
		while (c->fd != -1 && !c->eof && c->nrep < c->prev + st->n &&
		    h_now_ms() < deadline)
			diff_pump(r, 50);
		if (c->nrep < c->prev + st->n && !c->refused)
			diff_notef(r, "%s: line %d: %d more replies did not "
			    "come", r->s->conn_name[st->conn], st->line,
			    st->n);
		break;
	case DIFF_SET:
		free(r->var[st->var]);
		r->var[st->var] = NULL;
		r->varlen[st->var] = 0;
		if (c->nrep == 0) {
			diff_notef(r, "line %d: %s has no reply to set %s "
			    "from", st->line, r->s->conn_name[st->conn],
			    r->s->var_name[st->var]);
			break;
		}
		start = c->rep_off[c->nrep - 1];
		end = c->done;
		pm[0].rm_so = (regoff_t)start;
		pm[0].rm_eo = (regoff_t)end;
		if (regexec(&st->re, c->buf, 2, pm, REG_STARTEND) != 0) {
			diff_notef(r, "line %d: the last reply of %s does not "
			    "match", st->line, r->s->conn_name[st->conn]);
			break;
		}
		g = pm[1].rm_so != -1 ? 1 : 0;
		bl = (size_t)(pm[g].rm_eo - pm[g].rm_so);
		r->var[st->var] = malloc(bl + 1);
		DIFF_NEED(r->var[st->var]);
		memcpy(r->var[st->var], c->buf + pm[g].rm_so, bl);
		r->var[st->var][bl] = '\0';
		r->varlen[st->var] = bl;
		break;
	}
}

/* Sends a command on an admin connection; returns its reply (malloc'd). */
static char *
diff_admin(struct h_conn *a, const char *arg, ...)
{
	const char	*v[8];
	va_list		 ap;
	int		 n = 0;

	va_start(ap, arg);
	for (v[n++] = arg; n < 8 && (v[n] = va_arg(ap, const char *)) != NULL;
	    n++)
		;
	va_end(ap);
	switch (n) {
	case 1: h_command(a, v[0], NULL); break;
	case 2: h_command(a, v[0], v[1], NULL); break;
	case 3: h_command(a, v[0], v[1], v[2], NULL); break;
	default: h_command(a, v[0], v[1], v[2], v[3], NULL); break;
	}
	return h_reply(a, NULL, H_TIMEOUT_MS);
}

/*
 * Whether a PUBSUB CHANNELS reply lists nothing but pubsubd's private
 * channels ("__pubsubd__:..."): each pubsubd running holds one for as long
 * as it runs, so they are no session's leftovers.
 */
static int
diff_only_private(const char *rep)
{
	const char	*p = rep;
	long		 n, len, i;
	char		*end;

	if (*p++ != '*')
		return 0;
	n = strtol(p, &end, 10);
	p = end + 2;
	for (i = 0; i < n; i++) {
		if (*p++ != '$')
			return 0;
		len = strtol(p, &end, 10);
		p = end + 2;
		if (strncmp(p, "__pubsubd__:", 12) != 0)
			return 0;
		p += len + 2;
	}
	return 1;
}

/*
 * Before each run: waits (bounded) until Redis' pub/sub state is back to
 * what it was at the start (the previous run's subscriptions gone, also
 * pubsubd's upstream ones), then flushes every database and turns keyspace
 * notifications off.
 */
static void
diff_prologue(void)
{
	static const char *const q[3][2] = {
		{ "CHANNELS", NULL }, { "NUMPAT", NULL },
		{ "SHARDCHANNELS", NULL }
	};
	struct h_conn	*a = h_connect(env.redis_port);
	long long	 deadline = h_now_ms() + 3000;
	char		*rep;
	int		 i, clean = 0;

	DIFF_NEED(a);
	while (!clean && h_now_ms() < deadline) {
		clean = 1;
		for (i = 0; i < 3; i++) {
			rep = diff_admin(a, "PUBSUB", q[i][0], NULL);
			if (rep == NULL || (i == 1 ? baseline[i] == NULL ||
			    strcmp(rep, baseline[i]) != 0 :
			    !diff_only_private(rep)))
				clean = 0;
			free(rep);
		}
		if (!clean)
			usleep(10000);
	}
	rep = diff_admin(a, "FLUSHALL", NULL);
	ck_assert_msg(rep != NULL && strcmp(rep, "+OK\r\n") == 0,
	    "FLUSHALL failed");
	free(rep);
	rep = diff_admin(a, "CONFIG", "SET", "notify-keyspace-events", "",
	    NULL);
	ck_assert_msg(rep != NULL && strcmp(rep, "+OK\r\n") == 0,
	    "CONFIG SET notify-keyspace-events failed");
	free(rep);
	h_close(a);
}

/*
 * Runs a session. The Redis run (redis_run set) records the reply counts
 * of each step into count/eof; the other run waits for them.
 */
static void
diff_run(struct diff_run *r, const struct diff_session *s, int redis_run,
    int port, int (*count)[DIFF_MAX_CONNS], int (*eof)[DIFF_MAX_CONNS])
{
	int	i, k, settle;

	memset(r, 0, sizeof(*r));
	r->s = s;
	r->count = count;
	r->eof = eof;
	r->side = redis_run ? DIFF_REDIS : DIFF_PUBSUBD;
	r->redis_run = redis_run;
	r->port = port;
	r->wait_ms = getenv("DIFF_WAIT_MS") ? atoi(getenv("DIFF_WAIT_MS")) :
	    DIFF_WAIT_MS;
	for (i = 0; i < DIFF_MAX_CONNS; i++)
		r->c[i].fd = -1;
	diff_prologue();
	for (k = 0; k <= s->nsteps; k++) {
		r->step = k;
		settle = 1;
		if (k < s->nsteps) {
			diff_exec(r, &s->steps[k]);
			settle = s->steps[k].op != DIFF_OPEN &&
			    s->steps[k].op != DIFF_QUEUE &&
			    s->steps[k].op != DIFF_SET;
		}
		if (redis_run) {
			if (settle)
				diff_quiet(r, k < s->nsteps ? DIFF_QUIET_MS :
				    DIFF_FINAL_QUIET_MS);
		} else {
			diff_wait_counts(r, r->count[k], r->eof[k]);
			if (k == s->nsteps)
				diff_quiet(r, DIFF_FINAL_QUIET_MS);
		}
		for (i = 0; i < s->nconns; i++) {
			if (redis_run) {
				r->count[k][i] = r->c[i].nrep;
				r->eof[k][i] = r->c[i].eof && !r->c[i].closed &&
				    r->c[i].fd != -1;
			}
			r->c[i].prev = r->c[i].nrep;
		}
	}
	for (i = 0; i < s->nconns; i++)
		if (r->c[i].fd != -1) {
			close(r->c[i].fd);
			r->c[i].fd = -1;
		}
}

/* Frees what a run holds. */
static void
diff_run_free(struct diff_run *r)
{
	int	i;

	for (i = 0; i < DIFF_MAX_CONNS; i++) {
		free(r->c[i].buf);
		free(r->c[i].rep_off);
		free(r->c[i].rep_step);
		free(r->c[i].out);
	}
	for (i = 0; i < DIFF_MAX_VARS; i++)
		free(r->var[i]);
}

/* Replaces every match of a mask in bytes; returns malloc'd bytes. */
static char *
diff_mask_apply(const struct diff_mask *m, const char *s, size_t len,
    size_t *outlenp)
{
	regmatch_t	 pm[10];
	char		*out = NULL;
	size_t		 o = 0, cap = 0, pos = 0, need, gl;
	const char	*rp;
	int		 g;

#define DIFF_PUT(p, n) do {						\
	need = o + (n) + 1;						\
	if (need > cap) {						\
		cap = need * 2;						\
		out = realloc(out, cap);				\
		DIFF_NEED(out);				\
	}								\
	memcpy(out + o, (p), (n));					\
	o += (n);							\
} while (0)
	DIFF_PUT("", 0);
	while (pos <= len) {
		pm[0].rm_so = (regoff_t)pos;
		pm[0].rm_eo = (regoff_t)len;
		if (regexec(&m->re, s, 10, pm, REG_STARTEND |
		    (pos > 0 ? REG_NOTBOL : 0)) != 0)
			break;
		DIFF_PUT(s + pos, (size_t)pm[0].rm_so - pos);
		for (rp = m->repl; *rp != '\0'; rp++) {
			if (rp[0] == '\\' && rp[1] >= '0' && rp[1] <= '9') {
				g = rp[1] - '0';
				rp++;
				if (pm[g].rm_so == -1)
					continue;
				gl = (size_t)(pm[g].rm_eo - pm[g].rm_so);
				DIFF_PUT(s + pm[g].rm_so, gl);
			} else
				DIFF_PUT(rp, 1);
		}
		pos = (size_t)pm[0].rm_eo;
		if (pm[0].rm_eo == pm[0].rm_so) {
			if (pos < len)
				DIFF_PUT(s + pos, 1);
			pos++;
		}
	}
	if (pos < len)
		DIFF_PUT(s + pos, len - pos);
#undef DIFF_PUT
	out[o] = '\0';		/* room was kept: regexec() reads to a NUL */
	*outlenp = o;
	return out;
}

/* Orders two bulk strings of a reply (their bytes, then their lengths). */
static int
diff_bulk_cmp(const void *a, const void *b)
{
	const struct diff_elem	*x = a, *y = b;
	size_t			 n = x->len < y->len ? x->len : y->len;
	int			 rc;

	if ((rc = memcmp(x->p, y->p, n)) != 0)
		return rc;
	return x->len < y->len ? -1 : x->len > y->len;
}

/*
 * Sorts the elements of an array or set reply whose elements are all bulk
 * strings (for "unordered" connections); other replies stay as they are.
 */
static void
diff_sort_reply(char *p, size_t len)
{
	struct diff_elem	*e;
	char			*copy, *q;
	size_t			 off, hdr, n, k, i, sz;

	if (len < 4 || (p[0] != '*' && p[0] != '~'))
		return;
	n = strtoul(p + 1, NULL, 10);
	if ((q = memchr(p, '\n', len)) == NULL || n < 2)
		return;
	off = hdr = (size_t)(q - p) + 1;
	e = calloc(n, sizeof(*e));
	DIFF_NEED(e != NULL);
	for (k = 0; k < n; k++) {
		if (off >= len || p[off] != '$' ||
		    (sz = h_resp_size(p + off, len - off)) == 0) {
			free(e);
			return;
		}
		e[k].p = p + off;
		e[k].len = sz;
		off += sz;
	}
	qsort(e, n, sizeof(*e), diff_bulk_cmp);
	copy = malloc(len);
	DIFF_NEED(copy != NULL);
	off = hdr;
	memcpy(copy, p, off);
	for (i = 0; i < n; i++) {
		memcpy(copy + off, e[i].p, e[i].len);
		off += e[i].len;
	}
	memcpy(copy + off, p + off, len - off);
	memcpy(p, copy, len);
	free(copy);
	free(e);
}

/*
 * Reply i of connection ci in run r (or, for i == nrep, the bytes of an
 * incomplete reply left over), with the masks of the run's side applied.
 */
static char *
diff_normal(const struct diff_run *r, int ci, int i, size_t *lenp)
{
	const struct diff_rconn	*c = &r->c[ci];
	const struct diff_mask	*m;
	size_t			 start, end, len, nlen;
	char			*cur, *next;
	int			 k;

	start = i < c->nrep ? c->rep_off[i] : c->done;
	end = i + 1 < c->nrep ? c->rep_off[i + 1] : i < c->nrep ? c->done :
	    c->len;
	len = end - start;
	cur = malloc(len + 1);
	DIFF_NEED(cur);
	if (len > 0)
		memcpy(cur, c->buf + start, len);
	cur[len] = '\0';
	if (r->s->conn_unordered[ci] && i < c->nrep)
		diff_sort_reply(cur, len);
	for (k = 0; k < r->s->nmasks; k++) {
		m = &r->s->masks[k];
		if (m->conn != -1 && m->conn != ci)
			continue;
		if (m->side != DIFF_BOTH && m->side != r->side)
			continue;
		next = diff_mask_apply(m, cur, len, &nlen);
		free(cur);
		cur = next;
		len = nlen;
	}
	*lenp = len;
	return cur;
}

/* Prints bytes as a C string, shortened. */
static void
diff_show(FILE *f, const char *p, size_t len)
{
	size_t	i;

	fputc('"', f);
	for (i = 0; i < len && i < DIFF_SHOW; i++) {
		switch (p[i]) {
		case '\r': fputs("\\r", f); break;
		case '\n': fputs("\\n", f); break;
		case '\t': fputs("\\t", f); break;
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		default:
			if (isprint((unsigned char)p[i]))
				fputc(p[i], f);
			else
				fprintf(f, "\\x%02x", (unsigned char)p[i]);
		}
	}
	fputc('"', f);
	if (len > DIFF_SHOW)
		fprintf(f, "... (%zu bytes)", len);
}

/* Prints the notes of a run, one indented line each. */
static void
diff_print_notes(const char *run, const char *notes)
{
	const char	*p, *nl;

	for (p = notes; *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL)
			nl = p + strlen(p) - 1;
		printf("    (%s run) %.*s\n", run, (int)(nl - p), p);
	}
}

/*
 * Compares what each client connection received in the two runs and prints
 * the session's line (and its first difference). Returns 1 if the same.
 */
static int
diff_compare(const struct diff_session *s, struct diff_run *a,
    struct diff_run *b, const char *bname)
{
	char	*x, *y;
	size_t	 xl, yl;
	int	 ci, i, n, same = 1, shown = 0, step, na, nb;

	for (ci = 0; ci < s->nconns; ci++) {
		if (s->conn_direct[ci])
			continue;
		na = a->c[ci].nrep + (a->c[ci].len > a->c[ci].done);
		nb = b->c[ci].nrep + (b->c[ci].len > b->c[ci].done);
		n = na > nb ? na : nb;
		for (i = 0; i < n; i++) {
			x = i < na ? diff_normal(a, ci, i, &xl) : NULL;
			y = i < nb ? diff_normal(b, ci, i, &yl) : NULL;
			if (x != NULL && y != NULL && xl == yl &&
			    memcmp(x, y, xl) == 0) {
				free(x);
				free(y);
				continue;
			}
			if (same)
				printf("%s: DIFFERENT\n", s->name);
			same = 0;
			if (!shown) {
				step = i < a->c[ci].nrep ?
				    a->c[ci].rep_step[i] :
				    i < b->c[ci].nrep ? b->c[ci].rep_step[i] :
				    s->nsteps;
				printf("    %s, reply %d (after line %d: %s):\n",
				    s->conn_name[ci], i + 1, step < s->nsteps ?
				    s->steps[step].line : 0,
				    step < s->nsteps ? s->steps[step].text :
				    "the end");
				printf("      redis:   ");
				if (x != NULL)
					diff_show(stdout, x, xl);
				else
					printf("(nothing)");
				printf("\n      %s:%*s", bname,
				    (int)(8 - strlen(bname)), "");
				if (y != NULL)
					diff_show(stdout, y, yl);
				else
					printf("(nothing)");
				printf("\n");
				shown = 1;
			}
			free(x);
			free(y);
			break;
		}
		if (a->c[ci].eof != b->c[ci].eof && !a->c[ci].closed &&
		    !a->c[ci].refused && !b->c[ci].refused) {
			if (same)
				printf("%s: DIFFERENT\n", s->name);
			same = 0;
			printf("    %s: %s closed the connection, %s did "
			    "not\n", s->conn_name[ci], a->c[ci].eof ? "redis" :
			    bname, a->c[ci].eof ? bname : "redis");
		}
	}
	if (same)
		printf("%s: same\n", s->name);
	diff_print_notes("redis", a->note);
	if (!same)
		diff_print_notes(bname, b->note);
	fflush(stdout);
	return same;
}

/* Prints every reply of a run (DIFF_DUMP=1), to review a session. */
static void
diff_dump(const struct diff_run *r, const char *run)
{
	const struct diff_rconn	*c;
	int			 ci, i;
	size_t			 len;

	for (ci = 0; ci < r->s->nconns; ci++) {
		c = &r->c[ci];
		for (i = 0; i < c->nrep; i++) {
			len = (i + 1 < c->nrep ? c->rep_off[i + 1] : c->done) -
			    c->rep_off[i];
			printf("    [%s] %s line %d: ", run, r->s->conn_name[ci],
			    r->s->steps[c->rep_step[i] < r->s->nsteps ?
			    c->rep_step[i] : r->s->nsteps - 1].line);
			diff_show(stdout, c->buf + c->rep_off[i], len);
			printf("\n");
		}
		if (c->eof && !c->closed && !c->refused)
			printf("    [%s] %s closed by the server\n", run,
			    r->s->conn_name[ci]);
	}
}

/* Runs session number i, twice, and compares. */
START_TEST(session_same_as_redis)
{
	const struct diff_session	*s = sessions[_i];
	struct diff_run			 a, b;
	int				(*count)[DIFF_MAX_CONNS];
	int				(*eof)[DIFF_MAX_CONNS];
	int				 both = getenv("DIFF_BOTH_REDIS") != NULL;
	int				 port = env.pubsubd_port, d, same;

	if (s->err[0] != '\0') {
		printf("%s: ERROR %s\n", s->name, s->err);
		fflush(stdout);
		ck_abort_msg("%s: %s", s->name, s->err);
	}
	if (s->config != NULL) {
		port = 0;
		for (d = 0; d < ndaemons; d++)
			if (strcmp(daemons[d].config, s->config) == 0)
				port = daemons[d].port;
	}
	if (both)
		port = env.redis_port;
	count = calloc((size_t)s->nsteps + 1, sizeof(*count));
	eof = calloc((size_t)s->nsteps + 1, sizeof(*eof));
	DIFF_NEED(count != NULL && eof != NULL);

	diff_run(&a, s, 1, env.redis_port, count, eof);
	diff_run(&b, s, 0, port, count, eof);
	if (both)
		b.side = DIFF_REDIS;	/* both runs are Redis runs */
	if (port == 0)
		diff_notef(&b, "no pubsubd with this configuration: %.*s",
		    (int)strcspn(s->config, "\n"), s->config);
	same = diff_compare(s, &a, &b, both ? "redis2" : "pubsubd");
	if (getenv("DIFF_DUMP") != NULL) {
		diff_dump(&a, "redis");
		diff_dump(&b, both ? "redis2" : "pubsubd");
	}
	diff_run_free(&a);
	diff_run_free(&b);
	free(count);
	free(eof);
	ck_assert_msg(same, "%s: DIFFERENT", s->name);
}
END_TEST

/* Asks Redis for the pub/sub state that each run must start from. */
static void
diff_baseline(void)
{
	static const char *const q[3] = { "CHANNELS", "NUMPAT",
	    "SHARDCHANNELS" };
	struct h_conn	*a = h_connect(env.redis_port);
	int		 i;

	if (a == NULL) {
		fprintf(stderr, "cannot connect to redis-server\n");
		exit(99);
	}
	for (i = 0; i < 3; i++)
		baseline[i] = diff_admin(a, "PUBSUB", q[i], NULL);
	h_close(a);
}

/*
 * Starts redis-server and pubsubd, and one more pubsubd per distinct
 * extra configuration of the sessions (one that does not start is
 * reported, and its sessions come out different).
 */
static void
suite_start(void)
{
	char	tag[16], cmd[600];
	int	i, d;

	h_start(&env);
	for (i = 0; i < nsessions; i++) {
		if (sessions[i]->config == NULL)
			continue;
		for (d = 0; d < ndaemons; d++)
			if (strcmp(daemons[d].config, sessions[i]->config) == 0)
				break;
		if (d < ndaemons || ndaemons == DIFF_MAX_CONFIGS)
			continue;
		daemons[d].config = sessions[i]->config;
		ndaemons++;
		if (getenv("DIFF_BOTH_REDIS") != NULL)
			continue;
		snprintf(tag, sizeof(tag), "cfg%d", d);
		if (h_start_pubsubd(&env, tag, daemons[d].config,
		    &daemons[d].port, &daemons[d].pid) == -1) {
			daemons[d].port = 0;
			printf("pubsubd with the extra configuration [%.*s] did "
			    "not start; the end of its log:\n",
			    (int)strcspn(daemons[d].config, "\n"),
			    daemons[d].config);
			snprintf(cmd, sizeof(cmd), "tail -n 5 '%s/pubsubd-%s.log'"
			    " | sed 's/^/    /'", env.dir, tag);
			fflush(stdout);
			if (system(cmd) != 0)
				printf("    (no log)\n");
		}
	}
	diff_baseline();
	fflush(stdout);
}

/* Stops every server; a pubsubd that does not stop cleanly fails the suite. */
static void
suite_stop(void)
{
	int	d, status;

	for (d = 0; d < ndaemons; d++) {
		if (daemons[d].port == 0)
			continue;
		status = h_kill(daemons[d].pid, 10000);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "pubsubd (cfg%d) ended with status "
			    "0x%x; its log is in %s\n", d, status, env.dir);
			env_failed = 1;
		}
	}
	if (h_stop(&env) == -1)
		env_failed = 1;
}

/* Whether a session file name is selected by DIFF_ONLY (a glob). */
static int
diff_selected(const char *file)
{
	const char	*only = getenv("DIFF_ONLY");
	char		 name[512];

	if (only == NULL || *only == '\0')
		return 1;
	snprintf(name, sizeof(name), "%.*s", (int)(strlen(file) -
	    strlen(".sess")), file);
	return fnmatch(only, name, 0) == 0 || strstr(name, only) != NULL;
}

/* Whether a directory entry is a session file. */
static int
diff_is_session(const struct dirent *de)
{
	size_t	n = strlen(de->d_name);

	return de->d_name[0] != '.' && n > 5 &&
	    strcmp(de->d_name + n - 5, ".sess") == 0 &&
	    diff_selected(de->d_name);
}

/* Loads the corpus, sorted by name. */
static void
diff_load_all(void)
{
	struct dirent	**list;
	const char	 *dir = getenv("DIFF_DIR"), *src;
	char		  buf[1024];
	int		  n, i;

	if (dir == NULL && (src = getenv("TESTS_SRCDIR")) != NULL) {
		snprintf(buf, sizeof(buf), "%s/diff", src);
		dir = buf;
	}
	if (dir == NULL)
		dir = "tests/diff";
	if ((n = scandir(dir, &list, diff_is_session, alphasort)) == -1) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		exit(99);
	}
	if ((sessions = calloc((size_t)n + 1, sizeof(*sessions))) == NULL)
		exit(99);
	for (i = 0; i < n; i++) {
		sessions[i] = diff_load(dir, list[i]->d_name);
		free(list[i]);
	}
	free(list);
	nsessions = n;
}

/* Prints how many sessions of each area came out the same. */
static void
diff_summary(SRunner *sr)
{
	TestResult	**tr = srunner_results(sr);
	int		  n = srunner_ntests_run(sr), i, j, same, total;
	int		  done[1024] = { 0 };

	printf("\nby area (same / sessions):\n");
	for (i = 0; i < nsessions && i < n && i < 1024; i++) {
		if (done[i])
			continue;
		same = total = 0;
		for (j = i; j < nsessions && j < n && j < 1024; j++) {
			if (strcmp(sessions[j]->area, sessions[i]->area) != 0)
				continue;
			done[j] = 1;
			total++;
			if (tr_rtype(tr[j]) == CK_PASS)
				same++;
		}
		printf("  %-14s %3d / %d\n", sessions[i]->area, same, total);
	}
	printf("  %-14s %3d / %d\n", "all", n - srunner_ntests_failed(sr), n);
	free(tr);
}

int
main(void)
{
	Suite	*s;
	TCase	*tc;
	SRunner	*sr;
	int	 failed, i;

	diff_load_all();
	if (nsessions == 0) {
		fprintf(stderr, "no sessions selected\n");
		return 99;
	}
	if (getenv("DIFF_BOTH_REDIS") != NULL)
		printf("DIFF_BOTH_REDIS: both runs of each session go to "
		    "redis-server\n");
	s = suite_create("integ_diff");
	tc = tcase_create("sessions");
	tcase_add_unchecked_fixture(tc, suite_start, suite_stop);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, session_same_as_redis, 0, nsessions);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_SILENT);
	diff_summary(sr);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	for (i = 0; i < nsessions; i++)
		diff_session_free(sessions[i]);
	free(sessions);
	for (i = 0; i < 3; i++)
		free(baseline[i]);
	if (env_failed)
		fprintf(stderr, "pubsubd did not stop cleanly: FAIL\n");
	return failed == 0 && !env_failed ? 0 : 1;
}
