/**
 * SQLite schema, as versioned migrations. `can_messages` is exactly the
 * seed's table (REAL unix-seconds timestamp, TEXT decoded_data), so a seed
 * database opens as is; every other time column is INTEGER unix ms.
 */
export interface SqliteMigration {
  version: number;
  name: string;
  sql: string;
}

export const SQLITE_MIGRATIONS: SqliteMigration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
CREATE TABLE IF NOT EXISTS can_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp REAL NOT NULL,
    can_id INTEGER NOT NULL,
    node_id INTEGER,
    message_type TEXT,
    dlc INTEGER NOT NULL,
    raw_data TEXT NOT NULL,
    decoded_data TEXT,
    created_at TEXT DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX IF NOT EXISTS idx_can_messages_timestamp ON can_messages (timestamp DESC);
CREATE INDEX IF NOT EXISTS idx_can_messages_node_id ON can_messages (node_id);
CREATE INDEX IF NOT EXISTS idx_can_messages_message_type ON can_messages (message_type);
CREATE INDEX IF NOT EXISTS idx_can_messages_can_id ON can_messages (can_id);

-- idempotency keys: one row per stored stream entry, written in the batch's transaction
CREATE TABLE IF NOT EXISTS ingested_entries (
    stream_id TEXT PRIMARY KEY,
    ingested_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_ingested_entries_at ON ingested_entries (ingested_at);

CREATE TABLE IF NOT EXISTS sensor_readings (
    time INTEGER NOT NULL,
    sensor TEXT NOT NULL,
    value REAL NOT NULL,
    location TEXT NOT NULL,
    cluster TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_sensor_readings_sensor_time ON sensor_readings (sensor, time);
CREATE INDEX IF NOT EXISTS idx_sensor_readings_time ON sensor_readings (time);

CREATE TABLE IF NOT EXISTS readings_1m (
    sensor TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    min_value REAL NOT NULL,
    max_value REAL NOT NULL,
    sum_value REAL NOT NULL,
    n_values INTEGER NOT NULL,
    PRIMARY KEY (sensor, bucket)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS readings_1h (
    sensor TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    min_value REAL NOT NULL,
    max_value REAL NOT NULL,
    sum_value REAL NOT NULL,
    n_values INTEGER NOT NULL,
    PRIMARY KEY (sensor, bucket)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS sensor_latest (
    sensor TEXT PRIMARY KEY,
    time INTEGER NOT NULL,
    value REAL NOT NULL,
    location TEXT NOT NULL,
    cluster TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS device_states (
    device TEXT PRIMARY KEY,
    state REAL NOT NULL,
    mode TEXT NOT NULL,
    location TEXT,
    cluster TEXT,
    updated_at INTEGER NOT NULL,
    by_whom TEXT
);
CREATE TABLE IF NOT EXISTS control_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time INTEGER NOT NULL,
    device TEXT NOT NULL,
    from_state REAL,
    to_state REAL NOT NULL,
    from_mode TEXT,
    to_mode TEXT NOT NULL,
    reason TEXT,
    source TEXT,
    by_whom TEXT
);
CREATE INDEX IF NOT EXISTS idx_control_history_device_time ON control_history (device, time);
CREATE INDEX IF NOT EXISTS idx_control_history_time ON control_history (time);
CREATE TABLE IF NOT EXISTS setpoints (
    name TEXT PRIMARY KEY,
    value REAL NOT NULL,
    updated_at INTEGER NOT NULL,
    by_whom TEXT
);
CREATE TABLE IF NOT EXISTS schedules (
    id TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    updated_at INTEGER NOT NULL,
    by_whom TEXT
);
CREATE TABLE IF NOT EXISTS rules (
    id TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    updated_at INTEGER NOT NULL,
    by_whom TEXT
);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rule TEXT NOT NULL,
    sensor TEXT,
    severity TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('active', 'resolved')),
    started_at INTEGER NOT NULL,
    resolved_at INTEGER,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_alerts_state_started ON alerts (state, started_at);
`,
  },
  {
    version: 2,
    name: 'journal',
    sql: `
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time INTEGER NOT NULL,
    location TEXT NOT NULL,
    cluster TEXT,
    text TEXT NOT NULL,
    by_whom TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_journal_location_time ON journal (location, time);
CREATE INDEX IF NOT EXISTS idx_journal_time ON journal (time);
`,
  },
];
