import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { ConfigError } from '../../bus/errors.js';

/** Who may do what: each role includes the ones before it. */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

interface TokenEntry {
  role: Role;
  /** Who the token belongs to, for the access log: `operator@alice:<token>` → `alice`. */
  name: string;
  digest: Buffer;
}

/** Who presented a valid token: its role and its name (never the token). */
export interface Identity {
  role: Role;
  name: string;
}

/**
 * The API tokens (bearer tokens with a role). Tokens are kept only as
 * SHA-256 digests and compared in constant time; none is ever logged.
 */
export class TokenAuth {
  #entries: TokenEntry[];
  /** Where a person finds a token (said in every 401/403): the quick start's `operator.token`, or the docs. */
  hint = 'ask whoever runs Canopy for a token (CANOPY_API_TOKENS, docs/operations.md)';

  private constructor(entries: TokenEntry[]) {
    this.#entries = entries;
  }

  /** Takes the tokens of `next` in place of these (a reload: every holder of this object sees them at once). */
  replaceWith(next: TokenAuth): void {
    this.#entries = next.#entries;
    this.hint = next.hint;
  }

  /** How many tokens are configured (control endpoints refuse everyone when 0). */
  get size(): number {
    return this.#entries.length;
  }

  /**
   * Parses `role:token` or `role@name:token` pairs (comma or newline
   * separated, `#` comments in files). The name is what the access log
   * shows; without one it is the role and a short digest of the token.
   * A malformed entry is a {@link ConfigError} that never quotes the token.
   */
  static parse(text: string, source = 'CANOPY_API_TOKENS'): TokenAuth {
    const entries: TokenEntry[] = [];
    const items = text
      .split(/[,\n]/)
      .map((s) => s.trim())
      .filter((s) => s !== '' && !s.startsWith('#'));
    items.forEach((item, i) => {
      const colon = item.indexOf(':');
      const head = colon > 0 ? item.slice(0, colon).trim() : '';
      const at = head.indexOf('@');
      const role = at >= 0 ? head.slice(0, at) : head;
      const given = at >= 0 ? head.slice(at + 1) : undefined;
      const token = colon > 0 ? item.slice(colon + 1).trim() : '';
      if (!(ROLES as readonly string[]).includes(role)) {
        throw new ConfigError(`${source}: entry ${i + 1} must be role:token with role one of ${ROLES.join(', ')}`);
      }
      if (token.length < 16) {
        throw new ConfigError(`${source}: entry ${i + 1} (${role}) has a token shorter than 16 characters`);
      }
      if (given !== undefined && !/^[\w.-]{1,64}$/.test(given)) {
        throw new ConfigError(`${source}: entry ${i + 1} (${role}) has a name that is not 1–64 of [A-Za-z0-9_.-]`);
      }
      const d = digest(token);
      entries.push({ role: role as Role, name: given ?? `${role}-${d.toString('hex').slice(0, 8)}`, digest: d });
    });
    return new TokenAuth(entries);
  }

  /**
   * Reads a tokens file; refused when group or others may read or write it
   * (mode looser than 0600).
   */
  static fromFile(file: string): TokenAuth {
    let st: fs.Stats;
    try {
      st = fs.statSync(file);
    } catch (cause) {
      throw new ConfigError(`CANOPY_API_TOKENS_FILE ${file} cannot be read`, { cause });
    }
    if ((st.mode & 0o077) !== 0) {
      throw new ConfigError(
        `CANOPY_API_TOKENS_FILE ${file} has mode ${(st.mode & 0o777).toString(8)}; it must be 0600 or tighter (chmod 600)`,
      );
    }
    return TokenAuth.parse(fs.readFileSync(file, 'utf8'), `CANOPY_API_TOKENS_FILE ${file}`);
  }

