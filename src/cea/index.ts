export * from './types.js';
export * from './config.js';
export * from './catalogue.js';
export * from './calibration.js';
export * from './validation.js';
export * from './psychrometrics.js';
export { FrameProcessor, type FrameProcessorOptions, type ProcessorStats } from './processor.js';
