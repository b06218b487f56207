// The admission side of a new snapshot at scale, in one process: SnapshotHousekeeping's work when the cache
// publishes a snapshot of --enis Glue ENIs (attached before any admission, as in bench/admit-scale.mjs) plus
// --others non-Glue ENIs, with --reservations live reservations, each snapshot showing --fresh ENIs attached
// since the one before (a quarter of them not Glue's: the gate-bypass memory has ENIs to classify, the reservations
// ENIs to claim).
// Timed per snapshot: the synchronous part of cache.set (the snapshot listener: attach index, forecasts) and the
// CPU time of the longest piece the housekeeping runs in until idle() (a probe that takes a turn of the event loop
// after every other: the loop's longest hold whatever the machine's load), and the wall time until idle(); then the
// attach index alone, of the same ENIs attached in no order (CPU time, in one piece).
//
//   npm run build && node bench/housekeeping-steps.mjs [--enis 50000] [--others 300] [--reservations 1000] [--runs 7]
//
// Runs against the built output (dist/, or GLUE_ENI_DIST: a build elsewhere). The ledger is kept in memory (the
// store's own cost is bench/store.mjs's), the bypass memory in a temp dir.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { load, median, r1, rawEni, rawSampleOf, START, SUBNET } from './one-process.mjs';

const { values } = parseArgs({
  options: {
    enis: { type: 'string', default: '50000' },
    others: { type: 'string', default: '300' },
    reservations: { type: 'string', default: '1000' },
    fresh: { type: 'string', default: '40' },
    runs: { type: 'string', default: '7' },
  },
});
const { buildSnapshot } = await load('snapshot/build.js');
const { SnapshotCache } = await load('snapshot/cache.js');
const { SnapshotHousekeeping } = await load('admission/housekeeping.js');
const { attachIndex } = await load('admission/reservations.js');

const INTERVAL_MS = 30_000;
const enis = Number(values.enis);
const others = Number(values.others);
const fresh = Number(values.fresh);
const runs = Number(values.runs);

/** Sample `n` (0-based): the standing ENIs plus `fresh` Glue ENIs attached in each interval up to it. */
function rawSample(n) {
  const list = [];
  for (let i = 0; i < enis + others; i++) list.push(rawEni(i, i < enis));
  for (let k = 1; k <= n; k++) {
    // Every fourth is not Glue's (a Lambda, say): no reservation claims it, a gate bypass.
    for (let j = 0; j < fresh; j++) list.push(rawEni(enis + others + k * fresh + j, j % 4 !== 0, START + 120_000 + k * INTERVAL_MS - 1_000));
  }
  return rawSampleOf(list);
}

// Live reservations of one worker, created after the standing ENIs attached; the fresh ENIs claim some of them.
const ledger = [];
for (let i = 0; i < Number(values.reservations); i++) {
  ledger.push({
    id: `${SUBNET}.r${String(i).padStart(6, '0')}`,
    subnetId: SUBNET,
    workers: 1,
    createdAt: START + 60_000 + i,
    expiresAt: START + 3_600_000,
    retainUntil: START + 7_200_000,
  });
}
const closed = [];
const store = {
  peekReservations: () => ledger,
  reservations: async () => ledger,
  closeReservation: async (id, how, now) => {
    const r = ledger.find((x) => x.id === id && x.closed === undefined);
    if (!r) return undefined;
    Object.assign(r, { closed: how, closedAt: now });
    closed.push(id);
    return r;
  },
};
const silent = { info() {}, warn() {}, error() {}, debug() {} };

const cpuMs = (d) => (d.user + d.system) / 1000;

/** Until stop(): a turn of the event loop after every other, noting the CPU time between two (the longest hold). */
function probe() {
  let longest = 0;
  let running = true;
  let last = process.cpuUsage();
  const turn = () => {
    if (!running) return;
    const d = process.cpuUsage(last);
    longest = Math.max(longest, cpuMs(d));
    last = process.cpuUsage();
    setImmediate(turn);
  };
  setImmediate(turn);
  return () => {
    running = false;
    return longest;
  };
}

const figures = { publish: [], housekeepLongest: [], housekeepWall: [], attachIndexSpread: [] };
let lastEnis = [];
const samples = [];
for (let n = 0; n < 3; n++) samples.push(rawSample(n));
let bypassAddresses = 0;
for (let run = 0; run < runs; run++) {
  const dir = mkdtempSync(join(tmpdir(), 'glue-eni-housekeeping-steps-'));
  try {
    closed.length = 0;
    for (const r of ledger) {
      delete r.closed;
      delete r.closedAt;
    }
    let clockNow = START + 90_000;
    const cache = new SnapshotCache();
    const hk = new SnapshotHousekeeping({
      cache,
      store,
      clock: { now: () => clockNow },
      logger: silent,
      dataDir: dir,
      sampleIntervalSeconds: () => INTERVAL_MS / 1000,
      settingsOf: () => ({ bypassMemoryDays: 14 }),
    });
    hk.start();
    // Snapshots 0 and 1 start the memory (not timed); snapshot 2, new list objects, is the steady one timed.
    for (let n = 0; n < samples.length; n++) {
      const takenAt = START + 90_000 + n * INTERVAL_MS;
      clockNow = takenAt;
      const snap = buildSnapshot(samples[n], {
        names: new Map([[SUBNET, 'big']]),
        ownerDescriptionPrefixes: ['Attached to Glue'],
        takenAt,
        completedMono: performance.now(),
        durationMs: 0,
      });
      await new Promise((r) => setImmediate(r));
      const stop = probe();
      const c = process.cpuUsage();
      const t = performance.now();
      cache.set(snap);
      const publish = cpuMs(process.cpuUsage(c));
      await hk.idle();
      const wall = performance.now() - t;
      const longest = stop();
      if (n === samples.length - 1) {
        figures.publish.push(publish);
        figures.housekeepLongest.push(Math.max(publish, longest));
        figures.housekeepWall.push(wall);
        bypassAddresses = hk.bypassTotals()[0]?.addresses ?? 0;
        lastEnis = snap.subnets[0].enis;
      }
    }
    hk.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// The attach index alone, of the same ENIs attached at times in no order of their ids (as real lists are; the
// snapshots above have the standing ENIs attached together, an order the index takes as it is): a new list each run.
for (let run = 0; run < runs; run++) {
  const list = lastEnis.map((e, i) => (e.owner === 'glue' ? { ...e, attachTime: START + ((i * 7919) % lastEnis.length) * 1000 } : e));
  const c = process.cpuUsage();
  attachIndex(list);
  figures.attachIndexSpread.push(cpuMs(process.cpuUsage(c)));
}

const out = {
  enis: samples.at(-1).enis.length,
  reservations: ledger.length,
  runs,
  // The result, to compare across builds: the same inputs must give the same figures.
  bypass_addresses_last_run: bypassAddresses,
  reservations_consumed_last_run: closed.length,
};
for (const [k, xs] of Object.entries(figures)) {
  out[`${k}_ms_median`] = r1(median(xs));
  out[`${k}_ms_runs`] = xs.map(r1);
}
console.log(JSON.stringify(out, null, 2));
