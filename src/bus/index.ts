/**
 * The Canopy bus: a Redis communication layer that knows nothing about
 * agriculture. One concept per module; this file only re-exports.
 */
export * from './errors.js';
export * from './log.js';
export * from './options.js';
export * from './connection.js';
export * from './codec.js';
export * from './validate.js';
export * from './topics.js';
export * from './subscriber.js';
export * from './state.js';
export * from './streams/producer.js';
export * from './streams/consumer.js';
export { parsePendingReply, parseReadReply } from './streams/entries.js';
export * from './scripts.js';

// Module slots, written by other areas (keep one line each):
// presence  — ./presence.js   (heartbeats)
// registry  — ./registry.js   (identities)
// mailbox   — ./mailbox.js    (admin messages)
// spool     — ./spool.js, ./breaker.js (local durable spool, circuit breaker)
// acl       — ./acl.js        (Redis ACL generation)
