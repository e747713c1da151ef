/** Terminal output of the monitors: colours only on a TTY (and not with --no-color), full-screen redraws. */

export type Colour = 'red' | 'green' | 'yellow' | 'blue' | 'magenta' | 'cyan' | 'grey' | 'bold';

const CODES: Record<Colour, [number, number]> = {
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  blue: [34, 39],
  magenta: [35, 39],
  cyan: [36, 39],
  grey: [90, 39],
  bold: [1, 22],
};

export interface Painter {
  readonly color: boolean;
  paint(colour: Colour, text: string): string;
}

export function painter(color: boolean): Painter {
  return { color, paint: (c, t) => (color ? `\x1b[${CODES[c][0]}m${t}\x1b[${CODES[c][1]}m` : t) };
}

/** Removes ANSI escape sequences. */
export function stripAnsi(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
}

/** Pads by visible width (ANSI codes do not count). */
export function pad(s: string, width: number): string {
  const n = stripAnsi(s).length;
  return n >= width ? s : s + ' '.repeat(width - n);
}

/** Left-aligned columns. */
export function table(rows: string[][], gap = 2): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, stripAnsi(c).length)));
  return rows.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : pad(c, (widths[i] as number) + gap)))
      .join('')
      .trimEnd(),
  );
}

/** `12.3 s ago`, `4 min ago`. */
export function ago(ms: number): string {
  if (ms < 0) return 'now';
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s ago`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min ago`;
  return `${(ms / 3_600_000).toFixed(1)} h ago`;
}

/**
 * Cuts `s` to `width` visible columns (ANSI codes do not count), ending with
 * `…` when something was cut; colours are reset after a cut.
 */
export function truncate(s: string, width: number): string {
  if (stripAnsi(s).length <= width) return s;
  if (width <= 0) return '';
  let out = '';
  let visible = 0;
  let coloured = false;
  for (let i = 0; i < s.length;) {
    // eslint-disable-next-line no-control-regex
    const m = /^\x1b\[[0-9;?]*[A-Za-z]/.exec(s.slice(i, i + 16));
    if (m) {
      out += m[0];
      coloured = true;
      i += m[0].length;
      continue;
    }
    if (visible === width - 1) break;
    const ch = String.fromCodePoint(s.codePointAt(i) as number);
    out += ch;
    visible++;
    i += ch.length;
  }
  return `${out}…${coloured ? '\x1b[0m' : ''}`;
}

/** Fits a screen to `width` × `height`: at most `height` lines, each cut to `width` columns. */
export function fit(lines: readonly string[], width: number, height: number): string[] {
  return lines.slice(0, Math.max(0, height)).map((l) => truncate(l, width));
}

/** The terminal's size, or 80×24 when stdout is not a terminal (or reports none). */
export function terminalSize(out: NodeJS.WriteStream = process.stdout): { width: number; height: number } {
  return {
    width: out.isTTY && out.columns > 0 ? out.columns : 80,
    height: out.isTTY && out.rows > 0 ? out.rows : 24,
  };
}

/** Colours on when stdout is a terminal, `--no-color` was not given and NO_COLOR is unset or empty. */
export function useColour(tty: boolean, flag: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  return tty && flag && !env.NO_COLOR;
}

/**
 * Calls `step` every `intervalMs` until Ctrl+C (SIGINT/SIGTERM); a step that
 * throws hands its error to `onError` and the loop goes on.
 */
export async function runLoop(
  step: () => Promise<void>,
  opts: { intervalMs: number; onError: (err: Error) => void; signal?: AbortSignal },
): Promise<void> {
  let stopped = false;
  let wake: (() => void) | undefined;
  const stop = () => {
    stopped = true;
    wake?.();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  opts.signal?.addEventListener('abort', stop, { once: true });
  try {
    while (!stopped && !opts.signal?.aborted) {
      try {
        await step();
      } catch (err) {
        opts.onError(err as Error);
      }
      if (stopped) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, opts.intervalMs);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    opts.signal?.removeEventListener('abort', stop);
  }
}

/**
 * Runs a full-screen monitor: `--once` prints one screen and returns;
 * otherwise it redraws every `intervalMs` until Ctrl+C, then restores the
 * cursor and resolves. On a terminal the screen is drawn from the top-left
 * corner without a final newline, so a screen of exactly the terminal's
 * height never scrolls its header off.
 */
export async function runScreen(
  render: () => Promise<string[]>,
  opts: { once: boolean; intervalMs: number; tty: boolean; out?: NodeJS.WritableStream },
): Promise<void> {
  const out = opts.out ?? process.stdout;
  if (opts.once) {
    out.write(`${(await render()).join('\n')}\n`);
    return;
  }
  if (opts.tty) out.write('\x1b[?25l\x1b[2J');
  const draw = (lines: string[]): void => {
    out.write(opts.tty ? `\x1b[H${lines.map((l) => `${l}\x1b[K`).join('\n')}\x1b[J` : `${lines.join('\n')}\n\n`);
  };
  try {
    await runLoop(async () => draw(await render()), {
      intervalMs: opts.intervalMs,
      onError: (err) => draw([`error: ${err.message}`]),
    });
  } finally {
    if (opts.tty) out.write('\x1b[?25h\n');
  }
}
