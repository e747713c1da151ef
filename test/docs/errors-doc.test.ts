import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * docs/errors.md is the reference of every stable error `code` in src/. The
 * codes are collected from the source, not from a list kept by hand:
 * - every string literal of a type alias named `…ErrorCode`;
 * - the `code` property of every class extending an `…Error` class: a
 *   string initializer, a union of string literals, or a type alias
 *   (resolved across src/; an unresolvable one fails the test);
 * - the `API_…` codes the API answers with outside `ApiError` (refusals,
 *   metrics of refused requests).
 */

const ROOT = path.resolve(import.meta.dirname, '../..');
const DOC = path.join(ROOT, 'docs/errors.md');
const CODE = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/;

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

function literals(node: ts.TypeNode | undefined): string[] | undefined {
  if (!node) return undefined;
  if (ts.isParenthesizedTypeNode(node)) return literals(node.type);
  if (ts.isLiteralTypeNode(node) && ts.isStringLiteral(node.literal)) return [node.literal.text];
  if (ts.isUnionTypeNode(node)) {
    const all = node.types.map(literals);
    return all.every((l) => l !== undefined) ? all.flat() : undefined;
  }
  return undefined;
}

interface Collected {
  codes: Map<string, string>; // code → where it was found
  unresolved: string[];
}

function collect(): Collected {
  const files = sourceFiles(path.join(ROOT, 'src'));
  const aliases = new Map<string, string[]>();
  const pending: { type: string; where: string }[] = [];
  const codes = new Map<string, string>();
  const add = (code: string, where: string) => {
    if (!codes.has(code)) codes.set(code, where);
  };
  for (const file of files) {
    const rel = path.relative(ROOT, file);
    const sf = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node): void => {
      if (ts.isTypeAliasDeclaration(node)) {
        const lits = literals(node.type);
        if (lits) aliases.set(node.name.text, [...(aliases.get(node.name.text) ?? []), ...lits]);
        if (node.name.text.endsWith('ErrorCode')) {
          if (!lits) pending.push({ type: node.name.text, where: rel });
          for (const c of lits ?? []) add(c, `${rel} (${node.name.text})`);
        }
      }
      if (ts.isClassDeclaration(node) && node.name) {
        const base = node.heritageClauses
          ?.find((h) => h.token === ts.SyntaxKind.ExtendsKeyword)
          ?.types[0]?.expression.getText(sf);
        if (base !== undefined && /Error$/.test(base)) {
          for (const m of node.members) {
            if (!ts.isPropertyDeclaration(m) || m.name.getText(sf) !== 'code') continue;
            const where = `${rel} (${node.name.text})`;
            let init = m.initializer;
            while (init && (ts.isAsExpression(init) || ts.isParenthesizedExpression(init))) init = init.expression;
            if (init && ts.isStringLiteral(init)) add(init.text, where);
            else if (literals(m.type)) for (const c of literals(m.type) ?? []) add(c, where);
            else if (m.type && ts.isTypeReferenceNode(m.type))
              pending.push({ type: m.type.typeName.getText(sf), where });
            else pending.push({ type: m.type?.getText(sf) ?? '(no type)', where });
          }
        }
      }
      if (
        ts.isStringLiteral(node) &&
        /^API_[A-Z_]+$/.test(node.text) &&
        rel.startsWith(path.join('src', 'services', 'api'))
      ) {
        add(node.text, rel);
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  const unresolved: string[] = [];
  for (const p of pending) {
    const lits = aliases.get(p.type);
    if (lits) for (const c of lits) add(c, p.where);
    else unresolved.push(`${p.where}: code of type ${p.type}`);
  }
  return { codes, unresolved };
}

/** Codes the doc documents: the first column of its tables, in backticks. */
function documented(): Set<string> {
  const text = fs.readFileSync(DOC, 'utf8');
  const out = new Set<string>();
  for (const m of text.matchAll(/^\|\s*`([A-Z][A-Z0-9_]+)`/gm)) out.add(m[1]!);
  return out;
}

describe('docs/errors.md', () => {
  const { codes, unresolved } = collect();
  const doc = documented();

  it('finds the error codes of the source (the collector works)', () => {
    expect(unresolved).toEqual([]);
    // one of each family the collector must see: alias union, class initializer, inline union, API literal
    for (const c of ['BUS_TIMEOUT', 'STORE_UNAVAILABLE', 'UP_BAD_SOURCE', 'SUPERVISOR_STOPPED', 'API_WS_FULL']) {
      expect(codes.has(c), c).toBe(true);
    }
    for (const c of codes.keys()) expect(c).toMatch(CODE);
  });

  it('documents every stable code of the source', () => {
    const missing = [...codes].filter(([c]) => !doc.has(c)).map(([c, where]) => `${c} (${where})`);
    expect(missing, 'add these codes to docs/errors.md').toEqual([]);
  });

  it('documents no code the source no longer has', () => {
    const stale = [...doc].filter((c) => !codes.has(c));
    expect(stale, 'remove these codes from docs/errors.md').toEqual([]);
  });
});
