// The shared store: observations and reservation ledgers in one DynamoDB table (the seeds' glue-eni-observations).
//   observation: subnet_id = <subnet>,          observed_at = <ISO ms>#<uniq>, expires_at = TTL (epoch s)
//   ledger:      subnet_id = ledger#<subnet>,   observed_at = "ledger", version (N), reservations (S, JSON)
// The ledger is replaced with a conditional write on its version (optimistic concurrency), so two exporter
// replicas deciding for the same subnet at once never both take the last room: the loser re-reads and re-decides.
//
// DynamoDB unreachable (network, 5xx, throttling past the SDK's retries, any failure but a lost conditional write):
//   - observations: journaled locally (<dataDir>/dynamodb-pending-<table>.jsonl, fdatasync) before the answer, and
//     put to DynamoDB strictly in journal order once it answers again (backoff, jitter); a restart replays the
//     journal. "Acknowledged" = transact() resolved = durable in DynamoDB or in that journal.
//   - the rolling window: from this process's memory (its recent reads and writes), no DynamoDB read.
//   - reservations: not granted. Only the conditional ledger makes them race-free across replicas, so an
//     admission that would be granted is refused with StoreUnreachableError (503); waits are answered (200).
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { join } from 'node:path';
import { SpillJournal } from './journal.js';
import { KeyedMutex } from './mutex.js';
import { reservationSchema } from './records.js';
import { dynamoDbSdk } from '../aws/sdk.js';
import {
  isLive,
  observationFromRecord,
  observationToRecord,
  reservationSubnet,
  type AdmissionStore,
  type Observation,
  type ObservationRecord,
  type OpenReport,
  type Reservation,
  type ReservationClose,
  type TransactPlan,
  StoreUnreachableError,
} from './types.js';

const {
  ConditionalCheckFailedException,
  CreateTableCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} = dynamoDbSdk();

const LEDGER_SORT = 'ledger';
const MAX_ATTEMPTS = 100;
/** Observations kept in memory per subnet: the largest lookback the config allows. */
const RECENT_KEPT = 100;

/** The journal's file name under dataDir: one per table. */
export function journalFile(table: string): string {
  return `dynamodb-pending-${table}.jsonl`;
}

/** Optimistic retries exhausted: DynamoDB answered, so this is no outage. */
class ContentionError extends Error {}

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

interface Ledger {
  version: number;
  reservations: Reservation[];
}

function toItem(rec: ObservationRecord): Record<string, AttributeValue> {
  const item: Record<string, AttributeValue> = {
    subnet_id: { S: rec.subnet_id },
    observed_at: { S: `${rec.observed_at}#${rec.uniq}` },
    total_enis: { N: String(rec.total_enis) },
    in_use: { N: String(rec.in_use) },
    available: { N: String(rec.available) },
    tail: { N: String(rec.tail) },
    decision: { S: rec.decision },
    expires_at: { N: String(rec.expires_at) },
  };
  if (rec.lingering !== undefined) item.lingering = { N: String(rec.lingering) };
  if (rec.dag_run_id !== undefined) item.dag_run_id = { S: rec.dag_run_id };
  return item;
}

function fromItem(item: Record<string, AttributeValue>): Observation {
  const sort = item.observed_at?.S ?? '';
  const hash = sort.indexOf('#');
  const num = (k: string): number => Number(item[k]?.N ?? '0');
  const rec: ObservationRecord = {
    subnet_id: item.subnet_id?.S ?? '',
    observed_at: hash >= 0 ? sort.slice(0, hash) : sort,
    uniq: hash >= 0 ? sort.slice(hash + 1) : '',
    total_enis: num('total_enis'),
    in_use: num('in_use'),
    available: num('available'),
    tail: num('tail'),
    decision: (item.decision?.S ?? 'wait') as ObservationRecord['decision'],
    expires_at: num('expires_at'),
  };
  if (item.lingering?.N !== undefined) rec.lingering = Number(item.lingering.N);
  if (item.dag_run_id?.S !== undefined) rec.dag_run_id = item.dag_run_id.S;
  return observationFromRecord(rec);
}

/** Sort key of an observation: the same order as the table's range key. */
function sortKey(o: Observation): string {
  return `${new Date(o.observedAt).toISOString()}#${o.uniq}`;
}

