import { spawn } from 'node:child_process';
import { spawnSync } from '../../support/run-sync.js';
import fs from 'node:fs';
import path from 'node:path';
import { encode } from '@msgpack/msgpack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from '../../../src/bus/connection.js';
import { redisUrlFor, renderAclFile, resolveCredentials } from '../../../src/bus/acl.js';
import { canopyUsers } from '../../../src/contracts/acl-users.js';
import { ConfigError, PermissionError } from '../../../src/bus/errors.js';
import { UserCodec } from '../../../src/contracts/user-channels.js';
import {
  parseRecordUsers,
  parseUserKinds,
  start,
  type RecorderHandle,
  type RecorderConfig,
} from '../../../src/services/recorder/index.js';
import { createLogger } from '../../../src/util/log.js';
import { startRedis, type TestRedis } from '../../support/redis.js';
import { tempDir } from '../../support/tmp.js';
import { registerChild } from '../../support/cleanup.js';

const CLI = path.resolve('dist/src/cli/main.js');
const codec = new UserCodec();
let redis: TestRedis;
let conn: Connection;
const recorders: RecorderHandle[] = [];

beforeAll(async () => {
  redis = await startRedis();
  conn = await Connection.connect({ url: redis.url });
});
afterAll(async () => {
  for (const r of recorders) await r.stop();
  await conn.close();
});

async function recorder(cfg: Partial<RecorderConfig>): Promise<{ rec: RecorderHandle; dir: string }> {
  const dir = tempDir();
  const rec = await start({
    dir,
    ...cfg,
    runtime: { connection: { url: redis.url }, log: createLogger('recorder', 'silent') },
  });
  recorders.push(rec);
  return { rec, dir };
}

type Line = Record<string, unknown> & { channel: string; user: string; kind: string; message?: unknown };

function readLines(dir: string, prefix: string): Line[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.startsWith(prefix))
    .flatMap((f) => fs.readFileSync(path.join(dir, f), 'utf8').split('\n'))
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line);
}

/** Polls `cond`; `each` runs before every wait (e.g. to publish again until a late subscriber hears it). */
async function until(cond: () => boolean, what: string, ms = 20_000, each?: () => void): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    each?.();
    await new Promise((r) => setTimeout(r, each ? 100 : 25));
  }
}

const publish = (channel: string, payload: Buffer | string) => conn.client.publish(channel, payload);

