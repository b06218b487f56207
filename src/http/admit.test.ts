import express from 'express';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDynalite, type LocalDynamo } from '../../test/helpers/dynalite.js';
import { listenLocal } from '../../test/helpers/net.js';
import { waitFor } from '../../test/helpers/wait.js';
import { eni, snapshotOf, subnetView, type SubnetSpec } from '../../test/helpers/world.js';
import { AdmissionService } from '../admission/service.js';
import { parseConfig, type Config } from '../config/load.js';
import { silentLogger } from '../log.js';
import { registerAdmissionMetrics } from '../metrics/admission.js';
import { SnapshotCache } from '../snapshot/cache.js';
import { DynamoStore } from '../store/dynamodb.js';
import { FileStore } from '../store/file.js';
import { initStore } from '../store/index.js';
import type { AdmissionStore } from '../store/types.js';
import { createAdmitRouter } from './admit.js';
import { dynamoDbSdk } from '../aws/sdk.js';

const TOKEN = 'correct-horse-battery-staple';
const A = 'subnet-0a';
const T0 = Date.parse('2026-04-12T07:00:00.000Z');
let now = T0;
const clock = { now: () => now };
let dir: string;
const servers: Server[] = [];
const cleanups: (() => Promise<void> | void)[] = [];

function config(over: Record<string, unknown> = {}): Config {
  return parseConfig(
    {
      subnets: [
        { id: A, name: 'critical' },
        { id: 'subnet-0b', name: 'batch' },
      ],
      sample: { schedule: '* * * * *', maxAgeSeconds: 180 },
      dataDir: dir,
      ...over,
    },
    {},
  );
}

/** A subnet /26 (59 usable) in a given state; attach times well before T0. */
function subnetA(spec: Partial<SubnetSpec> = {}) {
  return subnetView({ subnetId: A, name: 'critical', inUse: 0, available: 0, lingering: 0, attachTime: T0 - 3600_000, ...spec });
}

interface Instance {
  url: string;
  cache: SnapshotCache;
  service: AdmissionService;
  store: AdmissionStore;
  registry: Registry;
  mono: { t: number };
}

async function instance(store: AdmissionStore, cfg: Config, cache?: SnapshotCache, mono = { t: 1000 }): Promise<Instance> {
  cache ??= new SnapshotCache(() => mono.t);
  const service = new AdmissionService({ cache, config: cfg, store, clock, logger: silentLogger });
  service.start();
  const app = express();
  app.get('/-/healthy', (_req, res) => void res.json({ status: 'healthy' }));
  const registry = new Registry();
  registerAdmissionMetrics(registry, { service, store });
  app.get('/metrics', async (_req, res) => void res.type('text/plain').send(await registry.metrics()));
  app.use(createAdmitRouter({ cache, config: cfg, service, logger: silentLogger }));
  const { server, url } = await listenLocal(app);
  servers.push(server);
  return { url, cache, service, store, registry, mono };
}

function setSnapshot(i: Instance, subnets = [subnetA()], glueKnown = true): void {
  i.cache.set(snapshotOf(subnets, { takenAt: now, completedMono: i.mono.t, glueKnown }));
}

// biome-ignore lint/suspicious/noExplicitAny: answers are read field by field, as the wire sends them
type Answer = any;

async function call(url: string, init: RequestInit & { token?: string | null } = {}): Promise<{ status: number; body: Answer; headers: Headers }> {
  const headers = new Headers(init.headers);
  if (init.token !== null) headers.set('authorization', `Bearer ${init.token ?? TOKEN}`);
  const res = await fetch(url, { ...init, headers });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // keep text
  }
  return { status: res.status, body, headers: res.headers };
}

const post = (i: Instance, body: unknown, extra: RequestInit & { token?: string | null } = {}) =>
  call(`${i.url}/admit`, {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
    ...extra,
  });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'glue-eni-admit-'));
});
afterAll(async () => {
  for (const s of servers) await new Promise((r) => s.close(r));
  for (const c of cleanups) await c();
  await rm(dir, { recursive: true, force: true });
});

async function fileInstance(name: string, cfgOver: Record<string, unknown> = {}): Promise<Instance> {
  const cfg = config({ admission: { token: TOKEN, ...((cfgOver.admission as object) ?? {}) }, dataDir: join(dir, name) });
  const store = await FileStore.open({ dataDir: join(dir, name), clock, logger: silentLogger });
  cleanups.push(() => store.close());
  return instance(store, cfg);
}

