import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { migrateSqliteToPostgres, type MigrateProgress } from '../../store/migrate/index.js';
import { loadBaseConfig } from '../../config/env.js';
import { countOption, positiveIntOption } from '../numbers.js';

const HELP = `
Copies the can_messages table of an existing SQLite database (the seed's
schema) into PostgreSQL or TimescaleDB, creating Canopy's schema there first
(hypertables, compression and continuous aggregates when TimescaleDB is present).

  - REAL unix-second timestamps become TIMESTAMPTZ, TEXT decoded_data becomes JSONB.
  - Rows whose decoded_data is not valid JSON are kept: decoded_data becomes
    {"_invalid_json": "<the original text>"}, and each one is listed in the
    target table migration_problems (and in --report FILE as JSON lines).
  - Source ids are kept; the target sequence continues after them.
  - Copies in chunks; each chunk commits together with its progress in the
    target table migration_state, so an interrupted run (Ctrl+C, kill, power
    loss) resumes where it stopped when run again with the same --from.
  - Then verifies: row counts, and a random sample of rows (plus the first and
    the last) compared field by field. Exit status 2 on any mismatch, 1 on errors.

The target URL may carry a password: prefer DATABASE_URL (used when --to is
omitted) to keep it out of the process list.

Example:
  DATABASE_URL=postgres://canopy@localhost/cea_sensors canopy migrate --from sqlite:./can_messages.db
`;

interface Opts {
  from: string;
  to?: string;
  chunkSize: string;
  sample: string;
  report?: string;
  timescale: string;
  verify: boolean;
  verifyOnly?: boolean;
  json?: boolean;
}

function progressReporter(): { update(p: MigrateProgress): void; stop(): void } {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream: process.stderr,
        format:
          'migrate [{bar}] {percentage}% | {value}/{total} rows | {rate} rows/s | ETA {eta_formatted} | problems {problems}',
        etaBuffer: 20,
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    const t0 = performance.now();
    let first = 0;
    return {
      update(p) {
        if (!started) {
          started = true;
          first = p.copied;
          bar.start(p.total, p.copied, { rate: 0, problems: p.problems });
        }
        const rate = Math.round(((p.copied - first) * 1000) / Math.max(1, performance.now() - t0));
        bar.setTotal(Math.max(p.total, p.copied));
        bar.update(p.copied, { rate, problems: p.problems });
      },
      stop: () => bar.stop(),
    };
  }
  // not a terminal: one plain line every 2 s (and the last one)
  let last = 0;
  let first: { copied: number; at: number } | undefined;
  return {
    update(p) {
      const now = Date.now();
      first ??= { copied: p.copied, at: now };
      if (now - last < 2_000 && p.copied < p.total) return;
      last = now;
      const rate = ((p.copied - first.copied) * 1000) / Math.max(1, now - first.at);
      const eta = rate > 0 ? Math.ceil((p.total - p.copied) / rate) : NaN;
      const pct = p.total ? ((100 * p.copied) / p.total).toFixed(1) : '100.0';
      process.stderr.write(
        `migrate: ${p.copied}/${p.total} rows (${pct}%), ${Math.round(rate)} rows/s, ETA ${Number.isNaN(eta) ? '?' : `${eta} s`}, problems ${p.problems}\n`,
      );
    },
    stop: () => undefined,
  };
}

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('copy an existing SQLite can_messages database into PostgreSQL/TimescaleDB (resumable, verified)')
    .requiredOption('--from <sqlite:PATH>', 'the SQLite database to copy (seed schema)')
    .option('--to <postgres://…>', 'the target database (default: DATABASE_URL)')
    .option('--chunk-size <rows>', 'rows per chunk (one transaction each)', positiveIntOption, 10000)
    .option('--sample <rows>', 'rows compared field by field by the verification', countOption, 1000)
    .option('--report <file>', 'also write every problem row (invalid JSON, …) to this file as JSON lines')
    .option('--timescale <mode>', 'auto: use TimescaleDB when available; on: require it; off: plain tables', 'auto')
    .option('--no-verify', 'skip the verification step')
    .option('--verify-only', 'only run the verification of an earlier copy')
    .option('--json', 'print the result as JSON on stdout')
    .addHelpText('after', HELP)
    .action(async (opts: Opts) => {
      const to = opts.to ?? loadBaseConfig().databaseUrlGiven;
      if (!to || !/^postgres(ql)?:\/\//.test(to)) {
        process.stderr.write('canopy migrate: --to postgres://… (or DATABASE_URL) is required\n');
        process.exit(1);
      }
      const progress = progressReporter();
      try {
        const r = await migrateSqliteToPostgres({
          from: opts.from,
          to,
          chunkSize: Number(opts.chunkSize),
          sampleSize: Number(opts.sample),
          timescale: opts.timescale as 'auto' | 'on' | 'off',
          verify: opts.verify !== false,
          verifyOnly: opts.verifyOnly === true,
          ...(opts.report ? { reportFile: opts.report } : {}),
          onProgress: (p) => progress.update(p),
        });
        progress.stop();
        if (opts.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        else {
          if (r.copy) {
            const c = r.copy;
            process.stdout.write(
              `copied ${c.copiedNow} rows in ${(c.ms / 1000).toFixed(1)} s` +
                (c.resumedFrom ? ` (resumed after ${c.resumedFrom} rows copied earlier)` : '') +
                `; ${c.total} rows in the source; ${c.invalidJson} with invalid JSON kept as {"_invalid_json": …}` +
                (c.problems > c.invalidJson ? `; ${c.problems - c.invalidJson} other problems` : '') +
                ' (see migration_problems)\n',
            );
          }
          if (r.verify) {
            const v = r.verify;
            process.stdout.write(
              `verify: source ${v.sourceCount} rows, target ${v.targetCount}; ${v.sampled} sampled rows compared: ` +
                (v.ok ? 'all equal\n' : `${v.mismatches.length} mismatches\n`),
            );
            for (const m of v.mismatches.slice(0, 20)) {
              process.stdout.write(
                `  id ${m.id} ${m.field}: source ${JSON.stringify(m.source)} ≠ target ${JSON.stringify(m.target)}\n`,
              );
            }
          }
        }
        if (r.verify && !r.verify.ok) process.exit(2);
      } catch (err) {
        progress.stop();
        process.stderr.write(`canopy migrate: ${(err as Error).message}\n`);
        process.exit(1);
      }
    });
}
