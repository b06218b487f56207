// What admission needs from the store that keeps its records: the port the stores (src/store) implement.
// Admission decides; the store only makes its decisions durable and shared.
import type { Observation, Reservation, ReservationClose, Ticket } from './types.js';

/** What the atomic step reads of a subnet: its ledger of reservations and its queue. */
export interface LedgerState {
  /** Retained reservations (live, closed and expired until retainUntil). */
  reservations: readonly Reservation[];
  /** Tickets not expired at the step's time, in no particular order. */
  tickets: readonly Ticket[];
  /**
   * True when the store cannot write the subnet's ledger now (DynamoDB unreachable): the state is the last one
   * this process saw, a reservation is refused (StoreUnreachableError, 503) and the plan's ticket changes are not
   * written (its observation still is). The answer must then not claim a ticket: answer the wait as a keyless one.
   */
  offline?: boolean;
}

/**
 * The outcome of the atomic step: a new reservation (if admitted), the queue's changes, and the observation to
 * record with them. All of it is durable, or none of it, before transact resolves.
 */
export interface TransactPlan<T> {
  add?: Reservation;
  /** Tickets created or replaced (by id). */
  putTickets?: readonly Ticket[];
  /** Ids of tickets removed (admitted, withdrawn, expired, past their deadline); unknown ids are ignored. */
  dropTickets?: readonly string[];
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
   * retained reservations and live tickets, and what it returns (reservation, ticket changes, observation) is
   * durable before this resolves. `plan` must be pure and synchronous: it may run more than once (optimistic
   * retries).
   */
  transact<T>(subnetId: string, now: number, plan: (state: LedgerState) => TransactPlan<T>): Promise<T>;
  /** The subnet's retained reservations (live, closed and expired until `retainUntil`). */
  reservations(subnetId: string, now: number): Promise<Reservation[]>;
  peekReservations(subnetId: string): Reservation[] | undefined;
  /** Close a live reservation; undefined when it is unknown or no longer live. */
  closeReservation(id: string, how: ReservationClose, now: number): Promise<Reservation | undefined>;
  /** The subnet's tickets not expired at `now` (read without writing: dry runs). */
  tickets(subnetId: string, now: number): Promise<Ticket[]>;
  /** The same from this process's memory, without I/O (for /metrics); undefined when nothing is known yet. */
  peekTickets(subnetId: string): Ticket[] | undefined;
  /** Remove a ticket (DELETE /admit/<ticket>); undefined when it is unknown or already gone. */
  withdrawTicket(id: string, now: number): Promise<Ticket | undefined>;
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
