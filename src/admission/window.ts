// The window a buffer is taken from: what an observation of a subnet records, and the entries a decision reports.
import type { BufferSource, WindowEntry, WindowSample } from './types.js';

export function sourceValue(sample: { available: number; lingering?: number }, source: BufferSource): number {
  return source === 'tail' ? sample.available + (sample.lingering ?? 0) : sample.available;
}

/** The first `lookback` samples of a window (newest first) with the value `source` takes from each. */
export function windowEntries(window: readonly WindowSample[], lookback: number, source: BufferSource): WindowEntry[] {
  return window.slice(0, lookback).map((s) => {
    const e: WindowEntry = { observedAt: s.observedAt, value: sourceValue(s, source) };
    if (s.dagRunId !== undefined) e.dagRunId = s.dagRunId;
    return e;
  });
}

/** What an admission records of its subnet for later windows: the tail parts (lingering when Glue data is known). */
export function windowSample(view: { available: number; lingering?: number }, observedAt: number, dagRunId?: string): WindowSample {
  const out: WindowSample = { observedAt, available: view.available };
  if (view.lingering !== undefined) out.lingering = view.lingering;
  if (dagRunId !== undefined) out.dagRunId = dagRunId;
  return out;
}

/** The window a decision reads: this admission's sample, then the recorded ones (newest first), `lookback` in all. */
export function windowOf(sample: WindowSample, prior: readonly WindowSample[], lookback: number): WindowSample[] {
  return [sample, ...prior.slice(0, Math.max(lookback, 1) - 1)];
}
