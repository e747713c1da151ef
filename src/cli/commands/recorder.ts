import type { Command } from 'commander';
import { parseRecordUsers, parseUserKinds, start } from '../../services/recorder/index.js';
import { createLogger, type Logger } from '../../util/log.js';
import type { ServiceHandle } from '../../services/types.js';
import { runUntilSignal } from '../run-service.js';
import { recorderEnv } from '../../config/recorder.js';
import { numberOption } from '../numbers.js';

export function registerRecorder(program: Command): void {
  program
    .command('recorder')
    .description(
      'record every update channel (sensor, device, analytics, alerts, control:command) once each as rotating ' +
        'JSON-lines files in $CANOPY_DATA_DIR/recordings, plus a control history (control-*.jsonl); ' +
        'with --users, also the chosen users\u2019 channels, decoded (users-*.jsonl)',
    )
    .option('--dir <dir>', 'where the files go (default $CANOPY_DATA_DIR/recordings)')
    .option('--retention-days <n>', 'delete files older than this', numberOption({ min: 0.001 }), 14)
    .option('--max-file-mb <n>', 'rotate a file past this size', numberOption({ min: 0.001 }), 64)
    .option(
      '--users <list>',
      'record these users\u2019 user:{id}:* channels: alice,bob or * for every user (default $CANOPY_RECORD_USERS; unset = off)',
    )
    .option(
      '--user-kinds <list>',
      'which of their channels: raw,features,predictions,commands,alerts (default $CANOPY_RECORD_USER_KINDS, else all)',
    )
    .action(async (opts: RecorderOpts) => {
      const log = createLogger('recorder');
      await runUntilSignal('recorder', log, (signal) => launchRecorder(opts, log, signal));
    });
}

/** The options of `canopy recorder` as commander gives them. */
export interface RecorderOpts {
  dir?: string;
  retentionDays: string;
  maxFileMb: string;
  users?: string;
  userKinds?: string;
}

/** Starts the recorder from its command's options (also used by `canopy group`). */
export function launchRecorder(opts: RecorderOpts, log: Logger, signal?: AbortSignal): Promise<ServiceHandle> {
  const dir = opts.dir ?? recorderEnv().dir;
  // parsed before starting: a bad entry fails at once with a ConfigError naming it
  const users = parseRecordUsers(opts.users ?? recorderEnv().users);
  const userKinds = parseUserKinds(opts.userKinds ?? recorderEnv().userKinds);
  return start({
    dir,
    retentionDays: Number(opts.retentionDays),
    maxFileBytes: Number(opts.maxFileMb) * 1024 * 1024,
    users,
    userKinds,
    runtime: { log, signal },
  });
}
