import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { register } from './cleanup.js';

/** A fresh temporary directory, removed when the test file ends. */
export function tempDir(prefix = 'canopy-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const rm = () => fs.rmSync(dir, { recursive: true, force: true });
  register({ stop: async () => rm(), killSync: rm });
  return dir;
}

/** A random key prefix so tests on one server never see each other's keys. */
export function randomPrefix(): string {
  return `t${Math.random().toString(36).slice(2, 10)}:`;
}
