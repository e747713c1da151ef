import type { TSchema } from '@sinclair/typebox';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { LineCounter, isMap, isPair, isScalar, isSeq, parseDocument, type Node } from 'yaml';

/**
 * One error style for every configuration file (nodes, sensors, devices,
 * alert rules): the file, then one line per problem — the line in the file,
 * the field, what was expected:
 *
 *     config/devices.yaml: 2 problem(s) in the devices file:
 *       - line 14: devices[0] (heater_f).output.pin must be <= 7
 *       - line 9: devices[0] (heater_f) has unknown field "colour"
 *
 * A file is parsed with {@link readYamlSource} (positions kept), checked
 * against its TypeBox schema with {@link schemaProblems} (unknown keys are
 * refused by the schemas: `additionalProperties: false`), then by the
 * loader's own checks, which name fields with {@link YamlSource.at}.
 */

/** A parsed YAML document with the positions of its nodes. */
export class YamlSource {
  readonly file: string;
  /** The document as plain data. */
  readonly value: unknown;
  readonly #doc: ReturnType<typeof parseDocument>;
  readonly #lines: LineCounter;

  private constructor(file: string, doc: ReturnType<typeof parseDocument>, lines: LineCounter, value: unknown) {
    this.file = file;
    this.#doc = doc;
    this.#lines = lines;
    this.value = value;
  }

  /**
   * Parses `text`; a syntax error, or aliases that would expand the document
   * past 100 nodes (a "billion laughs" file), gives a problem instead.
   */
  static parse(text: string, file: string): YamlSource | { problem: string } {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true });
    const err = doc.errors[0];
    if (err) return { problem: `not valid YAML: ${err.message}` };
    try {
      return new YamlSource(file, doc, lines, doc.toJS({ maxAliasCount: 100 }));
    } catch (cause) {
      return { problem: `not valid YAML: ${(cause as Error).message}` };
    }
  }

  /**
   * The 1-based line of the value at a JSON pointer (`/devices/0/output`),
   * or of the nearest enclosing value that exists (a missing field: its
   * mapping); `key`: the line of the last key rather than of its value;
   * undefined when the document is empty.
   */
  line(pointer: string, key = false): number | undefined {
    let node: unknown = this.#doc.contents;
    let at: number | undefined = rangeStart(node);
    const parts = pointer.split('/').filter(Boolean).map(unescapePointer);
    for (const [i, part] of parts.entries()) {
      let next: unknown;
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && keyText(p.key) === part);
        // a key with no value (`field:`) is found at its key, and so is a key asked for itself
        if (pair && (pair.value === null || (key && i === parts.length - 1))) {
          at = rangeStart(pair.key) ?? at;
          break;
        }
        next = pair?.value ?? undefined;
      } else if (isSeq(node) && /^\d+$/.test(part)) next = node.items[Number(part)];
      if (next === undefined || next === null) break;
      node = next;
      at = rangeStart(node) ?? at;
    }
    return at === undefined ? undefined : this.#lines.linePos(at).line;
  }

  /** `line N: ` for a JSON pointer into the document ('' when unknown); `key`: the line of the key itself. */
  at(pointer: string, key = false): string {
    const n = this.line(pointer, key);
    return n === undefined ? '' : `line ${n}: `;
  }
}

function rangeStart(node: unknown): number | undefined {
  return (node as Node | undefined)?.range?.[0];
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return typeof key === 'string' || typeof key === 'number' ? String(key) : undefined;
}

