import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/bus/errors.js';
import { flag } from '../../src/config/read.js';

describe('flag()', () => {
  it('reads 1/true/on/yes and 0/false/off/no in any case; the default when unset or empty', () => {
    for (const v of ['1', 'true', 'ON', 'Yes']) expect(flag({ X: v }, 'X', false)).toBe(true);
    for (const v of ['0', 'False', 'off', 'NO']) expect(flag({ X: v }, 'X', true)).toBe(false);
    expect(flag({}, 'X', true)).toBe(true);
    expect(flag({ X: '' }, 'X', false)).toBe(false);
  });

  it('refuses anything else, naming the variable and the value', () => {
    expect(() => flag({ X: 'maybe' }, 'X', false)).toThrow(ConfigError);
    expect(() => flag({ X: '2' }, 'X', false)).toThrow(/X must be 1 or 0 .*got "2"/);
  });
});
