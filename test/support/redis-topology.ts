import {
  startSentinelTopology as start,
  type SentinelTopology,
  type SentinelTopologyOptions,
} from '../../src/ops/sentinel-topology.js';
import { register } from './cleanup.js';
import { tempDir } from './tmp.js';

export type { SentinelTopology };

/**
 * A primary, one replica and three sentinels (src/ops/sentinel-topology.ts)
 * on free loopback ports in a temporary directory, killed when the test file ends.
 */
export function startSentinelTopology(
  opts: Partial<Omit<SentinelTopologyOptions, 'dir' | 'onStart'>> = {},
): Promise<SentinelTopology> {
  return start({
    ...opts,
    dir: tempDir('canopy-sentinel-'),
    onStart: (rp) =>
      register({
        stop: () => rp.kill(),
        killSync: () => {
          if (rp.pid && rp.running) process.kill(rp.pid, 'SIGKILL');
        },
      }),
  });
}