describe('/admit decisions (file store)', () => {
  let i: Instance;
  beforeAll(async () => {
    // The window and the buffer it gives are rolling-max's.
    i = await fileInstance('decisions', { admission: { policy: 'rolling-max' } });
  });

  it('admits with the numbers, the window and a reservation; then counts the reservation', async () => {
    // 59 usable − (30 in-use + 12 available) = 17 free; buffer max(12, 10) = 12 → 17 < 10 + 12: wait
    setSnapshot(i, [subnetA({ inUse: 30, available: 12, lingering: 4 })]);
    const wait = await call(`${i.url}/admit?subnet=critical&workers=10&dag_run_id=run-1`);
    expect(wait.status).toBe(200);
    expect(wait.body).toMatchObject({
      admit: false,
      reason: expect.stringMatching(/^free 17 − reserved 0 < workers 10 \+ buffer 12/),
      subnet_id: A,
      subnet: 'critical',
      workers: 10,
      free: 17,
      reserved: 0,
      buffer: 12,
      buffer_source: 'available',
      policy: 'rolling-max',
      // The queue derives it from the ETA (~34 min: the 12 available ENIs of unknown age go within 30-40 min,
      // and the ETA follows their likely course).
      retry_after_seconds: 300,
      eta_seconds: 34 * 60,
      queue_position: 1,
      ahead: 0,
      will_miss_deadline: false,
      observed_at: new Date(now).toISOString(),
    });
    expect(wait.body.window).toEqual([{ observed_at: new Date(now).toISOString(), dag_run_id: 'run-1', value: 12 }]);
    expect(wait.body.reservation_id).toBeUndefined();
    expect(wait.headers.get('retry-after')).toBe('300');
    // The wait was recorded before the answer.
    expect((await i.store.recentObservations(A, 1, now))[0]).toMatchObject({ decision: 'wait', dagRunId: 'run-1', available: 12, lingering: 4 });

    // Cleanup done: 30 in-use, 0 available → free 29; window still holds the 12 → buffer 12; 29 ≥ 22: admit.
    now += 60_000;
    setSnapshot(i, [subnetA({ inUse: 30, available: 0, lingering: 0 })]);
    const ok = await post(i, { subnet: A, workers: 7, dag_run_id: 'run-2' });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ admit: true, free: 29, reserved: 0, buffer: 12, expires_at: new Date(now + 300_000).toISOString() });
    expect(ok.body.reservation_id).toMatch(/^subnet-0a\./);
    expect(ok.body.window.map((e: { value: number }) => e.value)).toEqual([0, 12]);

    const next = await post(i, { subnet: A, workers: 11 });
    expect(next.body).toMatchObject({ admit: false, reserved: 7, reason: expect.stringMatching(/^free 29 − reserved 7 < workers 11 \+ buffer 12/) });

    const metrics = await (await fetch(`${i.url}/metrics`)).text();
    expect(metrics).toMatch(/glue_eni_reserved_ips\{subnet_id="subnet-0a",subnet="critical",account_id="",region=""\} 7/);
    expect(metrics).toMatch(/glue_eni_cleanup_buffer\{subnet_id="subnet-0a",subnet="critical",account_id="",region=""\} 12/);
    expect(metrics).toMatch(/glue_eni_admission_headroom_workers\{subnet_id="subnet-0a",subnet="critical",account_id="",region=""\} 10/);
    expect(metrics).toMatch(
      /glue_eni_admission_decisions_total\{subnet_id="subnet-0a",subnet="critical",account_id="",region="",decision="admit"\} 1/,
    );
    expect(metrics).toMatch(
      /glue_eni_admission_decisions_total\{subnet_id="subnet-0a",subnet="critical",account_id="",region="",decision="wait"\} 2/,
    );
    expect(metrics).toMatch(
      /glue_eni_admission_window_enis\{subnet_id="subnet-0a",subnet="critical",account_id="",region="",slot="3",dag_run_id="run-1"\} 12/,
    );
    expect(metrics).toMatch(/glue_eni_store_pending_writes\{store="file"\} 0/);

    // Released early: the room is back.
    const del = await call(`${i.url}/admit/${ok.body.reservation_id}`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect(del.body).toMatchObject({ released: true, reservation_id: ok.body.reservation_id, workers: 7 });
    expect((await call(`${i.url}/admit/${ok.body.reservation_id}`, { method: 'DELETE' })).status).toBe(404);
    expect((await post(i, { subnet: A, workers: 7 })).body).toMatchObject({ admit: true, reserved: 0 });
  });

  it('a reservation is consumed once its workers show up as ENIs', async () => {
    now += 600_000;
    setSnapshot(i, [subnetA({ inUse: 10 })]);
    const r = await post(i, { subnet: A, workers: 10 });
    expect(r.body.admit).toBe(true);
    // Probes ask for the whole subnet: always a wait, so they reserve nothing themselves.
    const probe = async () => (await post(i, { subnet: A, workers: 59 })).body.reserved;
    expect(await probe()).toBe(10);
    // 6 of its 10 ENIs attach: 4 still reserved.
    const attached = (n: number) => Array.from({ length: n }, (_, k) => eni(`eni-new${k}`, 'in-use', now + 1000 + k));
    now += 30_000;
    setSnapshot(i, [subnetA({ inUse: 10, extraEnis: attached(6) })]);
    await i.service.idle();
    expect(await probe()).toBe(4);
    setSnapshot(i, [subnetA({ inUse: 10, extraEnis: attached(10) })]);
    await i.service.idle();
    const rs = await i.store.reservations(A, now);
    expect(rs.find((x) => x.id === r.body.reservation_id)?.closed).toBe('consumed');
    expect(await probe()).toBe(0);
  });

  it('resolves a Glue job to its subnet and worker count', async () => {
    now += 600_000;
    setSnapshot(i, [
      subnetA({
        jobs: [
          { job: 'customer-analytics-daily', connection: 'conn-a', workers: 10 },
          { job: 'adhoc', connection: 'conn-a' },
        ],
      }),
    ]);
    const r = await post(i, { job: 'customer-analytics-daily', dag_run_id: 'd1' });
    expect(r.body).toMatchObject({ admit: true, subnet_id: A, workers: 10 });
    const missing = await post(i, { job: 'adhoc' });
    expect(missing).toMatchObject({ status: 400, body: { field: 'workers' } });
    expect((await post(i, { job: 'adhoc', workers: 2 })).body).toMatchObject({ admit: true, workers: 2 });
  });

  it('gives every bad input its 4xx and a message naming the field', async () => {
    now += 600_000;
    setSnapshot(i, [subnetA({ jobs: [{ job: 'j', connection: 'c', workers: 10 }] })]);
    const q = (s: string) => call(`${i.url}/admit?${s}`);
    const cases: [Promise<{ status: number; body: Answer }>, number, string | undefined, RegExp][] = [
      [q('subnet=critical'), 400, 'workers', /^workers must be an integer from 1 to 59$/],
      [q('subnet=critical&workers=0'), 400, 'workers', /^workers must be an integer from 1 to 59$/],
      [q('subnet=critical&workers=1e9'), 400, 'workers', /^workers must be an integer from 1 to 59$/],
      [q('subnet=critical&workers=1000000000'), 400, 'workers', /^workers must be an integer from 1 to 59$/],
      [q('subnet=critical&workers=ten'), 400, 'workers', /^workers must be an integer from 1 to 59$/],
      [post(i, { subnet: A, workers: 2.5 }), 400, 'workers', /^workers must be an integer from 1 to 59$/],
      [q('workers=10'), 400, 'subnet', /subnet is required/],
      [q('subnet=critical&subnet=batch&workers=1'), 400, 'subnet', /subnet must be given once/],
      [q('subnet=nope&workers=10'), 404, 'subnet', /subnet "nope" is not watched/],
      [q('job=nope'), 404, 'job', /job "nope" is bound to no watched subnet/],
      [post(i, '{"subnet": "critical", "workers":'), 400, 'body', /not valid JSON/],
      [post(i, '[1,2]'), 400, 'body', /JSON object/],
      [post(i, { subnet: A, workers: 1, dag_run_id: 'x'.repeat(5000) }), 413, 'body', /larger than 4kb/],
      [post(i, { subnet: A, workers: 1, dag_run_id: 'a\nb' }), 400, 'dag_run_id', /control characters/],
      [
        q('subnet=critical&workers=1').then(() => call(`${i.url}/admit?subnet=critical&workers=1`, { token: null })),
        401,
        'authorization',
        /missing bearer token/,
      ],
      [call(`${i.url}/admit?subnet=critical&workers=1`, { token: 'wrong-token-of-some-length' }), 401, 'authorization', /wrong bearer token/],
      [
        call(`${i.url}/admit/subnet-0a.00000000-0000-0000-0000-000000000000`, { method: 'DELETE' }),
        404,
        'reservation_id',
        /unknown or no longer live/,
      ],
      [call(`${i.url}/admit`, { method: 'PUT' }), 405, undefined, /not allowed/],
      [q('subnet=critical&workers=1&deadline=tomorrow'), 400, 'deadline', /deadline must be an ISO 8601 time with a zone/],
      [q('subnet=critical&workers=1&deadline=2026-04-12T07:30:00'), 400, 'deadline', /with a zone/],
      [q('subnet=critical&workers=1&deadline=2020-01-01T00:00:00Z'), 400, 'deadline', /deadline 2020-01-01T00:00:00.000Z is in the past/],
      [q('subnet=critical&workers=1&max_wait_seconds=-5'), 400, 'max_wait_seconds', /max_wait_seconds must be an integer from 1 to 604800/],
      [
        post(i, { subnet: A, workers: 1, deadline: '2099-01-01T00:00:00Z', max_wait_seconds: 60 }),
        400,
        'deadline',
        /deadline and max_wait_seconds both given/,
      ],
      [q('subnet=critical&workers=1&dry_run=yes'), 400, 'dry_run', /dry_run must be true or false/],
      [q('subnet=critical&workers=1&dry_run=true&dry_run=false'), 400, 'dry_run', /dry_run must be given once/],
      [post(i, { subnet: A, workers: 1, client_id: 'a\u0007' }), 400, 'client_id', /control characters/],
      [call(`${i.url}/admit/subnet-0a.t.0123456789abcdef`, { method: 'DELETE' }), 404, 'ticket', /ticket "subnet-0a.t.0123456789abcdef" is unknown/],
    ];
    for (const [p, status, field, msg] of cases) {
      const r = await p;
      expect({ status: r.status, field: r.body.field }).toEqual({ status, field });
      expect(r.body.error).toMatch(msg);
    }
    // Open routes stay open without a token.
    expect((await call(`${i.url}/-/healthy`, { token: null })).status).toBe(200);
    expect((await call(`${i.url}/metrics`, { token: null })).status).toBe(200);
    const metrics = await (await fetch(`${i.url}/metrics`)).text();
    expect(metrics).toMatch(/glue_eni_admission_decisions_total\{subnet_id="",subnet="",account_id="",region="",decision="error"\} \d+/);
  });

  it('answers 503 with the age when the snapshot is stale or missing, never a guess', async () => {
    const fresh = await fileInstance('stale');
    const none = await call(`${fresh.url}/admit?subnet=critical&workers=1`);
    expect(none).toMatchObject({ status: 503, body: { error: expect.stringMatching(/no successful sample yet/) } });
    setSnapshot(fresh);
    expect((await call(`${fresh.url}/admit?subnet=critical&workers=1`)).status).toBe(200);
    fresh.mono.t += 181_000;
    const stale = await call(`${fresh.url}/admit?subnet=critical&workers=1`);
    expect(stale.status).toBe(503);
    expect(stale.body.error).toMatch(/last successful sample is 181 s old \(max 180 s\)/);
    expect(stale.body.snapshot_age_seconds).toBe(181);
    // The tail needs Glue data: unknown Glue is a 503 too, for the default (forecast) and for rolling-max on the tail.
    for (const [name, admission, policy] of [
      ['glue-unknown-default', {}, 'forecast'],
      ['glue-unknown-tail', { policy: 'rolling-max', bufferSource: 'tail' }, 'rolling-max'],
    ] as const) {
      const g = await fileInstance(name, { admission });
      setSnapshot(g, [subnetA({ lingering: undefined })], false);
      const r = await call(`${g.url}/admit?subnet=critical&workers=1&dag_run_id=run-g`);
      expect(r.status).toBe(503);
      expect(r.body.error).toMatch(/^Glue data is unknown \(.+\): the tail \(available \+ lingering\) cannot be computed$/);
      expect(r.body.admit).toBeUndefined();
      // Glue back: the same request decides.
      setSnapshot(g, [subnetA({ lingering: 0 })]);
      expect((await call(`${g.url}/admit?subnet=critical&workers=1&dag_run_id=run-g`)).body).toMatchObject({ admit: true, policy });
    }
    // rolling-max on available (the field report's gate) still decides without Glue data.
    const ipsOnly = await fileInstance('glue-unknown-available', { admission: { policy: 'rolling-max' } });
    setSnapshot(ipsOnly, [subnetA({ lingering: undefined })], false);
    expect((await call(`${ipsOnly.url}/admit?subnet=critical&workers=1`)).body).toMatchObject({ admit: true, policy: 'rolling-max' });
  });
});

