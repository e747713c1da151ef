import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from './errors.js';

/**
 * Redis ACL generation. A user is a list of grants; each grant becomes one
 * ACL selector `( … )`, so a command is allowed only together with the keys
 * and channels of the same grant: a user that may `XADD` to `can:raw` and
 * `SET` its heartbeat cannot `SET can:raw`, and a consumer that may
 * subscribe to `user:jamie:raw` and publish to `user:jamie:predictions`
 * cannot publish to `user:jamie:raw`. The root permissions hold only
 * keyless connection commands ({@link BASE_COMMANDS}). Needs Redis ≥ 7.0
 * (selectors, `%R~`/`%W~`).
 */

/**
 * Keyless commands every client needs to connect and stay connected
 * (node-redis, redis-py, redis-cli). `CLIENT SETINFO` is left out: Redis
 * 7.0 does not know it and clients ignore its failure.
 */
export const BASE_COMMANDS = [
  'ping',
  'echo',
  'hello',
  'auth',
  'select',
  'quit',
  'reset',
  'info',
  'client|setname',
  'client|getname',
  'client|id',
  'multi',
  'exec',
  'discard',
] as const;

/** One selector: commands and the keys/channels they may touch. */
export interface AclGrant {
  /** Command names as Redis spells them in ACL rules (`xadd`, `xinfo|stream`). */
  commands: readonly string[];
  /** Key patterns these commands may read (`%R~`). */
  read?: readonly string[];
  /** Key patterns these commands may write (`%W~`). */
  write?: readonly string[];
  /** Key patterns these commands may read and write (`~`). */
  keys?: readonly string[];
  /** Channel patterns (`&`) for PUBLISH/SUBSCRIBE (PSUBSCRIBE needs the exact pattern). */
  channels?: readonly string[];
}

/** One ACL user and what it may do. */
export interface AclUserSpec {
  /** ACL user name, e.g. `canopy-scanner`. */
  name: string;
  /** One line for the generated file's comment. */
  description: string;
  grants: readonly AclGrant[];
  /** Full access (`~* &* +@all`), for operators only. */
  superuser?: boolean;
}

/** A password or its SHA-256; the ACL file only ever holds the hash. */
export interface AclSecret {
  password: string;
}

