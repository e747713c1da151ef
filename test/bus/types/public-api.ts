/**
 * Type tests of the bus's public API, compiled by test/bus/public-api.test.ts
 * against the built package through its `exports` (`canopy/bus` →
 * `dist/src/bus/index.d.ts`). A changed signature fails to compile; every
 * `@ts-expect-error` is a misuse that must keep failing.
 */
import { expectTypeOf } from 'vitest';
import {
  AuthError,
  BUS_SCRIPT_NAMES,
  BusError,
  ConfigError,
  Connection,
  ConnectionError,
  LiveState,
  Publisher,
  Registry,
  RetryableError,
  StreamConsumer,
  StreamProducer,
  Subscriber,
  TimeoutError,
  jsonCodec,
  msgpackCodec,
  resolveConnectionOptions,
  typeboxValidator,
  type BatchHandler,
  type BatchResult,
  type BusErrorCode,
  type BusScriptName,
  type Codec,
  type ConnectionOptions,
  type Health,
  type LiveReading,
  type ProducerOptions,
  type StreamEntry,
  type StreamFields,
  type TrimPolicy,
  type Validator,
} from 'canopy/bus';
import { Type } from '@sinclair/typebox';

declare const conn: Connection;

// Connection: explicit options only, complete after resolution.
expectTypeOf(Connection.connect).parameters.toEqualTypeOf<[opts?: Partial<ConnectionOptions>]>();
expectTypeOf(Connection.connect).returns.resolves.toEqualTypeOf<Connection>();
expectTypeOf(resolveConnectionOptions).parameters.toEqualTypeOf<[opts?: Partial<ConnectionOptions>]>();
expectTypeOf(resolveConnectionOptions).returns.toEqualTypeOf<ConnectionOptions>();
expectTypeOf<ConnectionOptions['url']>().toEqualTypeOf<string>();
expectTypeOf<ConnectionOptions['db']>().toEqualTypeOf<number>();
expectTypeOf(conn.health).toEqualTypeOf<Health>();
expectTypeOf<Health>().toEqualTypeOf<'connecting' | 'ready' | 'reconnecting' | 'closed'>();
expectTypeOf(conn.close).returns.toEqualTypeOf<Promise<void>>();
// @ts-expect-error the bus reads no environment: there is no second argument
resolveConnectionOptions({}, process.env);

// Errors: one base class with a closed set of codes.
expectTypeOf<BusError['code']>().toEqualTypeOf<BusErrorCode>();
expectTypeOf<'BUS_TIMEOUT'>().toExtend<BusErrorCode>();
expectTypeOf<'BUS_WHATEVER'>().not.toExtend<BusErrorCode>();
for (const E of [ConfigError, ConnectionError, AuthError, TimeoutError, RetryableError]) {
  expectTypeOf(new E('x')).toExtend<BusError>();
}
expectTypeOf(new AuthError('x')).toExtend<ConnectionError>();

// Topics and subscriptions.
expectTypeOf(new Publisher(conn).publishTopic).parameters.toEqualTypeOf<
  [base: string, segments: ReadonlyArray<string | undefined | null>, message: unknown]
>();
expectTypeOf(new Publisher(conn).publishTopic).returns.resolves.toEqualTypeOf<number[]>();
expectTypeOf(Subscriber.create).returns.resolves.toEqualTypeOf<Subscriber>();
expectTypeOf(jsonCodec).toEqualTypeOf<Codec>();
expectTypeOf(msgpackCodec).toEqualTypeOf<Codec>();
expectTypeOf(typeboxValidator(Type.Object({ n: Type.Number() }))).toEqualTypeOf<Validator<{ n: number }>>();

// Streams.
expectTypeOf<StreamFields>().toEqualTypeOf<Record<string, string | Buffer>>();
expectTypeOf<TrimPolicy>().toEqualTypeOf<{ maxLen: number } | { minAgeMs: number } | 'none'>();
expectTypeOf<ProducerOptions['stream']>().toEqualTypeOf<string>();
expectTypeOf(new StreamProducer(conn, { stream: 's' }).add).returns.resolves.toEqualTypeOf<string>();
expectTypeOf(new StreamProducer(conn, { stream: 's' }).addMany).returns.resolves.toEqualTypeOf<string[]>();
expectTypeOf<StreamEntry>().toEqualTypeOf<{ id: string; fields: Record<string, string>; deliveries: number }>();
expectTypeOf<BatchHandler>().toEqualTypeOf<(entries: StreamEntry[]) => Promise<BatchResult>>();
expectTypeOf(StreamConsumer.start).returns.resolves.toEqualTypeOf<StreamConsumer>();
// @ts-expect-error a producer needs its stream
new StreamProducer(conn, {});
// @ts-expect-error a consumer needs its group
void StreamConsumer.start(conn, async () => undefined, { stream: 's' });

// Live state and the registry.
expectTypeOf(new LiveState(conn).readOne).returns.resolves.toEqualTypeOf<LiveReading>();
expectTypeOf(new Registry(conn).read<{ a: number }>).returns.resolves.toEqualTypeOf<{ a: number } | null>();

// Lua scripts: a closed set of names.
expectTypeOf(BUS_SCRIPT_NAMES).toEqualTypeOf<
  readonly [
    'backlog-append',
    'consumer-delete-empty',
    'dead-letter',
    'identity-replay',
    'identity-touch',
    'lease-release',
    'lease-renew',
    'mailbox-drain',
    'spool-append',
  ]
>();
expectTypeOf<BusScriptName>().toEqualTypeOf<(typeof BUS_SCRIPT_NAMES)[number]>();
expectTypeOf(conn.runScript).returns.toEqualTypeOf<Promise<unknown>>();
// @ts-expect-error an unknown script name
void conn.runScript('no-such-script', [], []);
