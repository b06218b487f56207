// Each subnet's rolling window of observations as this process last saw it: refreshed by every read from the
// table, extended by every observation acknowledged here. While DynamoDB is unreachable it is the window.
import { dynamoDbSdk } from '../aws/sdk.js';
import { observationFromItem, observationSortKey } from './dynamodb-items.js';
import type { DynamoTable } from './dynamodb-table.js';
import type { Observation } from './types.js';

const { QueryCommand } = dynamoDbSdk();

/** Observations kept in memory per subnet: the largest lookback the config allows. */
const RECENT_KEPT = 100;

/** Newest first, one entry per key. */
function mergeNewestFirst(a: readonly Observation[], b: readonly Observation[]): Observation[] {
  const byKey = new Map<string, Observation>();
  for (const o of [...a, ...b]) byKey.set(observationSortKey(o), o);
  return [...byKey.entries()].sort((x, y) => (x[0] < y[0] ? 1 : x[0] > y[0] ? -1 : 0)).map(([, o]) => o);
}

export class RecentWindows {
  private readonly recent = new Map<string, Observation[]>();

  constructor(private readonly table: DynamoTable) {}

  remember(o: Observation): void {
    const list = this.recent.get(o.subnetId) ?? [];
    this.recent.set(o.subnetId, mergeNewestFirst([o], list).slice(0, RECENT_KEPT));
  }

  /** The last `n` unexpired observations held in memory, newest first. */
  fromMemory(subnetId: string, n: number, now: number): Observation[] {
    return (this.recent.get(subnetId) ?? []).filter((o) => o.expiresAt > now).slice(0, n);
  }

  peek(subnetId: string, n: number): Observation[] | undefined {
    return this.recent.get(subnetId)?.slice(0, n);
  }

  /**
   * The last `n` observations from the table, merged with `queued` (acknowledged but not in the table yet:
   * they belong in the window all the same); the window held in memory becomes that. Throws what DynamoDB threw.
   */
  async read(subnetId: string, n: number, now: number, queued: () => Observation[]): Promise<Observation[]> {
    const out = await this.table.call((client, table) =>
      client.send(
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: 'subnet_id = :s',
          ExpressionAttributeValues: { ':s': { S: subnetId } },
          ScanIndexForward: false,
          ConsistentRead: true,
          // TTL deletion is lazy: expired items may still be returned, so read a little more and filter.
          Limit: n + 10,
        }),
      ),
    );
    const list = mergeNewestFirst((out.Items ?? []).map(observationFromItem), queued())
      .filter((o) => o.expiresAt > now)
      .slice(0, Math.max(n, RECENT_KEPT));
    this.recent.set(subnetId, list);
    return list.slice(0, n);
  }
}
