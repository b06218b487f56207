// /admit's logic between the HTTP layer and the pure step: subnet/job resolution from the cache, the window
// from the store, and the atomic decide-and-reserve. It never calls AWS.
import { randomBytes, randomUUID } from 'node:crypto';
import { DAY_MS, type Clock } from '../clock.js';
import type { Config } from '../config/load.js';
import type { Logger } from '../log.js';
import type { SnapshotCache } from '../snapshot/cache.js';
import type { Snapshot, SubnetView } from '../snapshot/types.js';
import { AdmitError } from './errors.js';
import { SnapshotHousekeeping } from './housekeeping.js';
import { resolveSettings } from './policy.js';
import { StoreUnreachableError, type AdmissionLedger } from './ports.js';
import { assessAdmission, planAdmission, type StepContext } from './step.js';
import type { Decision, DecisionKind, Observation, PolicySettings, Reservation, WindowEntry } from './types.js';
import { windowOf, windowSample } from './window.js';

/** /admit's input, checked for type and form by the HTTP layer (src/http/admit-input.ts). */
export interface AdmitInput {
  /** A subnet id or configured name. */
  subnet?: string;
  /** A Glue job name: stands for the subnet and the workers when they are not given. */
  job?: string;
  /** An integer, NaN when the request's value was not one (the range depends on the subnet). */
  workers?: number;
  dagRunId?: string;
}

export interface AdmitResult {
  decision: Decision;
  subnet: SubnetView;
  observation: Observation;
  reservation?: Reservation;
  snapshotAgeSeconds: number;
  retryAfterSeconds: number;
}

export interface SubnetAdmissionStatus {
  subnetId: string;
  subnet: string;
  settings: PolicySettings;
  buffer: number;
  headroom: number;
  reserved: number;
  /** The recorded window (newest first) the buffer currently comes from. */
  window: WindowEntry[];
}

export interface AdmissionServiceDeps {
  cache: SnapshotCache;
  config: Pick<Config, 'admission' | 'sample' | 'store' | 'dataDir'>;
  store: AdmissionLedger;
  clock: Clock;
  logger: Logger;
}

export class AdmissionService {
  private readonly counts = new Map<string, { subnetId: string; subnet: string; decision: DecisionKind; count: number }>();
  private readonly instance = randomBytes(3).toString('hex');
  private seq = 0;
  private readonly housekeeping: SnapshotHousekeeping;
  private statusOfTurn: readonly SubnetAdmissionStatus[] | undefined;

  constructor(private readonly deps: AdmissionServiceDeps) {
    this.housekeeping = new SnapshotHousekeeping({
      cache: deps.cache,
      store: deps.store,
      clock: deps.clock,
      logger: deps.logger,
      dataDir: deps.config.dataDir,
      sampleIntervalSeconds: () => deps.config.sample.intervalSeconds,
      settingsOf: (s) => this.settingsFor(s),
    });
  }

  get store(): AdmissionLedger {
    return this.deps.store;
  }

  /** Start the snapshot housekeeping: reservations consumed as their ENIs show up, gate bypasses watched. */
  start(): void {
    this.housekeeping.start();
  }

  stop(): void {
    this.housekeeping.stop();
  }

  /** Resolves once the housekeeping started by past snapshots is done. */
  idle(): Promise<void> {
    return this.housekeeping.idle();
  }

  /** Bypass addresses seen per watched subnet since it was first watched (persisted), for /metrics. */
  bypassTotals(): { subnetId: string; subnet: string; addresses: number }[] {
    return this.housekeeping.bypassTotals();
  }

  settingsFor(subnet: SubnetView): PolicySettings {
    return resolveSettings(this.deps.config.admission, subnet.subnetId, subnet.name);
  }

  countDecision(decision: DecisionKind, subnet?: SubnetView): void {
    const subnetId = subnet?.subnetId ?? '';
    const name = subnet?.name ?? '';
    const key = `${subnetId}\u0000${name}\u0000${decision}`;
    const c = this.counts.get(key);
    if (c) c.count++;
    else this.counts.set(key, { subnetId, subnet: name, decision, count: 1 });
  }

