import { spawnSync } from '../support/run-sync.js';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { startRedis } from '../support/redis.js';
import { tempDir } from '../support/tmp.js';

const INSTALL = path.resolve('deploy/install.sh');
const UNITS = fs.readdirSync('deploy/systemd').filter((f) => /\.(service|target|timer)$/.test(f));
const SERVICES = ['scanner', 'worker', 'api', 'automation', 'alerts', 'recorder', 'analytics', 'exporter', 'gateway'];

function install(root: string, ...extra: string[]) {
  const r = spawnSync('bash', [INSTALL, '--root', root, '--app', path.resolve('.'), '--node', process.execPath, ...extra], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`install.sh failed (${r.status}): ${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Every path under root with its type, mode, owner, mtime and content hash. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      const st = fs.lstatSync(full);
      const rel = path.relative(root, full);
      const meta = `${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.mtimeMs}`;
      if (e.isDirectory()) {
        out[rel] = `dir ${meta}`;
        walk(full);
      } else {
        out[rel] = `file ${meta} ${crypto.createHash('sha256').update(fs.readFileSync(full)).digest('hex')}`;
      }
    }
  };
  walk(root);
  return out;
}

function verify(root: string, units: string[]) {
  return spawnSync('systemd-analyze', ['verify', `--root=${root}`, ...units], { encoding: 'utf8' });
}

/** What `systemd-analyze verify --root` needs besides our files: systemd's own units and the binaries our units run. */
function prepareForVerify(root: string) {
  fs.cpSync('/usr/lib/systemd/system', path.join(root, 'usr/lib/systemd/system'), { recursive: true });
  for (const bin of ['usr/sbin/ip', 'usr/bin/redis-server']) {
    fs.mkdirSync(path.dirname(path.join(root, bin)), { recursive: true });
    fs.writeFileSync(path.join(root, bin), '#!/bin/sh\n', { mode: 0o755 });
  }
}

describe('deploy/install.sh', () => {
  it('installs user, directories, units and templates; a second run changes nothing', () => {
    const root = tempDir('canopy-root-');
    const first = install(root);
    expect(first).toMatch(/created the service users/);
    expect(first).toMatch(/systemctl not called/);
    const passwd = fs.readFileSync(path.join(root, 'etc/passwd'), 'utf8');
    const group = fs.readFileSync(path.join(root, 'etc/group'), 'utf8');
    const gid = Number(/^canopy:x:(\d+):/m.exec(group)?.[1]);
    expect(gid).toBeGreaterThan(0);
    // one user per service, each with its own uid, all in the group canopy
    const uids = new Set<number>();
    for (const s of [...SERVICES, 'backup']) {
      const m = new RegExp(`^canopy-${s}:x:(\\d+):(\\d+):.*:/usr/sbin/nologin$`, 'm').exec(passwd);
      expect(m, s).not.toBeNull();
      uids.add(Number(m?.[1]));
      expect(Number(m?.[2]), s).toBe(gid);
    }
    expect(uids.size).toBe(SERVICES.length + 1);
    expect(/^i2c:x:\d+:(.*)$/m.exec(group)?.[1]?.split(',')).toEqual(['canopy-automation']);
    const lib = fs.statSync(path.join(root, 'var/lib/canopy'));
    expect([lib.uid, lib.gid, lib.mode & 0o7777]).toEqual([0, gid, 0o3770]);
    const db = fs.statSync(path.join(root, 'var/lib/canopy/canopy.db'));
    expect([db.gid, db.mode & 0o777, db.size]).toEqual([gid, 0o660, 0]);
    expect(fs.statSync(path.join(root, 'etc/canopy/canopy.env')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(root, 'var/backups/canopy')).mode & 0o777).toBe(0o700);
    for (const u of UNITS) expect(fs.existsSync(path.join(root, 'etc/systemd/system', u)), u).toBe(true);
    const wrapper = fs.readFileSync(path.join(root, 'usr/local/bin/canopy'), 'utf8');
    expect(wrapper).toContain(`exec "${process.execPath}" "${path.resolve('.')}/dist/src/cli/main.js" "$@"`);

    // least-privilege Redis users from `canopy acl`, each service's REDIS_URL a credential of its own
    expect(fs.readFileSync(path.join(root, 'etc/redis/canopy-users.acl'), 'utf8')).toMatch(/^user canopy-worker /m);
    expect(fs.statSync(path.join(root, 'etc/canopy/credentials')).mode & 0o777).toBe(0o700);
    for (const s of [...SERVICES, 'cli']) {
      const cred = path.join(root, `etc/canopy/credentials/${s}/REDIS_URL`);
      expect(fs.readFileSync(cred, 'utf8'), s).toMatch(new RegExp(`^redis://canopy-${s}:[^@]+@127\\.0\\.0\\.1:6379\\n$`));
      expect(fs.statSync(cred).mode & 0o777).toBe(0o600);
      expect(fs.statSync(path.dirname(cred)).mode & 0o777).toBe(0o700);
      expect(fs.statSync(cred).uid).toBe(0);
      expect(fs.existsSync(path.join(root, `etc/canopy/${s}.env`)), s).toBe(false);
    }
    // every unit's LoadCredential= directory exists, root's alone (systemd refuses to start a unit without it)
    for (const u of UNITS.filter((n) => n.endsWith('.service'))) {
      const text = fs.readFileSync(path.join(root, 'etc/systemd/system', u), 'utf8');
      for (const m of text.matchAll(/^LoadCredential=[^:]+:(\S+)$/gm)) {
        const st = fs.statSync(path.join(root, m[1] as string));
        expect([st.isDirectory(), st.uid, st.mode & 0o777], `${u}: ${m[1]}`).toEqual([true, 0, 0o700]);
      }
    }
    const before = snapshot(root);
    const second = install(root);
    expect(second).toMatch(/nothing to change/);
    expect(second).not.toMatch(/installed|created/);
    expect(snapshot(root)).toEqual(before);
  }, 240_000); // install.sh runs (ACL generation included) on a loaded CI machine

  it('never overwrites an edited environment file, but restores a changed unit', () => {
    const root = tempDir('canopy-root-');
    install(root);
    const env = path.join(root, 'etc/canopy/canopy.env');
    fs.writeFileSync(env, 'REDIS_URL=redis://canopy-worker:secret@127.0.0.1:6379\n');
    const unit = path.join(root, 'etc/systemd/system/canopy-worker.service');
    fs.appendFileSync(unit, '# local edit\n');
    const out = install(root);
    expect(fs.readFileSync(env, 'utf8')).toContain('secret');
    expect(out).toContain('installed /etc/systemd/system/canopy-worker.service');
    expect(fs.readFileSync(unit, 'utf8')).toBe(fs.readFileSync('deploy/systemd/canopy-worker.service', 'utf8'));
  }, 240_000); // install.sh runs (ACL generation included) on a loaded CI machine

  it('installs Grafana provisioning when Grafana is present', () => {
    const root = tempDir('canopy-root-');
    fs.mkdirSync(path.join(root, 'etc/grafana'), { recursive: true });
    install(root);
    expect(fs.existsSync(path.join(root, 'etc/grafana/provisioning/datasources/canopy.yaml'))).toBe(true);
    expect(fs.readdirSync(path.join(root, 'var/lib/grafana/dashboards/canopy')).length).toBeGreaterThan(0);
    expect(fs.statSync(path.join(root, 'etc/canopy/grafana.env')).mode & 0o777).toBe(0o600);
    const before = snapshot(root);
    expect(install(root)).toMatch(/nothing to change/);
    expect(snapshot(root)).toEqual(before);
  }, 240_000); // install.sh runs (ACL generation included) on a loaded CI machine
});

