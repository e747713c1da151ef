import { describe, expect, it } from 'vitest';
import { loadNodeMap } from '../../src/cea/config.js';
import { defaultConfigFile } from '../../src/can/paths.js';
import { allocate, renderBackendScreen } from '../../src/monitor/backend.js';
import type { BackendSnapshot } from '../../src/monitor/backend-data.js';
import { renderCanScreen } from '../../src/monitor/can.js';
import { formatFrameLine, formatTime, TypeCounts, type DisplayFrame } from '../../src/monitor/frames.js';
import { painter, stripAnsi, truncate } from '../../src/monitor/screen.js';

const nodes = loadNodeMap(defaultConfigFile('nodes.yaml'));
const local = (y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number) =>
  new Date(y, mo - 1, d, h, mi, s, ms).getTime();

const pt100: DisplayFrame = {
  ts: local(2024, 12, 11, 12, 34, 56, 789),
  canId: 0x101,
  node: 1,
  type: 'PT100',
  raw: '2E 09 1A 07 00',
  decoded: { temp_dry_c: 23.5, temp_wet_c: 18.2, fault: 0 },
};
const scd30: DisplayFrame = {
  ts: local(2024, 12, 11, 12, 34, 57, 123),
  canId: 0x103,
  node: 1,
  type: 'SCD30',
  raw: '2C 03 06 09 A8 16',
  decoded: { co2_ppm: 812, temp_c: 23.1, rh_pct: 58 },
};

/** Every line fits: at most `h` lines, none wider than `w` visible columns. */
function expectFits(lines: string[], w: number, h: number) {
  expect(lines.length).toBeLessThanOrEqual(h);
  for (const l of lines) expect(stripAnsi(l).length, l).toBeLessThanOrEqual(w);
}

describe('the scanner line format', () => {
  it('prints time, id, node with its room, type and labelled values', () => {
    const p = painter(false);
    expect(formatFrameLine(pt100, nodes, p)).toBe(
      '[2024-12-11 12:34:56.789] [0x101] [Node 1 Flower Room/front] PT100: Dry=23.5°C, Wet=18.2°C',
    );
    // a set fault flag is shown; the date can be left out (narrow screens)
    expect(formatFrameLine({ ...pt100, decoded: { temp_dry_c: 23.5, fault: 2 } }, nodes, p, { timeOnly: true })).toBe(
      '[12:34:56.789] [0x101] [Node 1 Flower Room/front] PT100: Dry=23.5°C, Fault=2',
    );
    expect(formatFrameLine(scd30, nodes, p)).toBe(
      '[2024-12-11 12:34:57.123] [0x103] [Node 1 Flower Room/front] SCD30: CO2=812ppm, Temp=23.1°C, RH=58%',
    );
    // a node the map does not list, no node at all, an undecodable frame
    expect(formatFrameLine({ ...pt100, node: 9 }, nodes, p)).toContain('[Node 9] PT100:');
    expect(formatFrameLine({ ...pt100, node: null, type: 'UNKNOWN', decoded: null }, nodes, p)).toMatch(
      /\[Node \?\] UNKNOWN: data=2E 09 1A 07 00$/,
    );
    expect(formatTime(local(2026, 1, 2, 3, 4, 5, 6))).toBe('2026-01-02 03:04:05.006');
  });

  it('colours each message type differently, and not at all without colour', () => {
    const on = painter(true);
    const a = formatFrameLine(pt100, nodes, on);
    const b = formatFrameLine(scd30, nodes, on);
    expect(a).toContain('\x1b[36mPT100:');
    expect(b).toContain('\x1b[32mSCD30:');
    expect(stripAnsi(a)).toBe(formatFrameLine(pt100, nodes, painter(false)));
    expect(formatFrameLine(pt100, nodes, painter(false))).not.toContain('\x1b[');
  });

  it('cuts a coloured line by visible width and resets the colour', () => {
    const s = painter(true).paint('cyan', 'x'.repeat(100));
    const t = truncate(s, 80);
    expect(stripAnsi(t)).toHaveLength(80);
    expect(stripAnsi(t).endsWith('…')).toBe(true);
    expect(t.endsWith('\x1b[0m')).toBe(true);
    expect(truncate('short', 80)).toBe('short');
  });
});

