// DescribeNetworkInterfaces over a large world, page by page, straight through the handler the simulator's server
// calls. A sequence's filtered, sorted list is reused from page to page while the world stands still: the pages
// must be exactly those of computing every page from scratch, byte for byte (the digests are of the pages the
// simulator answered before the list was reused), including when the world changes between two pages.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { handleEc2 } from '../../src/sim/ec2.js';
import { type NetworkInterface, World } from '../../src/sim/model.js';
import { parseScenario } from '../../src/sim/scenario.js';

const MIN = 60_000;
const START = Date.parse('2026-04-06T06:58:00Z');

// 2,400 ENIs in a /20 from the start, and two jobs whose ENIs come (07:00), attach, linger, turn available and go.
const scenario = parseScenario({
  start: '2026-04-06T06:58:00Z',
  seed: 11,
  subnets: [
    { id: 'subnet-0a1', cidr: '10.0.0.0/20', availabilityZone: 'us-east-1a' },
    { id: 'subnet-0b2', cidr: '10.0.16.0/24', availabilityZone: 'us-east-1b' },
  ],
  connections: [
    { name: 'glue-a', subnet: 'subnet-0a1' },
    { name: 'glue-b', subnet: 'subnet-0b2' },
  ],
  jobs: [
    { name: 'etl-a', connection: 'glue-a', workers: 40, schedule: '0 7 * * *', durationMinutes: { min: 3, max: 6 } },
    { name: 'etl-b', connection: 'glue-b', workers: 30, schedule: '0 7 * * *', durationMinutes: { min: 3, max: 6 } },
  ],
  lifecycle: { lingerInUseMinutes: { min: 2, max: 4 }, availableMinutes: { min: 3, max: 5 } },
  otherEnis: [
    { subnet: 'subnet-0a1', count: 2_000, addressesEach: 1, description: 'Attached to Glue using role: bench' },
    { subnet: 'subnet-0a1', count: 400, addressesEach: 2, description: 'NAT instance' },
    { subnet: 'subnet-0b2', count: 50, addressesEach: 1 },
  ],
});

/** Query parameters of one page, as the SDK sends them. */
function query(filters: [string, string[]][], maxResults: number, token?: string): URLSearchParams {
  const p = new URLSearchParams({ Action: 'DescribeNetworkInterfaces', Version: '2016-11-15', MaxResults: String(maxResults) });
  filters.forEach(([name, values], i) => {
    p.set(`Filter.${i + 1}.Name`, name);
    for (const [j, v] of values.entries()) p.set(`Filter.${i + 1}.Value.${j + 1}`, v);
  });
  if (token) p.set('NextToken', token);
  return p;
}

const tokenOf = (body: string) => /<nextToken>([^<]*)<\/nextToken>/.exec(body)?.[1];
const idsOf = (body: string) => [...body.matchAll(/<networkInterfaceId>([^<]*)<\/networkInterfaceId>/g)].map((m) => m[1]);
const digest = (bodies: string[]) => createHash('sha256').update(bodies.join('\n')).digest('hex');

/**
 * Every page of one sequence; `between(n)` runs before page n+1 is asked for (it may move the world on). Each
 * page is checked against the list computed from scratch at the moment it is answered: the ENIs matching
 * `match`, sorted by id, past the previous page's last id.
 */
function pages(
  world: World,
  filters: [string, string[]][],
  maxResults: number,
  match: (e: NetworkInterface) => boolean,
  between: (page: number) => void = () => {},
): string[] {
  const bodies: string[] = [];
  let token: string | undefined;
  let after = '';
  do {
    const body = handleEc2(world, 'DescribeNetworkInterfaces', query(filters, maxResults, token), `req-${bodies.length}`).body;
    const expected = world
      .networkInterfaces()
      .filter((e) => match(e) && e.NetworkInterfaceId > after)
      .map((e) => e.NetworkInterfaceId);
    expect(idsOf(body)).toEqual(expected.slice(0, maxResults));
    bodies.push(body);
    token = tokenOf(body);
    expect(token === undefined).toBe(expected.length <= maxResults);
    after = expected[maxResults - 1] ?? '';
    if (token) between(bodies.length);
    expect(bodies.length).toBeLessThan(1_000);
  } while (token);
  return bodies;
}

const inA = (e: NetworkInterface) => e.SubnetId === 'subnet-0a1';

