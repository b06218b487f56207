// The simulator's side of a sample at scale, in one process: DescribeNetworkInterfaces paged through a world of
// --enis Glue ENIs (the world of bench/admit-scale.mjs: one /16, the rest filled by non-Glue ENIs), --samples times
// in a row, the CPU time of each pass. The simulator shares the cores with the exporter in that bench.
//
//   npm run build && node bench/sim-pages.mjs [--enis 50000] [--samples 3]
//
// Runs against the built output (dist/, or GLUE_ENI_DIST: a build elsewhere).
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { dist } from './demo-child.mjs';

const { values } = parseArgs({ options: { enis: { type: 'string', default: '50000' }, samples: { type: 'string', default: '3' } } });
const load = (p) => import(pathToFileURL(join(dist, p)).href);
const { handleEc2 } = await load('sim/ec2.js');
const { World } = await load('sim/model.js');
const { parseScenario } = await load('sim/scenario.js');

const enis = Number(values.enis);
const fill = 65_536 - 5 - enis - 1_010;
const world = new World(
  parseScenario({
    start: '2026-04-06T00:00:00Z',
    seed: 7,
    subnets: [{ id: 'subnet-0c1', name: 'big', cidr: '10.0.0.0/16', availabilityZone: 'us-east-1a' }],
    lifecycle: { lingerInUseMinutes: { min: 60, max: 70 }, availableMinutes: { min: 30, max: 40 } },
    otherEnis: [
      { subnet: 'subnet-0c1', count: enis, addressesEach: 1, description: 'Attached to Glue using role: bench' },
      { subnet: 'subnet-0c1', count: Math.floor(fill / 50), addressesEach: 50, description: 'bench fill' },
    ],
  }),
);
world.advanceTo(Date.parse('2026-04-06T00:00:00Z'));
const runs = [];
for (let s = 0; s < Number(values.samples); s++) {
  const t0 = process.cpuUsage();
  let token;
  let pages = 0;
  let bytes = 0;
  do {
    const p = new URLSearchParams({ Action: 'DescribeNetworkInterfaces', Version: '2016-11-15', MaxResults: '1000' });
    p.set('Filter.1.Name', 'subnet-id');
    p.set('Filter.1.Value.1', 'subnet-0c1');
    if (token) p.set('NextToken', token);
    const body = handleEc2(world, 'DescribeNetworkInterfaces', p, `req-${pages}`).body;
    bytes += body.length;
    pages++;
    token = /<nextToken>([^<]*)<\/nextToken>/.exec(body)?.[1];
  } while (token);
  const u = process.cpuUsage(t0);
  runs.push({ pages, mib: Number((bytes / 2 ** 20).toFixed(1)), cpu_ms: Math.round((u.user + u.system) / 1000) });
}
console.log(JSON.stringify({ enis, samples: runs, rss_mb: Math.round(process.memoryUsage().rss / 2 ** 20) }));
