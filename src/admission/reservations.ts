// Which reservations are already visible as ENIs: pure, a function of the snapshot's ENIs and the ledger, so two
// replicas looking at the same snapshot and the same ledger agree.
//
// The rule: apportion the subnet's Glue ENIs to reservations, oldest reservation first (createdAt, then id); a
// reservation claims the earliest-attached unclaimed Glue ENIs attached at or after its creation, up to its
// workers (ties in attach time go in list order).
//
// Cost: /admit, every scrape and every snapshot apply that rule, to tens of thousands of ENIs and a thousand
// reservations. So the ENI list is indexed once (Glue ENIs sorted by attach time, cached per list: a snapshot's
// list never changes), a reservation finds its first candidate by binary search and skips claimed ENIs through a
// "next unclaimed" forest, and the claims made for a ledger are kept beside the index: the next decision only
// applies the reservations added since (a new one is younger than all others), re-applying the whole ledger
// only when a reservation that claimed something left it. No decision walks the ENIs.
import type { EniView } from '../snapshot/types.js';
import { isLive, type Reservation } from './types.js';

/** What the accounting reads of an ENI. */
export type AccountedEni = Pick<EniView, 'id' | 'owner' | 'attachTime'>;

type Aged = Pick<Reservation, 'id' | 'createdAt'>;

/** The ledger order, oldest first (kept exactly: ties between equal (createdAt, id) included). */
const byAge = (a: Aged, b: Aged): number => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1);

const uniqueIds = (rs: readonly Reservation[]): boolean => new Set(rs.map((r) => r.id)).size === rs.length;

/** The claims one ledger makes on one index; grown in place while later ledgers only add younger reservations. */
class LedgerClaims {
  /** Reservations applied (copied: callers may change theirs), in ledger order, with what each claimed. */
  readonly applied: { id: string; createdAt: number; workers: number; covered: number }[] = [];
  readonly at = new Map<string, number>();
  /** Claimed positions, each pointing toward the next candidate (path-compressed); absent = unclaimed. */
  private readonly next = new Map<number, number>();
  readonly positions: number[] = [];
  /** Applied reservations that claimed at least one ENI: each must still be in a ledger these claims serve. */
  claiming = 0;

  constructor(private readonly index: AttachIndex) {}

  /** Apply one reservation, younger than every one applied before. */
  apply(r: Reservation): void {
    const ix = this.index;
    let covered = 0;
    let p = ix.firstAtOrAfter(r.createdAt);
    while (covered < r.workers) {
      const q = this.find(p);
      if (q >= ix.times.length) break;
      ix.visits++;
      // Always true on a sorted index past the binary search; the test keeps unsorted input (NaN) exact.
      if (ix.times[q] >= r.createdAt) {
        this.next.set(q, q + 1);
        this.positions.push(q);
        covered++;
      }
      p = q + 1;
    }
    if (covered > 0) this.claiming++;
    this.at.set(r.id, this.applied.length);
    this.applied.push({ id: r.id, createdAt: r.createdAt, workers: r.workers, covered });
  }

  /** First unclaimed position at or after p. */
  private find(p: number): number {
    let q = p;
    for (let n = this.next.get(q); n !== undefined; n = this.next.get(q)) {
      this.index.visits++;
      q = n;
    }
    for (let s = p; s !== q; ) {
      const n = this.next.get(s) as number;
      this.next.set(s, q);
      s = n;
    }
    return q;
  }
}

/** The largest integer a double holds exactly, plus one. */
const EXACT = 2 ** 53;

/**
 * A list's Glue ENIs with an attach time in the order the rule is defined by: what
 * `filter(glue, attached).sort((a, b) => a.attachTime - b.attachTime)` gives (a stable sort: ties in list order),
 * with their attach times. Built in one piece when a snapshot is published (requests read it at once), so made
 * cheap (50,000 ENIs: 40-160 ms with the comparator on a loaded machine): one pass; a list already in that order is
 * taken as it is; integer times (epoch milliseconds) are sorted as numbers, each (time - earliest) × a power of two
 * ≥ the count, plus the position: ties by position, as the stable sort orders them. Anything else (NaN, fractions,
 * a span too long for the key to be exact) takes the comparator, as before.
 */
