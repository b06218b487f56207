// The shared store: observations and reservation ledgers in one DynamoDB table (the seeds' glue-eni-observations).
//   observation: subnet_id = <subnet>,          observed_at = <ISO ms>#<uniq>, expires_at = TTL (epoch s)
//   ledger:      subnet_id = ledger#<subnet>,   observed_at = "ledger", version (N), reservations (S, JSON)
// The ledger is replaced with a conditional write on its version (optimistic concurrency), so two exporter
// replicas deciding for the same subnet at once never both take the last room: the loser re-reads and re-decides.
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { KeyedMutex } from './mutex.js';
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
} from './types.js';

const LEDGER_SORT = 'ledger';
const MAX_ATTEMPTS = 100;

export interface DynamoStoreOptions {
  client: DynamoDBClient;
  table: string;
  clock: Clock;
  logger: Logger;
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

export class DynamoStore implements AdmissionStore {
  readonly type = 'dynamodb' as const;
  readonly openReport: OpenReport = { records: 0, tornTail: false, skipped: 0, dropped: 0 };
  private readonly mutex = new KeyedMutex();
  private readonly recent = new Map<string, Observation[]>();
  private readonly ledgers = new Map<string, Reservation[]>();
  private pending = 0;
  private errors = 0;

  constructor(private readonly opts: DynamoStoreOptions) {}

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) this.errors++;
      throw err;
    }
  }

  async recentObservations(subnetId: string, n: number, now: number): Promise<Observation[]> {
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
    const list = (out.Items ?? []).map(fromItem).filter((o) => o.expiresAt > now).slice(0, n);
    this.recent.set(subnetId, list);
    return list;
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
    const reservations = JSON.parse(out.Item.reservations?.S ?? '[]') as Reservation[];
    return { version: Number(out.Item.version?.N ?? '0'), reservations };
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
    throw new Error(`reservation ledger of ${subnetId}: too much contention (${MAX_ATTEMPTS} attempts)`);
  }

  async transact<T>(subnetId: string, now: number, plan: (reservations: readonly Reservation[]) => TransactPlan<T>): Promise<T> {
    this.pending++;
    try {
      // Serialized per subnet inside this process (no point racing ourselves); the version check covers replicas.
      return await this.mutex.run(subnetId, async () => {
        const p = await this.updateLedger(subnetId, now, (retained) => {
          const p = plan(retained);
          return { next: p.add ? [...retained, p.add] : undefined, value: p };
        });
        await this.putObservation(p.observation);
        return p.result;
      });
    } finally {
      this.pending--;
    }
  }

  private async putObservation(o: Observation): Promise<void> {
    await this.call(() =>
      this.opts.client.send(new PutItemCommand({ TableName: this.opts.table, Item: toItem(observationToRecord(o)) })),
    );
    const list = this.recent.get(o.subnetId) ?? [];
    this.recent.set(o.subnetId, [o, ...list].slice(0, 100));
  }

  async reservations(subnetId: string, now: number): Promise<Reservation[]> {
    const ledger = await this.readLedger(subnetId);
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
    this.pending++;
    try {
      return await this.mutex.run(subnetId, () =>
        this.updateLedger(subnetId, now, (retained) => {
          const r = retained.find((x) => x.id === id);
          if (!r || !isLive(r, now)) return { value: undefined };
          const closed: Reservation = { ...r, closed: how, closedAt: now };
          return { next: retained.map((x) => (x.id === id ? closed : x)), value: closed };
        }),
      );
    } finally {
      this.pending--;
    }
  }

  pendingWrites(): number {
    return this.pending;
  }

  errorCount(): number {
    return this.errors;
  }

  async close(): Promise<void> {
    // The client belongs to whoever created it.
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
