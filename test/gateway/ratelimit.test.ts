import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/services/gateway/session.js';

describe('the per-connection rate limiter', () => {
  it('allows the burst, then the rate; a credit covers time the gateway did not read', () => {
    let t = 0;
    const l = new RateLimiter(100, 200, () => t);
    let n = 0;
    while (l.take()) n++;
    expect(n).toBe(200);
    t += 1000; // one second: 100 more
    n = 0;
    while (l.take()) n++;
    expect(n).toBe(100);
    t += 100_000; // a long quiet time refills only up to the burst
    n = 0;
    while (l.take()) n++;
    expect(n).toBe(200);
    l.credit(5000); // paused for 5 s: 500 messages waited in the socket
    n = 0;
    while (l.take()) n++;
    expect(n).toBe(500);
  });
});