function claimOrder(source: readonly AccountedEni[]): { enis: AccountedEni[]; times: Float64Array } {
  const enis: AccountedEni[] = [];
  const all = new Float64Array(source.length);
  let n = 0;
  let inOrder = true;
  let integers = true;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < source.length; i++) {
    const e = source[i];
    if (e.owner !== 'glue' || e.attachTime === undefined) continue;
    const t = e.attachTime;
    if (n > 0 && !(all[n - 1] <= t)) inOrder = false;
    if (!Number.isSafeInteger(t)) integers = false;
    if (t < min) min = t;
    if (t > max) max = t;
    enis.push(e);
    all[n++] = t;
  }
  const times = all.subarray(0, n);
  if (inOrder) return { enis, times };
  let scale = 1;
  while (scale < n) scale *= 2;
  if (!integers || (max - min + 1) * scale > EXACT) {
    const sorted = enis.sort((a, b) => (a.attachTime as number) - (b.attachTime as number));
    return { enis: sorted, times: Float64Array.from(sorted, (e) => e.attachTime as number) };
  }
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = (times[i] - min) * scale + i;
  keys.sort();
  const out = new Array<AccountedEni>(n);
  for (let i = 0; i < n; i++) {
    out[i] = enis[keys[i] % scale];
    times[i] = out[i].attachTime as number;
  }
  return { enis: out, times };
}

/** A list's Glue ENIs with an attach time, in claim order, and the claims last computed over it. */
class AttachIndex {
  readonly enis: AccountedEni[];
  readonly times: Float64Array;
  /** False only when attach times do not compare (NaN): claims then test every position, as a plain scan would. */
  readonly sorted: boolean;
  /** Positions examined since the index was built (binary search steps, claims, skips): the accounting's work. */
  visits = 0;
  claims: LedgerClaims | undefined;

  constructor(readonly source: readonly AccountedEni[]) {
    const { enis, times } = claimOrder(source);
    this.enis = enis;
    this.times = times;
    let sorted = true;
    for (let i = 1; i < times.length && sorted; i++) sorted = times[i - 1] <= times[i];
    this.sorted = sorted;
  }

