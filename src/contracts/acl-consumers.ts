import { ConfigError } from '../bus/errors.js';
import type { AclGrant, AclUserSpec } from '../bus/acl.js';
import {
  BACK_KINDS,
  FORWARD_KINDS,
  isBackKind,
  isForwardKind,
  isUserId,
  userChannel,
  type BackKind,
  type ForwardKind,
} from './user-channels.js';

/** An external consumer (an ML model, a dashboard) scoped to named users' channels. */
export interface ConsumerSpec {
  /** Consumer name; the ACL user is `consumer-<name>`. */
  name: string;
  /** The users whose channels it may use. */
  users: readonly string[];
  /** @defaultValue `['raw', 'features']` — channels it may subscribe to. */
  subscribe?: readonly ForwardKind[];
  /** @defaultValue `['predictions']` — channels it may publish to. */
  publish?: readonly BackKind[];
}

export const CONSUMER_PREFIX = 'consumer-';

/** The subscribe/unsubscribe commands (PSUBSCRIBE needs an exact pattern grant, so consumers get none). */
const SUBSCRIBE = ['subscribe', 'unsubscribe'];

/**
 * One ACL user per consumer: SUBSCRIBE to `user:{id}:raw|features` and
 * PUBLISH to `user:{id}:predictions` of its named users, nothing more
 * (no keys, no other channels, no PSUBSCRIBE).
 */
export function consumerUser(c: ConsumerSpec): AclUserSpec {
  if (!/^[A-Za-z0-9_.-]{1,48}$/.test(c.name)) throw new ConfigError(`invalid consumer name ${JSON.stringify(c.name)}`);
  if (c.users.length === 0) throw new ConfigError(`consumer ${c.name}: name at least one user`);
  for (const u of c.users)
    if (!isUserId(u)) throw new ConfigError(`consumer ${c.name}: invalid user id ${JSON.stringify(u)}`);
  const sub = c.subscribe ?? ['raw', 'features'];
  const pub = c.publish ?? ['predictions'];
  const grants: AclGrant[] = [];
  if (sub.length > 0)
    grants.push({ commands: SUBSCRIBE, channels: c.users.flatMap((u) => sub.map((k) => userChannel(u, k))) });
  if (pub.length > 0)
    grants.push({ commands: ['publish'], channels: c.users.flatMap((u) => pub.map((k) => userChannel(u, k))) });
  return {
    name: `${CONSUMER_PREFIX}${c.name}`,
    description: `consumer ${c.name}: subscribes to ${sub.join('/')} and publishes ${pub.join('/')} of ${c.users.join(', ')}`,
    grants,
  };
}

/**
 * Parses `name=jamie,alex` with optional `:sub=raw,features` and
 * `:pub=predictions,alerts` parts, e.g. `ml=jamie:pub=predictions,alerts`.
 */
export function parseConsumerSpec(text: string): ConsumerSpec {
  const [head, ...parts] = text.split(':');
  const eq = (head ?? '').indexOf('=');
  if (eq <= 0) throw new ConfigError(`consumer ${JSON.stringify(text)}: expected name=user1,user2[:sub=…][:pub=…]`);
  const spec: ConsumerSpec = { name: head!.slice(0, eq), users: splitList(head!.slice(eq + 1)) };
  for (const p of parts) {
    const [k, v = ''] = p.split('=', 2);
    const list = splitList(v);
    if (k === 'sub') {
      for (const x of list)
        if (!isForwardKind(x))
          throw new ConfigError(`consumer ${spec.name}: cannot subscribe to "${x}" (${FORWARD_KINDS.join(', ')})`);
      spec.subscribe = list as ForwardKind[];
    } else if (k === 'pub') {
      for (const x of list)
        if (!isBackKind(x))
          throw new ConfigError(`consumer ${spec.name}: cannot publish to "${x}" (${BACK_KINDS.join(', ')})`);
      spec.publish = list as BackKind[];
    } else {
      throw new ConfigError(`consumer ${spec.name}: unknown part "${p}" (sub=…, pub=…)`);
    }
  }
  consumerUser(spec);
  return spec;
}

function splitList(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
