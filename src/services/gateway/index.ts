import type { ServiceHandle } from '../types.js';
import { Gateway } from './gateway.js';
import type { GatewayOptions } from './options.js';

export { Gateway, type GatewayStats } from './gateway.js';
export { GATEWAY_DEFAULTS, gatewayEnv, resolveGatewayOptions, type GatewayOptions } from './options.js';
export { loadTokens, parseTokenList, TokenStore } from './tokens.js';

/** A running gateway. */
export interface GatewayHandle extends ServiceHandle {
  gateway: Gateway;
}

/** Starts `canopy gateway` (see {@link GatewayOptions}). */
export async function start(config: Partial<GatewayOptions> = {}): Promise<GatewayHandle> {
  const gateway = await Gateway.start(config);
  return { gateway, stop: () => gateway.stop() };
}
