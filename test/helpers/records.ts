// Store records for tests: an observation and a reservation with the usual values, `over` for what a test varies.
import type { Observation, Reservation } from '../../src/store/types.js';

const DAY = 86_400_000;

/** A `wait` observation of subnet-0a at `now` (40 ENIs, 30 in-use, none available), kept 30 days. */
export function observation(now: number, over: Partial<Observation> = {}): Observation {
  return {
    subnetId: 'subnet-0a',
    observedAt: now,
    uniq: 'u0',
    totalEnis: 40,
    inUse: 30,
    available: 0,
    decision: 'wait',
    expiresAt: now + 30 * DAY,
    ...over,
  };
}

/** A live 10-worker reservation of subnet-0a made at `createdAt`: expires after 5 min, retained 10 min. */
export function reservation(id: string, createdAt: number, over: Partial<Reservation> = {}): Reservation {
  return {
    id,
    subnetId: 'subnet-0a',
    workers: 10,
    createdAt,
    expiresAt: createdAt + 300_000,
    retainUntil: createdAt + 600_000,
    ...over,
  };
}
