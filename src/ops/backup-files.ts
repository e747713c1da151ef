import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { BackupError } from './backup-error.js';

/**
 * The file-level safety of backups: which configuration files are secrets
 * (left out), the SHA-256 of every file, and the checks a restore makes
 * before it writes anything (relative paths only, no `..`, no symlinks or
 * hard links, every byte as recorded).
 */

/** One file of a backup, relative to the backup directory, as recorded at backup time. */
export interface BackupFileEntry {
  path: string;
  sha256: string;
  bytes: number;
}

/** A configuration file a backup left out on purpose. */
export interface ExcludedFile {
  /** Relative to the configuration directory. */
  path: string;
  reason: 'credential' | 'symlink' | 'not a regular file' | 'unreadable';
}

/** The top-level directories of a backup; nothing else is ever restored. */
export const BACKUP_AREAS = ['store', 'config', 'env'] as const;

/**
 * Credential and token files, by name: Redis ACL passwords
 * (`redis-acl.credentials`), token files (`api.tokens`, `gateway-tokens`),
 * private keys and key stores (`*.key`, `*.pem`, `*.p12`, `*.pfx`), and
 * everything under a `credentials/`, `secrets/` or `private/` directory
 * (the `LoadCredential=` sources). Backups never hold them: they are
 * recreated on the new machine (`canopy acl`, new tokens), not copied.
 */
const SECRET_NAME = /(^|[._-])(credentials?|tokens?|secrets?|passw(or)?ds?|htpasswd|private)([._-]|$)/i;
const SECRET_EXT = /\.(key|pem|p12|pfx|jks|keystore|gpg|asc)$/i;
const SECRET_DIR = /^(credentials?|secrets?|private)$/i;

export function isCredentialFile(rel: string): boolean {
  const parts = rel.split('/');
  const base = parts[parts.length - 1] ?? '';
  return parts.slice(0, -1).some((d) => SECRET_DIR.test(d)) || SECRET_NAME.test(base) || SECRET_EXT.test(base);
}

export function sha256(buf: Buffer): string {
  return crypto.createHash('sha256').update(buf).digest('hex');
}

/** SHA-256 of a file, streamed (stores can be large). */
export async function sha256File(file: string): Promise<string> {
  const h = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * Checks a path read from a manifest: relative, `/`-separated, no empty,
 * `.` or `..` segment, no NUL or backslash, inside one of `areas`.
 * Returns it unchanged, or throws BACKUP_UNSAFE naming it.
 */
export function safeRelPath(p: unknown, areas: readonly string[] = BACKUP_AREAS): string {
  const bad = (why: string) =>
    new BackupError('BACKUP_UNSAFE', `refused path ${JSON.stringify(p)} in the manifest: ${why}`);
  if (typeof p !== 'string' || p === '') throw bad('not a non-empty string');
  if (p.includes('\0') || p.includes('\\')) throw bad('NUL or backslash');
  if (path.posix.isAbsolute(p) || path.win32.isAbsolute(p)) throw bad('absolute');
  const parts = p.split('/');
  if (parts.some((s) => s === '' || s === '.' || s === '..')) throw bad('empty, . or .. segment');
  if (!areas.includes(parts[0] as string) || parts.length < 2) throw bad(`outside ${areas.join('/, ')}/`);
  return p;
}

/**
 * Copies the regular files of `src` (recursively) into `dest`, leaving out
 * credential files, symlinks, special files and `*.env` (those go through
 * redaction). Returns the copied paths (relative to `src`) with their
 * hashes, and what was left out.
 */
export function copyConfigTree(src: string, dest: string): { files: BackupFileEntry[]; excluded: ExcludedFile[] } {
  const files: BackupFileEntry[] = [];
  const excluded: ExcludedFile[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(src, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isSymbolicLink()) excluded.push({ path: r, reason: 'symlink' });
      else if (e.isDirectory()) {
        if (SECRET_DIR.test(e.name)) excluded.push({ path: `${r}/`, reason: 'credential' });
        else walk(r);
      } else if (!e.isFile()) excluded.push({ path: r, reason: 'not a regular file' });
      else if (e.name.endsWith('.env')) continue;
      else if (isCredentialFile(r)) excluded.push({ path: r, reason: 'credential' });
      else {
        let buf: Buffer;
        try {
          buf = readRegular(path.join(src, r));
        } catch (err) {
          // a hard-linked file (or one replaced meanwhile) is left out rather than failing the backup
          if (err instanceof BackupError) excluded.push({ path: r, reason: 'not a regular file' });
          else if ((err as NodeJS.ErrnoException).code === 'EACCES') excluded.push({ path: r, reason: 'unreadable' });
          else throw err;
          continue;
        }
        fs.mkdirSync(path.dirname(path.join(dest, r)), { recursive: true, mode: 0o700 });
        fs.writeFileSync(path.join(dest, r), buf, { mode: 0o600, flag: 'wx' });
        files.push({ path: r, sha256: sha256(buf), bytes: buf.length });
      }
    }
  };
  walk('');
  return { files, excluded };
}

