import type { Command } from 'commander';
import { UserChannels } from '../../client/channels.js';
import { createJsonCodec } from '../../bus/codec.js';
import { ConfigError } from '../../bus/errors.js';
import { isUserCodecName, MESSAGE_TYPE, USER_CHANNEL_KINDS, type UserMessage } from '../../contracts/user-channels.js';
import { createLogger } from '../../util/log.js';
import { userKindArgs } from './subscribe.js';
import { redisConnectionFromEnv } from '../../config/redis.js';

export function registerPublish(program: Command): void {
  program
    .command('publish')
    .description('publish one message on user:<user>:<kind> (checked against the message contract; msgpack by default)')
    .argument('<user>', 'user id, e.g. jamie')
    .argument('<kind>', USER_CHANNEL_KINDS.join(' | '))
    .argument('<json>', 'the message as JSON; "type" is filled in from the kind when missing')
    .option('--codec <codec>', 'msgpack or json', 'msgpack')
    .addHelpText(
      'after',
      `\nExample: canopy publish jamie predictions '{"prediction_type":"workload","data":{"workload":0.85},"confidence":0.9}'`,
    )
    .action(async (user: string, kindArg: string, json: string, opts: { codec: string }) => {
      const kind = userKindArgs(user, kindArg);
      if (!isUserCodecName(opts.codec)) throw new ConfigError(`--codec must be msgpack or json, got "${opts.codec}"`);
      let value: unknown;
      try {
        value = createJsonCodec().decode(json);
      } catch (err) {
        throw new ConfigError(`the message is not valid JSON: ${(err as Error).message}`, { cause: err });
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new ConfigError('the message must be a JSON object');
      }
      const msg = { type: MESSAGE_TYPE[kind], ...(value as object) } as UserMessage;
      const ch = await UserChannels.connect({
        redis: redisConnectionFromEnv(),
        logger: createLogger('publish'),
        codec: opts.codec,
      });
      try {
        const n = await ch.publish(user, kind, msg as never);
        process.stdout.write(`published to user:${user}:${kind} (${n} receiver${n === 1 ? '' : 's'})\n`);
      } finally {
        await ch.close();
      }
    });
}
