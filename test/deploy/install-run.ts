import { spawn } from 'node:child_process';
import path from 'node:path';

export const INSTALL = path.resolve('deploy/install.sh');

export interface InstallResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs deploy/install.sh into the tree `root` without blocking the event loop
 * (a test may serve HTTP or PostgreSQL from this process meanwhile).
 */
export function runInstall(root: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<InstallResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [INSTALL, '--root', root, '--app', path.resolve('.'), '--node', process.execPath, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** {@link runInstall}, throwing unless it exits 0. */
export async function install(root: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const r = await runInstall(root, args, env);
  if (r.status !== 0) throw new Error(`install.sh failed (${r.status}): ${r.stdout}\n${r.stderr}`);
  return r.stdout;
}
