import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineScript, type CommandParser } from '@redis/client';
import { ConfigError } from './errors.js';

/**
 * The bus's Lua scripts, one per file in `lua/<name>.lua` next to this
 * module, each with a header documenting its KEYS and ARGV. The build copies
 * them into `dist/` beside the compiled module (`npm run build`), so the
 * package runs without its sources.
 */
export const BUS_SCRIPT_NAMES = [
  'backlog-append',
  'consumer-delete-empty',
  'dead-letter',
  'identity-replay',
  'identity-touch',
  'lease-release',
  'lease-renew',
  'mailbox-drain',
  'spool-append',
] as const;

export type BusScriptName = (typeof BUS_SCRIPT_NAMES)[number];

/** The text of `lua/<name>.lua`; a {@link ConfigError} when the file is not there. */
export function readBusScript(name: BusScriptName): string {
  const file = fileURLToPath(new URL(`./lua/${name}.lua`, import.meta.url));
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (cause) {
    throw new ConfigError(
      `Lua script ${name}.lua is missing next to the bus module (${file}): was the build complete?`,
      {
        cause,
      },
    );
  }
}

/** A script as node-redis runs it: called with its keys and its arguments. */
function defineBusScript(text: string) {
  return defineScript({
    SCRIPT: text,
    // arguments may be bytes (a MessagePack payload), keys are names
    parseCommand(parser: CommandParser, keys: string[], args: Array<string | Buffer>) {
      parser.pushKeysLength(keys);
      parser.push(...args);
    },
    // the raw reply, as EVAL gives it (the callers know each script's reply)
    transformReply: undefined as unknown as () => unknown,
  });
}

export type BusScript = ReturnType<typeof defineBusScript>;

/** The scripts' texts are constants of the installed package, so a process keeps them once. */
let scripts: Record<BusScriptName, BusScript> | undefined;

/**
 * Every bus script, for the node-redis `scripts` client option: the client
 * sends EVALSHA and, when the server does not know the script (NOSCRIPT,
 * e.g. after a restart or SCRIPT FLUSH), EVAL with its text.
 */
export function busScripts(): Record<BusScriptName, BusScript> {
  // read and hashed once per process: every client (connections, duplicates, subscribers) shares them
  scripts ??= Object.fromEntries(BUS_SCRIPT_NAMES.map((n) => [n, defineBusScript(readBusScript(n))])) as Record<
    BusScriptName,
    BusScript
  >;
  return scripts;
}
