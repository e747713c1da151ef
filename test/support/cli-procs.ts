/**
 * `canopy <command>` child processes for pipeline tests, and the SQLite
 * counts they are judged by. Every child is registered with the cleanup
 * registry: SIGKILLed after the file's tests if still running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import { register } from './cleanup.js';

export const CLI = path.resolve('dist/src/cli/main.js');

/** Starts `canopy <args>` with `env` over this process's, stdout ignored, stderr shown. */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv, logLevel = 'warn'): ChildProcess {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env, LOG_LEVEL: logLevel },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const kill = () => void (child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'));
  register({ stop: async () => kill(), killSync: kill });
  return child;
}

/** `sql` (one row with a column `n`) on the SQLite file, read-only; -1 while the file or its tables do not exist yet. */
export function sqliteCount(dbPath: string, sql: string): number {
  let db: Database.Database;
  try {
    db = new Database(dbPath, { readonly: true, fileMustExist: true });
  } catch {
    return -1;
  }
  try {
    return (db.prepare(sql).get() as { n: number }).n;
  } catch {
    return -1;
  } finally {
    db.close();
  }
}

/** Polls `fn` every 100 ms until it is true (an error counts as not yet); throws naming `what` after `timeoutMs`. */
export async function until(what: string, fn: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (
    !(await Promise.resolve()
      .then(fn)
      .catch(() => false))
  ) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
