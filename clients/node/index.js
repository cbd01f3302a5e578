'use strict';
// vigil-client: what a Node app supervised by Vigil can do for its supervisor, with no dependencies.
//   onStopping(cb)   run cb once when asked to stop: Vigil's {"stopping":true} on the IPC channel (elife's message) or SIGTERM
//   ready(), watchdog(), notify(state)   sd_notify over NOTIFY_SOCKET (for a `kind: sd-notify` probe)
//   tetherPong(opts) answer Tether pings with pongs (for a `kind: tether` probe), through the tether-agent package
//   copsResponder(opts)  answer COPS heartbeats over MQTT and/or HTTP (for a `kind: cops` probe)
const { spawn } = require('child_process');
const http = require('http');

// ---- stopping hook ---------------------------------------------------------------------------------------------

const stoppingHandlers = [];
let stoppingArmed = false;
let stoppingFired = false;

/** Runs every registered handler once, in order (awaiting promises), then exits 0. */
async function fireStopping(why) {
  if (stoppingFired) return;
  stoppingFired = true;
  for (const handler of stoppingHandlers) {
    try {
      await handler(why);
    } catch (e) {
      console.error('vigil-client: an onStopping handler failed:', e);
    }
  }
  process.exit(0);
}

/**
 * Calls `cb(why)` once when the process is asked to stop: Vigil's (and elife's) `{"stopping": true}` message on the
 * Node IPC channel, or SIGTERM (why is 'message' or 'SIGTERM'). Handlers run in the order registered, each awaited,
 * then the process exits 0; Vigil escalates (stop signal, then SIGKILL) if they take longer than `stop.timeout`.
 * Returns a function that removes the handler.
 */
function onStopping(cb) {
  if (typeof cb !== 'function') throw new TypeError('onStopping: expected a function');
  stoppingHandlers.push(cb);
  if (!stoppingArmed) {
    stoppingArmed = true;
    process.on('SIGTERM', () => fireStopping('SIGTERM'));
    if (typeof process.send === 'function') {
      process.on('message', (m) => {
        if (m && typeof m === 'object' && m.stopping === true) fireStopping('message');
      });
      // A 'message' listener keeps the event loop alive through the channel: an app whose work is done must still exit.
      if (process.channel && typeof process.channel.unref === 'function') process.channel.unref();
    }
  }
  return () => {
    const i = stoppingHandlers.indexOf(cb);
    if (i >= 0) stoppingHandlers.splice(i, 1);
  };
}

// ---- sd_notify ---------------------------------------------------------------------------------------------------

let notifyWarned = false;

// Vigil marks the IPC channel it opened (VIGIL_IPC=1 beside NODE_CHANNEL_FD): sd_notify messages may go over it. Read
// once and removed, as Node removes NODE_CHANNEL_FD, so the app's own children do not take a channel to the app for it.
const vigilChannel = process.env.VIGIL_IPC === '1' && typeof process.send === 'function';
delete process.env.VIGIL_IPC;

/**
 * Sends sd_notify state lines (e.g. 'READY=1\nSTATUS=warming up') to the supervisor. Under Vigil with an IPC channel
 * (a node script, or `ipc: true`) they go over the channel as {"notify": state}. Otherwise (systemd, or Vigil without a
 * channel) to NOTIFY_SOCKET: Node has no Unix datagram sockets, so this runs `systemd-notify` (the systemd package),
 * which is accepted from the main process when it runs as root (it sends with the parent's PID); otherwise give the
 * probe `notifyAccess: all`. Resolves true when sent, false when there is no NOTIFY_SOCKET or no way to send.
 */
function notify(state) {
  if (!process.env.NOTIFY_SOCKET) return Promise.resolve(false);
  if (vigilChannel && process.connected) {
    // Vigil's channel: the message reaches the probe as the main process's own, no helper process needed.
    return new Promise((resolve) => process.send({ notify: String(state) }, (err) => resolve(!err)));
  }
  const args = String(state).split('\n').filter((l) => l.length > 0);
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn('systemd-notify', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (e) {
      resolve(false);
      return;
    }
    let err = '';
    child.stderr.on('data', (d) => { if (err.length < 1000) err += d; });
    child.on('error', (e) => {
      if (!notifyWarned) {
        notifyWarned = true;
        console.error(`vigil-client: cannot send sd_notify (${e.code === 'ENOENT' ? 'systemd-notify is not installed' : e.message})`);
      }
      resolve(false);
    });
    child.on('close', (code) => {
      if (code !== 0 && err) console.error('vigil-client: systemd-notify: ' + err.trim());
      resolve(code === 0);
    });
  });
}

/** READY=1 (and STATUS=… when given): the app is ready; a `kind: sd-notify` readiness probe passes. */
function ready(status) {
  return notify(status ? `READY=1\nSTATUS=${status}` : 'READY=1');
}

/** WATCHDOG=1: a keep-alive for a `kind: sd-notify` probe with a `watchdog:` window (send one every half window). */
function watchdog() {
  return notify('WATCHDOG=1');
}

// ---- finding optional packages ------------------------------------------------------------------------------------

/** Loads an optional package from the app's own node_modules (where the app installed it), else from ours. */
function load(name, given) {
  if (given) return given;
  const paths = [process.cwd()];
  if (require.main && require.main.path) paths.push(require.main.path);
  try {
    return require(require.resolve(name, { paths }));
  } catch (e) {
    try {
      return require(name);
    } catch (e2) {
      throw new Error(`vigil-client: this needs the '${name}' package (npm install ${name})`);
    }
  }
}

// ---- Tether pong ------------------------------------------------------------------------------------------------

