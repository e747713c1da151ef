/**
 * The "model" of the example ML consumers: per user and channel, a window of
 * the last samples, a least-squares line through them, and a forecast
 * `horizon` samples ahead. `examples/ml_consumer.py` computes exactly the
 * same numbers, so either consumer can replace the other.
 */
import type { RawMessage } from '../src/contracts/user-channels.js';

/** How the forecaster buffers and predicts. */
export interface ForecastOptions {
  /** @defaultValue 100 — samples per channel kept (and needed before the first prediction). */
  window: number;
  /** @defaultValue 100 (= window: a fresh window per prediction) — new samples between two predictions; smaller slides the window. */
  step: number;
  /** @defaultValue 10 — how many samples ahead the forecast looks. */
  horizon: number;
  /** @defaultValue 256 — channels kept per user; samples of further channels are counted as dropped. */
  maxChannels: number;
}

export const FORECAST_DEFAULTS: ForecastOptions = { window: 100, step: 100, horizon: 10, maxChannels: 256 };

/** Bad options of the example consumer (code `EXAMPLE_CONFIG`). */
export class ExampleConfigError extends Error {
  readonly code = 'EXAMPLE_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'ExampleConfigError';
  }
}

/** Fills the defaults in and checks the options. Throws a {@link ExampleConfigError}. */
export function forecastOptions(opts: Partial<ForecastOptions> = {}): ForecastOptions {
  const o: ForecastOptions = { ...FORECAST_DEFAULTS };
  if (opts.window !== undefined) o.window = o.step = opts.window;
  if (opts.step !== undefined) o.step = opts.step;
  if (opts.horizon !== undefined) o.horizon = opts.horizon;
  if (opts.maxChannels !== undefined) o.maxChannels = opts.maxChannels;
  const int = (name: keyof ForecastOptions, min: number, max: number) => {
    const v = o[name];
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new ExampleConfigError(`${name} must be a whole number from ${min} to ${max}, got ${v}`);
    }
  };
  int('window', 2, 100_000);
  int('step', 1, 100_000);
  int('horizon', 0, 1_000_000);
  int('maxChannels', 1, 4096);
  return o;
}

/** What the forecast says about one channel. */
export interface ChannelForecast {
  /** The newest sample. */
  last: number;
  /** Moving average over the window. */
  mean: number;
  /** Change per sample of the fitted line. */
  slope: number;
  /** The fitted line `horizon` samples after the newest. */
  forecast: number;
  /** Share of the variance the line explains (1 for a constant channel). */
  r2: number;
}

/** The `data` of a prediction message. */
export interface ForecastData {
  [key: string]: unknown;
  model: 'linear';
  window: number;
  horizon: number;
  channels: Record<string, ChannelForecast>;
}

/** A prediction ready to publish (the `user:{id}:predictions` shape, without `type`). */
export interface Forecast {
  prediction_type: 'forecast';
  data: ForecastData;
  /** Mean r² over the channels, in [0, 1]. */
  confidence: number;
  timestamp: RawMessage['timestamp'];
}

/** Least-squares line through `ys` at x = 0, 1, …; see {@link ChannelForecast}. */
export function fitLine(ys: readonly number[], horizon: number): ChannelForecast {
  const n = ys.length;
  const xm = (n - 1) / 2;
  let ym = 0;
  for (const y of ys) ym += y;
  ym /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = i - xm;
    const dy = ys[i]! - ym;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  const slope = sxx > 0 ? sxy / sxx : 0;
  const intercept = ym - slope * xm;
  const r2 = syy > 0 ? Math.min(1, Math.max(0, (sxy * sxy) / (sxx * syy))) : 1;
  return { last: ys[n - 1]!, mean: ym, slope, forecast: intercept + slope * (n - 1 + horizon), r2 };
}

interface UserState {
  channels: Map<string, number[]>;
  /** Samples (per channel, the most any channel got) since the last prediction. */
  fresh: number;
  /** Samples seen in all, up to `window`. */
  seen: number;
}

/**
 * Buffers raw samples per user and channel (a number is one sample, an
 * array a block of samples) and says when a prediction is due: first after
 * `window` samples, then every `step` samples.
 */
export class Forecaster {
  readonly options: ForecastOptions;
  readonly #users = new Map<string, UserState>();
  /** Samples of channels beyond `maxChannels`, not kept. */
  droppedChannels = 0;

  constructor(opts: Partial<ForecastOptions> = {}) {
    this.options = forecastOptions(opts);
  }

  /** Adds one (already validated) raw message; returns a forecast when one is due. */
  add(user: string, msg: Pick<RawMessage, 'channels' | 'timestamp'>): Forecast | undefined {
    const { window, step, maxChannels } = this.options;
    let st = this.#users.get(user);
    if (!st) this.#users.set(user, (st = { channels: new Map(), fresh: 0, seen: 0 }));
    let added = 0;
    for (const [name, v] of Object.entries(msg.channels)) {
      const samples = typeof v === 'number' ? [v] : v;
      if (samples.length === 0) continue;
      let buf = st.channels.get(name);
      if (!buf) {
        if (st.channels.size >= maxChannels) {
          this.droppedChannels += samples.length;
          continue;
        }
        st.channels.set(name, (buf = []));
      }
      for (const s of samples.length > window ? samples.slice(-window) : samples) buf.push(s);
      if (buf.length > window) buf.splice(0, buf.length - window);
      added = Math.max(added, samples.length);
    }
    st.fresh += added;
    st.seen = Math.min(window, st.seen + added);
    if (st.seen < window || st.fresh < step) return undefined;
    st.fresh = 0;
    return this.#predict(st, msg.timestamp);
  }

  #predict(st: UserState, timestamp: RawMessage['timestamp']): Forecast | undefined {
    const channels: Record<string, ChannelForecast> = {};
    let r2 = 0;
    let n = 0;
    for (const [name, buf] of st.channels) {
      if (buf.length < 2) continue;
      channels[name] = fitLine(buf, this.options.horizon);
      r2 += channels[name].r2;
      n++;
    }
    if (n === 0) return undefined;
    return {
      prediction_type: 'forecast',
      data: { model: 'linear', window: this.options.window, horizon: this.options.horizon, channels },
      confidence: r2 / n,
      timestamp,
    };
  }
}
