/**
 * The services `canopy up` starts, in dependency order. Each entry is the
 * `canopy <command>` that runs it as its own process.
 */
export interface ServiceEntry {
  name: string;
  /** CLI arguments after `canopy`. */
  args: string[];
  /** TCP port it listens on (the api: the dashboard); `canopy up` waits for it and prints the URL. */
  port?: number;
  /** CLI arguments after `canopy` run when the process dies unexpectedly, before its restart (the watchdog). */
  onCrash?: string[];
}

export function upServices(opts: { source?: string } = {}): ServiceEntry[] {
  const services: ServiceEntry[] = [];
  services.push({ name: 'worker', args: ['worker'] });
  services.push({ name: 'scanner', args: ['scanner', '--source', opts.source ?? 'sim'] });
  const apiPort = Number(process.env.CANOPY_API_PORT || 8000);
  services.push({ name: 'api', args: ['api', '--port', String(apiPort), '--host', '127.0.0.1'], port: apiPort });
  services.push({ name: 'automation', args: ['automation'], onCrash: ['automation', '--safe-state'] });
  services.push({ name: 'alerts', args: ['alerts'] });
  services.push({ name: 'recorder', args: ['recorder'] });
  services.push({ name: 'analytics', args: ['analytics'] });
  return services;
}
