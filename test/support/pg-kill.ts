/**
 * Killing a test PostgreSQL server, all of it.
 *
 * PostgreSQL calls setsid() in every child of the postmaster (so that it can
 * signal each child's group), so the postmaster's process group holds the
 * postmaster alone: a group kill leaves the checkpointer, background writer,
 * walwriter and backends to notice the death on their own. One that cannot (it
 * was stopped, or is stuck) outlives the test run, its data directory deleted
 * and init its parent. So the kill names every process: the postmaster's
 * children, read from /proc while it is stopped (it forks no more), and any
 * process whose working directory is the data directory (every PostgreSQL
 * process chdirs there), which catches one already orphaned.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readProcStat } from '../../src/util/procstat.js';

const parentOf = (pid: number): number | undefined => readProcStat(pid)?.ppid;

function cwdOf(pid: number): string | undefined {
  try {
    return fs.readlinkSync(`/proc/${pid}/cwd`).replace(/ \(deleted\)$/, '');
  } catch {
    return undefined;
  }
}

function allPids(): number[] {
  return fs
    .readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
}

/** The postmaster (when given), its children and every process working in `dataDir`. */
export function postgresPids(postmaster: number | undefined, dataDir: string): number[] {
  let data = path.resolve(dataDir);
  try {
    data = fs.realpathSync(data);
  } catch {
    // deleted already: /proc shows the path it had
  }
  const found = new Set<number>();
  for (const pid of allPids()) {
    if (pid === process.pid) continue;
    if ((postmaster && (pid === postmaster || parentOf(pid) === postmaster)) || cwdOf(pid) === data) found.add(pid);
  }
  return [...found];
}

function send(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone already
  }
}

/** SIGKILLs every process of the server (see the module's header); synchronous, safe at process exit. */
export function killPostgres(postmaster: number | undefined, dataDir: string): void {
  if (postmaster) send(postmaster, 'SIGSTOP');
  for (const pid of postgresPids(postmaster, dataDir)) send(pid, 'SIGKILL');
}
