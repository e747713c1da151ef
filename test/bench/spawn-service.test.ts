import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLI, spawnService } from '../../bench/lib/spawn-service.js';
import {
  API_NODE_ARGS,
  GATEWAY_NODE_ARGS,
  LIGHT_NODE_ARGS,
  MALLOC_ARENA_MAX,
  WORKER_NODE_ARGS,
} from '../../src/ops/services-list.js';

/** The command line a benchmark would start (the child is killed at once: only its arguments matter here). */
function commandLine(args: string[], extraNodeArgs?: string[]): string[] {
  const child = spawnService(args, { stdio: 'ignore', extraNodeArgs });
  child.kill('SIGKILL');
  return child.spawnargs.slice(1);
}

/** The environment a benchmark's service process runs with, read from /proc before it is killed. */
function childEnv(env?: NodeJS.ProcessEnv): string[] {
  const child = spawnService(['worker'], { stdio: 'ignore', env });
  try {
    return fs.readFileSync(`/proc/${child.pid}/environ`, 'utf8').split('\0');
  } finally {
    child.kill('SIGKILL');
  }
}

describe('benchmarks start each service as it is deployed', () => {
  it('with the Node options canopy up and the systemd units give it, then any extra flags, then the CLI', () => {
    expect(commandLine(['worker', '--name', 'bench'])).toEqual([...WORKER_NODE_ARGS, CLI, 'worker', '--name', 'bench']);
    expect(commandLine(['api', '--port', '1'])).toEqual([...API_NODE_ARGS, CLI, 'api', '--port', '1']);
    expect(commandLine(['gateway'], ['--cpu-prof'])).toEqual([...GATEWAY_NODE_ARGS, '--cpu-prof', CLI, 'gateway']);
    expect(commandLine(['alerts'])).toEqual([...LIGHT_NODE_ARGS, CLI, 'alerts']);
    expect(CLI).toMatch(/src\/cli\/main\.js$/);
  });

  it("with the malloc arena cap unless the environment names one, and the caller's variables on top", () => {
    const own = process.env.MALLOC_ARENA_MAX;
    delete process.env.MALLOC_ARENA_MAX;
    try {
      const env = childEnv({ CANOPY_BENCH_MARK: 'x' });
      expect(env).toContain(`MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX}`);
      expect(env).toContain('CANOPY_BENCH_MARK=x');
      expect(childEnv({ MALLOC_ARENA_MAX: '4' })).toContain('MALLOC_ARENA_MAX=4');
      process.env.MALLOC_ARENA_MAX = '3';
      expect(childEnv()).toContain('MALLOC_ARENA_MAX=3');
    } finally {
      if (own === undefined) delete process.env.MALLOC_ARENA_MAX;
      else process.env.MALLOC_ARENA_MAX = own;
    }
  });
});
