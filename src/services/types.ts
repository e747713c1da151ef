/** What every service's `start(config)` returns. */
export interface ServiceHandle {
  /** Stops cleanly: finishes the batch in hand, closes connections. */
  stop(): Promise<void>;
}

/** A service that `canopy <name>` and the supervisor can start. */
export interface ServiceModule<C> {
  start(config: C): Promise<ServiceHandle>;
}
