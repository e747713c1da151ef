import type { HubStats } from './hub.js';

/** Gateway-wide counters. */
export interface GatewayStats extends HubStats {
  /** Back-channel messages refused by the subscriber (undecodable or not matching their shape). */
  backMalformed: number;
  connections: number;
  connectionsTotal: number;
  authFailures: number;
  refusedUpgrades: number;
  received: number;
  rejectedMalformed: number;
  rejectedInvalid: number;
  /** Messages over a decode limit (nesting depth, a length header beyond the message): error code `limit`. */
  rejectedLimit: number;
  /** HTTP requests that could not be parsed (bad request line, URL or headers): answered 400, socket closed. */
  badRequests: number;
  /** Exceptions caught in a per-connection or per-message handler (the connection is closed with 1011). */
  handlerErrors: number;
  closedRate: number;
  closedTooBig: number;
  closedSlow: number;
  delivered: number;
  replayed: number;
  /** Times relays were paused because Redis fell behind. */
  backpressure: number;
}

/** The counters the gateway keeps itself (the rest come from the hub and the sessions). */
export type GatewayCounters = Omit<GatewayStats, keyof HubStats | 'backMalformed' | 'connections'>;

export function gatewayCounters(): GatewayCounters {
  return {
    connectionsTotal: 0,
    authFailures: 0,
    refusedUpgrades: 0,
    received: 0,
    rejectedMalformed: 0,
    rejectedInvalid: 0,
    rejectedLimit: 0,
    badRequests: 0,
    handlerErrors: 0,
    closedRate: 0,
    closedTooBig: 0,
    closedSlow: 0,
    delivered: 0,
    replayed: 0,
    backpressure: 0,
  };
}
