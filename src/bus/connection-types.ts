/** `ready` serves commands; `reconnecting` queues them until the timeout. */
export type Health = 'connecting' | 'ready' | 'reconnecting' | 'closed';

/** A move to another primary (Sentinel failover): addresses only, never credentials. */
export interface SwitchInfo {
  from: string;
  to: string;
  reason: string;
}

/** Where a connection is and how often it moved: the `redis` field of a heartbeat. */
export interface RedisTopologyInfo {
  mode: 'single' | 'sentinel' | 'cluster';
  /** `host:port` of the server commands go to now. */
  primary: string;
  /** Times the connection moved to another primary. */
  switches: number;
  /** ISO-8601 UTC of the last move, or null. */
  lastSwitchAt: string | null;
}

export interface ConnectionEvents {
  health: [state: Health, previous: Health];
  /** A transport or health-check error, already mapped to the taxonomy. */
  error: [err: Error];
  /** Emitted after a reconnect became ready again (not on the first connect), and after a switch. */
  reconnected: [];
  /**
   * The connection moved to another primary (a Sentinel failover): `client`
   * is a new node-redis client now. Emitted before `reconnected`.
   */
  switched: [info: SwitchInfo];
}
