#!/bin/sh
# test_clients.sh: real clients through pubsubd, each in its own test:
# redis-cli (subscribe, psubscribe, an interactive session on a terminal and
# one piped into its stdin), redis-py from Debian's python3-redis (PubSub
# with get_message, listen, run_in_thread, unsubscribe; a plain connection
# start), and a C client on hiredis' async API (tests/client_hiredis).
#
# Most tests run the same client twice, against redis-server and against
# pubsubd, and require the same transcript (ports and client ids masked);
# the run against Redis proves the test itself. The script starts its own
# redis-server and pubsubd on free loopback ports, bounds every wait, and
# stops both on exit. Exit status: 0 all passed, 1 a test failed, 77 every
# test was skipped (tools missing), 99 the servers could not be started.
#
# Environment: PUBSUBD (default ./daemon/pubsubd), CLIENT_HIREDIS (default
# ./tests/client_hiredis), CLIENTS_ONLY (run only tests whose name contains
# it), CLIENTS_KEEP=1 (keep the temporary directory and logs),
# CLIENTS_BOTH_REDIS=1 (the "pubsubd" runs go to redis-server too: every
# test must pass, which proves the tests themselves).

PUBSUBD=${PUBSUBD:-./daemon/pubsubd}
CLIENT_HIREDIS=${CLIENT_HIREDIS:-./tests/client_hiredis}
PY=/usr/bin/python3	# Debian's, which has python3-redis
STEP_TIMEOUT=30		# seconds any one client run may take

passed=0
failed=0
skipped=0
failed_names=
redis_pid=
pubsubd_pid=
auth_pid=

TMP=$(mktemp -d /tmp/pubsubd-clients.XXXXXX) || exit 99

# Stops what this script started (by pid) and removes its directory.
# shellcheck disable=SC2317 # called through trap
cleanup() {
	trap - EXIT INT TERM HUP
	if [ -n "$pubsubd_pid" ]; then
		kill "$pubsubd_pid" 2>/dev/null
		wait "$pubsubd_pid" 2>/dev/null
	fi
	if [ -n "$auth_pid" ]; then
		kill "$auth_pid" 2>/dev/null
		wait "$auth_pid" 2>/dev/null
	fi
	if [ -n "$redis_pid" ]; then
		kill "$redis_pid" 2>/dev/null
		wait "$redis_pid" 2>/dev/null
	fi
	if [ -z "${CLIENTS_KEEP:-}" ] && [ "$failed" -eq 0 ]; then
		rm -rf "$TMP"
	else
		echo "logs and transcripts kept in $TMP"
	fi
}
trap cleanup EXIT
trap 'exit 99' INT TERM HUP

if [ ! -x "$PY" ]; then
	echo "SKIP: $PY is missing"
	exit 77
fi

# The driver: every client run that needs more than one command line.
cat > "$TMP/drive.py" <<'EOF'
"""Client runs for test_clients.sh: each prints a transcript, exits 1 if a
step does not happen within its bound. Usage: drive.py TEST PORT REDIS_PORT
(PORT is where the client under test connects; REDIS_PORT is Redis itself,
for publishing), or drive.py ping PORT SECONDS."""
import os, re, select, signal, socket, subprocess, sys, threading, time

WAIT = 5.0			# seconds any one expected output may take


