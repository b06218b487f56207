// The worlds of a scenario: the top-level one (today's form) and one per (account, region) under `accounts`, each
// its own World on the shared clock. Keys are `${account}/${region}`, as the exporter names its targets.
import { World, type WorldOptions } from './model.js';
import { hash32, Rng } from './rng.js';
import type { RegionWorld, Scenario } from './scenario.js';

export const worldKey = (account: string, region: string): string => `${account}/${region}`;

/**
 * A world's own seed, drawn from the scenario's seed and its key: worlds do not share id or address streams, and
 * adding one world does not reshuffle another. The top-level world keeps the scenario's seed (its runs replay as
 * they always did).
 */
export function worldSeed(seed: number, key: string): number {
  return hash32(`${seed}:world:${key}`) & 0x7fffffff;
}

/** The scenario one (account, region) of `accounts` runs, in the top-level form World reads. */
export function regionScenario(s: Scenario, account: string, region: string, w: RegionWorld): Scenario {
  const seed = worldSeed(s.seed, worldKey(account, region));
  return {
    ...s,
    seed,
    account,
    region,
    vpcId: w.vpcId ?? `vpc-0${new Rng(seed, 'vpc').hex(16)}`,
    role: w.role ?? s.role,
    subnets: w.subnets,
    connections: w.connections,
    jobs: w.jobs,
    adhoc: w.adhoc,
    otherEnis: w.otherEnis,
    lifecycle: w.lifecycle ?? s.lifecycle,
    faults: w.faults ?? { throttleRate: 0, serverErrorRate: 0, latencyMs: 0 },
    accounts: [],
  };
}

export interface ScenarioWorld {
  key: string;
  account: string;
  region: string;
  world: World;
  /** Faults of this world alone (region `faults`), beside the scenario's. */
  faults?: RegionWorld['faults'];
}

/** Every world a scenario defines, the top-level one first (when it has subnets), then `accounts` in order. */
export function buildWorlds(s: Scenario, opts: WorldOptions = {}): ScenarioWorld[] {
  const out: ScenarioWorld[] = [];
  if (s.subnets.length > 0) out.push({ key: worldKey(s.account, s.region), account: s.account, region: s.region, world: new World(s, opts) });
  for (const a of s.accounts) {
    for (const [region, w] of Object.entries(a.regions)) {
      out.push({ key: worldKey(a.id, region), account: a.id, region, world: new World(regionScenario(s, a.id, region, w), opts), faults: w.faults });
    }
  }
  return out;
}

/** A world with nothing in it: what an (account, region) without a world answers (empty sets, NotFound errors). */
export function emptyWorld(s: Scenario): World {
  return new World({ ...s, subnets: [], connections: [], jobs: [], adhoc: [], otherEnis: [], accounts: [] });
}
