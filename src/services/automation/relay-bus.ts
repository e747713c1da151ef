import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { AutomationEnv } from '../../config/automation.js';
import { parseI2CSpec } from '../../hw/i2c.js';

/** Why `canopy automation` refuses the relay bus it was given. */
export class RelayBusSelectionError extends Error {
  readonly code = 'AUTOMATION_RELAY_BUS';
  constructor(message: string) {
    super(message);
    this.name = 'RelayBusSelectionError';
  }
}

/** Whether a bus spec names the simulated chip. */
export function isSimulated(spec: string): boolean {
  return parseI2CSpec(spec).kind === 'sim';
}

/**
 * On a real install the relay bus must be chosen explicitly (`--i2c` or
 * `CANOPY_I2C`), and the simulated chip only with
 * `CANOPY_ALLOW_SIMULATED_RELAYS=1`: a Pi must never drive a simulator while
 * the dashboard shows relays switching. Throws {@link RelayBusSelectionError}
 * whose one-line message says what to set.
 */
export function checkRelayBusSelection(
  explicit: string | undefined,
  env: Pick<AutomationEnv, 'production' | 'productionReason' | 'i2cGiven' | 'allowSimulatedRelays'>,
): void {
  if (!env.production) return;
  const where = env.productionReason;
  const spec = explicit ?? env.i2cGiven;
  if (spec === undefined)
    throw new RelayBusSelectionError(
      `no relay bus chosen ${where}: set CANOPY_I2C=1 (the relay boards on /dev/i2c-1; another N for /dev/i2c-N) in /etc/canopy/canopy.env`,
    );
  if (isSimulated(spec) && !env.allowSimulatedRelays)
    throw new RelayBusSelectionError(
      `CANOPY_I2C=${spec} is the simulated relay chip, refused ${where}: set CANOPY_I2C=1 for the real relays on /dev/i2c-1, or add CANOPY_ALLOW_SIMULATED_RELAYS=1 for a test rig without relays`,
    );
}

/** A name for the relay bus a spec opens, usable in file names and Redis keys: `i2c-1`, `sim-<hash of its file>`, `sim-memory`. */
export function relayBusId(spec: string): string {
  const s = parseI2CSpec(spec);
  if (s.kind === 'linux') return `i2c-${s.bus}`;
  if (!s.file) return 'sim-memory';
  return `sim-${crypto.createHash('sha256').update(path.resolve(s.file)).digest('hex').slice(0, 12)}`;
}

/** Where the last devices file that loaded successfully is kept (for `--safe-state` when devices.yaml is broken). */
export function lastGoodDevicesFile(dataDir: string): string {
  return path.join(dataDir, 'devices.last-good.yaml');
}

/** Keeps a copy of a devices file that just loaded (atomically: a crash never leaves half a file). */
export function saveLastGoodDevices(dataDir: string, text: string): void {
  const file = lastGoodDevicesFile(dataDir);
  if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text) return;
  fs.mkdirSync(dataDir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode: 0o640 });
  fs.renameSync(tmp, file);
}
