import type { Command } from 'commander';
import { runUntilSignal } from '../run-service.js';
import { start } from '../../services/api/index.js';
import { createLogger, type Logger } from '../../util/log.js';
import type { ServiceHandle } from '../../services/types.js';
import { apiEnv } from '../../config/api.js';
import { parseNumber, portOrZeroOption } from '../numbers.js';

export function registerApi(program: Command): void {
  program
    .command('api')
    .description('serve the REST API, the WebSocket /ws and the web dashboard')
    .option('--port <port>', 'TCP port (env CANOPY_API_PORT; 0: any free port)', portOrZeroOption)
    .option(
      '--host <host>',
      'address to bind (env CANOPY_API_HOST): 127.0.0.1 (this machine only, open reads) or 0.0.0.0 (phones on the LAN; reads need a viewer token)',
      apiEnv().host,
    )
    .action(async (opts: ApiOpts) => {
      const log = createLogger('api');
      await runUntilSignal('api', log, (signal) => launchApi(opts, log, signal));
    });
}

/** The options of `canopy api` as commander gives them. */
export interface ApiOpts {
  port?: number;
  host: string;
}

/** Starts the API from its command's options (also used by `canopy group --compact`). */
export async function launchApi(opts: ApiOpts, log: Logger, signal?: AbortSignal): Promise<ServiceHandle> {
  const h = await start({ port: opts.port ?? envPort(), host: opts.host, logger: log, runtime: { signal } });
  process.stdout.write(`Canopy API and dashboard on ${h.url}/ (OpenAPI at ${h.url}/docs)\n`);
  return h;
}

/** `CANOPY_API_PORT` checked like `--port` (8000 when unset); a bad value names the variable and exits 1. */
function envPort(): number {
  const text = process.env.CANOPY_API_PORT;
  if (!text) return 8000;
  try {
    return parseNumber(text, { integer: true, min: 0, max: 65535 });
  } catch (err) {
    process.stderr.write(`canopy api: CANOPY_API_PORT=${text}: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
