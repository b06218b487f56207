// One seam for "now": real time in production, the simulator's virtual time in demo and tests, so that
// ages and durations measured by the exporter match the world it samples.
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
