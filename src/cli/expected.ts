/**
 * Expected errors: a setting, a port or a server the user can fix. They are
 * reported as one line saying what is wrong and how to fix it, without a
 * stack trace; anything else is a bug and keeps its stack in the log.
 * Recognised by their stable `code` (docs/errors.md), never by message text.
 */

/** The fix for each expected code (what a person does next). */
const FIXES: Record<string, string> = {
  BUS_CONNECTION:
    'is Redis running? `canopy up` starts its own; otherwise start redis-server or fix REDIS_URL (`canopy doctor` checks it)',
  BUS_TIMEOUT: 'Redis did not answer in time: check it is running and not overloaded (`canopy doctor`)',
  BUS_AUTH: 'check the user and password in REDIS_URL (`canopy acl --url-for canopy-<service>`)',
  BUS_CONFIG: 'fix the setting named above (docs/configuration.md)',
  STORE_UNAVAILABLE:
    'start PostgreSQL, or check the SQLite path, its permissions and the free disk (`canopy doctor`); DATABASE_URL says which store',
  STORE_TIMEOUT: 'the database is slow or locked: check its load (`canopy doctor`)',
  STORE_CONFIG: 'fix DATABASE_URL: sqlite:PATH or postgres://user:pass@host:port/db',
  STORE_MIGRATION: 'read the cause above, fix it (permissions, disk) and start again',
  CEA_CONFIG: 'fix the file and field named above (CANOPY_NODES / CANOPY_SENSORS)',
  CONTROL_CONFIG: 'fix devices.yaml (AUTOMATION_DEVICES) where the message says',
  AUTOMATION_CONFIG: 'fix the option named above',
  AUTOMATION_RELAY_BUS: 'set what the message says in /etc/canopy/canopy.env',
  AUTOMATION_BUS_LOCKED: 'stop the other automation first: one controller per relay bus',
  CREDENTIAL_UNREADABLE: 'check the file path and that this user may read it',
  CREDENTIAL_CONFLICT: 'keep only one of the two settings',
  GATEWAY_CONFIG: 'fix the gateway setting named above (docs/configuration.md)',
  HW_CONFIG: 'fix the relay board setting named above',
  SOURCE_CONFIG: 'fix --source (see `canopy scanner --help`)',
  REDIS_SERVER_MISSING: 'sudo apt-get install redis-server, or set REDIS_URL to a Redis you run',
  UP_BAD_SOURCE: 'fix --source (sim, replay:FILE or socketcan:IFACE)',
  UP_PORT_TAKEN: '', // the message names the port, its holder and the flag

  UP_NOT_UP: 'read the service lines above; `canopy doctor` checks Redis, the store and the configuration',
  EACCES: 'ports below 1024 need root: choose a port above 1023',
};

/** How each service's listening port is chosen (for "port in use"). */
const PORT_HINTS: Record<string, string> = {
  api: '--port N or CANOPY_API_PORT=N',
  gateway: '--port N or CANOPY_GATEWAY_PORT=N',
  exporter: 'its port setting',
};

function codeOf(e: unknown): string | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
}

/**
 * The one line for an expected error of `service` (`canopy api: port 8000 is
 * already in use …`), or undefined when the error is not an expected one.
 * Looks at the error and its `cause` chain (a wrapped connect refusal).
 */
export function expectedErrorLine(service: string, err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e instanceof Error; depth++, e = e.cause) {
    const code = codeOf(e);
    if (code === 'EADDRINUSE') {
      const port = (e as { port?: unknown }).port;
      const hint = PORT_HINTS[service] ?? 'its port option';
      return (
        `canopy ${service}: port ${typeof port === 'number' ? port : '?'} is already in use by another program; ` +
        `stop it or choose another port (${hint})`
      );
    }
    const fix = code ? FIXES[code] : undefined;
    if (fix !== undefined) {
      const top = err as Error;
      return `canopy ${service}: ${top.message} [${code}]${fix ? ` — ${fix}` : ''}`;
    }
  }
  return undefined;
}
