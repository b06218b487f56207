// Backtest speed: 90 simulated days of scenarios/seed-shared.yml under every policy, timed end to end.
//   npm run build && node bench/backtest.mjs [--runs 5] [--days 90] [--scenario scenarios/seed-shared.yml]
//                                            [--policy none,blind-retry,...] [--sensor report|eta]
// Runs against the built output (dist/, or GLUE_ENI_DIST). Prints each run's wall time and the median.
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    days: { type: 'string', default: '90' },
    scenario: { type: 'string', default: new URL('../scenarios/seed-shared.yml', import.meta.url).pathname },
    policy: { type: 'string' },
    sensor: { type: 'string', default: 'report' },
  },
});
const dist = resolve(process.env.GLUE_ENI_DIST ?? new URL('../dist', import.meta.url).pathname);
const load = (p) => import(pathToFileURL(join(dist, p)).href);
const { runSimulateCommand } = await load('backtest/command.js');
const { backtestPolicies } = await load('backtest/run.js');
// Every policy the backtest knows unless told (an older tree built into GLUE_ENI_DIST has fewer).
const policies = values.policy ? values.policy.split(',') : [...backtestPolicies];

const runs = Number(values.runs);
const times = [];
let last = '';
for (let i = 0; i < runs; i++) {
  let out = '';
  const t0 = performance.now();
  const code = runSimulateCommand({
    scenarios: [values.scenario],
    days: values.days,
    policies,
    sensors: values.sensor,
    json: true,
    out: { write: (s) => (out += s) },
    err: process.stderr,
  });
  const ms = performance.now() - t0;
  if (code !== 0) throw new Error(`simulate exited ${code}`);
  if (last && out !== last) throw new Error('two runs of the same seed printed different results');
  last = out;
  times.push(ms);
  console.log(`run ${i + 1}: ${(ms / 1000).toFixed(2)} s`);
}
times.sort((a, b) => a - b);
const median = times[times.length >> 1];
console.log(
  `median of ${runs}: ${(median / 1000).toFixed(2)} s for ${values.days} days × ${policies.length} policies (${policies.join(', ')}), sensor ${values.sensor}`,
);
