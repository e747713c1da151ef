import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Connection } from './connection.js';
import { ConfigError } from './errors.js';

/**
 * Lua scripts live in `src/bus/lua/<name>.lua`, one per file with a header
 * documenting KEYS and ARGV. tsc does not copy them into `dist/`, so they
 * are read from the package root's `src/bus/lua/`, found by walking up from
 * this module (works from `src/` under tsx and from `dist/src/`).
 */
export function luaDir(from: string = path.dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    const candidate = path.join(dir, 'src', 'bus', 'lua');
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(candidate)) return candidate;
    const up = path.dirname(dir);
    if (up === dir) throw new ConfigError(`src/bus/lua not found above ${from}`);
    dir = up;
  }
}

/** One Lua script: EVALSHA, and EVAL (which caches it) when the server does not know it yet. */
export class LuaScript {
  readonly name: string;
  readonly source: string;
  readonly sha: string;

  constructor(name: string, source: string) {
    this.name = name;
    this.source = source;
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** Reads `src/bus/lua/<name>.lua`. */
  static load(name: string): LuaScript {
    return new LuaScript(name, fs.readFileSync(path.join(luaDir(), `${name}.lua`), 'utf8'));
  }

  async run(conn: Connection, keys: string[], args: string[]): Promise<unknown> {
    return conn.run(`script ${this.name}`, async (c) => {
      try {
        return await c.evalSha(this.sha, { keys, arguments: args });
      } catch (err) {
        if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
        return c.eval(this.source, { keys, arguments: args });
      }
    });
  }
}