/** Reads a file without following a symlink; refuses anything but a regular file with one link. */
export function readRegular(file: string): Buffer {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new BackupError('BACKUP_UNSAFE', `${file} is not a regular file`);
    if (st.nlink !== 1) throw new BackupError('BACKUP_UNSAFE', `${file} is a hard link (${st.nlink} links)`);
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Walks a backup directory and refuses it when anything in it is a
 * symlink, a hard link or not a regular file or directory: a backup made
 * by `canopy backup` has none, so such an entry is tampering.
 */
export function checkBackupTree(dir: string): void {
  const top = fs.lstatSync(dir);
  if (!top.isDirectory()) throw new BackupError('BACKUP_UNSAFE', `${dir} is not a directory`);
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      const st = fs.lstatSync(path.join(dir, r));
      if (st.isSymbolicLink()) throw new BackupError('BACKUP_UNSAFE', `the backup holds a symlink: ${r}`);
      if (st.isDirectory()) walk(r);
      else if (!st.isFile()) throw new BackupError('BACKUP_UNSAFE', `the backup holds a special file: ${r}`);
      else if (st.nlink !== 1) throw new BackupError('BACKUP_UNSAFE', `the backup holds a hard link: ${r}`);
    }
  };
  walk('');
}

/** Reads a backup file and checks its size and SHA-256 against the manifest. */
export function readVerified(dir: string, entry: BackupFileEntry): Buffer {
  const rel = safeRelPath(entry.path);
  let buf: Buffer;
  try {
    buf = readRegular(path.join(dir, rel));
  } catch (err) {
    if (err instanceof BackupError) throw err;
    throw new BackupError('BACKUP_INVALID', `${rel} is missing or unreadable: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (buf.length !== entry.bytes || sha256(buf) !== entry.sha256)
    throw new BackupError('BACKUP_INVALID', `${rel} does not match its SHA-256 recorded at backup time`);
  return buf;
}

/**
 * Copies a (large) backup file to `dest` while hashing the very bytes
 * copied: `dest` is created exclusively (no symlink followed, nothing
 * overwritten) and removed again when the hash does not match.
 */
export async function copyVerified(dir: string, entry: BackupFileEntry, dest: string): Promise<void> {
  const src = path.join(dir, safeRelPath(entry.path));
  const input = await fs.promises.open(src, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  const out = await openExclusive(dest);
  const h = crypto.createHash('sha256');
  let bytes = 0;
  try {
    const st = await input.stat();
    if (!st.isFile() || st.nlink !== 1) throw new BackupError('BACKUP_UNSAFE', `${entry.path} is not a plain file`);
    const buf = Buffer.alloc(1 << 20);
    for (;;) {
      const { bytesRead } = await input.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
      await out.write(buf, 0, bytesRead);
      bytes += bytesRead;
    }
    await out.sync();
    if (bytes !== entry.bytes || h.digest('hex') !== entry.sha256)
      throw new BackupError('BACKUP_INVALID', `${entry.path} does not match its SHA-256 recorded at backup time`);
  } catch (err) {
    await out.close().catch(() => undefined);
    fs.rmSync(dest, { force: true });
    throw err;
  } finally {
    await input.close();
    await out.close().catch(() => undefined);
  }
}

/** Creates a file that must not exist yet (O_EXCL, O_NOFOLLOW), mode 0600. */
export function openExclusive(file: string): Promise<fs.promises.FileHandle> {
  const c = fs.constants;
  return fs.promises.open(file, c.O_WRONLY | c.O_CREAT | c.O_EXCL | c.O_NOFOLLOW, 0o600);
}

/** Refuses (RESTORE_TARGET) when an existing directory component of `rel` under `root` is a symlink or a file. */
export function checkUnder(root: string, rel: string): void {
  let cur = root;
  const parts = rel.split('/');
  for (const part of parts.slice(0, -1)) {
    cur = path.join(cur, part);
    const st = fs.lstatSync(cur, { throwIfNoEntry: false });
    if (!st) return;
    if (!st.isDirectory())
      throw new BackupError('RESTORE_TARGET', `${cur} is ${st.isSymbolicLink() ? 'a symlink' : 'not a directory'}`);
  }
}

/**
 * Makes `dir` (and its parents under `root`) without following a symlink
 * below `root`: an existing component that is not a real directory is refused.
 */
export function mkdirUnder(root: string, rel: string): string {
  let cur = root;
  for (const part of rel.split('/').filter(Boolean)) {
    cur = path.join(cur, part);
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(cur);
    } catch {
      fs.mkdirSync(cur, { mode: 0o750 });
      continue;
    }
    if (!st.isDirectory())
      throw new BackupError('RESTORE_TARGET', `${cur} is ${st.isSymbolicLink() ? 'a symlink' : 'not a directory'}`);
  }
  return cur;
}

/**
 * Writes a file under `root` atomically: a temporary file created
 * exclusively, then renamed over the destination (a symlink planted at the
 * destination is replaced, never followed).
 */
export function writeUnder(root: string, rel: string, data: Buffer, mode: number, gid?: number): string {
  const dir = mkdirUnder(root, path.posix.dirname(rel) === '.' ? '' : path.posix.dirname(rel));
  const dest = path.join(dir, path.posix.basename(rel));
  const tmp = `${dest}.restoring-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  const c = fs.constants;
  const fd = fs.openSync(tmp, c.O_WRONLY | c.O_CREAT | c.O_EXCL | c.O_NOFOLLOW, mode);
  try {
    fs.writeFileSync(fd, data);
    if (gid !== undefined) fs.fchownSync(fd, 0, gid);
    fs.fchmodSync(fd, mode);
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, dest);
  return dest;
}