/** The pong's default payload: what a pinger (or Vigil's tether probe) turns into gauges. */
function processMetrics() {
  const m = process.memoryUsage();
  return { uptime_s: Math.round(process.uptime()), rss_mb: Math.round(m.rss / 1048576), heap_mb: Math.round(m.heapUsed / 1048576) };
}

/**
 * Answers every Tether ping (`+/+/ping`) with a pong on `ROLE/ID/pong` carrying a MessagePack map of metrics, through
 * the tether-agent package (3.x). Options: role, id (the probe's agentId), host, port, username, password (Tether's
 * defaults otherwise), metrics (a function returning a map of numbers, may be async), tether (the package, if it is not
 * found from the app). Resolves to { agent, close() }.
 */
async function tetherPong(opts = {}) {
  const tether = load('tether-agent', opts.tether);
  const broker = { ...tether.BROKER_DEFAULTS.nodeJS };
  for (const k of ['host', 'port', 'username', 'password', 'protocol']) if (opts[k] !== undefined) broker[k] = opts[k];
  if (broker.port !== undefined) broker.port = Number(broker.port);
  const agent = await tether.TetherAgent.create(opts.role || 'vigilClient', { id: opts.id, loglevel: 'warn', brokerOptions: broker });
  if (!agent.getIsConnected()) throw new Error(`vigil-client: tetherPong: cannot connect to the broker at ${broker.host}:${broker.port}`);
  const pong = new tether.OutputPlug(agent, 'pong');
  const ping = await tether.InputPlug.create(agent, 'ping');
  const metrics = opts.metrics || processMetrics;
  ping.on('message', async () => {
    let fields;
    try {
      fields = await metrics();
    } catch (e) {
      fields = {};
    }
    await pong.publish(tether.encode(fields || {}));
  });
  return { agent, close: () => agent.disconnect() };
}

// ---- COPS -------------------------------------------------------------------------------------------------------

/**
 * Answers COPS heartbeats (Vigil's `kind: cops` probe; docs/cops.md): a SET stores the counter, a GET is answered with
 * {"cops_heartbeat": N, "pid": process.pid, "version_tag": …}. Options: uri (the process's COPS URI, e.g. '/site'),
 * versionTag, and one or both transports:
 *   mqtt: an mqtt.js client, or { url } / { host, port, username, password } to connect one (the mqtt package)
 *   http: { port, host } to listen on (host 127.0.0.1 by default; port 0 picks one: see .port)
 * Resolves to { port (HTTP), counter(), close() }.
 */
async function copsResponder(opts = {}) {
  const uri = opts.uri;
  if (typeof uri !== 'string' || !uri.startsWith('/')) throw new TypeError("copsResponder: uri must start with '/' (e.g. '/site')");
  if (!opts.mqtt && !opts.http) throw new TypeError('copsResponder: give mqtt, http or both');
  const base = uri.replace(/\/+$/, '');
  const topic = base.slice(1);
  let counter = null;
  const set = (text) => {
    const t = String(text).trim();
    if (!/^\d+$/.test(t)) return false;
    const n = Number(t);
    counter = Number.isSafeInteger(n) ? n : t;
    return true;
  };
  const reply = () => {
    const r = { cops_heartbeat: counter, pid: process.pid };
    if (opts.versionTag !== undefined) r.version_tag = opts.versionTag;
    return JSON.stringify(r);
  };
  const closers = [];
  const result = { port: undefined, counter: () => counter, close: async () => { for (const c of closers) await c(); } };

  if (opts.mqtt) {
    let client = opts.mqtt;
    if (typeof client.publish !== 'function') {
      const mqtt = load('mqtt', opts.mqttPackage);
      const o = client;
      const url = o.url || `${o.protocol || 'mqtt'}://${o.host || 'localhost'}:${o.port || 1883}`;
      client = await mqtt.connectAsync(url, { username: o.username, password: o.password, reconnectPeriod: 1000 });
      closers.push(() => client.endAsync());
    }
    client.on('message', (t, payload) => {
      if (t === `${topic}/cops/cops_heartbeat`) {
        set(payload.toString());
      } else if (t === `${topic}/cops`) {
        let replyTo;
        try {
          replyTo = JSON.parse(payload.toString()).replyTo;
        } catch (e) {
          return; // not Vigil's GET
        }
        if (typeof replyTo === 'string' && replyTo.length > 0 && counter !== null) client.publish(replyTo, reply(), { qos: 1 });
      }
    });
    await client.subscribeAsync(`${topic}/cops/#`, { qos: 1 });
    await client.subscribeAsync(`${topic}/cops`, { qos: 1 });
  }

  if (opts.http) {
    const server = http.createServer((req, res) => {
      const path = (req.url || '').split('?')[0];
      if (req.method === 'PUT' && path === `${base}/cops/cops_heartbeat`) {
        let body = '';
        req.on('data', (d) => {
          body += d;
          if (body.length > 64) req.destroy(); // a counter is at most 16 digits
        });
        req.on('end', () => {
          res.writeHead(set(body) ? 204 : 400).end();
        });
      } else if (req.method === 'GET' && path === `${base}/cops`) {
        if (counter === null) res.writeHead(409, { 'content-type': 'text/plain' }).end('no heartbeat set yet');
        else res.writeHead(200, { 'content-type': 'application/json' }).end(reply());
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.http.port || 0, opts.http.host || '127.0.0.1', resolve);
    });
    result.port = server.address().port;
    closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  }
  return result;
}

module.exports = { onStopping, notify, ready, watchdog, tetherPong, copsResponder, processMetrics };
