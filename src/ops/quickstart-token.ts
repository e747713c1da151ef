import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** The quick start's operator token: where it is and whether this run created it. */
export interface QuickstartToken {
  /** `<dataDir>/operator.token`: the token alone, to paste into the dashboard (mode 0600). */
  operatorFile: string;
  /** `<dataDir>/api-tokens`: the API's tokens file (`operator@quickstart:<token>`, mode 0600). */
  tokensFile: string;
  /** True on the first run (the token was made now), false when an earlier one is reused. */
  created: boolean;
  /** True when a file's mode was looser than 0600 and has been tightened. */
  tightened: boolean;
  /** The token itself: for the terminal only, never for a log. */
  token: string;
}

const NAME = 'operator.token';
const TOKENS = 'api-tokens';

function writeSecret(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.rmSync(tmp, { force: true });
  fs.writeFileSync(tmp, text, { mode: 0o600, flag: 'wx' });
  fs.renameSync(tmp, file);
}

/**
 * Creates the operator token of the quick start on its first run (32
 * random base64url characters in `<dataDir>/operator.token`, mode 0600) and
 * reuses it afterwards; (re)writes the API's tokens file from it. A file
 * someone made readable to others is set back to 0600. A token file that
 * does not hold a usable token (empty, too short) is replaced.
 */
export function ensureQuickstartToken(dataDir: string): QuickstartToken {
  fs.mkdirSync(dataDir, { recursive: true });
  const operatorFile = path.join(dataDir, NAME);
  const tokensFile = path.join(dataDir, TOKENS);
  let tightened = false;
  let token: string | undefined;
  if (fs.existsSync(operatorFile)) {
    if ((fs.statSync(operatorFile).mode & 0o077) !== 0) {
      fs.chmodSync(operatorFile, 0o600);
      tightened = true;
    }
    const text = fs.readFileSync(operatorFile, 'utf8').trim();
    if (/^[A-Za-z0-9_-]{16,}$/.test(text)) token = text;
  }
  const created = token === undefined;
  token ??= crypto.randomBytes(24).toString('base64url');
  if (created) writeSecret(operatorFile, `${token}\n`);
  const line = `operator@quickstart:${token}\n`;
  const current = fs.existsSync(tokensFile) ? fs.readFileSync(tokensFile, 'utf8') : undefined;
  if (current !== line || (fs.statSync(tokensFile).mode & 0o077) !== 0) writeSecret(tokensFile, line);
  return { operatorFile, tokensFile, created, tightened, token };
}
