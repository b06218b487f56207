// What admission needs from the store that keeps its records: the port the stores (src/store) implement.
// Admission decides; the store only makes its decisions durable and shared.
import type { Observation, Reservation, ReservationClose } from './types.js';

/** The outcome of the atomic step: a new reservation (if admitted) and the observation to record with it. */
export interface TransactPlan<T> {
  add?: Reservation;
  observation: Observation;
  result: T;
}

export interface AdmissionLedger {
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
