/**
 * PostgreSQL schema, as versioned migrations recorded in `schema_migrations`.
 * `can_messages` is the seed's TimescaleDB table (BIGSERIAL, TIMESTAMPTZ,
 * JSONB, the four indexes). With TimescaleDB: hypertables on `can_messages`
 * and `sensor_readings`, a compression policy, and continuous aggregates
 * `readings_1m` / `readings_1h` (real-time: recent rows are aggregated on read,
 * so they are exact even before a refresh has run).
 */
import type pg from 'pg';

export interface PgMigrationContext {
  timescale: boolean;
  chunkIntervalMs: number;
  compressAfterMs: number;
}

export interface PgMigration {
  version: number;
  name: string;
  /** Statements run in one transaction. */
  sql(ctx: PgMigrationContext): string[];
  /**
   * Statements that may not run in a transaction block (continuous aggregates).
   * Idempotent: they run on every migrate(), so a failure is retried next time.
   */
  after?(ctx: PgMigrationContext): string[];
}

const interval = (ms: number) => `INTERVAL '${Math.round(ms / 1000)} seconds'`;

function hypertable(table: string, column: string, ctx: PgMigrationContext): string[] {
  if (!ctx.timescale) return [];
  return [
    `SELECT create_hypertable('${table}', by_range('${column}', ${interval(ctx.chunkIntervalMs)}),
       if_not_exists => true, create_default_indexes => false)`,
  ];
}

function compression(table: string, segmentBy: string, orderBy: string, ctx: PgMigrationContext): string[] {
  if (!ctx.timescale || ctx.compressAfterMs <= 0) return [];
  return [
    `ALTER TABLE ${table} SET (timescaledb.compress, timescaledb.compress_segmentby = '${segmentBy}',
       timescaledb.compress_orderby = '${orderBy}')`,
    `SELECT add_compression_policy('${table}', compress_after => ${interval(ctx.compressAfterMs)}, if_not_exists => true)`,
  ];
}

