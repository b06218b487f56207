// The admission vocabulary: policy names, the records a decision reads and writes (observations,
// reservations) and the rules of a reservation. Plain data and pure functions; every other module of the
// project that speaks of admission (config, store, http, metrics, backtest) takes its words from here.
import { createHash } from 'node:crypto';
import type { EniView } from '../snapshot/types.js';

/** The policies, the default first (the order the config's messages name them in). */
export const policyNames = ['forecast', 'rolling-max', 'static', 'none', 'tail-aware'] as const;
export const bufferSources = ['available', 'tail'] as const;

export type PolicyName = (typeof policyNames)[number];

/** The same policies from the blind launcher to the best informed: the order a backtest compares them in. */
export const policiesByCaution = ['none', 'static', 'rolling-max', 'tail-aware', 'forecast'] as const satisfies readonly PolicyName[];
export type BufferSource = (typeof bufferSources)[number];

export type DecisionKind = 'admit' | 'wait' | 'error';

/** An AWS account id: 12 digits. */
export const ACCOUNT_ID_PATTERN = /^[0-9]{12}$/;
/** An AWS region's shape: eu-west-1, us-gov-west-1, ap-southeast-4 (the shape the config accepts for a target). */
export const REGION_PATTERN = /^[a-z]{2,}(-[a-z0-9]+)*-[0-9]{1,2}$/;

/**
 * The target (account, region) a record's subnet belongs to. Both optional: records written before there were
 * several targets have neither, and the single-account form may not know its account.
 */
export interface TargetFields {
  account?: string;
  region?: string;
}

/** The target fields of a subnet worth writing: those known and well formed (an unknown account is ''). */
export function targetFieldsOf(t: { account?: string; region?: string }): TargetFields {
  const out: TargetFields = {};
  if (t.account !== undefined && ACCOUNT_ID_PATTERN.test(t.account)) out.account = t.account;
  if (t.region !== undefined && REGION_PATTERN.test(t.region)) out.region = t.region;
  return out;
}

/** What one /admit call saw in its subnet, recorded before it was answered. */
export interface Observation extends TargetFields {
  subnetId: string;
  /** Clock time, epoch ms. */
  observedAt: number;
  /** Makes two observations of one subnet in the same millisecond distinct (DynamoDB sort key). */
  uniq: string;
  totalEnis: number;
  inUse: number;
  available: number;
  /** Undefined when Glue data was unknown at the time. */
  lingering?: number;
  dagRunId?: string;
  decision: DecisionKind;
  /** Clock time (epoch ms) after which the observation is dropped. */
  expiresAt: number;
}

export type ReservationClose = 'released' | 'consumed';

/**
 * An admission's claim on its workers' addresses until they show up as ENIs or `expiresAt` passes.
 * Closed and expired reservations are kept until `retainUntil` so that they keep claiming the ENIs their job
 * attached: otherwise a younger reservation would mistake those ENIs for its own and under-reserve.
 */
export interface Reservation extends TargetFields {
  id: string;
  subnetId: string;
  workers: number;
  createdAt: number;
  expiresAt: number;
  retainUntil: number;
  dagRunId?: string;
  closed?: ReservationClose;
  closedAt?: number;
}

/** Reservation ids carry their subnet so a DELETE finds the subnet's ledger without a lookup. */
export function reservationSubnet(id: string): string | undefined {
  const m = /^(subnet-[0-9a-f]+)\.[0-9a-f-]{8,64}$/.exec(id);
  return m ? m[1] : undefined;
}

export function isLive(r: Reservation, now: number): boolean {
  return r.closed === undefined && now < r.expiresAt;
}

/** Close a reservation in place (a ledger kept in memory; the stores write the same fields). */
export function closeReservation(r: Reservation, how: ReservationClose, now: number): Reservation {
  r.closed = how;
  r.closedAt = now;
  return r;
}

/**
 * A waiting launch's place in its subnet's queue. A wait with a key (dag_run_id or client_id) holds one; the
 * key's re-pokes find it. Served in arrival order (`enqueuedAt`, then `id`), dropped when admitted, withdrawn,
 * past its deadline, or not re-poked before `expiresAt` (its sensor died).
 */
