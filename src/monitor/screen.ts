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
 * Runs a monitor: `--once` prints one screen and returns; otherwise it
 * redraws every `intervalMs` until Ctrl+C (SIGINT/SIGTERM), then restores
 * the cursor and resolves.
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
  let stopped = false;
  let wake: (() => void) | undefined;
  const stop = () => {
    stopped = true;
    wake?.();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  if (opts.tty) out.write('\x1b[?25l');
  try {
    while (!stopped) {
      let lines: string[];
      try {
        lines = await render();
      } catch (err) {
        lines = [`error: ${(err as Error).message}`];
      }
      out.write(opts.tty ? `\x1b[H\x1b[2J${lines.join('\n')}\n` : `${lines.join('\n')}\n\n`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, opts.intervalMs);
      });
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    if (opts.tty) out.write('\x1b[?25h');
  }
}
