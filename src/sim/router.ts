// Which world answers a request: the account of its access key (issued by AssumeRole, or the scenario's own) and
// the region of its SigV4 credential scope. A scenario without `accounts` has one world, which answers every
// request whatever its region, as it always has.
import { FaultInjector } from './faults.js';
import type { World } from './model.js';
import type { Scenario } from './scenario.js';
import { StsService } from './sts.js';
import { buildWorlds, emptyWorld, worldKey, worldSeed } from './worlds.js';

export interface SimWorld {
  key: string;
  account: string;
  region: string;
  world: World;
  /** This world's own faults (region `faults`, or set through the control endpoint), beside the global ones. */
  faults?: FaultInjector;
}

export class SimRouter {
  readonly worlds = new Map<string, SimWorld>();
  /** The top-level world (or, when the top level has no subnets, the first of `accounts`). */
  readonly primary: SimWorld;
  /** Requests go by (account, region): the scenario has `accounts`. */
  readonly routed: boolean;
  readonly sts: StsService;
  private empty?: World;
  private readonly counts = new Map<string, Map<string, number>>();

  constructor(
    readonly scenario: Scenario,
    opts: { autoLaunch?: boolean; realNow?: () => number } = {},
  ) {
    for (const w of buildWorlds(scenario, { autoLaunch: opts.autoLaunch })) {
      this.worlds.set(w.key, {
        ...w,
        faults: w.faults ? new FaultInjector(worldSeed(scenario.seed, w.key), w.faults) : undefined,
      });
    }
    this.primary = [...this.worlds.values()][0];
    this.routed = scenario.accounts.length > 0;
    this.sts = new StsService(scenario, opts.realNow);
  }

  /** The world of (account, region); an (account, region) without one gets an empty world (its key still counts). */
  route(account: string, region: string | undefined): SimWorld {
    if (!this.routed) return this.primary;
    const key = worldKey(account, region ?? this.scenario.region);
    const found = this.worlds.get(key);
    if (found) return found;
    this.empty ??= emptyWorld(this.scenario);
    return { key, account, region: region ?? this.scenario.region, world: this.empty };
  }

  /** The world named by the control endpoints' `account` / `region` (each defaults to the top level's). */
  find(account: string | null, region: string | null): SimWorld | undefined {
    if (account === null && region === null) return this.primary;
    return this.worlds.get(worldKey(account ?? this.scenario.account, region ?? this.scenario.region));
  }

  /** A world's own fault injector, made on first use. */
  faultsOf(w: SimWorld): FaultInjector {
    w.faults ??= new FaultInjector(worldSeed(this.scenario.seed, w.key));
    return w.faults;
  }

  advanceAll(t: number): void {
    for (const w of this.worlds.values()) w.world.advanceTo(t);
  }

  count(key: string, action: string): void {
    let byAction = this.counts.get(key);
    if (!byAction) this.counts.set(key, (byAction = new Map()));
    byAction.set(action, (byAction.get(action) ?? 0) + 1);
  }

  /** Requests received so far, by world key (`sts` for STS) and action. */
  requestCounts(): Record<string, Record<string, number>> {
    return Object.fromEntries([...this.counts].map(([k, m]) => [k, Object.fromEntries(m)]));
  }
}
