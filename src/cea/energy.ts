import { Type, type Static } from '@sinclair/typebox';

/** `energy:` of config/devices.yaml: what a kWh costs. */
export const EnergySchema = Type.Object(
  {
    /** Price of one kWh in `currency`. */
    pricePerKwh: Type.Number({ minimum: 0, maximum: 100 }),
    /** e.g. `EUR`, `€`, `USD`. */
    currency: Type.String({ minLength: 1, maxLength: 8 }),
  },
  { additionalProperties: false },
);
export type EnergyPrice = Static<typeof EnergySchema>;

/** A device's on time per local day (ms), as the automation keeps it in `_ontime`. */
export type OnTimeDays = Record<string, number>;

export interface DeviceEnergy {
  device: string;
  /** Watts from the devices file; devices without a wattage are left out. */
  wattage: number;
  kwh: number;
  days: { date: string; hours: number; kwh: number }[];
}

export interface EnergyUse {
  /** First local day counted (`YYYY-MM-DD`). */
  since: string;
  kwh: number;
  /** kWh × price, or null without an `energy:` price. */
  cost: number | null;
  currency: string | null;
  devices: DeviceEnergy[];
}

const round = (v: number, d = 3) => Math.round(v * 10 ** d) / 10 ** d;

/**
 * Energy of a room's devices from their on time per day, counting the days
 * from `since` (inclusive; `YYYY-MM-DD` compare as strings) on.
 */
export function energyUse(
  devices: readonly { name: string; wattage: number | undefined }[],
  onTime: Record<string, OnTimeDays>,
  since: string,
  price: EnergyPrice | undefined,
): EnergyUse {
  const out: DeviceEnergy[] = [];
  for (const d of devices) {
    if (d.wattage === undefined) continue;
    const days = Object.entries(onTime[d.name] ?? {})
      .filter(([date, ms]) => date >= since && Number.isFinite(ms) && ms > 0)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([date, ms]) => {
        const hours = ms / 3_600_000;
        return { date, hours: round(hours), kwh: round((hours * d.wattage!) / 1000) };
      });
    out.push({ device: d.name, wattage: d.wattage, kwh: round(days.reduce((s, x) => s + x.kwh, 0)), days });
  }
  const kwh = round(out.reduce((s, d) => s + d.kwh, 0));
  return {
    since,
    kwh,
    cost: price ? round(kwh * price.pricePerKwh, 2) : null,
    currency: price?.currency ?? null,
    devices: out,
  };
}