  firstAtOrAfter(t: number): number {
    if (!this.sorted) return 0;
    let lo = 0;
    let hi = this.times.length;
    while (lo < hi) {
      this.visits++;
      const mid = (lo + hi) >>> 1;
      if (this.times[mid] < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Claims that serve `ledger`, extending or rebuilding the kept ones. A ledger with repeated ids (none should
   * have any) is applied from scratch, the last of each id counting as the rule reads, and not kept.
   */
  claimsFor(ledger: readonly Reservation[]): LedgerClaims {
    const kept = this.claims;
    if (kept && this.extend(kept, ledger)) return kept;
    const rebuilt = new LedgerClaims(this);
    for (const r of [...ledger].sort(byAge)) rebuilt.apply(r);
    if (uniqueIds(ledger)) this.claims = rebuilt;
    return rebuilt;
  }

  /**
   * Apply what `ledger` added to `kept`, when that gives what applying the whole ledger would: every reservation
   * that claimed something is still there, unchanged, and every added one is younger than all applied ones.
   * (A reservation that claimed nothing changed nothing: its absence does not matter.)
   */
  private extend(kept: LedgerClaims, ledger: readonly Reservation[]): boolean {
    const last = kept.applied.at(-1);
    let claiming = 0;
    let added: Reservation[] | undefined;
    const seen = new Set<number>();
    for (const r of ledger) {
      const i = kept.at.get(r.id);
      if (i === undefined) {
        if (last && byAge(last, r) >= 0) return false;
        (added ??= []).push(r);
        continue;
      }
      const a = kept.applied[i];
      if (seen.has(i) || a.createdAt !== r.createdAt || a.workers !== r.workers) return false;
      seen.add(i);
      if (a.covered > 0) claiming++;
    }
    if (claiming !== kept.claiming) return false;
    if (added) {
      if (!uniqueIds(added)) return false;
      for (const r of added.sort(byAge)) kept.apply(r);
    }
    return true;
  }
}

const indexes = new WeakMap<readonly AccountedEni[], AttachIndex>();

/**
 * The claim index of an ENI list, built on first use and kept while the list lives. The list is read once:
 * it must not change afterwards (a snapshot's lists never do; a changed length is noticed and re-read).
 */
export function attachIndex(enis: readonly AccountedEni[]): AttachIndex {
  let ix = indexes.get(enis);
  if (!ix || ix.source.length !== enis.length) indexes.set(enis, (ix = new AttachIndex(enis)));
  return ix;
}

function claimsOf(reservations: readonly Reservation[], enis: readonly AccountedEni[]): LedgerClaims {
  return attachIndex(enis).claimsFor(reservations);
}

/** How many ENIs reservation `id` claimed under `c` (the last one applied when ids repeat). */
function coveredBy(c: LedgerClaims, id: string): number {
  const i = c.at.get(id);
  return i === undefined ? 0 : c.applied[i].covered;
}

/** The last ledger answered per index, by reference: the file store hands the same reservation objects over. */
const lastAnswers = new WeakMap<AttachIndex, { claims: LedgerClaims; ledger: readonly Reservation[]; key: Float64Array; covered: number[] }>();

/** How many ENIs each reservation of the ledger claimed, in the ledger's order. Read-only. */
function coveredList(ledger: readonly Reservation[], enis: readonly AccountedEni[]): readonly number[] {
  const ix = attachIndex(enis);
  const last = lastAnswers.get(ix);
  if (last && last.claims === ix.claims && last.ledger.length === ledger.length) {
    let same = true;
    for (let i = 0; i < ledger.length && same; i++) {
      const r = ledger[i];
      same = r === last.ledger[i] && r.createdAt === last.key[2 * i] && r.workers === last.key[2 * i + 1];
    }
    if (same) return last.covered;
  }
  const c = claimsOf(ledger, enis);
  const covered = ledger.map((r) => coveredBy(c, r.id));
  if (c === ix.claims) {
    const key = new Float64Array(2 * ledger.length);
    for (const [i, r] of ledger.entries()) {
      key[2 * i] = r.createdAt;
      key[2 * i + 1] = r.workers;
    }
    lastAnswers.set(ix, { claims: c, ledger: [...ledger], key, covered });
  }
  return covered;
}

/**
 * Apportion the subnet's Glue ENIs to reservations (see above). Retained (closed or expired) reservations claim
 * too, so that their job's ENIs are not mistaken for a younger reservation's. Returns how many each reservation
 * claimed and which ENIs were claimed (the others came through no gate this ledger knows).
 */
export function claims(
  reservations: readonly Reservation[],
  enis: readonly AccountedEni[],
): { perReservation: Map<string, number>; claimed: Set<string> } {
  const c = claimsOf(reservations, enis);
  const ix = attachIndex(enis);
  const perReservation = new Map<string, number>();
  for (const r of reservations) perReservation.set(r.id, coveredBy(c, r.id));
  return { perReservation, claimed: new Set(c.positions.map((p) => ix.enis[p].id)) };
}

/**
 * Workers of expired reservations whose ENIs have not all shown up (the forecast policy's "unseen"): live ones
 * are already reserved, released ones never launched, consumed ones are all visible. Read from the claims by the
 * ledger's position, as every /admit of the forecast policy asks (a map by id made or read per decision cost a
 * thousand lookups each time).
 */
export function unseenWorkers(reservations: readonly Reservation[], enis: readonly AccountedEni[], now: number): number {
  const covered = coveredList(reservations, enis);
  let unseen = 0;
  for (let i = 0; i < reservations.length; i++) {
    const r = reservations[i];
    if (isLive(r, now) || r.closed !== undefined) continue;
    unseen += Math.max(0, r.workers - covered[i]);
  }
  return unseen;
}

export interface ReservedSummary {
  /** Addresses still reserved: Σ over live reservations of workers − covered. */
  reserved: number;
  /** Live reservations whose workers are all visible: to be marked consumed. */
  consumed: Reservation[];
  live: Reservation[];
}

export function reservedWorkers(reservations: readonly Reservation[], enis: readonly AccountedEni[], now: number): ReservedSummary {
  const covered = coveredList(reservations, enis);
  let reserved = 0;
  const consumed: Reservation[] = [];
  for (let i = 0; i < reservations.length; i++) {
    const r = reservations[i];
    if (!isLive(r, now)) continue;
    const left = Math.max(0, r.workers - covered[i]);
    if (left === 0) consumed.push(r);
    reserved += left;
  }
  return {
    reserved,
    consumed,
    // Listed when asked (no decision does): a thousand live reservations made a list per /admit.
    get live() {
      return reservations.filter((r, i) => isLive(r, now) && r.workers - covered[i] > 0);
    },
  };
}
