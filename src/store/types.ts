// The store seam: one interface for the observations behind the buffer and the reservations behind `reserved`.
// Two implementations: an embedded append-only file (one replica) and DynamoDB (shared by every replica).

// The records and their rules are admission's; the store keeps them.
import { StoreUnreachableError, type AdmissionLedger } from '../admission/ports.js';
import type { DecisionKind, Observation } from '../admission/types.js';

export { StoreUnreachableError, type LedgerState, type TransactPlan } from '../admission/ports.js';
export {
  isLive,
  reservationSubnet,
  ticketSubnet,
  type DecisionKind,
  type Observation,
  type Reservation,
  type ReservationClose,
  type Ticket,
} from '../admission/types.js';

/**
 * A subnet's queue is at the store's bound (the file store's cap of live tickets, the DynamoDB ledger item's
 * size): the step that would add a ticket is refused (503, this message as the reason), nothing of it recorded.
 */
export class QueueFullError extends StoreUnreachableError {
  constructor(message: string) {
    super(message);
    this.name = 'QueueFullError';
  }
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

export interface AdmissionStore extends AdmissionLedger {
  readonly type: 'file' | 'dynamodb';
  readonly openReport: OpenReport;
  /** Writes accepted but not yet durable. */
  pendingWrites(): number;
  /** Failed store operations since start. */
  errorCount(): number;
  /** Bytes the store holds on local disk (the file store's log, the DynamoDB store's outage journal). */
  storeBytes(): number;
  close(): Promise<void>;
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
  /** The subnet's target, when known (absent in records written before there were several targets). */
  account?: string;
  region?: string;
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
  if (o.account !== undefined) rec.account = o.account;
  if (o.region !== undefined) rec.region = o.region;
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
  if (typeof r.account === 'string') o.account = r.account;
  if (typeof r.region === 'string') o.region = r.region;
  return o;
}
