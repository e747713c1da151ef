/**
 * The small operational tables (device states, control history, setpoints,
 * schedules, rules, alerts), written once over a minimal SQL driver that both
 * backends provide. SQL uses `$1` placeholders; each backend's
 * {@link Dialect} says how times and JSON are stored (SQLite: INTEGER unix
 * ms and TEXT; PostgreSQL: TIMESTAMPTZ and JSONB).
 */
import { StoreError } from './errors.js';
import type {
  Alert,
  AlertState,
  ConfigKind,
  ConfigRecord,
  ControlEvent,
  DeviceState,
  NewAlert,
  ReadStatus,
  Setpoint,
  Store,
} from './types.js';

export interface Dialect {
  /** SQL turning a stored time column into unix ms (a number). */
  ms(col: string): string;
  /** SQL turning a unix-ms parameter into the stored time type. */
  ts(param: string): string;
  /** SQL turning a JSON-text parameter into the stored JSON type. */
  json(param: string): string;
}

export interface SqlDriver {
  readonly dialect: Dialect;
  all<T>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Returns the number of rows changed. */
  run(sql: string, params?: unknown[]): Promise<number>;
  /** Runs `fn` in one transaction on one connection. */
  tx<T>(fn: (d: SqlDriver) => Promise<T>): Promise<T>;
}

export type RecordMethods = Pick<
  Store,
  | 'getDeviceStates'
  | 'setDeviceState'
  | 'controlHistory'
  | 'getSetpoints'
  | 'setSetpoint'
  | 'listConfigs'
  | 'putConfig'
  | 'deleteConfig'
  | 'openAlert'
  | 'resolveAlert'
  | 'listAlerts'
  | 'addJournalEntry'
  | 'listJournal'
>;

/** The journal's methods come from journal.ts ({@link journalMethods} there), on the same driver. */
export type JournalMethodNames = 'addJournalEntry' | 'listJournal';

const num = (v: unknown): number => Number(v);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const parseJson = (v: unknown): Record<string, unknown> =>
  (typeof v === 'string' ? JSON.parse(v) : v) as Record<string, unknown>;

function checkKind(kind: ConfigKind): void {
  if (kind !== 'schedules' && kind !== 'rules') {
    throw new StoreError('STORE_INVALID', `config kind must be 'schedules' or 'rules', not ${String(kind)}`);
  }
}

function limitOf(limit: number | undefined, dflt: number): number {
  const l = limit ?? dflt;
  if (!Number.isInteger(l) || l < 1) throw new StoreError('STORE_INVALID', 'limit must be an integer ≥ 1');
  return l;
}

