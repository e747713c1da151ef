/** Shapes of the API's answers and small fetch helpers. */

export interface Sensor {
  name: string;
  location: string;
  cluster: string;
  unit: string;
  base: string;
  kind: string;
  min: number | null;
  max: number | null;
}

export interface Live {
  name: string;
  value: number | null;
  ts: number | null;
  stale: boolean;
}

export interface Device {
  device: string;
  location: string;
  cluster: string;
  state: number;
  mode: string;
  timestamp: string;
  /** true when the relay is simulated: nothing physical switches. */
  simulated?: boolean;
  reason?: string;
  /** The friendly name from devices.yaml (`label:`), when configured. */
  label?: string;
}

/** The token entered in the Control panel (this tab only); reads and /ws use it too. */
export const TOKEN_KEY = 'canopy.token';
export const storedToken = (): string => sessionStorage.getItem(TOKEN_KEY) ?? '';

export interface Bucket {
  t: number;
  min: number;
  max: number;
  avg: number;
  count: number;
}

async function getJson<T>(url: string, signal?: AbortSignal): Promise<T> {
  const token = storedToken();
  const res = await fetch(url, {
    signal: signal ?? null,
    headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
  });
  if (!res.ok) {
    let msg = `${res.status} ${res.statusText}`;
    try {
      msg = ((await res.json()) as { message?: string }).message ?? msg;
    } catch {
      // not JSON
    }
    throw new Error(msg);
  }
  return (await res.json()) as T;
}

export const api = {
  sensors: () => getJson<{ sensors: Sensor[] }>('/api/sensors').then((r) => r.sensors),
  live: () => getJson<{ now: number; staleAfterMs: number; sensors: Live[] }>('/api/sensors/live'),
  devices: () => getJson<{ devices: Device[] }>('/api/devices').then((r) => r.devices),
  history: (name: string, from: number, to: number, points: number, signal?: AbortSignal) =>
    getJson<{ buckets: Bucket[] }>(
      `/api/sensors/${encodeURIComponent(name)}/history?from=${from}&to=${to}&points=${points}`,
      signal,
    ).then((r) => r.buckets),
};

/** Live message from /ws. */
export type WsMessage =
  | { type: 'hello'; devices: Device[] }
  | {
      type: 'sensor';
      data: { location: string; cluster: string; sensor_data: Record<string, number>; timestamp: string };
    }
  | { type: 'device'; data: Device }
  | { type: 'auth'; ok: boolean; role?: string; message?: string }
  | { type: 'subscribed' | 'error'; message?: string };
