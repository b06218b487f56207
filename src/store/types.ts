// The store seam: one interface for the observations behind the buffer and the reservations behind `reserved`.
// Two implementations: an embedded append-only file (one replica) and DynamoDB (shared by every replica).

export type DecisionKind = 'admit' | 'wait' | 'error';

/** What one /admit call saw in its subnet, recorded before it was answered. */
export interface Observation {
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
export interface Reservation {
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

/** The outcome of the atomic step: a new reservation (if admitted) and the observation to record with it. */
export interface TransactPlan<T> {
  add?: Reservation;
  observation: Observation;
  result: T;
}

export interface OpenReport {
  /** Records loaded at open. */
  records: number;
  /** The last line was incomplete (a write cut short by a crash): skipped. */
  tornTail: boolean;
  /** Lines not loaded: the torn tail plus the rejected ones. */
  skipped: number;
  /** Complete lines that failed validation (bad JSON, a field out of range): set aside in `<file>.rejected`. */
  rejected: number;
  /** Expired records dropped by the compaction at open. */
  dropped: number;
}

export interface AdmissionStore {
  readonly type: 'file' | 'dynamodb';
  readonly openReport: OpenReport;
  /** The last `n` observations of a subnet, newest first (expired ones excluded). */
  recentObservations(subnetId: string, n: number, now: number): Promise<Observation[]>;
  /** The same from this process's memory, without I/O (for /metrics); undefined when nothing is known yet. */
  peekObservations(subnetId: string, n: number): Observation[] | undefined;
  /**
   * The decide-and-reserve step, atomic per subnet across every user of the store: `plan` sees the subnet's
   * retained reservations, and what it returns (reservation + observation) is durable before this resolves.
   * `plan` must be pure and synchronous: it may run more than once (optimistic retries).
   */
  transact<T>(subnetId: string, now: number, plan: (reservations: readonly Reservation[]) => TransactPlan<T>): Promise<T>;
  /** The subnet's retained reservations (live, closed and expired until `retainUntil`). */
  reservations(subnetId: string, now: number): Promise<Reservation[]>;
  peekReservations(subnetId: string): Reservation[] | undefined;
  /** Close a live reservation; undefined when it is unknown or no longer live. */
  closeReservation(id: string, how: ReservationClose, now: number): Promise<Reservation | undefined>;
  /** Writes accepted but not yet durable. */
  pendingWrites(): number;
  /** Failed store operations since start. */
  errorCount(): number;
  /** Bytes the store holds on local disk (the file store's log, the DynamoDB store's outage journal). */
  storeBytes(): number;
  close(): Promise<void>;
}

/** Reservation ids carry their subnet so a DELETE finds the subnet's ledger without a lookup. */
export function reservationSubnet(id: string): string | undefined {
  const m = /^(subnet-[0-9a-f]+)\.[0-9a-f-]{8,64}$/.exec(id);
  return m ? m[1] : undefined;
}

export function isLive(r: Reservation, now: number): boolean {
  return r.closed === undefined && now < r.expiresAt;
}

// One wire shape for both stores (DynamoDB attribute names, JSON-lines fields).
export interface ObservationRecord {
  subnet_id: string;
  observed_at: string;
  uniq: string;
  total_enis: number;
  in_use: number;
  available: number;
  lingering?: number;
  tail: number;
  dag_run_id?: string;
  decision: DecisionKind;
  /** Epoch seconds (the DynamoDB TTL attribute). */
  expires_at: number;
}

export function observationToRecord(o: Observation): ObservationRecord {
  const rec: ObservationRecord = {
    subnet_id: o.subnetId,
    observed_at: new Date(o.observedAt).toISOString(),
    uniq: o.uniq,
    total_enis: o.totalEnis,
    in_use: o.inUse,
    available: o.available,
    tail: o.available + (o.lingering ?? 0),
    decision: o.decision,
    expires_at: Math.ceil(o.expiresAt / 1000),
  };
  if (o.lingering !== undefined) rec.lingering = o.lingering;
  if (o.dagRunId !== undefined) rec.dag_run_id = o.dagRunId;
  return rec;
}

export function observationFromRecord(r: ObservationRecord): Observation {
  const o: Observation = {
    subnetId: r.subnet_id,
    observedAt: Date.parse(r.observed_at),
    uniq: r.uniq,
    totalEnis: r.total_enis,
    inUse: r.in_use,
    available: r.available,
    decision: r.decision,
    expiresAt: r.expires_at * 1000,
  };
  if (typeof r.lingering === 'number') o.lingering = r.lingering;
  if (typeof r.dag_run_id === 'string') o.dagRunId = r.dag_run_id;
  return o;
}

/**
 * The store cannot do what was asked right now (DynamoDB unreachable and the operation needs it). Callers answer
 * 503 with this message as the reason.
 */
export class StoreUnreachableError extends Error {
  readonly status = 503;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnreachableError';
  }
}
