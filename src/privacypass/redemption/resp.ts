// A minimal RESP2 client (the Redis serialization protocol, https://redis.io/docs/latest/develop/reference/protocol-spec/)
// on node:net, for the one command redemption needs. Commands are arrays of bulk strings; replies are read as
// simple strings (+), errors (-), integers (:) and bulk strings ($, -1 being nil). Commands are pipelined on one
// connection and answered in order. Nothing queues while disconnected: a command then fails at once, and the
// connection is re-opened in the background with exponential backoff. A command without a reply within its
// timeout fails and drops the connection (its reply, if it ever comes, would answer the wrong command).
import { connect, type Socket } from 'node:net';
import { SpentTokensUnavailable } from './spentTokens.js';

export type RespReply = string | number | null | { readonly error: string };

export interface RespClientOptions {
  readonly host: string;
  readonly port: number;
  /** Per command, and for connecting (default 1000 ms). */
  readonly timeoutMs?: number;
  /** Commands awaiting replies at most (default 1024); beyond, a command fails at once. */
  readonly maxPending?: number;
  /** Reconnection delay, doubling from min to max (default 50 ms .. 2000 ms). */
  readonly backoffMs?: { readonly min: number; readonly max: number };
  readonly onStateChange?: (connected: boolean, error?: Error) => void;
}

interface Pending {
  readonly resolve: (reply: RespReply) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

const CRLF = Buffer.from('\r\n');

export function encodeCommand(args: readonly string[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.from(a, 'utf8');
    parts.push(Buffer.from(`$${b.length}\r\n`), b, CRLF);
  }
  return Buffer.concat(parts);
}

/** One reply from the start of `buf` and the bytes it took, or undefined when incomplete. Arrays are not needed and are refused. */
export function decodeReply(buf: Buffer): { reply: RespReply; length: number } | undefined {
  const eol = buf.indexOf(CRLF);
  if (eol < 0) return undefined;
  const line = buf.toString('utf8', 1, eol);
  switch (buf[0]) {
    case 0x2b: // '+'
      return { reply: line, length: eol + 2 };
    case 0x2d: // '-'
      return { reply: { error: line }, length: eol + 2 };
    case 0x3a: // ':'
      return { reply: Number(line), length: eol + 2 };
    case 0x24: {
      // '$'
      const n = Number(line);
      if (n === -1) return { reply: null, length: eol + 2 };
      if (!Number.isSafeInteger(n) || n < 0) throw new Error(`bad RESP bulk length ${line}`);
      if (buf.length < eol + 2 + n + 2) return undefined;
      return { reply: buf.toString('utf8', eol + 2, eol + 2 + n), length: eol + 2 + n + 2 };
    }
    default:
      throw new Error(`unexpected RESP reply type 0x${(buf[0] ?? 0).toString(16)}`);
  }
}

export class RespClient {
  readonly #options: RespClientOptions;
  readonly #timeoutMs: number;
  #socket: Socket | undefined;
  #connected = false;
  #closed = false;
  #buffer: Buffer = Buffer.alloc(0);
  readonly #pending: Pending[] = [];
  #backoff: number;
  #retry: NodeJS.Timeout | undefined;
  #lastError: Error | undefined;

  constructor(options: RespClientOptions) {
    this.#options = options;
    this.#timeoutMs = options.timeoutMs ?? 1000;
    this.#backoff = options.backoffMs?.min ?? 50;
    this.#open();
  }

  get connected(): boolean {
    return this.#connected;
  }

  /** Resolves once connected, or rejects after `ms`. */
  ready(ms = this.#timeoutMs): Promise<void> {
    if (this.#connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const started = Date.now();
      const poll = setInterval(() => {
        if (this.#connected) {
          clearInterval(poll);
          resolve();
        } else if (Date.now() - started > ms || this.#closed) {
          clearInterval(poll);
          reject(this.#unavailable());
        }
      }, 10);
    });
  }

  #unavailable(): SpentTokensUnavailable {
    const { host, port } = this.#options;
    return new SpentTokensUnavailable(`the spent-token store redis://${host}:${port} is unreachable${this.#lastError === undefined ? '' : `: ${this.#lastError.message}`}`, this.#lastError);
  }

  #open(): void {
    if (this.#closed) return;
    const socket = connect({ host: this.#options.host, port: this.#options.port });
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.setTimeout(this.#timeoutMs, () => {
      if (!this.#connected) socket.destroy(new Error(`connecting timed out after ${this.#timeoutMs} ms`));
    });
    socket.on('connect', () => {
      socket.setTimeout(0);
      this.#connected = true;
      this.#backoff = this.#options.backoffMs?.min ?? 50;
      this.#options.onStateChange?.(true);
    });
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      try {
        for (let r = decodeReply(this.#buffer); r !== undefined; r = decodeReply(this.#buffer)) {
          this.#buffer = this.#buffer.subarray(r.length);
          const p = this.#pending.shift();
          if (p === undefined) throw new Error('a reply to no command');
          clearTimeout(p.timer);
          p.resolve(r.reply);
        }
      } catch (e) {
        socket.destroy(e as Error);
      }
    });
    socket.on('error', (e) => {
      this.#lastError = e;
    });
    socket.on('close', () => {
      const was = this.#connected;
      this.#connected = false;
      this.#socket = undefined;
      this.#buffer = Buffer.alloc(0);
      for (const p of this.#pending.splice(0)) {
        clearTimeout(p.timer);
        p.reject(this.#unavailable());
      }
      if (was) this.#options.onStateChange?.(false, this.#lastError);
      if (this.#closed) return;
      const delay = this.#backoff;
      this.#backoff = Math.min(this.#backoff * 2, this.#options.backoffMs?.max ?? 2000);
      this.#retry = setTimeout(() => {
        this.#open();
      }, delay);
      this.#retry.unref();
    });
  }

  /** Sends one command; rejects with SpentTokensUnavailable when disconnected, overloaded or timed out. */
  command(args: readonly string[]): Promise<RespReply> {
    const socket = this.#socket;
    if (!this.#connected || socket === undefined) return Promise.reject(this.#unavailable());
    if (this.#pending.length >= (this.#options.maxPending ?? 1024)) return Promise.reject(new SpentTokensUnavailable(`the spent-token store has ${this.#pending.length} commands awaiting replies, its bound`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#lastError = new Error(`no reply within ${this.#timeoutMs} ms`);
        // The connection's order is lost: drop it, failing every pending command, and reconnect.
        socket.destroy();
      }, this.#timeoutMs);
      this.#pending.push({ resolve, reject, timer });
      socket.write(encodeCommand(args));
    });
  }

  close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    const socket = this.#socket;
    if (socket === undefined) return Promise.resolve();
    return new Promise((resolve) => {
      socket.once('close', () => {
        resolve();
      });
      socket.destroy();
    });
  }
}