describe('200 concurrent /admit with room for exactly two 10-worker jobs', () => {
  // 59 usable − 20 held = 39 free; buffer 10 (floor): 39 ≥ 20, 29 ≥ 20, 19 < 20.
  const room = () => [subnetA({ inUse: 20 })];

  it('one instance, file store: exactly two admitted', async () => {
    const i = await fileInstance('race');
    setSnapshot(i, room());
    const answers = await Promise.all(Array.from({ length: 200 }, (_, k) => call(`${i.url}/admit?subnet=${A}&workers=10&dag_run_id=r${k}`)));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(answers.filter((a) => a.body.admit)).toHaveLength(2);
    expect(await i.store.recentObservations(A, 100, now)).toHaveLength(100);
  });

  describe('two instances sharing one DynamoDB table (dynalite)', () => {
    let dynamo: LocalDynamo;
    const mkClient = () => dynamo.client();
    beforeAll(async () => {
      dynamo = await startDynalite();
      const cfg = config({ store: { type: 'dynamodb' } });
      await initStore(cfg, { logger: silentLogger, dynamodb: mkClient() });
    });
    afterAll(() => dynamo.close());

    it('exactly two admitted in total; a restarted instance keeps the window and the reservations', async () => {
      const cfg = config({ store: { type: 'dynamodb' }, admission: { token: TOKEN, policy: 'rolling-max' } });
      const [x, y] = await Promise.all(
        [0, 1].map(() => instance(new DynamoStore({ client: mkClient(), table: cfg.store.table, clock, logger: silentLogger }), cfg)),
      );
      setSnapshot(x, room());
      setSnapshot(y, room());
      const answers = await Promise.all(
        Array.from({ length: 200 }, (_, k) => call(`${(k % 2 ? x : y).url}/admit?subnet=${A}&workers=10&dag_run_id=r${k}`)),
      );
      expect(answers.map((a) => a.status).filter((s) => s !== 200)).toEqual([]);
      const admitted = answers.filter((a) => a.body.admit);
      expect(admitted).toHaveLength(2);

      // A new store object (a restarted replica) sees the same window and both reservations.
      now += 1000;
      const z = await instance(new DynamoStore({ client: mkClient(), table: cfg.store.table, clock, logger: silentLogger }), cfg);
      setSnapshot(z, [subnetA({ inUse: 20, available: 15 })]);
      const r = await call(`${z.url}/admit?subnet=${A}&workers=1&dag_run_id=after-restart`);
      expect(r.body).toMatchObject({ admit: false, reserved: 20, buffer: 15 });
      expect(r.body.window).toHaveLength(5);
      expect(r.body.window[1].dag_run_id).toMatch(/^r\d+$/);
    });
  });

  it('file store restart keeps the window and the live reservations', async () => {
    const name = 'restart';
    const over = { admission: { policy: 'rolling-max' } };
    const a = await fileInstance(name, over);
    setSnapshot(a, [subnetA({ inUse: 20, available: 14 })]);
    expect((await post(a, { subnet: A, workers: 5, dag_run_id: 'before' })).body.admit).toBe(true);
    await a.store.close();
    const b = await fileInstance(name, over);
    setSnapshot(b, [subnetA({ inUse: 20 })]);
    const r = await post(b, { subnet: A, workers: 5, dag_run_id: 'after' });
    expect(r.body).toMatchObject({ reserved: 5, buffer: 14 });
    expect(r.body.window.map((e: { dag_run_id: string }) => e.dag_run_id)).toEqual(['after', 'before']);
  });
});

