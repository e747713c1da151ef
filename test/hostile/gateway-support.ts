import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { register } from '../support/cleanup.js';

const CLI = path.resolve('dist/src/cli/main.js');

/** A real `canopy gateway` process (spawned from dist) and what it logged. */
export interface GatewayProcess {
  child: ChildProcess;
  pid: number;
  port: number;
  stderr: () => string;
  alive: () => boolean;
  /** VmRSS of the process, bytes (from /proc/<pid>/status). */
  rss: () => number;
}

export async function spawnGateway(env: Record<string, string>): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [CLI, 'gateway', '--port', '0'], {
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2_000_000)));
  register({
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
    killSync: () => void child.kill('SIGKILL'),
  });
  const end = Date.now() + 30_000;
  let port = 0;
  while (!port) {
    const m = /"port":(\d+)[^\n]*"msg":"gateway listening"/.exec(err);
    if (m) port = Number(m[1]);
    else if (child.exitCode !== null || Date.now() > end) throw new Error(`gateway did not start:\n${err}`);
    else await new Promise((r) => setTimeout(r, 20));
  }
  const pid = child.pid!;
  return {
    child,
    pid,
    port,
    stderr: () => err,
    alive: () => child.exitCode === null && child.signalCode === null,
    rss: () => {
      const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      return Number(m?.[1] ?? 0) * 1024;
    },
  };
}

/** Opens a TCP connection, writes `data` (all at once or as given pieces), collects what comes back until close or `ms`. */
export function rawExchange(
  port: number,
  data: Buffer | string | Array<Buffer | string>,
  ms = 5000,
): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closed = false;
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closed });
    };
    const timer = setTimeout(done, ms);
    s.on('data', (d) => chunks.push(d));
    s.on('error', () => undefined);
    s.on('close', () => {
      closed = true;
      done();
    });
    s.on('connect', () => {
      for (const piece of Array.isArray(data) ? data : [data]) s.write(piece);
    });
  });
}

/** The status code of the first HTTP response in `text`, or 0. */
export function statusOf(text: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
}

/** An upgrade request as a relay sends it. */
export function upgradeRequest(target: string, token: string | undefined, extra = ''): string {
  return (
    `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
    (token ? `Authorization: Bearer ${token}\r\n` : '') +
    `${extra}\r\n`
  );
}

/** One masked client frame; `claimLength` writes a length header different from the payload's. */
export function clientFrame(
  opcode: number,
  payload: Buffer,
  opts: { fin?: boolean; claimLength?: bigint } = {},
): Buffer {
  const len = opts.claimLength ?? BigInt(payload.length);
  let header: Buffer;
  if (len < 126n) header = Buffer.from([0, 0x80 | Number(len)]);
  else if (len < 65536n) {
    header = Buffer.alloc(4);
    header[1] = 0x80 | 126;
    header.writeUInt16BE(Number(len), 2);
  } else {
    header = Buffer.alloc(10);
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(len, 2);
  }
  header[0] = (opts.fin === false ? 0 : 0x80) | opcode;
  const mask = crypto.randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= mask[i % 4]!;
  return Buffer.concat([header, mask, body]);
}

/**
 * A WebSocket spoken by hand over a TCP socket (to send what a correct
 * client library refuses to: bad close codes, invalid UTF-8 text, length
 * headers it does not follow). Server frames are parsed minimally.
 */
export class RawWebSocket {
  readonly frames: Array<{ opcode: number; payload: Buffer }> = [];
  closed = false;
  #buf = Buffer.alloc(0);
  #reading = true;

  private constructor(readonly socket: net.Socket) {}

  static async open(port: number, target: string, token: string, read = true): Promise<RawWebSocket> {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    const ws = new RawWebSocket(socket);
    ws.#reading = read;
    await new Promise<void>((resolve, reject) => {
      let head = Buffer.alloc(0);
      const onData = (d: Buffer) => {
        head = Buffer.concat([head, d]);
        const i = head.indexOf('\r\n\r\n');
        if (i < 0) return;
        socket.off('data', onData);
        const status = statusOf(head.subarray(0, i).toString('latin1'));
        if (status !== 101) return reject(new Error(`upgrade refused: ${head.toString('latin1').slice(0, 200)}`));
        ws.#buf = head.subarray(i + 4);
        resolve();
      };
      socket.on('data', onData);
      socket.once('close', () => reject(new Error('closed during the handshake')));
      socket.on('connect', () => socket.write(upgradeRequest(target, token)));
    });
    socket.on('close', () => (ws.closed = true));
    if (read) {
      socket.on('data', (d: Buffer) => ws.#onData(d));
      ws.#parse();
    } else socket.pause();
    return ws;
  }

  send(frame: Buffer): void {
    this.socket.write(frame);
  }

  /** The close code the server sent, if any. */
  get closeCode(): number | undefined {
    const c = this.frames.find((f) => f.opcode === 8);
    return c && c.payload.length >= 2 ? c.payload.readUInt16BE(0) : undefined;
  }

  /** Text frames decoded as JSON (the relay asked for codec=json). */
  json(): Array<Record<string, unknown>> {
    return this.frames.filter((f) => f.opcode === 1).map((f) => JSON.parse(f.payload.toString('utf8')));
  }

  destroy(): void {
    this.socket.destroy();
  }

  #onData(d: Buffer): void {
    if (!this.#reading) return;
    this.#buf = Buffer.concat([this.#buf, d]);
    this.#parse();
  }

  #parse(): void {
    for (;;) {
      const b = this.#buf;
      if (b.length < 2) return;
      let len = b[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        off = 10;
      }
      if (b.length < off + len) return;
      this.frames.push({ opcode: b[0]! & 0x0f, payload: Buffer.from(b.subarray(off, off + len)) });
      this.#buf = b.subarray(off + len);
    }
  }
}
