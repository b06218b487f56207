// The ledgers, race-free across replicas: a subnet's reservations and queue tickets are one item, replaced with a
// conditional write on its version (optimistic concurrency). Two exporter replicas deciding for the same subnet at
// once never both take the last room, and never lose each other's tickets: the loser re-reads and re-decides.
import { dynamoDbSdk } from '../aws/sdk.js';
import type { Logger } from '../log.js';
import { ITEM_MAX_BYTES, itemBytes, ledgerFromItem, ledgerItem, ledgerKey, type Ledger } from './dynamodb-items.js';
import { isConditionalCheckFailed, type DynamoTable } from './dynamodb-table.js';
import { QueueFullError, type Reservation, type Ticket } from './types.js';

const { GetItemCommand, PutItemCommand } = dynamoDbSdk();

const MAX_ATTEMPTS = 100;

/**
 * Largest ledger item a step may write when it adds tickets: the rest of DynamoDB's 400 KB is headroom for what
 * must still go through on a full queue (re-pokes, admissions that drop their ticket, reservations). About 1,500
 * tickets of a typical size fit (~230 bytes each: a 16-hex digest, a 40-character key), about 700 of the largest
 * (a 64-hex digest and a 250-character key); src/store/dynamodb-tickets.test.ts measures it.
 */
export const TICKETS_ITEM_BUDGET_BYTES = 350 * 1024;

/** Optimistic retries exhausted: DynamoDB answered, so this is no outage. */
export class ContentionError extends Error {}

/** A subnet's ledger as a step sees it: retained reservations and live tickets. */
export interface LedgerView {
  retained: Reservation[];
  tickets: Ticket[];
}

export class DynamoLedger {
  /** Each subnet's ledger as last read or written: what is known while DynamoDB is unreachable. */
  private readonly known = new Map<string, LedgerView>();

  constructor(
    private readonly table: DynamoTable,
    private readonly logger: Logger,
  ) {}

  /** The last ledger this process saw (no I/O); undefined before the first read. */
  last(subnetId: string): LedgerView | undefined {
    return this.known.get(subnetId);
  }

  /** The ledger's version, its reservations retained and tickets live at `now` (remembered as the last seen). */
  async read(subnetId: string, now: number): Promise<LedgerView & { version: number }> {
    const out = await this.table.call((client, table) =>
      client.send(new GetItemCommand({ TableName: table, Key: ledgerKey(subnetId), ConsistentRead: true })),
    );
    const ledger: Ledger = ledgerFromItem(subnetId, out.Item, this.logger);
    const view = { retained: ledger.reservations.filter((r) => r.retainUntil > now), tickets: ledger.tickets.filter((t) => t.expiresAt > now) };
    this.known.set(subnetId, view);
    return { version: ledger.version, ...view };
  }

  /** Replace the ledger if nobody changed it since `expected`; false when somebody did. */
  private async write(subnetId: string, expected: number, before: LedgerView, next: LedgerView): Promise<boolean> {
    const item = ledgerItem(subnetId, expected + 1, next.retained, next.tickets);
    // Refused here, with a reason, rather than by DynamoDB (a ValidationException would read as an outage).
    const bytes = itemBytes(item);
    if (bytes > ITEM_MAX_BYTES || (next.tickets.length > before.tickets.length && bytes > TICKETS_ITEM_BUDGET_BYTES)) {
      throw new QueueFullError(
        `queue of ${subnetId} is full: its DynamoDB ledger item would be ${bytes} bytes with ${next.tickets.length} tickets and ` +
          `${next.retained.length} reservations; a step that adds a ticket may write at most ${TICKETS_ITEM_BUDGET_BYTES} bytes ` +
          `(DynamoDB items are limited to ${ITEM_MAX_BYTES}); this wait is not recorded`,
      );
    }
    try {
      await this.table.call((client, table) =>
        client.send(
          new PutItemCommand({
            TableName: table,
            Item: item,
            ConditionExpression: 'attribute_not_exists(subnet_id) OR version = :v',
            ExpressionAttributeValues: { ':v': { N: String(expected) } },
          }),
        ),
      );
      return true;
    } catch (err) {
      if (isConditionalCheckFailed(err)) return false;
      throw err;
    }
  }

  /**
   * Read–modify–write of the ledger until the conditional write wins; `change` returns no `next` to write nothing.
   * Every write leaves out reservations past retainUntil and expired tickets.
   */
  async update<T>(subnetId: string, now: number, change: (view: LedgerView) => { next?: LedgerView; value: T }): Promise<T> {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const { version, ...view } = await this.read(subnetId, now);
      const { next, value } = change(view);
      if (!next) return value;
      const pruned = { retained: next.retained.filter((r) => r.retainUntil > now), tickets: next.tickets.filter((t) => t.expiresAt > now) };
      if (await this.write(subnetId, version, view, pruned)) {
        this.known.set(subnetId, pruned);
        return value;
      }
      // Another replica won the race: back off a little (jittered) and decide again on its result.
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * Math.min(50, 2 * attempt))));
    }
    throw new ContentionError(`ledger of ${subnetId}: too much contention (${MAX_ATTEMPTS} attempts)`);
  }
}
