// Store records for tests: an observation, a reservation and a queue ticket with the usual values, `over` for what a
// test varies.
import type { Observation, Reservation, Ticket } from '../../src/store/types.js';

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

/**
 * A 10-worker ticket of subnet-0a for key `key`, enqueued and poked at `now`, expiring 3 min later. Its id is
 * `<subnet>.t.<16 hex>` derived from the key (any stable hex will do for a store).
 */
export function ticket(key: string, now: number, over: Partial<Ticket> = {}): Ticket {
  const subnetId = over.subnetId ?? 'subnet-0a';
  let h = 0x811c9dc5;
  for (const c of key) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return {
    id: `${subnetId}.t.${h.toString(16).padStart(8, '0')}${key.length.toString(16).padStart(8, '0')}`,
    subnetId,
    key,
    workers: 10,
    enqueuedAt: now,
    lastPokeAt: now,
    expiresAt: now + 180_000,
    ...over,
  };
}
