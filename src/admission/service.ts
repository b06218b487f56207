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
import { checkTarget, findJob, targetLabel } from './targets.js';
import { StoreUnreachableError, type AdmissionLedger, type LedgerState } from './ports.js';
import { predictedFreeAt, type DurationKind, type FreeForecast } from './predict.js';
import { headEtaSeconds, ticketAlive, type QueueAnswer } from './queue.js';
import { assessAdmission, planAdmission, type AdmissionPlan, type StepContext } from './step.js';
import {
  ticketIdFor,
  targetFieldsOf,
  ticketSubnet,
  type Decision,
  type DecisionKind,
  type Observation,
  type PolicySettings,
  type Reservation,
  type Ticket,
  type WindowEntry,
} from './types.js';
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
  /** The ticket key when there is no dag_run_id. */
  clientId?: string;
  /** Epoch ms by which the launch must start (checked against the clock here: in the past is a 400). */
  deadline?: number;
  /** The deadline as seconds from now (never given together with deadline). */
  maxWaitSeconds?: number;
  /** Answer what would be answered, recording, reserving and enqueuing nothing. */
  dryRun?: boolean;
  /** The subnet's AWS account (12 digits): must match the subnet's target; picks a job's target among several. */
  account?: string;
  /** The subnet's AWS region: the same as account. */
  region?: string;
}

/** The release forecast horizons /metrics shows (glue_eni_predicted_free_ips{horizon}). */
export const PREDICTED_HORIZONS = [
  { label: '15m', minutes: 15 },
  { label: '30m', minutes: 30 },
  { label: '60m', minutes: 60 },
] as const;

export interface AdmitResult {
  decision: Decision;
  subnet: SubnetView;
  observation: Observation;
  reservation?: Reservation;
  snapshotAgeSeconds: number;
  retryAfterSeconds: number;
  /** The queue's answer (absent when the subnet's queue is off). */
  queue?: QueueAnswer;
  /** Epoch ms, when the request gave a deadline. */
  deadline?: number;
  /** A preview: nothing was recorded, reserved or enqueued. */
  dryRun?: boolean;
  /** The request's ticket id (keyed request, queue on), whether or not it holds one after this answer. */
  ticketId?: string;
}

/** What names a subnet's series on /metrics: its id, its name and its target ('' where none: an error's). */
export interface SubnetLabels {
  subnetId: string;
  subnet: string;
  account: string;
  region: string;
}

/** A subnet's labels; all '' for no subnet (an error before one was resolved). */
export function subnetLabels(s: Pick<SubnetView, 'subnetId' | 'name' | 'account' | 'region'> | undefined): SubnetLabels {
  return { subnetId: s?.subnetId ?? '', subnet: s?.name ?? '', account: s?.account ?? '', region: s?.region ?? '' };
}

export interface SubnetAdmissionStatus extends SubnetLabels {
  settings: PolicySettings;
  buffer: number;
  headroom: number;
  reserved: number;
  /** The recorded window (newest first) the buffer currently comes from. */
  window: WindowEntry[];
  /** Live tickets in the subnet's queue (0 when its queue is off). */
  queueLength: number;
  /** The head ticket's ETA in seconds: undefined with nobody waiting, null when none is predicted within the horizon. */
  headEtaSeconds: number | null | undefined;
  /** Conservative free addresses predicted per horizon, reservations subtracted (empty before the first forecast). */
  predictedFree: { horizon: string; free: number }[];
}

/** How a job request names its target when another target cannot say whether the job runs there. */
const GIVE_TARGET = 'give account= and/or region= of its target';

/** Ticket ids whose missed deadline was counted, remembered so that each is counted once (bounded). */
const MAX_MISSES_REMEMBERED = 10_000;

export interface AdmissionServiceDeps {
  cache: SnapshotCache;
  config: Pick<Config, 'admission' | 'sample' | 'store' | 'dataDir'>;
  store: AdmissionLedger;
  clock: Clock;
  logger: Logger;
}