function rollupView(name: string, width: string, endOffset: string, schedule: string): string[] {
  return [
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${name}
       WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
     SELECT time_bucket(INTERVAL '${width}', time) AS bucket, sensor,
            min(value) AS min_value, max(value) AS max_value, sum(value) AS sum_value, count(*) AS n_values
     FROM sensor_readings GROUP BY bucket, sensor WITH NO DATA`,
    // start_offset NULL: each run refreshes only what was invalidated or is new, over all time,
    // so late rows (a backlog after an outage, a migration) are folded in too
    `SELECT add_continuous_aggregate_policy('${name}', start_offset => NULL, end_offset => INTERVAL '${endOffset}',
       schedule_interval => INTERVAL '${schedule}', if_not_exists => true)`,
  ];
}

export const PG_MIGRATIONS: PgMigration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: (ctx) => [
      `CREATE TABLE IF NOT EXISTS can_messages (
          id BIGSERIAL,
          timestamp TIMESTAMPTZ NOT NULL,
          can_id INTEGER NOT NULL,
          node_id INTEGER,
          message_type TEXT,
          dlc INTEGER NOT NULL,
          raw_data TEXT NOT NULL,
          decoded_data JSONB,
          created_at TIMESTAMPTZ DEFAULT NOW()
      )`,
      ...hypertable('can_messages', 'timestamp', ctx),
      'CREATE INDEX IF NOT EXISTS idx_can_messages_timestamp ON can_messages (timestamp DESC)',
      'CREATE INDEX IF NOT EXISTS idx_can_messages_node_id ON can_messages (node_id)',
      'CREATE INDEX IF NOT EXISTS idx_can_messages_message_type ON can_messages (message_type)',
      'CREATE INDEX IF NOT EXISTS idx_can_messages_can_id ON can_messages (can_id)',
      ...compression('can_messages', 'can_id', 'timestamp DESC', ctx),
      `CREATE TABLE IF NOT EXISTS ingested_entries (
          stream_id TEXT PRIMARY KEY,
          ingested_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
      )`,
      'CREATE INDEX IF NOT EXISTS idx_ingested_entries_at ON ingested_entries (ingested_at)',
      `CREATE TABLE IF NOT EXISTS sensor_readings (
          time TIMESTAMPTZ NOT NULL,
          sensor TEXT NOT NULL,
          value DOUBLE PRECISION NOT NULL,
          location TEXT NOT NULL,
          cluster TEXT NOT NULL
      )`,
      ...hypertable('sensor_readings', 'time', ctx),
      'CREATE INDEX IF NOT EXISTS idx_sensor_readings_sensor_time ON sensor_readings (sensor, time)',
      'CREATE INDEX IF NOT EXISTS idx_sensor_readings_time ON sensor_readings (time)',
      ...compression('sensor_readings', 'sensor', 'time', ctx),
      `CREATE TABLE IF NOT EXISTS sensor_latest (
          sensor TEXT PRIMARY KEY,
          time TIMESTAMPTZ NOT NULL,
          value DOUBLE PRECISION NOT NULL,
          location TEXT NOT NULL,
          cluster TEXT NOT NULL
      )`,
      `CREATE TABLE IF NOT EXISTS device_states (
          device TEXT PRIMARY KEY,
          state DOUBLE PRECISION NOT NULL,
          mode TEXT NOT NULL,
          location TEXT,
          cluster TEXT,
          updated_at TIMESTAMPTZ NOT NULL,
          by_whom TEXT
      )`,
      `CREATE TABLE IF NOT EXISTS control_history (
          id BIGSERIAL PRIMARY KEY,
          time TIMESTAMPTZ NOT NULL,
          device TEXT NOT NULL,
          from_state DOUBLE PRECISION,
          to_state DOUBLE PRECISION NOT NULL,
          from_mode TEXT,
          to_mode TEXT NOT NULL,
          reason TEXT,
          source TEXT,
          by_whom TEXT
      )`,
      'CREATE INDEX IF NOT EXISTS idx_control_history_device_time ON control_history (device, time)',
      'CREATE INDEX IF NOT EXISTS idx_control_history_time ON control_history (time)',
      `CREATE TABLE IF NOT EXISTS setpoints (
          name TEXT PRIMARY KEY,
          value DOUBLE PRECISION NOT NULL,
          updated_at TIMESTAMPTZ NOT NULL,
          by_whom TEXT
      )`,
      ...['schedules', 'rules'].map(
        (t) => `CREATE TABLE IF NOT EXISTS ${t} (
          id TEXT PRIMARY KEY,
          config JSONB NOT NULL,
          enabled BOOLEAN NOT NULL DEFAULT TRUE,
          updated_at TIMESTAMPTZ NOT NULL,
          by_whom TEXT
      )`,
      ),
      `CREATE TABLE IF NOT EXISTS alerts (
          id BIGSERIAL PRIMARY KEY,
          rule TEXT NOT NULL,
          sensor TEXT,
          severity TEXT NOT NULL,
          state TEXT NOT NULL CHECK (state IN ('active', 'resolved')),
          started_at TIMESTAMPTZ NOT NULL,
          resolved_at TIMESTAMPTZ,
          message TEXT NOT NULL
      )`,
      'CREATE INDEX IF NOT EXISTS idx_alerts_state_started ON alerts (state, started_at)',
    ],
    after: (ctx) =>
      ctx.timescale
        ? [
            ...rollupView('readings_1m', '1 minute', '1 minute', '1 minute'),
            ...rollupView('readings_1h', '1 hour', '1 hour', '30 minutes'),
          ]
        : [],
  },
  {
    version: 2,
    name: 'rollup tables on plain PostgreSQL',
    // TimescaleDB has the continuous aggregates readings_1m / readings_1h (version 1); plain
    // PostgreSQL gets tables of the same name and columns, maintained by writeBatch, so history()
    // over long ranges reads rollups there too. Existing readings are folded in once.
    sql: (ctx) =>
      ctx.timescale
        ? []
        : [
            ['readings_1m', '1 minute'],
            ['readings_1h', '1 hour'],
          ].flatMap(([t, w]) => [
            `CREATE TABLE IF NOT EXISTS ${t} (
                sensor TEXT NOT NULL,
                bucket TIMESTAMPTZ NOT NULL,
                min_value DOUBLE PRECISION NOT NULL,
                max_value DOUBLE PRECISION NOT NULL,
                sum_value DOUBLE PRECISION NOT NULL,
                n_values BIGINT NOT NULL,
                PRIMARY KEY (sensor, bucket)
            )`,
            `INSERT INTO ${t} (sensor, bucket, min_value, max_value, sum_value, n_values)
             SELECT sensor, date_bin(INTERVAL '${w}', time, TIMESTAMPTZ 'epoch'), min(value), max(value), sum(value), count(*)
             FROM sensor_readings GROUP BY 1, 2 ON CONFLICT DO NOTHING`,
          ]),
  },
  {
    version: 3,
    name: 'journal',
    sql: () => [
      `CREATE TABLE IF NOT EXISTS journal (
          id BIGSERIAL PRIMARY KEY,
          time TIMESTAMPTZ NOT NULL,
          location TEXT NOT NULL,
          cluster TEXT,
          text TEXT NOT NULL,
          by_whom TEXT NOT NULL
      )`,
      'CREATE INDEX IF NOT EXISTS idx_journal_location_time ON journal (location, time)',
      'CREATE INDEX IF NOT EXISTS idx_journal_time ON journal (time)',
    ],
  },
];

/** Applies pending migrations under an advisory lock (several processes may start at once). */
export async function runPgMigrations(client: pg.ClientBase, ctx: PgMigrationContext): Promise<void> {
  const LOCK = 0x63616e6f; // "cano"
  await client.query('SELECT pg_advisory_lock($1)', [LOCK]);
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT NOW())`);
    const done = new Set(
      (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version),
    );
    for (const m of PG_MIGRATIONS) {
      if (done.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        for (const stmt of m.sql(ctx)) await client.query(stmt);
        await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw Object.assign(err as Error, { migration: `${m.version} (${m.name})` });
      }
    }
    for (const m of PG_MIGRATIONS) for (const stmt of m.after?.(ctx) ?? []) await client.query(stmt);
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK]).catch(() => undefined);
  }
}
