import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { SourceError } from '../errors.js';
import type { CanFrame } from '../frame.js';
import { LineBatcher } from './lines.js';
import {
  emptyStats,
  LINE_SOURCE_DEFAULTS,
  type FrameSource,
  type LineSourceOptions,
  type SourceStats,
} from './types.js';

/**
 * SocketCAN through can-utils: spawns `candump -L <iface>` and parses its
 * lines (see `candump.ts`). Before spawning it checks that
 * `/sys/class/net/<iface>` exists, so a missing interface is a clear
 * `SOURCE_NO_INTERFACE` error rather than a cryptic candump message (which
 * is still recognised if the interface vanishes later). The command is
 * injectable, so tests feed the same code path from `cat <file>`.
 */
export interface SocketCanOptions extends LineSourceOptions {
  /** Interface name, e.g. `can0` (required). */
  iface: string;
  /** @defaultValue `['candump', '-L', iface]` */
  command: string[];
  /** @defaultValue true — check /sys/class/net/<iface> before spawning. */
  checkInterface: boolean;
  /** @defaultValue `/sys/class/net` */
  sysClassNet: string;
}

export class SocketCanSource implements FrameSource {
  readonly kind = 'socketcan' as const;
  private readonly opts: SocketCanOptions;
  private readonly counters: SourceStats = emptyStats();
  private child: ChildProcess | null = null;
  private closed = false;

  constructor(opts: Partial<SocketCanOptions> & { iface: string }) {
    if (!/^[A-Za-z0-9_.:-]{1,15}$/.test(opts.iface ?? '')) {
      throw new SourceError('SOURCE_CONFIG', `CAN interface name ${JSON.stringify(opts.iface)} is not valid`);
    }
    this.opts = {
      ...LINE_SOURCE_DEFAULTS,
      command: ['candump', '-L', opts.iface],
      checkInterface: true,
      sysClassNet: '/sys/class/net',
      ...stripUndefined(opts),
      iface: opts.iface,
    };
    if (this.opts.command.length === 0) throw new SourceError('SOURCE_CONFIG', 'command must not be empty');
    if (!(this.opts.maxBatch >= 1)) throw new SourceError('SOURCE_CONFIG', 'maxBatch must be ≥ 1');
  }

  /** Throws SOURCE_NO_INTERFACE when the interface does not exist. */
  checkInterface(): void {
    const dir = path.join(this.opts.sysClassNet, this.opts.iface);
    if (!fs.existsSync(dir)) {
      throw new SourceError(
        'SOURCE_NO_INTERFACE',
        `CAN interface "${this.opts.iface}" does not exist (no ${dir}); bring it up with ` +
          `"ip link set ${this.opts.iface} up type can bitrate 500000", or use the simulator or a replay file`,
      );
    }
  }

  async *batches(): AsyncGenerator<CanFrame[]> {
    if (this.closed) return;
    if (this.opts.checkInterface) this.checkInterface();
    const [cmd, ...args] = this.opts.command as [string, ...string[]];
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => {
      stderr = (stderr + d).slice(-4000);
    });
    const batcher = new LineBatcher(child.stdout as Readable, this.opts, this.counters, false);
    child.on('error', (err: NodeJS.ErrnoException) => {
      batcher.end(
        new SourceError(
          'SOURCE_SPAWN',
          err.code === 'ENOENT'
            ? `${cmd} not found: install can-utils (apt-get install can-utils)`
            : `cannot start ${cmd}: ${err.message}`,
          { cause: err },
        ),
      );
    });
    child.on('close', (code, signal) => {
      if (this.closed || code === 0) return batcher.end();
      const text = stderr.trim();
      if (/Address family not supported/i.test(text)) {
        return batcher.end(
          new SourceError('SOURCE_NO_SOCKETCAN', `this kernel has no SocketCAN support (modprobe can-raw?): ${text}`),
        );
      }
      if (/No such device|SIOCGIFINDEX|does not exist/i.test(text)) {
        return batcher.end(new SourceError('SOURCE_NO_INTERFACE', `CAN interface "${this.opts.iface}": ${text}`));
      }
      batcher.end(
        new SourceError('SOURCE_EXITED', `${cmd} exited with ${signal ?? `code ${code}`}${text ? `: ${text}` : ''}`),
      );
    });
    try {
      yield* batcher.batches();
    } finally {
      await this.close();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  }

  stats(): SourceStats {
    return structuredClone(this.counters);
  }
}

/**
 * Frames from any readable stream of `candump -L` lines (stdin, a named pipe,
 * a socket). Ends when the stream ends.
 */
export class PipeSource implements FrameSource {
  readonly kind = 'pipe' as const;
  private readonly opts: LineSourceOptions;
  private readonly counters: SourceStats = emptyStats();
  private batcher: LineBatcher | null = null;

  constructor(
    private readonly input: Readable,
    opts: Partial<LineSourceOptions> = {},
  ) {
    this.opts = { ...LINE_SOURCE_DEFAULTS, ...stripUndefined(opts) };
  }

  async *batches(): AsyncGenerator<CanFrame[]> {
    this.batcher = new LineBatcher(this.input, this.opts, this.counters);
    yield* this.batcher.batches();
  }

  async close(): Promise<void> {
    this.batcher?.end();
    this.input.destroy();
  }

  stats(): SourceStats {
    return structuredClone(this.counters);
  }
}

export function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