const TOKEN = /^[^\s()"'#]+$/;
const USER_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

function checkToken(kind: string, v: string, user: string): string {
  if (!TOKEN.test(v)) throw new ConfigError(`ACL user ${user}: invalid ${kind} ${JSON.stringify(v)}`);
  return v;
}

/** SHA-256 hex, as `#<hash>` in ACL rules. */
export function passwordHash(password: string): string {
  return crypto.createHash('sha256').update(password, 'utf8').digest('hex');
}

/** 32 random bytes, base64url (URL-safe: fits in `redis://user:password@`). */
export function generatePassword(): string {
  return crypto.randomBytes(32).toString('base64url');
}

/** The tokens of one grant's selector, without the parentheses. */
export function grantTokens(user: string, g: AclGrant): string[] {
  const out: string[] = [];
  for (const c of g.commands) out.push(`+${checkToken('command', c.toLowerCase(), user)}`);
  for (const k of g.keys ?? []) out.push(`~${checkToken('key pattern', k, user)}`);
  for (const k of g.read ?? []) out.push(`%R~${checkToken('key pattern', k, user)}`);
  for (const k of g.write ?? []) out.push(`%W~${checkToken('key pattern', k, user)}`);
  for (const ch of g.channels ?? []) out.push(`&${checkToken('channel pattern', ch, user)}`);
  return out;
}

/**
 * The rule tokens of one user after its name: `reset on #<sha256>
 * resetchannels -@all +ping … (+xadd %W~can:raw) …`. With
 * `plaintext: true` the password appears as `><password>` instead.
 */
export function userRuleTokens(spec: AclUserSpec, secret: AclSecret, opts: { plaintext?: boolean } = {}): string[] {
  if (!USER_NAME.test(spec.name)) throw new ConfigError(`invalid ACL user name ${JSON.stringify(spec.name)}`);
  if (secret.password.length < 16) throw new ConfigError(`ACL user ${spec.name}: password shorter than 16 characters`);
  const pass = opts.plaintext ? `>${secret.password}` : `#${passwordHash(secret.password)}`;
  const out = ['reset', 'on', pass];
  if (spec.superuser) return [...out, '~*', '&*', '+@all'];
  out.push('resetchannels', '-@all', ...BASE_COMMANDS.map((c) => `+${c}`));
  for (const g of spec.grants) {
    const t = grantTokens(spec.name, g);
    if (t.length > 0) out.push(`(${t.join(' ')})`);
  }
  return out;
}

/**
 * An ACL file for `aclfile` in redis.conf: one `user` line per spec (Redis
 * allows no comments there; see {@link describeUsers}), the `default`
 * user switched off, and only password hashes.
 */
export function renderAclFile(specs: readonly AclUserSpec[], secrets: ReadonlyMap<string, AclSecret>): string {
  const lines = ['user default off resetchannels -@all'];
  for (const s of specs) lines.push(`user ${s.name} ${userRuleTokens(s, secretFor(s, secrets)).join(' ')}`);
  return lines.join('\n') + '\n';
}

/** One `name: description` line per user, for people reading the rules. */
export function describeUsers(specs: readonly AclUserSpec[]): string {
  return specs.map((s) => `${s.name}: ${s.description}`).join('\n') + '\n';
}

/**
 * `ACL SETUSER` commands, one argument list per user, ready for a client's
 * `sendCommand` or (joined by spaces) for `redis-cli`. Password hashes
 * unless `plaintext`.
 */
export function setUserCommands(
  specs: readonly AclUserSpec[],
  secrets: ReadonlyMap<string, AclSecret>,
  opts: { plaintext?: boolean } = {},
): string[][] {
  return specs.map((s) => ['ACL', 'SETUSER', s.name, ...userRuleTokens(s, secretFor(s, secrets), opts)]);
}

/** The commands as text lines for `redis-cli` (selectors quoted). */
export function renderSetUserCommands(
  specs: readonly AclUserSpec[],
  secrets: ReadonlyMap<string, AclSecret>,
  opts: { plaintext?: boolean } = {},
): string {
  return (
    setUserCommands(specs, secrets, opts)
      .map((argv) => argv.map((a) => (a.includes(' ') ? `"${a}"` : a)).join(' '))
      .join('\n') + '\n'
  );
}

function secretFor(s: AclUserSpec, secrets: ReadonlyMap<string, AclSecret>): AclSecret {
  const sec = secrets.get(s.name);
  if (!sec) throw new ConfigError(`no password for ACL user ${s.name}`);
  return sec;
}

// ---- credentials -------------------------------------------------------------

/** Where {@link resolveCredentials} found each password. */
export interface ResolvedCredentials {
  secrets: Map<string, AclSecret>;
  /** Users whose password the caller gave (e.g. from the environment). */
  given: string[];
  fromFile: string[];
  generated: string[];
}

/**
 * Passwords for `users`: the one in `given` (by user name; a process reads
 * them from its environment, see src/config/redis.ts), else
 * from the credentials file (`user=password` lines, must not be readable
 * by group or others), else generated. Generated ones are added to the
 * file, which is (re)written with mode 0600. Passwords are never logged.
 */
export function resolveCredentials(
  users: readonly string[],
  file: string,
  given: Readonly<Record<string, string>> = {},
): ResolvedCredentials {
  const stored = readCredentialsFile(file);
  const out: ResolvedCredentials = { secrets: new Map(), given: [], fromFile: [], generated: [] };
  for (const u of users) {
    const e = given[u];
    if (e) {
      out.secrets.set(u, { password: e });
      out.given.push(u);
    } else if (stored.has(u)) {
      out.secrets.set(u, { password: stored.get(u)! });
      out.fromFile.push(u);
    } else {
      const p = generatePassword();
      stored.set(u, p);
      out.secrets.set(u, { password: p });
      out.generated.push(u);
    }
  }
  if (out.generated.length > 0) writeCredentialsFile(file, stored);
  return out;
}

/** Reads `user=password` lines; refuses a file readable by group or others. */
export function readCredentialsFile(file: string): Map<string, string> {
  const m = new Map<string, string>();
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    return m;
  }
  if ((st.mode & 0o077) !== 0) {
    throw new ConfigError(
      `${file} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}): chmod 600 it first`,
    );
  }
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const i = t.indexOf('=');
    if (i <= 0) throw new ConfigError(`${file}: a line is not user=password`);
    m.set(t.slice(0, i), t.slice(i + 1));
  }
  return m;
}

/** Writes `user=password` lines atomically with mode 0600. */
export function writeCredentialsFile(file: string, creds: ReadonlyMap<string, string>): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  const body = ['# Redis ACL passwords generated by `canopy acl` (user=password). Keep this file 0600.']
    .concat([...creds].map(([u, p]) => `${u}=${p}`))
    .join('\n');
  fs.writeFileSync(tmp, body + '\n', { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}

/** `redis://user:password@host:port` for one ACL user (a service's connection URL). */
export function redisUrlFor(base: string, user: string, password: string): string {
  const u = new URL(base);
  u.username = encodeURIComponent(user);
  u.password = encodeURIComponent(password);
  return u.toString().replace(/\/$/, '');
}