describe('DescribeNetworkInterfaces pages of a large world', () => {
  it('pages a standing world exactly as before, for several queries in turn', () => {
    const world = new World(scenario);
    world.advanceTo(START + 3 * MIN); // 07:01: both jobs' ENIs attached
    const bySubnet = pages(world, [['subnet-id', ['subnet-0a1']]], 100, inA);
    expect(bySubnet).toHaveLength(25); // 2,400 + 40 ENIs
    const glue = pages(
      world,
      [
        ['subnet-id', ['subnet-0a1', 'subnet-0b2']],
        ['description', ['Attached to Glue*']],
      ],
      1_000,
      (e) => e.Description.startsWith('Attached to Glue'),
    );
    expect(glue).toHaveLength(3); // 2,000 + 40 + 30
    const jobsInUse: [string, string[]][] = [
      ['status', ['in-use']],
      ['requester-managed', ['true']],
    ];
    const isJobInUse = (e: NetworkInterface) => e.Status === 'in-use' && e.RequesterManaged;
    const inUse = pages(world, jobsInUse, 7, isJobInUse);
    expect(inUse).toHaveLength(10); // the 70 ENIs of the two jobs
    // Asked again, the same pages (the reused list), and the first query once more after the others.
    expect(pages(world, jobsInUse, 7, isJobInUse)).toEqual(inUse);
    expect(pages(world, [['subnet-id', ['subnet-0a1']]], 100, inA)).toEqual(bySubnet);
    expect(digest([...bySubnet, ...glue, ...inUse])).toBe('3841f62928e213e5bed1775020cdc192ee77ec2b7197e4f28cc120aa407c9958');
  });

  it('a world that changes between pages is paged as before: ENIs created, attached, detached and deleted meanwhile', () => {
    const world = new World(scenario);
    world.advanceTo(START);
    // 06:58 → 07:00 (created), 07:01 (attached), then past the runs' end, the linger (detached) and the available
    // time (deleted), a step before each page.
    const steps = [2, 1, 2, 3, 3, 3, 4, 5];
    let at = START;
    const log: string[] = [];
    const moveOn = (page: number) => {
      if (page > steps.length) return;
      const state = () =>
        world
          .networkInterfaces()
          .map((e) => `${e.NetworkInterfaceId}:${e.Status}`)
          .join();
      const before = state();
      at += steps[page - 1] * MIN;
      world.advanceTo(at);
      log.push(`${page}:${world.networkInterfaces().length}:${state() !== before}`);
    };
    const bodies = pages(world, [['subnet-id', ['subnet-0a1']]], 300, inA, moveOn);
    // The world did change under the sequence, in each way: the jobs' 40 ENIs came, attached, and went.
    expect(log.filter((l) => l.endsWith(':true')).length).toBeGreaterThanOrEqual(4);
    expect(log[0]).toBe('1:2520:true');
    expect(log.at(-1)).toMatch(/^8:2450:/);
    expect(digest(bodies)).toBe('6385c4d77cdc7a22af0ce22c292d1caf3dc95a3b9d777c20afd8de656937fe7c');
  });

  it('an ENI rendered before is rendered anew once it attaches or detaches (its text is reused only while it stands)', () => {
    // One world paged at every step (ENIs rendered, then attached, detached, deleted), one stepped straight to the
    // end and paged once: the same seed makes the same world, so their last pages must be the same bytes.
    const all = (world: World) => pages(world, [['subnet-id', ['subnet-0a1', 'subnet-0b2']]], 1_000, () => true);
    const paged = new World(scenario);
    const seen: string[][] = [];
    for (const m of [0, 2, 3, 5, 8, 11, 14, 18]) {
      paged.advanceTo(START + m * MIN);
      seen.push(all(paged));
    }
    const fresh = new World(scenario);
    fresh.advanceTo(START + 18 * MIN);
    expect(seen.at(-1)).toEqual(all(fresh));
    // The steps did move ENIs between states: 07:01's pages show the jobs' ENIs attached, 06:58's none of them.
    const attached = (bodies: string[]) => bodies.join('').split('<attachment>').length - 1;
    expect(attached(seen[2])).toBe(attached(seen[0]) + 70);
    expect(attached(seen.at(-1) as string[])).toBe(attached(seen[0]));
  });
});
