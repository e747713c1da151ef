import fs from 'node:fs';

/** The package version, read once from package.json. */
export function packageVersion(): string {
  for (const rel of ['../../../package.json', '../../package.json']) {
    try {
      const p = JSON.parse(fs.readFileSync(new URL(rel, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (p.name === 'canopy' && p.version) return p.version;
    } catch {
      // try the next layout (dist/src/config or src/config)
    }
  }
  return '0.0.0';
}
