/**
 * The services `canopy up` starts, in dependency order. Each entry is the
 * `canopy <command>` that runs it as its own process.
 */
export interface ServiceEntry {
  name: string;
  /** CLI arguments after `canopy`. */
  args: string[];
}

export function upServices(opts: { source?: string } = {}): ServiceEntry[] {
  const services: ServiceEntry[] = [];
  void opts;
  return services;
}
