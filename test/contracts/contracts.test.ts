import fs from 'node:fs';
import path from 'node:path';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { describe, expect, it } from 'vitest';
import { jsonCodec } from '../../src/bus/codec.js';
import { canopyUsers } from '../../src/contracts/acl-users.js';
import {
  ACTUATORS_COMMANDS,
  ADMIN_QUEUE_PREFIX,
  ALERTS_ACTIVE,
  ANALYTICS_LATEST,
  AUTOMATION_STATE,
  CAN_RAW,
  CAN_RAW_DEAD,
  CAN_WORKER_GROUP,
  CanRawFieldsSchema,
  checkDeviceUpdate,
  checkSensorReadings,
  checkSensorUpdate,
  contractCatalog,
  CONTROL_COMMAND,
  DEVICE_UPDATE,
  analyticsDailyKey,
  identityKey,
  SENSOR_UPDATE,
  sensorKey,
  sensorTsKey,
  topicBase,
  UPDATE_CODEC,
  updateChannels,
  userBacklogKey,
  userChannel,
  userPattern,
  UserCodec,
} from '../../src/contracts/index.js';
import { renderContractsDoc } from '../../src/contracts/doc.js';
import { frameToStreamFields, makeFrame } from '../../src/can/frame.js';

const sensorUpdate = {
  location: 'Flower Room',
  cluster: 'front',
  sensor_data: { dry_bulb_f: 24.5, rh_f: 65.0 },
  timestamp: '2024-01-15T10:30:00.000Z',
};
const deviceUpdate = {
  location: 'Flower Room',
  cluster: 'front',
  device: 'heater_1',
  state: 1,
  mode: 'auto',
  timestamp: '2024-01-15T10:30:00.000Z',
};

describe('contract names', () => {
  it('are byte for byte the names other programs use', () => {
    expect([CAN_RAW, CAN_RAW_DEAD, CAN_WORKER_GROUP]).toEqual(['can:raw', 'can:raw:dead', 'can-worker']);
    expect([sensorKey('dry_bulb_f'), sensorTsKey('dry_bulb_f')]).toEqual(['sensor:dry_bulb_f', 'sensor:dry_bulb_f:ts']);
    expect(updateChannels(SENSOR_UPDATE, 'Flower Room', 'front')).toEqual([
      'sensor:update',
      'sensor:update:Flower Room',
      'sensor:update:Flower Room:front',
    ]);
    expect(updateChannels(DEVICE_UPDATE, 'Veg Room')).toEqual(['device:update', 'device:update:Veg Room']);
    expect([ACTUATORS_COMMANDS, CONTROL_COMMAND, AUTOMATION_STATE]).toEqual([
      'actuators:commands',
      'control:command',
      'automation:state',
    ]);
    expect([ALERTS_ACTIVE, ANALYTICS_LATEST, analyticsDailyKey('2024-01-15')]).toEqual([
      'alerts:active',
      'analytics:latest',
      'analytics:daily:2024-01-15',
    ]);
    expect([identityKey('relay', 'c1'), `${ADMIN_QUEUE_PREFIX}w1`]).toEqual(['identity:relay:c1', 'admin:queue:w1']);
    expect([userChannel('jamie', 'raw'), userBacklogKey('jamie'), userPattern('predictions')]).toEqual([
      'user:jamie:raw',
      'user:jamie:backlog',
      'user:*:predictions',
    ]);
    expect(topicBase('device:update:Flower Room:front')).toBe('device:update');
    expect(topicBase('control:command')).toBe('control:command');
  });

  it('a user id with a colon or a glob character is refused, not built into a name', () => {
    expect(() => userChannel('a:b', 'raw')).toThrow();
    expect(() => userChannel('a*', 'raw')).toThrow();
  });
});

describe('update messages', () => {
  it('accept the documented sensor and device updates, extra fields included', () => {
    expect(checkSensorUpdate(sensorUpdate)).toEqual({ ok: true, value: sensorUpdate });
    expect(checkDeviceUpdate(deviceUpdate).ok).toBe(true);
    expect(checkDeviceUpdate({ ...deviceUpdate, reason: 'failsafe: stale', simulated: true }).ok).toBe(true);
  });

  it.each([
    ['no location', { ...sensorUpdate, location: undefined }],
    ['empty cluster', { ...sensorUpdate, cluster: '' }],
    ['a text reading', { ...sensorUpdate, sensor_data: { rh_f: '65' } }],
    ['a time that does not parse', { ...sensorUpdate, timestamp: 'yesterday' }],
    ['an array', [sensorUpdate]],
  ])('refuse a sensor update with %s, saying where', (_what, bad) => {
    const r = checkSensorUpdate(bad);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.length).toBeGreaterThan(0);
  });

  it('refuse a device update without a device or with a text state', () => {
    expect(checkDeviceUpdate({ ...deviceUpdate, device: '' }).ok).toBe(false);
    expect(checkDeviceUpdate({ ...deviceUpdate, state: 'on' }).ok).toBe(false);
    expect(checkDeviceUpdate({ ...deviceUpdate, simulated: false }).ok).toBe(false);
  });

  it('the automation takes any update with readings, and nothing without', () => {
    expect(checkSensorReadings({ sensor_data: { dry_bulb_f: 18 } }).ok).toBe(true);
    expect(checkSensorReadings({ timestamp: 'x' }).ok).toBe(false);
    expect(checkSensorReadings({ sensor_data: null }).ok).toBe(false);
  });

  it('round-trip through the JSON codec unchanged', () => {
    for (const m of [sensorUpdate, deviceUpdate]) {
      const back = UPDATE_CODEC.decode(Buffer.from(UPDATE_CODEC.encode(m) as string));
      expect(back).toEqual(m);
    }
    expect(UPDATE_CODEC).toBe(jsonCodec);
  });
});

