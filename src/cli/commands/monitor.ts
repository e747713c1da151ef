import { CAN_RAW } from '../../contracts/names.js';
import { pipelinePathsEnv } from '../../config/pipeline.js';
import { Option, type Command } from 'commander';
import { Connection } from '../../bus/connection.js';
import { DbcDecoder, loadDbcFile } from '../../can/dbc/index.js';
import { loadNodeMap, resolvePipelinePaths, type NodeMap } from '../../cea/config.js';
import { openStore, type Store } from '../../store/index.js';
import { renderBackendScreen } from '../../monitor/backend.js';
import { CANOPY_UNITS, collectBackend, defaultApiUrl, resolveBackendOptions } from '../../monitor/backend-data.js';
import { StoreFrameSource, StreamFrameSource, type FrameSource } from '../../monitor/can-sources.js';
import { CanMonitor, runCanMonitor } from '../../monitor/can.js';
import { runScreen, terminalSize, useColour } from '../../monitor/screen.js';
import { redisConnectionFromEnv } from '../../config/redis.js';
import { loadBaseConfig } from '../../config/env.js';
import { numberOption } from '../numbers.js';

interface CommonOpts {
  once?: boolean;
  interval: number;
  color: boolean;
  nodes?: string;
  dbc?: string;
}

const intIn = (min: number, max: number) => numberOption({ integer: true, min, max });

function common(cmd: Command, interval: string): Command {
  return cmd
    .option('--once', 'print one screen and exit (for scripts and tests)')
    .option('--interval <ms>', 'refresh interval in milliseconds', intIn(100, 60_000), Number(interval))
    .option('--no-color', 'no ANSI colours (also off when stdout is not a terminal, or NO_COLOR is set)')
    .option('--nodes <file>', 'node map for room names (default: CANOPY_NODES, else the shipped config/nodes.yaml)')
    .option('--dbc <file>', 'DBC file for decoding stream entries (default: CANOPY_DBC, else config/canopy.dbc)');
}

function fail(err: unknown): void {
  process.stderr.write(`canopy monitor: ${(err as Error).message}\n`);
  process.exitCode = 1;
}

/** The node map and DBC; a missing or broken one is reported and the monitor runs without it. */
function loadDecoding(o: CommonOpts): { nodes: NodeMap | undefined; dbc: DbcDecoder | undefined } {
  const paths = resolvePipelinePaths({
    ...pipelinePathsEnv(),
    ...(o.nodes ? { nodesPath: o.nodes } : {}),
    ...(o.dbc ? { dbcPath: o.dbc } : {}),
  });
  let nodes: NodeMap | undefined;
  let dbc: DbcDecoder | undefined;
  try {
    nodes = loadNodeMap(paths.nodesPath);
  } catch (err) {
    process.stderr.write(`canopy monitor: node map not loaded (${(err as Error).message}); no room names\n`);
  }
  try {
    dbc = new DbcDecoder(loadDbcFile(paths.dbcPath));
  } catch (err) {
    process.stderr.write(`canopy monitor: DBC not loaded (${(err as Error).message}); frames are shown undecoded\n`);
  }
  return { nodes, dbc };
}

export function registerMonitor(program: Command): void {
  const monitor = program
    .command('monitor')
    .description('terminal monitors: `canopy monitor can`, `canopy monitor backend` (Ctrl+C exits)');

  common(
    monitor
      .command('backend')
      .alias('redis')
      .description(
        'XLEN can:raw with consumer-group lag, newest entries, live sensor values, service heartbeats and systemd ' +
          'states, the API health check and Redis memory, fitted to the terminal (80×24 and up)',
      )
      .option('--stream <name>', 'the raw frame stream', CAN_RAW)
      .option(
        '--api <url>',
        'the API base URL whose /health is checked (default: CANOPY_API_URL, else http://127.0.0.1:$CANOPY_API_PORT or 8000)',
      )
      .option('--units <unit...>', 'systemd units shown (where systemd runs)', CANOPY_UNITS)
      .addOption(
        new Option('--systemd <mode>', 'systemctl states: auto (where systemd runs), on, off')
          .choices(['auto', 'on', 'off'])
          .default('auto'),
      ),
    '1000',
  ).action(
    async (o: CommonOpts & { stream: string; api?: string; units: string[]; systemd: 'auto' | 'on' | 'off' }) => {
      const tty = Boolean(process.stdout.isTTY);
      const color = useColour(tty, o.color);
      let conn: Connection | undefined;
      try {
        const opts = resolveBackendOptions({
          stream: o.stream,
          apiUrl: o.api ?? defaultApiUrl(),
          units: o.units,
          systemd: o.systemd === 'auto' ? 'auto' : o.systemd === 'on',
        });
        const { nodes, dbc } = loadDecoding(o);
        conn = await Connection.connect({ ...redisConnectionFromEnv(), clientName: 'canopy-monitor' });
        const c = conn;
        const frames = new StreamFrameSource(c, { stream: o.stream, nodes, dbc });
        let tick = 0;
        await runScreen(
          async () => {
            const snap = await collectBackend(c, frames, opts);
            return renderBackendScreen(snap, { ...terminalSize(), color, tick: tick++ });
          },
          { once: Boolean(o.once), intervalMs: o.interval, tty },
        );
      } catch (err) {
        fail(err);
      } finally {
        await conn?.close();
      }
    },
  );

  common(
    monitor
      .command('can')
      .description(
        'CAN frames as the database received them, one scanner-style line each ' +
          '([time] [id] [node room] TYPE: values), colour-coded by type, with counts per type',
      )
      .option('--from-stream', 'read the Redis stream (can:raw) instead of the database')
      .option('--stream <name>', 'the raw frame stream for --from-stream', CAN_RAW)
      .option('--database <url>', 'the store (default: DATABASE_URL, else sqlite:$CANOPY_DATA_DIR/canopy.db)')
      .option('--window <n>', 'newest frames read at start (and all --once shows)', intIn(1, 100_000), 1000)
      .option('--lookback <minutes>', 'PostgreSQL: frames at most this old are read', intIn(1, 10_080), 60),
    '500',
  ).action(
    async (
      o: CommonOpts & { fromStream?: boolean; stream: string; database?: string; window: number; lookback: number },
    ) => {
      const tty = Boolean(process.stdout.isTTY);
      const { nodes, dbc } = loadDecoding(o);
      let conn: Connection | undefined;
      let store: Store | undefined;
      try {
        let source: FrameSource;
        if (o.fromStream) {
          conn = await Connection.connect({ ...redisConnectionFromEnv(), clientName: 'canopy-monitor' });
          source = new StreamFrameSource(conn, { stream: o.stream, nodes, dbc });
        } else {
          // a reader: never migrates, never sweeps
          store = await openStore(o.database ?? loadBaseConfig().databaseUrl, {
            autoMigrate: false,
            sweepIntervalMs: 0,
          });
          source = new StoreFrameSource(store, { lookbackMs: o.lookback * 60_000 });
        }
        const m = new CanMonitor(source, { nodes, color: useColour(tty, o.color), window: o.window });
        // piped --once: every frame read, lines uncut (for scripts); on a terminal: what fits
        const size = tty ? () => terminalSize() : () => ({ width: 10_000, height: o.window + 3 });
        await runCanMonitor(m, { once: Boolean(o.once), tty, intervalMs: o.interval, size });
      } catch (err) {
        fail(err);
      } finally {
        await store?.close();
        await conn?.close();
      }
    },
  );
}