/** Newest first, one entry per key. */
function mergeNewestFirst(a: readonly Observation[], b: readonly Observation[]): Observation[] {
  const byKey = new Map<string, Observation>();
  for (const o of [...a, ...b]) byKey.set(sortKey(o), o);
  return [...byKey.entries()].sort((x, y) => (x[0] < y[0] ? 1 : x[0] > y[0] ? -1 : 0)).map(([, o]) => o);
}

const describeError = (err: unknown): string => {
  const e = err as { name?: string; message?: string };
  return `${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`;
};

export class DynamoStore implements AdmissionStore {
  readonly type = 'dynamodb' as const;
  openReport: OpenReport = { records: 0, tornTail: false, skipped: 0, rejected: 0, dropped: 0 };
  private readonly mutex = new KeyedMutex();
  private readonly recent = new Map<string, Observation[]>();
  private readonly ledgers = new Map<string, Reservation[]>();
  private journal: SpillJournal | undefined;
  /** Journaled observations not yet in DynamoDB, oldest first: put strictly in this order. */
  private readonly queue: Observation[] = [];
  /** Journal appends started and not yet put to DynamoDB (or failed): the journal may be emptied at 0. */
  private outstanding = 0;
  /** Operations in progress (transact, close of a reservation). */
  private inFlight = 0;
  private reachable = true;
  private lastError = '';
  private draining = false;
  private drainDone: Promise<void> = Promise.resolve();
  private wake: (() => void) | undefined;
  private closed = false;
  private errors = 0;
  private delivered = 0;

  constructor(private readonly opts: DynamoStoreOptions) {}

  /** A store with its journal open; what an earlier process journaled is queued again, in order. */
  static async open(opts: DynamoStoreOptions): Promise<DynamoStore> {
    const s = new DynamoStore(opts);
    if (opts.dataDir !== undefined) await s.openJournal(opts.dataDir);
    return s;
  }

  private async openJournal(dataDir: string): Promise<void> {
    const path = join(dataDir, journalFile(this.opts.table));
    const { journal, contents } = await SpillJournal.open(path, this.opts.logger);
    this.journal = journal;
    const now = this.opts.clock.now();
    const live = contents.records.map(observationFromRecord).filter((o) => o.expiresAt > now);
    this.openReport = {
      records: contents.records.length,
      tornTail: contents.tornTail,
      skipped: contents.skipped,
      rejected: contents.rejected,
      dropped: contents.records.length - live.length,
    };
    if (contents.tornTail || contents.skipped > 0) {
      this.opts.logger.warn({ path, skipped: contents.skipped, tornTail: contents.tornTail }, 'DynamoDB journal had unreadable lines (a write cut short by a crash); skipped them');
    }
    for (const o of live) {
      this.queue.push(o);
      this.outstanding++;
      this.remember(o);
    }
    if (live.length > 0) {
      this.opts.logger.warn({ path, observations: live.length }, 'observations journaled while DynamoDB was unreachable: writing them to DynamoDB in order');
      this.kick();
    }
  }

