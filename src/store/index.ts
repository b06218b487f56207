// Store selection from config, and `init-store` (create the DynamoDB table, enable TTL).
import { mkdir } from 'node:fs/promises';
import type { Clock } from '../clock.js';
import type { Config } from '../config/load.js';
import type { Logger } from '../log.js';
import { createDynamoClient } from '../aws/clients.js';
import type { DynamoDBClient } from '../aws/sdk.js';
import { FileStore } from './file.js';
import type { AdmissionStore } from './types.js';

export type { AdmissionStore } from './types.js';

export interface StoreDeps {
  clock: Clock;
  logger: Logger;
  /** A ready client (tests, custom credentials); otherwise one is built from config.region/endpoints. */
  dynamodb?: DynamoDBClient;
}

type StoreConfig = Pick<Config, 'store' | 'dataDir' | 'region' | 'endpoints'>;

/** The DynamoDB client the config names (region, endpoint), built where every AWS client is. */
function dynamoClientFor(config: StoreConfig): DynamoDBClient {
  return createDynamoClient({ region: config.region, endpoint: config.endpoints.dynamodb });
}

const HOUR_MS = 3600_000;

export async function openStore(config: StoreConfig, deps: StoreDeps): Promise<AdmissionStore> {
  if (config.store.type === 'dynamodb') {
    // Imported on use: the DynamoDB SDK is ~20 MB a file-store exporter never needs.
    const { DynamoStore } = await import('./dynamodb.js');
    const store = await DynamoStore.open({
      client: deps.dynamodb ?? dynamoClientFor(config),
      ownsClient: !deps.dynamodb,
      table: config.store.table,
      clock: deps.clock,
      logger: deps.logger,
      // Observations DynamoDB does not take are journaled here (fsync) before they are acknowledged.
      dataDir: config.dataDir,
    });
    return store;
  }
  const store = await FileStore.open({ dataDir: config.dataDir, clock: deps.clock, logger: deps.logger, compactIntervalMs: HOUR_MS });
  if (store.openReport.tornTail || store.openReport.skipped > 0) {
    deps.logger.warn({ ...store.openReport }, 'store opened after an unclean stop');
  }
  return store;
}

/**
 * `glue-eni-exporter init-store`: prepare the configured store. DynamoDB: create the table (PAY_PER_REQUEST,
 * key subnet_id + observed_at) and enable TTL on expires_at. File: create dataDir.
 */
export async function initStore(config: StoreConfig, deps: { logger: Logger; dynamodb?: DynamoDBClient }): Promise<void> {
  if (config.store.type === 'dynamodb') {
    const client = deps.dynamodb ?? dynamoClientFor(config);
    try {
      const { initDynamoTable } = await import('./dynamodb-init.js');
      await initDynamoTable(client, config.store.table, deps.logger);
    } finally {
      if (!deps.dynamodb) client.destroy();
    }
    return;
  }
  await mkdir(config.dataDir, { recursive: true });
  deps.logger.info({ dataDir: config.dataDir }, 'file store directory ready');
}
