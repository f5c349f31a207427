/*
 * test_integ_metrics.c: pubsubd's metrics, end to end. Each test starts its
 * own redis-server and pubsubd with the Prometheus endpoint on a free
 * loopback port, does something countable through real client connections,
 * then fetches the endpoint with an HTTP request written by hand, parses the
 * text exposition format strictly (every line; HELP and TYPE for every
 * family, before its samples; label syntax; histograms cumulative, ending
 * with +Inf equal to _count) and checks the values against what it did. INFO
 * memory and stats are read and parsed the same way. A last test moves the
 * endpoint with SIGHUP.
 *
 * Each test runs in a child process of Check's; the servers it starts die
 * with it. Every wait has a deadline and every loop a bound.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <check.h>

#include "check_run.h"

#include "harness.h"

#define PM_SAMPLES	512	/* more than pubsubd exposes */
#define PM_FAMILIES	128
#define PM_NAME		128
#define PM_LABELS	256

/* One sample line: name, its labels as written between braces, value. */
struct pm_sample {
	char	name[PM_NAME];
	char	labels[PM_LABELS];
	double	value;
	int	family;		/* index in pm.f */
};

/* One metric family: its HELP and TYPE, and whether its samples ended. */
struct pm_family {
	char	name[PM_NAME];
	char	type[16];	/* "" until its TYPE line */
	int	help;
	int	closed;		/* another family's line came after it */
};

/* A parsed exposition. */
struct pm {
	struct pm_sample	s[PM_SAMPLES];
	int			ns;
	struct pm_family	f[PM_FAMILIES];
	int			nf;
	char			err[256];
};

static void	 test_setup(void);
static void	 test_teardown(void);
static void	 start(const char *);
static int	 pm_name_ok(const char *, size_t);
static int	 pm_fail(struct pm *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static int	 pm_family(struct pm *, const char *, size_t, int);
static int	 pm_labels(struct pm *, int, const char *, const char **,
		    char *);
static int	 pm_value(const char *, double *);
static int	 pm_line(struct pm *, int, const char *);
static int	 pm_check_histograms(struct pm *);
static int	 pm_parse(struct pm *, const char *, size_t);
static double	 pm_get(const struct pm *, const char *, const char *);
static long long pm_int(const struct pm *, const char *, const char *);
static void	 scrape(int, const char *, struct pm *);
static long long scrape_until(int, const char *, const char *, long long,
		    struct pm *);
static void	 conf_write(const char *);
static int	 http_status(int, const char *, const char *);
static int	 http_wait(int, const char *, int, int);
static void	 close_rst(struct h_conn *);
static struct h_conn *subscriber(const char *, const char *, int);
static int	 info_parse(const char *, const char *);
static long long info_get(const char *, const char *);
static const char *info_str(const char *, const char *, char *, size_t);
static int	 human_ok(const char *);
static void	 add(Suite *, const char *, const TTest *);
static Suite	*metrics_suite(void);

static struct h_env	 env;
static struct h_conn	*redis;		/* direct to redis-server, per test */
static int		 mport;		/* the metrics port */
static struct pm	 pm;		/* large: not on the stack */

/* Before each test, in its own process. */
static void
test_setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	memset(&env, 0, sizeof(env));
	redis = NULL;
	mport = h_free_port();
}

/* After a test that passed: pubsubd must stop cleanly (no leak, exit 0). */
static void
test_teardown(void)
{
	h_close(redis);
	redis = NULL;
	ck_assert_msg(h_stop(&env) == 0, "pubsubd did not stop cleanly");
}

/* Starts redis-server and pubsubd with extra configuration, and `redis`. */
static void
start(const char *extra)
{
	ck_assert_msg(h_start_with(&env, NULL, extra) == 0,
	    "pubsubd did not start with %s (see %s)", extra ? extra : "",
	    env.dir);
	redis = h_connect(env.redis_port);
	ck_assert_ptr_nonnull(redis);
}

/* Whether s[0..len) is a metric name: [a-zA-Z_:][a-zA-Z0-9_:]*. */
static int
pm_name_ok(const char *s, size_t len)
{
	size_t	i;

	if (len == 0 || len >= PM_NAME)
		return 0;
	for (i = 0; i < len; i++)
		if (!(isalpha((unsigned char)s[i]) || s[i] == '_' ||
		    s[i] == ':' || (i > 0 && isdigit((unsigned char)s[i]))))
			return 0;
	return 1;
}

/* Records the first parse error with its line number; returns -1. */
static int
pm_fail(struct pm *p, int lineno, const char *fmt, ...)
{
	char	msg[200];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->err[0] == '\0')
		snprintf(p->err, sizeof(p->err), "line %d: %s", lineno, msg);
	return -1;
}

/*
 * The family named name[0..len); creates it if create is set. A family whose
 * lines ended (another one's came after) cannot be reopened: the format
 * wants each family's lines together.
 */
static int
pm_family(struct pm *p, const char *name, size_t len, int create)
{
	int	i;

	for (i = 0; i < p->nf; i++)
		if (strlen(p->f[i].name) == len &&
		    memcmp(p->f[i].name, name, len) == 0)
			break;
	if (i == p->nf) {
		if (!create || p->nf == PM_FAMILIES)
			return -1;
		memset(&p->f[i], 0, sizeof(p->f[i]));
		memcpy(p->f[i].name, name, len);
		p->nf++;
	}
	if (p->f[i].closed)
		return -2;
	/* Every other family's group is over. */
	for (int j = 0; j < p->nf; j++)
		if (j != i)
			p->f[j].closed = 1;
	return i;
}

/*
 * Parses "{name="value",...}" at *sp (just after the metric name); copies
 * the text between the braces into out (empty without labels) and moves *sp
 * past them. Label values may escape only \\, \" and \n.
 */