describe('the CAN monitor screen', () => {
  const frames = Array.from({ length: 100 }, (_, i) => ({ ...(i % 2 ? scd30 : pt100), ts: pt100.ts + i }));
  const counts = new TypeCounts();
  counts.add(frames);
  const state = { source: 'database sqlite', frames, counts, countsLabel: 'read since 12:00:00', now: pt100.ts };

  it('fits 80×24 with its header on top and the newest frames at the bottom', () => {
    for (const color of [false, true]) {
      const lines = renderCanScreen(state, { nodes, color, width: 80, height: 24 });
      expect(lines).toHaveLength(24);
      expectFits(lines, 80, 24);
      expect(stripAnsi(lines[0] as string)).toMatch(/^Canopy CAN monitor {2}database sqlite/);
      expect(stripAnsi(lines[1] as string)).toBe('Counts (100 read since 12:00:00): PT100 50  SCD30 50');
      expect(stripAnsi(lines[23] as string)).toMatch(
        /^\[12:34:56\.888\] \[0x103\] \[Node 1 Flower Room\/front\] SCD30: CO2=812ppm, Temp=.*…$/,
      );
      expect(stripAnsi(lines[23] as string)).toHaveLength(80);
    }
  });

  it('says it is waiting when there is nothing yet, and adapts to a larger terminal', () => {
    const empty = renderCanScreen(
      { ...state, frames: [], counts: new TypeCounts() },
      { nodes, color: false, width: 80, height: 24 },
    );
    expect(empty.slice(1)).toEqual([expect.stringMatching(/: none$/), '-'.repeat(80), 'waiting for frames…']);
    const big = renderCanScreen(state, { nodes, color: false, width: 132, height: 50 });
    expect(big).toHaveLength(50);
    expect(big[49]).toMatch(/^\[2024-12-11 12:34:56\.888\] .*Temp=23\.1°C, RH=58%$/);
  });
});

function snapshot(n: { sensors: number; services: number; units: boolean }): BackendSnapshot {
  const now = Date.now();
  return {
    now,
    stream: 'can:raw',
    redis: {
      ok: true,
      value: {
        version: '7.0.15',
        usedMemory: '1.21M',
        peakMemory: '1.50M',
        maxMemory: '0B',
        clients: '7',
        opsPerSec: '42',
      },
    },
    streamInfo: {
      ok: true,
      value: { length: 12345, groups: [{ name: 'can-worker', consumers: 1, pending: 2, lag: 3 }] },
    },
    entries: { ok: true, value: [pt100, scd30, pt100, scd30, pt100] },
    sensors: {
      ok: true,
      value: Array.from({ length: n.sensors }, (_, i) => ({
        name: `sensor_${i}_f`,
        value: String(20 + i / 3),
        ageMs: 1500,
      })),
    },
    services: {
      ok: true,
      value: Array.from({ length: n.services }, (_, i) => ({
        instance: `pi:svc${i}:100${i}`,
        service: `svc${i}`,
        paused: i === 1,
        ageMs: 800,
      })),
    },
    units: n.units
      ? {
          ok: true,
          value: [
            { unit: 'canopy-svc0.service', state: 'active' },
            { unit: 'canopy-gone.service', state: 'failed' },
          ],
        }
      : null,
    api: { url: 'http://127.0.0.1:8000/health', status: 200, summary: 'ok (redis up, store up)', latencyMs: 12 },
  };
}

