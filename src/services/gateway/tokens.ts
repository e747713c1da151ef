import crypto from 'node:crypto';
import fs from 'node:fs';
import { ConfigError } from '../../bus/errors.js';
import { isUserId } from '../../contracts/user-channels.js';

/** Shortest token accepted (characters). */
export const MIN_TOKEN_LENGTH = 16;

/**
 * Per-user relay tokens. Only SHA-256 digests are kept in memory; a check
 * hashes the presented token and compares digests in constant time, and an
 * unknown user is compared against a dummy digest so timing does not tell
 * which users exist. Tokens are never logged.
 */
export class TokenStore {
  readonly #digests = new Map<string, Buffer>();
  readonly #dummy = crypto.randomBytes(32);

  constructor(tokens: ReadonlyMap<string, string>) {
    for (const [user, token] of tokens) {
      if (!isUserId(user)) throw new ConfigError(`gateway tokens: invalid user id ${JSON.stringify(user)}`);
      if (token.length < MIN_TOKEN_LENGTH) {
        throw new ConfigError(`gateway tokens: the token of ${user} is shorter than ${MIN_TOKEN_LENGTH} characters`);
      }
      this.#digests.set(user, digest(token));
    }
  }

  get users(): string[] {
    return [...this.#digests.keys()];
  }

  has(user: string): boolean {
    return this.#digests.has(user);
  }

  /** True when `token` is the token of `user`. */
  verify(user: string, token: string): boolean {
    const want = this.#digests.get(user);
    const ok = crypto.timingSafeEqual(digest(token), want ?? this.#dummy);
    return ok && want !== undefined;
  }
}

function digest(token: string): Buffer {
  return crypto.createHash('sha256').update(token, 'utf8').digest();
}

/** Parses `user:token,user2:token2` (whitespace and newlines also separate pairs). */
export function parseTokenList(text: string, source: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of text.split(/[,\s]+/)) {
    if (item === '' || item.startsWith('#')) continue;
    const i = item.indexOf(':');
    if (i <= 0 || i === item.length - 1) throw new ConfigError(`${source}: expected user:token pairs`);
    const user = item.slice(0, i);
    if (out.has(user)) throw new ConfigError(`${source}: user ${user} appears twice`);
    out.set(user, item.slice(i + 1));
  }
  return out;
}

/**
 * Tokens from `CANOPY_GATEWAY_TOKENS` (`user:token,…`) and/or the file named
 * by `CANOPY_GATEWAY_TOKENS_FILE` (one `user:token` per line, `#` comments;
 * refused when group or others may read it).
 */
export function loadTokens(env: NodeJS.ProcessEnv = process.env): Map<string, string> {
  const out = new Map<string, string>();
  if (env.CANOPY_GATEWAY_TOKENS) {
    for (const [u, t] of parseTokenList(env.CANOPY_GATEWAY_TOKENS, 'CANOPY_GATEWAY_TOKENS')) out.set(u, t);
  }
  const file = env.CANOPY_GATEWAY_TOKENS_FILE;
  if (file) {
    let st: fs.Stats;
    try {
      st = fs.statSync(file);
    } catch (cause) {
      throw new ConfigError(`CANOPY_GATEWAY_TOKENS_FILE ${file} cannot be read`, { cause });
    }
    if ((st.mode & 0o077) !== 0) {
      throw new ConfigError(
        `${file} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}): chmod 600 it`,
      );
    }
    const lines = fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    for (const [u, t] of parseTokenList(lines.join(','), file)) out.set(u, t);
  }
  return out;
}