describe('forecast learns its margin from gate bypasses', () => {
  it('tells reserved ENIs from manual ones, exports the count, and keeps it across a restart', async () => {
    const name = 'bypass';
    const over = { admission: { policy: 'forecast', bypassMemoryDays: 1 } };
    const a = await fileInstance(name, over);
    const sample = async (i: Instance, extra: ReturnType<typeof eni>[]) => {
      setSnapshot(i, [subnetA({ inUse: 20, extraEnis: extra })]);
      await i.service.idle();
    };
    await sample(a, []);
    // Learning: the margin is minBuffer. 59 − 20 = 39 free ≥ 10 + 10.
    const first = await post(a, { subnet: A, workers: 10 });
    expect(first.body).toMatchObject({ admit: true, buffer: 10 });
    expect(first.body.reason).toContain('margin 10 (min buffer: 0.0 of 1 d of bypasses watched)');

    // The admitted run's 10 ENIs attach, and someone starts 3 workers by hand, past the gate.
    const t = now;
    const enis = [
      ...Array.from({ length: 10 }, (_, k) => eni(`eni-gated${k}`, 'in-use', t + 20_000 + k)),
      ...Array.from({ length: 3 }, (_, k) => eni(`eni-manual${k}`, 'in-use', t + 40_000 + k)),
    ];
    for (let m = 1; m <= 24 * 60; m++) {
      now = t + m * 60_000;
      await sample(a, enis);
    }
    const metrics = await (await fetch(`${a.url}/metrics`)).text();
    expect(metrics).toContain('glue_eni_gate_bypass_addresses_total{subnet_id="subnet-0a",subnet="critical",account_id="",region=""} 3');
    // A day watched: the margin is the 3 manual addresses. 59 − 33 = 26 free ≥ 10 + 3 (minBuffer 10 would
    // also admit; 14 workers tell them apart: 26 ≥ 14 + 3 but 26 < 14 + 10).
    const learned = await post(a, { subnet: A, workers: 14 });
    expect(learned.body).toMatchObject({ admit: true, buffer: 3 });
    expect(learned.body.reason).toContain('margin 3 (most bypass addresses in 2 samples over 1 d)');
    await a.store.close();

    const b = await fileInstance(name, over);
    now += 60_000;
    await sample(b, enis);
    expect(await (await fetch(`${b.url}/metrics`)).text()).toContain(
      'glue_eni_gate_bypass_addresses_total{subnet_id="subnet-0a",subnet="critical",account_id="",region=""} 3',
    );
    // Still learned after the restart (the watched day is remembered); the bypass is now more than a day old.
    expect((await post(b, { subnet: A, workers: 1 })).body.reason).toContain('margin 0 (most bypass addresses in 2 samples over 1 d)');
  });
});