describe('can:raw fields', () => {
  const check = TypeCompiler.Compile(CanRawFieldsSchema);

  it('describe what the scanner writes (standard, extended, empty, CAN FD)', () => {
    const frames = [
      makeFrame(0x101, [0xaa, 0xff, 0x04, 0x10], 1_705_314_600_000),
      makeFrame(0x343, [1], 1, { extended: true }),
      makeFrame(0x7ff, [], 2),
      makeFrame(0x10f, new Array<number>(64).fill(0xab), 3, { fd: true }),
    ];
    for (const f of frames) expect(check.Check(frameToStreamFields(f))).toBe(true);
    expect(frameToStreamFields(frames[0]!)).toEqual({
      id: '0x101',
      data: 'AA FF 04 10',
      ts: '1705314600000',
      dlc: '4',
    });
  });

  it('refuse lower-case bytes, a decimal id and unknown fields', () => {
    const ok = { id: '0x101', data: 'AA FF', ts: '1', dlc: '2' };
    expect(check.Check(ok)).toBe(true);
    expect(check.Check({ ...ok, data: 'aa ff' })).toBe(false);
    expect(check.Check({ ...ok, id: '257' })).toBe(false);
    expect(check.Check({ ...ok, extra: 'x' })).toBe(false);
  });
});

describe('user channel codec', () => {
  it('round-trips a prediction through MessagePack and JSON', () => {
    const uc = new UserCodec();
    const m = {
      type: 'prediction',
      prediction_type: 'yield',
      data: { kg: 1.5 },
      confidence: 0.9,
      source: 'm1',
      timestamp: 1,
    };
    expect(uc.decode(uc.encode(m, 'msgpack'))).toEqual({ value: m, codec: 'msgpack' });
    expect(uc.decode(uc.encode(m, 'json'))).toEqual({ value: m, codec: 'json' });
  });
});

describe('catalogue', () => {
  const entries = contractCatalog();

  it('names every channel, stream and key once, each schema compiles', () => {
    const names = entries.map((e) => e.name);
    expect(new Set(names).size).toBe(names.length);
    for (const e of entries) if (e.schema) expect(() => TypeCompiler.Compile(e.schema!)).not.toThrow();
    for (const n of [CAN_RAW, CAN_RAW_DEAD, ACTUATORS_COMMANDS, CONTROL_COMMAND, AUTOMATION_STATE]) {
      expect(names).toContain(n);
    }
  });

  it('every key and channel a service may touch is one of the catalogue (ACLs derive from the same names)', () => {
    const prefixes = entries.flatMap((e) =>
      e.name.split(', ').map((n) => n.replace(/ on .*$/, '').replace(/[<{].*$/, '')),
    );
    const known = (pattern: string) => {
      const p = pattern.replace(/\*.*$/, '');
      return p !== '' && prefixes.some((x) => p.startsWith(x) || x.startsWith(p));
    };
    for (const u of canopyUsers({ recordUsers: ['*'] })) {
      for (const g of u.grants) {
        for (const n of [...(g.keys ?? []), ...(g.read ?? []), ...(g.write ?? []), ...(g.channels ?? [])]) {
          expect(known(n), `${u.name}: ${n}`).toBe(true);
        }
      }
    }
  });
});

describe('docs/contracts.md', () => {
  it('is what src/contracts renders (run npm run docs:contracts after a change)', () => {
    const file = path.join(import.meta.dirname, '..', '..', 'docs', 'contracts.md');
    expect(fs.readFileSync(file, 'utf8')).toBe(renderContractsDoc());
  });

  it('would fail on a name the module has and the doc lacks', () => {
    const entries = contractCatalog();
    const doc = renderContractsDoc(entries.slice(1));
    expect(doc).not.toBe(renderContractsDoc(entries));
    expect(renderContractsDoc(entries)).toContain('`can:raw`');
  });
});
