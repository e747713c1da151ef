import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createClient } from 'redis';
import { describe, expect, it } from 'vitest';
import { freePort, waitForPort } from '../../src/ops/ports.js';
import { register } from '../support/cleanup.js';
import { tempDir } from '../support/tmp.js';

const CONF = path.resolve('deploy/redis/redis.conf');

/** The shipped redis.conf with only its port, paths and ACL file moved into a temporary directory. */
function localConf(dir: string, port: number, acl: string): string {
  let text = fs.readFileSync(CONF, 'utf8');
  const sub = (re: RegExp, line: string) => {
    expect(text).toMatch(re);
    text = text.replace(re, line);
  };
  sub(/^port \d+$/m, `port ${port}`);
  sub(/^dir .*$/m, `dir ${dir}`);
  sub(/^aclfile .*$/m, `aclfile ${path.join(dir, 'users.acl')}`);
  sub(/^unixsocket .*$/m, `unixsocket ${path.join(dir, 'redis.sock')}`);
  sub(/^pidfile .*$/m, `pidfile ${path.join(dir, 'redis.pid')}`);
  sub(/^logfile .*$/m, `logfile ${path.join(dir, 'redis.log')}`);
  fs.writeFileSync(path.join(dir, 'users.acl'), acl);
  const file = path.join(dir, 'redis.conf');
  fs.writeFileSync(file, text);
  return file;
}

async function startWithConf(acl: string): Promise<{ port: number; dir: string }> {
  const dir = tempDir('canopy-redisconf-');
  const port = await freePort();
  const child = spawn('redis-server', [localConf(dir, port, acl)], { stdio: 'ignore' });
  register({
    stop: async () => void child.kill('SIGKILL'),
    killSync: () => void child.kill('SIGKILL'),
  });
  await waitForPort(port);
  return { port, dir };
}

describe('deploy/redis/redis.conf', () => {
  it('starts redis-server with AOF and RDB on, loopback only, protected mode, noeviction and the ACL file', async () => {
    const acl = 'user default on nopass ~* &* +@all\nuser canopy-scanner on >s3cret ~can:raw resetchannels -@all +xadd +ping\n';
    const { port } = await startWithConf(acl);
    const c = createClient({ url: `redis://127.0.0.1:${port}` });
    await c.connect();
    const get = async (k: string) => (await c.configGet(k))[k];
    expect(await get('appendonly')).toBe('yes');
    expect(await get('appendfsync')).toBe('everysec');
    expect(await get('save')).toBe('3600 1 300 100 60 10000');
    expect(await get('bind')).toBe('127.0.0.1 ::1');
    expect(await get('protected-mode')).toBe('yes');
    expect(await get('maxmemory-policy')).toBe('noeviction');
    expect(Number(await get('maxmemory'))).toBe(256 * 1024 * 1024);
    expect(await get('stop-writes-on-bgsave-error')).toBe('yes');
    expect(await get('aclfile')).toMatch(/users\.acl$/);
    // the ACL file's service user works, and only for what it may do
    const s = createClient({ url: `redis://canopy-scanner:s3cret@127.0.0.1:${port}` });
    await s.connect();
    expect(await s.xAdd('can:raw', '*', { id: '0x101', data: '00', ts: '1', dlc: '1' })).toMatch(/^\d+-\d+$/);
    await expect(s.get('sensor:x')).rejects.toThrow(/NOPERM/);
    s.destroy();
    // noeviction: at the ceiling, writes fail loudly and nothing already stored is evicted
    await c.configSet('maxmemory', String(2 * 1024 * 1024));
    await c.set('state:keep', 'v');
    const big = 'x'.repeat(64 * 1024);
    let oom: Error | undefined;
    for (let i = 0; i < 200 && !oom; i++) {
      try {
        await c.set(`fill:${i}`, big);
      } catch (err) {
        oom = err as Error;
      }
    }
    expect(oom?.message).toMatch(/^OOM/);
    expect(await c.get('state:keep')).toBe('v');
    expect(await c.xLen('can:raw')).toBe(1);
    c.destroy();
  });

  it('comments every setting it changes', () => {
    const lines = fs.readFileSync(CONF, 'utf8').split('\n');
    for (const key of ['bind', 'protected-mode', 'aclfile', 'appendonly', 'appendfsync', 'save', 'maxmemory', 'maxmemory-policy']) {
      const i = lines.findIndex((l) => l.startsWith(`${key} `));
      expect(i, key).toBeGreaterThan(0);
      // a comment in the block right above the setting
      let j = i - 1;
      while (j > 0 && !lines[j]?.startsWith('#') && lines[j] !== '') j--;
      expect(lines[j]?.startsWith('#'), `${key} has a comment above it`).toBe(true);
    }
  });

  it('compose.conf includes it and opens it to the compose network, keeping persistence and ACLs', async () => {
    const dir = tempDir('canopy-redisconf-');
    const port = await freePort();
    const base = localConf(dir, port, 'user canopy on >pw ~* &* +@all\n');
    let text = fs.readFileSync(path.resolve('deploy/redis/compose.conf'), 'utf8');
    text = text
      .replace(/^include .*$/m, `include ${base}`)
      .replace(/^dir .*$/m, `dir ${dir}`)
      .replace(/^aclfile .*$/m, `aclfile ${path.join(dir, 'users.acl')}`)
      .replace(/^(pidfile|unixsocket) \/tmp\//gm, `$1 ${dir}/`)
      .replace(/^logfile .*$/m, `logfile ${path.join(dir, 'redis.log')}`);
    const conf = path.join(dir, 'compose.conf');
    fs.writeFileSync(conf, text);
    const child = spawn('redis-server', [conf], { stdio: 'ignore' });
    register({ stop: async () => void child.kill('SIGKILL'), killSync: () => void child.kill('SIGKILL') });
    await waitForPort(port);
    const c = createClient({ url: `redis://canopy:pw@127.0.0.1:${port}` });
    await c.connect();
    expect((await c.configGet('bind')).bind).toBe('* -::*');
    expect((await c.configGet('appendonly')).appendonly).toBe('yes');
    expect((await c.configGet('maxmemory-policy'))['maxmemory-policy']).toBe('noeviction');
    expect(await c.sendCommand(['ACL', 'WHOAMI'])).toBe('canopy');
    c.destroy();
  });
});
