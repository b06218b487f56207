// DynamoDB for tests: dynalite on 127.0.0.1 (a free port), and real SDK clients against it.
import dynalite from 'dynalite';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dynamoDbSdk, type DynamoDBClient } from '../../src/aws/sdk.js';

export interface LocalDynamo {
  /** A new client of the local table service (destroyed by close). */
  client(): DynamoDBClient;
  /** Destroy the clients, then stop the server. */
  close(): Promise<void>;
}

export async function startDynalite(): Promise<LocalDynamo> {
  const server: Server = dynalite({ createTableMs: 0 });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const clients: DynamoDBClient[] = [];
  return {
    client() {
      const c = new (dynamoDbSdk().DynamoDBClient)({
        endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        region: 'us-east-1',
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      });
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients.splice(0)) c.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
