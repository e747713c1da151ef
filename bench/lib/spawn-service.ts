import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mallocEnv, serviceNodeArgs } from '../../src/ops/services-list.js';

/** The compiled CLI (`canopy`), next to the compiled benchmarks. */
export const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

export interface SpawnServiceOptions {
  /** Added to this process's environment. @defaultValue none */
  env?: NodeJS.ProcessEnv;
  /** @defaultValue 'ignore' for stdin and stdout, stderr inherited */
  stdio?: StdioOptions;
  /** Node flags after the deployed ones, e.g. `--cpu-prof`. @defaultValue none */
  extraNodeArgs?: string[];
}

/**
 * `canopy <args>` as its own process, run as it is deployed: the Node options
 * of its service (`serviceNodeArgs(args[0])`, what `canopy up` and the systemd
 * units give it) and the malloc arena cap unless the environment sets one.
 * A benchmark of a service started otherwise would measure another program.
 */
export function spawnService(args: string[], opts: SpawnServiceOptions = {}): ChildProcess {
  const nodeArgs = [...serviceNodeArgs(args[0] ?? ''), ...(opts.extraNodeArgs ?? [])];
  return spawn(process.execPath, [...nodeArgs, CLI, ...args], {
    env: { ...mallocEnv(process.env), ...process.env, ...opts.env },
    stdio: opts.stdio ?? ['ignore', 'ignore', 'inherit'],
  });
}
