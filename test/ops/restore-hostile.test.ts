import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { backup, BackupError, type BackupManifest } from '../../src/ops/backup.js';
import { restore } from '../../src/ops/restore.js';
import { tempDir } from '../support/tmp.js';

/** A small SQLite store and a configuration directory with secrets next to ordinary files. */
async function makeBackup() {
  const data = tempDir('canopy-data-');
  const file = path.join(data, 'canopy.db');
  const db = new Database(file);
  db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1), (2)');
  db.close();
  const conf = tempDir('canopy-conf-');
  fs.writeFileSync(path.join(conf, 'nodes.yaml'), 'nodes: {}\n');
  fs.mkdirSync(path.join(conf, 'dbc'));
  fs.writeFileSync(path.join(conf, 'dbc', 'canopy.dbc'), 'VERSION ""\n');
  fs.writeFileSync(path.join(conf, 'redis-acl.credentials'), 'canopy-worker=hunter2\n', { mode: 0o600 });
  fs.writeFileSync(path.join(conf, 'api.tokens'), 'operator:tok-0123456789\n', { mode: 0o600 });
  fs.writeFileSync(path.join(conf, 'gateway-tokens'), 'jamie:tok-abcdef\n', { mode: 0o600 });
  fs.writeFileSync(path.join(conf, 'api-tls.key'), '-----BEGIN PRIVATE KEY-----\n', { mode: 0o600 });
  fs.mkdirSync(path.join(conf, 'credentials'));
  fs.writeFileSync(path.join(conf, 'credentials', 'smtp-password'), 'pa55\n', { mode: 0o600 });
  fs.symlinkSync('/etc/hostname', path.join(conf, 'linked.yaml'));
  fs.writeFileSync(path.join(conf, 'hard.yaml'), 'x: 1\n');
  fs.linkSync(path.join(conf, 'hard.yaml'), path.join(tempDir('canopy-elsewhere-'), 'hard.yaml'));
  fs.writeFileSync(path.join(conf, 'alerts.env'), 'SMTP_PASSWORD=pa55\nLOG_LEVEL=debug\n', { mode: 0o600 });
  const out = tempDir('canopy-backups-');
  const r = await backup({ databaseUrl: `sqlite:${file}`, outDir: out, configDir: conf });
  return { ...r, conf };
}

/** A fresh install to restore into. */
function target() {
  const root = tempDir('canopy-fresh-');
  const etc = path.join(root, 'etc');
  fs.mkdirSync(etc);
  return { root, db: path.join(root, 'canopy.db'), etc };
}

function editManifest(dir: string, edit: (m: BackupManifest) => void) {
  const file = path.join(dir, 'manifest.json');
  const m = JSON.parse(fs.readFileSync(file, 'utf8')) as BackupManifest;
  edit(m);
  fs.writeFileSync(file, JSON.stringify(m));
}

/** Every path under a directory (what a refused restore must not have created). */
function tree(dir: string): string[] {
  return fs.existsSync(dir) ? (fs.readdirSync(dir, { recursive: true }) as string[]).sort() : [];
}

