// Observations on their way to DynamoDB, and the outage they may have to wait out. While DynamoDB answers, an
// observation is put at once. Once a call fails (network, 5xx, throttling past the SDK's retries), DynamoDB is
// taken for unreachable: observations are journaled locally (<dataDir>/dynamodb-pending-<table>.jsonl, fdatasync)
// before they are acknowledged, and one drain loop puts them to DynamoDB strictly in journal order once it answers
// again (backoff, jitter), then empties the journal. A restart replays the journal. "Acknowledged" = durable in
// DynamoDB or in that journal.
import { join } from 'node:path';
import { dynamoDbSdk } from '../aws/sdk.js';
import type { Logger } from '../log.js';
import { observationItem, PROBE_KEY } from './dynamodb-items.js';
import { describeError, type DynamoTable } from './dynamodb-table.js';
import { SpillJournal } from './journal.js';
import { observationFromRecord, observationToRecord, StoreUnreachableError, type Observation, type OpenReport } from './types.js';

const { GetItemCommand, PutItemCommand } = dynamoDbSdk();

/** The journal's file name under dataDir: one per table. */
export function journalFile(table: string): string {
  return `dynamodb-pending-${table}.jsonl`;
}

export interface OutboxOptions {
  table: DynamoTable;
  logger: Logger;
  /** Backoff of the in-order retry of journaled observations (default 100 ms doubling to 5 s). */
  retry?: { initialMs?: number; maxMs?: number };
  /** Told of every observation acknowledged (put, journaled, or replayed from the journal at open). */
  remember: (o: Observation) => void;
}

export class DynamoOutbox {
  private journal: SpillJournal | undefined;
  /** Journaled observations not yet in DynamoDB, oldest first: put strictly in this order. */
  private readonly queue: Observation[] = [];
  /** Journal appends started and not yet put to DynamoDB (or failed): the journal may be emptied at 0. */
  private outstanding = 0;
  private up = true;
  private lastFailure = '';
  private draining = false;
  private drainDone: Promise<void> = Promise.resolve();
  private wake: (() => void) | undefined;
  private closed = false;
  private journalFailures = 0;
  private delivered = 0;

  constructor(private readonly opts: OutboxOptions) {}

  /**
   * Open (creating) the journal under `dataDir`; what an earlier process journaled and is not expired at `now`
   * is queued again, in order. Without a journal, observations DynamoDB does not take are refused (503).
   */
  async openJournal(dataDir: string, now: number): Promise<OpenReport> {
    const { logger } = this.opts;
    const path = join(dataDir, journalFile(this.opts.table.name));
    const { journal, contents } = await SpillJournal.open(path, logger);
    this.journal = journal;
    const live = contents.records.map(observationFromRecord).filter((o) => o.expiresAt > now);
    if (contents.tornTail || contents.skipped > 0) {
      logger.warn(
        { path, skipped: contents.skipped, tornTail: contents.tornTail },
        'DynamoDB journal had unreadable lines (a write cut short by a crash); skipped them',
      );
    }
    for (const o of live) {
      this.queue.push(o);
      this.outstanding++;
      this.opts.remember(o);
    }
    if (live.length > 0) {
      logger.warn({ path, observations: live.length }, 'observations journaled while DynamoDB was unreachable: writing them to DynamoDB in order');
      this.kick();
    }
    return {
      records: contents.records.length,
      tornTail: contents.tornTail,
      skipped: contents.skipped,
      rejected: contents.rejected,
      dropped: contents.records.length - live.length,
    };
  }

  /** False from a failed DynamoDB call until a later one succeeds. */
  get reachable(): boolean {
    return this.up;
  }

  /** The failure that made DynamoDB unreachable, as "Name: message". */
  get lastError(): string {
    return this.lastFailure;
  }

  /** Stop sending requests on the hot path; the drain loop probes with backoff and flips it back. */
  markUnreachable(err: unknown): void {
    this.lastFailure = describeError(err);
    if (this.up) {
      this.up = false;
      this.opts.logger.error(
        { err: this.lastFailure, queued: this.queue.length },
        'DynamoDB unreachable: answering waits from memory, refusing admissions that need a reservation',
      );
    }
    this.kick();
  }

  /** Acknowledged observations of a subnet not in the table yet (journaled, queued). */
  queued(subnetId: string): Observation[] {
    return this.queue.filter((o) => o.subnetId === subnetId);
  }

  /** Acknowledged observations not yet in DynamoDB. */
  get pending(): number {
    return this.queue.length;
  }

  /** Put one observation, behind any journaled ones (order is kept); journal it when DynamoDB does not take it. */
  async record(o: Observation): Promise<void> {
    if (this.outstanding > 0 || !this.up) return this.spill(o);
    try {
      await this.put(o);
    } catch (err) {
      this.markUnreachable(err);
      return this.spill(o);
    }
    this.opts.remember(o);
  }

  private async put(o: Observation): Promise<void> {
    await this.opts.table.call((client, table) =>
      client.send(new PutItemCommand({ TableName: table, Item: observationItem(observationToRecord(o)) })),
    );
  }

  /** Journal (durable locally), then queue for DynamoDB. */
  async spill(o: Observation): Promise<void> {
    if (!this.journal) {
      throw new StoreUnreachableError(`observation store unreachable and no local journal is configured (DynamoDB: ${this.lastFailure})`);
    }
    this.outstanding++;
    try {
      await this.journal.append(observationToRecord(o));
    } catch (err) {
      this.outstanding--;
      this.journalFailures++;
      this.opts.logger.error({ err: (err as Error).message, path: this.journal.path }, 'DynamoDB journal append failed');
      throw new StoreUnreachableError(
        `observation could not be made durable: DynamoDB unreachable (${this.lastFailure}) and the local journal failed (${(err as Error).message})`,
        { cause: err },
      );
    }
    this.queue.push(o);
    this.opts.remember(o);
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
      if (!head && this.up) {
        // Everything journaled is in DynamoDB: empty the journal unless an append slipped in meanwhile.
        await this.journal?.truncateIf(() => this.outstanding === 0);
        if (this.queue.length === 0 && this.up) break;
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
      if (!this.up) {
        this.up = true;
        this.opts.logger.info({ queued: this.queue.length }, 'DynamoDB reachable again: writing journaled observations in order');
      }
    }
    // No await between the last check and this: a spill that lands later finds draining false and kicks.
    this.draining = false;
  }

  private async probe(): Promise<void> {
    await this.opts.table.call((client, table) => client.send(new GetItemCommand({ TableName: table, Key: PROBE_KEY })));
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

  /** Journal appends that failed since open. */
  get errors(): number {
    return this.journalFailures;
  }

  /** Journaled observations put to DynamoDB since open. */
  get replayed(): number {
    return this.delivered;
  }

  /** Bytes in the journal. */
  get journalBytes(): number {
    return this.journal?.size ?? 0;
  }

  /** The journal's path, when one is configured. */
  get journalPath(): string | undefined {
    return this.journal?.path;
  }

  /** Stop retrying and close the journal: what is still queued stays in it for the next open. */
  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.drainDone;
    await this.journal?.close();
  }
}
