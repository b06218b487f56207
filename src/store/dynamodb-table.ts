// The store's DynamoDB table as every part of the DynamoDB store reaches it: each call goes through `call`,
// which counts the failures (glue_eni_store_errors_total). A lost conditional write is DynamoDB's answer that
// somebody else wrote first, not a failure.
import { dynamoDbSdk, type DynamoDBClient } from '../aws/sdk.js';

const { ConditionalCheckFailedException } = dynamoDbSdk();

/** DynamoDB refused a conditional write: the item changed since it was read. */
export function isConditionalCheckFailed(err: unknown): boolean {
  return err instanceof ConditionalCheckFailedException;
}

/** "Name: message" of a failed call, for logs and 503 reasons. */
export function describeError(err: unknown): string {
  const e = err as { name?: string; message?: string };
  return `${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`;
}

export class DynamoTable {
  private failures = 0;
  /** Errors `call` threw: what tells an outage from a step's own refusal (a full queue, an invalid ticket). */
  private readonly thrown = new WeakSet<object>();

  constructor(
    readonly client: DynamoDBClient,
    readonly name: string,
  ) {}

  /** Runs one DynamoDB call; a failure other than a lost conditional write counts as a store error. */
  async call<T>(fn: (client: DynamoDBClient, table: string) => Promise<T>): Promise<T> {
    try {
      return await fn(this.client, this.name);
    } catch (err) {
      if (!isConditionalCheckFailed(err)) {
        this.failures++;
        if (typeof err === 'object' && err !== null) this.thrown.add(err);
      }
      throw err;
    }
  }

  /** Whether `err` is a failed DynamoDB call (anything but a lost conditional write), as thrown by `call`. */
  failedCall(err: unknown): boolean {
    return typeof err === 'object' && err !== null && this.thrown.has(err);
  }

  /** Failed calls since open. */
  get errors(): number {
    return this.failures;
  }
}
