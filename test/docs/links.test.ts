import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Every relative link of README.md, docs/*.md and examples/README.md points
 * at a file of the repository and, with `#anchor`, at a heading of that
 * file (GitHub's anchor rules), so moving a section never leaves a dead link;
 * every repository path they name in a code span (`src/bus/mailbox.ts`)
 * exists, so moving a file never leaves a stale description.
 */

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Paths the docs name that are not in a clone: made by the user (`cp deploy/.env.example deploy/.env`) or the build. */
const NOT_IN_A_CLONE = new Set(['deploy/.env', 'web/dist']);

function markdownFiles(): string[] {
  const docs = fs
    .readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`);
  return ['README.md', 'examples/README.md', ...docs];
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const m = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = m[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Inline links `[text](target)` outside code blocks and code spans. */
function links(markdown: string): string[] {
  const out: string[] = [];
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    if (fenced) continue;
    const text = line.replace(/`[^`]*`/g, '``');
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) out.push(m[1]!);
  }
  return out;
}

describe('documentation links', () => {
  it('the anchor rule matches GitHub on headings with code and punctuation', () => {
    const a = anchors('## `canopy up`: everything in one command\n## Redis ACLs: `canopy acl`\n## A\n## A\n');
    expect([...a]).toEqual(['canopy-up-everything-in-one-command', 'redis-acls-canopy-acl', 'a', 'a-1']);
  });

  it('README.md is a front page of at most 300 lines', () => {
    expect(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8').split('\n').length).toBeLessThanOrEqual(300);
  });

  for (const file of markdownFiles()) {
    it(`${file}: every relative link and anchor resolves`, () => {
      const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
      const dead: string[] = [];
      for (const link of links(text)) {
        if (/^[a-z]+:/i.test(link)) continue; // http:, https:, mailto:
        const [target = '', anchor] = link.split('#', 2);
        const resolved = target === '' ? file : path.posix.normalize(path.posix.join(path.posix.dirname(file), target));
        const abs = path.join(ROOT, resolved);
        if (!fs.existsSync(abs)) {
          dead.push(`${link} (no file ${resolved})`);
          continue;
        }
        if (anchor && resolved.endsWith('.md') && !anchors(fs.readFileSync(abs, 'utf8')).has(anchor)) {
          dead.push(`${link} (no heading #${anchor} in ${resolved})`);
        }
      }
      expect(dead).toEqual([]);
    });

    it(`${file}: every repository path it names in code spans exists`, () => {
      const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
      const missing = [...text.matchAll(/`((?:src|test|deploy|config|bench|scripts|examples|web)\/[^`\s]*)`/g)]
        .map((m) => m[1]!)
        .filter((p) => !/[<>{}*…]/.test(p)) // placeholders and globs: `src/services/<name>/`
        .filter((p) => !NOT_IN_A_CLONE.has(p) && !fs.existsSync(path.join(ROOT, p)));
      expect(missing).toEqual([]);
    });
  }
});
