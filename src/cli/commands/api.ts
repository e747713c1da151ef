import type { Command } from 'commander';
import { runUntilSignal } from '../run-service.js';
import { start } from '../../services/api/index.js';
import { createLogger } from '../../util/log.js';
import { apiEnv } from '../../config/api.js';

export function registerApi(program: Command): void {
  program
    .command('api')
    .description('serve the REST API, the WebSocket /ws and the web dashboard')
    .option('--port <port>', 'TCP port (env CANOPY_API_PORT)', String(apiEnv().port ?? 8000))
    .option(
      '--host <host>',
      'address to bind (env CANOPY_API_HOST): 127.0.0.1 (this machine only, open reads) or 0.0.0.0 (phones on the LAN; reads need a viewer token)',
      apiEnv().host,
    )
    .action(async (opts: { port: string; host: string }) => {
      const log = createLogger('api');
      const port = Number(opts.port);
      await runUntilSignal('api', log, async () => {
        const h = await start({ port, host: opts.host, logger: log });
        process.stdout.write(`Canopy API and dashboard on ${h.url}/ (OpenAPI at ${h.url}/docs)\n`);
        return h;
      });
    });
}
