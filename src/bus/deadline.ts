/**
 * Settles as `work` does, unless `ms` milliseconds pass first: then as
 * `late()` does — with its value (`() => 'late'`), or with what it throws
 * (`() => { throw new TimeoutError(…) }`). The timer is cleared either way;
 * a rejection of `work` after the deadline is handled by the race (it is
 * never an unhandled rejection). `ms` that is not a positive finite number sets no
 * deadline: `work` is returned as it is.
 *
 * Every "no answer within N ms" of Canopy goes through here: Redis commands,
 * connects and closes, sentinel queries, store probes, I2C transfers, and
 * the stops of a service group.
 */
export function withDeadline<T, L = never>(work: Promise<T>, ms: number, late: () => L): Promise<T | L> {
  if (!(ms > 0 && Number.isFinite(ms))) return work;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<L>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(late());
      } catch (err) {
        reject(err);
      }
    }, ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
