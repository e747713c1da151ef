import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fail, ok, warn, type CheckResult } from './types.js';

/** What `ip -details -statistics link show <can>` says about a CAN controller. */
export interface CanLinkDetails {
  state?: string;
  berrTx?: number;
  berrRx?: number;
  bitrate?: number;
  /** re-started, bus-errors, arbit-lost, error-warn, error-pass, bus-off */
  counters?: Record<string, number>;
}

export function parseIpCanDetails(text: string): CanLinkDetails {
  const out: CanLinkDetails = {};
  const st = /can (?:<[^>]*> )?state (\S+)/.exec(text);
  if (st) out.state = st[1] as string;
  const b = /berr-counter tx (\d+) rx (\d+)/.exec(text);
  if (b) {
    out.berrTx = Number(b[1]);
    out.berrRx = Number(b[2]);
  }
  const br = /\bbitrate (\d+)/.exec(text);
  if (br) out.bitrate = Number(br[1]);
  const lines = text.split('\n');
  const h = lines.findIndex((l) => /re-started\s+bus-errors/.test(l));
  if (h >= 0) {
    const names = (lines[h] as string).trim().split(/\s+/);
    const values = (lines[h + 1] ?? '').trim().split(/\s+/).map(Number);
    out.counters = Object.fromEntries(names.map((n, i) => [n, values[i] ?? 0]));
  }
  return out;
}

export interface CanCheckOptions {
  iface: string;
  /** A missing interface is a failure (true) or only worth knowing (false: e.g. the simulator runs). */
  required: boolean;
  /** @defaultValue `/sys` */
  sysRoot: string;
  /** @defaultValue `ip` */
  ip: string;
}

function readNum(file: string): number | undefined {
  try {
    return Number(fs.readFileSync(file, 'utf8').trim());
  } catch {
    return undefined;
  }
}

/** The CAN interface exists, is up, its controller state and error counters. */
export function canCheck(o: CanCheckOptions): CheckResult {
  const id = 'can.interface';
  const title = `CAN interface ${o.iface}`;
  const dir = path.join(o.sysRoot, 'class', 'net', o.iface);
  const setup = `sudo systemctl restart canopy-can-setup (ip link set ${o.iface} up type can bitrate 500000)`;
  if (!fs.existsSync(dir)) {
    const detail = `no interface ${o.iface}`;
    const fix = `enable the CAN HAT overlay (dtoverlay=mcp2515-can0,… in /boot/firmware/config.txt), reboot, then ${setup}`;
    return o.required
      ? fail(id, title, detail, fix)
      : warn(id, title, `${detail} (fine with --source sim or replay)`, fix);
  }
  let oper = 'unknown';
  try {
    oper = fs.readFileSync(path.join(dir, 'operstate'), 'utf8').trim();
  } catch {
    // no operstate
  }
  const stats = ['rx_packets', 'tx_packets', 'rx_errors', 'tx_errors', 'rx_dropped', 'rx_over_errors'];
  const s = Object.fromEntries(stats.map((k) => [k, readNum(path.join(dir, 'statistics', k))]));
  const r = spawnSync(o.ip, ['-details', '-statistics', 'link', 'show', o.iface], { encoding: 'utf8', timeout: 5_000 });
  const d = r.status === 0 ? parseIpCanDetails(r.stdout) : {};
  const parts = [
    `operstate ${oper}`,
    d.state ? `controller ${d.state}` : undefined,
    d.bitrate ? `${d.bitrate} bit/s` : undefined,
    `rx ${s.rx_packets ?? '?'} tx ${s.tx_packets ?? '?'} packets`,
    `errors rx ${s.rx_errors ?? '?'} tx ${s.tx_errors ?? '?'}, dropped ${s.rx_dropped ?? '?'}, overruns ${s.rx_over_errors ?? '?'}`,
    d.berrTx !== undefined ? `berr-counter tx ${d.berrTx} rx ${d.berrRx}` : undefined,
    d.counters ? `bus-off ${d.counters['bus-off'] ?? 0}, restarts ${d.counters['re-started'] ?? 0}` : undefined,
  ].filter(Boolean);
  const detail = parts.join('; ');
  if (oper !== 'up' && oper !== 'unknown') return fail(id, title, detail, setup);
  if (d.state === 'BUS-OFF' || d.state === 'ERROR-PASSIVE' || d.state === 'STOPPED')
    return fail(
      id,
      title,
      detail,
      'check the wiring, 120 Ω termination at both ends and that every node uses the same bitrate; then ' + setup,
    );
  const errs = (s.rx_errors ?? 0) + (s.tx_errors ?? 0) + (s.rx_over_errors ?? 0);
  if (d.state === 'ERROR-WARNING' || errs > 0)
    return warn(
      id,
      title,
      detail,
      'errors on the bus: check wiring and termination; watch them with ip -details -statistics link show ' + o.iface,
    );
  return ok(id, title, detail);
}

