import { describe, expect, it } from 'vitest';
import { CLI, spawnService } from '../../bench/lib/spawn-service.js';
import { API_NODE_ARGS, LIGHT_NODE_ARGS, WORKER_NODE_ARGS } from '../../src/ops/services-list.js';

/** The command line a benchmark would start (the child is killed at once: only its arguments matter here). */
function commandLine(args: string[], extraNodeArgs?: string[]): string[] {
  const child = spawnService(args, { stdio: 'ignore', extraNodeArgs });
  child.kill('SIGKILL');
  return child.spawnargs.slice(1);
}

describe('benchmarks start each service as it is deployed', () => {
  it('with the Node options canopy up and the systemd units give it, then any extra flags, then the CLI', () => {
    expect(commandLine(['worker', '--name', 'bench'])).toEqual([...WORKER_NODE_ARGS, CLI, 'worker', '--name', 'bench']);
    expect(commandLine(['api', '--port', '1'])).toEqual([...API_NODE_ARGS, CLI, 'api', '--port', '1']);
    expect(commandLine(['gateway'], ['--cpu-prof'])).toEqual([...LIGHT_NODE_ARGS, '--cpu-prof', CLI, 'gateway']);
    expect(CLI).toMatch(/src\/cli\/main\.js$/);
  });
});
