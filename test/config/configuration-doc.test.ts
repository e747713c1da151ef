import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FILE_CREDENTIALS, SECRET_VARIABLES } from '../../src/config/env.js';

/** Every `.ts` file under `dir`. */
function sources(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.join(dir, f));
}

/** Names a source reads: `env.NAME`, `env['NAME']`, or a reader called as `(env, 'NAME', …)` / `(process.env, 'NAME', …)`. */
function reads(text: string): Set<string> {
  const out = new Set<string>();
  for (const re of [
    /\benv\.([A-Z][A-Z0-9_]+)\b/g,
    /\benv\[['"]([A-Z][A-Z0-9_]+)['"]\]/g,
    /\(\s*(?:process\.)?env\s*,\s*'([A-Z][A-Z0-9_]+)'/g,
  ])
    for (const m of text.matchAll(re)) out.add(m[1]!);
  return out;
}

function readsIn(files: string[]): Set<string> {
  const out = new Set<string>();
  for (const f of files) for (const n of reads(fs.readFileSync(f, 'utf8'))) out.add(n);
  return out;
}

/** The variables docs/configuration.md lists: the first column of its tables. */
function documented(): string[] {
  const doc = fs.readFileSync('docs/configuration.md', 'utf8');
  return [...doc.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map((m) => m[1]!);
}

/** Secrets are read by name from a list (src/config/env.ts), not literally. */
const SECRETS = [...SECRET_VARIABLES, ...Object.keys(FILE_CREDENTIALS), ...Object.values(FILE_CREDENTIALS)];

describe('docs/configuration.md lists every variable the configuration modules read', () => {
  it('the reader finds what it should (a planted read is seen, a comment is not)', () => {
    expect([...reads("const a = env.FOO_BAR; text(env, 'BAZ'); env['QUX'];")].sort()).toEqual([
      'BAZ',
      'FOO_BAR',
      'QUX',
    ]);
    expect([...reads('/** `FOO_BAR` is read */ const x = y.FOO;')]).toEqual([]);
  });

  it('every variable read in src/config is documented', () => {
    const doc = new Set(documented());
    const missing = [...readsIn(sources('src/config')), ...SECRET_VARIABLES].filter((n) => !doc.has(n));
    expect(missing).toEqual([]);
  });

  it('every documented variable is still read somewhere in src, and listed once', () => {
    const names = documented();
    expect(names.length).toBeGreaterThan(50);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
    const read = readsIn(sources('src'));
    for (const n of SECRETS) read.add(n);
    expect(names.filter((n) => !read.has(n))).toEqual([]);
  });
});
