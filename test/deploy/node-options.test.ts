/**
 * The V8 limits and the malloc arena cap `canopy up` gives each service
 * (src/ops/services-list.ts) and the NODE_OPTIONS and MALLOC_ARENA_MAX of its
 * systemd unit say the same thing: one is not changed without the other.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  API_NODE_ARGS,
  GATEWAY_NODE_ARGS,
  LIGHT_NODE_ARGS,
  MALLOC_ARENA_MAX,
  serviceNodeArgs,
  WORKER_NODE_ARGS,
} from '../../src/ops/services-list.js';

const DIR = path.resolve('deploy/systemd');
/** Units that run no long-lived Canopy service (one-shot jobs): no limits expected. */
const ONE_SHOT = new Set(['canopy-backup.service', 'canopy-can-setup.service', 'canopy-error-handler@.service']);

/** canopy-worker@.service → worker, canopy-api.service → api. */
const serviceOf = (unit: string) => unit.replace(/^canopy-/, '').replace(/@?\.service$/, '');

function nodeOptions(text: string): string[] | undefined {
  const m = /^Environment="?NODE_OPTIONS=([^"\n]*)"?$/m.exec(text);
  return m ? (m[1] as string).trim().split(/\s+/) : undefined;
}

describe('systemd units carry the Node options canopy up uses', () => {
  const units = fs.readdirSync(DIR).filter((f) => f.endsWith('.service') && !ONE_SHOT.has(f));

  it('gives the worker, the api and the gateway their own limits, every other service the light ones', () => {
    expect(serviceNodeArgs(serviceOf('canopy-worker@.service'))).toBe(WORKER_NODE_ARGS);
    expect(serviceNodeArgs(serviceOf('canopy-api.service'))).toBe(API_NODE_ARGS);
    expect(serviceNodeArgs(serviceOf('canopy-gateway.service'))).toBe(GATEWAY_NODE_ARGS);
    expect(serviceNodeArgs(serviceOf('canopy-alerts.service'))).toBe(LIGHT_NODE_ARGS);
  });

  it('covers every service unit', () => {
    expect(units.length).toBeGreaterThanOrEqual(10);
    expect(units).toContain('canopy-worker@.service');
  });

  it.each(units)('%s', (unit) => {
    const text = fs.readFileSync(path.join(DIR, unit), 'utf8');
    expect(nodeOptions(text)).toEqual(serviceNodeArgs(serviceOf(unit)));
    expect(/^Environment=MALLOC_ARENA_MAX=(\S+)$/m.exec(text)?.[1]).toBe(MALLOC_ARENA_MAX);
  });
});
