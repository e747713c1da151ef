import { MultiErrorReply } from '@redis/client';
import { keySlot, routingKey, typedRoutingKey } from './routing.js';

type Arg = string | Buffer;

/** One queued command: raw arguments (`addCommand`) or a typed method call. */
type Queued = { raw: Arg[]; key: Arg | undefined } | { method: string; args: unknown[]; key: Arg | undefined };

/** The part of node-redis's cluster multi this batch drives. */
export interface ClusterMultiLike {
  addCommand(firstKey: Arg | undefined, isReadonly: boolean | undefined, args: Arg[]): ClusterMultiLike;
  exec(): Promise<unknown[]>;
  execAsPipeline(): Promise<unknown[]>;
}

/** What a batch needs from the cluster: a node-redis cluster multi routed by a key. */
export type MultiFactory = (routing: Arg | undefined) => ClusterMultiLike;

/**
 * `multi()` for a cluster, with the single-server client's surface
 * (`addCommand(args)`, typed methods, `exec()`, `execAsPipeline()`).
 * Commands are grouped by hash slot; each group runs as one node-redis
 * cluster MULTI (or pipeline) on the slot's master and the replies come back
 * in the order the commands were queued. A transaction whose keys share a
 * slot stays one atomic MULTI; one that spans slots runs as one MULTI per
 * slot (atomic per slot only — see docs/scaling-cluster.md).
 */
export class ClusterBatch {
  readonly #factory: MultiFactory;
  readonly #queue: Queued[] = [];

  constructor(factory: MultiFactory) {
    this.#factory = factory;
  }

  /** Raw command, routed by {@link routingKey}. */
  addCommand(args: Arg[]): this {
    this.#queue.push({ raw: args, key: routingKey(args) });
    return this;
  }

  /** A typed call (`set`, `hIncrBy`, `publish`, …), routed by its first key argument. */
  queueTyped(method: string, args: unknown[]): this {
    this.#queue.push({ method, args, key: typedRoutingKey(method, args) });
    return this;
  }

  exec(): Promise<unknown[]> {
    return this.#run(false);
  }

  execAsPipeline(): Promise<unknown[]> {
    return this.#run(true);
  }

  /** Indices of the queued commands per slot, in queue order; keyless commands join the first group. */
  groups(): number[][] {
    const bySlot = new Map<number, number[]>();
    const keyless: number[] = [];
    this.#queue.forEach((q, i) => {
      if (q.key === undefined) return keyless.push(i);
      const slot = keySlot(q.key);
      const g = bySlot.get(slot);
      if (g) g.push(i);
      else bySlot.set(slot, [i]);
    });
    const out = [...bySlot.values()];
    if (keyless.length > 0) {
      if (out.length === 0) out.push(keyless);
      else out[0] = [...(out[0] as number[]), ...keyless].sort((a, b) => a - b);
    }
    return out;
  }

  async #run(pipeline: boolean): Promise<unknown[]> {
    const groups = this.groups();
    const replies: unknown[] = new Array<unknown>(this.#queue.length);
    const errors: number[] = [];
    const settled = await Promise.allSettled(
      groups.map(async (idx) => {
        let m = this.#factory(idx.map((i) => this.#queue[i]?.key).find((k) => k !== undefined));
        for (const i of idx) {
          const q = this.#queue[i] as Queued;
          if ('raw' in q) m = m.addCommand(q.key, undefined, q.raw);
          else m = (m as unknown as Record<string, (...a: unknown[]) => ClusterMultiLike>)[q.method]!(...q.args);
        }
        try {
          return pipeline ? await m.execAsPipeline() : await m.exec();
        } catch (err) {
          if (err instanceof MultiErrorReply) return err.replies as unknown[];
          throw err;
        }
      }),
    );
    settled.forEach((s, g) => {
      if (s.status === 'rejected') throw s.reason;
      (groups[g] as number[]).forEach((i, j) => {
        replies[i] = s.value[j];
        if (s.value[j] instanceof Error) errors.push(i);
      });
    });
    if (errors.length > 0)
      throw new MultiErrorReply(
        replies as never,
        errors.sort((a, b) => a - b),
      );
    return replies;
  }
}

/** A {@link ClusterBatch} behind a proxy, so `multi().set(…).hIncrBy(…)` chains like node-redis. */
export function clusterMulti(factory: MultiFactory): ClusterBatch {
  const batch = new ClusterBatch(factory);
  const proxy: ClusterBatch = new Proxy(batch, {
    get(target, prop, receiver) {
      if (typeof prop !== 'string' || prop in target) {
        const v = Reflect.get(target, prop, target) as unknown;
        if (typeof v !== 'function') return v;
        return (...a: unknown[]) => {
          const r = (v as (...x: unknown[]) => unknown).apply(target, a);
          return r === target ? receiver : r;
        };
      }
      return (...args: unknown[]) => {
        target.queueTyped(prop, args);
        return receiver;
      };
    },
  });
  return proxy;
}
