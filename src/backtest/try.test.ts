import { it } from 'vitest';
import { loadScenarioFile } from '../sim/scenario.js';
import { runBacktest } from './run.js';
it('try', () => {
  for (const f of ['seed-shared', 'seed-split']) {
    const scenario = loadScenarioFile(`scenarios/${f}.yml`);
    for (const policy of ['none', 'static', 'rolling-max', 'tail-aware', 'forecast'] as const) {
      const t0 = performance.now();
      const r = runBacktest({ scenario, days: 90, policy });
      console.log(f.padEnd(12), policy.padEnd(12), `fail ${r.exhaustionFailures}/${r.runs}=${(r.failureRate*100).toFixed(1)}% held ${r.held} gave ${r.gaveUp} med ${r.medianWaitSeconds} max ${r.maxWaitSeconds} peak ${r.peakUtilization} tail ${r.tailIpMinutes}`, (performance.now() - t0).toFixed(0), 'ms | ' + r.subnets.map((s) => `${s.name.slice(0,10)} f${s.exhaustionFailures}/${s.runs} h${s.held} g${s.gaveUp}`).join(' '));
    }
  }
});