  /** Runs one DynamoDB call; a failure other than a lost conditional write counts as a store error. */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) this.errors++;
      throw err;
    }
  }

  /** Stop sending requests on the hot path; the drain loop probes with backoff and flips it back. */
  private markUnreachable(err: unknown): void {
    this.lastError = describeError(err);
    if (this.reachable) {
      this.reachable = false;
      this.opts.logger.error({ err: this.lastError, queued: this.queue.length }, 'DynamoDB unreachable: answering waits from memory, refusing admissions that need a reservation');
    }
    this.kick();
  }

  private remember(o: Observation): void {
    const list = this.recent.get(o.subnetId) ?? [];
    this.recent.set(o.subnetId, mergeNewestFirst([o], list).slice(0, RECENT_KEPT));
  }

  private fromMemory(subnetId: string, n: number, now: number): Observation[] {
    return (this.recent.get(subnetId) ?? []).filter((o) => o.expiresAt > now).slice(0, n);
  }

  async recentObservations(subnetId: string, n: number, now: number): Promise<Observation[]> {
    // Unreachable: the window this process holds (its own recent reads and writes). While DynamoDB is down no
    // admission is granted (see transact), so a shorter window can only turn a refusal into a wait, never an admit.
    if (!this.reachable) return this.fromMemory(subnetId, n, now);
    let items: Record<string, AttributeValue>[];
    try {
      const out = await this.call(() =>
        this.opts.client.send(
          new QueryCommand({
            TableName: this.opts.table,
            KeyConditionExpression: 'subnet_id = :s',
            ExpressionAttributeValues: { ':s': { S: subnetId } },
            ScanIndexForward: false,
            ConsistentRead: true,
            // TTL deletion is lazy: expired items may still be returned, so read a little more and filter.
            Limit: n + 10,
          }),
        ),
      );
      items = out.Items ?? [];
    } catch (err) {
      this.markUnreachable(err);
      return this.fromMemory(subnetId, n, now);
    }
    // Journaled observations are acknowledged but not in the table yet: they belong in the window all the same.
    const queued = this.queue.filter((o) => o.subnetId === subnetId);
    const list = mergeNewestFirst(items.map(fromItem), queued)
      .filter((o) => o.expiresAt > now)
      .slice(0, Math.max(n, RECENT_KEPT));
    this.recent.set(subnetId, list);
    return list.slice(0, n);
  }

  peekObservations(subnetId: string, n: number): Observation[] | undefined {
    return this.recent.get(subnetId)?.slice(0, n);
  }

  private async readLedger(subnetId: string): Promise<Ledger> {
    const out = await this.call(() =>
      this.opts.client.send(
        new GetItemCommand({
          TableName: this.opts.table,
          Key: { subnet_id: { S: `ledger#${subnetId}` }, observed_at: { S: LEDGER_SORT } },
          ConsistentRead: true,
        }),
      ),
    );
    if (!out.Item) return { version: 0, reservations: [] };
    return { version: Number(out.Item.version?.N ?? '0'), reservations: this.validLedger(subnetId, out.Item.reservations?.S ?? '[]') };
  }

  /** The ledger's reservations that pass the schema; the others are logged and left out of every decision. */
  private validLedger(subnetId: string, text: string): Reservation[] {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      this.opts.logger.warn({ subnet_id: subnetId, err: (err as Error).message }, 'DynamoDB reservation ledger is not JSON: ignored');
      return [];
    }
    const out: Reservation[] = [];
    (Array.isArray(raw) ? raw : []).forEach((r, index) => {
      const p = reservationSchema.safeParse(r);
      if (p.success) out.push(p.data);
      else this.opts.logger.warn({ subnet_id: subnetId, index, field: p.error.issues[0]?.path.join('.') }, 'DynamoDB reservation ledger: invalid reservation ignored');
    });
    return out;
  }

  /** Replace the ledger if nobody changed it since `expected`; false when somebody did. */
  private async writeLedger(subnetId: string, expected: number, reservations: Reservation[]): Promise<boolean> {
    try {
      await this.call(() =>
        this.opts.client.send(
          new PutItemCommand({
            TableName: this.opts.table,
            Item: {
              subnet_id: { S: `ledger#${subnetId}` },
              observed_at: { S: LEDGER_SORT },
              version: { N: String(expected + 1) },
              reservations: { S: JSON.stringify(reservations) },
            },
            ConditionExpression: 'attribute_not_exists(subnet_id) OR version = :v',
            ExpressionAttributeValues: { ':v': { N: String(expected) } },
          }),
        ),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  /** Read–modify–write of the ledger until the conditional write wins; `change` returns undefined to write nothing. */
  private async updateLedger<T>(
    subnetId: string,
    now: number,
    change: (retained: Reservation[]) => { next?: Reservation[]; value: T },
  ): Promise<T> {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const ledger = await this.readLedger(subnetId);
      const retained = ledger.reservations.filter((r) => r.retainUntil > now);
      this.ledgers.set(subnetId, retained);
      const { next, value } = change(retained);
      if (!next) return value;
      if (await this.writeLedger(subnetId, ledger.version, next)) {
        this.ledgers.set(subnetId, next);
        return value;
      }
      // Another replica won the race: back off a little (jittered) and decide again on its result.
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * Math.min(50, 2 * attempt))));
    }
    throw new ContentionError(`reservation ledger of ${subnetId}: too much contention (${MAX_ATTEMPTS} attempts)`);
  }

  /**
   * Decide, reserve and record. An observation is acknowledged (this resolves) once it is durable in DynamoDB
   * or in the local journal (fdatasync); a reservation only once its conditional ledger write succeeded.
   * With DynamoDB unreachable the ledger cannot be read or written race-free across replicas, so the plan runs
   * on the last ledger this process saw: a wait is still answered (and journaled); an admission is refused with
   * StoreUnreachableError (503). Stale reservations only over-count (more waits) or under-count (more would-be
   * admissions, all refused), so no answer given while unreachable can over-admit.
   */
  async transact<T>(subnetId: string, now: number, plan: (reservations: readonly Reservation[]) => TransactPlan<T>): Promise<T> {
    this.inFlight++;
    try {
      // Serialized per subnet inside this process (no point racing ourselves); the version check covers replicas.
      return await this.mutex.run(subnetId, async () => {
        if (this.reachable) {
          let p: TransactPlan<T>;
          try {
            p = await this.updateLedger(subnetId, now, (retained) => {
              const p = plan(retained);
              return { next: p.add ? [...retained, p.add] : undefined, value: p };
            });
          } catch (err) {
            if (err instanceof ContentionError) throw err;
            this.markUnreachable(err);
            return this.decideUnreachable(subnetId, now, plan);
          }
          await this.record(p.observation);
          return p.result;
        }
        return this.decideUnreachable(subnetId, now, plan);
      });
    } finally {
      this.inFlight--;
    }
  }

  private async decideUnreachable<T>(subnetId: string, now: number, plan: (reservations: readonly Reservation[]) => TransactPlan<T>): Promise<T> {
    const known = (this.ledgers.get(subnetId) ?? []).filter((r) => r.retainUntil > now);
    const p = plan(known);
    if (p.add) {
      throw new StoreUnreachableError(
        `admission store unreachable: cannot reserve (DynamoDB: ${this.lastError}); waits are still answered, admissions resume once DynamoDB is back`,
      );
    }
    await this.spill(p.observation);
    return p.result;
  }

  /** Put one observation, behind any journaled ones (order is kept); journal it when DynamoDB does not take it. */
  private async record(o: Observation): Promise<void> {
    if (this.outstanding > 0 || !this.reachable) return this.spill(o);
    try {
      await this.put(o);
    } catch (err) {
      this.markUnreachable(err);
      return this.spill(o);
    }
    this.remember(o);
  }

  private async put(o: Observation): Promise<void> {
    await this.call(() =>
      this.opts.client.send(new PutItemCommand({ TableName: this.opts.table, Item: toItem(observationToRecord(o)) })),
    );
  }

  /** Journal (durable locally), then queue for DynamoDB. */
  private async spill(o: Observation): Promise<void> {
    if (!this.journal) {
      throw new StoreUnreachableError(`observation store unreachable and no local journal is configured (DynamoDB: ${this.lastError})`);
    }
    this.outstanding++;
    try {
      await this.journal.append(observationToRecord(o));
    } catch (err) {
      this.outstanding--;
      this.errors++;
      this.opts.logger.error({ err: (err as Error).message, path: this.journal.path }, 'DynamoDB journal append failed');
      throw new StoreUnreachableError(`observation could not be made durable: DynamoDB unreachable (${this.lastError}) and the local journal failed (${(err as Error).message})`, { cause: err });
    }
    this.queue.push(o);
    this.remember(o);
    this.kick();
  }

  private kick(): void {
    if (this.draining || this.closed) return;
    this.draining = true;
    this.drainDone = this.drain();
  }

  /**
   * The one writer of journaled observations: puts the queue's head until it is empty, strictly in order,
   * backing off (jittered, doubling up to retry.maxMs) while DynamoDB fails; probes when only reachability is
   * in doubt. Puts are idempotent (same key, same item), so a replay after a crash may safely repeat some.
   */
  private async drain(): Promise<void> {
    const initial = this.opts.retry?.initialMs ?? 100;
    const max = this.opts.retry?.maxMs ?? 5000;
    let delay = initial;
    for (;;) {
      if (this.closed) break;
      const head = this.queue[0];
      if (!head && this.reachable) {
        // Everything journaled is in DynamoDB: empty the journal unless an append slipped in meanwhile.
        await this.journal?.truncateIf(() => this.outstanding === 0);
        if (this.queue.length === 0 && this.reachable) break;
        continue;
      }
      try {
        if (head) await this.put(head);
        else await this.probe();
      } catch (err) {
        this.markUnreachable(err);
        await this.sleep(delay / 2 + Math.random() * (delay / 2));
        delay = Math.min(delay * 2, max);
        continue;
      }
      if (head) {
        this.queue.shift();
        this.outstanding--;
        this.delivered++;
      }
      delay = initial;
      if (!this.reachable) {
        this.reachable = true;
        this.opts.logger.info({ queued: this.queue.length }, 'DynamoDB reachable again: writing journaled observations in order');
      }
    }
    // No await between the last check and this: a spill that lands later finds draining false and kicks.
    this.draining = false;
  }

  private async probe(): Promise<void> {
    await this.call(() =>
      this.opts.client.send(
        new GetItemCommand({ TableName: this.opts.table, Key: { subnet_id: { S: 'probe' }, observed_at: { S: 'probe' } } }),
      ),
    );
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = undefined;
        resolve();
      };
    });
  }

  async reservations(subnetId: string, now: number): Promise<Reservation[]> {
    if (!this.reachable) throw new StoreUnreachableError(`reservation ledger unreachable (DynamoDB: ${this.lastError})`);
    let ledger: Ledger;
    try {
      ledger = await this.readLedger(subnetId);
    } catch (err) {
      this.markUnreachable(err);
      throw err;
    }
    const retained = ledger.reservations.filter((r) => r.retainUntil > now);
    this.ledgers.set(subnetId, retained);
    return retained;
  }

  peekReservations(subnetId: string): Reservation[] | undefined {
    return this.ledgers.get(subnetId);
  }

  async closeReservation(id: string, how: ReservationClose, now: number): Promise<Reservation | undefined> {
    const subnetId = reservationSubnet(id);
    if (!subnetId) return undefined;
    if (!this.reachable) throw new StoreUnreachableError(`reservation ledger unreachable (DynamoDB: ${this.lastError}): cannot close ${id}`);
    this.inFlight++;
    try {
      return await this.mutex.run(subnetId, () =>
        this.updateLedger(subnetId, now, (retained) => {
          const r = retained.find((x) => x.id === id);
          if (!r || !isLive(r, now)) return { value: undefined };
          const closed: Reservation = { ...r, closed: how, closedAt: now };
          return { next: retained.map((x) => (x.id === id ? closed : x)), value: closed };
        }),
      );
    } catch (err) {
      if (!(err instanceof ContentionError)) this.markUnreachable(err);
      throw err;
    } finally {
      this.inFlight--;
    }
  }

  /** Acknowledged observations not yet in DynamoDB (journaled) plus operations in progress. */
  pendingWrites(): number {
    return this.queue.length + this.inFlight;
  }

  errorCount(): number {
    return this.errors;
  }

  storeBytes(): number {
    return this.journal?.size ?? 0;
  }

  /** False from a failed DynamoDB call until a later one succeeds. */
  get isReachable(): boolean {
    return this.reachable;
  }

  /** Journaled observations put to DynamoDB since open. */
  get replayed(): number {
    return this.delivered;
  }

  /** The journal's path, when one is configured. */
  get journalPath(): string | undefined {
    return this.journal?.path;
  }

  /**
   * Stop retrying and close the journal. What is still queued stays in the journal and is written by the next
   * store opened on the same dataDir and table.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.drainDone;
    await this.journal?.close();
    if (this.opts.ownsClient) this.opts.client.destroy();
  }
}

/** Create the table (PAY_PER_REQUEST) if missing, wait for it, and enable TTL on `expires_at`. */
export async function initDynamoTable(client: DynamoDBClient, table: string, logger: Logger): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'subnet_id', AttributeType: 'S' },
          { AttributeName: 'observed_at', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'subnet_id', KeyType: 'HASH' },
          { AttributeName: 'observed_at', KeyType: 'RANGE' },
        ],
      }),
    );
    logger.info({ table }, 'created DynamoDB table');
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
    logger.info({ table }, 'DynamoDB table exists');
  }
  await waitUntilTableExists({ client, maxWaitTime: 300, minDelay: 1 }, { TableName: table });
  try {
    await client.send(
      new UpdateTimeToLiveCommand({ TableName: table, TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true } }),
    );
    logger.info({ table, attribute: 'expires_at' }, 'TTL enabled');
  } catch (err) {
    const name = (err as Error).name;
    const message = (err as Error).message ?? '';
    if (name === 'ValidationException' && /already enabled/i.test(message)) {
      logger.info({ table }, 'TTL already enabled');
    } else if (name === 'UnknownOperationException') {
      // DynamoDB-compatible servers without UpdateTimeToLive (dynalite): the store works, items just never expire.
      logger.warn(
        { table, attribute: 'expires_at' },
        'this DynamoDB endpoint does not support UpdateTimeToLive: enable TTL on attribute expires_at by hand',
      );
    } else {
      throw err;
    }
  }
}
