// Part of `npm run build`: copies the bus's Lua scripts (src/bus/lua/*.lua)
// next to the compiled bus module (dist/src/bus/lua/), where it reads them.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const from = path.join(root, 'src', 'bus', 'lua');
const to = path.join(root, 'dist', 'src', 'bus', 'lua');
fs.rmSync(to, { recursive: true, force: true });
fs.mkdirSync(to, { recursive: true });
const files = fs.readdirSync(from).filter((f) => f.endsWith('.lua'));
for (const f of files) fs.copyFileSync(path.join(from, f), path.join(to, f));
process.stdout.write(`copied ${files.length} Lua scripts into dist/src/bus/lua\n`);
