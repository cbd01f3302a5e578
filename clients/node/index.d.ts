/** Why the stopping hook ran: Vigil's (elife's) IPC message, or SIGTERM. */
export type StoppingReason = 'message' | 'SIGTERM';

/** Runs cb once when asked to stop (IPC {"stopping":true} or SIGTERM); after every handler the process exits 0. Returns an unsubscribe function. */
export function onStopping(cb: (why: StoppingReason) => void | Promise<void>): () => void;
/** Sends sd_notify state lines to NOTIFY_SOCKET through systemd-notify; false when not sent. */
export function notify(state: string): Promise<boolean>;
/** READY=1 (with STATUS= when given). */
export function ready(status?: string): Promise<boolean>;
/** WATCHDOG=1. */
export function watchdog(): Promise<boolean>;
/** uptime_s, rss_mb, heap_mb: the default pong payload. */
export function processMetrics(): Record<string, number>;

export interface TetherPongOptions {
  role?: string;
  id?: string;
  host?: string;
  port?: number;
  username?: string;
  password?: string;
  protocol?: string;
  metrics?: () => Record<string, unknown> | Promise<Record<string, unknown>>;
  /** The tether-agent module, when it cannot be found from the app. */
  tether?: unknown;
}
/** Answers Tether pings with MessagePack pongs (needs tether-agent 3.x). */
export function tetherPong(opts?: TetherPongOptions): Promise<{ agent: unknown; close(): Promise<void> | void }>;

export interface CopsResponderOptions {
  /** The process's COPS URI, e.g. '/site'. */
  uri: string;
  versionTag?: string;
  /** An mqtt.js client, or how to connect one (needs the mqtt package). */
  mqtt?: { publish: Function } | { url?: string; host?: string; port?: number; username?: string; password?: string; protocol?: string };
  mqttPackage?: unknown;
  /** Listen for COPS over HTTP (host 127.0.0.1 by default; port 0 picks a free one). */
  http?: { port?: number; host?: string };
}
/** Answers COPS heartbeats (docs/cops.md). */
export function copsResponder(opts: CopsResponderOptions): Promise<{ port?: number; counter(): number | string | null; close(): Promise<void> }>;
