import http from 'node:http';
import type { Duplex } from 'node:stream';
import { isUserCodecName, isUserId, type UserCodecName } from '../../contracts/user-channels.js';
import { DEFAULT_CODEC, parseStreamId, RELAY_PATH } from '../../gateway-protocol/index.js';
import type { GatewayOptions } from './options.js';

/** A relay's upgrade request, read from the request line and headers, authenticated. */
export interface RelayRequest {
  user: string;
  codec: UserCodecName;
  resume: string | undefined;
}

/** Why an upgrade request is refused before authentication. */
export interface Refusal {
  status: number;
  reason: string;
}

/** Longest request target the gateway reads (anything longer is refused with 414). */
export const MAX_TARGET_LENGTH = 2048;

const PATH_RE = new RegExp(`^${RELAY_PATH}/([^/]+)$`);

/**
 * Reads `GET /relay/<user>?codec=…&resume=…` with `Authorization: Bearer
 * <token>` and checks the token with `verify` (before looking at the
 * query, so an unauthenticated client learns nothing more than 401). Never
 * throws: anything it cannot read (a target `new URL` refuses such as
 * `//[`, bad percent-encoding, a bad codec or resume id) is a
 * {@link Refusal} with a 4xx status and a reason.
 */
export function parseRelayRequest(
  target: string | undefined,
  authorization: unknown,
  verify: (user: string, token: string) => boolean,
): RelayRequest | Refusal {
  const t = target ?? '/';
  if (t.length > MAX_TARGET_LENGTH) return { status: 414, reason: `request target longer than ${MAX_TARGET_LENGTH}` };
  let url: URL;
  try {
    url = new URL(t, 'http://gateway');
  } catch {
    return { status: 400, reason: 'bad request target' };
  }
  const m = PATH_RE.exec(url.pathname);
  if (!m) return { status: 404, reason: `not found; relays connect to ${RELAY_PATH}/<user>` };
  let user: string;
  try {
    user = decodeURIComponent(m[1]!);
  } catch {
    return { status: 400, reason: 'bad user in path' };
  }
  const auth = typeof authorization === 'string' ? /^Bearer\s+(\S{1,512})\s*$/i.exec(authorization) : null;
  if (!auth || !isUserId(user) || !verify(user, auth[1]!)) {
    return {
      status: 401,
      reason: 'authentication failed: unknown user or wrong token (Authorization: Bearer <token>)',
    };
  }
  const codec = url.searchParams.get('codec') ?? DEFAULT_CODEC;
  if (!isUserCodecName(codec)) {
    return { status: 400, reason: `codec must be msgpack or json, got ${JSON.stringify(codec.slice(0, 40))}` };
  }
  const resume = url.searchParams.get('resume') ?? undefined;
  if (resume !== undefined && !parseStreamId(resume)) {
    return {
      status: 400,
      reason: `resume must be a stream id like 1700000000000-0, got ${JSON.stringify(resume.slice(0, 40))}`,
    };
  }
  return { user, codec, resume };
}

export function isRefusal(r: RelayRequest | Refusal): r is Refusal {
  return 'status' in r;
}

/**
 * Answers a raw socket (before or instead of an upgrade) with a plain-text
 * HTTP response and closes it; destroys it after `lingerMs` if the peer
 * does not read or close (a half-open client costs nothing for long).
 */
export function refuseSocket(socket: Duplex, status: number, reason: string, lingerMs = 5000): void {
  const text = `${reason.replace(/[\r\n]/g, ' ')}\n`;
  try {
    if (socket.writable) {
      socket.end(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
          `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
      );
    }
  } catch {
    // the socket is gone already
  }
  const timer = setTimeout(() => socket.destroy(), lingerMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

/**
 * The gateway's HTTP server: request headers must arrive within
 * `handshakeTimeoutMs` (checked often enough to matter), headers are at
 * most 16 KiB, at most `maxConnections` sockets are held.
 */
export function createGatewayServer(o: Pick<GatewayOptions, 'handshakeTimeoutMs' | 'maxConnections'>): http.Server {
  const server = http.createServer({
    headersTimeout: o.handshakeTimeoutMs,
    requestTimeout: o.handshakeTimeoutMs,
    // how often Node looks for requests past those timeouts (its default, 30 s, would let them hang that long)
    connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(o.handshakeTimeoutMs / 4))),
    maxHeaderSize: 16 * 1024,
  });
  server.maxConnections = o.maxConnections;
  return server;
}

/** Answers a request Node's HTTP parser refused: 431 (headers too large), 408 (too slow) or 400; that socket only. */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const reason = status === 431 ? 'headers too large' : status === 408 ? 'request timeout' : 'bad request';
  refuseSocket(socket, status, reason, 1000);
}