describe('generated Redis ACL', () => {
  it('loads into redis-server and each service logs in with its own REDIS_URL', async () => {
    const root = tempDir('canopy-root-');
    install(root);
    const redis = await startRedis({ extraConfig: [`aclfile ${path.join(root, 'etc/redis/canopy-users.acl')}`] });
    const envUrl = fs.readFileSync(path.join(root, 'etc/canopy/credentials/worker/REDIS_URL'), 'utf8').trim();
    const c = createClient({ url: envUrl.replace(':6379', `:${redis.port}`) });
    c.on('error', () => undefined);
    await c.connect(); // AUTH canopy-worker <password> succeeded
    expect(await c.ping()).toBe('PONG');
    await expect(c.sendCommand(['FLUSHALL'])).rejects.toThrow(/NOPERM/);
    c.destroy();
    // the default user is off: no anonymous access
    const anon = spawnSync('redis-cli', ['-p', String(redis.port), 'ping'], { encoding: 'utf8' });
    expect(anon.stdout).toMatch(/NOAUTH|WRONGPASS|NOPERM/);
  });
});

describe('systemd units', () => {
  it('every unit passes systemd-analyze verify in the installed tree, with no warning', () => {
    const root = tempDir('canopy-root-');
    install(root);
    prepareForVerify(root);
    const r = verify(root, [...UNITS.filter((u) => !u.includes('@')), 'canopy-error-handler@canopy-worker.service.service', 'canopy-worker@1.service', 'redis-server.service']);
    expect(r.stderr + r.stdout).toBe('');
    expect(r.status).toBe(0);
    // and verify does catch a broken unit here (a typo'd directive, a missing binary)
    const broken = path.join(root, 'etc/systemd/system/canopy-broken.service');
    fs.writeFileSync(
      broken,
      fs.readFileSync(path.join(root, 'etc/systemd/system/canopy-worker.service'), 'utf8').replace('NoNewPrivileges', 'NoNewPrivilegs').replace('/usr/local/bin/canopy', '/usr/local/bin/missing'),
    );
    const bad = verify(root, ['canopy-broken.service']);
    expect(bad.stderr).toMatch(/Unknown key 'NoNewPrivilegs'/);
    expect(bad.stderr).toMatch(/missing is not executable/);
  });

  it('every service unit: start order, restart, error handler, dedicated user, hardening', () => {
    const read = (u: string) => fs.readFileSync(path.join('deploy/systemd', u), 'utf8');
    const key = (text: string, k: string) =>
      text
        .split('\n')
        .filter((l) => l.startsWith(`${k}=`))
        .map((l) => l.slice(k.length + 1))
        .join(' ');
    for (const s of SERVICES) {
      const t = read(`canopy-${s}.service`);
      expect(key(t, 'Restart'), s).toBe('on-failure');
      expect(key(t, 'OnFailure'), s).toBe('canopy-error-handler@%n.service');
      expect(key(t, 'User'), s).toBe(`canopy-${s}`);
      expect(key(t, 'Group'), s).toBe('canopy');
      expect(key(t, 'LoadCredential'), s).toBe(`canopy:/etc/canopy/credentials/${s}`);
      expect(key(t, 'ProtectProc'), s).toBe('invisible');
      expect(key(t, 'UMask'), s).toBe(['worker', 'api', 'automation', 'alerts'].includes(s) ? '0007' : '0027');
      expect(t, s).not.toMatch(/^Environment=.*(PASSWORD|TOKEN|REDIS_URL|DATABASE_URL)/m);
      expect(key(t, 'NoNewPrivileges'), s).toBe('yes');
      expect(key(t, 'ProtectSystem'), s).toBe('strict');
      expect(key(t, 'ReadWritePaths'), s).toContain('/var/lib/canopy');
      for (const k of ['PrivateTmp', 'ProtectHome', 'ProtectKernelTunables', 'ProtectKernelModules', 'ProtectControlGroups'])
        expect(key(t, k), `${s} ${k}`).toBe('yes');
      expect(key(t, 'CapabilityBoundingSet'), s).toBe('');
      expect(key(t, 'EnvironmentFile'), s).toContain('/etc/canopy/canopy.env');
      expect(key(t, 'After'), s).toContain('redis-server.service');
      expect(key(t, 'WantedBy'), s).toBe('canopy.target');
      expect(read('canopy.target')).toContain(`canopy-${s}.service`);
      expect(key(t, 'RestrictAddressFamilies').includes('AF_CAN'), s).toBe(s === 'scanner');
    }
    // the template of further workers is the worker's unit but for its instance
    const settings = (text: string) => text.split('\n').filter((l) => /^[A-Z]\w*=/.test(l));
    const differ = (a: string[], b: string[]) => a.filter((l) => !b.includes(l));
    const plain = settings(read('canopy-worker.service'));
    const tpl = settings(read('canopy-worker@.service'));
    expect(differ(tpl, plain)).toEqual([
      'Description=Canopy worker %i (can:raw -> store, live keys, sensor:update)',
      'ExecStart=/usr/local/bin/canopy worker --instance %i',
    ]);
    expect(differ(plain, tpl)).toHaveLength(2);
    // the seed's order: postgresql + redis, CAN setup, scanner, worker, api, the rest
    expect(key(read('canopy-scanner.service'), 'After')).toContain('canopy-can-setup.service');
    expect(key(read('canopy-scanner.service'), 'Requires')).toContain('canopy-can-setup.service');
    expect(key(read('canopy-worker.service'), 'After')).toMatch(/postgresql\.service.*canopy-scanner\.service/);
    expect(key(read('canopy-api.service'), 'After')).toContain('canopy-worker.service');
    for (const s of ['automation', 'alerts', 'recorder', 'analytics', 'exporter', 'gateway'])
      expect(key(read(`canopy-${s}.service`), 'After'), s).toContain('canopy-api.service');
    expect(key(read('canopy-automation.service'), 'ExecStopPost')).toBe('/usr/local/bin/canopy automation --safe-state');
    const can = read('canopy-can-setup.service');
    expect(key(can, 'ExecStart')).toBe(
      '/usr/sbin/ip link set ${CAN_INTERFACE} up type can bitrate ${CAN_BITRATE} restart-ms ${CAN_RESTART_MS}',
    );
    expect(key(can, 'EnvironmentFile')).toBe('-/etc/canopy/can.env');
    expect(key(read('canopy-backup.timer'), 'OnCalendar')).toMatch(/03:30/);
    expect(key(read('canopy-backup.service'), 'ExecStart')).toMatch(/canopy backup .*--keep/);
  });
});
