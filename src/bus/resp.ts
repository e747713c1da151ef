import net from 'node:net';
import tls from 'node:tls';
import type { ConnectionOptions } from './options.js';
import { parseRedisUrl, redactUrl } from './options.js';
import { ClosedError, ConnectionError, ReplyError, TimeoutError, toBusError } from './errors.js';

/** A RESP2 reply: simple/bulk string, integer, null, array, or the server's error. */
export type RespReply = string | number | null | RespReply[] | ReplyError;

/** Encodes one command as a RESP array of bulk strings. */
export function encodeCommand(args: ReadonlyArray<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, CRLF);
  }
  return Buffer.concat(parts);
}

const CRLF = Buffer.from('\r\n');

/** The RESP bulk strings of some arguments, without the array header. */
export function encodeArgs(args: ReadonlyArray<string>): string {
  let out = '';
  for (const a of args) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
  return out;
}

/**
 * Encodes many commands into one payload: a string when every argument is
 * a string (the fast path), else a Buffer.
 */
export function encodeCommands(commands: ReadonlyArray<ReadonlyArray<string | Buffer>>): string | Buffer {
  // Pieces joined once: a flat string is written to the socket far faster than a long concatenation.
  const parts: string[] = [];
  for (const args of commands) {
    parts.push(`*${args.length}\r\n`);
    for (const a of args) {
      if (typeof a !== 'string') return Buffer.concat(commands.map((c) => encodeCommand(c)));
      parts.push(`$${Buffer.byteLength(a)}\r\n`, a, '\r\n');
    }
  }
  return parts.join('');
}

/**
 * Incremental RESP2 reply parser: feed it socket chunks, it hands out
 * complete replies in order. Only what a pipelined writer needs.
 */
export class RespParser {
  #buf: Buffer = Buffer.alloc(0);
  #pos = 0;

  /** Appends a chunk and returns every reply now complete. */
  push(chunk: Buffer): RespReply[] {
    this.#buf = this.#pos < this.#buf.length ? Buffer.concat([this.#buf.subarray(this.#pos), chunk]) : chunk;
    this.#pos = 0;
    const out: RespReply[] = [];
    for (;;) {
      const start = this.#pos;
      const r = this.#parse();
      if (r === INCOMPLETE) {
        this.#pos = start;
        return out;
      }
      out.push(r);
    }
  }

  #line(): string | typeof INCOMPLETE {
    const end = this.#buf.indexOf(13, this.#pos);
    if (end < 0 || end + 1 >= this.#buf.length) return INCOMPLETE;
    const s = this.#buf.toString('utf8', this.#pos, end);
    this.#pos = end + 2;
    return s;
  }

  #parse(): RespReply | typeof INCOMPLETE {
    if (this.#pos >= this.#buf.length) return INCOMPLETE;
    const type = this.#buf[this.#pos++];
    const line = this.#line();
    if (line === INCOMPLETE) return INCOMPLETE;
    switch (type) {
      case 0x2b: // +
        return line;
      case 0x2d: // -
        return new ReplyError(line);
      case 0x3a: // :
        return Number(line);
      case 0x24: {
        // $
        const n = Number(line);
        if (n < 0) return null;
        if (this.#pos + n + 2 > this.#buf.length) return INCOMPLETE;
        const s = this.#buf.toString('utf8', this.#pos, this.#pos + n);
        this.#pos += n + 2;
        return s;
      }
      case 0x2a: {
        // *
        const n = Number(line);
        if (n < 0) return null;
        const arr: RespReply[] = [];
        for (let i = 0; i < n; i++) {
          const r = this.#parse();
          if (r === INCOMPLETE) return INCOMPLETE;
          arr.push(r);
        }
        return arr;
      }
      default:
        throw new ConnectionError(`unexpected RESP type byte 0x${(type ?? 0).toString(16)}`);
    }
  }
}

const INCOMPLETE = Symbol('incomplete');

interface Waiting {
  count: number;
  replies: RespReply[];
  resolve: (r: RespReply[]) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * A bare pipelining connection (RESP2) for hot write paths where
 * node-redis's per-command overhead dominates: a batch of pre-encoded
 * commands goes out in one socket write and its replies come back as one
 * array. It authenticates and selects the database like {@link Connection}
 * (same URL and options). It does not reconnect in the background: a
 * broken socket fails the batches in flight with a typed error, and the
 * next batch connects again.
 */
export class RespPipe {
  readonly #o: ConnectionOptions;
  #socket: net.Socket | undefined;
  /** The socket being set up or in use; events of older sockets are ignored. */
  #current: net.Socket | undefined;
  #connecting: Promise<net.Socket> | undefined;
  #parser = new RespParser();
  #waiting: Waiting[] = [];
  #closed = false;

