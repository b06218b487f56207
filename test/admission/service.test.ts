import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { registerAdmissionMetrics } from '../../src/metrics/admission.js';
import { SnapshotCache } from '../../src/snapshot/cache.js';
import type { EniView } from '../../src/snapshot/types.js';
import { FileStore } from '../../src/store/file.js';
import { eni, snapshotOf, subnetView } from '../helpers/world.js';
import { AdmissionService } from '../../src/admission/service.js';

const T0 = Date.parse('2026-04-12T07:00:00.000Z');
const ENIS = 20_000;
let dir: string;
let store: FileStore;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'glue-eni-service-'));
  store = await FileStore.open({ dataDir: dir, clock: { now: () => T0 }, logger: silentLogger });
});
afterAll(async () => {
  await store.close();
  // A state file may still be landing (written off the event loop): retry the removal as rm -rf would.
  await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
});

/** Glue ENIs attached an hour before T0, in a list that throws once more than `reads.limit` elements are read. */
function guardedEnis(count: number) {
  const list = Array.from({ length: count }, (_, i) => eni(`eni-${i.toString(16).padStart(8, '0')}`, 'in-use', T0 - 3_600_000 + (i % 600) * 1000));
  const reads = { n: 0, limit: Number.POSITIVE_INFINITY };
  /** The snapshot's own list of these ENIs, its element reads counted. */
  const guard = (enis: EniView[]) =>
    new Proxy(enis, {
      get(target, key, receiver) {
        if (typeof key === 'string' && /^\d+$/.test(key) && ++reads.n > reads.limit) throw new Error('ENI list read after the snapshot arrived');
        return Reflect.get(target, key, receiver);
      },
    });
  return { list, guard, reads };
}

describe('AdmissionService cost with many ENIs and reservations', () => {
  it("reads a snapshot's ENIs when it arrives, never per /admit nor per scrape; a scrape computes the status once", async () => {
    const config = parseConfig(
      {
        subnets: [
          { id: 'subnet-0a', name: 'big' },
          { id: 'subnet-0b', name: 'forecasted' },
        ],
        sample: { schedule: '* * * * *', maxAgeSeconds: 3600 },
        admission: { subnets: { forecasted: { policy: 'forecast' } } },
        dataDir: dir,
      },
      {},
    );
    const big = guardedEnis(ENIS);
    const other = guardedEnis(ENIS);
    const view = (subnetId: string, name: string, g: ReturnType<typeof guardedEnis>) => {
      const v = subnetView({ subnetId, name, prefix: 16, lingering: 0, extraEnis: g.list });
      return { ...v, enis: g.guard(v.enis) };
    };
    const cache = new SnapshotCache(() => 0);
    let now = T0;
    const service = new AdmissionService({ cache, config, store, clock: { now: () => now }, logger: silentLogger });
    service.start();
    cache.set(
      snapshotOf([view('subnet-0a', 'big', big), view('subnet-0b', 'forecasted', other)], { takenAt: T0, completedMono: 0, glueKnown: true }),
    );
    await service.idle();
    // From here on, a read of either list fails the request that makes it.
    big.reads.limit = big.reads.n;
    other.reads.limit = other.reads.n;

    const registry = new Registry();
    registerAdmissionMetrics(registry, { service, store });
    let peeks = 0;
    const peek = store.peekReservations.bind(store);
    store.peekReservations = (id) => (peeks++, peek(id));
    // The window is read once per assessment: counts the decisions a scrape makes.
    let assessed = 0;
    const peekWindow = store.peekObservations.bind(store);
    store.peekObservations = (id, n) => (assessed++, peekWindow(id, n));

    for (let i = 0; i < 600; i++) {
      now += 10;
      const out = await service.admit({ subnet: i % 2 ? 'big' : 'forecasted', workers: 1 + (i % 3), dagRunId: `run-${i}` });
      expect(out.decision.admit).toBe(true);
      if (i % 100 === 0) await registry.metrics();
    }
    peeks = 0;
    assessed = 0;
    const text = await registry.metrics();
    // One decision per subnet per scrape, though four collectors read the status.
    expect(assessed).toBe(2);
    // One status per scrape: each subnet's ledger read once, not once per collector (four read it).
    expect(peeks).toBe(2);
    // 300 admissions per subnet of 1, 2 or 3 workers, none visible: all reserved.
    expect(text).toMatch(/glue_eni_reserved_ips\{subnet_id="subnet-0a",subnet="big",account_id="",region=""\} 600/);
    expect(text).toMatch(/glue_eni_reserved_ips\{subnet_id="subnet-0b",subnet="forecasted",account_id="",region=""\} 600/);
    expect(big.reads.n).toBe(big.reads.limit);
    expect(other.reads.n).toBe(other.reads.limit);
  });
});

describe('AdmissionService release forecast', () => {
  it('predicts once per snapshot, from its time, with the durations learned so far; pokes reuse it', async () => {
    const config = parseConfig(
      { subnets: [{ id: 'subnet-0c', name: 'tail' }], sample: { schedule: '* * * * *', maxAgeSeconds: 3600 }, dataDir: dir },
      {},
    );
    const cache = new SnapshotCache(() => 0);
    let now = T0;
    const service = new AdmissionService({ cache, config, store, clock: { now: () => now }, logger: silentLogger });
    service.start();
    // 30 lingering ENIs of a job that ended 5 min ago (the run's end is read from Glue).
    const sample = () => {
      const v = subnetView({ subnetId: 'subnet-0c', name: 'tail', inUse: 30, lingering: 30, attachTime: T0 - 3_600_000 });
      const ended = now - 5 * 60_000;
      cache.set(snapshotOf([{ ...v, enis: v.enis.map((e) => ({ ...e, jobEndedAt: ended })) }], { takenAt: now, completedMono: 0, glueKnown: true }));
    };
    expect(service.forecast('subnet-0c')).toBeUndefined();
    sample();
    const first = service.forecast('subnet-0c');
    expect(first?.from).toBe(T0);
    // The field's linger (60-100 min) and available time (30-40 min): nothing back within the hour.
    expect(first?.free[60]).toBe(first?.free[0]);
    for (let i = 0; i < 3; i++) await service.admit({ subnet: 'tail', workers: 50, dagRunId: `wait-${i}` });
    expect(service.forecast('subnet-0c')).toBe(first);

    // This subnet's Glue lets go after ~10 min in-use and ~5 min available.
    for (let i = 0; i < 500; i++) {
      service.learnDuration('subnet-0c', 'linger', 600);
      service.learnDuration('subnet-0c', 'available', 300);
    }
    expect(service.forecast('subnet-0c')).toBe(first);
    now += 60_000;
    sample();
    const learned = service.forecast('subnet-0c');
    expect(learned?.from).toBe(now);
    expect(learned?.free[30]).toBeGreaterThanOrEqual((first?.free[0] ?? 0) + 25);
    service.stop();
  });
});