  /** Tokens from the environment value and/or the file (both may be given). */
  static load(opts: { tokens?: string | undefined; tokensFile?: string | undefined }): TokenAuth {
    const a = opts.tokens ? TokenAuth.parse(opts.tokens) : new TokenAuth([]);
    const b = opts.tokensFile ? TokenAuth.fromFile(opts.tokensFile) : new TokenAuth([]);
    const all = new TokenAuth([...a.#entries, ...b.#entries]);
    // the quick start (`canopy up`) keeps the operator token beside its tokens file
    const beside = opts.tokensFile && path.join(path.dirname(opts.tokensFile), 'operator.token');
    if (beside && fs.existsSync(beside))
      all.hint = `paste the operator token from ${beside} into the dashboard (Authorization: Bearer <token>)`;
    return all;
  }

  /** The role of a presented token, or undefined. Every entry is compared (no early exit). */
  roleOf(token: string): Role | undefined {
    return this.identify(token)?.role;
  }

  /** Role and name of a presented token, or undefined. Every entry is compared (no early exit). */
  identify(token: string): Identity | undefined {
    const d = digest(token);
    let found: TokenEntry | undefined;
    for (const e of this.#entries) {
      if (crypto.timingSafeEqual(d, e.digest) && (found === undefined || rank(e.role) > rank(found.role))) found = e;
    }
    return found && { role: found.role, name: found.name };
  }
}

function digest(token: string): Buffer {
  return crypto.createHash('sha256').update(token, 'utf8').digest();
}

export function rank(role: Role): number {
  return ROLES.indexOf(role);
}

/** The bearer token of a request (`Authorization: Bearer …`), if any. */
export function bearerToken(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m?.[1];
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by {@link requireRole} (or the read check) once the token is accepted. */
    role?: Role;
    /** The token's name (access log), set with `role`. */
    who?: string;
  }
}

/** Why a request was refused: the answer to send (status, stable code, message). */
export interface Refusal {
  statusCode: 401 | 403;
  code: 'API_UNAUTHORIZED' | 'API_FORBIDDEN';
  message: string;
}

/**
 * Checks a presented token against `role`: the identity when it is enough,
 * else the refusal (401 without a valid token, 403 with a weaker role).
 */
export function checkToken(auth: TokenAuth, token: string | undefined, role: Role): Identity | Refusal {
  const id = token === undefined || token === '' ? undefined : auth.identify(token);
  if (id === undefined) {
    return {
      statusCode: 401,
      code: 'API_UNAUTHORIZED',
      message:
        auth.size === 0
          ? 'no API tokens are configured: set CANOPY_API_TOKENS or CANOPY_API_TOKENS_FILE (canopy up creates an operator token on first run)'
          : token === undefined
            ? `this needs a ${role} token: ${auth.hint}`
            : `the token is not valid: ${auth.hint}`,
    };
  }
  if (rank(id.role) < rank(role)) {
    return {
      statusCode: 403,
      code: 'API_FORBIDDEN',
      message: `this needs the ${role} role; the token has ${id.role}: ${auth.hint}`,
    };
  }
  return id;
}

export function isRefusal(r: Identity | Refusal): r is Refusal {
  return 'statusCode' in r;
}

/** Sends a refusal in the API's error shape. */
export async function refuse(reply: FastifyReply, r: Refusal): Promise<FastifyReply> {
  if (r.statusCode === 401) reply.header('www-authenticate', 'Bearer');
  await reply.code(r.statusCode).send({
    statusCode: r.statusCode,
    error: r.statusCode === 401 ? 'Unauthorized' : 'Forbidden',
    code: r.code,
    message: r.message,
  });
  return reply;
}

/**
 * A preHandler that admits requests whose bearer token has `role` or a
 * higher one: 401 without a valid token, 403 with a weaker one.
 */
export function requireRole(auth: TokenAuth, role: Role): preHandlerAsyncHookHandler {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const token = bearerToken(req);
    if (token !== undefined) req.who = auth.identify(token)?.name;
    const r = checkToken(auth, token, role);
    if (isRefusal(r)) return refuse(reply, r);
    req.role = r.role;
    req.who = r.name;
  };
}
