import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, waitForPort } from '../../src/ops/ports.js';
import { register } from './cleanup.js';
import { tempDir } from './tmp.js';

export interface TestMosquitto {
  port: number;
  url: string;
  stop(): Promise<void>;
}

/** The mosquitto binary (Debian installs it in /usr/sbin, often not on PATH). */
export function mosquittoBinary(): string {
  for (const p of ['/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto', '/usr/bin/mosquitto'])
    if (fs.existsSync(p)) return p;
  return 'mosquitto';
}

/**
 * Starts a private mosquitto broker on a free loopback port (anonymous
 * access, no persistence) in a temporary directory; killed when the test file ends.
 */
export async function startMosquitto(): Promise<TestMosquitto> {
  const dir = tempDir('canopy-mosquitto-');
  const port = await freePort();
  const conf = path.join(dir, 'mosquitto.conf');
  fs.writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence false',
      `log_dest file ${path.join(dir, 'mosquitto.log')}`,
    ].join('\n') + '\n',
  );
  const child: ChildProcess = spawn(mosquittoBinary(), ['-c', conf], { stdio: 'ignore' });
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`mosquitto exited with ${code}; see ${dir}/mosquitto.log`))),
  );
  exited.catch(() => undefined);
  await Promise.race([waitForPort(port), exited]);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await done;
  };
  register({ stop, killSync: () => void child.kill('SIGKILL') });
  return { port, url: `mqtt://127.0.0.1:${port}`, stop };
}
