// The shared store: observations and ledgers (reservations and queue tickets) in one DynamoDB table, shared by
// every replica.
// It composes one module per job: the item layout (dynamodb-items.ts), the calls to the table and their error
// count (dynamodb-table.ts), the optimistic reservation ledger (dynamodb-ledger.ts), the outbox that journals
// observations through an outage and replays them in order (dynamodb-outbox.ts), the rolling windows held in
// memory (dynamodb-window.ts), and `init-store`'s table set-up (dynamodb-init.ts).
//
// DynamoDB unreachable (network, 5xx, throttling past the SDK's retries, any failure but a lost conditional write):
//   - observations: journaled by the outbox before the answer, written to DynamoDB in order once it is back.
//   - the rolling window: from this process's memory (its recent reads and writes), no DynamoDB read.
//   - reservations: not granted. Only the conditional ledger makes them race-free across replicas, so an
//     admission that would be granted is refused with StoreUnreachableError (503); waits are answered (200).
//   - tickets: the step runs on the last ledger this process saw, told so (`offline: true`); its ticket changes
//     are not written (a ticket is only ever held in the shared ledger, or a replica could not see it), so the
//     answer claims no ticket: the wait is answered as a keyless one, and its sensor's next poke once DynamoDB is
//     back enqueues it. Withdrawing a ticket is refused (503), like closing a reservation.
import type { DynamoDBClient } from '../aws/sdk.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { DynamoLedger, type LedgerView } from './dynamodb-ledger.js';
import { DynamoOutbox } from './dynamodb-outbox.js';
import { DynamoTable } from './dynamodb-table.js';
import { RecentWindows } from './dynamodb-window.js';
import { KeyedMutex } from './mutex.js';
import { ticketChanges } from './tickets.js';
import {
  isLive,
  reservationSubnet,
  type AdmissionStore,
  type Observation,
  type OpenReport,
  type Reservation,
  type ReservationClose,
  type LedgerState,
  type Ticket,
  ticketSubnet,
  type TransactPlan,
  StoreUnreachableError,
} from './types.js';

export interface DynamoStoreOptions {
  client: DynamoDBClient;
  table: string;
  clock: Clock;
  logger: Logger;
  /** Where observations DynamoDB did not take are journaled; without it such a write fails (503). */
  dataDir?: string;
  /** Backoff of the in-order retry of journaled observations (default 100 ms doubling to 5 s). */
  retry?: { initialMs?: number; maxMs?: number };
  /** Destroy the client on close (it was built for this store). */
  ownsClient?: boolean;
}

export class DynamoStore implements AdmissionStore {
  readonly type = 'dynamodb' as const;
  openReport: OpenReport = { records: 0, tornTail: false, skipped: 0, rejected: 0, dropped: 0 };
  private readonly mutex = new KeyedMutex();
  private readonly windows: RecentWindows;
  private readonly table: DynamoTable;
  private readonly ledger: DynamoLedger;
  private readonly outbox: DynamoOutbox;
  /** Operations in progress (transact, close of a reservation). */
  private inFlight = 0;

  constructor(private readonly opts: DynamoStoreOptions) {
    this.table = new DynamoTable(opts.client, opts.table);
    this.windows = new RecentWindows(this.table);
    this.ledger = new DynamoLedger(this.table, opts.logger);
    this.outbox = new DynamoOutbox({ table: this.table, logger: opts.logger, retry: opts.retry, remember: (o) => this.windows.remember(o) });
  }

  /** A store with its journal open; what an earlier process journaled is queued again, in order. */
  static async open(opts: DynamoStoreOptions): Promise<DynamoStore> {
    const s = new DynamoStore(opts);
    if (opts.dataDir !== undefined) s.openReport = await s.outbox.openJournal(opts.dataDir, opts.clock.now());
    return s;
  }

  async recentObservations(subnetId: string, n: number, now: number): Promise<Observation[]> {
    // Unreachable: the window this process holds (its own recent reads and writes). While DynamoDB is down no
    // admission is granted (see transact), so a shorter window can only turn a refusal into a wait, never an admit.
    if (!this.outbox.reachable) return this.windows.fromMemory(subnetId, n, now);
    try {
      return await this.windows.read(subnetId, n, now, () => this.outbox.queued(subnetId));
    } catch (err) {
      this.outbox.markUnreachable(err);
      return this.windows.fromMemory(subnetId, n, now);
    }
  }

  peekObservations(subnetId: string, n: number): Observation[] | undefined {
    return this.windows.peek(subnetId, n);
  }

  /**
   * Decide, reserve, enqueue and record. An observation is acknowledged (this resolves) once it is durable in
   * DynamoDB or in the local journal (fdatasync); a reservation and ticket changes only once their conditional
   * ledger write succeeded (one write for both: the same race-free step across replicas).
   * With DynamoDB unreachable the ledger cannot be read or written race-free across replicas, so the plan runs
   * on the last ledger this process saw, with `offline: true`: a wait is still answered (and journaled), its
   * ticket changes are not written; an admission is refused with StoreUnreachableError (503). Stale reservations
   * only over-count (more waits) or under-count (more would-be admissions, all refused), so no answer given while
   * unreachable can over-admit.
   */
  async transact<T>(subnetId: string, now: number, plan: (state: LedgerState) => TransactPlan<T>): Promise<T> {
    this.inFlight++;
    try {
      // Serialized per subnet inside this process (no point racing ourselves); the version check covers replicas.
      return await this.mutex.run(subnetId, async () => {
        if (this.outbox.reachable) {
          let p: TransactPlan<T>;
          try {
            p = await this.ledger.update(subnetId, now, ({ retained, tickets }) => {
              const p = plan({ reservations: retained, tickets });
              const changes = ticketChanges(subnetId, p);
              if (!p.add && changes.size === 0) return { value: p };
              const next = tickets.filter((t) => !changes.has(t.id));
              for (const t of changes.values()) if (t) next.push(t);
              return { next: { retained: p.add ? [...retained, p.add] : retained, tickets: next }, value: p };
            });
          } catch (err) {
            // A full queue, an invalid ticket, contention: DynamoDB answered, so this is the step's own refusal.
            if (!this.table.failedCall(err)) throw err;
            this.outbox.markUnreachable(err);
            return this.decideUnreachable(subnetId, now, plan);
          }
          await this.outbox.record(p.observation);
          return p.result;
        }
        return this.decideUnreachable(subnetId, now, plan);
      });
    } finally {
      this.inFlight--;
    }
  }