/** Builds the record methods on a driver (which maps its errors to StoreError). */
export function recordMethods(db: SqlDriver): Omit<RecordMethods, JournalMethodNames> {
  const d = db.dialect;
  const alertCols = `id, rule, sensor, severity, state, ${d.ms('started_at')} AS started_at, ${d.ms('resolved_at')} AS resolved_at, message`;
  const toAlert = (r: Record<string, unknown>): Alert => ({
    id: num(r.id),
    rule: String(r.rule),
    sensor: (r.sensor as string | null) ?? null,
    severity: String(r.severity),
    state: r.state as AlertState,
    startedAt: num(r.started_at),
    resolvedAt: numOrNull(r.resolved_at),
    message: String(r.message),
  });

  return {
    async getDeviceStates() {
      const rows = await db.all<Record<string, unknown>>(
        `SELECT device, state, mode, location, cluster, ${d.ms('updated_at')} AS updated_at, by_whom FROM device_states ORDER BY device`,
      );
      return rows.map((r): DeviceState => ({
        device: String(r.device),
        state: num(r.state),
        mode: String(r.mode),
        location: (r.location as string | null) ?? null,
        cluster: (r.cluster as string | null) ?? null,
        updatedAt: num(r.updated_at),
        by: (r.by_whom as string | null) ?? null,
      }));
    },

    async setDeviceState(s) {
      if (!s.device || !Number.isFinite(s.state) || !s.mode) {
        throw new StoreError('STORE_INVALID', 'setDeviceState: device, numeric state and mode are required');
      }
      const at = s.updatedAt ?? Date.now();
      await db.tx(async (t) => {
        const prev = await t.all<{ state: unknown; mode: unknown }>(
          'SELECT state, mode FROM device_states WHERE device = $1',
          [s.device],
        );
        await t.run(
          `INSERT INTO device_states (device, state, mode, location, cluster, updated_at, by_whom)
           VALUES ($1, $2, $3, $4, $5, ${d.ts('$6')}, $7)
           ON CONFLICT (device) DO UPDATE SET state = excluded.state, mode = excluded.mode,
             location = COALESCE(excluded.location, device_states.location),
             cluster = COALESCE(excluded.cluster, device_states.cluster),
             updated_at = excluded.updated_at, by_whom = excluded.by_whom`,
          [s.device, s.state, s.mode, s.location ?? null, s.cluster ?? null, at, s.by ?? null],
        );
        await t.run(
          `INSERT INTO control_history (time, device, from_state, to_state, from_mode, to_mode, reason, source, by_whom)
           VALUES (${d.ts('$1')}, $2, $3, $4, $5, $6, $7, $8, $9)`,
          [
            at,
            s.device,
            prev[0] ? num(prev[0].state) : null,
            s.state,
            prev[0] ? String(prev[0].mode) : null,
            s.mode,
            s.reason ?? null,
            s.source ?? null,
            s.by ?? null,
          ],
        );
      });
    },

    async controlHistory(q) {
      const rows = await db.all<Record<string, unknown>>(
        `SELECT ${d.ms('time')} AS time, device, from_state, to_state, from_mode, to_mode, reason, source, by_whom
         FROM control_history
         WHERE (CAST($1 AS TEXT) IS NULL OR device = $1) AND time >= ${d.ts('$2')} AND time < ${d.ts('$3')}
         ORDER BY time DESC, id DESC LIMIT $4`,
        [q.device ?? null, q.from ?? 0, q.to ?? 8.64e15, limitOf(q.limit, 1000)],
      );
      return rows.map((r): ControlEvent => ({
        time: num(r.time),
        device: String(r.device),
        fromState: numOrNull(r.from_state),
        toState: num(r.to_state),
        fromMode: (r.from_mode as string | null) ?? null,
        toMode: String(r.to_mode),
        reason: (r.reason as string | null) ?? null,
        source: (r.source as string | null) ?? null,
        by: (r.by_whom as string | null) ?? null,
      }));
    },

    async getSetpoints() {
      const rows = await db.all<Record<string, unknown>>(
        `SELECT name, value, ${d.ms('updated_at')} AS updated_at, by_whom FROM setpoints ORDER BY name`,
      );
      return rows.map((r): Setpoint => ({
        name: String(r.name),
        value: num(r.value),
        updatedAt: num(r.updated_at),
        by: (r.by_whom as string | null) ?? null,
      }));
    },

    async setSetpoint(s) {
      if (!s.name || !Number.isFinite(s.value)) {
        throw new StoreError('STORE_INVALID', 'setSetpoint: a name and a finite value are required');
      }
      await db.run(
        `INSERT INTO setpoints (name, value, updated_at, by_whom) VALUES ($1, $2, ${d.ts('$3')}, $4)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, by_whom = excluded.by_whom`,
        [s.name, s.value, s.updatedAt ?? Date.now(), s.by ?? null],
      );
    },

    async listConfigs(kind) {
      checkKind(kind);
      const rows = await db.all<Record<string, unknown>>(
        `SELECT id, config, enabled, ${d.ms('updated_at')} AS updated_at, by_whom FROM ${kind} ORDER BY id`,
      );
      return rows.map((r): ConfigRecord => ({
        id: String(r.id),
        config: parseJson(r.config),
        enabled: Boolean(r.enabled),
        updatedAt: num(r.updated_at),
        by: (r.by_whom as string | null) ?? null,
      }));
    },

    async putConfig(kind, r) {
      checkKind(kind);
      if (!r.id || typeof r.config !== 'object' || r.config === null) {
        throw new StoreError('STORE_INVALID', 'putConfig: an id and a config object are required');
      }
      await db.run(
        `INSERT INTO ${kind} (id, config, enabled, updated_at, by_whom) VALUES ($1, ${d.json('$2')}, $3, ${d.ts('$4')}, $5)
         ON CONFLICT (id) DO UPDATE SET config = excluded.config, enabled = excluded.enabled,
           updated_at = excluded.updated_at, by_whom = excluded.by_whom`,
        [r.id, JSON.stringify(r.config), r.enabled === false ? 0 : 1, r.updatedAt ?? Date.now(), r.by ?? null],
      );
    },

    async deleteConfig(kind, id) {
      checkKind(kind);
      return (await db.run(`DELETE FROM ${kind} WHERE id = $1`, [id])) > 0;
    },

    async openAlert(a: NewAlert) {
      if (!a.rule || !a.severity || typeof a.message !== 'string') {
        throw new StoreError('STORE_INVALID', 'openAlert: rule, severity and message are required');
      }
      const rows = await db.all<Record<string, unknown>>(
        `INSERT INTO alerts (rule, sensor, severity, state, started_at, message)
         VALUES ($1, $2, $3, 'active', ${d.ts('$4')}, $5) RETURNING ${alertCols}`,
        [a.rule, a.sensor ?? null, a.severity, a.startedAt ?? Date.now(), a.message],
      );
      return toAlert(rows[0] as Record<string, unknown>);
    },

    async resolveAlert(id, at) {
      const rows = await db.all<Record<string, unknown>>(
        `UPDATE alerts SET state = 'resolved', resolved_at = ${d.ts('$2')}
         WHERE id = $1 AND state = 'active' RETURNING ${alertCols}`,
        [id, at ?? Date.now()],
      );
      return rows[0] ? toAlert(rows[0]) : null;
    },

    async listAlerts(q = {}) {
      const rows = await db.all<Record<string, unknown>>(
        `SELECT ${alertCols} FROM alerts WHERE (CAST($1 AS TEXT) IS NULL OR state = $1) ORDER BY started_at DESC, id DESC LIMIT $2`,
        [q.state ?? null, limitOf(q.limit, 1000)],
      );
      return rows.map(toAlert);
    },
  };
}