describe('the admission queue over HTTP (file store)', () => {
  const MIN = 60_000;
  // Static buffer 0 keeps the arithmetic plain: room = free − reserved. 25 in-use ENIs of a running job (held),
  // `available` ENIs of unknown age (predicted back within 30-40 min).
  const queued = (name: string, admission: Record<string, unknown> = {}) =>
    fileInstance(name, { admission: { policy: 'static', staticBuffer: 0, ...admission } });
  const state = (i: Instance, inUse: number, available: number) => setSnapshot(i, [subnetA({ inUse, available, lingering: 0 })]);
  const poke = (i: Instance, workers: number, fields: Record<string, unknown> = {}) => post(i, { subnet: A, workers, ...fields });
  const metricsOf = async (i: Instance) => (await fetch(`${i.url}/metrics`)).text();
  /**
   * Launches hold their addresses to the horizon, so a later one may only take what the head will not need
   * when it starts: the overshoot of the forecast's biggest step. A head of `workers` starts at that step and
   * leaves `spare` free beside it.
   */
  const steppedHead = (i: Instance) => {
    // The queue's ETAs follow the likely (p50) course of the releases.
    const forecast = i.service.forecast(A);
    const f = forecast?.likely ?? forecast?.free ?? [];
    let best = 1;
    for (let t = 1; t < f.length; t++) if (f[t] - f[t - 1] > f[best] - f[best - 1]) best = t;
    const workers = f[best - 1] + 1;
    return { workers, spare: f[best] - workers, startsIn: best * 60 };
  };

  it('serves a queue of three sensors in arrival order, each with its place and ETA', async () => {
    const i = await queued('queue-order');
    state(i, 25, 25); // free 9
    // One millisecond apart: arrival order (ties would go by ticket id).
    const arrive = async (k: string) => {
      now += 1;
      return poke(i, 10, { dag_run_id: k });
    };
    const [a, b, c] = [await arrive('a'), await arrive('b'), await arrive('c')];
    expect([a.body.queue_position, b.body.queue_position, c.body.queue_position]).toEqual([1, 2, 3]);
    expect([a.body.ahead, b.body.ahead, c.body.ahead]).toEqual([0, 1, 2]);
    expect(a.body.eta_seconds).toBeGreaterThan(0);
    expect(a.body.eta_seconds).toBeLessThanOrEqual(b.body.eta_seconds);
    expect(b.body.eta_seconds).toBeLessThanOrEqual(c.body.eta_seconds);
    expect(c.body.eta_seconds).toBeLessThanOrEqual(40 * 60);
    expect(a.body.ticket).toMatch(/^subnet-0a\.t\.[0-9a-f]+$/);
    expect(a.body.reason).toMatch(/room for 10 expected in ~\d+ min, 0 ahead$/);
    expect(c.headers.get('retry-after')).toBe(String(c.body.retry_after_seconds));
    expect(await metricsOf(i)).toMatch(/glue_eni_queue_length\{subnet_id="subnet-0a",subnet="critical",account_id="",region=""\} 3/);

    // The sensors keep poking (every 5 min) while the tail drains slowly.
    for (let m = 5; m <= 30; m += 5) {
      now += 5 * MIN;
      state(i, 25, 25);
      for (const k of ['a', 'b', 'c']) expect((await poke(i, 10, { dag_run_id: k })).body.admit).toBe(false);
    }
    // 5 addresses back: room for one. The last comes first and waits; so does the second; the head launches.
    now += 5 * MIN;
    state(i, 25, 20); // free 14
    expect((await poke(i, 10, { dag_run_id: 'c' })).body).toMatchObject({ admit: false, queue_position: 3 });
    expect((await poke(i, 10, { dag_run_id: 'b' })).body).toMatchObject({ admit: false, queue_position: 2 });
    expect((await poke(i, 10, { dag_run_id: 'a' })).body).toMatchObject({ admit: true, eta_seconds: 0, reserved: 0 });
    expect((await poke(i, 10, { dag_run_id: 'b' })).body).toMatchObject({ admit: false, queue_position: 1, reserved: 10 });

    // The head's workers attached, its reservation ran out, the tail drained further: room for one more.
    now += 6 * MIN;
    state(i, 35, 5); // free 19
    expect((await poke(i, 10, { dag_run_id: 'c' })).body).toMatchObject({ admit: false, queue_position: 2, ahead: 1 });
    expect((await poke(i, 10, { dag_run_id: 'b' })).body).toMatchObject({ admit: true });
    expect((await poke(i, 10, { dag_run_id: 'c' })).body).toMatchObject({ admit: false, queue_position: 1, ahead: 0 });
    expect((await i.store.tickets(A, now)).map((t) => t.key)).toEqual(['c']);
  });

  it('backfills a small request that delays nobody, and refuses one that would', async () => {
    const i = await queued('queue-backfill');
    state(i, 25, 25); // free 9 now, 34 once the tail is gone
    const big = steppedHead(i);
    expect(big.spare).toBeGreaterThanOrEqual(2);
    const head = await poke(i, big.workers, { dag_run_id: 'big' });
    expect(head.body).toMatchObject({ admit: false, queue_position: 1, eta_seconds: big.startsIn });
    // One more than the spare now would leave the head short when it starts: refused.
    const over = await poke(i, big.spare + 1);
    expect(over.body).toMatchObject({ admit: false, queue_position: 2, ahead: 1 });
    const four = await poke(i, big.spare, { client_id: 'small' });
    expect(four.body).toMatchObject({ admit: true, eta_seconds: 0, ahead: 1 });
    expect(four.body.reason).toMatch(/launches ahead of 1 waiting \(delays none of them\)$/);
    expect(four.body.reservation_id).toMatch(/^subnet-0a\./);
    // The head's ETA did not move.
    expect((await poke(i, big.workers, { dag_run_id: 'big' })).body.eta_seconds).toBe(head.body.eta_seconds);
  });

  it('says will_miss_deadline at once for an impossible deadline, drops the ticket and counts the miss once', async () => {
    const i = await queued('queue-deadline');
    state(i, 25, 25);
    // Every watched subnet's counter shows from 0, so that increase() sees the first miss.
    expect(await metricsOf(i)).toMatch(/glue_eni_deadline_misses_total\{subnet_id="subnet-0a",subnet="critical",account_id="",region=""\} 0\n/);
    const miss = await poke(i, 10, { dag_run_id: 'hurry', max_wait_seconds: 600 });
    expect(miss.body).toMatchObject({ admit: false, will_miss_deadline: true, deadline: new Date(now + 600_000).toISOString() });
    expect(miss.body.eta_seconds).toBeGreaterThan(600);
    expect(miss.body.ticket).toBeUndefined();
    expect(miss.body.reason).toMatch(/cannot be met/);
    expect(await i.store.tickets(A, now)).toEqual([]);
    await poke(i, 10, { dag_run_id: 'hurry', max_wait_seconds: 600 });
    const m = await metricsOf(i);
    expect(m).toMatch(/glue_eni_deadline_misses_total\{subnet_id="subnet-0a",subnet="critical",account_id="",region=""\} 1\n/);
    // A deadline the ETA meets holds a ticket.
    const ok = await poke(i, 10, { dag_run_id: 'calm', deadline: new Date(now + 3 * 3600_000).toISOString() });
    expect(ok.body).toMatchObject({ will_miss_deadline: false, queue_position: 1 });
  });

  it("drops a dead sensor's ticket after 3 × the retry_after it was last told", async () => {
    const i = await queued('queue-dead');
    state(i, 25, 25);
    const dead = await poke(i, 10, { dag_run_id: 'dead' });
    expect(dead.body.retry_after_seconds).toBe(300);
    now += 3 * 300_000 - 1000;
    state(i, 25, 25);
    expect((await poke(i, 10, { dag_run_id: 'alive' })).body).toMatchObject({ queue_position: 2 });
    now += 2000;
    state(i, 25, 25);
    expect((await poke(i, 10, { dag_run_id: 'alive' })).body).toMatchObject({ queue_position: 1, ahead: 0 });
    expect((await i.store.tickets(A, now)).map((t) => t.key)).toEqual(['alive']);
  });

  it('withdraws a ticket on DELETE /admit/<ticket>; the queue and its metrics show it gone', async () => {
    const i = await queued('queue-delete');
    state(i, 25, 25);
    const t = await poke(i, 10, { dag_run_id: 'gone' });
    let m = await metricsOf(i);
    expect(m).toMatch(/glue_eni_queue_length\{subnet_id="subnet-0a",subnet="critical",account_id="",region=""\} 1/);
    expect(m).toMatch(
      new RegExp(`glue_eni_queue_head_eta_seconds\\{subnet_id="subnet-0a",subnet="critical",account_id="",region=""\\} ${t.body.eta_seconds}\\n`),
    );
    expect(m).toMatch(/glue_eni_predicted_free_ips\{subnet_id="subnet-0a",subnet="critical",account_id="",region="",horizon="15m"\} 9\n/);
    expect(m).toMatch(/glue_eni_predicted_free_ips\{subnet_id="subnet-0a",subnet="critical",account_id="",region="",horizon="60m"\} 34\n/);
    const del = await call(`${i.url}/admit/${t.body.ticket}`, { method: 'DELETE' });
    expect(del).toMatchObject({ status: 200, body: { withdrawn: true, ticket: t.body.ticket, workers: 10 } });
    expect((await call(`${i.url}/admit/${t.body.ticket}`, { method: 'DELETE' })).status).toBe(404);
    m = await metricsOf(i);
    expect(m).toMatch(/glue_eni_queue_length\{subnet_id="subnet-0a",subnet="critical",account_id="",region=""\} 0/);
    expect(m).not.toMatch(/glue_eni_queue_head_eta_seconds\{subnet_id="subnet-0a"/);
    expect((await poke(i, 10, { dag_run_id: 'next' })).body).toMatchObject({ queue_position: 1 });
  });

  it('dry_run answers what would be answered and changes nothing: store log, queue, /metrics', async () => {
    const i = await queued('queue-dry');
    state(i, 25, 25);
    // The head leaves room for a small launch beside it, not for 10 more.
    const big = steppedHead(i);
    await poke(i, big.workers, { dag_run_id: 'first' });
    const settled = async () => {
      await waitFor("the store's writes settled", () => (i.store.pendingWrites() === 0 ? true : undefined));
      return { bytes: i.store.storeBytes(), metrics: await metricsOf(i), tickets: await i.store.tickets(A, now) };
    };
    const before = await settled();
    const wait = await poke(i, 10, { dag_run_id: 'second', dry_run: true });
    const admit = await call(`${i.url}/admit?subnet=critical&workers=${big.spare}&client_id=small&dry_run=true`);
    expect(wait.body).toMatchObject({ dry_run: true, admit: false, queue_position: 2, ahead: 1 });
    expect(admit.body).toMatchObject({ dry_run: true, admit: true });
    expect(admit.body.reservation_id).toBeUndefined();
    expect(admit.headers.get('cache-control')).toBe('no-store');
    expect(await settled()).toEqual(before);
    // The real request answers the same.
    // The real request answers the same, and only it holds a ticket: a preview writes none, so names none.
    const real = await poke(i, 10, { dag_run_id: 'second' });
    const { dry_run: _, ...preview } = wait.body;
    expect(preview.ticket).toBeUndefined();
    const { ticket, ...answered } = real.body;
    expect(ticket).toMatch(/^subnet-[0-9a-f]+\.t\.[0-9a-f]+$/);
    expect(answered).toEqual(preview);
  });

  it('with queue: false answers exactly as before: yes or no, no tickets', async () => {
    const i = await queued('queue-off', { queue: false });
    state(i, 25, 25);
    const w = await poke(i, 10, { dag_run_id: 'x', max_wait_seconds: 600 });
    expect(Object.keys(w.body).sort()).toEqual(
      [
        'admit',
        'reason',
        'subnet_id',
        'subnet',
        // The subnet's target (every answer names it since there can be several).
        'account',
        'region',
        'workers',
        'free',
        'reserved',
        'buffer',
        'buffer_source',
        'policy',
        'headroom_workers',
        'window',
        'observed_at',
        'snapshot_age_seconds',
        'dag_run_id',
        'retry_after_seconds',
        'deadline',
      ].sort(),
    );
    expect(w.body.retry_after_seconds).toBe(60);
    expect(w.body.reason).toBe('free 9 − reserved 0 < workers 10 + buffer 0 (static buffer 0)');
    expect(await i.store.tickets(A, now)).toEqual([]);
    expect(await metricsOf(i)).toMatch(/glue_eni_queue_length\{subnet_id="subnet-0a",subnet="critical",account_id="",region=""\} 0/);
  });
});