export class AdmissionService {
  private readonly counts = new Map<string, SubnetLabels & { decision: DecisionKind; count: number }>();
  private readonly instance = randomBytes(3).toString('hex');
  private seq = 0;
  private readonly housekeeping: SnapshotHousekeeping;
  private statusOfTurn: readonly SubnetAdmissionStatus[] | undefined;
  private readonly misses = new Map<string, SubnetLabels & { count: number }>();
  private readonly missCounted = new Set<string>();

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
  bypassTotals(): (SubnetLabels & { addresses: number })[] {
    return this.housekeeping.bypassTotals();
  }

  settingsFor(subnet: SubnetView): PolicySettings {
    return resolveSettings(this.deps.config.admission, subnet.subnetId, subnet.name);
  }

  /** Whether the subnet's waits queue (default on): the override by name, then by id, then the top-level key. */
  queueOn(subnet: Pick<SubnetView, 'subnetId' | 'name'>): boolean {
    const a = this.deps.config.admission;
    const byName = subnet.name !== subnet.subnetId ? a.subnets?.[subnet.name]?.queue : undefined;
    return byName ?? a.subnets?.[subnet.subnetId]?.queue ?? a.queue ?? true;
  }

  /** Feed a lifecycle observation (linger or available duration) to the subnet's release prediction. */
  learnDuration(subnetId: string, kind: DurationKind, seconds: number): void {
    this.housekeeping.learnDuration(subnetId, kind, seconds);
  }

  /** How many linger and available durations the subnet's release prediction has learned from (since start). */
  durationsLearned(subnetId: string): Record<DurationKind, number> {
    return this.housekeeping.durationsLearned(subnetId);
  }

  /** The subnet's release forecast from the last snapshot. */
  forecast(subnetId: string): FreeForecast | undefined {
    return this.housekeeping.forecast(subnetId);
  }

  /** Deadline misses answered per subnet (each ticket counted once), for /metrics. */
  deadlineMisses(): (SubnetLabels & { count: number })[] {
    return [...this.misses.values()].map((m) => ({ ...m }));
  }

  private countMiss(subnet: SubnetView, ticketId: string | undefined): void {
    if (ticketId !== undefined) {
      if (this.missCounted.has(ticketId)) return;
      this.missCounted.add(ticketId);
      // Forget the oldest: a ticket id recurs only while its sensor keeps poking, within minutes.
      if (this.missCounted.size > MAX_MISSES_REMEMBERED) this.missCounted.delete(this.missCounted.values().next().value as string);
    }
    const m = this.misses.get(subnet.subnetId);
    if (m) m.count++;
    else this.misses.set(subnet.subnetId, { ...subnetLabels(subnet), count: 1 });
  }

  countDecision(decision: DecisionKind, subnet?: SubnetView): void {
    const labels = subnetLabels(subnet);
    const key = `${labels.subnetId}\u0000${labels.subnet}\u0000${decision}`;
    const c = this.counts.get(key);
    if (c) c.count++;
    else this.counts.set(key, { ...labels, decision, count: 1 });
  }

  decisionCounts(): (SubnetLabels & { decision: DecisionKind; count: number })[] {
    return [...this.counts.values()].map((c) => ({ ...c }));
  }

