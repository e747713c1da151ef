import type {
  CommandAnswer,
  DeviceChange,
  DeviceDetail,
  DeviceNotice,
  EvaluateResult,
} from '../../cea/control/engine.js';
import type { DeviceUpdate } from '../../contracts/updates.js';

const iso = (ms: number): string => new Date(ms).toISOString();

/** DeviceUpdate's optional fields from the engine's details (label, since, source, expiry, hold-back). */
function detailFields(d: DeviceDetail | undefined): Partial<DeviceUpdate> {
  if (!d) return {};
  return {
    label: d.label,
    kind: d.kind,
    since: iso(d.since),
    source: d.source,
    ...(d.expiresAt !== null ? { expires_at: iso(d.expiresAt) } : {}),
    ...(d.held ? { held: { want: d.held.want, until: iso(d.held.until), why: d.held.why } } : {}),
  };
}

/** The `device:update` of a change of output or mode. */
export function deviceUpdate(
  c: Pick<DeviceChange, 'location' | 'cluster' | 'device' | 'to' | 'mode' | 'at'> & {
    reason?: string;
    detail?: DeviceDetail;
    command?: CommandAnswer;
  },
  simulated = false,
): DeviceUpdate {
  return {
    location: c.location,
    cluster: c.cluster,
    device: c.device,
    state: c.to,
    mode: c.mode,
    timestamp: iso(c.at),
    ...(c.reason !== undefined ? { reason: c.reason } : {}),
    ...(simulated ? { simulated: true as const } : {}),
    ...detailFields(c.detail),
    ...(c.command ? { command: { ...c.command } } : {}),
  };
}

/** The `device:update` of a hold-back or a refused command: the device's unchanged state and why. */
export function noticeUpdate(n: DeviceNotice, simulated = false): DeviceUpdate {
  return deviceUpdate({ ...n, to: n.state }, simulated);
}

/**
 * A stream entry written field by field (`XADD actuators:commands * device
 * heater_f state 1 mode manual by bob`): numbers typed back.
 */
export function fieldsToCommand(f: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...f };
  for (const k of ['state', 'ttl_s', 'value'] as const) {
    if (f[k] !== undefined && f[k] !== '' && Number.isFinite(Number(f[k]))) out[k] = Number(f[k]);
  }
  return out;
}

/**
 * Puts a command's answer on the first update of `device` an evaluation
 * produced (its change, else its notice), or on a new notice (`notice()`)
 * when the command changed nothing: every command gets one answering update.
 */
export function answerOn(
  r: EvaluateResult,
  device: string,
  answer: CommandAnswer,
  notice: () => DeviceNotice | undefined,
): void {
  const hit = r.changes.find((c) => c.device === device) ?? r.notices?.find((n) => n.device === device);
  if (hit) {
    hit.command = answer;
    return;
  }
  const n = notice();
  if (n) (r.notices ??= []).push({ ...n, command: answer });
}
