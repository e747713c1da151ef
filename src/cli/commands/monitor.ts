import type { Command } from 'commander';
import { Connection } from '../../bus/connection.js';
import { DbcDecoder, loadDbcFile } from '../../can/dbc/index.js';
import { defaultConfigFile } from '../../can/paths.js';
import { describeEntry, renderCanScreen, snapshotCan, type CanMonitorState } from '../../monitor/can.js';
import { renderRedisScreen } from '../../monitor/redis.js';
import { runScreen } from '../../monitor/screen.js';

interface MonitorOpts {
  once?: boolean;
  interval: string;
  color: boolean;
}

function common(cmd: Command): Command {
  return cmd
    .option('--once', 'print one screen and exit (for scripts and tests)')
    .option('--interval <ms>', 'refresh interval (1000-2000 recommended)', '1000')
    .option('--no-color', 'no ANSI colours (also off when stdout is not a terminal)');
}

async function withConnection(fn: (conn: Connection) => Promise<void>): Promise<void> {
  let conn: Connection | undefined;
  try {
    conn = await Connection.connect({ clientName: 'canopy-monitor' });
    await fn(conn);
  } catch (err) {
    process.stderr.write(`canopy monitor: ${(err as Error).message}\n`);
    process.exitCode = 1;
  } finally {
    await conn?.close();
  }
}

export function registerMonitor(program: Command): void {
  const monitor = program
    .command('monitor')
    .description('terminal monitors: `canopy monitor can`, `canopy monitor redis` (Ctrl+C exits)');

  common(
    monitor
      .command('redis')
      .description('stream lengths and consumer-group lag, service health (heartbeats), live values, Redis memory')
      .option('--stream <name...>', 'streams to show', ['can:raw', 'actuators:commands']),
  ).action(async (opts: MonitorOpts & { stream: string[] }) => {
    const tty = Boolean(process.stdout.isTTY);
    await withConnection((conn) =>
      runScreen(
        () =>
          renderRedisScreen(conn, {
            streams: opts.stream,
            livePrefix: 'sensor:',
            color: tty && opts.color,
            now: Date.now,
          }),
        {
          once: Boolean(opts.once),
          intervalMs: Number(opts.interval),
          tty,
        },
      ),
    );
  });

  common(
    monitor
      .command('can')
      .description(
        'CAN frames as they are stored in can:raw, decoded with the DBC, colour-coded by type, with counts per type',
      )
      .option('--stream <name>', 'the raw frame stream', 'can:raw')
      .option('--rows <n>', 'frames shown', '20')
      .option('--window <n>', 'frames counted by --once', '1000')
      .option('--dbc <file>', 'DBC file (default: the shipped config/canopy.dbc)'),
  ).action(async (opts: MonitorOpts & { stream: string; rows: string; window: string; dbc?: string }) => {
    const tty = Boolean(process.stdout.isTTY);
    const color = tty && opts.color;
    let dbc: DbcDecoder | undefined;
    try {
      dbc = new DbcDecoder(loadDbcFile(opts.dbc ?? defaultConfigFile('canopy.dbc')));
    } catch (err) {
      process.stderr.write(`canopy monitor: DBC not loaded (${(err as Error).message}); frames are shown undecoded\n`);
    }
    const rows = Number(opts.rows);
    await withConnection(async (conn) => {
      const first = await snapshotCan(conn, {
        stream: opts.stream,
        rows,
        window: opts.once ? Number(opts.window) : rows,
        dbc,
      });
      if (opts.once) {
        process.stdout.write(
          `${renderCanScreen(first, { stream: opts.stream, color, now: Date.now(), windowLabel: `last ${opts.window}` }).join('\n')}\n`,
        );
        return;
      }
      // live: counts of the frames stored since the monitor started
      const state: CanMonitorState = { frames: first.frames, counts: new Map(), total: 0, length: first.length };
      let lastId = first.lastId;
      await runScreen(
        async () => {
          for (;;) {
            const batch =
              (await conn.run('XRANGE', (c) => c.xRange(opts.stream, `(${lastId}`, '+', { COUNT: 1000 }))) ?? [];
            for (const e of batch) {
              const f = describeEntry(String(e.id), e.message as Record<string, string>, dbc);
              state.frames.push(f);
              state.counts.set(f.type, (state.counts.get(f.type) ?? 0) + 1);
              state.total++;
              lastId = String(e.id);
            }
            if (batch.length < 1000) break;
          }
          state.frames.splice(0, Math.max(0, state.frames.length - rows));
          state.length = await conn.run('XLEN', (c) => c.xLen(opts.stream));
          return renderCanScreen(state, { stream: opts.stream, color, now: Date.now(), windowLabel: 'since start' });
        },
        { once: false, intervalMs: Number(opts.interval), tty },
      );
    });
  });
}
