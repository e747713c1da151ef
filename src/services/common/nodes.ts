import { CAN_NODE_SCOPE } from '../../contracts/names.js';
import type { Registry } from '../../bus/registry.js';
import { evictOldest } from '../../util/bounded.js';

/** How many nodes' last registry write the throttle remembers. */
export const NODE_THROTTLE_ENTRIES = 4096;

/** How CAN nodes seen on the bus are recorded in the registry. */
export interface NodeRegistryOptions {
  /** @defaultValue `can-node` — records are `identity:can-node:<node>`. */
  scope: string;
  /** @defaultValue 1000 — {@link NodeRegistry.seen} writes a node at most this often (STATUS frames always write). */
  minIntervalMs: number;
}

export const NODE_REGISTRY_DEFAULTS: NodeRegistryOptions = { scope: CAN_NODE_SCOPE, minIntervalMs: 1000 };

/** The record of one node, as `identity:can-node:<node>` holds it. */
export interface NodeRecord {
  node: number;
  /** ISO-8601 UTC; maintained by the registry. */
  first_seen: string;
  last_seen: string;
  seen_count: number;
  /** From the latest STATUS frame. */
  uptime_s?: number;
  errors?: number;
  /** `ok` when the STATUS error flags are 0, else `error`. */
  firmware?: 'ok' | 'error';
  /** Times the uptime went backwards (the node restarted). */
  reboots?: number;
  /** Hex CAN id of the latest frame. */
  last_can_id?: string;
}

/**
 * The CAN nodes seen on the bus, for the worker to call: {@link seen} on
 * every frame (throttled per node), {@link status} on every STATUS frame
 * (uptime, error flags → firmware status, reboots counted).
 */
export class NodeRegistry {
  readonly options: NodeRegistryOptions;
  readonly #registry: Registry;
  readonly #lastWrite = new Map<number, number>();

  constructor(registry: Registry, options: Partial<NodeRegistryOptions> = {}) {
    this.options = { ...NODE_REGISTRY_DEFAULTS, ...options };
    this.#registry = registry;
  }

  /** A frame of `node` arrived; written at most every `minIntervalMs`. Returns whether it wrote. */
  async seen(node: number, canId?: string, now = Date.now()): Promise<boolean> {
    const last = this.#lastWrite.get(node);
    if (last !== undefined && now - last < this.options.minIntervalMs) return false;
    this.#lastWrite.set(node, now);
    // node numbers come from CAN ids (29-bit ids allow millions): remember the newest ones only
    evictOldest(this.#lastWrite, NODE_THROTTLE_ENTRIES);
    await this.#registry.touch(
      this.options.scope,
      String(node),
      { node, ...(canId ? { last_can_id: canId } : {}) },
      new Date(now),
    );
    return true;
  }

  /** A STATUS frame of `node`: records uptime, error flags, firmware status, and counts a reboot when the uptime went back. */
  async status(node: number, s: { uptime_s: number; errors: number }, now = Date.now()): Promise<NodeRecord> {
    const id = String(node);
    const prev = await this.#registry.read<NodeRecord>(this.options.scope, id);
    const rebooted = prev?.uptime_s !== undefined && s.uptime_s < prev.uptime_s;
    const fields = {
      node,
      uptime_s: s.uptime_s,
      errors: s.errors,
      firmware: s.errors === 0 ? ('ok' as const) : ('error' as const),
      reboots: (prev?.reboots ?? 0) + (rebooted ? 1 : 0),
    };
    this.#lastWrite.set(node, now);
    await this.#registry.touch(this.options.scope, id, fields, new Date(now));
    return (await this.#registry.read<NodeRecord>(this.options.scope, id)) as NodeRecord;
  }

  /** Every node record, by node number. */
  async list(): Promise<NodeRecord[]> {
    const all = await this.#registry.list<NodeRecord>(this.options.scope);
    return all.map((e) => e.data).sort((a, b) => a.node - b.node);
  }
}