static int
pm_labels(struct pm *p, int lineno, const char *s, const char **sp,
    char *out)
{
	const char	*start, *n;
	size_t		 len;

	out[0] = '\0';
	if (*s != '{') {
		*sp = s;
		return 0;
	}
	start = ++s;
	while (*s != '}') {
		for (n = s; isalnum((unsigned char)*s) || *s == '_'; s++)
			;
		if (s == n || isdigit((unsigned char)*n))
			return pm_fail(p, lineno, "bad label name");
		if (s - n == 2 && strncmp(n, "__", 2) == 0)
			return pm_fail(p, lineno, "reserved label name");
		if (*s++ != '=' || *s++ != '"')
			return pm_fail(p, lineno, "label without =\"");
		for (; *s != '"'; s++) {
			if (*s == '\0' || *s == '\n')
				return pm_fail(p, lineno, "unended label value");
			if (*s == '\\' && s[1] != '\\' && s[1] != '"' &&
			    s[1] != 'n')
				return pm_fail(p, lineno, "bad escape");
			if (*s == '\\')
				s++;
		}
		s++;
		if (*s == ',')
			s++;
		else if (*s != '}')
			return pm_fail(p, lineno, "labels not separated by ,");
	}
	len = (size_t)(s - start);
	if (len >= PM_LABELS)
		return pm_fail(p, lineno, "labels too long");
	memcpy(out, start, len);
	out[len] = '\0';
	*sp = s + 1;
	return 0;
}