  constructor(options: ConnectionOptions) {
    this.#o = options;
  }

  /** Sends `count` pre-encoded commands in one write; resolves with their replies in order. */
  async send(payload: Buffer | string, count: number): Promise<RespReply[]> {
    if (this.#closed) throw new ClosedError('pipe is closed');
    const socket = this.#socket ?? (await this.#connect());
    return this.#write(socket, payload, count);
  }

  close(): void {
    this.#closed = true;
    this.#fail(new ClosedError('pipe is closed'));
  }

  #write(socket: net.Socket, payload: Buffer | string, count: number): Promise<RespReply[]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#fail(new TimeoutError(`pipelined batch: no reply within ${this.#o.commandTimeoutMs} ms`));
      }, this.#o.commandTimeoutMs);
      this.#waiting.push({ count, replies: [], resolve, reject, timer });
      socket.write(payload);
    });
  }

  #connect(): Promise<net.Socket> {
    this.#connecting ??= this.#open().finally(() => (this.#connecting = undefined));
    return this.#connecting;
  }

  async #open(): Promise<net.Socket> {
    const u = parseRedisUrl(this.#o.url);
    const where = redactUrl(this.#o.url);
    const socket = u.tls
      ? tls.connect({ host: u.host, port: u.port, servername: u.host })
      : net.connect({ host: u.host, port: u.port, noDelay: true });
    const ready = u.tls ? 'secureConnect' : 'connect';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new TimeoutError(`connect to ${where} did not finish within ${this.#o.connectTimeoutMs} ms`));
      }, this.#o.connectTimeoutMs);
      socket.once(ready, () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(toBusError(err, `connect to ${where}`));
      });
    });
    this.#parser = new RespParser();
    this.#current = socket;
    socket.on('data', (chunk: Buffer) => {
      if (socket === this.#current) this.#onData(chunk);
    });
    socket.on('error', (err) => this.#drop(socket, toBusError(err, 'pipelined connection')));
    socket.on('close', () => this.#drop(socket, new ConnectionError('pipelined connection closed')));
    const setup: Buffer[] = [];
    if (u.password !== undefined) {
      setup.push(encodeCommand(u.username ? ['AUTH', u.username, u.password] : ['AUTH', u.password]));
    }
    if (this.#o.db) setup.push(encodeCommand(['SELECT', String(this.#o.db)]));
    setup.push(encodeCommand(['CLIENT', 'SETNAME', `${this.#o.clientName}-pipe`]));
    const replies = await this.#write(socket, Buffer.concat(setup), setup.length);
    const bad = replies.find((r) => r instanceof ReplyError);
    if (bad) {
      socket.destroy();
      throw toBusError(new Error((bad as ReplyError).message), `connect to ${where}`);
    }
    this.#socket = socket;
    return socket;
  }

  #onData(chunk: Buffer): void {
    let replies: RespReply[];
    try {
      replies = this.#parser.push(chunk);
    } catch (err) {
      this.#fail(toBusError(err, 'pipelined connection'));
      return;
    }
    for (const r of replies) {
      const w = this.#waiting[0];
      if (!w) continue;
      w.replies.push(r);
      if (w.replies.length === w.count) {
        this.#waiting.shift();
        clearTimeout(w.timer);
        w.resolve(w.replies);
      }
    }
  }

  #drop(socket: net.Socket, err: Error): void {
    if (socket === this.#current) this.#fail(err);
  }

  /** Fails every batch in flight and drops the socket (the next send reconnects). */
  #fail(err: Error): void {
    const s = this.#current;
    this.#socket = undefined;
    this.#current = undefined;
    s?.destroy();
    const w = this.#waiting;
    this.#waiting = [];
    for (const x of w) {
      clearTimeout(x.timer);
      x.reject(err);
    }
  }
}

import type { StreamFields } from './streams/producer.js';

/**
 * RESP for one XADD per entry, written straight into string pieces (the hot
 * path: no per-entry argument arrays); Buffers fall back to the generic encoder.
 */
export function encodeXadds(prefix: ReadonlyArray<string>, entries: ReadonlyArray<StreamFields>): string | Buffer {
  const head = encodeArgs(prefix);
  const parts: string[] = [];
  for (const f of entries) {
    let n = prefix.length;
    const start = parts.push('', head) - 2;
    for (const k in f) {
      const v = f[k];
      if (typeof v !== 'string') {
        return encodeCommands(entries.map((e) => [...prefix, ...Object.entries(e).flat()]));
      }
      parts.push(`$${Buffer.byteLength(k)}\r\n`, k, `\r\n$${Buffer.byteLength(v)}\r\n`, v, '\r\n');
      n += 2;
    }
    parts[start] = `*${n}\r\n`;
  }
  return parts.join('');
}
