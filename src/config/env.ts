import fs from 'node:fs';
import path from 'node:path';

/**
 * Process-wide settings read from the environment. Each service adds its
 * own options on top; this is only what every process shares.
 */
export interface BaseConfig {
  /** @defaultValue `./data` — `CANOPY_DATA_DIR`: spool files, SQLite, managed Redis. */
  dataDir: string;
  /** @defaultValue unset — `REDIS_URL`; unset means `canopy up` starts its own Redis. */
  redisUrl: string | undefined;
  /** @defaultValue true — `USE_REDIS=false` takes the fallback (spool) paths on purpose. */
  useRedis: boolean;
  /** @defaultValue `sqlite:$CANOPY_DATA_DIR/canopy.db` — `DATABASE_URL`. */
  databaseUrl: string;
  /** @defaultValue unset — `DATABASE_URL` as given (tools that need it named, e.g. `canopy migrate --to`). */
  databaseUrlGiven: string | undefined;
  /**
   * @defaultValue unset: reads on `DATABASE_URL` — `DATABASE_READ_URL`, a PostgreSQL streaming replica the
   * API's history, export and journal reads go to (docs/scaling-postgres.md).
   */
  databaseReadUrl: string | undefined;
  /** @defaultValue `info` — `LOG_LEVEL`. */
  logLevel: string;
  /** @defaultValue unset — `LOG_LEVEL` as given (a tool with its own quieter default). */
  logLevelGiven: string | undefined;
}

export function loadBaseConfig(env: NodeJS.ProcessEnv = process.env): BaseConfig {
  const dataDir = path.resolve(env.CANOPY_DATA_DIR || './data');
  return {
    dataDir,
    redisUrl: env.REDIS_URL || undefined,
    useRedis: !/^(false|0|no|off)$/i.test(env.USE_REDIS ?? ''),
    databaseUrl: env.DATABASE_URL || `sqlite:${path.join(dataDir, 'canopy.db')}`,
    databaseUrlGiven: env.DATABASE_URL || undefined,
    databaseReadUrl: env.DATABASE_READ_URL || undefined,
    logLevel: env.LOG_LEVEL || 'info',
    logLevelGiven: env.LOG_LEVEL || undefined,
  };
}

/**
 * The settings that carry a secret (a password in a URL, tokens). Each can
 * come from a file instead of the environment, so that it never sits in a
 * unit file or in `/proc/<pid>/environ`.
 */
export const SECRET_VARIABLES = [
  'REDIS_URL',
  'DATABASE_URL',
  'DATABASE_READ_URL',
  'PGPASSWORD',
  'MQTT_URL',
  'MQTT_PASSWORD',
  'ALERTS_SMTP_URL',
  'ALERTS_WEBHOOK_URL',
  'ALERTS_NTFY_URL',
  'ALERTS_NTFY_TOKEN',
  'ALERTS_TELEGRAM_TOKEN',
  'ALERTS_SMS_AUTH',
] as const;

export type SecretVariable = (typeof SECRET_VARIABLES)[number];

/**
 * Secrets the services read from a file of their own (with its mode
 * checked): a credential of this name sets the `…_FILE` variable to its
 * path instead of copying it into the environment.
 */
export const FILE_CREDENTIALS = {
  CANOPY_API_TOKENS: 'CANOPY_API_TOKENS_FILE',
  CANOPY_GATEWAY_TOKENS: 'CANOPY_GATEWAY_TOKENS_FILE',
  // the API's TLS key and certificate are paths already
  CANOPY_API_TLS_KEY: 'CANOPY_API_TLS_KEY',
  CANOPY_API_TLS_CERT: 'CANOPY_API_TLS_CERT',
} as const;

export type CredentialErrorCode = 'CREDENTIAL_UNREADABLE' | 'CREDENTIAL_CONFLICT';

export class CredentialError extends Error {
  readonly code: CredentialErrorCode;
  constructor(code: CredentialErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CredentialError';
    this.code = code;
  }
}

/** Where a secret setting came from (never its value). */
export type SecretSource = 'credential' | 'file' | 'environment';

function readSecret(file: string, name: string): string {
  try {
    // one trailing newline is the file's, not the secret's
    return fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new CredentialError('CREDENTIAL_UNREADABLE', `${name}: cannot read ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/**
 * Fills the secret settings ({@link SECRET_VARIABLES}) of `env` from files,
 * in this order, the first that exists winning:
 *
 * 1. a systemd credential (`LoadCredential=`): `$CREDENTIALS_DIRECTORY/NAME`,
 *    or `$CREDENTIALS_DIRECTORY/canopy_NAME` when a whole directory was
 *    loaded (`LoadCredential=canopy:/etc/canopy/credentials/<service>`);
 * 2. `NAME_FILE=/path` (Docker secrets and the like);
 * 3. `NAME` itself in the environment.
 *
 * Setting both `NAME` and `NAME_FILE` to different values is refused (which one was meant?).
 * A credential named after a {@link FILE_CREDENTIALS} key sets the
 * service's own `…_FILE` variable to the credential's path.
 * Returns where each secret came from; values are never logged.
 */
export function applySecretFiles(env: NodeJS.ProcessEnv = process.env): Partial<Record<string, SecretSource>> {
  const from: Partial<Record<string, SecretSource>> = {};
  const credDir = env.CREDENTIALS_DIRECTORY;
  const credential = (name: string) =>
    credDir
      ? [path.join(credDir, name), path.join(credDir, `canopy_${name}`)].find((f) => fs.existsSync(f))
      : undefined;
  for (const [name, fileVar] of Object.entries(FILE_CREDENTIALS)) {
    const cred = credential(name);
    if (cred) {
      env[fileVar] = cred;
      from[fileVar] = 'credential';
    }
  }
  for (const name of SECRET_VARIABLES) {
    const fileVar = env[`${name}_FILE`];
    const cred = credential(name);
    if (cred) {
      env[name] = readSecret(cred, name);
      from[name] = 'credential';
    } else if (fileVar) {
      const value = readSecret(fileVar, name);
      // a child of a process that read the file already (canopy up) inherits both, with the same value
      if (env[name] && env[name] !== value)
        throw new CredentialError('CREDENTIAL_CONFLICT', `both ${name} and ${name}_FILE are set: keep one of them`);
      env[name] = value;
      from[name] = 'file';
    } else if (env[name]) from[name] = 'environment';
  }
  return from;
}

/**
 * Writes one credential file (`<dir>/<NAME>`, mode 0600, its directory 0700)
 * atomically: a temporary file created exclusively, then renamed over the
 * old one. The layout `LoadCredential=canopy:<dir>` and
 * {@link applySecretFiles} read.
 */
export function writeCredential(dir: string, name: string, value: string): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(name))
    throw new CredentialError('CREDENTIAL_UNREADABLE', `bad credential name ${name}`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  const file = path.join(dir, name);
  const tmp = `${file}.tmp-${process.pid}`;
  fs.rmSync(tmp, { force: true });
  fs.writeFileSync(tmp, `${value}\n`, { mode: 0o600, flag: 'wx' });
  fs.renameSync(tmp, file);
  return file;
}