describe('recorder: user channels', () => {
  it('parses the user and kind lists and refuses bad entries with a ConfigError', () => {
    expect(parseRecordUsers(undefined)).toEqual([]);
    expect(parseRecordUsers(' alice, bob ,alice,')).toEqual(['alice', 'bob']);
    expect(parseRecordUsers('alice,*')).toEqual(['*']);
    expect(() => parseRecordUsers('alice,bad:id')).toThrow(ConfigError);
    expect(parseUserKinds('')).toEqual(['raw', 'features', 'predictions', 'commands', 'alerts']);
    expect(parseUserKinds('raw, predictions')).toEqual(['raw', 'predictions']);
    expect(() => parseUserKinds('raw,nope')).toThrow(ConfigError);
  });

  it('records the chosen users only, decoded from MessagePack or JSON, keeping invalid and undecodable messages flagged', async () => {
    const { rec, dir } = await recorder({ users: ['alice'] });
    const at = new Date('2026-01-02T03:04:05.678Z');
    // a raw block with a MessagePack timestamp and a binary extra field
    await publish(
      'user:alice:raw',
      Buffer.from(
        encode({ type: 'raw', timestamp: at, channels: { Ch0: [1.5, 2.5] }, blob: new Uint8Array([1, 2, 255]) }),
      ),
    );
    await publish('user:bob:raw', codec.encode({ type: 'raw', timestamp: 1, channels: { Ch0: 9 } }));
    await publish(
      'user:alice:predictions',
      JSON.stringify({ type: 'prediction', prediction_type: 'p', data: { x: 0.5 }, confidence: 0.9 }),
    );
    await publish('user:alice:raw', Buffer.from([0xc1, 0x00, 0xff])); // 0xc1 is never valid MessagePack
    await publish('user:alice:raw', codec.encode({ type: 'raw', timestamp: 2 })); // no channels
    await publish('user:alice:commands', codec.encode({ type: 'command', command: 'beep', timestamp: 3 }));
    await until(() => rec.stats.userRecorded >= 5, 'five recorded user messages');
    await rec.flush();

    const lines = readLines(dir, 'users-');
    expect(lines.map((l) => `${l.channel} ${l.codec ?? '-'}`)).toEqual([
      'user:alice:raw msgpack',
      'user:alice:predictions json',
      'user:alice:raw -',
      'user:alice:raw msgpack',
      'user:alice:commands msgpack',
    ]);
    expect(lines[0]).toMatchObject({
      user: 'alice',
      kind: 'raw',
      message: { type: 'raw', timestamp: at.toISOString(), channels: { Ch0: [1.5, 2.5] }, blob: { $base64: 'AQL/' } },
    });
    expect(lines[0]).not.toHaveProperty('invalid');
    expect(lines[1]?.message).toEqual({ type: 'prediction', prediction_type: 'p', data: { x: 0.5 }, confidence: 0.9 });
    expect(lines[2]).toMatchObject({ bytes: 3, base64: Buffer.from([0xc1, 0x00, 0xff]).toString('base64') });
    expect(typeof lines[2]?.undecodable).toBe('string');
    expect(String(lines[3]?.invalid)).toMatch(/channels/);
    expect(lines[3]?.message).toEqual({ type: 'raw', timestamp: 2 });
    expect(rec.stats).toMatchObject({ userRecorded: 5, userInvalid: 1, userUndecodable: 1 });
    // user data never reaches the update log
    expect(readLines(dir, 'updates-')).toEqual([]);
  });

  it('with "*" and chosen kinds records every user on those kinds only and ignores names that are no user channel', async () => {
    const { rec, dir } = await recorder({ users: ['*'], userKinds: ['raw'] });
    await publish('user:alice:predictions', codec.encode({ type: 'prediction', data: {} }));
    await publish('user:a:b:raw', codec.encode({ type: 'raw', timestamp: 1, channels: {} }));
    await publish('user:alice:raw', codec.encode({ type: 'raw', timestamp: 1, channels: { Ch0: 1 } }));
    await publish('user:bob:raw', codec.encode({ type: 'raw', timestamp: 2, channels: { Ch0: 2 } }));
    await until(() => rec.stats.userRecorded >= 2, 'two recorded user messages');
    await rec.flush();
    expect(readLines(dir, 'users-').map((l) => `${l.user} ${l.kind}`)).toEqual(['alice raw', 'bob raw']);
    expect(rec.stats.userIgnored).toBe(1);
  });

  it('is off by default: a user channel a broad update pattern matches (user "update") is not recorded anywhere', async () => {
    const { rec, dir } = await recorder({ patterns: ['*:update', '*:update:*'] });
    await publish('user:update:raw', codec.encode({ type: 'raw', timestamp: 1, channels: { Ch0: 1 } }));
    await publish('sensor:update', JSON.stringify({ sensor_data: { x: 1 } }));
    await until(() => rec.stats.recorded >= 1, 'the sensor update');
    await rec.flush();
    expect(readLines(dir, 'updates-').map((l) => l.channel)).toEqual(['sensor:update']);
    expect(readLines(dir, 'users-')).toEqual([]);
    expect(rec.stats.userRecorded).toBe(0);
  });

  it('canopy recorder takes CANOPY_RECORD_USERS from the environment and refuses a bad list', async () => {
    const bad = spawnSync(process.execPath, [CLI, 'recorder', '--users', 'alice,no spaces'], {
      env: { ...process.env, REDIS_URL: redis.url },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/"no spaces" is not a user id/);

    const dir = tempDir();
    const child = spawn(process.execPath, [CLI, 'recorder', '--dir', dir], {
      env: { ...process.env, REDIS_URL: redis.url, CANOPY_RECORD_USERS: 'carol', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    registerChild(child);
    const exited = new Promise((r) => child.once('exit', r));
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      const msg = codec.encode({ type: 'raw', timestamp: 1, channels: { Ch0: 42 } });
      // the child subscribes some time after it starts: publish until a line arrives
      const deadline = Date.now() + 30_000;
      const recorded = () =>
        fs.readdirSync(dir).some((f) => f.startsWith('users-') && fs.statSync(path.join(dir, f)).size > 0);
      while (!recorded()) {
        if (Date.now() > deadline) throw new Error(`nothing recorded; stderr: ${stderr}`);
        await publish('user:carol:raw', msg);
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
    const lines = readLines(dir, 'users-');
    expect(lines.length).toBeGreaterThan(0);
    expect(lines[0]).toMatchObject({ user: 'carol', kind: 'raw', message: { channels: { Ch0: 42 } } });
  });

  it('under the generated canopy-recorder ACL user: updates record, user recording stops at start with a ConfigError naming the grant', async () => {
    const dir = tempDir();
    const users = canopyUsers();
    const { secrets } = resolveCredentials(
      users.map((u) => u.name),
      path.join(dir, 'creds'),
      {},
    );
    fs.writeFileSync(path.join(dir, 'users.acl'), renderAclFile(users, secrets), { mode: 0o600 });
    const acl = await startRedis({ extraConfig: [`aclfile ${path.join(dir, 'users.acl')}`] });
    const url = redisUrlFor(acl.url, 'canopy-recorder', secrets.get('canopy-recorder')!.password);
    const runtime = { connection: { url }, connectAttempts: 1, log: createLogger('recorder', 'silent') };

    const ok = await start({ dir: tempDir(), runtime });
    const worker = await Connection.connect({
      url: redisUrlFor(acl.url, 'canopy-worker', secrets.get('canopy-worker')!.password),
    });
    try {
      await until(
        () => ok.stats.recorded >= 1,
        'an update recorded under ACLs',
        20_000,
        () => void worker.client.publish('sensor:update', JSON.stringify({ sensor_data: { x: 1 } })),
      );
    } finally {
      await worker.close();
      await ok.stop();
    }
    const err = await start({ dir: tempDir(), users: ['alice'], runtime }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).cause).toBeInstanceOf(PermissionError);
    expect((err as Error).message).toMatch(/may not subscribe to user:alice:raw/);
  });

  it('with CANOPY_RECORD_USERS, canopy acl grants the recorder those channels, and it records them under its ACL user', async () => {
    const described = spawnSync(process.execPath, [CLI, 'acl', '--format', 'describe'], {
      env: { ...process.env, CANOPY_RECORD_USERS: 'alice', CANOPY_RECORD_USER_KINDS: 'raw' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(described.status).toBe(0);
    expect(described.stdout).toMatch(/canopy-recorder: .*records users' channels user:alice:raw\n/);

    const dir = tempDir();
    const users = canopyUsers({ recordUsers: ['alice'], recordUserKinds: ['raw'] });
    const { secrets } = resolveCredentials(
      users.map((u) => u.name),
      path.join(dir, 'creds'),
      {},
    );
    fs.writeFileSync(path.join(dir, 'users.acl'), renderAclFile(users, secrets), { mode: 0o600 });
    const acl = await startRedis({ extraConfig: [`aclfile ${path.join(dir, 'users.acl')}`] });
    const url = (u: string) => redisUrlFor(acl.url, u, secrets.get(u)!.password);
    const log = createLogger('recorder', 'silent');
    const rec = await start({
      dir,
      users: ['alice'],
      userKinds: ['raw'],
      runtime: { connection: { url: url('canopy-recorder') }, connectAttempts: 1, log },
    });
    recorders.push(rec);
    // bob's channels stay out of its reach
    const bob = await start({
      dir: tempDir(),
      users: ['bob'],
      runtime: { connection: { url: url('canopy-recorder') }, connectAttempts: 1, log },
    }).catch((e: unknown) => e);
    expect(bob).toBeInstanceOf(ConfigError);
    const gateway = await Connection.connect({ url: url('canopy-gateway') });
    try {
      await gateway.client.publish('user:alice:raw', codec.encode({ type: 'raw', timestamp: 1, channels: { Ch0: 5 } }));
      await until(() => rec.stats.userRecorded >= 1, 'alice recorded under ACLs');
    } finally {
      await gateway.close();
    }
    await rec.flush();
    expect(readLines(dir, 'users-')[0]).toMatchObject({
      user: 'alice',
      kind: 'raw',
      message: { channels: { Ch0: 5 } },
    });
  });
});
