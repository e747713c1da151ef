import { Gateway } from '../../src/services/gateway/gateway.js';
import type { GatewayOptions } from '../../src/services/gateway/options.js';
import { startRedis, type TestRedis } from '../support/redis.js';

export const TOKENS = new Map([
  ['jamie', 'jamie-token-0123456789abcdef'],
  ['alex', 'alex-token-0123456789abcdef'],
]);

/** A real redis-server and a gateway on a free port. */
export async function startGateway(
  opts: Partial<GatewayOptions> = {},
  redis?: TestRedis,
): Promise<{ redis: TestRedis; gateway: Gateway }> {
  const r = redis ?? (await startRedis());
  const gateway = await Gateway.start({
    port: 0,
    tokens: TOKENS,
    redis: { url: r.url, healthCheckIntervalMs: 0 },
    ...opts,
  });
  return { redis: r, gateway };
}

/** Resolves when `cond()` holds (polling), rejects after `ms` with `what`. */
export async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