async function refused(dir: string, code: BackupError['code']) {
  const t = target();
  const err = await restore({ from: dir, databaseUrl: `sqlite:${t.db}`, configDir: t.etc }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(BackupError);
  expect((err as BackupError).code).toBe(code);
  // nothing written: no store, no configuration file
  expect(tree(t.root)).toEqual(['etc']);
  return err as BackupError;
}

describe('backups leave credentials out and record a SHA-256 per file', () => {
  it('credential and token files, key files and credential directories are not copied; the manifest says which', async () => {
    const { dir, manifest } = await makeBackup();
    const files = tree(dir);
    for (const secret of ['redis-acl.credentials', 'api.tokens', 'gateway-tokens', 'api-tls.key', 'smtp-password'])
      expect(
        files.some((f) => f.endsWith(secret)),
        secret,
      ).toBe(false);
    expect(manifest.excluded).toEqual(
      expect.arrayContaining([
        { path: 'redis-acl.credentials', reason: 'credential' },
        { path: 'api.tokens', reason: 'credential' },
        { path: 'gateway-tokens', reason: 'credential' },
        { path: 'api-tls.key', reason: 'credential' },
        { path: 'credentials/', reason: 'credential' },
        { path: 'linked.yaml', reason: 'symlink' },
        { path: 'hard.yaml', reason: 'not a regular file' },
      ]),
    );
    expect(manifest.config.sort()).toEqual(['dbc/canopy.dbc', 'nodes.yaml']);
    for (const f of fs.readdirSync(dir, { recursive: true }) as string[]) {
      const full = path.join(dir, f);
      if (!fs.statSync(full).isFile()) continue;
      expect(fs.readFileSync(full, 'utf8'), f).not.toMatch(/hunter2|pa55|tok-|PRIVATE KEY/);
    }
    expect(manifest.files.map((f) => f.path).sort()).toEqual([
      'config/dbc/canopy.dbc',
      'config/nodes.yaml',
      'env/alerts.env',
      'store/canopy.db',
    ]);
    for (const f of manifest.files) expect(f.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('an untouched backup restores; configuration lands as regular files, planted symlinks in the target are replaced, not followed', async () => {
    const { dir } = await makeBackup();
    const t = target();
    const victim = path.join(tempDir('canopy-victim-'), 'victim');
    fs.writeFileSync(victim, 'untouched\n');
    fs.symlinkSync(victim, path.join(t.etc, 'nodes.yaml'));
    fs.symlinkSync(victim, `${t.db}.restoring`);
    const r = await restore({ from: dir, databaseUrl: `sqlite:${t.db}`, configDir: t.etc, force: true });
    expect(r.tables.t).toBe(2);
    expect(fs.readFileSync(victim, 'utf8')).toBe('untouched\n');
    expect(fs.lstatSync(path.join(t.etc, 'nodes.yaml')).isFile()).toBe(true);
    expect(fs.readFileSync(path.join(t.etc, 'nodes.yaml'), 'utf8')).toBe('nodes: {}\n');
    expect(fs.readFileSync(path.join(t.etc, 'alerts.env'), 'utf8')).toMatch(/^SMTP_PASSWORD=\*\*\*REDACTED\*\*\*$/m);
    expect(r.toFillIn).toEqual({ 'alerts.env': ['SMTP_PASSWORD'] });
    expect(r.excluded.map((x) => x.path)).toContain('redis-acl.credentials');
    expect(fs.existsSync(`${t.db}.restoring`)).toBe(false);
  });

  it('a symlinked directory in the target configuration is refused before anything is written', async () => {
    const { dir } = await makeBackup();
    const t = target();
    const elsewhere = tempDir('canopy-elsewhere-');
    fs.symlinkSync(elsewhere, path.join(t.etc, 'dbc'));
    const err = await restore({ from: dir, databaseUrl: `sqlite:${t.db}`, configDir: t.etc }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackupError);
    expect((err as BackupError).code).toBe('RESTORE_TARGET');
    expect(fs.readdirSync(elsewhere)).toEqual([]);
    expect(fs.existsSync(t.db)).toBe(false);
  });
});

describe('restore refuses crafted backups, writing nothing', () => {
  it('a ../ path in the manifest', async () => {
    const { dir } = await makeBackup();
    editManifest(dir, (m) => {
      m.config.push('../../../escape.txt');
      m.files.push({ path: 'config/../../../escape.txt', sha256: '0'.repeat(64), bytes: 1 });
    });
    const err = await refused(dir, 'BACKUP_UNSAFE');
    expect(err.message).toMatch(/escape\.txt/);
  });

  it('an absolute path in the manifest', async () => {
    const { dir } = await makeBackup();
    editManifest(dir, (m) => m.files.push({ path: '/etc/cron.d/evil', sha256: '0'.repeat(64), bytes: 1 }));
    await refused(dir, 'BACKUP_UNSAFE');
  });

  it('a store path pointing elsewhere', async () => {
    const { dir } = await makeBackup();
    editManifest(dir, (m) => {
      m.store.file = '../../../../var/lib/canopy/canopy.db';
    });
    await refused(dir, 'BACKUP_UNSAFE');
  });

  it('an env file name with a path in it', async () => {
    const { dir } = await makeBackup();
    editManifest(dir, (m) => m.env.push({ file: '../../root/.profile', redacted: [] }));
    await refused(dir, 'BACKUP_UNSAFE');
  });

  it('a symlink in the backup, even with the right checksum', async () => {
    const { dir } = await makeBackup();
    const outside = path.join(tempDir('canopy-outside-'), 'shadow');
    fs.copyFileSync(path.join(dir, 'config', 'nodes.yaml'), outside); // same bytes: the hash alone would pass
    fs.rmSync(path.join(dir, 'config', 'nodes.yaml'));
    fs.symlinkSync(outside, path.join(dir, 'config', 'nodes.yaml'));
    const err = await refused(dir, 'BACKUP_UNSAFE');
    expect(err.message).toMatch(/symlink: config\/nodes\.yaml/);
  });

  it('a symlinked directory in the backup', async () => {
    const { dir } = await makeBackup();
    const outside = tempDir('canopy-outside-');
    fs.cpSync(path.join(dir, 'config', 'dbc'), outside, { recursive: true });
    fs.rmSync(path.join(dir, 'config', 'dbc'), { recursive: true });
    fs.symlinkSync(outside, path.join(dir, 'config', 'dbc'));
    await refused(dir, 'BACKUP_UNSAFE');
  });

  it('a hard link in the backup', async () => {
    const { dir } = await makeBackup();
    const outside = path.join(tempDir('canopy-outside-'), 'other');
    fs.linkSync(path.join(dir, 'config', 'nodes.yaml'), outside);
    const err = await refused(dir, 'BACKUP_UNSAFE');
    expect(err.message).toMatch(/hard link: config\/nodes\.yaml/);
  });

  it('a configuration file that does not match its SHA-256', async () => {
    const { dir } = await makeBackup();
    fs.writeFileSync(path.join(dir, 'config', 'dbc', 'canopy.dbc'), 'VERSION "x"\n');
    const err = await refused(dir, 'BACKUP_INVALID');
    expect(err.message).toMatch(/config\/dbc\/canopy\.dbc does not match its SHA-256/);
  });

  it('a store that does not match its SHA-256', async () => {
    const { dir } = await makeBackup();
    fs.appendFileSync(path.join(dir, 'store', 'canopy.db'), 'x');
    await refused(dir, 'BACKUP_INVALID');
  });

  it('a configuration file listed without a checksum, an old format, a manifest that is not JSON', async () => {
    const a = await makeBackup();
    editManifest(a.dir, (m) => {
      m.files = m.files.filter((f) => f.path !== 'config/nodes.yaml');
    });
    await refused(a.dir, 'BACKUP_INVALID');
    const b = await makeBackup();
    editManifest(b.dir, (m) => {
      (m as { format: string }).format = 'canopy-backup/1';
    });
    await refused(b.dir, 'BACKUP_INVALID');
    const c = await makeBackup();
    fs.writeFileSync(path.join(c.dir, 'manifest.json'), '{"format": ');
    await refused(c.dir, 'BACKUP_INVALID');
  });
});
