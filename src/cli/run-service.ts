import type { Logger } from '../util/log.js';
import type { ServiceHandle } from '../services/types.js';

/**
 * Runs a started service until SIGINT/SIGTERM, then stops it (the batch in
 * hand is finished) and exits 0; a second signal exits at once.
 */
export async function runUntilSignal(name: string, log: Logger, start: () => Promise<ServiceHandle>): Promise<void> {
  let handle: ServiceHandle;
  try {
    handle = await start();
  } catch (err) {
    log.fatal({ err }, `${name} failed to start`);
    process.stderr.write(`canopy ${name}: ${(err as Error).message}\n`);
    process.exit(1);
  }
  let stopping = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    stopping = true;
    log.info({ signal: sig }, `${name} stopping`);
    handle
      .stop()
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        log.error({ err }, `${name} did not stop cleanly`);
        process.exit(1);
      });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