  async admit(req: AdmitInput): Promise<AdmitResult> {
    let resolved: SubnetView | undefined;
    try {
      const out = await this.admitInner(req, (s) => (resolved = s));
      // A preview decides nothing: neither the decisions counter nor the deadline misses count it.
      if (out.dryRun) return out;
      this.countDecision(out.decision.admit ? 'admit' : 'wait', out.subnet);
      if (out.queue?.willMissDeadline) this.countMiss(out.subnet, out.queue.ticket?.id ?? out.ticketId);
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
    const want = { account: req.account, region: req.region };
    if (subnetKey !== undefined) {
      subnet = cache.subnet(subnetKey);
      if (!subnet) {
        // A configured subnet of a target with no good sample yet is not unknown: its target is stale.
        const targetStale = cache.subnetStaleReason(subnetKey, maxAge);
        if (targetStale) throw new AdmitError(503, `${targetStale}: cannot decide`, undefined, { snapshot_age_seconds: null });
        throw new AdmitError(404, `subnet ${JSON.stringify(subnetKey)} is not watched`, 'subnet');
      }
      checkTarget(subnet, want, subnetKey);
    }
    if (job !== undefined && (subnet === undefined || workers === undefined)) {
      const unsampled = cache.targets().filter((t) => t.ageSeconds === undefined);
      const found = findJob(snap.subnets, job, want, unsampled);
      if (found.kind === 'glue-unknown') throw new AdmitError(503, this.glueUnknownForJob(snap, job, found.subnets), 'job');
      if (found.kind === 'unsampled') {
        const where = found.targets.map(targetLabel).join(', ');
        throw new AdmitError(
          503,
          `no successful sample yet of ${where}: cannot tell whether job ${JSON.stringify(job)} runs there; ${GIVE_TARGET}`,
          'job',
        );
      }
      if (found.kind === 'none') throw new AdmitError(404, `job ${JSON.stringify(job)} is bound to no watched subnet`, 'job');
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
    // Staleness is the subnet's target's: a stale target answers 503 for its subnets only.
    const targetStale = cache.subnetStaleReason(subnet.subnetId, maxAge);
    const subnetAge = cache.subnetAgeSeconds(subnet.subnetId) ?? age;
    if (targetStale) {
      throw new AdmitError(503, `${targetStale}: cannot decide`, undefined, { snapshot_age_seconds: Number(subnetAge.toFixed(3)) });
    }
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
    let deadline: number | undefined;
    if (req.deadline !== undefined) {
      if (req.deadline < now) throw new AdmitError(400, `deadline ${new Date(req.deadline).toISOString()} is in the past`, 'deadline');
      deadline = req.deadline;
    } else if (req.maxWaitSeconds !== undefined) deadline = now + req.maxWaitSeconds * 1000;
    const sample = windowSample(subnet, now, dagRunId);
    const target = targetFieldsOf(subnet);
    const observation: Observation = {
      subnetId: subnet.subnetId,
      uniq: `${this.instance}${(this.seq++).toString(36)}`,
      totalEnis: subnet.totalEnis,
      inUse: subnet.inUse,
      decision: 'wait',
      expiresAt: now + config.store.retentionDays * DAY_MS,
      ...sample,
      ...target,
    };

    const view = subnet;
    const w = workers;
    const queueOn = this.queueOn(view);
    const key = dagRunId ?? req.clientId;
    const ticketId = queueOn && key !== undefined ? ticketIdFor(view.subnetId, key) : undefined;
    let prior: Observation[];
    try {
      prior =
        settings.policy !== 'none' && settings.policy !== 'static' ? await store.recentObservations(view.subnetId, settings.lookback - 1, now) : [];
    } catch (err) {
      throw this.storeError(err);
    }
    const window = windowOf(sample, prior, settings.lookback);
    // One pure step for a preview and for the real thing; consumption is the snapshot housekeeping's job.
    // A preview, or a store that cannot write the queue now (DynamoDB unreachable), keeps the request's place
    // (its ticket id) but claims no ticket: nothing is written, so the answer must not name one.
    const forecast = queueOn ? this.forecast(view.subnetId) : undefined;
    const plan = (state: LedgerState): AdmissionPlan =>
      planAdmission(
        {
          ...this.stepContext(view.subnetId),
          subnet: view,
          ledger: state.reservations,
          window,
          settings,
          workers: w,
          ...(dagRunId !== undefined ? { dagRunId } : {}),
          reservationTtlMs: config.admission.reservationTtlSeconds * 1000,
          reservationId: (subnetId) => `${subnetId}.${randomUUID()}`,
          target,
          ...(queueOn
            ? {
                queue: {
                  tickets: state.tickets,
                  ...(key !== undefined ? (req.dryRun || state.offline ? { ticketId } : { key, ticketId }) : {}),
                  ...(deadline !== undefined ? { deadline } : {}),
                  ...(forecast ? { forecast } : {}),
                },
              }
            : {}),
        },
        now,
      );
    let outcome: AdmissionPlan;
    try {
      if (req.dryRun) {
        const [reservations, tickets] = await Promise.all([
          store.reservations(view.subnetId, now),
          queueOn ? store.tickets(view.subnetId, now) : Promise.resolve([] as Ticket[]),
        ]);
        outcome = plan({ reservations, tickets });
      } else {
        outcome = await store.transact(view.subnetId, now, (state) => {
          const p = plan(state);
          return {
            add: p.reservation,
            ...(p.putTickets.length > 0 ? { putTickets: p.putTickets } : {}),
            ...(p.dropTickets.length > 0 ? { dropTickets: p.dropTickets } : {}),
            observation: { ...observation, decision: p.decision.admit ? 'admit' : 'wait' },
            result: p,
          };
        });
      }
    } catch (err) {
      throw this.storeError(err);
    }
    let decision = outcome.decision;
    observation.decision = decision.admit ? 'admit' : 'wait';
    if (view.jobs === undefined) {
      // Decided from EC2 alone: say so, so that nobody reads the absent job data as "no jobs running".
      decision = { ...decision, reason: `${decision.reason}; Glue job data unavailable (${snap.glueError ?? 'last Glue read failed'})` };
    }
    const out: AdmitResult = {
      decision,
      subnet: view,
      observation,
      snapshotAgeSeconds: subnetAge,
      retryAfterSeconds: outcome.queue?.retryAfterSeconds ?? config.admission.retryAfterSeconds,
    };
    if (outcome.reservation && !req.dryRun) out.reservation = outcome.reservation;
    if (outcome.queue) out.queue = outcome.queue;
    if (ticketId !== undefined) out.ticketId = ticketId;
    if (deadline !== undefined) out.deadline = deadline;
    if (req.dryRun) out.dryRun = true;
    return out;
  }

  private storeError(err: unknown): AdmitError {
    this.deps.logger.error({ err: (err as Error).message }, 'admission store failed');
    if (err instanceof StoreUnreachableError) return new AdmitError(503, err.message);
    return new AdmitError(503, `observation store unavailable: ${(err as Error).message}`);
  }

  /** The 503 of a job lookup that Glue data unknown in some targets leaves open; with one target, as ever. */
  private glueUnknownForJob(snap: Snapshot, job: string, unknown: SubnetView[]): string {
    const cause = snap.glueError ?? 'last Glue read failed';
    if (this.deps.cache.targets().length <= 1) return `Glue data is unknown (${cause}): cannot resolve job`;
    const where = [...new Set(unknown.map(targetLabel))].join(', ');
    return `Glue data of ${where} is unknown (${cause}): cannot tell whether job ${JSON.stringify(job)} runs there; ${GIVE_TARGET}`;
  }

  /** Withdraw a waiting ticket (DELETE /admit/<ticket id>); undefined when unknown or gone. */
  async withdraw(id: string): Promise<Ticket | undefined> {
    if (ticketSubnet(id) === undefined) return undefined;
    try {
      return await this.deps.store.withdrawTicket(id, this.deps.clock.now());
    } catch (err) {
      throw this.storeError(err);
    }
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
      // The age of the subnet's own target: another target's fresh sample says nothing of this one.
      snapshotAgeSeconds: this.deps.cache.subnetAgeSeconds(subnetId) ?? this.deps.cache.ageSeconds(),
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
      const forecast = this.forecast(s.subnetId);
      const tickets = this.queueOn(s) ? (this.deps.store.peekTickets(s.subnetId) ?? []).filter((t) => ticketAlive(t, now)) : [];
      return {
        ...subnetLabels(s),
        settings,
        buffer: d.buffer,
        headroom: d.headroom,
        reserved: d.reserved,
        window: d.window,
        queueLength: tickets.length,
        headEtaSeconds: headEtaSeconds(tickets, d, forecast, now),
        predictedFree: forecast ? PREDICTED_HORIZONS.map((h) => ({ horizon: h.label, free: predictedFreeAt(forecast, h.minutes, d.reserved) })) : [],
      };
    });
  }
}
