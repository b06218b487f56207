import dynalite from 'dynalite';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamoDbSdk, type DynamoDBClient } from '../aws/sdk.js';
import { createLogger } from '../log.js';
import { itemBytes, ledgerKey } from './dynamodb-items.js';
import { TICKETS_ITEM_BUDGET_BYTES } from './dynamodb-ledger.js';
import { DynamoStore } from './dynamodb.js';
import { initStore } from './index.js';
import { QueueFullError, type Observation, type Reservation, type Ticket } from './types.js';
import { observation, reservation, ticket } from '../../test/helpers/records.js';

// The SDK only through src/aws/, as everywhere outside it.
const { DescribeTableCommand, DynamoDBClient: Client, GetItemCommand, PutItemCommand } = dynamoDbSdk();

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
const byKey = (ts: readonly Ticket[]) => [...ts].sort((a, b) => a.key.localeCompare(b.key));

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

describe('DynamoStore tickets', () => {
  const SUBNET = 'subnet-1a';
  const tkt = (key: string, over: Partial<Ticket> = {}) => ticket(key, now, { subnetId: SUBNET, ...over });

  it('live in the ledger item: a new store object (a restart, another replica) sees them; withdrawals and drops are shared', async () => {
    const a = await DynamoStore.open({ client, table: TABLE, clock, logger });
    const [x, y, z] = [tkt('run-x'), tkt('run-y', { workers: 4 }), tkt('run-z', { deadline: now + 3_600_000 })];
    await a.transact(SUBNET, now, (st) => {
      expect(st).toEqual({ reservations: [], tickets: [] });
      return { observation: obs(200, { subnetId: SUBNET }), putTickets: [x, y, z], result: 0 };
    });
    expect(byKey(a.peekTickets(SUBNET) ?? [])).toEqual([x, y, z]);
    await a.close();

    const b = await DynamoStore.open({ client, table: TABLE, clock, logger });
    expect(b.peekTickets(SUBNET)).toBeUndefined();
    expect(byKey(await b.tickets(SUBNET, now))).toEqual([x, y, z]);
    // b admits y (its reservation and the drop in one conditional write) and re-pokes x.
    const x2 = { ...x, lastPokeAt: now + 1, etaAt: now + 900_000 };
    await b.transact(SUBNET, now, (st) => {
      expect(byKey(st.tickets)).toEqual([x, y, z]);
      return {
        observation: obs(201, { subnetId: SUBNET }),
        add: resv('0000001a', { id: `${SUBNET}.0000001a`, subnetId: SUBNET, workers: 4 }),
        putTickets: [x2],
        dropTickets: [y.id],
        result: 1,
      };
    });
    expect(await b.withdrawTicket(z.id, now)).toEqual(z);
    expect(await b.withdrawTicket(z.id, now)).toBeUndefined();
    expect(await b.withdrawTicket('subnet-1b.t.0123456789abcdef', now)).toBeUndefined();

    const c = new DynamoStore({ client, table: TABLE, clock, logger });
    await c.transact(SUBNET, now, (st) => {
      expect(st.tickets).toEqual([x2]);
      expect(st.reservations.map((r) => r.id)).toEqual([`${SUBNET}.0000001a`]);
      return { observation: obs(202, { subnetId: SUBNET }), result: 0 };
    });
    // Expired tickets are not decided on, and the next write leaves them out of the item.
    const later = x2.expiresAt + 1;
    await c.transact(SUBNET, later, (st) => {
      expect(st.tickets).toEqual([]);
      return {
        observation: obs(203, { subnetId: SUBNET, observedAt: later }),
        putTickets: [tkt('run-w', { enqueuedAt: later, lastPokeAt: later, expiresAt: later + 60_000 })],
        result: 0,
      };
    });
    const item = (await client.send(new GetItemCommand({ TableName: TABLE, Key: ledgerKey(SUBNET), ConsistentRead: true }))).Item;
    expect((JSON.parse(item?.tickets?.S ?? '[]') as Ticket[]).map((t) => t.key)).toEqual(['run-w']);
    await b.close();
  });

  it('two replicas racing to enqueue and admit on one subnet: no ticket lost, no key admitted twice, room never exceeded', async () => {
    const subnet = 'subnet-1c';
    const stores = await Promise.all([0, 1].map(() => DynamoStore.open({ client, table: TABLE, clock, logger })));
    const keys = Array.from({ length: 16 }, (_, i) => `run-${String(i).padStart(2, '0')}`);
    const budget = 40;
    let uniq = 0;
    /** One poke of `key`: enqueue if new; admit when it is the head and its 10 workers fit; else wait. */
    const poke = (key: string, i: number) => {
      const u = uniq++;
      return stores[i % 2].transact(subnet, now, ({ reservations, tickets }) => {
        const o = obs(1000 + u, { subnetId: subnet, uniq: `race${u}` });
        if (reservations.some((r) => r.dagRunId === key)) return { observation: o, result: 'done' as const };
        const known = tickets.find((t) => t.key === key);
        const mine = known ?? ticket(key, now, { subnetId: subnet, enqueuedAt: now + i });
        const head = [...tickets, ...(known ? [] : [mine])].sort((p, q) => p.enqueuedAt - q.enqueuedAt)[0];
        const reserved = reservations.reduce((n, r) => n + r.workers, 0);
        if (head.id === mine.id && reserved + 10 <= budget) {
          const add = reservation(`${subnet}.${(0xa0000000 + i).toString(16)}`, now, {
            subnetId: subnet,
            dagRunId: key,
            expiresAt: now + 3_600_000,
            retainUntil: now + 3_600_000,
          });
          return { observation: o, add, dropTickets: [mine.id], result: 'admit' as const };
        }
        return { observation: o, putTickets: known ? [] : [mine], result: 'wait' as const };
      });
    };
    const results: string[] = [];
    for (let round = 0; round < 4; round++) {
      results.push(...(await Promise.all(keys.map((k, i) => poke(k, i)))));
    }
    const admitted = (await stores[0].reservations(subnet, now)).map((r) => r.dagRunId ?? '');
    expect(results.filter((r) => r === 'admit')).toHaveLength(budget / 10);
    expect(new Set(admitted).size).toBe(budget / 10);
    expect(admitted).toHaveLength(budget / 10);
    // Every key not admitted holds exactly one ticket, seen alike by both replicas; no admitted key holds one.
    for (const s of stores) {
      const queue = (await s.tickets(subnet, now)).map((t) => t.key).sort();
      expect(queue).toEqual(keys.filter((k) => !admitted.includes(k)));
    }
    for (const s of stores) await s.close();
  }, 60_000);

  it(`the ledger item stays under DynamoDB's 400 KB: a step adding a ticket past ${TICKETS_ITEM_BUDGET_BYTES} bytes is refused; re-pokes, admissions and withdrawals still go through`, async () => {
    const store = await DynamoStore.open({ client, table: TABLE, clock, logger });
    /** Fill `subnet` with tickets until a step adding one is refused; the tickets held and the refusal. */
    const fill = async (subnet: string, make: (i: number) => Ticket) => {
      let i = 0;
      for (const batch of [200, 20, 1]) {
        for (;;) {
          const add = Array.from({ length: batch }, (_, k) => make(i + k));
          const err = await store
            .transact(subnet, now, () => ({ observation: obs(5000 + i, { subnetId: subnet }), putTickets: add, result: 0 }))
            .then(
              () => undefined,
              (e: Error) => e,
            );
          if (err) {
            if (batch === 1) return { held: i, err };
            break;
          }
          i += batch;
        }
      }
      throw new Error('unreachable');
    };
    const typical = (subnet: string) => (i: number) =>
      ticket(`scheduled__2026-04-12T07:00:00+00:00_${String(i).padStart(5, '0')}`, now, {
        subnetId: subnet,
        id: `${subnet}.t.${i.toString(16).padStart(16, '0')}`,
        deadline: now + 3_600_000,
        etaAt: now + 1_800_000,
      });
    const { held, err } = await fill('subnet-1d', typical('subnet-1d'));
    expect(err).toBeInstanceOf(QueueFullError);
    expect(err.message).toMatch(/queue of subnet-1d is full: its DynamoDB ledger item would be \d+ bytes with \d+ tickets/);
    const item = (await client.send(new GetItemCommand({ TableName: TABLE, Key: ledgerKey('subnet-1d'), ConsistentRead: true }))).Item!;
    expect(itemBytes(item)).toBeLessThanOrEqual(TICKETS_ITEM_BUDGET_BYTES);
    expect(held).toBeGreaterThan(1200);
    // A full queue still takes re-pokes, an admission that drops its ticket, and withdrawals.
    const first = typical('subnet-1d')(0);
    await store.transact('subnet-1d', now, () => ({
      observation: obs(9000, { subnetId: 'subnet-1d' }),
      putTickets: [{ ...first, lastPokeAt: now + 5, etaAt: now + 1_700_000 }],
      result: 0,
    }));
    await store.transact('subnet-1d', now, () => ({
      observation: obs(9001, { subnetId: 'subnet-1d' }),
      add: resv('0000d001', { id: 'subnet-1d.0000d001', subnetId: 'subnet-1d' }),
      dropTickets: [first.id],
      result: 0,
    }));
    expect(await store.withdrawTicket(typical('subnet-1d')(1).id, now)).toBeDefined();
    expect(await store.tickets('subnet-1d', now)).toHaveLength(held - 2);

    // The largest tickets the schema allows: a 250-character key and a 64-hex digest.
    const largest = await fill('subnet-1e', (i) =>
      ticket(`${'k'.repeat(244)}${String(i).padStart(6, '0')}`, now, {
        subnetId: 'subnet-1e',
        id: `subnet-1e.t.${i.toString(16).padStart(64, '0')}`,
        deadline: now + 3_600_000,
        etaAt: now + 1_800_000,
      }),
    );
    expect(largest.err).toBeInstanceOf(QueueFullError);
    expect(largest.held).toBeGreaterThan(600);
    console.log(`DynamoDB ledger item: ${held} typical tickets fit (${itemBytes(item)} bytes), ${largest.held} of the largest`);
    await store.close();
  }, 120_000);
});
