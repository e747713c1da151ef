import calculateSlot from 'cluster-key-slot';

type Arg = string | Buffer;

/** Commands that name no key: any node answers (or node-redis fans them out by its policy table). */
const KEYLESS = new Set([
  'ACL',
  'CLIENT',
  'CLUSTER',
  'COMMAND',
  'CONFIG',
  'DBSIZE',
  'ECHO',
  'HELLO',
  'INFO',
  'LATENCY',
  'MEMORY',
  'PING',
  'PUBLISH',
  'PUBSUB',
  'ROLE',
  'SCRIPT',
  'SLOWLOG',
  'TIME',
  'WAIT',
]);

/** Commands whose key is the third word (after a subcommand). */
const KEY_AFTER_SUBCOMMAND = new Set(['XGROUP', 'XINFO', 'OBJECT']);

/** Commands whose keys follow a `STREAMS` word. */
const KEYS_AFTER_STREAMS = new Set(['XREAD', 'XREADGROUP']);

/** Scripts: `EVALSHA sha numkeys key…`. */
const EVAL = new Set(['EVAL', 'EVALSHA', 'EVAL_RO', 'EVALSHA_RO', 'FCALL', 'FCALL_RO']);

/**
 * The key a raw command (`sendCommand([...])`) is routed by on a cluster:
 * undefined for keyless commands (any node), the word after `STREAMS` for
 * XREAD/XREADGROUP, the third word for XGROUP/XINFO, the first key of a
 * script, and the second word for every other command (GET, SET, XADD,
 * XACK, XPENDING, XCLAIM, XAUTOCLAIM, XRANGE, SPUBLISH, …).
 */
export function routingKey(args: readonly Arg[]): Arg | undefined {
  const name = String(args[0] ?? '').toUpperCase();
  if (name === '' || KEYLESS.has(name)) return undefined;
  if (KEY_AFTER_SUBCOMMAND.has(name)) return args[2];
  if (KEYS_AFTER_STREAMS.has(name)) {
    // XREADGROUP GROUP <group> <consumer>: a consumer may be called STREAMS
    const from = name === 'XREADGROUP' ? 4 : 1;
    const at = args.findIndex((a, i) => i >= from && String(a).toUpperCase() === 'STREAMS');
    return at > 0 ? args[at + 1] : undefined;
  }
  if (EVAL.has(name)) return Number(args[2]) > 0 ? args[3] : undefined;
  return args[1];
}

/** Typed node-redis methods whose first argument is not a key. */
const TYPED_KEYLESS = new Set(['publish', 'PUBLISH', 'ping', 'PING', 'info', 'INFO', 'time', 'TIME']);

/**
 * The key a typed call (`multi().set(key, …)`, `mGet([k1, k2])`) is routed
 * by: its first argument, or the first element of an array argument.
 */
export function typedRoutingKey(method: string, args: readonly unknown[]): Arg | undefined {
  if (TYPED_KEYLESS.has(method)) return undefined;
  const a = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
  return typeof a === 'string' || Buffer.isBuffer(a) ? a : undefined;
}

/** The cluster hash slot of a key (CRC16 of its hash tag or whole name, mod 16384). */
export function keySlot(key: Arg): number {
  return calculateSlot(key);
}

/** Node-local settings: sent to every node of a cluster, replicas included (ACLs and config are not replicated). */
const EVERY_NODE = new Set(['ACL SETUSER', 'ACL DELUSER', 'ACL LOAD', 'CONFIG SET', 'SCRIPT FLUSH', 'SCRIPT LOAD']);

/** Whether a raw command changes a node-local setting that every node must get. */
export function runsOnEveryNode(args: readonly Arg[]): boolean {
  return EVERY_NODE.has(`${String(args[0] ?? '').toUpperCase()} ${String(args[1] ?? '').toUpperCase()}`);
}
