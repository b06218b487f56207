// The read side of the API over a real port: one subnet by id or name with its admission preview (read from
// memory: nothing recorded, reserved or enqueued), and each Glue ENI attributed to its likely job run.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdmissionService } from '../../src/admission/service.js';
import { parseConfig } from '../../src/config/load.js';
import { createApp } from '../../src/http/app.js';
import { silentLogger } from '../../src/log.js';
import { SnapshotCache } from '../../src/snapshot/cache.js';
import { SnapshotHistory } from '../../src/snapshot/history.js';
import { FileStore } from '../../src/store/file.js';
import { listenLocal } from '../helpers/net.js';
import { eni, snapshotOf, subnetView } from '../helpers/world.js';

const A = 'subnet-0a';
const HOUR = 3_600_000;
const T = Date.parse('2026-04-08T07:00:00Z');

describe('/api/subnets/<id or name> and /enis', () => {
  const cache = new SnapshotCache();
  let dir: string;
  let store: FileStore;
  let url: string;
  let close: () => Promise<void>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'glue-eni-api-'));
    const clock = { now: () => T + HOUR };
    const config = parseConfig({ subnets: [{ id: A, name: 'critical' }], dataDir: dir }, {});
    store = await FileStore.open({ dataDir: dir, clock, logger: silentLogger });
    const service = new AdmissionService({ cache, config, store, clock, logger: silentLogger });
    const history = new SnapshotHistory();
    history.follow(cache);
    // 4 in-use Glue ENIs attached at T: 3 work for the running run started then, 1 lingers; one attached two hours
    // before any run read, one not Glue's.
    cache.set(
      snapshotOf(
        [
          subnetView({
            subnetId: A,
            name: 'critical',
            inUse: 4,
            lingering: 1,
            attachTime: T,
            extraEnis: [eni('eni-early', 'in-use', T - 2 * HOUR), eni('eni-nat', 'in-use', T, 'other')],
          }),
        ],
        { takenAt: T + HOUR },
      ),
    );
    const app = createApp({
      cache,
      registry: new Registry(),
      clock,
      logger: silentLogger,
      maxAgeSeconds: () => 3600,
      version: 'test',
      admissionStatus: () => service.status(),
      history,
      links: () => ({}),
    });
    const srv = await listenLocal(app);
    url = srv.url;
    close = () => new Promise<void>((r) => srv.server.close(() => r()));
  });
  afterAll(async () => {
    await close?.();
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers one subnet by id or by name, with its admission preview, and records nothing', async () => {
    const byId = (await (await fetch(`${url}/api/subnets/${A}`)).json()) as Record<string, unknown>;
    const byName = (await (await fetch(`${url}/api/subnets/critical`)).json()) as Record<string, unknown>;
    // The same subnet; only the cache's age moved between the two calls.
    expect({ ...byName, age_seconds: 0 }).toEqual({ ...byId, age_seconds: 0 });
    expect(byId).toMatchObject({
      subnet_id: A,
      subnet: 'critical',
      fresh: true,
      usable_ips: 59,
      used_ips: 6,
      free_ips: 53,
      in_use: 6,
      lingering: 1,
      admission: { policy: 'forecast', buffer: 10, headroom_workers: 43, reserved_ips: 0, queue_length: 0, queue_head_eta_seconds: null },
    });
    expect(store.peekObservations(A, 100) ?? []).toEqual([]);
    expect(store.peekReservations(A) ?? []).toEqual([]);
  });

  it('404 names the unknown key and the field; other methods are 405', async () => {
    const res = await fetch(`${url}/api/subnets/critcal`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'subnet "critcal" is not watched (no watched subnet has this id or name)', field: 'id' });
    const enis = await fetch(`${url}/api/subnets/subnet-0ff/enis`);
    expect(enis.status).toBe(404);
    expect(((await enis.json()) as { error: string }).error).toContain('"subnet-0ff"');
    const bad = await fetch(`${url}/api/subnets/%E0`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { field: string }).field).toBe('id');
    expect((await fetch(`${url}/api/subnets/${A}`, { method: 'POST' })).status).toBe(405);
  });

  it('attributes each Glue ENI to the run it most likely belongs to, null where none fits', async () => {
    const body = (await (await fetch(`${url}/api/subnets/critical/enis`)).json()) as {
      enis: { eni_id: string; job_run: { job: string; run_id: string; confidence: string } | null }[];
    };
    const byId = new Map(body.enis.map((e) => [e.eni_id, e.job_run]));
    for (let i = 0; i < 4; i++) expect(byId.get(`eni-u${i}`)).toEqual({ job: 'running-job', run_id: 'jr_running', confidence: 'high' });
    expect(byId.get('eni-early')).toBeNull();
    expect(byId.get('eni-nat')).toBeNull();
  });

  it('the landing page shows the subnet with its figures and no links that are not configured', async () => {
    const res = await fetch(`${url}/`);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const html = await res.text();
    expect(html).toContain(
      `data-subnet-id="${A}" data-account="" data-region="" data-utilization="0.1017" data-level="ok" data-free="53" data-used="6" data-usable="59" data-headroom="43"`,
    );
    expect(html).not.toContain('data-link="runbook"');
    expect(html).not.toContain('data-link="grafana"');
    expect(html).not.toContain('role="alert"');
  });
});