def fail(msg):
    sys.stdout.flush()
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def direct(rport, *args):
    """Sends one command straight to Redis and returns the raw reply."""
    with socket.create_connection(("127.0.0.1", rport), timeout=WAIT) as s:
        s.sendall(resp(*args))
        data = b""
        while not data.endswith(b"\r\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


def publish(rport, channel, payload):
    direct(rport, "PUBLISH", channel, payload)


def ping(port, seconds):
    end = time.time() + float(seconds)
    while time.time() < end:
        try:
            if direct(int(port), "PING") == b"+PONG\r\n":
                return 0
        except OSError:
            pass
        time.sleep(0.05)
    return 1


class Output:
    """Collects what a child writes to fd, waiting with deadlines."""

    def __init__(self, fd):
        self.fd, self.data = fd, b""

    def wait_for(self, text, what):
        text = text if isinstance(text, bytes) else text.encode()
        end = time.time() + WAIT
        while text not in self.data:
            left = end - time.time()
            if left <= 0:
                fail("no %s within %.0f s; the client printed %r"
                     % (what, WAIT, self.data[-600:]))
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    fail("the client ended before %s; it printed %r"
                         % (what, self.data[-600:]))
                self.data += chunk

    def wait_more(self, text, n, what):
        """Waits until text occurs more than n times."""
        text = text.encode()
        end = time.time() + WAIT
        while self.data.count(text) <= n:
            left = end - time.time()
            if left <= 0:
                fail("no %s within %.0f s; the client printed %r"
                     % (what, WAIT, self.data[-600:]))
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    fail("the client ended before %s; it printed %r"
                         % (what, self.data[-600:]))
                self.data += chunk


def normal(text, port):
    text = text.replace("127.0.0.1:%d" % port, "127.0.0.1:PORT")
    text = re.sub(r'"id" => \(integer\) \d+', '"id" => <id>', text)
    text = re.sub(r'(^|\n)id(\n| )\d+\n', r'\1id\2<id>\n', text)
    text = re.sub(r'(\d+\) "id"\r?\n *\d+\) \(integer\) )\d+',
                  r'\1<id>', text)
    return text


def show(data, port):
    sys.stdout.write(normal(data.decode("utf-8", "replace"), port))


def kill(p):
    try:
        os.kill(p, signal.SIGKILL)
    except OSError:
        pass
    try:
        os.waitpid(p, 0)
    except OSError:
        pass


def cli_sub(mode, port, rport):
    """redis-cli SUBSCRIBE / PSUBSCRIBE CHANNEL as a command line."""
    if mode == "subscribe":
        arg, channel = "clients:cli", "clients:cli"
        want = "message\nclients:cli\nhello cli\n"
    else:
        arg, channel = "clients:clip*", "clients:clip1"
        want = "pmessage\nclients:clip*\nclients:clip1\nhello cli\n"
    p = subprocess.Popen(["redis-cli", "-p", str(port), mode, arg],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    out = Output(p.stdout.fileno())
    try:
        out.wait_for("%s\n%s\n1\n" % (mode, arg), "confirmation")
        publish(rport, channel, "hello cli")
        out.wait_for(want, "message")
    finally:
        kill(p.pid)
    show(out.data, port)


def cli_tty(port, rport):
    """redis-cli on a terminal: what a person types, line by line."""
    import pty
    lines = ["HELLO 3", "PING", "PING hi", 'ECHO "a b"',
             "CLIENT SETNAME clitty", "CLIENT GETNAME",
             "PUBLISH clients:tty nobody", "HELLO 2", "PUBSUB NUMSUB x",
             "SELECT 1", "SUBSCRIBE clients:tty"]
    prompt = "127.0.0.1:%d" % port
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["TERM"] = "dumb"
        os.execvp("redis-cli", ["redis-cli", "-p", str(port)])
    out = Output(fd)
    try:
        out.wait_for(prompt, "first prompt")
        for line in lines:
            n = out.data.count(prompt.encode())
            os.write(fd, (line + "\r").encode())
            if line.startswith("SUBSCRIBE"):
                out.wait_for('2) "clients:tty"\r\n3) (integer) 1\r\n',
                             "subscribe confirmation")
            else:
                out.wait_more(prompt, n, "prompt after %r" % line)
        publish(rport, "clients:tty", "hello tty")
        out.wait_for("hello tty", "message")
    finally:
        kill(pid)
    show(out.data, port)


def cli_pipe(port, rport):
    """redis-cli with commands piped into its stdin."""
    script = ("HELLO 3\nPING\nECHO piped\nCLIENT SETNAME clipipe\n"
              "CLIENT GETNAME\nPUBLISH clients:pipe nobody\nHELLO 2\n"
              "SUBSCRIBE clients:pipe\n")
    p = subprocess.Popen(["redis-cli", "-p", str(port)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    out = Output(p.stdout.fileno())
    try:
        p.stdin.write(script.encode())
        p.stdin.flush()
        out.wait_for("subscribe\nclients:pipe\n1\n", "confirmation")
        publish(rport, "clients:pipe", "hello pipe")
        out.wait_for("message\nclients:pipe\nhello pipe\n", "message")
    finally:
        kill(p.pid)
    show(out.data, port)


def redis_py(port, **kw):
    import redis
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=WAIT,
                       socket_connect_timeout=WAIT, **kw)


def get(ps, what):
    """The next message of a redis-py PubSub, within WAIT."""
    end = time.time() + WAIT
    while time.time() < end:
        m = ps.get_message(timeout=0.1)
        if m is not None:
            return m
    fail("no %s from get_message" % what)


def py_subscribe(port, rport):
    """PubSub.subscribe and get_message."""
    ps = redis_py(port).pubsub()
    ps.subscribe("clients:py:a", "clients:py:b")
    print(get(ps, "confirmation a"))
    print(get(ps, "confirmation b"))
    publish(rport, "clients:py:b", b"bin\x00\xff")
    publish(rport, "clients:py:a", "two")
    print(get(ps, "message 1"))
    print(get(ps, "message 2"))
    print(ps.get_message(timeout=0.2))
    ps.close()


def py_psubscribe(port, rport):
    """PubSub.psubscribe and get_message: pmessage frames."""
    ps = redis_py(port).pubsub()
    ps.psubscribe("clients:pyp:*")
    ps.subscribe("clients:pyp:x")
    print(get(ps, "psubscribe confirmation"))
    print(get(ps, "subscribe confirmation"))
    publish(rport, "clients:pyp:x", "both")
    publish(rport, "clients:pyp:y", "pattern")
    for i in range(3):
        print(get(ps, "message %d" % i))
    ps.close()


def py_listen(port, rport):
    """PubSub.listen: a generator over every frame."""
    ps = redis_py(port).pubsub()
    ps.subscribe("clients:pyl")
    it = ps.listen()
    print(next(it))
    for i in range(3):
        publish(rport, "clients:pyl", "m%d" % i)
    for i in range(3):
        print(next(it))
    ps.unsubscribe("clients:pyl")
    print(next(it))
    ps.close()


def py_thread(port, rport):
    """PubSub.run_in_thread with a handler per channel."""
    got, ready = [], threading.Event()

    def handler(m):
        got.append(m)
        ready.set()

    ps = redis_py(port).pubsub(ignore_subscribe_messages=True)
    ps.subscribe(**{"clients:pyt": handler})
    t = ps.run_in_thread(sleep_time=0.01, daemon=True)
    try:
        # The subscription is confirmed once Redis counts a subscriber
        # (the client itself, or pubsubd's one upstream subscription).
        end = time.time() + WAIT
        while direct(rport, "PUBSUB", "NUMSUB", "clients:pyt") \
                .endswith(b":0\r\n"):
            if time.time() > end:
                fail("the subscription never reached Redis")
            time.sleep(0.02)
        # pubsubd may be about to confirm: publish until one arrives.
        while not ready.wait(0.2):
            if time.time() > end:
                fail("run_in_thread's handler got nothing")
            publish(rport, "clients:pyt", "threaded")
    finally:
        t.stop()
        t.join(WAIT)
    print(got[0])
    print("thread alive after stop:", t.is_alive())


def py_unsubscribe(port, rport):
    """unsubscribe / punsubscribe, one, several, all."""
    ps = redis_py(port).pubsub()
    ps.subscribe("clients:pyu:a", "clients:pyu:b")
    ps.psubscribe("clients:pyu:p*")
    for i in range(3):
        print(get(ps, "confirmation %d" % i))
    ps.unsubscribe("clients:pyu:a")
    print(get(ps, "unsubscribe a"))
    publish(rport, "clients:pyu:a", "gone")
    publish(rport, "clients:pyu:b", "still")
    print(get(ps, "message on b"))
    ps.punsubscribe()
    print(get(ps, "punsubscribe"))
    ps.unsubscribe()
    print(get(ps, "unsubscribe b"))
    publish(rport, "clients:pyu:b", "gone too")
    print(ps.get_message(timeout=0.3))
    print("subscribed:", ps.subscribed)
    ps.close()


def py_connect(port, rport):
    """A plain connection: redis-py's own start (CLIENT SETNAME, SELECT),
    then what newer redis-py versions send first (CLIENT SETINFO, HELLO)."""
    import redis
    r = redis_py(port, client_name="pyclient", db=2)

    def show_call(name, f):
        try:
            print(name, "->", repr(f()))
        except redis.ResponseError as e:
            print(name, "-> error", str(e))

    show_call("PING", r.ping)
    show_call("CLIENT GETNAME", r.client_getname)
    show_call("ECHO", lambda: r.echo("x"))
    show_call("CLIENT SETINFO LIB-NAME", lambda: r.execute_command(
        "CLIENT", "SETINFO", "LIB-NAME", "redis-py"))
    show_call("CLIENT SETINFO LIB-VER", lambda: r.execute_command(
        "CLIENT", "SETINFO", "LIB-VER", "4.3.4"))
    hello = r.execute_command("HELLO", "2")
    hello = [b"<id>" if i > 0 and hello[i - 1] == b"id" else v
             for i, v in enumerate(hello)]
    print("HELLO 2 ->", hello)
    show_call("CLIENT ID is int", lambda: isinstance(r.client_id(), int))
    show_call("PUBLISH", lambda: r.publish("clients:pyc", "nobody"))
    show_call("PUBSUB NUMSUB", lambda: r.pubsub_numsub("clients:pyc"))
    show_call("PUBSUB CHANNELS", lambda: r.pubsub_channels("clients:pyc*"))
    show_call("PUBSUB NUMPAT", r.pubsub_numpat)
    r.close()


# --- users: these run against a pubsubd with users only (auth_port) ---

def expect_error(what, f, check):
    """Runs f, which must raise an exception check accepts; prints it."""
    try:
        f()
    except Exception as e:  # the class is what is checked
        if not check(e):
            fail("%s: raised %s: %s" % (what, type(e).__name__, e))
        print(what, "->", type(e).__name__, str(e))
        return
    fail("%s: no error" % what)


def wrongpass(e):
    """redis-py 4.3 has no class for WRONGPASS (newer ones raise
    AuthenticationError): either, with Redis' words."""
    import redis
    return isinstance(e, redis.exceptions.AuthenticationError) or \
        (isinstance(e, redis.exceptions.ResponseError) and
         str(e).startswith("WRONGPASS invalid username-password pair"))


def py_auth(port, rport):
    """redis-py with a user name and password: a permitted subscription gets
    messages, a forbidden one raises NoPermissionError, a wrong password or
    user fails the same way, no login at all raises AuthenticationError."""
    import redis
    r = redis_py(port, username="alice", password="secret")
    print("PING ->", r.ping())
    print("ACL WHOAMI ->", r.execute_command("ACL", "WHOAMI"))
    ps = r.pubsub()
    ps.subscribe("clients:auth:news.a")
    print(get(ps, "confirmation"))
    publish(rport, "clients:auth:news.a", "permitted")
    print(get(ps, "message"))
    ps.subscribe("clients:auth:sports")
    expect_error("SUBSCRIBE forbidden", lambda: get(ps, "NOPERM"),
                 lambda e: isinstance(e, redis.exceptions.NoPermissionError))
    ps.psubscribe("clients:auth:*")
    expect_error("PSUBSCRIBE wider", lambda: get(ps, "NOPERM"),
                 lambda e: isinstance(e, redis.exceptions.NoPermissionError))
    # Still subscribed to what was permitted.
    publish(rport, "clients:auth:news.a", "still")
    print(get(ps, "message after the refusals"))
    ps.close()
    expect_error("PUBLISH forbidden",
                 lambda: r.publish("clients:auth:sports", "x"),
                 lambda e: isinstance(e, redis.exceptions.NoPermissionError))
    print("PUBLISH permitted ->", r.publish("clients:auth:news.b", "x"))
    r.close()
    for user, pw in (("alice", "wrong"), ("nobody", "secret")):
        bad = redis_py(port, username=user, password=pw)
        expect_error("login %s" % user, bad.ping, wrongpass)
        bad.close()
    anon = redis_py(port)
    expect_error("PUBLISH without login",
                 lambda: anon.publish("clients:auth:news.a", "x"),
                 lambda e: isinstance(e, redis.exceptions.AuthenticationError) and
                 str(e) == "Authentication required.")
    anon.close()
    dflt = redis_py(port, password="defpw")
    print("password only (default user): PUBLISH ->",
          dflt.publish("clients:auth:any", "x"))
    dflt.close()


def cli_auth(port, rport):
    """redis-cli --user/--pass and -a: permitted, forbidden, wrong."""
    def cli(*args):
        p = subprocess.run(["redis-cli", "--no-auth-warning", "-p",
                            str(port)] + list(args), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=WAIT)
        return p.stdout.decode()

    def want(what, got, text):
        print(what, "->", got.strip())
        if text not in got:
            fail("%s: %r has no %r" % (what, got, text))

    alice = ["--user", "alice", "--pass", "secret"]
    want("PUBLISH permitted", cli(*alice, "PUBLISH", "clients:auth:news.c",
                                  "x"), "0")
    want("PUBLISH forbidden", cli(*alice, "PUBLISH", "clients:auth:sports",
                                  "x"), "NOPERM this user has no permissions")
    want("wrong password", cli("--user", "alice", "--pass", "nope",
                               "PUBLISH", "clients:auth:news.c", "x"),
         "WRONGPASS invalid username-password pair")
    want("-a default", cli("-a", "defpw", "ACL", "WHOAMI"), "default")
    want("no login", cli("PUBLISH", "clients:auth:news.c", "x"),
         "NOAUTH Authentication required.")
    p = subprocess.Popen(["redis-cli", "--no-auth-warning", "-p", str(port)] +
                         alice + ["SUBSCRIBE", "clients:auth:news.d"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    out = Output(p.stdout.fileno())
    try:
        out.wait_for("subscribe\nclients:auth:news.d\n1\n", "confirmation")
        publish(rport, "clients:auth:news.d", "hello alice")
        out.wait_for("message\nclients:auth:news.d\nhello alice\n",
                     "message")
    finally:
        kill(p.pid)
    print("SUBSCRIBE as alice: confirmed, message received")


TESTS = {
    "cli-subscribe": lambda p, r: cli_sub("subscribe", p, r),
    "cli-psubscribe": lambda p, r: cli_sub("psubscribe", p, r),
    "cli-tty": cli_tty, "cli-pipe": cli_pipe,
    "py-subscribe": py_subscribe, "py-psubscribe": py_psubscribe,
    "py-listen": py_listen, "py-run-in-thread": py_thread,
    "py-unsubscribe": py_unsubscribe, "py-connect": py_connect,
    "py-auth": py_auth, "cli-auth": cli_auth,
}

if __name__ == "__main__":
    if sys.argv[1] == "ping":
        sys.exit(ping(sys.argv[2], sys.argv[3]))
    TESTS[sys.argv[1]](int(sys.argv[2]), int(sys.argv[3]))
EOF

drive() {
	timeout -k 2 "$STEP_TIMEOUT" "$PY" "$TMP/drive.py" "$@"
}

# Prints a free port on 127.0.0.1, never one this script gave before.
free_port() {
	"$PY" "$(dirname "$0")/freeport.py" "$TMP/ports"
}

# Reports one test.
pass() {
	passed=$((passed + 1))
	echo "PASS: $1"
}
fail() {
	failed=$((failed + 1))
	failed_names="$failed_names $1"
	echo "FAIL: $1: $2"
}
skip() {
	skipped=$((skipped + 1))
	echo "SKIP: $1: $2"
}

# Whether test $1 is selected by CLIENTS_ONLY.
selected() {
	case "$1" in
	*"${CLIENTS_ONLY:-}"*) return 0 ;;
	esac
	return 1
}

# Rewrites a transcript from Redis where pubsubd differs on purpose (the
# differences the README lists): CLIENT SETINFO is accepted as Redis 7.2
# does, where Redis 7.0 does not know it.
documented_differences() {
	sed -i "s/-> error unknown subcommand 'SETINFO'. Try CLIENT HELP./-> b'OK'/" "$1"
}

# Runs driver test $1 against Redis, then through pubsubd; the transcripts
# must be the same.
same_as_redis() {
	t=$1
	selected "$t" || return 0
	if ! drive "$t" "$redis_port" "$redis_port" > "$TMP/$t.redis" 2>&1
	then
		fail "$t" "the test fails against Redis itself:"
		sed 's/^/    /' "$TMP/$t.redis"
		return
	fi
	if ! drive "$t" "$pubsubd_port" "$redis_port" > "$TMP/$t.pubsubd" 2>&1
	then
		fail "$t" "through pubsubd:"
		sed 's/^/    /' "$TMP/$t.pubsubd"
		return
	fi
	[ -n "${CLIENTS_BOTH_REDIS:-}" ] || documented_differences "$TMP/$t.redis"
	if cmp -s "$TMP/$t.redis" "$TMP/$t.pubsubd"; then
		pass "$t"
	else
		fail "$t" "the transcript differs (- redis, + pubsubd):"
		diff -u "$TMP/$t.redis" "$TMP/$t.pubsubd" | tail -n +3 |
		    head -40 | sed 's/^/    /'
	fi
}

# hiredis' async API: the client checks everything itself.
hiredis_async() {
	t=hiredis-async
	selected "$t" || return 0
	if [ ! -x "$CLIENT_HIREDIS" ]; then
		skip "$t" "$CLIENT_HIREDIS is not built"
		return
	fi
	if ! timeout -k 2 "$STEP_TIMEOUT" "$CLIENT_HIREDIS" "$redis_port" \
	    "$redis_port" > "$TMP/$t.redis" 2>&1; then
		fail "$t" "the client fails against Redis itself:"
		sed 's/^/    /' "$TMP/$t.redis"
		return
	fi
	if timeout -k 2 "$STEP_TIMEOUT" "$CLIENT_HIREDIS" "$pubsubd_port" \
	    "$redis_port" > "$TMP/$t.pubsubd" 2>&1; then
		pass "$t"
	else
		fail "$t" "through pubsubd:"
		sed 's/^/    /' "$TMP/$t.pubsubd"
	fi
}

# --- servers --------------------------------------------------------------
if ! command -v redis-server >/dev/null 2>&1; then
	echo "SKIP: redis-server is missing"
	exit 77
fi
if [ ! -x "$PUBSUBD" ]; then
	echo "ERROR: $PUBSUBD is not an executable"
	exit 99
fi
redis_port=$(free_port) || exit 99
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' \
    --appendonly no --dir "$TMP" --daemonize no > "$TMP/redis.log" 2>&1 &
redis_pid=$!
if ! drive ping "$redis_port" 10; then
	echo "ERROR: redis-server did not start on port $redis_port:"
	tail -n 20 "$TMP/redis.log"
	failed=1
	exit 99
fi
# Starts pubsubd against redis-server on a free port.
start_pubsubd() {
	pubsubd_port=$(free_port) || exit 99
	cat > "$TMP/pubsubd.conf" <<EOF
listen = ( { host = "127.0.0.1"; port = $pubsubd_port; } );
redis = { host = "127.0.0.1"; port = $redis_port; };
log = { level = "info"; };
EOF
	"$PUBSUBD" -c "$TMP/pubsubd.conf" > "$TMP/pubsubd.log" 2>&1 &
	pubsubd_pid=$!
	if ! drive ping "$pubsubd_port" 10; then
		echo "ERROR: pubsubd did not start on port $pubsubd_port:"
		tail -n 20 "$TMP/pubsubd.log"
		failed=1
		exit 99
	fi
}

if [ -n "${CLIENTS_BOTH_REDIS:-}" ]; then
	# Both runs of every test go to redis-server: proves the tests.
	echo "CLIENTS_BOTH_REDIS: the \"pubsubd\" runs go to redis-server"
	pubsubd_port=$redis_port
else
	start_pubsubd
fi

# --- the tests ------------------------------------------------------------
if command -v redis-cli >/dev/null 2>&1; then
	same_as_redis cli-subscribe
	same_as_redis cli-psubscribe
	same_as_redis cli-tty
	same_as_redis cli-pipe
else
	skip redis-cli "redis-cli is missing"
fi
if "$PY" -c 'import redis' 2>/dev/null; then
	same_as_redis py-subscribe
	same_as_redis py-psubscribe
	same_as_redis py-listen
	same_as_redis py-run-in-thread
	same_as_redis py-unsubscribe
	same_as_redis py-connect
else
	skip redis-py "$PY has no redis module (apt install python3-redis)"
fi
hiredis_async

# Users: a second pubsubd with users "default" (password defpw) and
# "alice" (password secret, clients:auth:news.* only). The clients check
# what they get themselves: Redis' own users are not pubsubd's.
start_auth_pubsubd() {
	auth_port=$(free_port) || exit 99
	secret=$(printf %s secret | sha256sum | cut -d' ' -f1)
	defpw=$(printf %s defpw | sha256sum | cut -d' ' -f1)
	cat > "$TMP/auth.conf" <<EOF
listen = ( { host = "127.0.0.1"; port = $auth_port; } );
redis = { host = "127.0.0.1"; port = $redis_port; };
log = { level = "info"; };
users = (
  { name = "default"; password_sha256 = "$defpw";
    subscribe = [ "*" ]; publish = [ "*" ]; },
  { name = "alice"; password_sha256 = "$secret";
    subscribe = [ "clients:auth:news.*" ];
    publish = [ "clients:auth:news.*" ]; }
);
EOF
	"$PUBSUBD" -c "$TMP/auth.conf" > "$TMP/auth.log" 2>&1 &
	auth_pid=$!
	if ! drive ping "$auth_port" 10; then
		echo "ERROR: pubsubd with users did not start on $auth_port:"
		tail -n 20 "$TMP/auth.log"
		failed=1
		exit 99
	fi
}

# Runs driver test $1 against the pubsubd with users; it checks itself.
with_users() {
	t=$1
	selected "$t" || return 0
	if drive "$t" "$auth_port" "$redis_port" > "$TMP/$t.pubsubd" 2>&1
	then
		pass "$t"
	else
		fail "$t" "through pubsubd with users:"
		sed 's/^/    /' "$TMP/$t.pubsubd"
	fi
}

if [ -z "${CLIENTS_BOTH_REDIS:-}" ] && { selected py-auth ||
    selected cli-auth; }; then
	start_auth_pubsubd
	if "$PY" -c 'import redis' 2>/dev/null; then
		with_users py-auth
	else
		skip py-auth "$PY has no redis module"
	fi
	if command -v redis-cli >/dev/null 2>&1; then
		with_users cli-auth
	else
		skip cli-auth "redis-cli is missing"
	fi
	kill "$auth_pid" 2>/dev/null
	wait "$auth_pid"
	status=$?
	auth_pid=
	if [ "$status" -ne 0 ]; then
		fail auth-exit "pubsubd with users ended with status $status"
		tail -n 20 "$TMP/auth.log" | sed 's/^/    /'
	fi
	# The passwords tried, right or wrong, are never logged.
	if grep -q -e secret -e defpw -e wrong -e nope "$TMP/auth.log"; then
		fail auth-log "a password is in pubsubd's log:"
		grep -e secret -e defpw -e wrong -e nope "$TMP/auth.log" |
		    sed 's/^/    /'
	else
		pass auth-log
	fi
fi

# pubsubd must still be there, and stop cleanly (exit 0) on SIGTERM.
if [ -n "${CLIENTS_BOTH_REDIS:-}" ]; then
	:
elif kill "$pubsubd_pid" 2>/dev/null; then
	wait "$pubsubd_pid"
	status=$?
	pubsubd_pid=
	if [ "$status" -ne 0 ]; then
		fail pubsubd-exit "pubsubd ended with status $status:"
		tail -n 20 "$TMP/pubsubd.log" | sed 's/^/    /'
	fi
else
	pubsubd_pid=
	fail pubsubd-exit "pubsubd was gone before the end:"
	tail -n 20 "$TMP/pubsubd.log" | sed 's/^/    /'
fi

echo "$passed passed, $failed failed, $skipped skipped${failed_names:+ (failed:$failed_names)}"
if [ "$failed" -gt 0 ]; then
	exit 1
fi
if [ "$passed" -eq 0 ]; then
	exit 77
fi
exit 0
