import { spawnSync } from '../support/run-sync.js';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { startRedis } from '../support/redis.js';
import { tempDir } from '../support/tmp.js';

const INSTALL = path.resolve('deploy/install.sh');
const LAUNCHERS = ['canopy-monitor-can.desktop', 'canopy-monitor-backend.desktop'];

function install(root: string, ...extra: string[]) {
  const r = spawnSync(
    'bash',
    [INSTALL, '--root', root, '--app', path.resolve('.'), '--node', process.execPath, ...extra],
    {
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`install.sh failed (${r.status}): ${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** `Key=value` of a desktop entry. */
function entry(file: string): Record<string, string> {
  return Object.fromEntries(
    fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => /^[A-Za-z-]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

function validate(file: string) {
  return spawnSync('desktop-file-validate', [file], { encoding: 'utf8' });
}

/** A `canopy` stand-in that runs this checkout's CLI (what /usr/local/bin/canopy does on the Pi). */
function canopyBin(): string {
  const dir = tempDir('canopy-bin-');
  const bin = path.join(dir, 'canopy');
  fs.writeFileSync(bin, `#!/bin/sh\nexec "${process.execPath}" "${path.resolve('dist/src/cli/main.js')}" "$@"\n`, {
    mode: 0o755,
  });
  return bin;
}

