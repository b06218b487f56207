// /admit's logic between the HTTP layer and the pure policy: input checks, subnet/job resolution from the
// cache, the window from the store, and the atomic decide-and-reserve. It never calls AWS.
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Clock } from '../clock.js';
import type { Config } from '../config/load.js';
import type { Logger } from '../log.js';
import type { SnapshotCache } from '../snapshot/cache.js';
import type { Snapshot, SubnetView } from '../snapshot/types.js';
import { isLive, StoreUnreachableError, type AdmissionStore, type DecisionKind, type Observation, type Reservation } from '../store/types.js';
import { BypassMemory, bypassHorizonMs } from './bypass.js';
import type { ForecastExtras } from './forecast.js';
import { decide, resolveSettings, type Decision, type PolicySettings, type WindowEntry, type WindowSample } from './policy.js';
import { attachIndex, reservedWorkers } from './reservations.js';

/** A refusal with its HTTP status and the field it is about. */
export class AdmitError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'AdmitError';
  }
}

/** Raw request fields (query string or JSON body), checked here. */
export interface AdmitRequest {
  subnet?: unknown;
  job?: unknown;
  workers?: unknown;
  dag_run_id?: unknown;
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
  store: AdmissionStore;
  clock: Clock;
  logger: Logger;
}

const DAY_MS = 86_400_000;
const MAX_KEY = 128;
const MAX_DAG_RUN_ID = 250;

function optionalString(v: unknown, field: string, max: number): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new AdmitError(400, `${field} must be a string`, field);
  if (v.length > max) throw new AdmitError(400, `${field} must be at most ${max} characters`, field);
  // Control characters have no business in ids and would forge log lines.
  if (/[\u0000-\u001f\u007f]/.test(v)) throw new AdmitError(400, `${field} must not contain control characters`, field);
  return v;
}

/** An integer ≥ 1 from a JSON number or a decimal string; NaN when it is neither. */
function parseWorkers(v: unknown): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : Number.NaN;
  if (typeof v === 'string' && /^[0-9]{1,9}$/.test(v.trim())) return Number(v.trim());
  if (typeof v === 'string' && /^[0-9]+$/.test(v.trim())) return Number.MAX_SAFE_INTEGER;
  return Number.NaN;
}

export class AdmissionService {
  private readonly counts = new Map<string, { subnetId: string; subnet: string; decision: DecisionKind; count: number }>();
  private readonly instance = randomBytes(3).toString('hex');
  private seq = 0;
  private housekeeping: Promise<void> = Promise.resolve();
  private unsubscribe: (() => void) | undefined;
  /** Addresses taken without an admission, per subnet: what the forecast policy's margin is learned from. */
  private readonly bypass: BypassMemory;
  private statusOfTurn: readonly SubnetAdmissionStatus[] | undefined;

  constructor(private readonly deps: AdmissionServiceDeps) {
    this.bypass = new BypassMemory({
      file: join(deps.config.dataDir, 'bypass.json'),
      intervalSeconds: () => deps.config.sample.intervalSeconds,
    });
  }

  get store(): AdmissionStore {
    return this.deps.store;
  }

