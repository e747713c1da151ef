import { text } from './read.js';

/** What `canopy exporter` takes from the environment (docs/configuration.md). */
export interface ExporterEnv {
  /** `MQTT_URL` (secret: may carry a password), else `mqtt://127.0.0.1:1883`. */
  mqttUrl: string;
  /** `MQTT_USERNAME` */
  username: string | undefined;
  /** `MQTT_PASSWORD` (secret) */
  password: string | undefined;
}

export function exporterEnv(env: NodeJS.ProcessEnv = process.env): ExporterEnv {
  return {
    mqttUrl: env.MQTT_URL || 'mqtt://127.0.0.1:1883',
    username: text(env, 'MQTT_USERNAME'),
    password: text(env, 'MQTT_PASSWORD'),
  };
}
