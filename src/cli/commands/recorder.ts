import path from 'node:path';
import type { Command } from 'commander';
import { loadBaseConfig } from '../../config/env.js';
import { start } from '../../services/recorder/index.js';
import { createLogger } from '../../util/log.js';
import { runUntilSignal } from '../run-service.js';

export function registerRecorder(program: Command): void {
  program
    .command('recorder')
    .description(
      'record every update channel (sensor, device, analytics, alerts, control:command) once each as rotating ' +
        'JSON-lines files in $CANOPY_DATA_DIR/recordings, plus a control history (control-*.jsonl)',
    )
    .option('--dir <dir>', 'where the files go (default $CANOPY_DATA_DIR/recordings)')
    .option('--retention-days <n>', 'delete files older than this', '14')
    .option('--max-file-mb <n>', 'rotate a file past this size', '64')
    .action(async (opts: { dir?: string; retentionDays: string; maxFileMb: string }) => {
      const log = createLogger('recorder');
      const dir = opts.dir ?? path.join(loadBaseConfig().dataDir, 'recordings');
      await runUntilSignal('recorder', log, () =>
        start({
          dir,
          retentionDays: Number(opts.retentionDays),
          maxFileBytes: Number(opts.maxFileMb) * 1024 * 1024,
          runtime: { log },
        }),
      );
    });
}
