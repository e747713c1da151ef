import fs from 'node:fs';
import path from 'node:path';
import { createClient } from 'redis';
import { describe, expect, it } from 'vitest';
import { formatCanId, formatData } from '../../src/can/frame.js';
import { encodePt100 } from '../../src/can/protocol.js';
import { register } from '../support/cleanup.js';
import { sqliteCount, spawnCli, until } from '../support/cli-procs.js';
import net from 'node:net';
import { startSentinelTopology } from '../support/redis-topology.js';
import { tempDir } from '../support/tmp.js';
import { present } from '../support/narrow.js';

/** Frames sent; the figure. */
const N = 100_000;
/** The log spans N ms; replayed this many times faster than real time. */
const SPEED = 5;

interface Gate {
  port: number;
  /** From now on, bytes in either direction are dropped (never delivered later). */
  cut(): void;
  close(): void;
}

/** A TCP relay for the replication link that can be cut without the connection closing. */
async function startGate(targetPort: number): Promise<Gate> {
  let cut = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const up = net.connect(targetPort, '127.0.0.1');
    const end = () => {
      client.destroy();
      up.destroy();
    };
    for (const [from, to] of [
      [client, up],
      [up, client],
    ] as const) {
      sockets.add(from);
      from.on('data', (d) => {
        if (!cut) to.write(d);
      });
      from.on('error', end).on('close', end);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    cut: () => (cut = true),
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/** A candump -L log of N PT100 frames 1 ms apart, ending now. */
function writeLog(file: string): void {
  const t0 = Date.now() - N - 60_000;
  const lines: string[] = [];
  for (let i = 0; i < N; i++) {
    const f = encodePt100(1 + (i % 3), 20 + (i % 50) / 10, 18 + (i % 40) / 10, 0, t0 + i);
    const ts = `${Math.floor(f.ts / 1000)}.${String((f.ts % 1000) * 1000).padStart(6, '0')}`;
    lines.push(`(${ts}) can0 ${formatCanId(f.id, false).slice(2)}#${formatData(f.data).replace(/ /g, '')}`);
  }
  fs.writeFileSync(file, lines.join('\n') + '\n');
}

describe('Sentinel failover under load', () => {
  it(`a kill -9 of the Redis primary while ${N} frames flow: all ${N} frames stored once, services healthy`, async () => {
    // the replica replicates through a proxy: the test holds its link back just before the kill, so
    // the old primary dies holding batches the replica never got (what WAIT and the spool are for)
    let link: Gate | undefined;
    const topo = await startSentinelTopology({
      replicaLink: async (port) => {
        link = await startGate(port);
        const gate = link;
        register({ stop: async () => gate.close(), killSync: () => gate.close() });
        return gate.port;
      },
    });
    const dir = tempDir();
    const dbPath = path.join(dir, 'canopy.db');
    const log = path.join(dir, 'capture.log');
    writeLog(log);
    const env = {
      REDIS_URL: '',
      REDIS_SENTINELS: topo.sentinelList,
      REDIS_SENTINEL_MASTER: topo.masterName,
      DATABASE_URL: `sqlite:${dbPath}`,
      CANOPY_DATA_DIR: dir,
    };
    const worker = spawnCli(['worker', '--name', 'failover-w', '--batch', '500'], env, 'error');
    const rows = () => sqliteCount(dbPath, 'SELECT COUNT(*) AS n FROM can_messages');
    // the scanner starts once the worker has its store ready (-1: no table yet): on a loaded machine a
    // slow worker start would otherwise let the whole capture go by before the test cuts the link
    await until('the worker ready', () => rows() >= 0, 90_000);
    const scanner = spawnCli(['scanner', '--source', `replay:${log}@${SPEED}`], env, 'error');

    // kill the primary once the scanner sent a fifth of the capture (the rest still flows for seconds)
    // and the worker is storing
    const first = createClient({ socket: { host: '127.0.0.1', port: topo.nodes[0]?.port } });
    first.on('error', () => undefined);
    await first.connect();
    await until(
      'frames flowing before the kill',
      async () => Number(await first.xLen('can:raw')) >= N / 5 && rows() > 0,
      90_000,
    );
    const replica = createClient({ socket: { host: '127.0.0.1', port: topo.nodes[1]?.port } });
    replica.on('error', () => undefined);
    await replica.connect();
    link?.cut();
    // the scanner's next batch reaches the primary but not the replica (WAIT does not confirm it, so the
    // scanner keeps it, and what follows, in its spool) ...
    let onPrimary = 0;
    await until(
      'a batch on the primary only',
      async () => {
        onPrimary = Number(await first.xLen('can:raw'));
        return onPrimary > Number(await replica.xLen('can:raw'));
      },
      10_000,
    ).catch(() => console.log('failover: no batch seen on the primary only before the kill'));
    // ... and the worker stores it from the primary (given up to 20 s; the kill follows either way)
    await until('the worker storing what the replica lacks', () => rows() >= onPrimary, 10_000).catch(() =>
      console.log(`failover: killing with ${onPrimary - rows()} entries of the primary not yet stored`),
    );
    // a batch WAIT did not confirm is held in the scanner's spool (Redis itself is up)
    const spool = path.join(dir, 'spool', 'can_raw.spool');
    // (seen here when it is; the scanner's `unconfirmed` counter asserted below is the proof either way)
    await until(
      'an unconfirmed batch in the spool',
      () => fs.existsSync(spool) && fs.statSync(spool).size > 0,
      5_000,
    ).catch(() => console.log('failover: the spool file was not seen non-empty before the kill'));
    replica.destroy();
    first.destroy();
    const killedAt = Date.now();
    const old = await topo.killPrimary();

    const stored = rows();
    // on a loaded machine the capture may have gone by before the kill: the failover is then of idle
    // consumers, and every assertion below still holds
    if (stored >= N) console.log('failover: every frame was stored before the kill');
    const next = await topo.waitForFailover(old);
    const promotedAt = Date.now();

    const raw = createClient({ socket: { host: next.host, port: next.port } });
    raw.on('error', () => undefined);
    await raw.connect();
    const lenAtPromotion = Number(await raw.xLen('can:raw'));
    await until(
      'the scanner writing to the new primary',
      async () => Number(await raw.xLen('can:raw')) > lenAtPromotion,
      60_000,
    );
    const scannerBackAt = Date.now();
    const rowsAtBack = rows();
    await until('the worker storing again', () => rows() > rowsAtBack, 60_000);
    const workerBackAt = Date.now();

    await until(`all ${N} frames stored`, () => rows() >= N, 120_000);
    // every service beats again, on the new primary, with the switch in its heartbeat
    const beats = async () => {
      const keys = await raw.keys('heartbeat:*');
      const values = (await Promise.all(keys.map((k) => raw.get(k)))).map((v) => JSON.parse(v ?? '{}'));
      return values as {
        service: string;
        redis?: { primary: string; switches: number; lastSwitchAt: string };
        [counter: string]: unknown;
      }[];
    };
    await until(
      'scanner and worker heartbeats after the switch',
      async () => {
        const b = await beats();
        return ['scanner', 'worker'].every((s) =>
          b.some(
            (x) => x.service === s && (x.redis?.switches ?? 0) >= 1 && x.redis?.primary === `127.0.0.1:${next.port}`,
          ),
        );
      },
      60_000,
    );
    const pendingEmpty = async () =>
      Number(((await raw.sendCommand(['XPENDING', 'can:raw', 'can-worker'])) as unknown[])[0]) === 0;
    await until('everything acked', pendingEmpty, 60_000);

    const sc = present(
      (await beats()).find((b) => b.service === 'scanner'),
      "the scanner's heartbeat",
    );
    expect(sc.dropped).toBe(0);
    // batches WAIT did not confirm were kept and replayed under their original ids
    // (on a loaded machine the kill may come before a batch went unconfirmed: counted, not asserted;
    // test/bus/sentinel-spool.test.ts asserts the unconfirmed path deterministically)
    console.log(`failover: ${String(sc.unconfirmed)} entries were unconfirmed before the kill`);
    console.log(
      `failover: primary killed after ${stored} rows; sentinels promoted a replica in ${(promotedAt - killedAt) / 1000} s; ` +
        `scanner writing again after ${(scannerBackAt - killedAt) / 1000} s, worker storing again after ` +
        `${(workerBackAt - killedAt) / 1000} s (time to recover, not asserted); scanner: ` +
        JSON.stringify({
          unconfirmed: sc.unconfirmed,
          replayed: sc.replayed,
          replayedAfterSwitch: sc.replayedAfterSwitch,
          duplicatesSkipped: sc.duplicatesSkipped,
          reassigned: sc.reassigned,
          idsMoved: sc.idsMoved,
        }),
    );
    expect(sc.reassigned).toBe(0);
    // none lost: every frame of the capture is stored
    expect(sqliteCount(dbPath, 'SELECT COUNT(DISTINCT timestamp) AS n FROM can_messages')).toBe(N);
    // and none twice: the scanner gives frames their stream ids, so a batch whose reply the kill cut off
    // (the old primary added it, the worker stored it, the replica never had it) is sent again under the
    // same ids and the store recognises it (docs/scaling-sentinel.md)
    expect(sc.idsMoved).toBe(0);
    expect(rows()).toBe(N);
    scanner.kill('SIGTERM');
    worker.kill('SIGTERM');
    await Promise.all(
      [scanner, worker].map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)),
    );
    raw.destroy();
    await topo.stop();
  }, 300_000);
});