  decisionCounts(): { subnetId: string; subnet: string; decision: DecisionKind; count: number }[] {
    return [...this.counts.values()].map((c) => ({ ...c }));
  }

  async admit(req: AdmitInput): Promise<AdmitResult> {
    let resolved: SubnetView | undefined;
    try {
      const out = await this.admitInner(req, (s) => (resolved = s));
      this.countDecision(out.decision.admit ? 'admit' : 'wait', out.subnet);
      return out;
    } catch (err) {
      this.countDecision('error', resolved);
      throw err;
    }
  }

  private async admitInner(req: AdmitInput, onResolved: (s: SubnetView) => void): Promise<AdmitResult> {
    const { cache, config, store, clock } = this.deps;
    const { subnet: subnetKey, job, dagRunId, workers: workersIn } = req;
    if (workersIn !== undefined && (Number.isNaN(workersIn) || workersIn < 1)) {
      const known = subnetKey !== undefined ? cache.subnet(subnetKey) : undefined;
      throw new AdmitError(400, `workers must be an integer from 1 to ${known ? known.usable : 'the usable addresses of the subnet'}`, 'workers');
    }

    // Never a guess: no data, or data older than allowed, is a 503 with the reason.
    const snap = cache.current();
    const age = cache.ageSeconds();
    const maxAge = config.sample.maxAgeSeconds;
    const stale = cache.staleReason(maxAge);
    if (!snap || age === undefined || stale) {
      throw new AdmitError(503, `${stale ?? 'no successful sample yet'}: cannot decide`, undefined, {
        snapshot_age_seconds: age === undefined ? null : Number(age.toFixed(3)),
      });
    }

    let subnet: SubnetView | undefined;
    let workers = workersIn;
    if (subnetKey !== undefined) {
      subnet = cache.subnet(subnetKey);
      if (!subnet) throw new AdmitError(404, `subnet ${JSON.stringify(subnetKey)} is not watched`, 'subnet');
    }
    if (job !== undefined && (subnet === undefined || workers === undefined)) {
      const found = this.findJob(snap, job);
      if (!found) throw new AdmitError(404, `job ${JSON.stringify(job)} is bound to no watched subnet`, 'job');
      subnet ??= found.subnet;
      if (workers === undefined) {
        if (found.workers === undefined) {
          throw new AdmitError(400, `workers is required: job ${JSON.stringify(job)} has no fixed worker count`, 'workers');
        }
        workers = found.workers;
      }
    }
    if (!subnet) throw new AdmitError(400, 'subnet is required', 'subnet');
    onResolved(subnet);
    if (workers === undefined) throw new AdmitError(400, `workers must be an integer from 1 to ${subnet.usable}`, 'workers');
    if (workers > subnet.usable) throw new AdmitError(400, `workers must be an integer from 1 to ${subnet.usable}`, 'workers');

    const settings = this.settingsFor(subnet);
    const needsTail =
      settings.policy === 'tail-aware' || settings.policy === 'forecast' || (settings.policy === 'rolling-max' && settings.bufferSource === 'tail');
    if (needsTail && subnet.lingering === undefined) {
      throw new AdmitError(
        503,
        `Glue data is unknown (${snap.glueError ?? 'last Glue read failed'}): the tail (available + lingering) cannot be computed`,
      );
    }

    const now = clock.now();
    const sample = windowSample(subnet, now, dagRunId);
    const observation: Observation = {
      subnetId: subnet.subnetId,
      uniq: `${this.instance}${(this.seq++).toString(36)}`,
      totalEnis: subnet.totalEnis,
      inUse: subnet.inUse,
      decision: 'wait',
      expiresAt: now + config.store.retentionDays * DAY_MS,
      ...sample,
    };

    const view = subnet;
    const w = workers;
    let prior: Observation[];
    try {
      prior =
        settings.policy !== 'none' && settings.policy !== 'static' ? await store.recentObservations(view.subnetId, settings.lookback - 1, now) : [];
    } catch (err) {
      throw this.storeError(err);
    }
    const window = windowOf(sample, prior, settings.lookback);
    let granted: Reservation | undefined;
    let decision: Decision;
    try {
      decision = await store.transact(view.subnetId, now, ({ reservations: ledger }) => {
        // Consumption is the snapshot housekeeping's job (it closes them in the store); the plan only decides.
        const plan = planAdmission(
          {
            ...this.stepContext(view.subnetId),
            subnet: view,
            ledger,
            window,
            settings,
            workers: w,
            ...(dagRunId !== undefined ? { dagRunId } : {}),
            reservationTtlMs: config.admission.reservationTtlSeconds * 1000,
            reservationId: (subnetId) => `${subnetId}.${randomUUID()}`,
          },
          now,
        );
        granted = plan.reservation;
        return { add: plan.reservation, observation: { ...observation, decision: plan.decision.admit ? 'admit' : 'wait' }, result: plan.decision };
      });
    } catch (err) {
      throw this.storeError(err);
    }
    observation.decision = decision.admit ? 'admit' : 'wait';
    if (!snap.glueKnown) {
      // Decided from EC2 alone: say so, so that nobody reads the absent job data as "no jobs running".
      decision = { ...decision, reason: `${decision.reason}; Glue job data unavailable (${snap.glueError ?? 'last Glue read failed'})` };
    }
    const out: AdmitResult = {
      decision,
      subnet: view,
      observation,
      snapshotAgeSeconds: age,
      retryAfterSeconds: config.admission.retryAfterSeconds,
    };
    if (granted) out.reservation = granted;
    return out;
  }

