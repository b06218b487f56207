// The reservation ledgers, race-free across replicas: a subnet's ledger is one item, replaced with a conditional
// write on its version (optimistic concurrency). Two exporter replicas deciding for the same subnet at once never
// both take the last room: the loser re-reads and re-decides.
import { dynamoDbSdk } from '../aws/sdk.js';
import type { Logger } from '../log.js';
import { ledgerFromItem, ledgerItem, ledgerKey, type Ledger } from './dynamodb-items.js';
import { isConditionalCheckFailed, type DynamoTable } from './dynamodb-table.js';
import type { Reservation } from './types.js';

const { GetItemCommand, PutItemCommand } = dynamoDbSdk();

const MAX_ATTEMPTS = 100;

/** Optimistic retries exhausted: DynamoDB answered, so this is no outage. */
export class ContentionError extends Error {}

export class DynamoLedger {
  /** Each subnet's retained reservations as last read or written: what is known while DynamoDB is unreachable. */
  private readonly known = new Map<string, Reservation[]>();

  constructor(
    private readonly table: DynamoTable,
    private readonly logger: Logger,
  ) {}

  /** The last ledger this process saw (no I/O); undefined before the first read. */
  last(subnetId: string): Reservation[] | undefined {
    return this.known.get(subnetId);
  }

  /** The ledger's version and its reservations retained at `now` (remembered as the last seen). */
  async read(subnetId: string, now: number): Promise<{ version: number; retained: Reservation[] }> {
    const out = await this.table.call((client, table) =>
      client.send(new GetItemCommand({ TableName: table, Key: ledgerKey(subnetId), ConsistentRead: true })),
    );
    const ledger: Ledger = ledgerFromItem(subnetId, out.Item, this.logger);
    const retained = ledger.reservations.filter((r) => r.retainUntil > now);
    this.known.set(subnetId, retained);
    return { version: ledger.version, retained };
  }

  /** Replace the ledger if nobody changed it since `expected`; false when somebody did. */
  private async write(subnetId: string, expected: number, reservations: Reservation[]): Promise<boolean> {
    try {
      await this.table.call((client, table) =>
        client.send(
          new PutItemCommand({
            TableName: table,
            Item: ledgerItem(subnetId, expected + 1, reservations),
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

  /** Read–modify–write of the ledger until the conditional write wins; `change` returns undefined to write nothing. */
  async update<T>(subnetId: string, now: number, change: (retained: Reservation[]) => { next?: Reservation[]; value: T }): Promise<T> {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const { version, retained } = await this.read(subnetId, now);
      const { next, value } = change(retained);
      if (!next) return value;
      if (await this.write(subnetId, version, next)) {
        this.known.set(subnetId, next);
        return value;
      }
      // Another replica won the race: back off a little (jittered) and decide again on its result.
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * Math.min(50, 2 * attempt))));
    }
    throw new ContentionError(`reservation ledger of ${subnetId}: too much contention (${MAX_ATTEMPTS} attempts)`);
  }
}
