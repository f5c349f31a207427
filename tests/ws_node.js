// ws_node.js PORT: pubsubd's WebSocket endpoint against an independent
// client, npm's `ws` (run by tests/wsnode_driver.py, which starts pubsubd
// with http.message_max = 200000 and tells where `ws` is in NODE_PATH).
//
// Checks, each step bounded: the handshake as `ws` makes it (it offers
// permessage-deflate, which pubsubd declines; the json subprotocol
// chosen), SUBSCRIBE and its reply, a PUBLISH sent in two fragments, a
// payload that is not UTF-8 (base64 both ways), a 100,000-byte message (a
// frame with a 64-bit length), ping and pong, the resp subprotocol's
// binary frames, a message over the limit closed with 1009, the close
// handshake (1000). Prints one line per step; exits 0 if all passed.
"use strict";

const WebSocket = require("ws");

const port = Number(process.argv[2]);
const url = `ws://127.0.0.1:${port}/ws`;
const STEP_MS = 5000;

function fail(why) {
  console.log("FAIL: " + why);
  process.exit(1);
}

function check(ok, why) {
  if (!ok) fail(why);
}

// The next event of a kind on a socket, or a failure after STEP_MS.
function next(ws, event, what) {
  return new Promise((resolve) => {
    const t = setTimeout(() => fail(`no ${event} in ${STEP_MS} ms: ${what}`),
      STEP_MS);
    ws.once(event, (...args) => {
      clearTimeout(t);
      resolve(args);
    });
  });
}

// The next message as JSON (a text frame), or as bytes (binary): each
// socket queues what comes (an event has no one to wait for it else).
function message(ws, what) {
  if (ws.queue.length > 0)
    return Promise.resolve(ws.queue.shift());
  return new Promise((resolve) => {
    const t = setTimeout(() => fail(`no message in ${STEP_MS} ms: ${what}`),
      STEP_MS);
    ws.waiter = (m) => {
      clearTimeout(t);
      resolve(m);
    };
  });
}

function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

async function open(proto) {
  const ws = proto ? new WebSocket(url, proto) : new WebSocket(url);
  ws.on("error", (e) => fail(`${proto || "default"}: ${e.message}`));
  ws.queue = [];
  ws.waiter = null;
  ws.on("message", (data, binary) => {
    const m = binary ? data : JSON.parse(data.toString("utf8"));
    const w = ws.waiter;
    ws.waiter = null;
    if (w)
      w(m);
    else
      ws.queue.push(m);
  });
  await next(ws, "open", "the handshake");
  return ws;
}

async function main() {
  const a = await open("json");
  check(a.protocol === "json", `json chosen: '${a.protocol}'`);
  check(a.extensions === "", `permessage-deflate declined: '${a.extensions}'`);
  a.send(JSON.stringify(["SUBSCRIBE", "wsn"]));
  let m = await message(a, "the subscribe reply");
  check(same(m, ["subscribe", "wsn", 1]), `subscribed: ${JSON.stringify(m)}`);
  console.log("ok: ws: handshake (json, no extension), SUBSCRIBE");

  const b = await open(null);
  check(b.protocol === "", `no subprotocol asked: '${b.protocol}'`);
  b.send('["PUBLISH","wsn",', { fin: false });
  b.send('"in two fragments"]', { fin: true });
  m = await message(b, "the PUBLISH count");
  check(m === 1, `PUBLISH counted 1: ${JSON.stringify(m)}`);
  m = await message(a, "the fragmented message");
  check(same(m, ["message", "wsn", "in two fragments"]),
    `message: ${JSON.stringify(m)}`);
  const raw = Buffer.from([0xff, 0x00, 0xfe, 0x41]);
  b.send(JSON.stringify(["PUBLISH", "wsn", { base64: raw.toString("base64") }]));
  await message(b, "the PUBLISH count");
  m = await message(a, "the not-UTF-8 message");
  check(m[0] === "message" && m[2] && Buffer.from(m[2].base64, "base64")
    .equals(raw), `not UTF-8 as base64: ${JSON.stringify(m)}`);
  const big = "x".repeat(100000);
  b.send(JSON.stringify(["PUBLISH", "wsn", big]));
  await message(b, "the PUBLISH count");
  m = await message(a, "the 100,000-byte message");
  check(m[2] === big, `100,000 bytes intact (${m[2] && m[2].length})`);
  console.log("ok: ws: a PUBLISH in 2 fragments, not UTF-8 as base64, " +
    "100,000 bytes, each arrived");

  a.ping("are you there");
  const [pong] = await next(a, "pong", "the pong");
  check(pong.toString() === "are you there", `pong's data: '${pong}'`);
  console.log("ok: ws: ping answered with its data");

  const r = await open("resp");
  r.send(Buffer.from("*2\r\n$9\r\nSUBSCRIBE\r\n$3\r\nwsn\r\n"));
  m = await message(r, "the RESP subscribe reply");
  check(Buffer.isBuffer(m) && m.toString() ===
    "*3\r\n$9\r\nsubscribe\r\n$3\r\nwsn\r\n:1\r\n", `resp: '${m}'`);
  b.send(JSON.stringify(["PUBLISH", "wsn", "to both"]));
  await message(b, "the PUBLISH count");
  m = await message(r, "the RESP message");
  check(m.toString() === "*3\r\n$7\r\nmessage\r\n$3\r\nwsn\r\n$7\r\nto both\r\n",
    `resp message: '${m}'`);
  m = await message(a, "the json message");
  check(same(m, ["message", "wsn", "to both"]), `json: ${JSON.stringify(m)}`);
  console.log("ok: ws: resp subprotocol, binary frames of RESP both ways");

  const c = await open("json");
  c.send(JSON.stringify(["PUBLISH", "wsn", "y".repeat(300000)]));
  const [code] = await next(c, "close", "the close for a message too large");
  check(code === 1009, `over http.message_max: 1009, not ${code}`);
  b.send(JSON.stringify(["PUBLISH", "wsn", "after the big one"]));
  m = await message(a, "a message after another client was closed");
  check(same(m, ["message", "wsn", "after the big one"]),
    `the others unharmed: ${JSON.stringify(m)}`);
  console.log("ok: ws: a message over the limit closed with 1009; the " +
    "others unharmed");

  const closed = next(a, "close", "the close handshake");
  a.close(1000, "bye");
  const [acode] = await closed;
  check(acode === 1000, `the close handshake: ${acode}`);
  b.close();
  r.close();
  console.log("ok: ws: the close handshake (1000)");
  process.exit(0);
}

setTimeout(() => fail("the whole run took over 60 s"), 60000).unref();
main().catch((e) => fail(e.stack));
