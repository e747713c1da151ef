import type { TSchema } from '@sinclair/typebox';
import { contractCatalog, type ContractEntry } from './catalog.js';
import { clusterNameTable, clusterPatternTable, SHARDED_USER_KINDS } from './cluster.js';
import { userPattern } from './user-channels.js';

/**
 * docs/contracts.md, rendered from {@link contractCatalog}: one table of
 * every name, then each message's JSON Schema. `npm run docs:contracts`
 * writes it; test/contracts/doc.test.ts fails when the file and this
 * module disagree.
 */
export function renderContractsDoc(entries: readonly ContractEntry[] = contractCatalog()): string {
  const out: string[] = [
    '# Contracts: every Redis name and message of Canopy',
    '',
    '<!-- Generated from src/contracts by `npm run docs:contracts`; do not edit by hand. -->',
    '',
    'Other programs (`redis-cli`, redis-py, Grafana) depend on these exact names. `{location}` and',
    '`{cluster}` appear in channel names exactly as configured (`Flower Room`, `front`); timestamps in',
    'JSON are ISO-8601 UTC with milliseconds. In code, import names, schemas and validators from',
    '`src/contracts` (`src/contracts/index.ts`); never write a Redis name as a string literal.',
    '',
    'What derives from `src/contracts`: the service ACL users of `canopy acl` (`acl-users.ts`, from the',
    'names in `names.ts`), the consumer ACLs (`acl-consumers.ts`), the message validators the services',
    'subscribe with (`updates.ts`, `user-channels.ts`), the API route schemas and so the OpenAPI',
    'document at `/docs` (devices are the `DeviceUpdate` schema), and this file.',
    '',
    'To add a name: its constant or builder in `names.ts`, its TypeBox schema, an entry in',
    '`catalog.ts`, then `npm run docs:contracts` (test/contracts/contracts.test.ts fails until this',
    'file matches).',
    '',
    '| name | type | codec | lifetime | written by | read by |',
    '|---|---|---|---|---|---|',
  ];
  for (const e of entries) {
    const name = e.name
      .split(', ')
      .map((n) => `\`${n}\``)
      .join(', ');
    out.push(
      `| ${cell(name)} | ${e.type} | ${e.codec} | ${cell(e.lifetime)} | ${cell(e.producers.join(', ') || '—')} | ${cell(e.consumers.join(', ') || '—')} |`,
    );
  }
  out.push('', ...renderClusterSection());
  out.push('', '## Messages', '');
  for (const e of entries) {
    out.push(`### \`${e.name.split(', ')[0]}\``, '', `${capital(e.description)}.`, '');
    if (e.schema) out.push('```json', JSON.stringify(plain(e.schema), null, 2), '```', '');
  }
  return out.join('\n');
}

/** The names and channels that differ on a Redis Cluster (src/contracts/cluster.ts). */
function renderClusterSection(): string[] {
  const out = [
    '## On a Redis Cluster',
    '',
    'With `REDIS_CLUSTER_NODES` the names above are kept except these, which get a hash tag so that',
    'every key one Lua script touches lies in one slot (`{can:raw}` hashes like the key `can:raw`, so the',
    'streams themselves keep their names). On a single server and under Sentinel the plain names are used.',
    '',
    '| plain name | on a cluster | why |',
    '|---|---|---|',
    ...clusterNameTable().map((e) => `| \`${e.plain}\` | \`${e.cluster}\` | ${cell(e.why)} |`),
    '',
    `Sharded pub/sub: ${SHARDED_USER_KINDS.map((k) => `\`${userPattern(k)}\``).join(', ')} (\`*\` = the user id) are`,
    'published with SPUBLISH and received with SSUBSCRIBE on a cluster; every other channel stays classic',
    'pub/sub. Pattern subscriptions cannot be sharded:',
    '',
    '| pattern | subscriber | on a cluster |',
    '|---|---|---|',
    ...clusterPatternTable().map((e) => `| \`${e.pattern}\` | ${e.subscriber} | ${cell(e.cost)} |`),
  ];
  return out;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

function capital(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The JSON Schema of a TypeBox schema (its symbol keys dropped). */
function plain(schema: TSchema): unknown {
  return JSON.parse(JSON.stringify(schema)) as unknown;
}
