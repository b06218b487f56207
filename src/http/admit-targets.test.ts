// /admit across targets, over a real port: two (account, region) targets in one cache, each snapshot built by the
// real buildSnapshot for its target; the file store and DynamoDB (dynalite) keep the target on every record.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdmitApp } from '../../test/helpers/admit-app.js';
import { startDynalite, type LocalDynamo } from '../../test/helpers/dynalite.js';
import { CLI } from '../../test/helpers/paths.js';
import { rawSampleOf, type SubnetSpec } from '../../test/helpers/world.js';
import { dynamoDbSdk } from '../aws/sdk.js';
import { parseConfig, type Config } from '../config/load.js';
import { silentLogger } from '../log.js';
import { buildSnapshot } from '../snapshot/build.js';
import { SnapshotCache } from '../snapshot/cache.js';
import { DynamoStore } from '../store/dynamodb.js';
import { FileStore } from '../store/file.js';
import { initStore } from '../store/index.js';
import type { AdmissionStore } from '../store/types.js';

const EU = { account: '111111111111', region: 'eu-west-1' };
const US = { account: '222222222222', region: 'us-east-1' };
const A = 'subnet-0a1';
const B = 'subnet-0b1';
const MAX_AGE = 180;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'glue-eni-admit-targets-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function config(over: Record<string, unknown> = {}): Config {
  return parseConfig(
    {
      targets: [
        { account: EU.account, regions: [EU.region], subnets: [{ id: A, name: 'critical' }] },
        { account: US.account, regions: [US.region], subnets: [{ id: B, name: 'batch' }] },
      ],
      sample: { schedule: '* * * * *', maxAgeSeconds: MAX_AGE },
      dataDir: dir,
      admission: { policy: 'rolling-max' },
      ...over,
    },
    {},
  );
}

// `etl` runs in both targets (prod and staging); `only-eu` in one.
const specs: Record<string, SubnetSpec & { target: typeof EU }> = {
  eu: {
    target: EU,
    subnetId: A,
    name: 'critical',
    inUse: 4,
    lingering: 0,
    jobs: [
      { job: 'etl', connection: 'conn-eu', workers: 10 },
      { job: 'only-eu', connection: 'conn-eu', workers: 5 },
    ],
  },
  us: { target: US, subnetId: B, name: 'batch', inUse: 2, lingering: 0, jobs: [{ job: 'etl', connection: 'conn-us', workers: 8 }] },
};

/** Two targets in one cache, on a monotonic clock the test moves. */
function twoTargets(sampled: readonly ('eu' | 'us')[] = ['eu', 'us']) {
  const mono = { t: 1_000_000 };
  const cache = new SnapshotCache(() => mono.t);
  const sample = (which: 'eu' | 'us') => {
    const { target, ...spec } = specs[which];
    const snap = buildSnapshot(rawSampleOf(spec), {
      names: new Map([[spec.subnetId, spec.name ?? spec.subnetId]]),
      ownerDescriptionPrefixes: ['Attached to Glue using role'],
      takenAt: Date.now(),
      completedMono: mono.t,
      durationMs: 1,
      target,
    });
    cache.set(snap, `${target.account}/${target.region}`);
  };
  cache.addTarget(`${EU.account}/${EU.region}`, EU, [A, 'critical']);
  cache.addTarget(`${US.account}/${US.region}`, US, [B, 'batch']);
  for (const t of sampled) sample(t);
  return { cache, mono, sample };
}