  private storeError(err: unknown): AdmitError {
    this.deps.logger.error({ err: (err as Error).message }, 'admission store failed');
    if (err instanceof StoreUnreachableError) return new AdmitError(503, err.message);
    return new AdmitError(503, `observation store unavailable: ${(err as Error).message}`);
  }

  private findJob(snap: Snapshot, job: string): { subnet: SubnetView; workers?: number } | undefined {
    if (!snap.glueKnown) {
      throw new AdmitError(503, `Glue data is unknown (${snap.glueError ?? 'last Glue read failed'}): cannot resolve job`, 'job');
    }
    for (const s of snap.subnets) {
      const b = s.jobs?.find((j) => j.job === job);
      if (b) return b.workers === undefined ? { subnet: s } : { subnet: s, workers: b.workers };
    }
    return undefined;
  }

  /** Release a live reservation early (DELETE /admit/:id); undefined when unknown or no longer live. */
  async release(id: string): Promise<Reservation | undefined> {
    try {
      return await this.deps.store.closeReservation(id, 'released', this.deps.clock.now());
    } catch (err) {
      throw this.storeError(err);
    }
  }

  /** What the step reads beside the sample and the ledger: the cache's age, the schedule, the bypass memory. */
  private stepContext(subnetId: string): StepContext {
    return {
      snapshotAgeSeconds: this.deps.cache.ageSeconds(),
      sampleIntervalSeconds: this.deps.config.sample.intervalSeconds,
      bypass: this.housekeeping.bypassHistory(subnetId),
    };
  }

  /**
   * Per-subnet state for /metrics, from memory only (no store I/O, no AWS). Several collectors read it in one
   * scrape, and prom-client calls every collector in the same synchronous turn: the first computes it, the
   * others share it, and the next turn (the next scrape) computes it afresh. Callers must not change it.
   */
  status(): readonly SubnetAdmissionStatus[] {
    if (this.statusOfTurn) return this.statusOfTurn;
    const status = this.computeStatus();
    this.statusOfTurn = status;
    queueMicrotask(() => (this.statusOfTurn = undefined));
    return status;
  }

  private computeStatus(): SubnetAdmissionStatus[] {
    const snap = this.deps.cache.current();
    if (!snap) return [];
    const now = this.deps.clock.now();
    return snap.subnets.map((s) => {
      const settings = this.settingsFor(s);
      const recorded = this.deps.store.peekObservations(s.subnetId, settings.lookback) ?? [];
      const ledger = this.deps.store.peekReservations(s.subnetId) ?? [];
      const { decision: d } = assessAdmission({ ...this.stepContext(s.subnetId), subnet: s, ledger, window: recorded, settings, workers: 0 }, now);
      return { subnetId: s.subnetId, subnet: s.name, settings, buffer: d.buffer, headroom: d.headroom, reserved: d.reserved, window: d.window };
    });
  }
}
