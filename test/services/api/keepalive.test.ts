/**
 * Requests per keep-alive connection (CANOPY_API_MAX_REQUESTS_PER_SOCKET):
 * a client pipelining on one socket gets `Connection: close` on the last
 * allowed request and 503 for what it still sends there; 0 lifts the limit;
 * a bad value is refused at start.
 */
import { describe, expect, it } from 'vitest';
import { resolveApiOptions } from '../../../src/services/api/options.js';
import { ConfigError } from '../../../src/bus/errors.js';
import { rawHttp, startApi } from './helpers.js';

const pipelined = (n: number) => 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'.repeat(n);
const statuses = (answer: string) => [...answer.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));

describe('requests per keep-alive connection', () => {
  it('after the limit: Connection: close on the last answer, 503 for more on that socket', async () => {
    const { api } = await startApi({ maxRequestsPerSocket: 3 });
    const answer = await rawHttp(api.port, pipelined(5), 3000);
    const codes = statuses(answer);
    expect(codes.slice(0, 3)).toEqual([200, 200, 200]);
    expect(codes.slice(3).every((c) => c === 503)).toBe(true);
    expect(answer.toLowerCase()).toContain('connection: close');
  });

  it('0: no limit', async () => {
    const { api } = await startApi({ maxRequestsPerSocket: 0 });
    expect(statuses(await rawHttp(api.port, pipelined(20), 3000))).toEqual(Array(20).fill(200));
  });

  it('the environment sets it; a negative or fractional value is refused', () => {
    expect(resolveApiOptions({}, { CANOPY_API_MAX_REQUESTS_PER_SOCKET: '0' }).maxRequestsPerSocket).toBe(0);
    expect(resolveApiOptions({}, {}).maxRequestsPerSocket).toBe(1000);
    for (const bad of ['-1', '2.5', 'lots']) {
      expect(() => resolveApiOptions({}, { CANOPY_API_MAX_REQUESTS_PER_SOCKET: bad })).toThrow(ConfigError);
    }
  });
});
