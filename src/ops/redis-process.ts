import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, waitForPort } from './ports.js';

/** A redis-server child process that this program owns. */
export interface RedisProcessOptions {
  /** Data directory (RDB, AOF, log). Created when missing. */
  dir: string;
  /** @defaultValue a free loopback port */
  port?: number;
  /** @defaultValue true — append-only file on (appendfsync everysec). */
  aof?: boolean;
  /** @defaultValue true — RDB snapshots (`save 3600 1 300 100 60 10000`). */
  rdb?: boolean;
  /** Extra `redis.conf` lines, e.g. `requirepass x` or `aclfile /path`. */
  extraConfig?: string[];
  /** @defaultValue `redis-server` on PATH */
  binary?: string;
  /**
   * @defaultValue false — true puts the server in its own process group, so a
   * Ctrl+C in the terminal does not reach it (`canopy up` stops it last).
   */
  detached?: boolean;
  /**
   * @defaultValue false — true runs a Sentinel (`redis-server <conf> --sentinel`); `extraConfig`
   * then carries its `sentinel monitor …` lines (the config file is Sentinel's to rewrite).
   */
  sentinel?: boolean;
}

export class RedisBinaryMissingError extends Error {
  readonly code = 'REDIS_SERVER_MISSING';
  constructor(binary: string) {
    super(
      `${binary} was not found on PATH. Install it (Debian/Ubuntu: sudo apt-get install -y redis-server) ` +
        `or point REDIS_URL at a running Redis.`,
    );
    this.name = 'RedisBinaryMissingError';
  }
}

/** Whether the binary can be run. */
export function hasBinary(binary: string): boolean {
  const r = spawnSync(binary, ['--version'], { stdio: 'ignore', timeout: 10_000 });
  return !r.error;
}

/** `redis-server --version` → `7.0.15`. */
export function redisServerVersion(binary = 'redis-server'): string {
  const r = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  return /v=([\d.]+)/.exec(r.stdout ?? '')?.[1] ?? 'unknown';
}

export class RedisProcess {
  readonly dir: string;
  readonly port: number;
  readonly binary: string;
  #child: ChildProcess | undefined;
  readonly #confPath: string;
  readonly #detached: boolean;
  readonly #args: string[];

  private constructor(
    dir: string,
    port: number,
    binary: string,
    confPath: string,
    detached = false,
    args: string[] = [],
  ) {
    this.dir = dir;
    this.#args = args;
    this.port = port;
    this.binary = binary;
    this.#confPath = confPath;
    this.#detached = detached;
  }

  /** Writes a config file into `dir`, starts redis-server and waits until it accepts connections. */
  static async start(opts: RedisProcessOptions): Promise<RedisProcess> {
    const binary = opts.binary ?? 'redis-server';
    if (!hasBinary(binary)) throw new RedisBinaryMissingError(binary);
    fs.mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
    const port = opts.port ?? (await freePort());
    const conf = [
      `port ${port}`,
      'bind 127.0.0.1',
      'protected-mode yes',
      `dir ${opts.dir}`,
      'daemonize no',
      `logfile ${path.join(opts.dir, 'redis.log')}`,
      `appendonly ${opts.aof === false ? 'no' : 'yes'}`,
      'appendfsync everysec',
      opts.rdb === false ? 'save ""' : 'save 3600 1 300 100 60 10000',
      'maxmemory-policy noeviction',
      ...(opts.extraConfig ?? []),
    ];
    const confPath = path.join(opts.dir, 'redis.conf');
    fs.writeFileSync(confPath, conf.join('\n') + '\n', { mode: 0o600 });
    const args = opts.sentinel ? ['--sentinel'] : [];
    const rp = new RedisProcess(opts.dir, port, binary, confPath, opts.detached ?? false, args);
    await rp.#spawn();
    return rp;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  async #spawn(): Promise<void> {
    const child = spawn(this.binary, [this.#confPath, ...this.#args], { stdio: 'ignore', detached: this.#detached });
    this.#child = child;
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) =>
        reject(new Error(`redis-server exited with ${code}; see ${path.join(this.dir, 'redis.log')}`)),
      ),
    );
    exited.catch(() => undefined);
    await Promise.race([waitForPort(this.port), exited]);
  }

  /** SIGKILL, as a crash would: no final save. */
  async kill(): Promise<void> {
    await this.#signal('SIGKILL');
  }

  /** Starts the server again on the same port and data. */
  async restart(): Promise<void> {
    if (this.running) await this.stop();
    await this.#spawn();
  }

  /** SIGTERM and wait: redis-server saves and exits. */
  async stop(): Promise<void> {
    await this.#signal('SIGTERM');
  }

  async #signal(sig: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(sig);
    await done;
  }
}
