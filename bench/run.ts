/**
 * `npm run bench -- <name>`: imports `./<name>.js` (compiled from
 * `bench/<name>.ts`), calls its `run()`, prints the figures and writes
 * `bench/results/<name>.json` with machine and version details.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeReport } from './report.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const NOT_BENCHES = new Set(['run', 'report']);

function available(): string[] {
  return fs
    .readdirSync(here)
    .filter((f) => f.endsWith('.js'))
    .map((f) => f.slice(0, -3))
    .filter((n) => !NOT_BENCHES.has(n))
    .sort();
}

async function main(): Promise<number> {
  const name = process.argv[2];
  if (!name || !/^[a-z0-9][a-z0-9-]*$/.test(name) || NOT_BENCHES.has(name) || !available().includes(name)) {
    process.stderr.write(`usage: npm run bench -- <name>\navailable: ${available().join(', ')}\n`);
    return 2;
  }
  const mod = (await import(pathToFileURL(path.join(here, `${name}.js`)).href)) as {
    run?: () => Promise<Record<string, number>>;
  };
  if (typeof mod.run !== 'function') {
    process.stderr.write(`bench/${name}.ts does not export run()\n`);
    return 2;
  }
  const figures = await mod.run();
  const file = writeReport(name, figures);
  process.stdout.write(`${JSON.stringify(figures, null, 2)}\nwritten to ${file}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
