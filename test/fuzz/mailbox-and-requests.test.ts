import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAdminMessage } from '../../src/bus/mailbox.js';
import { isRefusal, parseRelayRequest } from '../../src/services/gateway/upgrade.js';

/**
 * Fuzzing two more parsers of outside input: admin messages (anyone who may
 * PUBLISH on `admin:{instance}` or push to its queue) and the request line
 * and Authorization header of a relay's upgrade request.
 */

const adminish = fc.record(
  {
    id: fc.oneof(fc.uuid(), fc.string(), fc.integer(), fc.constant(null)),
    command: fc.oneof(fc.constantFrom('ping', 'help', 'set-log-level'), fc.string({ maxLength: 300 }), fc.integer()),
    args: fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constant(undefined)),
    from: fc.oneof(fc.string(), fc.integer()),
    sent_at: fc.oneof(
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      fc.string(),
    ),
    expires_at: fc.oneof(
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      fc.string(),
      fc.boolean(),
    ),
    reply_to: fc.oneof(fc.constant('admin:reply:x'), fc.string(), fc.dictionary(fc.string(), fc.string())),
  },
  { requiredKeys: [] },
);

describe('fuzz: admin messages and relay upgrade requests', () => {
  it('admin messages: an AdminMessage with object args, or the reason it is refused; never an exception', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          adminish.map((m) => JSON.stringify(m)),
          fc.string({ unit: 'binary', maxLength: 300 }),
          fc.json({ depthSize: 'small' }),
          fc.integer({ min: 30, max: 5000 }).map((n) => `{"id":"a","command":"ping","args":${'['.repeat(n)}`),
        ),
        (raw) => {
          const r = parseAdminMessage(raw, 65536);
          if (typeof r === 'string') return;
          expect(typeof r.id).toBe('string');
          expect(typeof r.command).toBe('string');
          expect(typeof r.args === 'object' && r.args !== null && !Array.isArray(r.args)).toBe(true);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('relay upgrade requests: an authenticated request or a 4xx refusal; never an exception', () => {
    const target = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc
        .tuple(
          fc.constantFrom('/relay/', '//relay/', '/relay', 'http://[', '//[', '/relay/%', '/'),
          fc.oneof(fc.constantFrom('jamie', 'alex', '%E0%A4%A', '..', 'ja*'), fc.string({ maxLength: 70 })),
          fc.constantFrom('', '?codec=json', '?codec=msgpack&resume=1-0', '?resume=x', '?codec=%ZZ', '#[', '?&&=='),
        )
        .map((p) => p.join('')),
      fc.string({ maxLength: 3000 }).map((s) => `/relay/jamie?${s}`),
    );
    const auth = fc.oneof(
      fc.constant(undefined),
      fc.constant('Bearer good-token-0123456789'),
      fc.string({ unit: 'binary', maxLength: 100 }),
      fc.string({ maxLength: 600 }).map((s) => `Bearer ${s}`),
      fc.array(fc.string()),
    );
    fc.assert(
      fc.property(target, auth, (t, a) => {
        const r = parseRelayRequest(t, a, (_u, tok) => tok === 'good-token-0123456789');
        if (isRefusal(r)) {
          expect(r.status).toBeGreaterThanOrEqual(400);
          expect(r.status).toBeLessThan(500);
          expect(r.reason).not.toMatch(/[\r\n]/);
        } else {
          expect(a).toBe('Bearer good-token-0123456789');
          expect(['msgpack', 'json']).toContain(r.codec);
        }
      }),
      { numRuns: 5000 },
    );
  });
});
