import crypto from 'node:crypto';
import fs from 'node:fs';
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { ConfigError } from '../../bus/errors.js';

/** Who may do what: each role includes the ones before it. */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

interface TokenEntry {
  role: Role;
  digest: Buffer;
}

/**
 * The API tokens (bearer tokens with a role). Tokens are kept only as
 * SHA-256 digests and compared in constant time; none is ever logged.
 */
export class TokenAuth {
  readonly #entries: TokenEntry[];

  private constructor(entries: TokenEntry[]) {
    this.#entries = entries;
  }

  /** How many tokens are configured (control endpoints refuse everyone when 0). */
  get size(): number {
    return this.#entries.length;
  }

  /**
   * Parses `role:token` pairs (comma or newline separated, `#` comments in
   * files). A malformed entry is a {@link ConfigError} that never quotes the token.
   */
  static parse(text: string, source = 'CANOPY_API_TOKENS'): TokenAuth {
    const entries: TokenEntry[] = [];
    const items = text
      .split(/[,\n]/)
      .map((s) => s.trim())
      .filter((s) => s !== '' && !s.startsWith('#'));
    items.forEach((item, i) => {
      const colon = item.indexOf(':');
      const role = colon > 0 ? item.slice(0, colon).trim() : '';
      const token = colon > 0 ? item.slice(colon + 1).trim() : '';
      if (!(ROLES as readonly string[]).includes(role)) {
        throw new ConfigError(`${source}: entry ${i + 1} must be role:token with role one of ${ROLES.join(', ')}`);
      }
      if (token.length < 16) {
        throw new ConfigError(`${source}: entry ${i + 1} (${role}) has a token shorter than 16 characters`);
      }
      entries.push({ role: role as Role, digest: digest(token) });
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
    return new TokenAuth([...a.#entries, ...b.#entries]);
  }

  /** The role of a presented token, or undefined. Every entry is compared (no early exit). */
  roleOf(token: string): Role | undefined {
    const d = digest(token);
    let found: Role | undefined;
    for (const e of this.#entries) {
      if (crypto.timingSafeEqual(d, e.digest) && (found === undefined || rank(e.role) > rank(found))) found = e.role;
    }
    return found;
  }
}

function digest(token: string): Buffer {
  return crypto.createHash('sha256').update(token, 'utf8').digest();
}

function rank(role: Role): number {
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
    /** Set by {@link requireRole} once the token is accepted. */
    role?: Role;
  }
}

/**
 * A preHandler that admits requests whose bearer token has `role` or a
 * higher one: 401 without a valid token, 403 with a weaker one.
 */
export function requireRole(auth: TokenAuth, role: Role): preHandlerAsyncHookHandler {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const token = bearerToken(req);
    const have = token === undefined ? undefined : auth.roleOf(token);
    if (have === undefined) {
      await reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send({
          statusCode: 401,
          error: 'Unauthorized',
          message:
            auth.size === 0
              ? 'no API tokens are configured (set CANOPY_API_TOKENS or CANOPY_API_TOKENS_FILE)'
              : token === undefined
                ? 'this endpoint needs an Authorization: Bearer <token> header'
                : 'the token is not valid',
        });
      return reply;
    }
    if (rank(have) < rank(role)) {
      await reply.code(403).send({
        statusCode: 403,
        error: 'Forbidden',
        message: `this endpoint needs the ${role} role; the token has ${have}`,
      });
      return reply;
    }
    req.role = have;
  };
}
