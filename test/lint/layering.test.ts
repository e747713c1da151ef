// The layering rule (eslint.layers.js) is checked by planting imports through
// ESLint's API: a file path inside one layer, text that imports another. A
// wrong-way import must be reported; a right-way one must not.
import { ESLint } from 'eslint';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
let eslint: ESLint;

/** The layering messages ESLint reports for `code` placed at `filePath` (relative to the repository). */
async function layering(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.filter((m) => m.ruleId?.startsWith('boundaries/')).map((m) => m.message);
}

const importing = (spec: string) => `import * as planted from '${spec}';\nexport const x = planted;\n`;

beforeAll(() => {
  eslint = new ESLint({ cwd: root });
});

describe('layering lint rule', () => {
  it.each([
    ['the bus imports a service', 'src/bus/planted.ts', '../services/api/index.js', 'bus may not import service'],
    ['the bus imports the domain', 'src/bus/planted.ts', '../cea/index.js', 'bus may not import domain'],
    ['the bus imports shared utilities', 'src/bus/planted.ts', '../util/log.js', 'bus may not import util'],
    [
      'a service imports another service',
      'src/services/worker/planted.ts',
      '../scanner/index.js',
      'service may not import service',
    ],
    ['a service imports the cli', 'src/services/worker/planted.ts', '../../cli/main.js', 'service may not import cli'],
    [
      'the domain imports a service',
      'src/cea/planted.ts',
      '../services/worker/index.js',
      'domain may not import service',
    ],
    ['the domain imports the store', 'src/cea/planted.ts', '../store/index.js', 'domain may not import store'],
    [
      'the domain reads the process configuration',
      'src/cea/planted.ts',
      '../config/env.js',
      'domain may not import config',
    ],
    ['the store imports a service', 'src/store/planted.ts', '../services/api/index.js', 'store may not import service'],
    [
      'the contracts import the domain',
      'src/contracts/planted.ts',
      '../cea/types.js',
      'contracts may not import domain',
    ],
    ['ops imports the cli', 'src/ops/planted.ts', '../cli/main.js', 'ops may not import cli'],
    [
      'shared service code imports a service',
      'src/services/common/planted.ts',
      '../worker/index.js',
      'service-common may not import service',
    ],
    ['the dashboard imports server code', 'web/src/planted.ts', '../../src/cea/index.js', 'web may not import domain'],
  ])('reports a wrong-way import: %s', async (_what, filePath, spec, expected) => {
    expect(await layering(filePath, importing(spec))).toEqual([expect.stringContaining(expected)]);
  });

  it('reports a type-only import the wrong way as well', async () => {
    const code = "import type { SensorUpdate } from '../services/api/updates.js';\nexport type X = SensorUpdate;\n";
    expect(await layering('src/bus/planted.ts', code)).toHaveLength(1);
  });

  it('reports a re-export and a dynamic import the wrong way', async () => {
    expect(await layering('src/bus/planted.ts', "export * from '../services/api/index.js';\n")).toHaveLength(1);
    const dynamic = "export const load = () => import('../services/api/index.js');\n";
    expect(await layering('src/bus/planted.ts', dynamic)).toHaveLength(1);
  });

  it('reports a relative import that resolves to no file', async () => {
    expect(await layering('src/bus/planted.ts', importing('../nowhere/at-all.js'))).toHaveLength(1);
  });

  it.each([
    [
      'a service imports the domain, the store and the bus',
      'src/services/worker/planted.ts',
      ['../../cea/index.js', '../../store/index.js', '../../bus/index.js', '../common/runtime.js', '../../util/log.js'],
    ],
    ['the contracts import the bus', 'src/contracts/planted.ts', ['../bus/index.js']],
    ['the domain imports CAN', 'src/cea/planted.ts', ['../can/index.js', '../bus/index.js']],
    ['the cli imports a service', 'src/cli/commands/planted.ts', ['../../services/worker/index.js', '../../ops/up.js']],
    ['files inside one service import each other', 'src/services/automation/planted.ts', ['./runtime.js']],
    ['the bus imports itself and packages', 'src/bus/planted.ts', ['./connection.js', 'redis']],
  ])('allows a right-way import: %s', async (_what, filePath, specs) => {
    const code = specs.map((s, i) => `import * as m${i} from '${s}';\nexport const x${i} = m${i};\n`).join('');
    expect(await layering(filePath, code)).toEqual([]);
  });
});
