// An uneven schedule must not make healthy data look stale. `*/50 * * * * *` samples at :00 and :50; between
// :00 and :50 no sample is due, so readiness and /admit must hold for those 50 s (default max age: 3 × the
// longest gap). The cache runs on a fake monotonic clock; samples land when the schedule fires.
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenLocal } from './helpers/net.js';
import { snapshotOf, subnetView } from './helpers/world.js';
import { AdmissionService } from '../src/admission/service.js';
import { parseConfig } from '../src/config/load.js';
import { createAdmitRouter } from '../src/http/admit.js';
import { createApp } from '../src/http/app.js';
import { silentLogger } from '../src/log.js';
import { SnapshotCache } from '../src/snapshot/cache.js';
import { FileStore } from '../src/store/file.js';

const SCHEDULE = '*/50 * * * * *';
const T0 = Date.parse('2026-04-13T07:00:00Z');
const dataDir = mkdtempSync(join(tmpdir(), 'uneven-schedule-'));
const config = parseConfig({ subnets: [{ id: 'subnet-0a1', name: 'critical' }], sample: { schedule: SCHEDULE }, dataDir }, {});
/** Fake clocks: monotonic seconds for freshness, wall time for decisions. */
let monoSeconds = 0;
const clock = { now: () => T0 + monoSeconds * 1000 };
const cache = new SnapshotCache(() => monoSeconds * 1000);
let store: FileStore;
let service: AdmissionService;
let server: Server;
let url: string;

beforeAll(async () => {
  store = await FileStore.open({ dataDir, clock, logger: silentLogger });
  service = new AdmissionService({ cache, config, store, clock, logger: silentLogger });
  service.start();
  const app = createApp({
    cache,
    registry: new Registry(),
    clock,
    logger: silentLogger,
    maxAgeSeconds: () => config.sample.maxAgeSeconds,
    version: 'test',
    routers: [createAdmitRouter({ cache, config, service, logger: silentLogger })],
  });
  ({ server, url } = await listenLocal(app));
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  service?.stop();
  await service?.idle();
  await store?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('an uneven schedule (*/50 * * * * *)', () => {
  it('takes the 50 s gap as its interval and allows three of them', () => {
    expect(config.sample.intervalSeconds).toBe(50);
    expect(config.sample.maxAgeSeconds).toBe(150);
  });

  it('stays ready, and /admit keeps deciding, through every second of three minutes of on-time samples', async () => {
    const notReady: number[] = [];
    const admit503: number[] = [];
    // Each sample takes 2 s: it completes at :02 and :52.
    for (let t = 0; t <= 180; t++) {
      monoSeconds = t;
      if (t % 60 === 2 || t % 60 === 52)
        cache.set(
          snapshotOf([subnetView({ subnetId: 'subnet-0a1', name: 'critical', lingering: 0 })], { takenAt: clock.now(), completedMono: t * 1000 }),
        );
      if (t < 2) continue;
      const ready = await fetch(`${url}/-/ready`);
      await ready.arrayBuffer();
      if (ready.status !== 200) notReady.push(t);
      // Every 5 s: each call records an observation.
      if (t % 5 === 0) {
        const admit = await fetch(`${url}/admit?subnet=critical&workers=1&dag_run_id=t${t}`);
        await admit.arrayBuffer();
        if (admit.status !== 200) admit503.push(t);
      }
    }
    expect(notReady).toEqual([]);
    expect(admit503).toEqual([]);
  });

  it('still goes stale when samples stop: past 150 s without one', async () => {
    monoSeconds = 172 + 151;
    const ready = await fetch(`${url}/-/ready`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { reason: string }).reason).toContain('(max 150 s)');
  });
});
