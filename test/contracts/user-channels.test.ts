import { describe, expect, it } from 'vitest';
import { DecodeError, ValidationError } from '../../src/bus/errors.js';
import {
  checkUserId,
  kindOfType,
  parseUserChannel,
  userBacklogKey,
  userChannel,
  userChannelCodec,
  UserCodec,
  UserMessageValidator,
} from '../../src/contracts/user-channels.js';

describe('user channels', () => {
  const v = new UserMessageValidator();
  const codec = new UserCodec();

  it('names and parses channels; refuses ids that could escape an ACL pattern', () => {
    expect(userChannel('jamie', 'raw')).toBe('user:jamie:raw');
    expect(userBacklogKey('jamie')).toBe('user:jamie:backlog');
    expect(parseUserChannel('user:jamie:predictions')).toEqual({ user: 'jamie', kind: 'predictions' });
    expect(parseUserChannel('user:jamie:backlog')).toBeUndefined();
    expect(parseUserChannel('sensor:update')).toBeUndefined();
    for (const bad of ['', 'a*', 'a:b', 'a?', 'a[b]', 'x'.repeat(65), 'jamie raw']) {
      expect(() => checkUserId(bad)).toThrow(ValidationError);
    }
    expect(kindOfType('prediction')).toBe('predictions');
    expect(kindOfType('nope')).toBeUndefined();
  });

  it('accepts the user-channel shapes and names the field that is wrong', () => {
    expect(v.validate('raw', { type: 'raw', timestamp: 1.5, channels: { Ch0: 1, Ch1: [1, 2] }, seq: 3 }).ok).toBe(true);
    expect(v.validate('raw', { type: 'raw', timestamp: new Date(), channels: {} }).ok).toBe(true);
    expect(v.validate('predictions', { type: 'prediction', data: { w: 0.8 } }).ok).toBe(true);
    expect(v.validate('alerts', { type: 'alert', severity: 'critical', message: 'x' }).ok).toBe(true);
    const cases: [Parameters<typeof v.validate>[0], unknown, RegExp][] = [
      ['raw', { type: 'raw', timestamp: 1, channels: { Ch0: NaN } }, /\/channels\/Ch0/],
      ['raw', { type: 'raw', channels: {} }, /timestamp/],
      ['raw', { type: 'features', timestamp: 1, channels: {} }, /\/type/],
      ['features', { type: 'features', timestamp: 1 }, /features/],
      ['predictions', { type: 'prediction', data: {}, confidence: 1.5 }, /\/confidence/],
      ['commands', { type: 'command', command: '' }, /\/command/],
      ['alerts', { type: 'alert', severity: 'loud', message: 'x' }, /\/severity/],
      ['raw', 'text', /raw message/],
    ];
    for (const [kind, value, re] of cases) {
      const r = v.validate(kind, value);
      expect(r.ok, JSON.stringify(value)).toBe(false);
      if (!r.ok) expect(r.error).toMatch(re);
    }
    expect(() => v.assert('alerts', {})).toThrow(ValidationError);
  });

  it('decodes MessagePack and JSON alike; garbage is a DecodeError', () => {
    const m = { type: 'raw', timestamp: 1700000000.5, channels: { Ch0: 0.1 + 0.2 } };
    expect(codec.decode(codec.encode(m))).toEqual({ value: m, codec: 'msgpack' });
    expect(codec.decode(codec.encode(m, 'json'))).toEqual({ value: m, codec: 'json' });
    expect(codec.decode(`  ${JSON.stringify(m)}`).codec).toBe('json');
    expect(() => codec.decode(Buffer.from([0xc1]))).toThrow(DecodeError);
    expect(() => codec.decode('{nope')).toThrow(DecodeError);
    const bus = userChannelCodec('json');
    expect(bus.decode(codec.encode(m))).toEqual(m);
    expect(String(bus.encode(m))).toBe(JSON.stringify(m));
    // a Date travels as a MessagePack timestamp and comes back a Date
    const d = new Date(1700000000123);
    expect(codec.decode(codec.encode({ t: d })).value).toEqual({ t: d });
  });
});

describe('the fast raw check agrees with the schema', () => {
  it('on random messages', async () => {
    const fc = await import('fast-check');
    const { Value } = await import('@sinclair/typebox/value');
    const { RawMessageSchema } = await import('../../src/contracts/user-channels.js');
    const v = new UserMessageValidator();
    const num = fc.oneof(fc.double(), fc.integer(), fc.constant(NaN), fc.constant(Infinity));
    const val = fc.oneof(num, fc.array(num, { maxLength: 4 }), fc.string(), fc.constant(null), fc.constant([]));
    const msg = fc.record(
      {
        type: fc.constantFrom('raw', 'features', 1),
        timestamp: fc.oneof(
          fc.double(),
          fc.string({ maxLength: 70 }),
          fc.date({ noInvalidDate: true }),
          fc.constant(null),
        ),
        channels: fc.oneof(
          fc.dictionary(fc.string({ maxLength: 130 }), val, { maxKeys: 5 }),
          fc.constant([]),
          fc.constant(null),
        ),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(msg, (m) => {
        expect(v.validate('raw', m).ok).toBe(Value.Check(RawMessageSchema, m));
      }),
      { numRuns: 3000 },
    );
  });
});
