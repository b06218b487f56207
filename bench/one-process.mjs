// What the one-process benches (sample-steps, housekeeping-steps) share: the build they run against (dist/, or
// GLUE_ENI_DIST: a build elsewhere), the ENIs of one big subnet as EC2 lists them, and their figures' medians.
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dist = resolve(process.env.GLUE_ENI_DIST ?? fileURLToPath(new URL('../dist', import.meta.url)));
/** A module of the build, by its path under dist/. */
export const load = (p) => import(pathToFileURL(join(dist, p)).href);

export const SUBNET = 'subnet-0c1';
export const START = Date.parse('2026-04-06T00:00:00Z');
const hex = (i, n) => i.toString(16).padStart(n, '0');

/** The i-th ENI of the subnet, in use and attached at `attachTime`: Glue's (1 address) or not (50 addresses). */
export const rawEni = (i, glue, attachTime = START) => ({
  // Ids in a shuffled order, as hex ids are in no order of creation.
  id: `eni-0${hex((i * 2654435761) >>> 0, 8)}${hex(i, 8)}`,
  subnetId: SUBNET,
  status: 'in-use',
  description: glue ? 'Attached to Glue using role: bench' : 'bench fill',
  requesterManaged: false,
  privateIpCount: glue ? 1 : 50,
  ipv4PrefixCount: 0,
  attachTime,
  attachmentStatus: 'attached',
  deleteOnTermination: true,
});

/** A RawSample of the subnet holding `list` (sorted by id here: pages come so). */
export const rawSampleOf = (list) => ({
  subnets: [{ subnetId: SUBNET, cidr: '10.0.0.0/16', availabilityZone: 'us-east-1a', availableIpAddressCount: 1010 }],
  enis: list.sort((a, b) => (a.id < b.id ? -1 : 1)),
  glue: { connections: [], jobs: [], runs: [] },
});

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
export const r1 = (x) => Number(x.toFixed(1));
