/**
 * Narrowing for tests. `expect(x).not.toBeNull()` fails the test but does not
 * narrow `x` for the compiler; `present(x, what)` does both.
 *
 * node-redis types some replies as possibly null that Redis never sends null
 * for on the calls the tests make: XRANGE and XREVRANGE answer an empty array
 * for an empty range or a missing key, yet their reply type includes
 * `NullReply`. A null there would be a broken server or client, so it throws.
 */

/** `value` when it is neither null nor undefined; otherwise throws an Error naming `what`. */
export function present<T>(value: T, what: string): NonNullable<T> {
  if (value === null || value === undefined) throw new Error(`expected ${what}, got ${String(value)}`);
  return value;
}
