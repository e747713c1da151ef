import net from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { bearerToken, checkToken, isRefusal, refuse } from './auth.js';
import type { ApiContext } from './context.js';

/** Query parameters that look like a credential: refused, never logged (a URL ends up in logs and history). */
const TOKEN_PARAMS = new Set(['token', 'access_token', 'api_key', 'apikey', 'auth', 'bearer']);

/** Routes anyone may read even when reads need a token: the dashboard's files (they hold no data). */
const PUBLIC_ROUTES = new Set(['/', '/*']);

/** The cookie /ws accepts the token in (set by a reverse proxy or the dashboard's own origin). */
export const TOKEN_COOKIE = 'canopy_token';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The host name of a `Host` header without its port (`[::1]:8000` → `::1`), lower-cased. */
export function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end > 0 ? h.slice(1, end) : h;
  }
  const colon = h.lastIndexOf(':');
  return colon >= 0 && h.indexOf(':') === colon ? h.slice(0, colon) : h;
}

/**
 * Whether a `Host` header may reach the API. IP literals and loopback names
 * always may (a rebinding attack needs a name); other names only when
 * configured (`CANOPY_API_ALLOWED_HOSTS`, `*` allows any).
 */
export function hostAllowed(header: string | undefined, allowed: readonly string[]): boolean {
  if (header === undefined || header === '') return false;
  const name = hostName(header);
  if (name === '' || /[\s/@]/.test(name)) return false;
  if (net.isIP(name) !== 0 || name === 'localhost' || name.endsWith('.localhost')) return true;
  return allowed.some((a) => a === '*' || a.toLowerCase() === name);
}

/**
 * Whether a browser `Origin` may open /ws or call a control endpoint: none
 * at all (not a browser), the API's own origin, or a configured one.
 */
export function originAllowed(
  origin: string | undefined,
  host: string | undefined,
  allowed: readonly string[],
): boolean {
  if (origin === undefined) return true;
  let u: URL;
  try {
    u = new URL(origin);
  } catch {
    return false;
  }
  if (u.origin === 'null') return false;
  if (host !== undefined && u.host === host.toLowerCase()) return true;
  return allowed.some((a) => a === '*' || a.replace(/\/+$/, '').toLowerCase() === u.origin);
}

/** A cookie's value from a `Cookie` header, or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      const v = part.slice(eq + 1).trim();
      try {
        return decodeURIComponent(v);
      } catch {
        return v;
      }
    }
  }
  return undefined;
}

function queryKeys(url: string): string[] {
  const q = url.indexOf('?');
  if (q < 0) return [];
  const keys: string[] = [];
  for (const pair of url.slice(q + 1).split('&')) {
    const k = pair.split('=')[0] ?? '';
    try {
      keys.push(decodeURIComponent(k.replace(/\+/g, ' ')).toLowerCase());
    } catch {
      keys.push(k.toLowerCase());
    }
  }
  return keys;
}

async function deny(
  ctx: ApiContext,
  reply: FastifyReply,
  status: number,
  code: string,
  message: string,
): Promise<FastifyReply> {
  ctx.metrics.refused(code);
  await reply
    .code(status)
    .send({ statusCode: status, error: status === 400 ? 'Bad Request' : 'Forbidden', code, message });
  return reply;
}

/**
 * The API's front door, run on every request before anything is parsed:
 * the Host allowlist (DNS rebinding), no credentials in URLs, the Origin
 * allowlist of /ws and control requests, and — when bound beyond loopback —
 * a viewer token for every read. Then the access log of control requests.
 */
export function installAccess(app: FastifyInstance, ctx: ApiContext): void {
  const o = ctx.options;
  app.addHook('onRequest', async (req, reply) => {
    if (!hostAllowed(req.headers.host, o.allowedHosts)) {
      return deny(
        ctx,
        reply,
        403,
        'API_HOST_NOT_ALLOWED',
        'this Host name is not allowed; add it to CANOPY_API_ALLOWED_HOSTS or use the address',
      );
    }
    if (queryKeys(req.url).some((k) => TOKEN_PARAMS.has(k))) {
      return deny(
        ctx,
        reply,
        400,
        'API_TOKEN_IN_URL',
        'credentials are never accepted in the URL: send Authorization: Bearer <token> (or, on /ws, the first message)',
      );
    }
    const route = req.routeOptions.url;
    const isWs = route === '/ws';
    if (
      (isWs || !SAFE_METHODS.has(req.method)) &&
      !originAllowed(req.headers.origin, req.headers.host, o.allowedOrigins)
    ) {
      return deny(
        ctx,
        reply,
        403,
        'API_ORIGIN_NOT_ALLOWED',
        'this Origin may not open /ws or send commands; add it to CANOPY_API_ALLOWED_ORIGINS',
      );
    }
    // /ws authenticates itself (first message or cookie); control routes check their own role
    if (isWs || !SAFE_METHODS.has(req.method) || route === undefined || PUBLIC_ROUTES.has(route)) return;
    const needs = route === '/api/export' || o.readAccess === 'viewer';
    if (!needs) return;
    const r = checkToken(ctx.auth, bearerToken(req), 'viewer');
    if (isRefusal(r)) {
      ctx.metrics.refused(r.code);
      return refuse(reply, r);
    }
    req.role = r.role;
    req.who = r.name;
  });

  app.addHook('onResponse', async (req: FastifyRequest, reply: FastifyReply) => {
    if (SAFE_METHODS.has(req.method) || req.routeOptions.url === undefined) return;
    const body = reply.statusCode < 400 && req.body && typeof req.body === 'object' ? req.body : undefined;
    ctx.log.info(
      {
        access: 'control',
        who: req.who ?? 'anonymous',
        role: req.role ?? null,
        method: req.method,
        route: req.routeOptions.url,
        params: req.params,
        ...(body ? { body } : {}),
        status: reply.statusCode,
        ip: req.ip,
      },
      'control request',
    );
  });
}
