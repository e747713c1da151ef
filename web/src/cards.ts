/** The room cards moved to rooms.ts; formatAge stays importable from here for the panels that use it. */
export { formatAge } from './rooms.js';
