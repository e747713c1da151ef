import { DbcError } from '../errors.js';
import type { WarningSink } from './statements.js';
import type { DbcMessage, DbcSignal } from './types.js';

/** A message while the parser fills it in. */
export interface MessageUnderConstruction {
  message: DbcMessage;
  /** The id as written in the file (bit 31 = extended). */
  rawId: number;
  /** Line of the BO_. */
  line: number;
  /** A container of signals sent in no frame (VECTOR__INDEPENDENT_SIG_MSG): read, not kept. */
  pseudo: boolean;
  /** `mN` markers, kept until SG_MUL_VAL_ is known. */
  muxValues: Map<string, number>;
  /** Each signal by name, with the line of its SG_. */
  byName: Map<string, { signal: DbcSignal; line: number }>;
  /** Replaced by a later BO_ with the same id. */
  replaced: boolean;
  /** Line of each signal's SG_MUL_VAL_. */
  mulValLines: Map<string, number>;
}

/**
 * Resolves who selects whom. Simple multiplexing: every `mN` signal without
 * an SG_MUL_VAL_ depends on the message's `M` signal with value N. Extended
 * multiplexing (SG_MUL_VAL_) names the selector and its value ranges.
 * Refuses, naming the line, what cannot be decoded: an `mN` signal in a
 * message without a selector, a selector that does not exist, a cycle.
 */
export function resolveMultiplexing(msg: MessageUnderConstruction, warnings: WarningSink): void {
  const signals = msg.message.signals;
  const lineOf = (s: DbcSignal): number => msg.mulValLines.get(s.name) ?? msg.byName.get(s.name)?.line ?? msg.line;
  const byName = new Map(signals.map((s) => [s.name, s]));
  const roots = signals.filter((s) => s.isMultiplexer && !msg.muxValues.has(s.name));
  const root = roots[0];
  let usedRoot = false;
  for (const sig of signals) {
    const v = msg.muxValues.get(sig.name);
    if (v === undefined || sig.multiplexerSignal !== null) continue;
    if (!root) {
      throw new DbcError(
        `signal ${sig.name} of ${msg.message.name} is multiplexed (m${v}) but no signal is the multiplexer (M)`,
        lineOf(sig),
        'DBC_INVALID',
      );
    }
    sig.multiplexerSignal = root.name;
    sig.multiplexerRanges = [[v, v]];
    usedRoot = true;
  }
  if (usedRoot && roots.length > 1) {
    warnings.add(msg.line, `message ${msg.message.name} has several M signals; mN signals follow ${root?.name}`);
  }
  for (const sig of signals) {
    if (sig.multiplexerSignal === null) continue;
    const parent = byName.get(sig.multiplexerSignal);
    if (!parent) {
      throw new DbcError(
        `signal ${sig.name} depends on ${sig.multiplexerSignal}, which ${msg.message.name} does not have`,
        lineOf(sig),
        'DBC_INVALID',
      );
    }
    if (!parent.isMultiplexer) {
      warnings.add(lineOf(sig), `${parent.name} selects ${sig.name} but is not marked M; read as a multiplexer`);
      parent.isMultiplexer = true;
    }
  }
  checkAcyclic(msg, byName, lineOf);
}

/** Every selector chain ends at an always-present signal (linear time, no recursion). */
function checkAcyclic(
  msg: MessageUnderConstruction,
  byName: Map<string, DbcSignal>,
  lineOf: (s: DbcSignal) => number,
): void {
  const state = new Map<string, 1 | 2>(); // 1 on the current path, 2 known to end
  for (const start of msg.message.signals) {
    const path: DbcSignal[] = [];
    let s: DbcSignal | undefined = start;
    while (s && state.get(s.name) === undefined) {
      state.set(s.name, 1);
      path.push(s);
      s = s.multiplexerSignal === null ? undefined : byName.get(s.multiplexerSignal);
    }
    if (s && state.get(s.name) === 1) {
      throw new DbcError(
        `multiplexer cycle in ${msg.message.name}: ${s.name} selects itself through ${s.multiplexerSignal}`,
        lineOf(s),
        'DBC_INVALID',
      );
    }
    for (const p of path) state.set(p.name, 2);
  }
}
