import path from 'node:path';
import fs from 'node:fs';
import type { Command } from 'commander';
import { loadBaseConfig } from '../../config/env.js';
import { RedisProcess } from '../../ops/redis-process.js';
import { freePort, waitForPort } from '../../ops/ports.js';
import { Supervisor } from '../../ops/supervisor.js';
import { upServices } from '../../services/catalog.js';
import { createLogger } from '../../util/log.js';
import net from 'node:net';

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

export function registerUp(program: Command): void {
  program
    .command('up')
    .description('start the whole system: a managed Redis (when REDIS_URL is unset) and every configured service')
    .option('--source <source>', 'frame source for the scanner: sim, replay:FILE or socketcan:IFACE', 'sim')
    .option('--redis-port <port>', 'port of the managed Redis (when REDIS_URL is unset)', '6379')
    .action(async (opts: { source: string; redisPort: string }) => {
      const log = createLogger('up');
      const base = loadBaseConfig();
      fs.mkdirSync(base.dataDir, { recursive: true });
      let redis: RedisProcess | undefined;
      let redisUrl = base.redisUrl;
      if (!redisUrl) {
        let port = Number(opts.redisPort);
        if (!(await portFree(port))) {
          const other = await freePort();
          process.stdout.write(`port ${port} is taken (another Redis?); the managed Redis uses ${other}\n`);
          port = other;
        }
        try {
          redis = await RedisProcess.start({ dir: path.join(base.dataDir, 'redis'), port, aof: true, rdb: true });
        } catch (err) {
          process.stderr.write(`canopy up: ${(err as Error).message}\n`);
          process.exit(1);
        }
        redisUrl = redis.url;
        await waitForPort(port);
        process.stdout.write(`Redis started on ${redisUrl} (data in ${redis.dir})\n`);
      }
      const sup = new Supervisor();
      sup.on('start', (name, pid) => log.info({ child: name, childPid: pid }, `${name} started`));
      sup.on('restart', (name, delayMs, crashes) =>
        process.stdout.write(`${name} exited unexpectedly (crash #${crashes}); restarting in ${delayMs} ms\n`),
      );
      const cli = process.argv[1] ?? '';
      const env = { REDIS_URL: redisUrl, CANOPY_DATA_DIR: base.dataDir };
      for (const s of upServices({ source: opts.source })) {
        await sup.add({ name: s.name, args: [cli, ...s.args], env });
      }
      process.stdout.write('Canopy is up. Ctrl+C stops everything.\n');
      let stopping = false;
      const shutdown = async () => {
        if (stopping) return;
        stopping = true;
        process.stdout.write('stopping…\n');
        await sup.stop();
        await redis?.stop();
        process.exit(0);
      };
      process.on('SIGINT', () => void shutdown());
      process.on('SIGTERM', () => void shutdown());
    });
}
