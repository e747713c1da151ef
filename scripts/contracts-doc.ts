/**
 * Writes docs/contracts.md from src/contracts (`npm run docs:contracts`);
 * with `--check`, exits 1 when the file is not what src/contracts renders.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderContractsDoc } from '../src/contracts/doc.js';

const file = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'contracts.md');
const text = renderContractsDoc();
if (process.argv.includes('--check')) {
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  if (current !== text) {
    process.stderr.write('docs/contracts.md is out of date: run npm run docs:contracts\n');
    process.exit(1);
  }
} else {
  fs.writeFileSync(file, text);
  process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
}
