/** Anything that runs SQL with parameters: a pg.Client, or PGlite in this process. */
export interface Sql {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

/** The default protocol's sensors (docs/pipeline.md): name → location, cluster, a plausible mean. */
export const SIM_SENSORS: [string, string, string, number][] = [];
for (const [suffix, location, cluster] of [
  ['f', 'Flower Room', 'front'],
  ['b', 'Flower Room', 'back'],
  ['v', 'Veg Room', 'main'],
] as const) {
  for (const [name, mean] of [
    ['dry_bulb', 25],
    ['wet_bulb', 19],
    ['co2', 900],
    ['secondary_temp', 24.5],
    ['secondary_rh', 62],
    ['pressure', 1013],
    ['rh', 60],
    ['vpd', 1.1],
  ] as const)
    SIM_SENSORS.push([`${name}_${suffix}`, location, cluster, mean]);
}
SIM_SENSORS.push(['lab_temp', 'Lab', 'main', 21], ['water_temp', 'Lab', 'main', 19]);

/**
 * Simulated history for the last 6 hours: every sensor once a minute, relay
 * changes every 20 minutes, a resolved and an active alert.
 */
export async function seedSimulated(client: Sql, now: Date, hours = 6): Promise<number> {
  const rows: string[] = [];
  const end = now.getTime();
  for (let t = end - hours * 3600_000; t <= end; t += 60_000) {
    for (const [sensor, location, cluster, mean] of SIM_SENSORS) {
      const v = mean * (1 + 0.03 * Math.sin(t / 3_600_000) + 0.005 * Math.random());
      rows.push(`('${new Date(t).toISOString()}','${sensor}',${v},'${location}','${cluster}')`);
    }
  }
  for (let i = 0; i < rows.length; i += 5000)
    await client.query(
      `INSERT INTO sensor_readings (time, sensor, value, location, cluster) VALUES ${rows.slice(i, i + 5000).join(',')}`,
    );
  const devices = ['heater_1', 'humidifier_1', 'co2_valve_1'];
  let state = 0;
  for (let t = end - hours * 3600_000; t <= end; t += 20 * 60_000) {
    state = 1 - state;
    for (const d of devices)
      await client.query(
        `INSERT INTO control_history (time, device, from_state, to_state, from_mode, to_mode, reason, source, by_whom)
         VALUES ($1, $2, $3, $4, 'auto', 'auto', 'rule', 'rule', 'automation')`,
        [new Date(t), d, 1 - state, state],
      );
  }
  for (const d of devices)
    await client.query(
      `INSERT INTO device_states (device, state, mode, location, cluster, updated_at, by_whom)
       VALUES ($1, $2, 'auto', 'Flower Room', 'front', $3, 'automation')`,
      [d, state, now],
    );
  await client.query(
    `INSERT INTO alerts (rule, sensor, severity, state, started_at, resolved_at, message) VALUES
     ('rh_high', 'rh_f', 'warning', 'resolved', $1, $2, 'rh_f above 75 % for 5 min'),
     ('co2_low', 'co2_v', 'critical', 'active', $3, NULL, 'co2_v below 400 ppm for 10 min')`,
    [new Date(end - 3 * 3600_000), new Date(end - 2.5 * 3600_000), new Date(end - 30 * 60_000)],
  );
  return rows.length;
}