  /** Mark reservations consumed as their ENIs show up in each new snapshot, and watch for gate bypasses. */
  start(): void {
    if (this.unsubscribe) return;
    const note = this.bypass.load();
    if (note) this.deps.logger.warn(note);
    this.unsubscribe = this.deps.cache.onSnapshot((snap) => this.onSnapshot(snap));
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** Resolves once the housekeeping started by past snapshots is done. */
  idle(): Promise<void> {
    return this.housekeeping;
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

  async admit(req: AdmitRequest): Promise<AdmitResult> {
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

  private async admitInner(req: AdmitRequest, onResolved: (s: SubnetView) => void): Promise<AdmitResult> {
    const { cache, config, store, clock } = this.deps;
    const subnetKey = optionalString(req.subnet, 'subnet', MAX_KEY);
    const job = optionalString(req.job, 'job', MAX_KEY);
    const dagRunId = optionalString(req.dag_run_id, 'dag_run_id', MAX_DAG_RUN_ID);
    const workersIn = parseWorkers(req.workers);
    if (subnetKey === undefined && job === undefined) {
      throw new AdmitError(400, 'subnet is required (a subnet id or configured name), or job (a Glue job name)', 'subnet');
    }
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
      throw new AdmitError(503, `Glue data is unknown (${snap.glueError ?? 'last Glue read failed'}): the tail (available + lingering) cannot be computed`);
    }

    const now = clock.now();
    const observation: Observation = {
      subnetId: subnet.subnetId,
      observedAt: now,
      uniq: `${this.instance}${(this.seq++).toString(36)}`,
      totalEnis: subnet.totalEnis,
      inUse: subnet.inUse,
      available: subnet.available,
      decision: 'wait',
      expiresAt: now + config.store.retentionDays * DAY_MS,
    };
    if (subnet.lingering !== undefined) observation.lingering = subnet.lingering;
    if (dagRunId !== undefined) observation.dagRunId = dagRunId;

    const view = subnet;
    const w = workers;
    let prior: Observation[];
    try {
      prior = settings.policy !== 'none' && settings.policy !== 'static'
        ? await store.recentObservations(view.subnetId, settings.lookback - 1, now)
        : [];
    } catch (err) {
      throw this.storeError(err);
    }
    const window: WindowSample[] = [observation, ...prior];
    const ttlMs = config.admission.reservationTtlSeconds * 1000;
    let granted: Reservation | undefined;
    let decision: Decision;
    try {
      decision = await store.transact(view.subnetId, now, (reservations) => {
        const { reserved } = reservedWorkers(reservations, view.enis, now);
        const d = decide({ settings, workers: w, free: view.free, reserved, current: view, window, ...this.forecastExtras(view, reservations, now) });
        let add: Reservation | undefined;
        if (d.admit) {
          add = {
            id: `${view.subnetId}.${randomUUID()}`,
            subnetId: view.subnetId,
            workers: w,
            createdAt: now,
            expiresAt: now + ttlMs,
            retainUntil: now + 2 * ttlMs,
          };
          if (dagRunId !== undefined) add.dagRunId = dagRunId;
        }
        granted = add;
        return { add, observation: { ...observation, decision: d.admit ? 'admit' : 'wait' }, result: d };
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

  private onSnapshot(snap: Snapshot): void {
    const now = this.deps.clock.now();
    // Index each subnet's ENIs for the reservation accounting now, before any request reads the snapshot:
    // once per snapshot, never per decision.
    for (const s of snap.subnets) attachIndex(s.enis);
    this.housekeeping = this.housekeeping.then(() => this.housekeep(snap, now));
  }

  /**
   * Per subnet, read the ledger once when a live reservation may be consumed or new ENIs are to be judged;
   * then mark consumed reservations and classify the new ENIs: covered by a reservation, or a gate bypass.
   */
  private async housekeep(snap: Snapshot, now: number): Promise<void> {
    const { store, logger } = this.deps;
    for (const s of snap.subnets) {
      const live = store.peekReservations(s.subnetId)?.some((r) => isLive(r, now)) ?? false;
      const fresh = this.bypass.unclassified(s.subnetId, s.enis);
      let ledger: Reservation[] | undefined = [];
      if (live || fresh.length > 0) {
        try {
          ledger = await store.reservations(s.subnetId, now);
        } catch (err) {
          logger.warn({ err: (err as Error).message, subnet_id: s.subnetId }, 'could not read reservations for the snapshot');
          // New ENIs that cannot be judged make the sample a gap in watching, not a bypass.
          ledger = undefined;
        }
      }
      if (live && ledger) await this.consume(s, ledger, now);
      const added = this.bypass.observe(s.subnetId, snap.takenAt, s.enis, ledger, bypassHorizonMs(this.settingsFor(s).bypassMemoryDays));
      if (added > 0) logger.info({ subnet_id: s.subnetId, subnet: s.name, addresses: added }, 'addresses taken without an admission (gate bypass)');
    }
    try {
      this.bypass.save();
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'could not save the gate-bypass memory');
    }
  }

  /** Bypass addresses seen per watched subnet since it was first watched (persisted), for /metrics. */
  bypassTotals(): { subnetId: string; subnet: string; addresses: number }[] {
    const snap = this.deps.cache.current();
    return (snap?.subnets ?? []).map((s) => ({ subnetId: s.subnetId, subnet: s.name, addresses: this.bypass.history(s.subnetId)?.totalAddresses ?? 0 }));
  }

  private async consume(s: SubnetView, ledger: readonly Reservation[], now: number): Promise<void> {
    try {
      for (const r of reservedWorkers(ledger, s.enis, now).consumed) {
        await this.deps.store.closeReservation(r.id, 'consumed', now);
        this.deps.logger.info({ reservation: r.id, subnet_id: s.subnetId, workers: r.workers }, 'reservation consumed: its ENIs are visible');
      }
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message, subnet_id: s.subnetId }, 'could not update reservations from the snapshot');
    }
  }

  /** What the forecast policy reads beside the window: the cache's age and the subnet's reservations. */
  private forecastExtras(view: SubnetView, reservations: readonly Reservation[], now: number): ForecastExtras {
    const extras: ForecastExtras = {
      snapshotAgeSeconds: this.deps.cache.ageSeconds(),
      sampleIntervalSeconds: this.deps.config.sample.intervalSeconds,
      reservations,
      enis: view.enis,
      now,
    };
    const bypass = this.bypass.history(view.subnetId);
    if (bypass) extras.bypass = bypass;
    return extras;
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
      const reservations = this.deps.store.peekReservations(s.subnetId) ?? [];
      const { reserved } = reservedWorkers(reservations, s.enis, now);
      const d = decide({ settings, workers: 0, free: s.free, reserved, current: s, window: recorded, ...this.forecastExtras(s, reservations, now) });
      return { subnetId: s.subnetId, subnet: s.name, settings, buffer: d.buffer, headroom: d.headroom, reserved, window: d.window };
    });
  }
}
