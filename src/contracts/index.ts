/**
 * Canopy's contracts: every Redis name, message schema, codec and
 * lifetime the processes share (docs/contracts.md is generated from here).
 * Services, the API, the ACL users and the docs import them from here; the
 * bus below knows none of them.
 */
export * from './names.js';
export * from './updates.js';
export * from './messages.js';
export * from './commands.js';
export * from './user-channels.js';
export * from './catalog.js';
export { schemaValidator } from './validator.js';
