import type { Command } from 'commander';
import { UserChannels } from '../../client/channels.js';
import { ConfigError } from '../../bus/errors.js';
import {
  checkUserId,
  isUserChannelKind,
  USER_CHANNEL_KINDS,
  type UserChannelKind,
} from '../../contracts/user-channels.js';
import { createLogger } from '../../util/log.js';
import { loadBaseConfig } from '../../config/env.js';
import { redisConnectionFromEnv } from '../../config/redis.js';
import { positiveIntOption } from '../numbers.js';

/** Checks the `<user> <kind>` arguments of subscribe/publish. */
export function userKindArgs(user: string, kind: string): UserChannelKind {
  checkUserId(user);
  if (!isUserChannelKind(kind))
    throw new ConfigError(`kind must be one of ${USER_CHANNEL_KINDS.join(', ')}, got "${kind}"`);
  return kind;
}

export function registerSubscribe(program: Command): void {
  program
    .command('subscribe')
    .description('print the decoded messages of user:<user>:<kind> as JSON lines (msgpack or JSON payloads)')
    .argument('<user>', 'user id, e.g. jamie')
    .argument('<kind>', USER_CHANNEL_KINDS.join(' | '))
    .option('-n, --count <n>', 'exit after this many messages', positiveIntOption)
    .option('--no-validate', 'print messages even when they do not match the message contract')
    .addHelpText('after', '\nConnects with REDIS_URL (use the ACL user of a consumer allowed on that channel).')
    .action(async (user: string, kindArg: string, opts: { count?: string; validate: boolean }) => {
      const kind = userKindArgs(user, kindArg);
      const max = opts.count === undefined ? Infinity : Number(opts.count);
      if (!(max > 0)) throw new ConfigError(`--count must be a positive number, got "${opts.count}"`);
      // one clear line per refused message on stderr; the JSON log only when LOG_LEVEL asks for it
      const log = createLogger('subscribe', loadBaseConfig().logLevelGiven ?? 'error');
      const ch = await UserChannels.connect({
        redis: redisConnectionFromEnv(),
        logger: log,
        validate: opts.validate,
        onMalformed: ({ channel, error }) =>
          process.stderr.write(`skipped a malformed message on ${channel}: ${error.slice(0, 300)}\n`),
      });
      let n = 0;
      let done: () => void = () => undefined;
      const finished = new Promise<void>((resolve) => (done = resolve));
      await ch.subscribe(user, kind, (m) => {
        if (n >= max) return;
        let line: string;
        try {
          line = JSON.stringify(m);
        } catch (err) {
          process.stderr.write(`skipped a message that cannot be printed as JSON: ${(err as Error).message}\n`);
          return;
        }
        n++;
        process.stdout.write(`${line}\n`);
        if (n >= max) done();
      });
      process.stderr.write(`subscribed to user:${user}:${kind}\n`);
      process.once('SIGINT', done);
      process.once('SIGTERM', done);
      await finished;
      await ch.close();
      if (ch.stats.malformed > 0) process.stderr.write(`${ch.stats.malformed} malformed message(s) skipped\n`);
    });
}
