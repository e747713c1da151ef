import type { Codec } from './codec.js';
import { jsonCodec } from './codec.js';
import type { Connection } from './connection.js';
import { ConfigError } from './errors.js';

/**
 * The channels of one topic message, broad to specific:
 * `topicChannels('sensor:update', ['Flower Room', 'front'])` →
 * `['sensor:update', 'sensor:update:Flower Room', 'sensor:update:Flower Room:front']`.
 * Segments are used exactly as given (spaces and case kept); the list
 * stops at the first `undefined` or `null` segment, so a message without a
 * cluster goes to the broad and level channels only.
 */
export function topicChannels(base: string, segments: ReadonlyArray<string | undefined | null> = []): string[] {
  if (base === '') throw new ConfigError('topic base channel must not be empty');
  const out = [base];
  let channel = base;
  for (const s of segments) {
    if (s === undefined || s === null) break;
    if (s === '') throw new ConfigError(`empty segment in topic ${JSON.stringify(base)}`);
    channel = `${channel}:${s}`;
    out.push(channel);
  }
  return out;
}

/** How a {@link Publisher} writes messages. */
export interface PublisherOptions {
  /** @defaultValue {@link jsonCodec} */
  codec: Codec;
}

export const PUBLISHER_DEFAULTS: PublisherOptions = { codec: jsonCodec };

/** One message for {@link Publisher.publishMany}. */
export interface Outgoing {
  channel: string;
  message: unknown;
}

/**
 * Publishes on a shared connection (publishing needs no connection of its
 * own). Every method encodes each message once and sends all its PUBLISH
 * commands in one pipelined round trip. Results are receiver counts, as
 * Redis reports them (0 when nobody listens: pub/sub is fire-and-forget).
 */
export class Publisher {
  readonly options: PublisherOptions;
  readonly #conn: Connection;

  constructor(conn: Connection, options: Partial<PublisherOptions> = {}) {
    this.#conn = conn;
    this.options = { ...PUBLISHER_DEFAULTS, ...options };
  }

  /** PUBLISH one message to one channel. */
  async publish(channel: string, message: unknown): Promise<number> {
    const payload = this.options.codec.encode(message);
    return this.#conn.run(`PUBLISH ${channel}`, (c) => c.publish(channel, payload));
  }

  /**
   * Publishes one message to its broad, level and specific channels
   * (see {@link topicChannels}) in one round trip; returns the receiver
   * count per channel, broad first.
   */
  async publishTopic(
    base: string,
    segments: ReadonlyArray<string | undefined | null>,
    message: unknown,
  ): Promise<number[]> {
    const channels = topicChannels(base, segments);
    const payload = this.options.codec.encode(message);
    return this.#pipeline(
      `PUBLISH ${base}`,
      channels.map((channel) => ({ channel, payload })),
    );
  }

  /**
   * Many topic messages in one round trip: each message is encoded once and
   * published on its broad, level and specific channels (see {@link publishTopic}).
   */
  async publishTopics(
    items: ReadonlyArray<{ base: string; segments: ReadonlyArray<string | undefined | null>; message: unknown }>,
  ): Promise<number[]> {
    if (items.length === 0) return [];
    const codec = this.options.codec;
    const out: { channel: string; payload: Buffer | string }[] = [];
    for (const i of items) {
      const payload = codec.encode(i.message);
      for (const channel of topicChannels(i.base, i.segments)) out.push({ channel, payload });
    }
    return this.#pipeline(`PUBLISH topics ×${items.length}`, out);
  }

  /** Many messages (any channels) in one round trip. */
  async publishMany(items: ReadonlyArray<Outgoing>): Promise<number[]> {
    if (items.length === 0) return [];
    const codec = this.options.codec;
    return this.#pipeline(
      `PUBLISH ×${items.length}`,
      items.map((i) => ({ channel: i.channel, payload: codec.encode(i.message) })),
    );
  }

  async #pipeline(context: string, items: { channel: string; payload: Buffer | string }[]): Promise<number[]> {
    return this.#conn.run(context, async (c) => {
      const multi = c.multi();
      for (const { channel, payload } of items) multi.publish(channel, payload);
      return (await multi.execAsPipeline()) as unknown as number[];
    });
  }
}
