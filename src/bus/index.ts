/**
 * The Canopy bus: a Redis communication layer that knows nothing about
 * agriculture. One concept per module; this file only re-exports.
 */
export * from './errors.js';
export * from './log.js';
export * from './options.js';
export * from './connection.js';
export * from './deadline.js';
export * from './codec.js';
export * from './validate.js';
export * from './topics.js';
export * from './subscriber.js';
export * from './state.js';
export * from './streams/producer.js';
export * from './streams/consumer.js';
export { parsePendingReply, parseReadReply } from './streams/entries.js';

// Module slots, written by other areas (keep one line each):
export * from './presence.js';
export * from './presence-claim.js';
export * from './registry.js';
export * from './mailbox.js';
export * from './breaker.js';
export * from './spool.js';
export * from './spooled-stream.js';
export * from './lua-scripts.js';
export * from './fallback/files.js';
export * from './fallback/records.js';
export * from './fallback/replay.js';
export * from './fallback/janitor.js';
export * from './acl.js';