function unescapePointer(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** `file: N problem(s) in the <what> file:` and one line per problem. */
export function formatProblems(file: string, what: string, problems: readonly string[]): string {
  return `${file}: ${problems.length} problem(s) in the ${what} file:\n  - ${problems.join('\n  - ')}`;
}

/**
 * `/devices/3/output/address` → `devices[3] (heater_f).output.address`
 * (a list entry with a `name`, `id` or `node` is named after it).
 */
export function describePath(pointer: string, root: unknown): string {
  let s = '';
  let cur: unknown = root;
  for (const part of pointer.split('/').filter(Boolean).map(unescapePointer)) {
    const next = (cur as Record<string, unknown> | undefined)?.[part];
    if (/^\d+$/.test(part) && Array.isArray(cur)) {
      const e = next as { name?: unknown; id?: unknown; node?: unknown } | undefined;
      const label = [e?.name, e?.id, e?.node].find((x) => typeof x === 'string' || typeof x === 'number');
      s += `[${part}]${label !== undefined ? ` (${String(label)})` : ''}`;
    } else s += (s ? '.' : '') + part;
    cur = next;
  }
  return s;
}

/**
 * Compiled validators by schema (compiling one costs tens of milliseconds;
 * a validator is a pure function of its immutable schema, so sharing it is
 * safe).
 */
const compiled = new WeakMap<TSchema, ValidateFunction>();

/**
 * Every way `value` breaks `schema`, one line each: `line N: field what was
 * expected`. `base` is the JSON pointer of `value` inside `source`'s
 * document (when only part of it is checked).
 */
export function schemaProblems(schema: TSchema, value: unknown, source?: YamlSource, base = ''): string[] {
  let check = compiled.get(schema);
  if (!check) {
    check = new Ajv({ allErrors: true, strict: false }).compile(schema);
    compiled.set(schema, check);
  }
  if (check(value)) return [];
  const root = source ? source.value : value;
  return formatErrors(check.errors, root, base, source);
}

function formatErrors(
  errors: ErrorObject[] | null | undefined,
  root: unknown,
  base: string,
  source: YamlSource | undefined,
): string[] {
  if (!errors) return [];
  const skip = unionNoise(errors);
  const out = new Map<string, number>();
  for (const e of errors) {
    if (skip.has(e)) continue;
    let pointer = base + e.instancePath;
    let msg = e.message ?? 'is invalid';
    const unknown = e.keyword === 'additionalProperties';
    if (unknown) {
      const key = String(e.params.additionalProperty);
      msg = `has unknown field "${key}"`;
      pointer += `/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    }
    if (e.keyword === 'anyOf') msg = 'is none of the accepted forms';
    if (e.keyword === 'minItems' && e.params.limit === 1) msg += ' (a non-empty list)';
    if (e.keyword === 'required') msg = `misses required field "${String(e.params.missingProperty)}"`;
    const where = describePath(base + e.instancePath, root);
    const line = source?.line(pointer, unknown);
    const text = `${line === undefined ? '' : `line ${line}: `}${where || '(top level)'} ${msg}`;
    if (!out.has(text)) out.set(text, line ?? 0);
  }
  // in the order of the file
  return [...out].sort((a, b) => a[1] - b[1]).map(([text]) => text);
}

/**
 * The errors not to report of values that match no branch of a union: when
 * exactly one branch has the value's type (an object where `null` was the
 * other choice; a number below its minimum where text was the other), that
 * branch's errors are reported and the union's own message is not;
 * otherwise one "is none of the accepted forms" stands for them all.
 */
function unionNoise(errors: ErrorObject[]): Set<ErrorObject> {
  const skip = new Set<ErrorObject>();
  for (const u of errors) {
    if (u.keyword !== 'anyOf') continue;
    const prefix = `${u.schemaPath}/`;
    const branches = new Map<string, ErrorObject[]>();
    for (const e of errors) {
      if (e === u || !e.schemaPath.startsWith(prefix) || !e.instancePath.startsWith(u.instancePath)) continue;
      const k = e.schemaPath.slice(prefix.length).split('/')[0]!;
      branches.set(k, [...(branches.get(k) ?? []), e]);
    }
    const typed = [...branches.values()].filter(
      (es) => !es.some((e) => e.instancePath === u.instancePath && e.keyword === 'type'),
    );
    if (typed.length === 1) {
      skip.add(u);
      for (const es of branches.values()) if (es !== typed[0]) for (const e of es) skip.add(e);
    } else for (const es of branches.values()) for (const e of es) skip.add(e);
  }
  return skip;
}