async function get(url: string, query: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/admit?${query}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function withApp<T>(
  store: AdmissionStore,
  cfg: Config,
  run: (url: string, world: ReturnType<typeof twoTargets>) => Promise<T>,
  sampled?: readonly ('eu' | 'us')[],
): Promise<T> {
  const world = twoTargets(sampled);
  const app = await startAdmitApp({ cache: world.cache, config: cfg, store });
  try {
    return await run(app.url, world);
  } finally {
    await app.close();
  }
}

describe('/admit across two targets (file store)', () => {
  it('finds a subnet by id or name in either target and answers with its account and region', async () => {
    const store = await FileStore.open({ dataDir: join(dir, 'find'), clock: { now: () => Date.now() }, logger: silentLogger });
    await withApp(store, config(), async (url) => {
      for (const [q, id, t] of [
        ['subnet=critical', A, EU],
        [`subnet=${A}`, A, EU],
        ['subnet=batch', B, US],
        [`subnet=${B}`, B, US],
      ] as const) {
        const r = await get(url, `${q}&workers=2`);
        expect(r.status, q).toBe(200);
        expect(r.body, q).toMatchObject({ admit: true, subnet_id: id, account: t.account, region: t.region });
      }
      // Matching account and region are accepted as given.
      expect((await get(url, `subnet=batch&workers=1&account=${US.account}&region=${US.region}`)).status).toBe(200);
    });
    await store.close();
  });

  it("refuses an account or region that is not the subnet's target (400 naming the parameter and the mismatch)", async () => {
    const store = await FileStore.open({ dataDir: join(dir, 'mismatch'), clock: { now: () => Date.now() }, logger: silentLogger });
    await withApp(store, config(), async (url) => {
      expect(await get(url, `subnet=critical&workers=1&account=${US.account}`)).toEqual({
        status: 400,
        body: { error: `subnet "critical" (${A}) is in 111111111111/eu-west-1, not in account 222222222222`, field: 'account' },
      });
      expect(await get(url, `subnet=${B}&workers=1&account=${US.account}&region=eu-west-1`)).toEqual({
        status: 400,
        body: { error: `subnet "${B}" is in 222222222222/us-east-1, not in region eu-west-1`, field: 'region' },
      });
      expect(await get(url, 'subnet=critical&workers=1&account=12345')).toEqual({
        status: 400,
        body: { error: 'account must be a 12-digit AWS account id, e.g. 111111111111', field: 'account' },
      });
    });
    await store.close();
  });

  it('a job in two targets is a 400 naming both until account= or region= picks one', async () => {
    const store = await FileStore.open({ dataDir: join(dir, 'job'), clock: { now: () => Date.now() }, logger: silentLogger });
    await withApp(store, config(), async (url) => {
      expect(await get(url, 'job=etl')).toEqual({
        status: 400,
        body: {
          error: `job "etl" runs in 111111111111/eu-west-1 (${A}) and 222222222222/us-east-1 (${B}): add account= and/or region=`,
          field: 'job',
        },
      });
      expect((await get(url, `job=etl&account=${US.account}`)).body).toMatchObject({ admit: true, subnet_id: B, workers: 8, ...US });
      expect((await get(url, 'job=etl&region=eu-west-1')).body).toMatchObject({ admit: true, subnet_id: A, workers: 10, ...EU });
      // A job in one target needs neither; naming another target is a 400 saying where it runs.
      expect((await get(url, 'job=only-eu')).body).toMatchObject({ admit: true, subnet_id: A, workers: 5 });
      expect(await get(url, `job=only-eu&account=${US.account}`)).toEqual({
        status: 400,
        body: { error: `job "only-eu" runs in 111111111111/eu-west-1 (${A}), not in account 222222222222`, field: 'account' },
      });
      expect((await get(url, 'job=nope')).status).toBe(404);
    });
    await store.close();
  });

  it("a stale target's subnets answer 503 naming the target and its cause; the fresh target's are admitted", async () => {
    const store = await FileStore.open({ dataDir: join(dir, 'stale'), clock: { now: () => Date.now() }, logger: silentLogger });
    await withApp(store, config(), async (url, world) => {
      world.mono.t += 200_000;
      world.sample('eu');
      world.cache.recordFailure({ at: Date.now(), api: 'AssumeRole', message: 'AccessDenied: not authorized' }, `${US.account}/${US.region}`);
      const stale = await get(url, 'subnet=batch&workers=1');
      expect(stale.status).toBe(503);
      expect(stale.body.error).toBe(
        'target 222222222222/us-east-1: last successful sample is 200 s old (max 180 s); last sample failed: AssumeRole: AccessDenied: not authorized: cannot decide',
      );
      expect(stale.body.snapshot_age_seconds).toBe(200);
      expect((await get(url, `job=etl&account=${US.account}`)).status).toBe(503);
      const fresh = await get(url, 'subnet=critical&workers=1');
      expect(fresh.body).toMatchObject({ admit: true, subnet_id: A, snapshot_age_seconds: 0 });
    });
    await store.close();
  });

  it('a subnet of a target that has no good sample yet is a 503 naming the target, not an unknown subnet', async () => {
    const store = await FileStore.open({ dataDir: join(dir, 'never'), clock: { now: () => Date.now() }, logger: silentLogger });
    await withApp(
      store,
      config(),
      async (url) => {
        expect(await get(url, 'subnet=batch&workers=1')).toEqual({
          status: 503,
          body: { error: 'target 222222222222/us-east-1: no successful sample yet: cannot decide', snapshot_age_seconds: null },
        });
        expect((await get(url, 'subnet=critical&workers=1')).status).toBe(200);
        expect((await get(url, 'subnet=nope&workers=1')).status).toBe(404);
        // The job may run in the target that has no data yet: no guess, unless the request names the other.
        expect(await get(url, 'job=etl')).toEqual({
          status: 503,
          body: {
            error:
              'no successful sample yet of 222222222222/us-east-1: cannot tell whether job "etl" runs there; give account= and/or region= of its target',
            field: 'job',
          },
        });
        expect((await get(url, `job=etl&account=${EU.account}`)).body).toMatchObject({ admit: true, subnet_id: A });
      },
      ['eu'],
    );
    await store.close();
  });

  it('observations, reservations and tickets record the target and read it back after a restart', async () => {
    const clock = { now: () => Date.now() };
    const data = join(dir, 'records');
    const store = await FileStore.open({ dataDir: data, clock, logger: silentLogger });
    await withApp(store, config(), async (url) => {
      expect((await get(url, 'subnet=batch&workers=2&dag_run_id=d1')).body.admit).toBe(true);
      // 59 usable − 2 in use − 2 reserved: no room for 50 + the buffer, so a ticket.
      const wait = await get(url, 'subnet=batch&workers=50&dag_run_id=d2');
      expect(wait.body).toMatchObject({ admit: false, ticket: expect.stringMatching(/^subnet-0b1\.t\./) });
    });
    await store.close();
    const again = await FileStore.open({ dataDir: data, clock, logger: silentLogger });
    const now = Date.now();
    const obs = await again.recentObservations(B, 5, now);
    expect(obs.map((o) => [o.dagRunId, o.account, o.region])).toEqual([
      ['d2', US.account, US.region],
      ['d1', US.account, US.region],
    ]);
    expect(await again.reservations(B, now)).toEqual([expect.objectContaining({ dagRunId: 'd1', ...US })]);
    expect(await again.tickets(B, now)).toEqual([expect.objectContaining({ key: 'd2', ...US })]);
    await again.close();
  });
});

describe('the admit command across two targets (dist/cli.js)', () => {
  /** `glue-eni-exporter admit` as a scheduler runs it: its exit code, stdout and stderr. */
  async function admitCommand(url: string, ...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
    const child = spawn(process.execPath, [CLI, 'admit', '--url', url, '--timeout', '10', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    return { code, out, err };
  }

  it('--account / --region pick the target of a job that runs in two; without them it exits 2 naming both', async () => {
    const store = await FileStore.open({ dataDir: join(dir, 'cli'), clock: { now: () => Date.now() }, logger: silentLogger });
    await withApp(store, config(), async (url) => {
      const both = await admitCommand(url, '--job', 'etl');
      expect(both.code, both.err).toBe(2);
      expect(both.err).toContain(
        `HTTP 400: job "etl" runs in 111111111111/eu-west-1 (${A}) and 222222222222/us-east-1 (${B}): add account= and/or region=`,
      );
      const us = await admitCommand(url, '--job', 'etl', '--account', US.account, '--region', US.region);
      expect(us.code, us.err).toBe(0);
      expect(JSON.parse(us.out)).toMatchObject({ admit: true, subnet_id: B, workers: 8, ...US });
      const wrong = await admitCommand(url, '--subnet', 'critical', '--workers', '1', '--region', 'us-east-1');
      expect(wrong.code).toBe(2);
      expect(wrong.err).toContain('not in region us-east-1 (field region)');
    });
    await store.close();
  }, 30_000);
});

describe('/admit across two targets (DynamoDB, dynalite)', () => {
  let dynamo: LocalDynamo;
  const mkClient = () => dynamo.client();
  beforeAll(async () => {
    dynamo = await startDynalite();
    await initStore(config({ store: { type: 'dynamodb' } }), { logger: silentLogger, dynamodb: mkClient() });
  });
  afterAll(() => dynamo.close());

  it('the items carry the target as attributes; another replica reads it back', async () => {
    const cfg = config({ store: { type: 'dynamodb' } });
    const clock = { now: () => Date.now() };
    const open = () => new DynamoStore({ client: mkClient(), table: cfg.store.table, clock, logger: silentLogger });
    await withApp(open(), cfg, async (url) => {
      expect((await get(url, `job=etl&account=${EU.account}&dag_run_id=e1`)).body).toMatchObject({ admit: true, subnet_id: A, ...EU });
      expect((await get(url, 'subnet=critical&workers=50&dag_run_id=e2')).body).toMatchObject({ admit: false });
    });
    const other = open();
    const now = Date.now();
    expect((await other.recentObservations(A, 5, now)).map((o) => [o.dagRunId, o.account, o.region])).toEqual([
      ['e2', EU.account, EU.region],
      ['e1', EU.account, EU.region],
    ]);
    expect(await other.reservations(A, now)).toEqual([expect.objectContaining({ dagRunId: 'e1', workers: 10, ...EU })]);
    expect(await other.tickets(A, now)).toEqual([expect.objectContaining({ key: 'e2', ...EU })]);
    const { GetItemCommand } = dynamoDbSdk();
    const ledger = await mkClient().send(
      new GetItemCommand({ TableName: cfg.store.table, Key: { subnet_id: { S: `ledger#${A}` }, observed_at: { S: 'ledger' } } }),
    );
    expect(ledger.Item).toMatchObject({ account: { S: EU.account }, region: { S: EU.region } });
    await other.close();
  });
});