/* A sample value: a Go float, +Inf, -Inf or NaN. */
static int
pm_value(const char *s, double *v)
{
	char	*end;

	if (strcmp(s, "+Inf") == 0) {
		*v = INFINITY;
		return 0;
	}
	if (strcmp(s, "-Inf") == 0) {
		*v = -INFINITY;
		return 0;
	}
	if (strcmp(s, "NaN") == 0) {
		*v = NAN;
		return 0;
	}
	if (*s == '\0' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	*v = strtod(s, &end);
	/* strtod also takes "inf", "nan" and hex: the format does not. */
	if (errno != 0 || *end != '\0' || strpbrk(s, "xXiInN") != NULL)
		return -1;
	return 0;
}

/* One line of the exposition (without its newline). */
static int
pm_line(struct pm *p, int lineno, const char *line)
{
	static const char *const types[] = {
		"counter", "gauge", "histogram", "summary", "untyped", NULL
	};
	const char	*s, *sp;
	char		 base[PM_NAME];
	size_t		 len;
	int		 i, fam;

	if (line[0] == '\0')
		return pm_fail(p, lineno, "empty line");
	if (line[0] == '#') {
		int	help = strncmp(line, "# HELP ", 7) == 0;

		if (!help && strncmp(line, "# TYPE ", 7) != 0)
			return pm_fail(p, lineno, "a comment that is neither "
			    "HELP nor TYPE");
		s = line + 7;
		len = strcspn(s, " ");
		if (!pm_name_ok(s, len) || s[len] != ' ' || s[len + 1] == '\0')
			return pm_fail(p, lineno, "bad HELP/TYPE line");
		if ((fam = pm_family(p, s, len, 1)) < 0)
			return pm_fail(p, lineno, "family %.*s split",
			    (int)len, s);
		if (help) {
			if (p->f[fam].help++)
				return pm_fail(p, lineno, "second HELP");
			return 0;
		}
		if (p->f[fam].type[0] != '\0')
			return pm_fail(p, lineno, "second TYPE");
		for (i = 0; types[i] != NULL; i++)
			if (strcmp(s + len + 1, types[i]) == 0)
				break;
		if (types[i] == NULL)
			return pm_fail(p, lineno, "unknown type '%s'",
			    s + len + 1);
		for (i = 0; i < p->ns; i++)
			if (p->s[i].family == fam)
				return pm_fail(p, lineno, "TYPE after samples");
		snprintf(p->f[fam].type, sizeof(p->f[fam].type), "%s",
		    s + len + 1);
		return 0;
	}
	if (p->ns == PM_SAMPLES)
		return pm_fail(p, lineno, "too many samples");
	len = strcspn(line, "{ ");
	if (!pm_name_ok(line, len))
		return pm_fail(p, lineno, "bad metric name");
	memcpy(p->s[p->ns].name, line, len);
	p->s[p->ns].name[len] = '\0';
	sp = line + len;
	if (pm_labels(p, lineno, sp, &sp, p->s[p->ns].labels) == -1)
		return -1;
	if (*sp != ' ')
		return pm_fail(p, lineno, "no space before the value");
	/* Strict: one value, no timestamp (pubsubd writes none). */
	if (strchr(sp + 1, ' ') != NULL)
		return pm_fail(p, lineno, "more than a value");
	if (pm_value(sp + 1, &p->s[p->ns].value) == -1)
		return pm_fail(p, lineno, "bad value '%s'", sp + 1);
	/* Its family: itself, or the histogram it is a _bucket/_sum/_count of. */
	snprintf(base, sizeof(base), "%s", p->s[p->ns].name);
	fam = -1;
	for (i = 0; i < p->nf && fam < 0; i++) {
		const char *fn = p->f[i].name;
		size_t fl = strlen(fn);

		if (strcmp(fn, base) == 0 && strcmp(p->f[i].type,
		    "histogram") != 0)
			fam = i;
		else if (strcmp(p->f[i].type, "histogram") == 0 &&
		    strncmp(base, fn, fl) == 0 && (strcmp(base + fl,
		    "_bucket") == 0 || strcmp(base + fl, "_sum") == 0 ||
		    strcmp(base + fl, "_count") == 0))
			fam = i;
	}
	if (fam < 0)
		return pm_fail(p, lineno, "%s has no HELP and TYPE before it",
		    base);
	if (!p->f[fam].help || p->f[fam].type[0] == '\0')
		return pm_fail(p, lineno, "%s lacks HELP or TYPE", base);
	if (pm_family(p, p->f[fam].name, strlen(p->f[fam].name), 0) < 0)
		return pm_fail(p, lineno, "family %s split", p->f[fam].name);
	if (strcmp(p->f[fam].type, "counter") == 0 &&
	    (p->s[p->ns].value < 0 || strlen(base) < 6 ||
	    strcmp(base + strlen(base) - 6, "_total") != 0))
		return pm_fail(p, lineno, "counter %s negative or not _total",
		    base);
	for (i = 0; i < p->ns; i++)
		if (strcmp(p->s[i].name, p->s[p->ns].name) == 0 &&
		    strcmp(p->s[i].labels, p->s[p->ns].labels) == 0)
			return pm_fail(p, lineno, "duplicate sample");
	p->s[p->ns].family = fam;
	p->ns++;
	return 0;
}

/*
 * Every histogram: buckets in increasing le, counts cumulative, the last
 * le="+Inf" and equal to _count; _sum and _count present once.
 */
static int
pm_check_histograms(struct pm *p)
{
	char		 name[PM_NAME + 16];
	const char	*suffix;
	double		 le, last_le, last, count;
	int		 i, f, nb, sum;

	for (f = 0; f < p->nf; f++) {
		if (strcmp(p->f[f].type, "histogram") != 0)
			continue;
		nb = sum = 0;
		last = 0;
		count = -1;
		last_le = -INFINITY;
		for (i = 0; i < p->ns; i++) {
			if (p->s[i].family != f)
				continue;
			suffix = p->s[i].name + strlen(p->f[f].name);
			if (strcmp(suffix, "_bucket") == 0) {
				if (strncmp(p->s[i].labels, "le=\"", 4) != 0 ||
				    p->s[i].labels[strlen(p->s[i].labels) - 1]
				    != '"')
					return pm_fail(p, 0, "bucket without le");
				snprintf(name, sizeof(name), "%.*s",
				    (int)strlen(p->s[i].labels) - 5,
				    p->s[i].labels + 4);
				if (pm_value(name, &le) == -1 || le <= last_le)
					return pm_fail(p, 0, "le %s not "
					    "increasing", name);
				if (nb > 0 && p->s[i].value < last)
					return pm_fail(p, 0, "buckets not "
					    "cumulative at le %s", name);
				last_le = le;
				last = p->s[i].value;
				nb++;
			} else if (strcmp(suffix, "_sum") == 0)
				sum++;
			else if (count >= 0)
				return pm_fail(p, 0, "a second _count");
			else
				count = p->s[i].value;
		}
		if (nb < 2 || !isinf(last_le) || sum != 1 || count < 0 ||
		    last != count)
			return pm_fail(p, 0, "histogram %s: %d buckets, last "
			    "le %g = %g, _count %g, %d _sum", p->f[f].name, nb,
			    last_le, last, count, sum);
	}
	return 0;
}

/* Parses a whole exposition; 0, or -1 with p->err. */
static int
pm_parse(struct pm *p, const char *text, size_t len)
{
	char		 line[1024];
	const char	*s = text, *nl;
	int		 lineno = 0, f;

	memset(p, 0, sizeof(*p));
	if (len == 0 || text[len - 1] != '\n')
		return pm_fail(p, 0, "does not end with a newline");
	if (strlen(text) != len)
		return pm_fail(p, 0, "holds a NUL byte");
	while ((nl = strchr(s, '\n')) != NULL) {
		lineno++;
		if ((size_t)(nl - s) >= sizeof(line))
			return pm_fail(p, lineno, "line too long");
		memcpy(line, s, (size_t)(nl - s));
		line[nl - s] = '\0';
		if (strchr(line, '\r') != NULL)
			return pm_fail(p, lineno, "CR in a line");
		if (pm_line(p, lineno, line) == -1)
			return -1;
		s = nl + 1;
	}
	for (f = 0; f < p->nf; f++) {
		if (!p->f[f].help || p->f[f].type[0] == '\0')
			return pm_fail(p, 0, "%s lacks HELP or TYPE",
			    p->f[f].name);
	}
	return pm_check_histograms(p);
}

/* The value of a sample (labels as written, "" for none); NaN if absent. */
static double
pm_get(const struct pm *p, const char *name, const char *labels)
{
	int	i;

	for (i = 0; i < p->ns; i++)
		if (strcmp(p->s[i].name, name) == 0 &&
		    strcmp(p->s[i].labels, labels) == 0)
			return p->s[i].value;
	return NAN;
}

/* A sample that must be there, as an integer. */
static long long
pm_int(const struct pm *p, const char *name, const char *labels)
{
	double	v = pm_get(p, name, labels);

	ck_assert_msg(!isnan(v), "no sample %s{%s}", name, labels);
	ck_assert_msg(v == floor(v), "%s{%s} = %g is not whole", name,
	    labels, v);
	return (long long)v;
}

/*
 * GETs path on the metrics port and parses it into *p; the response must
 * be 200 with Prometheus' content type and a Content-Length that holds.
 */
static void
scrape(int port, const char *path, struct pm *p)
{
	struct h_http_resp	r;
	char			hv[128];

	ck_assert_msg(h_http(port, "GET", path, &r, H_TIMEOUT_MS) == 0,
	    "no HTTP response from port %d", port);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(h_http_header(&r, "Content-Type", hv,
	    sizeof(hv)));
	ck_assert_str_eq(hv, "text/plain; version=0.0.4; charset=utf-8");
	ck_assert_ptr_nonnull(h_http_header(&r, "Content-Length", hv,
	    sizeof(hv)));
	ck_assert_int_eq(strtoll(hv, NULL, 10), (long long)r.bodylen);
	if (pm_parse(p, r.body, r.bodylen) == -1) {
		fprintf(stderr, "the exposition:\n%s", r.body);
		ck_abort_msg("bad exposition: %s", p->err);
	}
	h_http_free(&r);
}

/* Scrapes until name{labels} == want or 5 s pass; returns the last value. */
static long long
scrape_until(int port, const char *name, const char *labels, long long want,
    struct pm *p)
{
	long long	deadline = h_now_ms() + 5000, v;

	for (;;) {
		scrape(port, "/metrics", p);
		v = pm_int(p, name, labels);
		if (v == want || h_now_ms() >= deadline)
			return v;
		usleep(20000);
	}
}

/* Rewrites pubsubd's configuration file: the base and extra. */
static void
conf_write(const char *extra)
{
	FILE	*f = fopen(env.conf, "w");

	ck_assert_ptr_nonnull(f);
	fprintf(f, "listen = ( { host = \"127.0.0.1\"; port = %d; } );\n"
	    "redis = { host = \"127.0.0.1\"; port = %d; };\n%s\n",
	    env.pubsubd_port, env.redis_port, extra);
	ck_assert_int_eq(fclose(f), 0);
}

/* The status of METHOD path on port, or -1 if nothing answered. */
static int
http_status(int port, const char *method, const char *path)
{
	struct h_http_resp	r;
	int			status;

	if (h_http(port, method, path, &r, H_TIMEOUT_MS) == -1)
		return -1;
	status = r.status;
	h_http_free(&r);
	return status;
}

/* Polls GET path until its status is want (-1: refused) or timeout_ms. */
static int
http_wait(int port, const char *path, int want, int timeout_ms)
{
	long long	deadline = h_now_ms() + timeout_ms;
	int		st;

	while ((st = http_status(port, "GET", path)) != want &&
	    h_now_ms() < deadline)
		usleep(20000);
	return st;
}

/* Closes a connection with a reset instead of a FIN. */
static void
close_rst(struct h_conn *c)
{
	struct linger	lg = { 1, 0 };

	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	h_close(c);
}

/* A new client subscribed with cmd to name; count is the confirmation's. */
static struct h_conn *
subscriber(const char *cmd, const char *name, int count)
{
	struct h_conn	*c = h_connect(env.pubsubd_port);

	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(h_command(c, cmd, name, NULL), 0);
	ck_assert(h_expect_free(c, h_frame_confirm(
	    strcmp(cmd, "SUBSCRIBE") == 0 ? "subscribe" :
	    strcmp(cmd, "PSUBSCRIBE") == 0 ? "psubscribe" : "ssubscribe",
	    name, count)));
	return c;
}

/*
 * Checks an INFO reply's text: it starts with "# Section", and every other
 * line is "key:value" with a key of [a-z0-9_] and a value without blanks.
 * Returns 1 if so (else prints why).
 */
static int
info_parse(const char *text, const char *section)
{
	const char	*s = text, *nl, *colon;
	char		 head[64];
	size_t		 i;

	snprintf(head, sizeof(head), "# %s\r\n", section);
	if (strncmp(text, head, strlen(head)) != 0) {
		fprintf(stderr, "INFO does not start with %s", head);
		return 0;
	}
	for (s += strlen(head); *s != '\0'; s = nl + 2) {
		if ((nl = strstr(s, "\r\n")) == NULL ||
		    (colon = memchr(s, ':', (size_t)(nl - s))) == NULL ||
		    colon == s || colon + 1 == nl) {
			fprintf(stderr, "bad INFO line at: %.40s\n", s);
			return 0;
		}
		for (i = 0; s + i < colon; i++)
			if (!islower((unsigned char)s[i]) &&
			    !isdigit((unsigned char)s[i]) && s[i] != '_') {
				fprintf(stderr, "bad INFO key at: %.40s\n", s);
				return 0;
			}
		for (i = 1; colon + i < nl; i++)
			if (isspace((unsigned char)colon[i])) {
				fprintf(stderr, "blank in INFO value: %.40s\n",
				    s);
				return 0;
			}
	}
	return 1;
}

/* An INFO field that must be a whole number (and all of its value). */
static long long
info_get(const char *text, const char *key)
{
	char		 buf[256], *end;
	long long	 v;

	ck_assert_msg(info_str(text, key, buf, sizeof(buf)) != NULL,
	    "INFO has no %s", key);
	v = strtoll(buf, &end, 10);
	ck_assert_msg(*end == '\0' && end != buf, "INFO %s:%s is not a "
	    "number", key, buf);
	return v;
}

/* An INFO field's text, or NULL. */
static const char *
info_str(const char *text, const char *key, char *buf, size_t len)
{
	const char	*p, *nl;
	size_t		 klen = strlen(key);

	for (p = text; (p = strstr(p, key)) != NULL; p += klen) {
		if ((p == text || p[-1] == '\n') && p[klen] == ':') {
			p += klen + 1;
			nl = strstr(p, "\r\n");
			snprintf(buf, len, "%.*s", (int)(nl - p), p);
			return buf;
		}
	}
	return NULL;
}

/* Whether s is a Redis "_human" size: 123B, or 1.23K/M/G/T/P. */
static int
human_ok(const char *s)
{
	size_t	n = strspn(s, "0123456789");

	if (n == 0)
		return 0;
	if (strcmp(s + n, "B") == 0)
		return 1;
	return s[n] == '.' && strspn(s + n + 1, "0123456789") == 2 &&
	    strchr("KMGTP", s[n + 3]) != NULL && s[n + 3] != '\0' &&
	    s[n + 4] == '\0';
}

/*
 * 1. N clients subscribe, M messages are published, one client QUITs, one
 * resets its connection, one closes it: the endpoint counts exactly that,
 * in a well-formed exposition; INFO memory and stats agree.
 */
START_TEST(metrics_count_clients_messages_and_disconnect_reasons)
{
	enum { N = 8, M = 50 };
	struct h_conn		*c[N];
	struct h_http_resp	 r;
	char			 extra[256], payload[32], *frame, *text;
	char			 buf[256], hv[64];
	long long		 eof0, sum, frame_len = 0, before, after;
	int			 i, j;

	snprintf(extra, sizeof(extra), "metrics = { enabled = true; "
	    "port = %d; };", mport);
	/* pubsubd reads its start time somewhere in between. */
	before = time(NULL);
	start(extra);
	after = time(NULL);

	for (i = 0; i < N; i++)
		c[i] = subscriber("SUBSCRIBE", "mc", 1);
	/* Two more kinds, on clients that stay: a pattern no message hits. */
	ck_assert_int_eq(h_command(c[0], "PSUBSCRIBE", "zz*", NULL), 0);
	ck_assert(h_expect_free(c[0], h_frame_confirm("psubscribe", "zz*",
	    2)));
	ck_assert_int_eq(h_command(c[1], "SSUBSCRIBE", "zs", NULL), 0);
	ck_assert(h_expect_free(c[1], h_frame_confirm("ssubscribe", "zs",
	    1)));

	for (j = 0; j < M; j++) {
		snprintf(payload, sizeof(payload), "m%d", j);
		ck_assert_int_eq(h_publish(redis, "mc", payload), 1);
	}
	for (i = 0; i < N; i++) {
		for (j = 0; j < M; j++) {
			snprintf(payload, sizeof(payload), "m%d", j);
			frame = h_frame_message("mc", payload);
			if (i == 0)
				frame_len += (long long)strlen(frame);
			ck_assert(h_expect_free(c[i], frame));
		}
	}

	/* Before the disconnects (nothing else connects from here on). */
	scrape_until(mport, "pubsubd_clients_connected", "", N, &pm);
	eof0 = pm_int(&pm, "pubsubd_client_disconnects_total",
	    "reason=\"eof\"");
	ck_assert_int_eq(pm_int(&pm, "pubsubd_client_disconnects_total",
	    "reason=\"quit\""), 0);

	ck_assert_int_eq(h_command(c[N - 1], "QUIT", NULL), 0);
	ck_assert(h_expect(c[N - 1], "+OK\r\n"));
	ck_assert(h_closed(c[N - 1], H_TIMEOUT_MS));
	h_close(c[N - 1]);
	close_rst(c[N - 2]);
	h_close(c[N - 3]);

	ck_assert_int_eq(scrape_until(mport, "pubsubd_clients_connected", "",
	    N - 3, &pm), N - 3);
	ck_assert_int_eq(pm_int(&pm, "pubsubd_client_disconnects_total",
	    "reason=\"quit\""), 1);
	ck_assert_int_eq(pm_int(&pm, "pubsubd_client_disconnects_total",
	    "reason=\"read_error\""), 1);
	ck_assert_int_eq(pm_int(&pm, "pubsubd_client_disconnects_total",
	    "reason=\"eof\""), eof0 + 1);
	for (sum = 0, i = 0; i < pm.ns; i++)
		if (strcmp(pm.s[i].name, "pubsubd_client_disconnects_total") ==
		    0)
			sum += (long long)pm.s[i].value;
	ck_assert_int_eq(pm_int(&pm, "pubsubd_clients_accepted_total", "") -
	    sum, N - 3);
	ck_assert_int_eq(pm_int(&pm, "pubsubd_clients_rejected_total", ""), 0);

	ck_assert_int_eq(pm_int(&pm, "pubsubd_messages_received_total", ""),
	    M);
	ck_assert_int_eq(pm_int(&pm, "pubsubd_messages_delivered_total", ""),
	    N * M);
	ck_assert_int_eq(pm_int(&pm, "pubsubd_messages_dropped_total", ""), 0);
	ck_assert_int_eq(pm_int(&pm, "pubsubd_messages_unrouted_total", ""),
	    0);
	ck_assert_int_ge(pm_int(&pm, "pubsubd_client_output_bytes_total", ""),
	    N * frame_len);
	ck_assert_int_eq(pm_int(&pm, "pubsubd_client_output_pending_bytes",
	    ""), 0);
	ck_assert_int_eq(pm_int(&pm, "pubsubd_fanout_latency_seconds_count",
	    ""), M);
	ck_assert(pm_get(&pm, "pubsubd_fanout_latency_seconds_sum", "") > 0);
	ck_assert_int_le(pm_int(&pm, "pubsubd_fanout_batches_total", ""), M);

	ck_assert_int_eq(pm_int(&pm, "pubsubd_subscriptions",
	    "kind=\"channel\""), N - 3);
	ck_assert_int_eq(pm_int(&pm, "pubsubd_subscriptions",
	    "kind=\"pattern\""), 1);
	ck_assert_int_eq(pm_int(&pm, "pubsubd_subscriptions",
	    "kind=\"shard\""), 1);
	ck_assert_int_eq(pm_int(&pm, "pubsubd_upstream_subscriptions",
	    "kind=\"channel\""), 1);
	ck_assert_int_eq(pm_int(&pm, "pubsubd_upstream_subscriptions",
	    "kind=\"pattern\""), 1);
	ck_assert_int_eq(pm_int(&pm, "pubsubd_upstream_subscriptions",
	    "kind=\"shard\""), 1);
	ck_assert_int_eq(pm_int(&pm, "pubsubd_upstream_operations_total",
	    "op=\"subscribe\""), 3);
	ck_assert_int_eq(pm_int(&pm, "pubsubd_upstream_up", ""), 1);
	ck_assert_int_eq(pm_int(&pm, "pubsubd_upstream_synced", ""), 1);
	ck_assert_int_eq(pm_int(&pm, "pubsubd_upstream_connects_total", ""),
	    1);
	ck_assert_int_eq(pm_int(&pm, "pubsubd_upstream_outages_total", ""), 0);
	ck_assert(pm_get(&pm, "pubsubd_upstream_down_seconds", "") == 0);

	ck_assert_int_gt(pm_int(&pm, "pubsubd_resident_memory_bytes", ""), 0);
	ck_assert_int_ge(pm_int(&pm, "pubsubd_resident_memory_peak_bytes", ""),
	    pm_int(&pm, "pubsubd_resident_memory_bytes", "") / 2);
	ck_assert_int_ge(pm_int(&pm, "pubsubd_start_time_seconds", ""),
	    before);
	ck_assert_int_le(pm_int(&pm, "pubsubd_start_time_seconds", ""),
	    after);
	ck_assert_int_ge(pm_int(&pm, "pubsubd_uptime_seconds", ""), 0);
	snprintf(buf, sizeof(buf), "version=\"%s\"", PACKAGE_VERSION);
	ck_assert_int_eq(pm_int(&pm, "pubsubd_build_info", buf), 1);

	/* The rest of HTTP: paths, methods, a query, HEAD. */
	ck_assert_int_eq(http_status(mport, "GET", "/"), 404);
	ck_assert_int_eq(http_status(mport, "GET", "/metricsx"), 404);
	ck_assert_int_eq(http_status(mport, "GET", "/metrics/"), 404);
	ck_assert_int_eq(http_status(mport, "GET", "/metrics?x=1"), 200);
	ck_assert_int_eq(http_status(mport, "POST", "/other"), 404);
	ck_assert_int_eq(h_http(mport, "POST", "/metrics", &r, H_TIMEOUT_MS),
	    0);
	ck_assert_int_eq(r.status, 405);
	ck_assert_ptr_nonnull(h_http_header(&r, "Allow", hv, sizeof(hv)));
	ck_assert_str_eq(hv, "GET, HEAD");
	h_http_free(&r);
	ck_assert_int_eq(http_status(mport, "DELETE", "/metrics"), 405);
	ck_assert_int_eq(h_http(mport, "HEAD", "/metrics", &r, H_TIMEOUT_MS),
	    0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(r.bodylen, 0);
	ck_assert_ptr_nonnull(h_http_header(&r, "Content-Length", hv,
	    sizeof(hv)));
	ck_assert_int_gt(strtoll(hv, NULL, 10), 1000);
	h_http_free(&r);

	/* INFO memory: Redis' names, numbers that parse, sizes for humans. */
	text = h_info_text(env.pubsubd_port, "memory", H_TIMEOUT_MS);
	ck_assert_ptr_nonnull(text);
	ck_assert_msg(info_parse(text, "Memory"), "%s", text);
	ck_assert_int_gt(info_get(text, "used_memory_rss"), 0);
	ck_assert(human_ok(info_str(text, "used_memory_rss_human", buf,
	    sizeof(buf))));
	ck_assert_int_ge(info_get(text, "used_memory_rss_peak"),
	    info_get(text, "used_memory_rss"));
	ck_assert(human_ok(info_str(text, "used_memory_rss_peak_human", buf,
	    sizeof(buf))));
#ifdef HAVE_MALLINFO2
	ck_assert_int_ge(info_get(text, "used_memory"), 0);
	ck_assert(human_ok(info_str(text, "used_memory_human", buf,
	    sizeof(buf))));
	ck_assert_int_ge(info_get(text, "allocator_arena"), 0);
	ck_assert_ptr_nonnull(info_str(text, "mem_fragmentation_ratio", buf,
	    sizeof(buf)));
#endif
	/* The subscribers and this INFO's own connection. */
	ck_assert_int_gt(info_get(text, "mem_clients_normal"), 0);
	ck_assert_int_eq(info_get(text, "client_output_pending"), 0);
	ck_assert_int_ge(info_get(text, "client_query_buffers"), 0);
	ck_assert_int_eq(info_get(text, "hub_channels"), 1);
	ck_assert_int_eq(info_get(text, "hub_patterns"), 1);
	ck_assert_int_eq(info_get(text, "hub_shardchannels"), 1);
	ck_assert_str_eq(info_str(text, "mem_allocator", buf, sizeof(buf)),
	    "libc");
	free(text);

	text = h_info_text(env.pubsubd_port, "stats", H_TIMEOUT_MS);
	ck_assert_ptr_nonnull(text);
	ck_assert_msg(info_parse(text, "Stats"), "%s", text);
	ck_assert_int_eq(info_get(text, "messages_received"), M);
	ck_assert_int_eq(info_get(text, "messages_delivered"), N * M);
	ck_assert_int_eq(info_get(text, "messages_dropped"), 0);
	ck_assert_int_eq(info_get(text, "rejected_connections"), 0);
	ck_assert_int_ge(info_get(text, "total_net_output_bytes"),
	    N * frame_len);
	ck_assert_int_eq(info_get(text, "fanout_latency_count"), M);
	ck_assert_ptr_nonnull(info_str(text, "client_disconnects", buf,
	    sizeof(buf)));
	ck_assert_msg(strstr(buf, "quit=1,") == buf, "%s", buf);
	ck_assert_msg(strstr(buf, ",read_error=1,") != NULL, "%s", buf);
	free(text);

	text = h_info_text(env.pubsubd_port, "upstream", H_TIMEOUT_MS);
	ck_assert_ptr_nonnull(text);
	ck_assert_msg(info_parse(text, "Upstream"), "%s", text);
	ck_assert_int_eq(info_get(text, "upstream_channels"), 1);
	ck_assert_int_eq(info_get(text, "upstream_patterns"), 1);
	ck_assert_int_eq(info_get(text, "upstream_shardchannels"), 1);
	ck_assert_int_eq(info_get(text, "upstream_connects"), 1);
	free(text);

	text = h_info_text(env.pubsubd_port, "clients", H_TIMEOUT_MS);
	ck_assert_ptr_nonnull(text);
	ck_assert_msg(info_parse(text, "Clients"), "%s", text);
	ck_assert_int_eq(info_get(text, "subscribed_channels"), N - 3);
	ck_assert_int_eq(info_get(text, "subscribed_patterns"), 1);
	ck_assert_int_eq(info_get(text, "subscribed_shardchannels"), 1);
	free(text);

	for (i = 0; i < N - 3; i++)
		h_close(c[i]);
}
END_TEST

/*
 * 2. The other reasons a scrape can tell apart: maxclients refusals, CLIENT
 * KILL, a protocol error; and the subscription counts fall back to 0 when
 * the last subscriber is gone.
 */
START_TEST(metrics_count_rejections_kills_and_protocol_errors)
{
	struct h_conn	*a, *b, *x;
	char		 extra[256], *rep, idb[32];

	snprintf(extra, sizeof(extra), "limits = { maxclients = 2; };\n"
	    "metrics = { enabled = true; port = %d; };", mport);
	start(extra);
	scrape_until(mport, "pubsubd_clients_connected", "", 0, &pm);

	b = h_connect(env.pubsubd_port);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(h_command(b, "CLIENT", "ID", NULL), 0);
	rep = h_reply(b, NULL, H_TIMEOUT_MS);
	ck_assert_ptr_nonnull(rep);
	snprintf(idb, sizeof(idb), "%lld", h_int(rep));
	free(rep);
	ck_assert_int_eq(h_command(b, "SUBSCRIBE", "k", NULL), 0);
	ck_assert(h_expect_free(b, h_frame_confirm("subscribe", "k", 1)));
	a = h_connect(env.pubsubd_port);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(h_sendstr(a, "PING\r\n"), 0);
	ck_assert(h_expect(a, "+PONG\r\n"));

	x = h_connect(env.pubsubd_port);
	ck_assert_ptr_nonnull(x);
	ck_assert(h_expect(x, "-ERR max number of clients reached\r\n"));
	ck_assert(h_closed(x, H_TIMEOUT_MS));
	h_close(x);
	scrape(mport, "/metrics", &pm);
	ck_assert_int_eq(pm_int(&pm, "pubsubd_clients_rejected_total", ""), 1);
	ck_assert_int_eq(pm_int(&pm, "pubsubd_clients_connected", ""), 2);
	ck_assert_int_eq(pm_int(&pm, "pubsubd_subscriptions",
	    "kind=\"channel\""), 1);
	ck_assert_int_eq(pm_int(&pm, "pubsubd_upstream_subscriptions",
	    "kind=\"channel\""), 1);

	ck_assert_int_eq(h_command(a, "CLIENT", "KILL", "ID", idb, NULL), 0);
	ck_assert(h_expect(a, ":1\r\n"));
	ck_assert(h_closed(b, H_TIMEOUT_MS));
	h_close(b);
	ck_assert_int_eq(scrape_until(mport, "pubsubd_upstream_subscriptions",
	    "kind=\"channel\"", 0, &pm), 0);
	ck_assert_int_eq(pm_int(&pm, "pubsubd_subscriptions",
	    "kind=\"channel\""), 0);
	ck_assert_int_eq(pm_int(&pm, "pubsubd_upstream_operations_total",
	    "op=\"unsubscribe\""), 1);
	ck_assert_int_eq(pm_int(&pm, "pubsubd_client_disconnects_total",
	    "reason=\"killed\""), 1);

	x = h_connect(env.pubsubd_port);
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(h_sendstr(x, "*1\r\n$x\r\n"), 0);
	rep = h_reply(x, NULL, H_TIMEOUT_MS);
	ck_assert_ptr_nonnull(rep);
	ck_assert_msg(strncmp(rep, "-ERR Protocol error", 19) == 0, "%s", rep);
	free(rep);
	ck_assert(h_closed(x, H_TIMEOUT_MS));
	h_close(x);

	ck_assert_int_eq(scrape_until(mport, "pubsubd_clients_connected", "",
	    1, &pm), 1);
	ck_assert_int_eq(pm_int(&pm, "pubsubd_clients_rejected_total", ""), 1);
	ck_assert_int_eq(pm_int(&pm, "pubsubd_client_disconnects_total",
	    "reason=\"protocol_error\""), 1);
	ck_assert_int_eq(pm_int(&pm, "pubsubd_protocol_errors_total", ""), 1);
	h_close(a);
}
END_TEST

/*
 * 3. SIGHUP starts, moves, re-paths and stops the endpoint; a reload whose
 * metrics port cannot be bound keeps the running one.
 */
START_TEST(metrics_endpoint_follows_reload)
{
	struct sockaddr_in	 sin;
	char			 extra[256];
	int			 port2 = h_free_port(), busy, fd, one = 1;

	start(NULL);
	ck_assert_int_eq(http_status(mport, "GET", "/metrics"), -1);

	/* On. */
	snprintf(extra, sizeof(extra), "metrics = { enabled = true; "
	    "port = %d; };", mport);
	conf_write(extra);
	ck_assert_int_eq(kill(env.pubsubd_pid, SIGHUP), 0);
	ck_assert_int_eq(http_wait(mport, "/metrics", 200, 5000), 200);
	scrape(mport, "/metrics", &pm);

	/* Moved, with another path. */
	snprintf(extra, sizeof(extra), "metrics = { enabled = true; "
	    "port = %d; path = \"/m2\"; };", port2);
	conf_write(extra);
	ck_assert_int_eq(kill(env.pubsubd_pid, SIGHUP), 0);
	ck_assert_int_eq(http_wait(port2, "/m2", 200, 5000), 200);
	ck_assert_int_eq(http_status(mport, "GET", "/metrics"), -1);
	ck_assert_int_eq(http_status(port2, "GET", "/metrics"), 404);
	scrape(port2, "/m2", &pm);

	/* Same address, another path: no rebinding. */
	snprintf(extra, sizeof(extra), "metrics = { enabled = true; "
	    "port = %d; path = \"/m3\"; };", port2);
	conf_write(extra);
	ck_assert_int_eq(kill(env.pubsubd_pid, SIGHUP), 0);
	ck_assert_int_eq(http_wait(port2, "/m3", 200, 5000), 200);
	ck_assert_int_eq(http_status(port2, "GET", "/m2"), 404);

	/* A port someone else holds: the reload fails, nothing changes. */
	ck_assert_int_ne(fd = socket(AF_INET, SOCK_STREAM, 0), -1);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	busy = h_free_port();
	sin.sin_port = htons((uint16_t)busy);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	snprintf(extra, sizeof(extra), "metrics = { enabled = true; "
	    "port = %d; };", busy);
	conf_write(extra);
	ck_assert_int_eq(kill(env.pubsubd_pid, SIGHUP), 0);
	usleep(300000);
	ck_assert_int_eq(http_status(port2, "GET", "/m3"), 200);
	ck_assert_int_eq(http_wait(port2, "/m3", 200, 1000), 200);
	close(fd);

	/* Off. */
	conf_write("metrics = { enabled = false; };");
	ck_assert_int_eq(kill(env.pubsubd_pid, SIGHUP), 0);
	ck_assert_int_eq(http_wait(port2, "/m3", -1, 5000), -1);
	ck_assert_int_eq(h_info_field(env.pubsubd_port, "upstream",
	    "upstream_connected", H_TIMEOUT_MS), 1);
}
END_TEST

/*
 * 4. A second pubsubd whose metrics port the first one holds does not
 * start: it exits 1 and says why; the first one serves on.
 */
START_TEST(metrics_port_taken_at_start_exits_1)
{
	char		 extra[256], conf[300], log[300], line[512], *argv[4];
	FILE		*f;
	pid_t		 pid;
	long long	 deadline;
	int		 found = 0, status;

	snprintf(extra, sizeof(extra), "metrics = { enabled = true; "
	    "port = %d; };", mport);
	start(extra);

	snprintf(conf, sizeof(conf), "%s/taken.conf", env.dir);
	snprintf(log, sizeof(log), "%s/taken.log", env.dir);
	f = fopen(conf, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "listen = ( { port = 0; } );\nredis = { port = %d; };\n"
	    "metrics = { enabled = true; port = %d; };\n", env.redis_port,
	    mport);
	ck_assert_int_eq(fclose(f), 0);
	argv[0] = getenv("PUBSUBD") ? getenv("PUBSUBD") : "./daemon/pubsubd";
	argv[1] = "-c";
	argv[2] = conf;
	argv[3] = NULL;
	pid = h_spawn(argv, log);
	deadline = h_now_ms() + 10000;
	while (waitpid(pid, &status, WNOHANG) != pid) {
		if (h_now_ms() >= deadline) {
			h_kill(pid, 1000);
			ck_abort_msg("pubsubd started on a taken metrics port");
		}
		usleep(20000);
	}
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 1);
	f = fopen(log, "r");
	ck_assert_ptr_nonnull(f);
	snprintf(extra, sizeof(extra), "metrics: cannot listen on "
	    "127.0.0.1:%d: Address already in use", mport);
	while (fgets(line, sizeof(line), f) != NULL)
		found |= strstr(line, extra) != NULL;
	fclose(f);
	ck_assert_msg(found, "no '%s' in %s", extra, log);
	scrape(mport, "/metrics", &pm);
}
END_TEST

/*
 * 0. The parser the other tests trust is strict: it takes a good exposition
 * and refuses each kind of bad one.
 */
START_TEST(parser_refuses_malformed_expositions)
{
	static const char good[] =
	    "# HELP a_total A.\n# TYPE a_total counter\n"
	    "a_total{k=\"v\",q=\"\\\"x\\\\\"} 3\n"
	    "# HELP g G.\n# TYPE g gauge\ng 1.5e3\ng{x=\"y\"} -2\n"
	    "# HELP h H.\n# TYPE h histogram\n"
	    "h_bucket{le=\"0.1\"} 1\nh_bucket{le=\"1\"} 2\n"
	    "h_bucket{le=\"+Inf\"} 2\nh_sum 0.3\nh_count 2\n";
	static const char *const bad[] = {
		"# HELP g G.\ng 1\n",				/* no TYPE */
		"# TYPE g gauge\ng 1\n",				/* no HELP */
		"g 1\n# HELP g G.\n# TYPE g gauge\n",		/* late */
		"# HELP g G.\n# TYPE g gauge\ng 1",		/* no \n */
		"# HELP g G.\n# TYPE g gauge\ng{a=1} 1\n",	/* label */
		"# HELP g G.\n# TYPE g gauge\ng{a=\"\\t\"} 1\n",
		"# HELP g G.\n# TYPE g gauge\ng one\n",		/* value */
		"# HELP g G.\n# TYPE g gauge\ng 1 123\n",	/* stamp */
		"# HELP g G.\n# TYPE g gauge\ng 1\ng 2\n",	/* twice */
		"# HELP g G.\n# TYPE g gauge\ng 1\n\n",		/* empty */
		"# HELP g G.\n# TYPE g gauge\n# note\ng 1\n",	/* comment */
		"# HELP g G.\n# TYPE g gauges\ng 1\n",		/* type */
		"# HELP c C.\n# TYPE c counter\nc 1\n",		/* _total */
		"# HELP g G.\n# TYPE g gauge\ng 1\n# HELP f F.\n"
		    "# TYPE f gauge\nf 1\ng{a=\"b\"} 2\n",	/* split */
		"# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
		    "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
		"# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
		    "h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",
		"# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
		    "h_bucket{le=\"2\"} 2\nh_sum 1\nh_count 2\n",	/* +Inf */
		"# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"2\"} 1\n"
		    "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\n"
		    "h_sum 1\nh_count 1\n",				/* order */
		"# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
		    "h_bucket{le=\"+Inf\"} 1\nh_count 1\n",		/* _sum */
		NULL
	};
	int	i;

	ck_assert_msg(pm_parse(&pm, good, strlen(good)) == 0, "%s", pm.err);
	ck_assert(pm_get(&pm, "g", "") == 1500);
	ck_assert(pm_get(&pm, "h_count", "") == 2);
	for (i = 0; bad[i] != NULL; i++)
		ck_assert_msg(pm_parse(&pm, bad[i], strlen(bad[i])) == -1,
		    "bad exposition %d was taken:\n%s", i, bad[i]);
}
END_TEST

/* Adds test fn as a case of its own, with the fixtures and a timeout. */
static void
add(Suite *s, const char *name, const TTest *fn)
{
	TCase	*tc = tcase_create(name);

	tcase_add_checked_fixture(tc, test_setup, test_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, fn);
	suite_add_tcase(s, tc);
}

/* The suite: one case per test, each with servers of its own. */
static Suite *
metrics_suite(void)
{
	Suite	*s = suite_create("integ_metrics");
	TCase	*tc = tcase_create("parser");

	tcase_add_test(tc, parser_refuses_malformed_expositions);
	suite_add_tcase(s, tc);

	add(s, "counts",
	    metrics_count_clients_messages_and_disconnect_reasons);
	add(s, "reasons", metrics_count_rejections_kills_and_protocol_errors);
	add(s, "reload", metrics_endpoint_follows_reload);
	add(s, "taken", metrics_port_taken_at_start_exits_1);
	return s;
}

/* Runs every test; exits 0 if all passed. */
int
main(void)
{
	return check_run(metrics_suite());
}
