import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/ops/ports.js';

const here = path.dirname(fileURLToPath(import.meta.url));

export interface BareServer {
  url: string;
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Forks a bare server of bench/lib/bare-servers.ts and waits for it to listen. */
export async function forkBare(mode: 'live' | 'ws' | 'gateway', args: string[]): Promise<BareServer> {
  const port = await freePort();
  const child = fork(path.join(here, 'bare-servers.js'), [mode, ...args.slice(0, 1), String(port), ...args.slice(1)], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`bare ${mode} server exited with ${code}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.send({ type: 'stop' });
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}
