// DynamoDB going away under the store: a TCP proxy in front of an in-process dynalite is switched to refusing
// or black-holing connections (dynalite keeps running, so its data survives), while the store keeps serving.
import dynalite from 'dynalite';
import { mkdtemp, readFile, rm, stat, appendFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { createServer, connect, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { dynamoDbSdk, type DynamoDBClient } from '../aws/sdk.js';
import { silentLogger } from '../log.js';
import { initDynamoTable } from './dynamodb-init.js';
import { ledgerKey } from './dynamodb-items.js';
import { journalFile } from './dynamodb-outbox.js';
import { DynamoStore } from './dynamodb.js';
import { StoreUnreachableError, type LedgerState, type Observation, type Reservation, type Ticket, type TransactPlan } from './types.js';
import { observation, reservation, ticket } from '../../test/helpers/records.js';

// The SDK only through src/aws/, as everywhere outside it.
const { DynamoDBClient: Client, GetItemCommand, QueryCommand } = dynamoDbSdk();

type Mode = 'pass' | 'refuse' | 'blackhole';

/** A TCP proxy that can be told to stop passing traffic; switching drops every open connection. */
class SwitchProxy {
  mode: Mode = 'pass';
  private readonly sockets = new Set<Socket>();
  private readonly server: NetServer;

  constructor(private readonly targetPort: number) {
    this.server = createServer((c) => this.accept(c));
  }

  async listen(): Promise<number> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return (this.server.address() as AddressInfo).port;
  }

  private track(s: Socket): void {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    s.on('error', () => s.destroy());
  }

  private accept(c: Socket): void {
    this.track(c);
    if (this.mode === 'refuse') {
      c.resetAndDestroy();
      return;
    }
    if (this.mode === 'blackhole') return; // accepted, never answered
    const up = connect(this.targetPort, '127.0.0.1');
    this.track(up);
    c.pipe(up);
    up.pipe(c);
    c.on('close', () => up.destroy());
    up.on('close', () => c.destroy());
  }

  set(mode: Mode): void {
    this.mode = mode;
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.set('refuse');
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

const TABLE = 'glue-eni-outage';
const SUBNET = 'subnet-0d';
const now = Date.parse('2026-04-12T07:00:00.000Z');
const clock = { now: () => now };
const creds = { accessKeyId: 'test', secretAccessKey: 'test' };

let db: Server;
let proxy: SwitchProxy;
let direct: DynamoDBClient;
let proxied: DynamoDBClient;
let dir: string;
/** observed_at sort keys of the observation PutItems that succeeded through the proxy, in completion order. */
const landed: string[] = [];

beforeAll(async () => {
  db = dynalite({ createTableMs: 0, updateTableMs: 0, deleteTableMs: 0 });
  await new Promise<void>((r) => db.listen(0, '127.0.0.1', r));
  const dbPort = (db.address() as AddressInfo).port;
  proxy = new SwitchProxy(dbPort);
  const proxyPort = await proxy.listen();
  direct = new Client({ endpoint: `http://127.0.0.1:${dbPort}`, region: 'us-east-1', credentials: creds });
  proxied = new Client({
    endpoint: `http://127.0.0.1:${proxyPort}`,
    region: 'us-east-1',
    credentials: creds,
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 200, requestTimeout: 400, throwOnRequestTimeout: true },
  });
  proxied.middlewareStack.add(
    (next, context) => async (args) => {
      const out = await next(args);
      const input = args.input as { Item?: { subnet_id?: { S?: string }; observed_at?: { S?: string } } };
      if (context.commandName === 'PutItemCommand' && input.Item?.subnet_id?.S && !input.Item.subnet_id.S.startsWith('ledger#')) {
        landed.push(input.Item.observed_at?.S ?? '');
      }
      return out;
    },
    { step: 'initialize', name: 'recordLandedPuts' },
  );
  await initDynamoTable(direct, TABLE, silentLogger);
  dir = await mkdtemp(join(tmpdir(), 'dynamo-outage-'));
});

afterAll(async () => {
  proxied?.destroy();
  direct?.destroy();
  await proxy?.close();
  await new Promise<void>((r) => db.close(() => r()));
  await rm(dir, { recursive: true, force: true });
});

let seq = 0;
const obs = (available: number, subnetId = SUBNET): Observation => {
  const i = seq++;
  return observation(now, { subnetId, observedAt: now + i, uniq: `o${String(i).padStart(4, '0')}`, available });
};
const sortKey = (o: Observation) => `${new Date(o.observedAt).toISOString()}#${o.uniq}`;

/** The service's shape of plan: admit `workers` when the budget minus live reservations leaves room. */
const planFor =
  (o: Observation, workers: number, budget: number) =>
  ({ reservations }: LedgerState): TransactPlan<boolean> => {
    const taken = reservations.reduce((n, r) => n + r.workers, 0);
    const admit = taken + workers <= budget;
    const add: Reservation | undefined = admit
      ? reservation(`${o.subnetId}.${o.uniq.padStart(8, '0').replace(/o/g, 'a')}`, now, { subnetId: o.subnetId, workers })
      : undefined;
    return { add, observation: { ...o, decision: admit ? 'admit' : 'wait' }, result: admit };
  };

async function tableKeys(subnetId = SUBNET): Promise<string[]> {
  const out = await direct.send(
    new QueryCommand({
      TableName: TABLE,
      KeyConditionExpression: 'subnet_id = :s',
      ExpressionAttributeValues: { ':s': { S: subnetId } },
      ConsistentRead: true,
    }),
  );
  return (out.Items ?? []).map((i) => i.observed_at?.S ?? '');
}

/** How long the store may take to drain or reconnect (its retries back off to 100 ms). */
const SETTLE = { timeout: 8_000, interval: 20 };

/** A store on the proxied client, its retries backing off from 20 to 100 ms. */
const openProxied = () =>
  DynamoStore.open({ client: proxied, table: TABLE, clock, logger: silentLogger, dataDir: dir, retry: { initialMs: 20, maxMs: 100 } });

describe('DynamoStore while DynamoDB is unreachable', () => {
  it('answers waits from memory, refuses reservations, journals writes, and lands them in order on recovery', async () => {
    const store = await DynamoStore.open({
      client: proxied,
      table: TABLE,
      clock,
      logger: silentLogger,
      dataDir: dir,
      retry: { initialMs: 20, maxMs: 150 },
    });
    const acked: Observation[] = [];

    // Up: one admission (reserves 10 of 20), then waits; the window is read from DynamoDB.
    const first = obs(7);
    expect(await store.transact(SUBNET, now, planFor(first, 10, 20))).toBe(true);
    acked.push(first);
    for (const a of [6, 5]) {
      const o = obs(a);
      expect(await store.transact(SUBNET, now, planFor(o, 15, 20))).toBe(false);
      acked.push(o);
    }
    expect((await store.recentObservations(SUBNET, 5, now)).map((o) => o.available)).toEqual([5, 6, 7]);
    expect(store.pendingWrites()).toBe(0);
    expect(store.isReachable).toBe(true);

    // Down (connections reset): the window comes from memory, without waiting on the network.
    proxy.set('refuse');
    const errorsBefore = store.errorCount();
    expect((await store.recentObservations(SUBNET, 5, now)).map((o) => o.available)).toEqual([5, 6, 7]);
    expect(store.isReachable).toBe(false);
    expect(store.errorCount()).toBeGreaterThan(errorsBefore);

    const pendingSeen: number[] = [];
    for (const a of [9, 3, 8]) {
      const o = obs(a);
      // 15 more workers do not fit beside the known reservation of 10: a wait, decided and acknowledged.
      expect(await store.transact(SUBNET, now, planFor(o, 15, 20))).toBe(false);
      acked.push(o);
      pendingSeen.push(store.pendingWrites());
    }
    expect(pendingSeen[pendingSeen.length - 1]).toBeGreaterThanOrEqual(1);
    // The window continues from memory, journaled observations included.
    expect((await store.recentObservations(SUBNET, 4, now)).map((o) => o.available)).toEqual([8, 3, 9, 5]);
    expect(store.peekObservations(SUBNET, 2)?.map((o) => o.available)).toEqual([8, 3]);

    // An admission would need the ledger: refused, and nothing of it is acknowledged.
    const wouldAdmit = obs(1);
    await expect(store.transact(SUBNET, now, planFor(wouldAdmit, 5, 20))).rejects.toThrow(StoreUnreachableError);
    await expect(store.transact(SUBNET, now, planFor(obs(1), 5, 20))).rejects.toThrow(/admission store unreachable: cannot reserve/);
    await expect(store.closeReservation(`${SUBNET}.aaaa0000`, 'released', now)).rejects.toThrow(StoreUnreachableError);

    // Black hole (accepts, never answers): still answered, still journaled.
    proxy.set('blackhole');
    for (const a of [4, 2]) {
      const o = obs(a);
      const t0 = Date.now();
      expect(await store.transact(SUBNET, now, planFor(o, 15, 20))).toBe(false);
      expect(Date.now() - t0).toBeLessThan(300);
      acked.push(o);
    }
    const down = acked.slice(3);
    expect(store.pendingWrites()).toBeGreaterThanOrEqual(down.length);
    // Durable before acknowledged: every one of them is in the journal, in order.
    const journal = (await readFile(join(dir, journalFile(TABLE)), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { uniq: string });
    expect(journal.map((r) => r.uniq)).toEqual(down.map((o) => o.uniq));
    expect(await tableKeys()).not.toContain(sortKey(down[0]));

    // Back: the queue drains in journal order, the count returns to 0, the journal is emptied.
    const landedBefore = landed.length;
    proxy.set('pass');
    await vi.waitFor(() => expect([store.pendingWrites(), store.isReachable]).toEqual([0, true]), SETTLE);
    expect(landed.slice(landedBefore)).toEqual(down.map(sortKey));
    const keys = await tableKeys();
    for (const o of acked) expect(keys).toContain(sortKey(o));
    expect(keys).not.toContain(sortKey(wouldAdmit));
    await vi.waitFor(() => expect(store.replayed).toBe(down.length), SETTLE);
    await store.close();
    expect((await stat(join(dir, journalFile(TABLE)))).size).toBe(0);
  });

  it('a journal left by a stopped process is replayed in order by the next one, a torn last line skipped', async () => {
    const a = await openProxied();
    proxy.set('refuse');
    const down = [obs(11, 'subnet-0e'), obs(12, 'subnet-0e'), obs(13, 'subnet-0e')];
    for (const o of down) expect(await a.transact(o.subnetId, now, planFor(o, 50, 20))).toBe(false);
    expect(a.pendingWrites()).toBe(3);
    await a.close();
    // A crash in the middle of the next append.
    await appendFile(join(dir, journalFile(TABLE)), '{"subnet_id":"subnet-0e","obse');

    proxy.set('pass');
    const landedBefore = landed.length;
    const b = await openProxied();
    expect(b.openReport).toMatchObject({ records: 3, tornTail: true, skipped: 1 });
    // The window is known before DynamoDB is read.
    expect(b.peekObservations('subnet-0e', 3)?.map((o) => o.available)).toEqual([13, 12, 11]);
    await vi.waitFor(() => expect(b.pendingWrites()).toBe(0), SETTLE);
    expect(landed.slice(landedBefore)).toEqual(down.map(sortKey));
    const keys = await tableKeys('subnet-0e');
    expect(keys.sort()).toEqual(down.map(sortKey).sort());
    await b.close();
    expect((await stat(join(dir, journalFile(TABLE)))).size).toBe(0);
  });

  it('tickets: a step while unreachable runs offline on the last ledger seen, its ticket changes unwritten; withdrawals refused', async () => {
    const subnet = 'subnet-0c';
    const store = await openProxied();
    const a = ticket('run-a', now, { subnetId: subnet });
    const b = ticket('run-b', now, { subnetId: subnet });
    const states: LedgerState[] = [];
    /** A step that would enqueue b and drop a, and says whether its answer may claim b's ticket. */
    const step = (st: LedgerState): TransactPlan<string> => {
      states.push(st);
      return { observation: obs(1, subnet), putTickets: [b], dropTickets: [a.id], result: st.offline ? 'keyless wait' : 'holds ticket' };
    };
    await store.transact(subnet, now, () => ({ observation: obs(1, subnet), putTickets: [a], result: 0 }));

    proxy.set('refuse');
    expect(await store.transact(subnet, now, step)).toBe('keyless wait');
    expect(states.at(-1)).toEqual({ reservations: [], tickets: [a], offline: true });
    expect(store.peekTickets(subnet)).toEqual([a]);
    expect(await store.tickets(subnet, now)).toEqual([a]);
    await expect(store.withdrawTicket(a.id, now)).rejects.toThrow(StoreUnreachableError);

    proxy.set('pass');
    await vi.waitFor(() => expect([store.pendingWrites(), store.isReachable]).toEqual([0, true]), SETTLE);
    // The shared ledger holds only what was written while DynamoDB answered.
    const item = (await direct.send(new GetItemCommand({ TableName: TABLE, Key: ledgerKey(subnet), ConsistentRead: true }))).Item;
    expect((JSON.parse(item?.tickets?.S ?? '[]') as Ticket[]).map((t) => t.key)).toEqual(['run-a']);
    expect(await store.transact(subnet, now, step)).toBe('holds ticket');
    expect(states.at(-1)?.offline).toBeUndefined();
    expect(await store.tickets(subnet, now)).toEqual([b]);
    await store.close();
  });

  it('without a journal, a write DynamoDB does not take is refused, never acknowledged', async () => {
    const s = new DynamoStore({ client: proxied, table: TABLE, clock, logger: silentLogger, retry: { initialMs: 20, maxMs: 100 } });
    proxy.set('refuse');
    const o = obs(3, 'subnet-0f');
    await expect(s.transact(o.subnetId, now, planFor(o, 50, 20))).rejects.toThrow(/no local journal/);
    proxy.set('pass');
    await vi.waitFor(() => expect(s.isReachable).toBe(true), SETTLE);
    expect(await tableKeys('subnet-0f')).toEqual([]);
    await s.close();
  });
});
