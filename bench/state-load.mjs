// Start-up cost of reading the state files back, now that every record is checked against its schema.
//
//   npm run build && node bench/state-load.mjs [--enis 100000] [--subnets 50] [--events 10000] [--runs 5]
//
// Writes a valid lifecycle.json (N ENIs, 1,000 counted failures) and bypass.json (S subnets × E events) in a
// temp dir, then times LifecycleTracker.load() and BypassMemory.load() from the built output (GLUE_ENI_DIST
// points at another build, e.g. one of main, for the before figures). Prints JSON with medians in ms.
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    enis: { type: 'string', default: '100000' },
    subnets: { type: 'string', default: '50' },
    events: { type: 'string', default: '10000' },
    runs: { type: 'string', default: '5' },
  },
});
const dist = resolve(process.env.GLUE_ENI_DIST ?? new URL('../dist', import.meta.url).pathname);
const { LifecycleTracker } = await import(join(dist, 'lifecycle', 'tracker.js'));
const { BypassMemory } = await import(join(dist, 'admission', 'bypass.js'));

const T = Date.UTC(2026, 3, 9);
const hex = (i, n) => i.toString(16).padStart(n, '0');
const subnet = (i) => `subnet-0${hex(i, 16)}`;
const dir = mkdtempSync(join(tmpdir(), 'state-load-'));
const nEnis = Number(values.enis);
const nSubnets = Number(values.subnets);

const enis = {};
for (let i = 0; i < nEnis; i++) {
  enis[`eni-0${hex(i, 16)}`] = {
    subnetId: subnet(i % nSubnets),
    status: i % 3 ? 'in-use' : 'available',
    seenBeforeAvailable: true,
    ...(i % 3 ? { jobEndedAt: T - 60_000 } : { availableSince: T - i }),
    lastSeen: T,
  };
}
const countedFailures = {};
const failureTotals = {};
for (let i = 0; i < 1000; i++) {
  countedFailures[`jr_${hex(i, 64)}`] = T - i;
  failureTotals[`${subnet(i % nSubnets)}|job-${i % 20}`] = i;
}
writeFileSync(join(dir, 'lifecycle.json'), JSON.stringify({ version: 1, lastSampleAt: T, enis, countedFailures, failureTotals }));
const subnets = {};
for (let s = 0; s < nSubnets; s++) {
  const events = Array.from({ length: Number(values.events) }, (_, i) => ({ at: T - 86_400_000 + i * 60_000, addresses: 1 + (i % 5) }));
  subnets[subnet(s)] = { watchedMs: 7 * 86_400_000, events, totalAddresses: 30_000, lastSampleAt: T };
}
writeFileSync(join(dir, 'bypass.json'), JSON.stringify({ version: 1, subnets }));

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const time = (fn) => {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
};
const lifecycle = [];
const bypass = [];
for (let r = 0; r < Number(values.runs); r++) {
  lifecycle.push(time(() => new LifecycleTracker({ dataDir: dir, intervalSeconds: 60 }).load()));
  bypass.push(time(() => new BypassMemory({ file: join(dir, 'bypass.json'), intervalSeconds: () => 60 }).load()));
}
console.log(
  JSON.stringify({
    dist,
    enis: nEnis,
    lifecycleBytes: statSync(join(dir, 'lifecycle.json')).size,
    bypassBytes: statSync(join(dir, 'bypass.json')).size,
    lifecycleLoadMs: { median: +median(lifecycle).toFixed(1), runs: lifecycle.map((x) => +x.toFixed(1)) },
    bypassLoadMs: { median: +median(bypass).toFixed(1), runs: bypass.map((x) => +x.toFixed(1)) },
  }),
);
rmSync(dir, { recursive: true, force: true });
