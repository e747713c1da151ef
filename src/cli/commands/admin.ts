import path from 'node:path';
import type { Command } from 'commander';
import { Connection } from '../../bus/connection.js';
import { BusError, ClosedError, ConnectionError } from '../../bus/errors.js';
import { FabricFiles } from '../../bus/fallback/records.js';
import { listLiveInstances } from '../../bus/fallback/replay.js';
import { sendAdminMessage } from '../../bus/mailbox.js';
import type { LiveInstance } from '../../bus/presence.js';
import { loadBaseConfig } from '../../config/env.js';
import { redisConnectionFromEnv } from '../../config/redis.js';
import { numberOption } from '../numbers.js';

/** `key=value` words → an object; values that parse as JSON are taken as such (`n=3`, `on=true`). */
export function parseAdminArgs(words: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const w of words) {
    const eq = w.indexOf('=');
    if (eq <= 0) throw new Error(`argument "${w}" is not key=value`);
    const v = w.slice(eq + 1);
    try {
      out[w.slice(0, eq)] = JSON.parse(v);
    } catch {
      out[w.slice(0, eq)] = v;
    }
  }
  return out;
}

/**
 * The instances a target names: the exact instance when its heartbeat is
 * live, else every live instance of that service (`canopy admin alerts ping`).
 */
export function resolveTargets(target: string, live: LiveInstance[]): string[] {
  if (live.some((l) => l.instance === target)) return [target];
  return live.filter((l) => l.info?.service === target).map((l) => l.instance);
}

function formatInstances(live: LiveInstance[]): string {
  if (live.length === 0) return 'no live instances\n';
  const rows = live.map((l) => [
    l.instance,
    l.info?.service ?? '?',
    String(l.info?.version ?? '?'),
    l.info?.started_at ? String(l.info.started_at) : '?',
    l.info?.paused ? 'paused' : 'running',
    `${Math.max(0, Math.round(l.ttlMs / 1000))}s`,
    l.source ?? 'redis',
  ]);
  const head = ['INSTANCE', 'SERVICE', 'VERSION', 'STARTED', 'STATE', 'TTL', 'SOURCE'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)].join('\n') + '\n';
}

/**
 * Connects unless `USE_REDIS=false`; an unreachable Redis is not an error:
 * the fallback files are used (and said so on stderr).
 */
async function connectOrFallback(useRedis: boolean, dir: string): Promise<Connection | undefined> {
  if (!useRedis) return undefined;
  try {
    const conn = await Connection.connect({
      ...redisConnectionFromEnv(),
      clientName: 'canopy-admin',
      connectTimeoutMs: 3000,
    });
    conn.on('error', () => undefined);
    return conn;
  } catch (err) {
    if (!(err instanceof ConnectionError || err instanceof ClosedError)) throw err;
    process.stderr.write(`Redis unreachable (${err.message}); using the fallback files in ${dir}\n`);
    return undefined;
  }
}

export function registerAdmin(program: Command): void {
  program
    .command('admin')
    .description(
      'send an admin command to a running instance (or to every instance of a service) and print the reply; ' +
        'commands: ping, status, help, reload-config, set-log-level level=debug, pause, resume. ' +
        '`canopy admin list` lists the live instances. Without Redis (USE_REDIS=false, or unreachable) ' +
        'both go through the fallback files in $CANOPY_DATA_DIR/fabric',
    )
    .argument('<target>', 'an instance (host:service:pid), a service name, `list`, or `send` (then the target)')
    .argument('[command]', 'the command')
    .argument('[args...]', 'key=value arguments')
    .option('--timeout <ms>', 'how long to wait for each reply', numberOption({ min: 1 }), 5000)
    .option('--no-wait', 'queue the message and return without waiting for a reply')
    .action(
      async (
        target: string,
        command: string | undefined,
        words: string[],
        opts: { timeout: string; wait: boolean },
      ) => {
        let conn: Connection | undefined;
        try {
          if (target === 'send') {
            // `canopy admin send <target> <command> [args...]`
            [target, command, words] = [command ?? '', words[0], words.slice(1)];
            if (!target) throw new Error('missing target after send');
          }
          const base = loadBaseConfig();
          const files = new FabricFiles({ dir: path.join(base.dataDir, 'fabric') });
          conn = await connectOrFallback(base.useRedis, files.dir);
          const { live } = await listLiveInstances(conn, files);
          if (target === 'list') {
            process.stdout.write(formatInstances(live));
            return;
          }
          if (!command) throw new Error('missing command (try: ping, status, help)');
          const args = parseAdminArgs(words);
          let targets = resolveTargets(target, live);
          if (targets.length === 0) {
            if (!target.includes(':'))
              throw new Error(`no live instance or service named "${target}" (see canopy admin list)`);
            targets = [target]; // not running: queued for its next start
            process.stderr.write(`${target} has no live heartbeat; the message is queued for its next start (1 h)\n`);
          }
          let failed = false;
          for (const t of targets) {
            const { reply, via } = await sendAdminMessage(conn, t, command, args, {
              replyTimeoutMs: opts.wait && live.some((l) => l.instance === t) ? Number(opts.timeout) : 0,
              from: 'canopy admin',
              files,
              useRedis: base.useRedis,
            });
            if (!reply) {
              process.stdout.write(`${t}: queued${via === 'file' ? ' (file)' : ''}\n`);
              continue;
            }
            if (!reply.ok) failed = true;
            process.stdout.write(
              `${t}: ${reply.ok ? 'ok' : 'error'} ${JSON.stringify(reply.ok ? (reply.result ?? null) : reply.error)}\n`,
            );
          }
          if (failed) process.exitCode = 1;
        } catch (err) {
          const code = err instanceof BusError ? ` [${err.code}]` : '';
          process.stderr.write(`canopy admin: ${(err as Error).message}${code}\n`);
          process.exitCode = 1;
        } finally {
          await conn?.close();
        }
      },
    );
}
