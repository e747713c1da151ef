export * from './errors.js';
export * from './frame.js';
export * from './dbc/index.js';
export * from './protocol.js';
export { defaultConfigDir, defaultConfigFile } from './paths.js';
export * from './candump.js';
export * from './sources/index.js';
