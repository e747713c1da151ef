/**
 * Part of `npm run bench -- scale` (bench/scale.ts): relays through one and through two
 * `canopy gateway` processes on one Redis (the load generator of bench/gateway.ts, imported),
 * at the same offered rate, with predictions back to every relay (so every gateway appends every
 * back-channel message to the shared backlog, idempotently).
 *
 * Figures: gateway_msgs_per_s_1g, gateway_msgs_per_s_2g (relay → consumer messages received per
 * second), and per topology the gateways' CPU per 1,000 messages, the messages lost (must be 0)
 * and the predictions lost (must be 0). On this 2-core machine the load generators, Redis and the
 * gateways share the cores: the CPU per message is what extrapolates.
 *
 * Environment: BENCH_SCALE_GW_RELAYS (200), BENCH_SCALE_GW_HZ (100), BENCH_SCALE_GW_SECONDS (10).
 */
import { measure as measureGateway } from '../gateway.js';

const env = (name: string, dflt: number) => Number(process.env[name] || dflt);

export async function measure(): Promise<Record<string, number>> {
  const base = {
    relaysN: env('BENCH_SCALE_GW_RELAYS', 200),
    hz: env('BENCH_SCALE_GW_HZ', 100),
    seconds: env('BENCH_SCALE_GW_SECONDS', 10),
    procs: 2,
    warmupMs: 2000,
    server: 'gateway' as const,
    predictions: true,
  };
  const figures: Record<string, number> = {};
  for (const n of [1, 2]) {
    const r = await measureGateway({ ...base, gateways: n });
    const perK = ((r.gateway_cpu_pct! / 100) * 1000) / Math.max(1, r.messages_per_s!);
    figures[`gateway_msgs_per_s_${n}g`] = r.messages_per_s!;
    figures[`gateway_cpu_ms_per_1k_msgs_${n}g`] = Math.round(perK * 1000 * 100) / 100;
    figures[`gateway_msgs_lost_${n}g`] = r.messages_lost!;
    figures[`gateway_predictions_lost_${n}g`] = r.predictions_lost!;
    figures[`gateway_latency_p99_ms_${n}g`] = r.latency_p99_ms!;
  }
  return figures;
}