export interface ClockCheckOptions {
  /** @defaultValue `timedatectl` */
  timedatectl: string;
  /** @defaultValue `chronyc` */
  chronyc: string;
}

/** The clock is synchronised (timedatectl, else chrony). */
export function clockCheck(o: ClockCheckOptions): CheckResult {
  const id = 'clock';
  const title = 'Clock synchronised';
  const fix =
    'sudo timedatectl set-ntp true and check the network (a Pi has no RTC: timestamps are wrong until synced)';
  const t = spawnSync(o.timedatectl, ['show', '-p', 'NTPSynchronized', '--value'], {
    encoding: 'utf8',
    timeout: 5_000,
  });
  if (t.status === 0) {
    const v = t.stdout.trim();
    return v === 'yes'
      ? ok(id, title, 'NTP synchronised (timedatectl)')
      : fail(id, title, `timedatectl: NTPSynchronized=${v}`, fix);
  }
  const c = spawnSync(o.chronyc, ['tracking'], { encoding: 'utf8', timeout: 5_000 });
  if (c.status === 0) {
    const leap = /Leap status\s*:\s*(.*)/.exec(c.stdout)?.[1]?.trim();
    return leap === 'Normal'
      ? ok(id, title, 'synchronised (chrony)')
      : fail(id, title, `chrony leap status ${leap}`, fix);
  }
  return warn(id, title, 'cannot tell: neither timedatectl (systemd) nor chronyc answered', fix);
}

export interface DiskCheckOptions {
  dataDir: string;
  /** The SQLite file, whose size is reported. */
  sqliteFile?: string;
  /** @defaultValue 5 — below this % free: fail. */
  failPct: number;
  /** @defaultValue 15 — below this % free: warn. */
  warnPct: number;
}

const mb = (n: number) => (n >= 1e10 ? `${(n / 1e9).toFixed(1)} GB` : `${(n / 1e6).toFixed(n < 1e7 ? 1 : 0)} MB`);

/** Free space where the data lives, and the size of the SQLite file. */
export function diskCheck(o: DiskCheckOptions): CheckResult {
  const id = 'disk';
  const title = 'Disk space';
  let dir = path.resolve(o.dataDir);
  while (!fs.existsSync(dir)) dir = path.dirname(dir);
  const st = fs.statfsSync(dir);
  const free = st.bavail * st.bsize;
  const total = st.blocks * st.bsize;
  const pct = total > 0 ? (100 * free) / total : 0;
  let detail = `${mb(free)} free of ${mb(total)} (${pct.toFixed(1)} %) at ${dir}`;
  if (o.sqliteFile && fs.existsSync(o.sqliteFile)) {
    const wal = fs.existsSync(`${o.sqliteFile}-wal`) ? fs.statSync(`${o.sqliteFile}-wal`).size : 0;
    detail += `; SQLite ${mb(fs.statSync(o.sqliteFile).size)} + WAL ${mb(wal)}`;
  }
  const fix =
    'free space: rotate backups (canopy backup --keep N), set a retention, or move CANOPY_DATA_DIR to a bigger disk';
  if (pct < o.failPct) return fail(id, title, detail, fix);
  if (pct < o.warnPct) return warn(id, title, detail, fix);
  return ok(id, title, detail);
}
