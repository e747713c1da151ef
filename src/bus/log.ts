/**
 * The smallest logger the bus needs. pino, console and most loggers fit it;
 * the default writes nothing, so the library is silent unless given one.
 */
export interface BusLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = (): void => undefined;

export const silentLogger: BusLogger = { debug: noop, info: noop, warn: noop, error: noop };
