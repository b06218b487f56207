// One seam for "now": real time in production, the simulator's virtual time in demo and tests, so that
// ages and durations measured by the exporter match the world it samples.
export interface Clock {
  now(): number;
  /** Clock milliseconds per real millisecond (the simulator's speed); absent means real time. */
  readonly speed?: number;
}

export const systemClock: Clock = { now: () => Date.now() };

export const DAY_MS = 86_400_000;

/** Samples further apart than this many intervals leave a gap: what happened between them was not watched. */
export const GAP_INTERVALS = 3;

/** True when two samples `elapsedMs` apart are close enough to follow one another (no gap between them). */
export function samplesContiguous(elapsedMs: number, intervalSeconds: number): boolean {
  return elapsedMs <= GAP_INTERVALS * intervalSeconds * 1000;
}
