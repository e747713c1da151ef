import type { ControlConfig } from '../../cea/control/config.js';
import { ProgramValidator, seedPrograms, type Programs } from '../../cea/control/programs.js';
import type { Logger } from '../../util/log.js';
import type { ControlRecorder } from './recorder.js';

/** The result of one load: the programs to hand the engine, and what was skipped as invalid. */
export interface LoadedPrograms {
  programs: Programs;
  rejected: string[];
  seeded: number;
}

/**
 * Reads the `schedules` and `rules` tables through the automation's store:
 * on first start (both tables empty and nothing loaded yet) they are seeded
 * from the devices file (a lighting schedule per scheduled device); every
 * enabled row is validated against the devices file, invalid rows skipped.
 */
export class ProgramLoader {
  readonly #recorder: ControlRecorder;
  readonly #cfg: ControlConfig;
  readonly #validator: ProgramValidator;
  readonly #log: Logger;
  #loaded = false;

  constructor(recorder: ControlRecorder, cfg: ControlConfig, log: Logger) {
    this.#recorder = recorder;
    this.#cfg = cfg;
    this.#validator = new ProgramValidator(cfg);
    this.#log = log;
  }

  get loaded(): boolean {
    return this.#loaded;
  }

  /** Rejects when the store cannot be reached or has no schedule tables. */
  async load(): Promise<LoadedPrograms> {
    const s = await this.#recorder.store();
    if (!s.listConfigs || !s.putConfig) throw new Error('the store keeps no schedules or rules');
    let schedules = await s.listConfigs('schedules');
    let rules = await s.listConfigs('rules');
    let seeded = 0;
    if (!this.#loaded && schedules.length === 0 && rules.length === 0) {
      const seed = seedPrograms(this.#cfg);
      for (const r of seed.schedules) await s.putConfig('schedules', { ...r, by: 'devices.yaml' });
      for (const r of seed.rules) await s.putConfig('rules', { ...r, by: 'devices.yaml' });
      seeded = seed.schedules.length + seed.rules.length;
      if (seeded) this.#log.info({ seeded }, 'schedules and rules seeded from the devices file');
      schedules = await s.listConfigs('schedules');
      rules = await s.listConfigs('rules');
    }
    const { programs, rejected } = this.#validator.compile(schedules, rules);
    for (const r of rejected) this.#log.warn(`skipped: ${r}`);
    this.#loaded = true;
    return { programs, rejected, seeded };
  }
}
