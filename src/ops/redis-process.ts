import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { withDeadline } from '../bus/deadline.js';
import { freePort, waitForRedis } from './ports.js';

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
  /**
   * @defaultValue false — true: the server gets SIGTERM (saves, exits) when the
   * process that started it dies, however it dies (kill -9, the OOM killer, a
   * hang-up): Linux's parent-death signal, set by util-linux `setpriv
   * --pdeathsig`. Without `setpriv` the server is started as before, and a
   * server orphaned on `dir` is still stopped by the next start (see
   * {@link RedisProcess.start}).
   */
  exitWithParent?: boolean;
  /**
   * @defaultValue 15000 — how long {@link RedisProcess.start} waits for the
   * server's first reply; a server still silent then is killed and the start fails.
   */
  startTimeoutMs?: number;
}

/** {@link RedisProcessOptions.startTimeoutMs}'s default. */
const START_TIMEOUT_MS = 15_000;

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

/** Whether util-linux `setpriv` can set a parent-death signal here (Linux). */
export function hasPdeathsig(): boolean {
  const r = spawnSync('setpriv', ['--help'], { encoding: 'utf8', timeout: 10_000 });
  return !r.error && /--pdeathsig/.test(`${r.stdout ?? ''}${r.stderr ?? ''}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A redis-server left running on `dir` by an earlier owner that died without
 * stopping it (its pid file names a live process whose working directory is
 * `dir`, as Redis's is): SIGTERM (it saves), SIGKILL after `graceMs`. Two
 * servers on one data directory would write the same append-only files.
 * Returns the pid stopped, if any.
 */
export async function stopStaleServer(dir: string, graceMs = 10_000): Promise<number | undefined> {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(path.join(dir, 'redis.pid'), 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid || !alive(pid)) return undefined;
  let cwd: string;
  let comm: string;
  try {
    cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
    comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined; // not ours to judge (another user's process, or no /proc)
  }
  if (!comm.startsWith('redis-server') || path.resolve(cwd) !== fs.realpathSync(dir)) return undefined;
  process.kill(pid, 'SIGTERM');
  const deadline = performance.now() + graceMs;
  while (alive(pid) && performance.now() < deadline) await sleep(50);
  if (alive(pid)) process.kill(pid, 'SIGKILL');
  while (alive(pid)) await sleep(20);
  return pid;
}

/** The last line of a redis-server log (why it exited: "Address already in use", a bad directive), or where to look. */
function lastLogLine(file: string): string {
  try {
    const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    return `${lines[lines.length - 1] ?? ''} (${file})`;
  } catch {
    return `no log at ${file}`;
  }
}

export class RedisProcess {
  readonly dir: string;
  readonly port: number;
  readonly binary: string;
  #child: ChildProcess | undefined;
  readonly #confPath: string;
  readonly #detached: boolean;
  readonly #args: string[];
  readonly #guard: string[];
  #startTimeoutMs = START_TIMEOUT_MS;

  private constructor(
    dir: string,
    port: number,
    binary: string,
    confPath: string,
    detached = false,
    args: string[] = [],
    guard: string[] = [],
  ) {
    this.dir = dir;
    this.#args = args;
    this.#guard = guard;
    this.port = port;
    this.binary = binary;
    this.#confPath = confPath;
    this.#detached = detached;
  }

  /**
   * Writes a config file into `dir`, stops a server an earlier owner left
   * running on `dir` ({@link stopStaleServer}), starts redis-server and waits
   * until it accepts connections.
   */
  static async start(opts: RedisProcessOptions): Promise<RedisProcess> {
    const binary = opts.binary ?? 'redis-server';
    if (!hasBinary(binary)) throw new RedisBinaryMissingError(binary);
    fs.mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
    await stopStaleServer(opts.dir);
    const port = opts.port ?? (await freePort());
    const conf = [
      `port ${port}`,
      'bind 127.0.0.1',
      'protected-mode yes',
      `dir ${opts.dir}`,
      'daemonize no',
      `pidfile ${path.join(opts.dir, 'redis.pid')}`,
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
    const guard = opts.exitWithParent && hasPdeathsig() ? ['setpriv', '--pdeathsig', 'TERM', '--'] : [];
    const rp = new RedisProcess(opts.dir, port, binary, confPath, opts.detached ?? false, args, guard);
    rp.#startTimeoutMs = opts.startTimeoutMs ?? START_TIMEOUT_MS;
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

  /** Whether the server gets SIGTERM when this process dies ({@link RedisProcessOptions.exitWithParent} took effect). */
  get exitsWithParent(): boolean {
    return this.#guard.length > 0;
  }

  async #spawn(): Promise<void> {
    // setpriv sets the parent-death signal and execs redis-server: the child's pid is the server's
    const [cmd, ...pre] = [...this.#guard, this.binary];
    const child = spawn(cmd as string, [...pre, this.#confPath, ...this.#args], {
      stdio: 'ignore',
      detached: this.#detached,
    });
    this.#child = child;
    const log = path.join(this.dir, 'redis.log');
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${lastLogLine(log)}`))),
    );
    exited.catch(() => undefined);
    try {
      await Promise.race([waitForRedis(this.port, '127.0.0.1', this.#startTimeoutMs), exited]);
    } catch (err) {
      // silent in time: no server left behind that nobody owns
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      throw err;
    }
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

  /**
   * {@link stop}, then SIGKILL when the server has not exited within
   * `timeoutMs`: redis-server refuses to exit on SIGTERM while its final save
   * fails (disk full, directory gone). Says which it took.
   */
  async stopOrKill(timeoutMs: number): Promise<'stopped' | 'killed'> {
    const outcome = await withDeadline(
      this.stop().then(() => 'stopped' as const),
      timeoutMs,
      () => 'late' as const,
    );
    if (outcome === 'stopped') return 'stopped';
    await this.kill();
    return 'killed';
  }

  async #signal(sig: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(sig);
    await done;
  }
}
