import { describe, expect, it } from 'vitest';
import { replyField } from '../../bench/lib/redis-reply.js';

describe('replyField', () => {
  it('reads a field of a flat RESP2 reply, a RESP3 object and a Map alike', () => {
    expect(replyField(['length', 3, 'entries-added', 17], 'entries-added')).toBe(17);
    expect(replyField({ length: 3, 'entries-added': 17 }, 'entries-added')).toBe(17);
    expect(replyField(new Map([['lag', 4]]), 'lag')).toBe(4);
  });

  it('reads names only at name positions, and gives undefined for an absent field or a scalar reply', () => {
    // a value that equals a field's name must not be taken for it
    expect(replyField(['name', 'lag', 'lag', 9], 'lag')).toBe(9);
    expect(replyField(['name', 'g1'], 'lag')).toBeUndefined();
    expect(replyField('OK', 'lag')).toBeUndefined();
    expect(replyField(null, 'lag')).toBeUndefined();
  });
});