describe('the backend monitor screen', () => {
  it('shows everything at once when it fits', () => {
    const lines = renderBackendScreen(snapshot({ sensors: 6, services: 3, units: true }), {
      width: 80,
      height: 24,
      color: false,
      tick: 0,
    });
    expectFits(lines, 80, 24);
    const text = lines.join('\n');
    expect(lines[0]).toMatch(/^Canopy backend monitor/);
    expect(lines[1]).toMatch(/^Redis 7\.0\.15 {2}memory 1\.21M \(peak 1\.50M, max none\)/);
    expect(lines[2]).toMatch(/^API 200 ok \(redis up, store up\) {2}12 ms/);
    expect(lines[3]).toBe('can:raw length 12345  can-worker lag 3 pending 2 consumers 1');
    expect(text).toMatch(/^Newest entries of can:raw\n {2}\[12:34:56\.789\] \[0x101\] \[Node 1\] PT100: Dry=23\.5°C/m);
    expect(text).toMatch(/svc0\s+active\s+up 0\.8s\s+pi:svc0:1000/);
    expect(text).toMatch(/svc1\s+paused 0\.8s/);
    expect(text).toMatch(/gone\s+failed\s+no heartbeat/);
    expect(text).toMatch(/Sensors \(6\)\n {2}sensor_0_f 20 1\.5s +sensor_1_f 20\.33 1\.5s/);
    expect(text).not.toMatch(/page \d/);
  });

  it('at 80×24 with many sensors and services: exactly 24 lines, header fixed, long sections page by refresh', () => {
    const s = snapshot({ sensors: 60, services: 14, units: false });
    const pages = [0, 1, 2].map((tick) => renderBackendScreen(s, { width: 80, height: 24, color: true, tick }));
    for (const lines of pages) {
      expect(lines).toHaveLength(24);
      expectFits(lines, 80, 24);
      expect(stripAnsi(lines[0] as string)).toMatch(/^Canopy backend monitor/);
      expect(stripAnsi(lines[3] as string)).toMatch(/^can:raw length 12345/);
    }
    const plain = pages.map((l) => l.map(stripAnsi).join('\n'));
    expect(plain[0]).toMatch(/Services \(heartbeat\) \(1-\d+ of 14, page 1\/\d\)/);
    expect(plain[1]).toMatch(/Services \(heartbeat\) \(\d+-\d+ of 14, page 2\/\d\)/);
    expect(plain[0]).toContain('sensor_0_f');
    expect(plain[1]).not.toContain('sensor_0_f ');
    expect(plain[2]).toMatch(/Services \(heartbeat\) \(9-14 of 14, page 3\/3\)\n(.*\n){5} {2}svc9 /);
    expect(plain[0]).not.toContain('systemd');
  });

  it('a part that failed shows its error in place; a tiny terminal still gets the header', () => {
    const s = snapshot({ sensors: 2, services: 1, units: false });
    s.redis = { ok: false, error: "NOPERM this user has no permissions to run the 'info' command" };
    s.api = { url: 'http://127.0.0.1:9/health', status: null, summary: 'ECONNREFUSED', latencyMs: 1 };
    const lines = renderBackendScreen(s, { width: 80, height: 24, color: false, tick: 0 });
    expect(lines[1]).toMatch(/^Redis error: NOPERM/);
    expect(lines[2]).toMatch(/^API --- ECONNREFUSED/);
    const tiny = renderBackendScreen(s, { width: 40, height: 6, color: false, tick: 0 });
    expectFits(tiny, 40, 6);
    expect(tiny[0]).toMatch(/^Canopy backend monitor/);
  });

  it('shares the lines: every section gets its title and a row before any gets more', () => {
    expect(allocate([6, 15, 21], 19)).toEqual([6, 7, 6]);
    expect(allocate([6, 3, 3], 40)).toEqual([6, 3, 3]);
    expect(allocate([6, 15, 21], 5)).toEqual([3, 2, 0]);
  });
});
