import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Connection } from './connection.js';
import { ConfigError, ReplyError } from './errors.js';

/**
 * A Lua script from `src/bus/lua/<name>.lua`, run with EVALSHA and, when
 * the server does not know it yet (NOSCRIPT, e.g. after a restart), EVAL.
 * The text is read from the source tree both when running from `src/`
 * (tsx, vitest) and from `dist/src/` (the build does not copy `.lua` files).
 */
export class LuaScript {
  readonly name: string;
  readonly text: string;
  readonly sha: string;

  constructor(name: string) {
    this.name = name;
    this.text = readScript(name);
    this.sha = createHash('sha1').update(this.text).digest('hex');
  }

  async run(conn: Connection, keys: string[], args: string[]): Promise<unknown> {
    const context = `script ${this.name}`;
    try {
      return await conn.run(context, (c) => c.evalSha(this.sha, { keys, arguments: args }));
    } catch (err) {
      if (!(err instanceof ReplyError && /NOSCRIPT/.test(err.message))) throw err;
      return conn.run(context, (c) => c.eval(this.text, { keys, arguments: args }));
    }
  }
}

function readScript(name: string): string {
  const candidates = [
    new URL(`./lua/${name}.lua`, import.meta.url),
    new URL(`../../../src/bus/lua/${name}.lua`, import.meta.url),
  ];
  for (const u of candidates) {
    const p = fileURLToPath(u);
    if (fs.existsSync(p)) return fs.readFileSync(p, 'utf8');
  }
  throw new ConfigError(`Lua script ${name}.lua not found next to the bus module or in src/bus/lua`);
}
