import crypto from 'node:crypto';
import type http from 'node:http';
import type { WebSocket } from 'ws';
import type { UserCodec, UserCodecName } from '../../contracts/user-channels.js';
import { CLOSE, type WelcomeFrame } from '../../gateway-protocol/index.js';
import type { BackMessage } from './hub.js';
import { handleRelayMessage, type InboundDeps } from './inbound.js';
import type { GatewayOptions } from './options.js';
import type { RelayTable } from './relays.js';
import { RelaySession } from './session.js';
import type { GatewayCounters } from './stats.js';

/** What a new relay connection needs from the gateway that accepted it. */
export interface SessionContext {
  readonly options: GatewayOptions;
  readonly codec: UserCodec;
  readonly inbound: InboundDeps;
  readonly relays: RelayTable;
  readonly counters: GatewayCounters;
  /** Whether relay sockets are paused for backpressure right now. */
  paused(): boolean;
  /** Runs a handler of outside input; an exception runs `onError` (closes that connection), counted and logged. */
  guarded(where: string, fn: () => void, onError: () => void): void;
  /** A log line of one kind at most once a second. */
  warn(kind: string, obj: Record<string, unknown>, msg: string): void;
  /** Writes the session's identity entry (who, from where, its counters). */
  identity(session: RelaySession, extra: Record<string, unknown>): void;
  /** Removes the session's identity entry. */
  forget(session: RelaySession): void;
  /** The user's back-channel messages after `resume`, bounded in count and bytes. */
  replay(
    user: string,
    resume: string,
    max: number,
    maxBytes: number,
  ): Promise<{ messages: BackMessage[]; truncated: boolean }>;
}

/**
 * A relay whose upgrade was accepted: its session, its socket's handlers,
 * and the welcome — at once, or after replaying the backlog it resumes from.
 */
export function openRelaySession(
  ctx: SessionContext,
  ws: WebSocket,
  req: http.IncomingMessage,
  user: string,
  codec: UserCodecName,
  resume?: string,
): void {
  const o = ctx.options;
  const session = new RelaySession(
    crypto.randomBytes(6).toString('hex'),
    user,
    ws,
    codec,
    ctx.codec,
    {
      ratePerSecond: o.ratePerSecond,
      rateBurst: o.rateBurst,
      maxBufferedBytes: o.maxBufferedBytes,
      maxPending: o.backlogMaxReplay,
    },
    resume,
  );
  ctx.relays.add(session);
  ctx.counters.connectionsTotal++;
  const log = o.logger;
  log.info({ user, connection: session.id, remote: req.socket.remoteAddress, codec, resume }, 'relay connected');
  ctx.identity(session, { remote: req.socket.remoteAddress, codec, connected_at: new Date().toISOString() });
  ws.on('pong', () => (session.alive = true));
  ws.on('message', (data: Buffer) =>
    ctx.guarded(
      'message',
      () => handleRelayMessage(ctx.inbound, session, data),
      () => session.close(CLOSE.internal, 'internal error'),
    ),
  );
  if (ctx.paused()) ws.pause();
  ws.on('error', (err) => ctx.warn('socket', { user, connection: session.id, err: err.message }, 'relay socket error'));
  ws.on('close', (code, reason) => {
    ctx.relays.remove(session);
    session.closed();
    if (session.slow) ctx.counters.closedSlow++;
    ctx.forget(session);
    log.info({ user, connection: session.id, code, reason: reason.toString(), ...session.stats }, 'relay disconnected');
  });
  const welcome = (replayed: number): WelcomeFrame => ({
    type: 'welcome',
    user,
    connection: session.id,
    replayed,
    limits: { maxMessageBytes: o.maxMessageBytes, ratePerSecond: o.ratePerSecond, rateBurst: o.rateBurst },
  });
  if (resume === undefined) {
    session.send(welcome(0));
    return;
  }
  const internal = () => session.close(CLOSE.internal, 'internal error');
  // a replay never reads much more than the relay may have waiting (more would close it as too slow anyway)
  ctx.replay(user, resume, o.backlogMaxReplay, o.maxBufferedBytes).then(
    ({ messages, truncated }) =>
      ctx.guarded(
        'replay',
        () => {
          session.send(welcome(messages.length));
          session.finishReplay(messages, truncated);
          ctx.counters.replayed += messages.length;
        },
        internal,
      ),
    (err: unknown) =>
      ctx.guarded(
        'replay',
        () => {
          log.warn({ user, connection: session.id, err: (err as Error).message }, 'backlog replay failed');
          session.send({ type: 'error', code: 'unavailable', error: 'backlog unavailable; live messages only' });
          session.send(welcome(0));
          session.finishReplay([]);
        },
        internal,
      ),
  );
}
