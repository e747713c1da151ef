import { DecodeLimitError } from '../../bus/decode-limits.js';
import type { UserCodec, UserCodecName, UserMessageValidator, ForwardKind } from '../../contracts/user-channels.js';
import { CLOSE, type ErrorFrame } from '../../gateway-protocol/index.js';
import type { GatewayOptions } from './options.js';
import type { RelaySession } from './session.js';
import type { GatewayCounters } from './stats.js';

/** What the inbound path needs from the gateway. */
export interface InboundDeps {
  options: Pick<GatewayOptions, 'maxMessageBytes' | 'publishCodec' | 'logger'>;
  codec: UserCodec;
  validator: UserMessageValidator;
  counters: GatewayCounters;
  /** Publishes on `user:{id}:{kind}`; `done(ok)` when Redis answered. */
  publish: (user: string, kind: ForwardKind, payload: Buffer, done: (ok: boolean) => void) => void;
}

/**
 * One message from a relay, in order: rate limit (close 1008), size (close
 * 1009), decode with limits (error `malformed` / `limit`), type and shape
 * (error `invalid`), then publish (re-encoded only when the relay's codec
 * is not the one published). Refusals are counted per session and gateway.
 */
export function handleRelayMessage(d: InboundDeps, s: RelaySession, data: Buffer): void {
  if (s.closing) return;
  const { counters, options } = d;
  counters.received++;
  s.stats.received++;
  if (!s.limiter.take()) {
    counters.closedRate++;
    options.logger.warn({ user: s.user, connection: s.id }, 'relay over its rate limit; closing');
    s.close(CLOSE.policy, `rate limit exceeded: more than ${s.limiter.rate} messages/s (burst ${s.limiter.burst})`);
    return;
  }
  if (data.length > options.maxMessageBytes) {
    counters.closedTooBig++;
    s.close(CLOSE.tooBig, `message too big: ${data.length} bytes, limit ${options.maxMessageBytes}`);
    return;
  }
  let value: unknown;
  let codec: UserCodecName;
  try {
    ({ value, codec } = d.codec.decode(data));
  } catch (err) {
    reject(d, s, err instanceof DecodeLimitError ? 'limit' : 'malformed', (err as Error).message);
    return;
  }
  const type = (value as { type?: unknown } | null)?.type;
  const kind: ForwardKind | undefined = type === 'raw' ? 'raw' : type === 'features' ? 'features' : undefined;
  if (!kind) {
    reject(d, s, 'invalid', `type must be "raw" or "features", got ${JSON.stringify(type) ?? 'nothing'}`);
    return;
  }
  const r = d.validator.validate(kind, value);
  if (!r.ok) {
    reject(d, s, 'invalid', r.error);
    return;
  }
  const payload = codec === options.publishCodec ? data : d.codec.encode(value, options.publishCodec);
  d.publish(s.user, kind, payload, (ok) => {
    if (ok) s.stats.published++;
    else s.unpublished();
  });
}

function reject(d: InboundDeps, s: RelaySession, code: ErrorFrame['code'], error: string): void {
  s.stats.rejected++;
  if (code === 'malformed') d.counters.rejectedMalformed++;
  else if (code === 'limit') d.counters.rejectedLimit++;
  else d.counters.rejectedInvalid++;
  s.send({ type: 'error', code, error });
}
