// `init-store` for DynamoDB: the table the store expects (PAY_PER_REQUEST, key subnet_id + observed_at) with
// TTL on expires_at. Safe to run again: an existing table and an enabled TTL are left as they are.
import { dynamoDbSdk, type DynamoDBClient } from '../aws/sdk.js';
import type { Logger } from '../log.js';

const { CreateTableCommand, ResourceInUseException, UpdateTimeToLiveCommand, waitUntilTableExists } = dynamoDbSdk();

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
    await client.send(new UpdateTimeToLiveCommand({ TableName: table, TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true } }));
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
