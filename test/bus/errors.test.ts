/**
 * The error taxonomy: what node-redis throws becomes a BusError subclass
 * with a stable code; a server reply keeps the server's first word in
 * `reply` even when the message starts with the context of the call.
 */
import { describe, expect, it } from 'vitest';
import { SimpleError } from '@redis/client/dist/lib/errors.js';
import { AuthError, ConnectionError, PermissionError, ReplyError, toBusError } from '../../src/bus/errors.js';

describe('toBusError', () => {
  it('a server reply: ReplyError, its first word in reply, the context in the message', () => {
    const e = toBusError(new SimpleError("READONLY You can't write against a read only replica."), 'XADD can:raw');
    expect(e).toBeInstanceOf(ReplyError);
    expect((e as ReplyError).reply).toBe('READONLY');
    expect(e.message).toMatch(/^XADD can:raw: READONLY/);
    expect(e.code).toBe('BUS_REPLY');
    const busy = toBusError(new SimpleError('BUSYGROUP Consumer Group name already exists'), 'XGROUP CREATE');
    expect((busy as ReplyError).reply).toBe('BUSYGROUP');
  });

  it('NOPERM: PermissionError (a ReplyError) with code BUS_NOPERM', () => {
    const e = toBusError(new SimpleError("NOPERM User scanner has no permissions to access the 'x' key"), 'GET x');
    expect(e).toBeInstanceOf(PermissionError);
    expect(e).toBeInstanceOf(ReplyError);
    expect((e as ReplyError).reply).toBe('NOPERM');
    expect(e.code).toBe('BUS_NOPERM');
  });

  it('a refused password: AuthError; a refused connection: ConnectionError with the cause kept', () => {
    expect(toBusError(new SimpleError('WRONGPASS invalid username-password pair'))).toBeInstanceOf(AuthError);
    const raw = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const e = toBusError(raw, 'connect');
    expect(e).toBeInstanceOf(ConnectionError);
    expect(e.cause).toBe(raw);
  });

  it('a ReplyError made directly takes reply from its message', () => {
    expect(new ReplyError('WRONGTYPE Operation against a key').reply).toBe('WRONGTYPE');
  });
});
