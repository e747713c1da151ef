import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from '../../src/bus/connection.js';
import { PermissionError } from '../../src/bus/errors.js';
import {
  passwordHash,
  readCredentialsFile,
  redisUrlFor,
  renderAclFile,
  renderSetUserCommands,
  resolveCredentials,
  setUserCommands,
  type AclUserSpec,
} from '../../src/bus/acl.js';
import { consumerUser, parseConsumerSpec } from '../../src/contracts/acl-consumers.js';
import { canopyUsers, SERVICE_NAMES, serviceUser } from '../../src/contracts/acl-users.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { tempDir } from '../support/tmp.js';

const consumers = [
  consumerUser({ name: 'ml', users: ['jamie'] }),
  consumerUser(parseConsumerSpec('dash=jamie,alex:sub=raw:pub=')),
];
const users: AclUserSpec[] = [...canopyUsers(), ...consumers];

describe('ACL rendering', () => {
  it('writes hashes only, one user per service, default user off, selectors per grant', () => {
    const dir = tempDir();
    const creds = resolveCredentials(
      users.map((u) => u.name),
      path.join(dir, 'creds'),
      {},
    );
    const text = renderAclFile(users, creds.secrets);
    for (const [, s] of creds.secrets) {
      expect(text).not.toContain(s.password);
      expect(text).toContain(`#${passwordHash(s.password)}`);
    }
    expect(text).toMatch(/^user default off/m);
    for (const s of SERVICE_NAMES) expect(text).toMatch(new RegExp(`^user canopy-${s} reset on #`, 'm'));
    expect(text).toContain('(+xadd %W~can:raw)');
    expect(text).toContain(
      '(+subscribe +unsubscribe &user:jamie:raw &user:jamie:features) (+publish &user:jamie:predictions)',
    );
    expect(creds.generated).toHaveLength(users.length);
    expect(fs.statSync(path.join(dir, 'creds')).mode & 0o777).toBe(0o600);
    // a second run reuses the file; the environment wins over it
    const again = resolveCredentials(
      users.map((u) => u.name),
      path.join(dir, 'creds'),
      { 'canopy-api': 'from-the-environment-123' },
    );
    expect(again.generated).toEqual([]);
    expect(again.given).toEqual(['canopy-api']);
    expect(again.secrets.get('canopy-api')?.password).toBe('from-the-environment-123');
    expect(again.secrets.get('canopy-worker')).toEqual(creds.secrets.get('canopy-worker'));
  });

  it('SETUSER commands print hashes unless plaintext is asked for', () => {
    const secrets = new Map([['canopy-scanner', { password: 'p'.repeat(20) }]]);
    const spec = [serviceUser('scanner')];
    expect(renderSetUserCommands(spec, secrets)).not.toContain('p'.repeat(20));
    expect(renderSetUserCommands(spec, secrets)).toMatch(/^ACL SETUSER canopy-scanner reset on #[0-9a-f]{64} /);
    expect(renderSetUserCommands(spec, secrets, { plaintext: true })).toContain(`>${'p'.repeat(20)}`);
    expect(renderSetUserCommands(spec, secrets)).toContain('"(+xadd %W~can:raw)"');
  });

  it('refuses a credentials file readable by others, bad names and bad specs', () => {
    const f = path.join(tempDir(), 'creds');
    fs.writeFileSync(f, 'canopy-api=secretsecretsecret\n', { mode: 0o644 });
    fs.chmodSync(f, 0o644);
    expect(() => readCredentialsFile(f)).toThrow(/chmod 600/);
    expect(() => consumerUser({ name: 'x', users: ['a*'] })).toThrow(/invalid user id/);
    expect(() => parseConsumerSpec('ml=jamie:pub=raw')).toThrow(/cannot publish to "raw"/);
    expect(() => parseConsumerSpec('ml')).toThrow(/name=user1/);
    expect(() => serviceUser('nope')).toThrow(/unknown service/);
    const bad: AclUserSpec = { name: 'x', description: '', grants: [{ commands: ['get'], keys: ['a b'] }] };
    expect(() => setUserCommands([bad], new Map([['x', { password: 'q'.repeat(20) }]]))).toThrow(/invalid key pattern/);
  });
});

describe('ACL loaded into a real redis-server', () => {
  let redis: TestRedis;
  let secrets: Map<string, { password: string }>;
  const open: Connection[] = [];

  beforeAll(async () => {
    const dir = tempDir();
    secrets = resolveCredentials(
      users.map((u) => u.name),
      path.join(dir, 'creds'),
      {},
    ).secrets;
    const aclFile = path.join(dir, 'users.acl');
    fs.writeFileSync(aclFile, renderAclFile(users, secrets), { mode: 0o600 });
    redis = await startRedis({ extraConfig: [`aclfile ${aclFile}`] });
  });
  afterAll(async () => {
    await Promise.all(open.map((c) => c.close()));
  });

  async function as(user: string): Promise<Connection> {
    const c = await Connection.connect({
      url: redisUrlFor(redis.url, user, secrets.get(user)!.password),
      healthCheckIntervalMs: 0,
    });
    open.push(c);
    return c;
  }
  /** `argv` as one raw command; `T` names the reply's shape where a test reads it (node-redis leaves raw replies untyped). */
  const cmd = <T = unknown>(c: Connection, ...argv: string[]) => c.run(argv[0]!, (cl) => cl.sendCommand<T>(argv));
  async function denied(c: Connection, ...argv: string[]) {
    const err = await cmd(c, ...argv).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, `${argv.join(' ')} should be refused`).toBeInstanceOf(PermissionError);
  }
  async function subscribeDenied(c: Connection, channel: string, pattern = false) {
    const sub = await c.duplicate();
    open.push(sub);
    const p = pattern
      ? sub.client.pSubscribe(channel, () => undefined)
      : sub.client.subscribe(channel, () => undefined);
    const err = await sub
      .run('SUBSCRIBE', () => p)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err, `subscribe ${channel} should be refused`).toBeInstanceOf(PermissionError);
  }
  async function subscribeWorks(c: Connection, channel: string, pattern = false) {
    const sub = await c.duplicate();
    open.push(sub);
    const got: string[] = [];
    if (pattern) await sub.client.pSubscribe(channel, (m) => got.push(m));
    else await sub.client.subscribe(channel, (m) => got.push(m));
    return got;
  }

  it('the default user is off', async () => {
    await expect(Connection.connect({ url: redis.url, healthCheckIntervalMs: 0 })).rejects.toThrow();
  });

  it('scanner: XADD to can:raw and its fabric, nothing else', async () => {
    const c = await as('canopy-scanner');
    await cmd(c, 'XADD', 'can:raw', '*', 'id', '0x101', 'data', 'AA FF', 'ts', '1', 'dlc', '2');
    expect(await cmd(c, 'XREVRANGE', 'can:raw', '+', '-', 'COUNT', '1')).toHaveLength(1);
    await cmd(c, 'SET', 'heartbeat:pi:scanner:1', '{}', 'EX', '30');
    await cmd(c, 'SCAN', '0', 'MATCH', 'heartbeat:*');
    await denied(c, 'SET', 'can:raw', 'x');
    await denied(c, 'XADD', 'can:other', '*', 'a', 'b');
    await denied(c, 'XRANGE', 'can:raw', '-', '+');
    await denied(c, 'DEL', 'can:raw');
    await denied(c, 'PUBLISH', 'sensor:update', '{}');
    await denied(c, 'KEYS', '*');
    await denied(c, 'FLUSHALL');
  });

  it('worker: the consumer group, live keys, sensor updates', async () => {
    const c = await as('canopy-worker');
    await cmd(c, 'XGROUP', 'CREATE', 'can:raw', 'can-worker', '0', 'MKSTREAM');
    // RESP3: stream name → its [id, [field, value, …]] entries
    const r = await cmd<Record<string, [id: string, fields: string[]][]>>(
      c,
      'XREADGROUP',
      'GROUP',
      'can-worker',
      'w1',
      'COUNT',
      '10',
      'STREAMS',
      'can:raw',
      '>',
    );
    const id = r['can:raw']![0]![0];
    expect(await cmd(c, 'XACK', 'can:raw', 'can-worker', id)).toBe(1);
    await cmd(c, 'XAUTOCLAIM', 'can:raw', 'can-worker', 'w2', '60000', '0');
    await cmd(c, 'XADD', 'can:raw:dead', '*', 'reason', 'bad');
    await cmd(c, 'SET', 'sensor:dry_bulb_f', '24.5', 'EX', '10');
    await cmd(c, 'SET', 'sensor:dry_bulb_f:ts', '1700000000000', 'EX', '10');
    await cmd(c, 'PUBLISH', 'sensor:update:Flower Room:front', '{}');
    await denied(c, 'XADD', 'can:raw', '*', 'a', 'b');
    await denied(c, 'PUBLISH', 'device:update', '{}');
    await denied(c, 'SET', 'device:heater_1', '1');
    await denied(c, 'FLUSHALL');
  });

  it('api: reads and subscribes; XADD only to actuators:commands (control endpoints), no other writes', async () => {
    const c = await as('canopy-api');
    expect(await cmd(c, 'GET', 'sensor:dry_bulb_f')).toBe('24.5');
    expect(await cmd(c, 'MGET', 'sensor:dry_bulb_f', 'sensor:dry_bulb_f:ts')).toHaveLength(2);
    expect(await cmd(c, 'XLEN', 'can:raw')).toBe(1);
    await cmd(c, 'XINFO', 'STREAM', 'can:raw');
    await cmd(c, 'XINFO', 'GROUPS', 'can:raw');
    await denied(c, 'PUBLISH', 'control:command', '{}'); // commands go to the stream, with who sent them
    await subscribeWorks(c, 'sensor:update');
    await subscribeWorks(c, 'sensor:update:*', true);
    await denied(c, 'XADD', 'can:raw', '*', 'a', 'b');
    await cmd(c, 'XADD', 'actuators:commands', '*', 'device', 'heater_f', 'state', '1', 'by', 'api:operator');
    await denied(c, 'XADD', 'can:raw:dead', '*', 'a', 'b');
    await denied(c, 'DEL', 'actuators:commands');
    await denied(c, 'SET', 'sensor:dry_bulb_f', '1');
    await denied(c, 'PUBLISH', 'sensor:update', '{}');
    await denied(c, 'KEYS', 'sensor:*');
    await denied(c, 'CONFIG', 'SET', 'appendonly', 'no');
  });

  it('automation, alerts, recorder, analytics, exporter, monitor, cli: their own keys and channels', async () => {
    const a = await as('canopy-automation');
    await cmd(a, 'XGROUP', 'CREATE', 'actuators:commands', 'automation', '0', 'MKSTREAM');
    await cmd(a, 'PUBLISH', 'device:update:Flower Room:front', '{}');
    await cmd(a, 'SET', 'device:heater_1', '1');
    await cmd(a, 'PUBLISH', 'control:command', '{}'); // the announcement of an applied command
    await subscribeDenied(a, 'control:command'); // never an input: commands come from actuators:commands
    await denied(a, 'PUBLISH', 'sensor:update', '{}');
    const al = await as('canopy-alerts');
    await cmd(al, 'PUBLISH', 'alerts:update', '{}');
    await cmd(al, 'GET', 'device:heater_1');
    await denied(al, 'SET', 'sensor:x', '1');
    const rec = await as('canopy-recorder');
    await subscribeWorks(rec, 'sensor:update*', true);
    await subscribeWorks(rec, 'device:update:*', true);
    await denied(rec, 'GET', 'sensor:dry_bulb_f');
    await denied(rec, 'PUBLISH', 'sensor:update', '{}');
    const an = await as('canopy-analytics');
    await cmd(an, 'HSET', 'analytics:dry_bulb_f', 'min', '1');
    await cmd(an, 'PUBLISH', 'analytics:update', '{}');
    await denied(an, 'HSET', 'sensor:x', 'a', '1');
    const ex = await as('canopy-exporter');
    await cmd(ex, 'MGET', 'sensor:dry_bulb_f', 'device:heater_1');
    await denied(ex, 'SET', 'device:heater_1', '0');
    const mon = await as('canopy-monitor');
    await cmd(mon, 'XPENDING', 'can:raw', 'can-worker');
    await cmd(mon, 'INFO', 'memory');
    await denied(mon, 'XACK', 'can:raw', 'can-worker', '0-1');
    const cli = await as('canopy-cli');
    await cmd(cli, 'PUBLISH', 'admin:pi:worker:1', '{}');
    await cmd(cli, 'RPUSH', 'admin:queue:pi:worker:1', '{}');
    await denied(cli, 'GET', 'sensor:dry_bulb_f');
    // the mailbox owner drains it
    const w = await as('canopy-worker');
    expect(await cmd(w, 'LPOP', 'admin:queue:pi:worker:1')).toBe('{}');
    await subscribeWorks(w, 'admin:pi:worker:1');
  });

  it('gateway: user channels and backlogs, not the sensor keys', async () => {
    const g = await as('canopy-gateway');
    await cmd(g, 'PUBLISH', 'user:jamie:raw', 'x');
    await cmd(g, 'PUBLISH', 'user:alex:features', 'x');
    await cmd(g, 'XADD', 'user:jamie:backlog', 'MINID', '~', '0', '*', 'm', 'x');
    await cmd(g, 'XRANGE', 'user:jamie:backlog', '-', '+');
    await cmd(g, 'PEXPIRE', 'user:jamie:backlog', '60000');
    await subscribeWorks(g, 'user:*:predictions', true);
    await denied(g, 'PUBLISH', 'user:jamie:predictions', 'x');
    await denied(g, 'GET', 'sensor:dry_bulb_f');
    await denied(g, 'XADD', 'can:raw', '*', 'a', 'b');
  });

  it('consumer of jamie: subscribe raw/features, publish predictions, nothing more', async () => {
    const c = await as('consumer-ml');
    await subscribeWorks(c, 'user:jamie:raw');
    await subscribeWorks(c, 'user:jamie:features');
    await cmd(c, 'PUBLISH', 'user:jamie:predictions', 'x');
    await subscribeDenied(c, 'user:alex:raw');
    await subscribeDenied(c, 'user:jamie:predictions');
    await subscribeDenied(c, 'user:*:raw', true);
    await denied(c, 'PUBLISH', 'user:jamie:raw', 'x');
    await denied(c, 'PUBLISH', 'user:alex:predictions', 'x');
    await denied(c, 'PUBLISH', 'user:jamie:commands', 'x');
    await denied(c, 'XRANGE', 'user:jamie:backlog', '-', '+');
    await denied(c, 'KEYS', '*');
    await denied(c, 'FLUSHALL');
    const d = await as('consumer-dash');
    await subscribeWorks(d, 'user:alex:raw');
    await subscribeDenied(d, 'user:alex:features');
    await denied(d, 'PUBLISH', 'user:alex:predictions', 'x');
  });

  it('control:command: only automation may publish it (NOPERM for every other service); the recorder listens', async () => {
    const ok: string[] = [];
    for (const s of SERVICE_NAMES) {
      const c = await as(`canopy-${s}`);
      const err = await cmd(c, 'PUBLISH', 'control:command', '{"device":"heater_1","state":1,"by":"x"}').then(
        () => undefined,
        (e: unknown) => e,
      );
      if (err === undefined) ok.push(s);
      else {
        expect(err, s).toBeInstanceOf(PermissionError);
        expect((err as Error).message, s).toMatch(/NOPERM/);
      }
    }
    expect(ok).toEqual(['automation']);
    await subscribeWorks(await as('canopy-recorder'), 'control:command');
    for (const s of SERVICE_NAMES.filter((n) => n !== 'recorder'))
      expect(
        serviceUser(s).grants.some((g) => g.commands.includes('subscribe') && g.channels?.includes('control:command')),
        s,
      ).toBe(false);
  });

  it('root may do anything', async () => {
    const r = await as('canopy-root');
    expect(await cmd(r, 'DBSIZE')).toBeGreaterThan(0);
    await cmd(r, 'ACL', 'LOAD');
  });
});
