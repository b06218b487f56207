// The synchronous work of one sample at scale, in one process: what holds the exporter's event loop (and so every
// /admit) once the pages are read. A RawSample of --enis Glue ENIs (in-use, attached, as in bench/admit-scale.mjs)
// plus --others non-Glue ENIs, a steady sample after a first one: LifecycleTracker.observe, buildSnapshot and
// markLingering each timed in one piece (their CPU cost); then the next sample run as the sampler runs it
// (tracker.sampleSteps a slice per turn of the event loop, as tracker.foldSample does, where the build has it; the
// CPU time of its longest slice: the loop's longest hold whatever the machine's load) and the tracker's save (its
// synchronous part, then until the file is on disk), while a 1 ms interval timer measures the longest time the
// event loop was held (wall time: a loaded machine lengthens it).
//
//   npm run build && node bench/sample-steps.mjs [--enis 50000] [--others 300] [--runs 7]
//
// Runs against the built output (dist/, or GLUE_ENI_DIST: a build elsewhere).
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { load, median, r1, rawEni, rawSampleOf, START, SUBNET } from './one-process.mjs';

const { values } = parseArgs({
  options: {
    enis: { type: 'string', default: '50000' },
    others: { type: 'string', default: '300' },
    runs: { type: 'string', default: '7' },
  },
});
const { LifecycleTracker } = await load('lifecycle/tracker.js');
const { buildSnapshot, buildSnapshotSteps } = await load('snapshot/build.js');

function rawSample(enis, others) {
  const list = [];
  for (let i = 0; i < enis + others; i++) list.push(rawEni(i, i < enis));
  return rawSampleOf(list);
}

const yieldOnce = () => new Promise((r) => setImmediate(r));

const raw = rawSample(Number(values.enis), Number(values.others));
const options = (takenAt, tracker) => ({
  names: new Map([[SUBNET, 'big']]),
  ownerDescriptionPrefixes: ['Attached to Glue'],
  takenAt,
  completedMono: performance.now(),
  durationMs: 0,
  availableSince: (id) => tracker.availableSince(id),
});

const figures = {
  observe: [],
  build: [],
  markLingering: [],
  steps: [],
  sampleWall: [],
  sampleSliceCpuMax: [],
  saveSync: [],
  saveTotal: [],
  loopHeldMax: [],
};
let fileBytes = 0;
for (let run = 0; run < Number(values.runs); run++) {
  const dir = mkdtempSync(join(tmpdir(), 'glue-eni-sample-steps-'));
  try {
    const tracker = new LifecycleTracker({ dataDir: dir, intervalSeconds: 30 });
    // The first sample (every ENI new), as after a start: not timed.
    tracker.observe(raw, START + 30_000, { contiguous: true });
    tracker.markLingering(buildSnapshot(raw, options(START + 30_000, tracker)));
    await tracker.save();
    await yieldOnce();

    // A steady sample, each step in one piece: the CPU each costs (comparable across builds).
    let at = START + 60_000;
    let t = performance.now();
    tracker.observe(raw, at, { contiguous: true });
    figures.observe.push(performance.now() - t);
    t = performance.now();
    const snapshot = buildSnapshot(raw, options(at, tracker));
    figures.build.push(performance.now() - t);
    t = performance.now();
    tracker.markLingering(snapshot);
    figures.markLingering.push(performance.now() - t);
    figures.steps.push(figures.observe.at(-1) + figures.build.at(-1) + figures.markLingering.at(-1));
    await yieldOnce();

    // The next sample as the sampler runs it (in slices, where the build has them), then its save; the longest
    // gap between 1 ms ticks meanwhile is how long a request arriving then would wait.
    let last = performance.now();
    let held = 0;
    const tick = setInterval(() => {
      const now = performance.now();
      held = Math.max(held, now - last);
      last = now;
    }, 1);
    await new Promise((r) => setTimeout(r, 20));
    held = 0;
    last = performance.now();
    at += 30_000;
    t = performance.now();
    // The CPU time of the longest piece the sample ran in: what the loop is held for, whatever the machine's load.
    let sliceCpu = 0;
    const cpuOf = (f) => {
      const c = process.cpuUsage();
      const r = f();
      const d = process.cpuUsage(c);
      sliceCpu = Math.max(sliceCpu, (d.user + d.system) / 1000);
      return r;
    };
    if (tracker.sampleSteps) {
      // As tracker.foldSample runs it, a slice per turn of the event loop, each slice timed.
      const steps = tracker.sampleSteps(raw, at, { contiguous: true }, () => buildSnapshotSteps(raw, options(at, tracker)));
      while (!cpuOf(() => steps.next()).done) await yieldOnce();
    } else {
      // The sampler gave the loop no turn between these three steps.
      cpuOf(() => {
        tracker.observe(raw, at, { contiguous: true });
        tracker.markLingering(buildSnapshot(raw, options(at, tracker)));
      });
    }
    figures.sampleWall.push(performance.now() - t);
    figures.sampleSliceCpuMax.push(sliceCpu);
    await yieldOnce();
    t = performance.now();
    const saved = tracker.save();
    figures.saveSync.push(performance.now() - t);
    await saved;
    figures.saveTotal.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 5));
    clearInterval(tick);
    figures.loopHeldMax.push(held);
    fileBytes = statSync(join(dir, 'lifecycle.json')).size;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const out = { enis: raw.enis.length, runs: Number(values.runs), lifecycle_json_bytes: fileBytes };
for (const [k, xs] of Object.entries(figures)) {
  out[`${k}_ms_median`] = r1(median(xs));
  out[`${k}_ms_runs`] = xs.map(r1);
}
console.log(JSON.stringify(out, null, 2));
