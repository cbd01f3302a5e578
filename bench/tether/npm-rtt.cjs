// The npm side of bench/tether.sh measure 1: what tether-bench rtt does, with the npm `mqtt` client and
// @msgpack/msgpack (from tests/fixtures/node, found through NODE_PATH).
// Usage: node npm-rtt.cjs PORT TARGET_ID WARMUP_S N OUT [nodelay]
//   One connection to 127.0.0.1:PORT (username/password as the Tether defaults), subscribed to +/TARGET_ID/pong at
//   QoS 1; each ping is an empty QoS 1 publish on processPinger/bench-npm/ping; the pong's payload is decoded as
//   MessagePack (as Vigil's PingHub does). Pings for WARMUP_S seconds first (not measured), then N sequential pings.
//   `nodelay`: setNoDelay(true) on the client's socket after connecting (mqtt.js leaves Nagle's algorithm on, and
//   has no option for it); without it the client is used as it ships.
//   Writes "<wall ms>" per measured ping to OUT (from before publish() to the decoded pong), prints "done N answered A".
const mqtt = require("mqtt");
const { decode } = require("@msgpack/msgpack");
const fs = require("fs");

const [port, target, warmup, n, out, mode] = process.argv.slice(2);
const pongFilterRe = new RegExp(`^[^/]+/${target.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/pong$`);
let waiting = null;

(async () => {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
    username: "tether", password: "sp_ceB0ss!", clientId: `tether-processPinger-npm${process.pid}`, reconnectPeriod: 0,
  });
  if (mode === "nodelay") client.stream.setNoDelay(true);
  client.on("message", (topic, payload) => {
    if (!pongFilterRe.test(topic) || waiting === null) return; // as the PingHub: only a pong somebody waits for
    let fields = null;
    try { fields = payload.length ? decode(payload) : null; } catch (e) { console.error(`malformed pong: ${e.message}`); }
    const w = waiting; waiting = null; w(fields);
  });
  await client.subscribeAsync(`+/${target}/pong`, { qos: 1 });
  const ping = () => new Promise((resolve, reject) => {
    const timer = setTimeout(() => { waiting = null; reject(new Error("no pong within 5 s")); }, 5000);
    waiting = (f) => { clearTimeout(timer); resolve(f); };
    client.publish("processPinger/bench-npm/ping", Buffer.alloc(0), { qos: 1, retain: false });
  });
  const warmStart = performance.now();
  while (performance.now() - warmStart < Number(warmup) * 1000) await ping().catch((e) => console.error(`warm-up: ${e.message}`));
  const lines = [];
  let answered = 0;
  for (let i = 0; i < Number(n); i++) {
    const t0 = performance.now();
    try { await ping(); } catch (e) { console.error(`ping ${i}: ${e.message}`); continue; }
    lines.push((performance.now() - t0).toFixed(4));
    answered++;
  }
  fs.writeFileSync(out, lines.join("\n") + "\n");
  console.log(`done ${n} answered ${answered}`);
  await client.endAsync();
  process.exit(answered === Number(n) ? 0 : 1);
})().catch((e) => { console.error(e.message); process.exit(1); });
