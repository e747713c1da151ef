export type BackupErrorCode =
  'BACKUP_CONFIG' | 'BACKUP_STORE' | 'BACKUP_TOOL' | 'BACKUP_INVALID' | 'BACKUP_UNSAFE' | 'RESTORE_TARGET';

/**
 * A backup or restore failure. `BACKUP_INVALID`: the backup is incomplete
 * or a file does not match its recorded SHA-256. `BACKUP_UNSAFE`: the
 * backup names a path outside its areas (absolute, `..`) or holds a
 * symlink, hard link or special file — refused before anything is written.
 */
export class BackupError extends Error {
  readonly code: BackupErrorCode;
  constructor(code: BackupErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BackupError';
    this.code = code;
  }
}