/**
 * The record methods every store offers the same way: SQLite and
 * PostgreSQL only differ in the {@link SqlDriver} they build them on.
 */
export abstract class RecordStore {
  protected abstract readonly records: RecordMethods;

  getDeviceStates: RecordMethods['getDeviceStates'] = (...a) => this.records.getDeviceStates(...a);
  setDeviceState: RecordMethods['setDeviceState'] = (...a) => this.records.setDeviceState(...a);
  controlHistory: RecordMethods['controlHistory'] = (...a) => this.records.controlHistory(...a);
  getSetpoints: RecordMethods['getSetpoints'] = (...a) => this.records.getSetpoints(...a);
  setSetpoint: RecordMethods['setSetpoint'] = (...a) => this.records.setSetpoint(...a);
  listConfigs: RecordMethods['listConfigs'] = (...a) => this.records.listConfigs(...a);
  putConfig: RecordMethods['putConfig'] = (...a) => this.records.putConfig(...a);
  deleteConfig: RecordMethods['deleteConfig'] = (...a) => this.records.deleteConfig(...a);
  openAlert: RecordMethods['openAlert'] = (...a) => this.records.openAlert(...a);
  resolveAlert: RecordMethods['resolveAlert'] = (...a) => this.records.resolveAlert(...a);
  listAlerts: RecordMethods['listAlerts'] = (...a) => this.records.listAlerts(...a);
  addJournalEntry: RecordMethods['addJournalEntry'] = (...a) => this.records.addJournalEntry(...a);
  listJournal: RecordMethods['listJournal'] = (...a) => this.records.listJournal(...a);

  /** One database serves every read (a store with a read replica overrides this). */
  async readStatus(_timeoutMs?: number): Promise<ReadStatus> {
    return { target: 'primary', reads: { replica: 0, primary: 0 }, fallbacks: 0, replica: null };
  }
}
