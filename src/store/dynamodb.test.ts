import dynalite from 'dynalite';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamoDbSdk, type DynamoDBClient } from '../aws/sdk.js';
import { createLogger } from '../log.js';
import { DynamoStore } from './dynamodb.js';
import { initStore } from './index.js';
import type { Observation, Reservation } from './types.js';
import { observation, reservation } from '../../test/helpers/records.js';

// The SDK only through src/aws/, as everywhere outside it.
const { DescribeTableCommand, DynamoDBClient: Client, PutItemCommand } = dynamoDbSdk();

const TABLE = 'glue-eni-observations';
const now = Date.parse('2026-04-12T07:00:00.000Z');
const clock = { now: () => now };
let server: Server;
let client: DynamoDBClient;
const logLines: string[] = [];
const logger = createLogger('info', { write: (l: string) => logLines.push(l) } as unknown as NodeJS.WritableStream);

beforeAll(async () => {
  server = dynalite({ createTableMs: 0, updateTableMs: 0, deleteTableMs: 0 });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  client = new Client({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  await initStore({ store: { type: 'dynamodb', table: TABLE, retentionDays: 30 }, dataDir: '.', endpoints: {} }, { logger, dynamodb: client });
});

afterAll(async () => {
  client?.destroy();
  await new Promise<void>((r) => server.close(() => r()));
});

const obs = (i: number, over: Partial<Observation> = {}): Observation =>
  observation(now, { observedAt: now + i, uniq: `u${i}`, available: i, ...over });
const resv = (id: string, over: Partial<Reservation> = {}): Reservation => reservation(`subnet-0a.${id}`, now, over);

describe('DynamoStore against dynalite', () => {
  it('init-store created the keyed table and reported that TTL must be enabled by hand', async () => {
    const t = await client.send(new DescribeTableCommand({ TableName: TABLE }));
    expect(t.Table?.KeySchema).toEqual([
      { AttributeName: 'subnet_id', KeyType: 'HASH' },
      { AttributeName: 'observed_at', KeyType: 'RANGE' },
    ]);
    expect(logLines.join('')).toMatch(/enable TTL on attribute expires_at by hand/);
    // Idempotent: a second init finds the table.
    await initStore({ store: { type: 'dynamodb', table: TABLE, retentionDays: 30 }, dataDir: '.', endpoints: {} }, { logger, dynamodb: client });
  });

  it('keeps observations of one millisecond apart by their uniquifier, newest first, across store objects', async () => {
    const a = new DynamoStore({ client, table: TABLE, clock, logger });
    for (let i = 0; i < 6; i++) {
      await a.transact('subnet-0a', now, () => ({
        observation: obs(i, { observedAt: now + Math.floor(i / 2), lingering: 3, dagRunId: `r${i}` }),
        result: i,
      }));
    }
    const b = new DynamoStore({ client, table: TABLE, clock, logger });
    expect(b.peekObservations('subnet-0a', 5)).toBeUndefined();
    const recent = await b.recentObservations('subnet-0a', 5, now);
    expect(recent.map((o) => o.available)).toEqual([5, 4, 3, 2, 1]);
    expect(recent[0]).toEqual(obs(5, { observedAt: now + 2, lingering: 3, dagRunId: 'r5' }));
    expect(b.peekObservations('subnet-0a', 2)?.map((o) => o.available)).toEqual([5, 4]);
  });

  it('ledger: a reservation survives a new store object; close works once', async () => {
    const a = new DynamoStore({ client, table: TABLE, clock, logger });
    await a.transact('subnet-0a', now, () => ({ observation: obs(10), add: resv('0000000a'), result: 0 }));
    const b = new DynamoStore({ client, table: TABLE, clock, logger });
    expect((await b.reservations('subnet-0a', now)).map((r) => r.id)).toEqual(['subnet-0a.0000000a']);
    expect(await b.closeReservation('subnet-0a.0000000a', 'released', now)).toMatchObject({ closed: 'released', closedAt: now });
    expect(await a.closeReservation('subnet-0a.0000000a', 'released', now)).toBeUndefined();
    expect(await a.closeReservation('subnet-0b.0000000a', 'released', now)).toBeUndefined();
    // Retired entries leave the ledger on its next write.
    const later = now + 700_000;
    await a.transact('subnet-0a', later, () => ({
      observation: obs(11, { observedAt: later }),
      add: resv('0000000b', { createdAt: later, expiresAt: later + 1, retainUntil: later + 2 }),
      result: 0,
    }));
    expect((await a.reservations('subnet-0a', later)).map((r) => r.id)).toEqual(['subnet-0a.0000000b']);
  });

  it('two store objects racing on one ledger never both take the last room', async () => {
    const stores = [0, 1].map(() => new DynamoStore({ client, table: TABLE, clock, logger }));
    const subnet = 'subnet-0c';
    // Room for exactly 3 reservations of 10 in a budget of 30.
    const attempts = Array.from({ length: 40 }, (_, i) =>
      stores[i % 2].transact(subnet, now, ({ reservations: rs }) => {
        const taken = rs.reduce((n, r) => n + r.workers, 0);
        const admit = taken + 10 <= 30;
        return {
          observation: obs(100 + i, { subnetId: subnet }),
          add: admit
            ? {
                ...resv(`${(1000 + i).toString(16).padStart(8, '0')}`),
                id: `${subnet}.${(1000 + i).toString(16).padStart(8, '0')}`,
                subnetId: subnet,
              }
            : undefined,
          result: admit,
        };
      }),
    );
    const results = await Promise.all(attempts);
    expect(results.filter(Boolean)).toHaveLength(3);
    expect(await stores[0].reservations(subnet, now)).toHaveLength(3);
  });
});

describe('DynamoStore ledger from the table', () => {
  it('a reservation with workers "zz" in the shared ledger is ignored and logged, never summed', async () => {
    const good = resv('0000aaaa', { subnetId: 'subnet-0f', id: 'subnet-0f.0000aaaa', workers: 4 });
    const bad = { ...good, id: 'subnet-0f.0000bbbb', workers: 'zz' };
    await client.send(
      new PutItemCommand({
        TableName: TABLE,
        Item: {
          subnet_id: { S: 'ledger#subnet-0f' },
          observed_at: { S: 'ledger' },
          version: { N: '1' },
          reservations: { S: JSON.stringify([good, bad]) },
        },
      }),
    );
    const store = await DynamoStore.open({ client, table: TABLE, clock, logger });
    expect((await store.reservations('subnet-0f', now)).map((r) => r.workers)).toEqual([4]);
    expect(logLines.some((l) => l.includes('invalid reservation ignored') && l.includes('"field":"workers"'))).toBe(true);
    await store.close();
  });
});
