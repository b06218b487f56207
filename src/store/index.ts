// Store selection from config, and `init-store` (create the DynamoDB table, enable TTL).
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { mkdir } from 'node:fs/promises';
import type { Clock } from '../clock.js';
import type { Config } from '../config/load.js';
import type { Logger } from '../log.js';
import { dynamoDbSdk } from '../aws/sdk.js';
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

/**
 * Short timeouts: /admit waits on the first failing call before it switches to the journal, so an unreachable
 * DynamoDB must fail in about a second or two, never hang (the SDK's defaults have no request timeout).
 */
export const DYNAMODB_TIMEOUTS = { connectionTimeout: 1000, requestTimeout: 2000, maxAttempts: 2 } as const;

export function dynamoClientFor(config: StoreConfig): DynamoDBClient {
  return new (dynamoDbSdk().DynamoDBClient)({
    maxAttempts: DYNAMODB_TIMEOUTS.maxAttempts,
    requestHandler: {
      connectionTimeout: DYNAMODB_TIMEOUTS.connectionTimeout,
      requestTimeout: DYNAMODB_TIMEOUTS.requestTimeout,
      // Without this the SDK only logs a warning when requestTimeout passes and keeps waiting.
      throwOnRequestTimeout: true,
    },
    ...(config.region ? { region: config.region } : {}),
    ...(config.endpoints.dynamodb ? { endpoint: config.endpoints.dynamodb } : {}),
  });
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
      const { initDynamoTable } = await import('./dynamodb.js');
      await initDynamoTable(client, config.store.table, deps.logger);
    } finally {
      if (!deps.dynamodb) client.destroy();
    }
    return;
  }
  await mkdir(config.dataDir, { recursive: true });
  deps.logger.info({ dataDir: config.dataDir }, 'file store directory ready');
}
