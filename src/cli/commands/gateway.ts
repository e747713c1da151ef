import type { Command } from 'commander';
import { gatewayEnv, start } from '../../services/gateway/index.js';
import { createLogger } from '../../util/log.js';
import { runUntilSignal } from '../run-service.js';
import { portOrZeroOption } from '../numbers.js';

export function registerGateway(program: Command): void {
  program
    .command('gateway')
    .description('WebSocket gateway for edge relays: user:{id}:raw|features in, predictions/commands/alerts out')
    .option('--host <host>', 'interface to listen on [env CANOPY_GATEWAY_HOST, default 127.0.0.1]')
    .option('--port <port>', 'port to listen on [env CANOPY_GATEWAY_PORT, default 8765]', portOrZeroOption)
    .addHelpText(
      'after',
      `
Relays connect to ws://<host>:<port>/relay/<user> with "Authorization: Bearer <token>".
Tokens: CANOPY_GATEWAY_TOKENS=user:token,… or CANOPY_GATEWAY_TOKENS_FILE=<file, mode 0600, one user:token per line>.
Limits: CANOPY_GATEWAY_MAX_MESSAGE_BYTES (65536), CANOPY_GATEWAY_RATE (500 messages/s per connection),
CANOPY_GATEWAY_BACKLOG_MS (60000: how long user:{id}:backlog keeps back-channel messages for reconnecting relays),
CANOPY_GATEWAY_MAX_CONNECTIONS (1024 sockets), CANOPY_GATEWAY_HANDSHAKE_TIMEOUT_MS (10000), CANOPY_GATEWAY_PING_MS (30000).`,
    )
    .action(async (opts: { host?: string; port?: string }) => {
      const log = createLogger('gateway');
      await runUntilSignal('gateway', log, () => {
        const env = gatewayEnv();
        return start({
          ...env,
          ...(opts.host ? { host: opts.host } : {}),
          ...(opts.port ? { port: Number(opts.port) } : {}),
          log,
        });
      });
    });
}
