import type { Logger } from '../../util/log.js';
import { startServiceRuntime, type ServiceRuntime } from '../common/runtime.js';
import type { ServiceHandle } from '../types.js';
import { Gateway } from './gateway.js';
import { resolveGatewayOptions, type GatewayOptions } from './options.js';

export { Gateway, RELAY_SCOPE, type GatewayDeps, type GatewayStats } from './gateway.js';
export { GATEWAY_DEFAULTS, gatewayEnv, resolveGatewayOptions, type GatewayOptions } from './options.js';
export { loadTokens, parseTokenList, TokenStore } from './tokens.js';

/** A running gateway. */
export interface GatewayHandle extends ServiceHandle {
  gateway: Gateway;
  runtime: ServiceRuntime;
}

/**
 * Starts `canopy gateway` as a Canopy service: the fabric runtime
 * (heartbeat `heartbeat:{instance}` with the gateway's counters, admin
 * mailbox) and the gateway on the runtime's connection and subscriber.
 */
export async function start(config: Partial<GatewayOptions> & { log?: Logger } = {}): Promise<GatewayHandle> {
  const { log, ...opts } = config;
  resolveGatewayOptions(opts); // refuse bad options before connecting anywhere
  const ref: { gw?: Gateway } = {};
  const runtime = await startServiceRuntime({
    service: 'gateway',
    ...(log ? { log } : {}),
    connection: opts.redis ?? {},
    counters: () => {
      const s = ref.gw?.stats;
      return s ? { relays: s.connections, received: s.received, published: s.published, delivered: s.delivered } : {};
    },
  });
  try {
    ref.gw = await Gateway.start(
      { logger: runtime.log, ...opts },
      { conn: runtime.conn, subscriber: runtime.subscriber, registry: runtime.registry },
    );
  } catch (err) {
    await runtime.close();
    throw err;
  }
  const gateway = ref.gw;
  return {
    gateway,
    runtime,
    stop: async () => {
      await gateway.stop();
      await runtime.close();
    },
  };
}
