import { afterAll } from 'vitest';
import { stopAll } from './cleanup.js';

afterAll(async () => {
  await stopAll();
});
