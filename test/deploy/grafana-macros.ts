/**
 * A small expander of Grafana's PostgreSQL macros and interval variables, as
 * the Grafana server does before sending a panel's SQL: $__time,
 * $__timeEpoch, $__timeFilter, $__timeFrom, $__timeTo, $__timeGroup,
 * $__timeGroupAlias, $__unixEpochFilter, $__interval, $__interval_ms.
 * With `timescaledb` (the data source option) $__timeGroup uses time_bucket.
 */
export interface MacroContext {
  from: Date;
  to: Date;
  /** $__interval in ms */
  intervalMs: number;
  timescaledb?: boolean;
}

export class MacroError extends Error {
  readonly code = 'GRAFANA_MACRO';
}

/** '1m' → 60, '30s' → 30, '100ms' → 0.1, '2h' → 7200, '1d' → 86400. */
export function intervalSeconds(s: string): number {
  const m = /^'?(\d+(?:\.\d+)?)(ms|s|m|h|d|w)'?$/.exec(s.trim());
  if (!m) throw new MacroError(`bad interval ${s}`);
  const mult = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[m[2] as 'ms'];
  return Number(m[1]) * mult;
}

function formatInterval(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** Splits a macro's argument list on top-level commas. */
function splitArgs(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim() !== '') out.push(cur.trim());
  return out;
}

const iso = (d: Date) => `'${d.toISOString().replace(/\.\d{3}Z$/, 'Z')}'`;

export function expandMacros(sql: string, ctx: MacroContext): string {
  let s = sql
    .replaceAll('$__interval_ms', String(ctx.intervalMs))
    .replaceAll('$__interval', formatInterval(ctx.intervalMs));
  const macro = /\$__(\w+)\(/g;
  let m: RegExpExecArray | null;
  while ((m = macro.exec(s))) {
    const name = m[1] as string;
    const start = m.index;
    let depth = 1;
    let i = macro.lastIndex;
    for (; i < s.length && depth > 0; i++) {
      if (s[i] === '(') depth++;
      if (s[i] === ')') depth--;
    }
    if (depth !== 0) throw new MacroError(`unbalanced parentheses in $__${name}(`);
    const args = splitArgs(s.slice(macro.lastIndex, i - 1));
    const col = args[0] ?? '';
    const need = (n: number) => {
      if (args.length < n) throw new MacroError(`$__${name} needs ${n} argument(s)`);
    };
    let out: string;
    switch (name) {
      case 'time':
        need(1);
        out = `${col} AS "time"`;
        break;
      case 'timeEpoch':
        need(1);
        out = `extract(epoch from ${col}) AS "time"`;
        break;
      case 'timeFilter':
        need(1);
        out = `${col} BETWEEN ${iso(ctx.from)} AND ${iso(ctx.to)}`;
        break;
      case 'timeFrom':
        out = iso(ctx.from);
        break;
      case 'timeTo':
        out = iso(ctx.to);
        break;
      case 'unixEpochFilter':
        need(1);
        out = `${col} >= ${Math.floor(ctx.from.getTime() / 1000)} AND ${col} <= ${Math.floor(ctx.to.getTime() / 1000)}`;
        break;
      case 'timeGroup':
      case 'timeGroupAlias': {
        need(2);
        const sec = intervalSeconds(args[1] as string);
        out = ctx.timescaledb
          ? `time_bucket('${sec.toFixed(3)}s',${col})`
          : `floor(extract(epoch from ${col})/${sec})*${sec}`;
        if (name === 'timeGroupAlias') out += ' AS "time"';
        break;
      }
      default:
        throw new MacroError(`unknown macro $__${name}`);
    }
    s = s.slice(0, start) + out + s.slice(i);
    macro.lastIndex = start + out.length;
  }
  if (/\$__\w+/.test(s) || /\$\w+/.test(s.replace(/'[^']*'/g, '')))
    throw new MacroError(`unexpanded variable left in: ${s}`);
  return s;
}
