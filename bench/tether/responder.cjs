// The 500 targets of bench/tether.sh measure 2, as ONE npm `mqtt` connection answering for every id: subscribed to
// processPinger/+/ping at QoS 1, it answers a ping on processPinger/ID/ping with a QoS 1 pong on benchTarget/ID/pong
// carrying the MessagePack map {fps: 60, sessions: 2} (encoded once with @msgpack/msgpack, as tether-agent does).
// (500 real tether-agent processes would not do: a tether-agent InputPlug "ping" subscribes +/+/ping, so each
// agent would answer all 500 pingers: 250,000 pongs a second.)
// Usage: node responder.cjs PORT   prints "ready", then every second a cumulative line
//   "stats t=MS pings=P ids=I" (MS = Date.now(), I = distinct ids pinged so far), and the same at SIGTERM.
const mqtt = require("mqtt");
const { encode } = require("@msgpack/msgpack");

const port = process.argv[2];
const payload = Buffer.from(encode({ fps: 60, sessions: 2 }));
const perId = new Map();
let pings = 0;
const stats = () => console.log(`stats t=${Date.now()} pings=${pings} ids=${perId.size}`);

(async () => {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
    username: "tether", password: "sp_ceB0ss!", clientId: `bench-responder-${process.pid}`, reconnectPeriod: 0,
  });
  client.on("message", (topic) => {
    const parts = topic.split("/");
    if (parts.length !== 3 || parts[0] !== "processPinger" || parts[2] !== "ping") return;
    pings++;
    perId.set(parts[1], (perId.get(parts[1]) ?? 0) + 1);
    client.publish(`benchTarget/${parts[1]}/pong`, payload, { qos: 1, retain: false });
  });
  await client.subscribeAsync("processPinger/+/ping", { qos: 1 });
  console.log("ready");
  setInterval(stats, 1000);
  process.on("SIGTERM", () => { stats(); process.exit(0); });
})().catch((e) => { console.error(e.message); process.exit(1); });