describe('desktop launchers of the monitors (install.sh)', () => {
  // one tree installed with --autostart, shared by the tests that only read it
  let root: string;
  let out: string;
  beforeAll(() => {
    root = tempDir('canopy-root-');
    out = install(root, '--autostart');
  }, 300_000);

  it('--autostart installs both launchers, the autostart entry and monitor.env; they validate; a second run changes nothing', () => {
    const gid = Number(/^canopy:x:(\d+):/m.exec(fs.readFileSync(path.join(root, 'etc/group'), 'utf8'))?.[1]);
    for (const f of LAUNCHERS) {
      const file = path.join(root, 'usr/share/applications', f);
      expect(out).toContain(`installed /usr/share/applications/${f}`);
      const e = entry(file);
      expect(e.Terminal, f).toBe('true');
      expect(e.Exec, f).toBe(`/usr/local/lib/canopy/canopy-monitor ${f.includes('-can.') ? 'can' : 'backend'}`);
      const v = validate(file);
      expect(v.stdout + v.stderr, f).toBe('');
      expect(v.status, f).toBe(0);
    }
    const auto = path.join(root, 'etc/xdg/autostart/canopy-monitors.desktop');
    expect(entry(auto).Exec).toBe('/usr/local/lib/canopy/canopy-monitors');
    expect(validate(auto).status).toBe(0);
    for (const s of ['canopy-monitor', 'canopy-monitors']) {
      expect(fs.statSync(path.join(root, 'usr/local/lib/canopy', s)).mode & 0o777, s).toBe(0o755);
    }
    const env = path.join(root, 'etc/canopy/monitor.env');
    const st = fs.statSync(env);
    expect([st.uid, st.gid, st.mode & 0o777]).toEqual([0, gid, 0o640]);
    expect(fs.readFileSync(env, 'utf8')).toMatch(/^REDIS_URL=redis:\/\/canopy-monitor:[^@\s]+@127\.0\.0\.1:6379$/m);
    expect(install(root, '--autostart')).toMatch(/nothing to change/);
    // validation does catch a broken entry
    const bad = path.join(tempDir(), 'bad.desktop');
    fs.writeFileSync(
      bad,
      fs.readFileSync(path.join(root, 'usr/share/applications', LAUNCHERS[0]!), 'utf8').replace('Type=', 'Typ='),
    );
    expect(validate(bad).status).not.toBe(0);
  }, 300_000);

  it('without --desktop: launchers only when a desktop is installed, and no autostart entry', () => {
    const pi = tempDir('canopy-root-');
    install(pi);
    expect(fs.existsSync(path.join(pi, 'usr/share/applications'))).toBe(false);
    expect(fs.existsSync(path.join(pi, 'etc/canopy/monitor.env'))).toBe(false);
    // a desktop appears (the same tree, installed again)
    fs.mkdirSync(path.join(pi, 'usr/share/xsessions'), { recursive: true });
    expect(install(pi, '--desktop-user', 'pi')).toMatch(/--desktop-user ignored: root is .*usermod -aG canopy pi/);
    for (const f of LAUNCHERS) expect(fs.existsSync(path.join(pi, 'usr/share/applications', f)), f).toBe(true);
    expect(fs.existsSync(path.join(pi, 'etc/xdg/autostart/canopy-monitors.desktop'))).toBe(false);
  }, 300_000);

  it('the launcher runs the monitor with the read-only canopy-monitor Redis user from monitor.env', async () => {
    const redis = await startRedis({ extraConfig: [`aclfile ${path.join(root, 'etc/redis/canopy-users.acl')}`] });
    // monitor.env as installed, pointed at this test's Redis port
    const env = path.join(tempDir(), 'monitor.env');
    fs.writeFileSync(
      env,
      fs.readFileSync(path.join(root, 'etc/canopy/monitor.env'), 'utf8').replace(':6379', `:${redis.port}`),
    );
    const r = spawnSync(
      path.join(root, 'usr/local/lib/canopy/canopy-monitor'),
      ['backend', '--once', '--systemd', 'off', '--api', 'http://127.0.0.1:9'],
      { encoding: 'utf8', env: { ...process.env, CANOPY_MONITOR_ENV: env, CANOPY_BIN: canopyBin(), REDIS_URL: '' } },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Canopy backend monitor/);
    expect(r.stdout).toMatch(/^Redis \d+\.\d+\.\d+ {2}memory /m);
    expect(r.stdout).toContain('can:raw length 0');
    // every part is readable by the read-only user (nothing shows an error in its place)
    expect(r.stdout).not.toMatch(/error:|NOPERM/);
    // without monitor.env the default user is refused: the launcher reports it and exits non-zero
    const denied = spawnSync(
      path.join(root, 'usr/local/lib/canopy/canopy-monitor'),
      ['backend', '--once', '--systemd', 'off'],
      {
        encoding: 'utf8',
        env: { ...process.env, CANOPY_MONITOR_ENV: '/nonexistent', CANOPY_BIN: canopyBin(), REDIS_URL: redis.url },
      },
    );
    expect(denied.status).not.toBe(0);
  });

  it('the autostart script opens each monitor in its own terminal window', () => {
    const bin = tempDir('canopy-term-');
    const log = path.join(bin, 'calls');
    fs.writeFileSync(path.join(bin, 'x-terminal-emulator'), `#!/bin/sh\necho "$@" >> "${log}"\n`, { mode: 0o755 });
    const r = spawnSync(path.join(root, 'usr/local/lib/canopy/canopy-monitors'), [], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${bin}:/usr/bin:/bin` },
    });
    expect(r.status).toBe(0);
    const deadline = Date.now() + 10_000;
    while (
      (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n').length : 0) < 2 &&
      Date.now() < deadline
    ) {
      spawnSync('sleep', ['0.1']);
    }
    expect(fs.readFileSync(log, 'utf8').trim().split('\n').sort()).toEqual([
      '-T Canopy CAN monitor -e /usr/local/lib/canopy/canopy-monitor can',
      '-T Canopy backend monitor -e /usr/local/lib/canopy/canopy-monitor backend',
    ]);
    // no terminal at all: a clear message and a failure
    const none = spawnSync('/bin/sh', [path.join(root, 'usr/local/lib/canopy/canopy-monitors')], {
      encoding: 'utf8',
      env: { PATH: tempDir() },
    });
    expect(none.status).toBe(1);
    expect(none.stderr).toMatch(/no terminal emulator found/);
  });
});