export interface Ticket extends TargetFields {
  /** `<subnetId>.t.<hex digest of the key>`: carries its subnet like a reservation id; one per key per subnet. */
  id: string;
  subnetId: string;
  /** The dag_run_id or client_id its pokes present. */
  key: string;
  workers: number;
  /** Arrival (epoch ms): the queue's order. */
  enqueuedAt: number;
  /** Epoch ms by which the launch must have started; absent: none. */
  deadline?: number;
  /** Last poke (epoch ms). */
  lastPokeAt: number;
  /** Dropped when not poked again before this (epoch ms): 3 × the retry_after last answered. */
  expiresAt: number;
  /** The admission time (epoch ms) the last answer predicted, if it predicted one. */
  etaAt?: number;
}

/** The ticket id of a key in a subnet: one per key per subnet, the same on every replica. */
export function ticketIdFor(subnetId: string, key: string): string {
  return `${subnetId}.t.${createHash('sha256').update(key).digest('hex').slice(0, 32)}`;
}

/** Ticket ids carry their subnet so a DELETE finds the subnet's queue without a lookup. */
export function ticketSubnet(id: string): string | undefined {
  const m = /^(subnet-[0-9a-f]+)\.t\.[0-9a-f]{8,64}$/.exec(id);
  return m ? m[1] : undefined;
}

/** One observation as the policy sees it. */
export interface WindowSample {
  observedAt: number;
  dagRunId?: string;
  available: number;
  /** Undefined when Glue data was unknown: counted as 0 (the tail is then at least `available`). */
  lingering?: number;
}

/** One observation of the window as a decision reports it: the value the buffer was taken from. */
export interface WindowEntry {
  observedAt: number;
  dagRunId?: string;
  value: number;
}

export interface PolicySettings {
  policy: PolicyName;
  /** Observations the rolling max looks back over (N). */
  lookback: number;
  /** Floor of the buffer (MIN_BUFFER). */
  minBuffer: number;
  bufferSource: BufferSource;
  /** The flat buffer of the `static` policy. */
  staticBuffer: number;
  /** forecast: days of gate bypasses its margin is learned from (minBuffer until watched this long). */
  bypassMemoryDays: number;
}

export interface Decision {
  admit: boolean;
  reason: string;
  policy: PolicyName;
  bufferSource: BufferSource;
  buffer: number;
  workers: number;
  free: number;
  reserved: number;
  /** The most workers this subnet would admit now. */
  headroom: number;
  /** The observations the buffer came from (empty for `static` and `none`). */
  window: WindowEntry[];
}

export interface BypassEvent {
  /** Sample time at which the addresses were first seen. */
  at: number;
  addresses: number;
}

/** What the gate-bypass memory knows of one subnet: all the forecast policy reads. */
export interface BypassHistory {
  /** Sampled time without gaps since the subnet was first watched, ms. */
  watchedMs: number;
  /** Samples that showed bypass addresses, oldest first, within the memory horizon. */
  events: BypassEvent[];
  /** Bypass addresses seen since the subnet was first watched (for the counter). */
  totalAddresses: number;
}

/** What the exporter has in memory beside /admit's DecisionInput (the forecast policy reads it); every field optional. */
export interface ForecastExtras {
  /** Seconds since the sample the decision reads was taken (the cache's age). */
  snapshotAgeSeconds?: number;
  /** Seconds between samples (from the sample schedule); default 60. */
  sampleIntervalSeconds?: number;
  /** The subnet's retained reservations (live, closed and expired, until retainUntil). */
  reservations?: readonly Reservation[];
  /** The subnet's ENIs in the sample (SubnetView.enis), to see which reservations are covered. */
  enis?: readonly EniView[];
  /** Decision time, epoch ms (for reservation expiry and the bypass horizon). */
  now?: number;
  /** The subnet's gate-bypass memory; absent → not learned yet (margin = minBuffer). */
  bypass?: BypassHistory;
}

export interface DecisionInput extends ForecastExtras {
  settings: PolicySettings;
  workers: number;
  free: number;
  reserved: number;
  /** The subnet's current tail parts (tail-aware subtracts what `free` already excludes). */
  current: { available: number; lingering?: number };
  /** Recorded observations, newest first; the policy uses the first `lookback`. */
  window: readonly WindowSample[];
}