  private async decideUnreachable<T>(subnetId: string, now: number, plan: (state: LedgerState) => TransactPlan<T>): Promise<T> {
    const known = this.ledger.last(subnetId);
    const p = plan({
      reservations: (known?.retained ?? []).filter((r) => r.retainUntil > now),
      tickets: (known?.tickets ?? []).filter((t) => t.expiresAt > now),
      offline: true,
    });
    if (p.add) {
      throw new StoreUnreachableError(
        `admission store unreachable: cannot reserve (DynamoDB: ${this.outbox.lastError}); waits are still answered, admissions resume once DynamoDB is back`,
      );
    }
    // p.putTickets / p.dropTickets are not written (see the top of this file).
    await this.outbox.spill(p.observation);
    return p.result;
  }

  async reservations(subnetId: string, now: number): Promise<Reservation[]> {
    if (!this.outbox.reachable) throw new StoreUnreachableError(`reservation ledger unreachable (DynamoDB: ${this.outbox.lastError})`);
    try {
      return (await this.ledger.read(subnetId, now)).retained;
    } catch (err) {
      this.outbox.markUnreachable(err);
      throw err;
    }
  }

  peekReservations(subnetId: string): Reservation[] | undefined {
    return this.ledger.last(subnetId)?.retained;
  }

  async closeReservation(id: string, how: ReservationClose, now: number): Promise<Reservation | undefined> {
    const subnetId = reservationSubnet(id);
    if (!subnetId) return undefined;
    return this.updateLedger(subnetId, now, `close ${id}`, ({ retained, tickets }) => {
      const r = retained.find((x) => x.id === id);
      if (!r || !isLive(r, now)) return { value: undefined };
      const closed: Reservation = { ...r, closed: how, closedAt: now };
      return { next: { retained: retained.map((x) => (x.id === id ? closed : x)), tickets }, value: closed };
    });
  }

  /** One ledger change outside a step (close a reservation, withdraw a ticket): refused (503) while unreachable. */
  private async updateLedger<T>(subnetId: string, now: number, what: string, change: (v: LedgerView) => { next?: LedgerView; value: T }): Promise<T> {
    if (!this.outbox.reachable) throw new StoreUnreachableError(`ledger unreachable (DynamoDB: ${this.outbox.lastError}): cannot ${what}`);
    this.inFlight++;
    try {
      return await this.mutex.run(subnetId, () => this.ledger.update(subnetId, now, change));
    } catch (err) {
      if (this.table.failedCall(err)) this.outbox.markUnreachable(err);
      throw err;
    } finally {
      this.inFlight--;
    }
  }

  /**
   * The subnet's live tickets from the ledger; while DynamoDB is unreachable, from the last ledger this process saw
   * (a dry run's preview, never a decision).
   */
  async tickets(subnetId: string, now: number): Promise<Ticket[]> {
    if (this.outbox.reachable) {
      try {
        return (await this.ledger.read(subnetId, now)).tickets;
      } catch (err) {
        this.outbox.markUnreachable(err);
      }
    }
    return (this.ledger.last(subnetId)?.tickets ?? []).filter((t) => t.expiresAt > now);
  }

  peekTickets(subnetId: string): Ticket[] | undefined {
    const now = this.opts.clock.now();
    return this.ledger.last(subnetId)?.tickets.filter((t) => t.expiresAt > now);
  }

  async withdrawTicket(id: string, now: number): Promise<Ticket | undefined> {
    const subnetId = ticketSubnet(id);
    if (!subnetId) return undefined;
    return this.updateLedger(subnetId, now, `withdraw ${id}`, ({ retained, tickets }) => {
      const t = tickets.find((x) => x.id === id);
      if (!t) return { value: undefined };
      return { next: { retained, tickets: tickets.filter((x) => x.id !== id) }, value: t };
    });
  }

  /** Acknowledged observations not yet in DynamoDB (journaled) plus operations in progress. */
  pendingWrites(): number {
    return this.outbox.pending + this.inFlight;
  }

  errorCount(): number {
    return this.table.errors + this.outbox.errors;
  }

  storeBytes(): number {
    return this.outbox.journalBytes;
  }

  /** False from a failed DynamoDB call until a later one succeeds. */
  get isReachable(): boolean {
    return this.outbox.reachable;
  }

  /** Journaled observations put to DynamoDB since open. */
  get replayed(): number {
    return this.outbox.replayed;
  }

  /** The journal's path, when one is configured. */
  get journalPath(): string | undefined {
    return this.outbox.journalPath;
  }

  /**
   * Stop retrying and close the journal. What is still queued stays in the journal and is written by the next
   * store opened on the same dataDir and table.
   */
  async close(): Promise<void> {
    await this.outbox.close();
    if (this.opts.ownsClient) this.opts.client.destroy();
  }
}
