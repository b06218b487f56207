// Which reservations are already visible as ENIs: pure, recomputed from the current snapshot at every decision,
// so two replicas looking at the same snapshot and the same ledger agree.
import type { EniView } from '../snapshot/types.js';
import { isLive, type Reservation } from '../store/types.js';

/**
 * Apportion the subnet's Glue ENIs to reservations, oldest reservation first: a reservation claims unclaimed
 * Glue ENIs attached at or after its creation, up to its workers. Retained (closed or expired) reservations
 * claim too, so that their job's ENIs are not mistaken for a younger reservation's. Returns how many each
 * reservation claimed and which ENIs were claimed (the others came through no gate this ledger knows).
 */
export function claims(
  reservations: readonly Reservation[],
  enis: readonly Pick<EniView, 'id' | 'owner' | 'attachTime'>[],
): { perReservation: Map<string, number>; claimed: Set<string> } {
  const perReservation = new Map<string, number>();
  const claimed = new Set<string>();
  const attached = enis
    .filter((e) => e.owner === 'glue' && e.attachTime !== undefined)
    .sort((a, b) => (a.attachTime as number) - (b.attachTime as number));
  const ordered = [...reservations].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  for (const r of ordered) {
    let covered = 0;
    for (let i = 0; i < attached.length && covered < r.workers; i++) {
      const e = attached[i];
      if (!claimed.has(e.id) && (e.attachTime as number) >= r.createdAt) {
        claimed.add(e.id);
        covered++;
      }
    }
    perReservation.set(r.id, covered);
  }
  return { perReservation, claimed };
}

/** How many ENIs each reservation claimed (see claims). */
export function coverage(reservations: readonly Reservation[], enis: readonly EniView[]): Map<string, number> {
  return claims(reservations, enis).perReservation;
}

export interface ReservedSummary {
  /** Addresses still reserved: Σ over live reservations of workers − covered. */
  reserved: number;
  /** Live reservations whose workers are all visible: to be marked consumed. */
  consumed: Reservation[];
  live: Reservation[];
}

export function reservedWorkers(reservations: readonly Reservation[], enis: readonly EniView[], now: number): ReservedSummary {
  const cov = coverage(reservations, enis);
  let reserved = 0;
  const consumed: Reservation[] = [];
  const live: Reservation[] = [];
  for (const r of reservations) {
    if (!isLive(r, now)) continue;
    const left = Math.max(0, r.workers - (cov.get(r.id) ?? 0));
    if (left === 0) consumed.push(r);
    else live.push(r);
    reserved += left;
  }
  return { reserved, consumed, live };
}
