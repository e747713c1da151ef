import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RelayClient } from '../../src/client/relay.js';
import type { Gateway } from '../../src/services/gateway/gateway.js';
import type { TestRedis } from '../support/redis.js';
import { startGateway, TOKENS, until } from './helpers.js';
import { registerChild } from '../support/cleanup.js';

const PEER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'interop_peer.py');

describe('interop with Python redis-py + msgpack', () => {
  let redis: TestRedis;
  let gateway: Gateway;
  beforeAll(async () => {
    ({ redis, gateway } = await startGateway());
  });
  afterAll(async () => {
    await gateway.stop();
  });

  it('Python decodes what the relay sent and the relay decodes what Python published, exactly', async () => {
    const relay = await RelayClient.connect({ url: gateway.url, user: 'jamie', token: TOKENS.get('jamie')! });
    const predictions: unknown[] = [];
    relay.on('prediction', (p) => predictions.push(p));
    const py = spawn('/usr/bin/python3', [PEER, redis.url, 'jamie'], { stdio: ['ignore', 'pipe', 'pipe'] });
    registerChild(py);
    let stderr = '';
    py.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => py.on('exit', (code) => resolve(code)));
    const lines: string[] = [];
    readline.createInterface({ input: py.stdout }).on('line', (l) => lines.push(l));
    await until(() => lines.includes('READY') || py.exitCode !== null, 'the Python subscriber');
    expect(lines, stderr).toContain('READY');

    const nested = { a: { b: [1, 2.5, 'x', null, true] } };
    relay.send({
      type: 'raw',
      timestamp: new Date(1700000000123),
      seq: 7,
      channels: { Ch0: 0.1 + 0.2, Ch1: -273.15, Ch2: 1e-300, Ch3: 42, Ch4: -(2 ** 40), Ch5: [1.5, 2, -3.25] },
      meta: { site: 'Flower Room ✓', nested },
      ts_float: 1700000000.25,
    });
    await until(() => lines.length >= 2, 'the Python verdict');
    expect(JSON.parse(lines[1]!)).toEqual({ ok: true, problems: [] });
    await until(() => predictions.length === 1, 'the Python prediction');
    expect(await exited, stderr).toBe(0);
    expect(predictions[0]).toStrictEqual({
      type: 'prediction',
      prediction_type: 'workload',
      data: {
        workload: 0.30000000000000004,
        valence: -1.5e-7,
        count: 1099511627776,
        neg: -7,
        zero: 0,
        nested,
        text: 'Flower Room ✓',
      },
      confidence: 0.92,
      source: 'python-redis',
      timestamp: new Date(1700000000456),
      ts_float: 1700000000.25,
    });
    await relay.close();
  });
});
