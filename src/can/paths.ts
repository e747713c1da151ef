import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The directory of the shipped configuration files (`config/` at the package
 * root), found by walking up from this module: it works from `src/` under tsx
 * and from `dist/src/` after the build.
 */
export function defaultConfigDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'config'))) {
      return path.join(dir, 'config');
    }
    dir = path.dirname(dir);
  }
  throw new Error('cannot find the config/ directory of the canopy package');
}

/** Path of one shipped configuration file, e.g. `canopy.dbc`. */
export function defaultConfigFile(name: string): string {
  return path.join(defaultConfigDir(), name);
}
