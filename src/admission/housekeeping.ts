// Snapshot housekeeping: per new snapshot, predict each subnet's free addresses ahead (once per sample, never
// per request), close the reservations whose ENIs it shows (consumed) and classify the ENIs new to it as gated
// or gate bypasses. It runs in the background, one snapshot after the other, and never holds up /admit.
import { join } from 'node:path';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { SnapshotCache } from '../snapshot/cache.js';
import { runInSlices } from '../slices.js';
import type { Snapshot, SubnetView } from '../snapshot/types.js';
import { BypassMemory, bypassHorizonMs, type BypassHistory } from './bypass.js';
import type { AdmissionLedger } from './ports.js';
import { DurationLearner, predictFree, RunDurationLearner, type DurationKind, type FreeForecast } from './predict.js';
import { attachIndex } from './reservations.js';
import { consumedBy } from './step.js';
import { isLive, type PolicySettings, type Reservation } from './types.js';

/** What a subnet with no observation yet forecasts from: the field's durations. */
const DEFAULT_LEARNER = new DurationLearner();

export interface SnapshotHousekeepingDeps {
  cache: SnapshotCache;
  store: AdmissionLedger;
  clock: Clock;
  logger: Logger;
  /** <dataDir>/bypass.json keeps the gate-bypass memory across restarts. */
  dataDir: string;
  sampleIntervalSeconds: () => number;
  settingsOf: (subnet: SubnetView) => PolicySettings;
}

export class SnapshotHousekeeping {
  private chain: Promise<void> = Promise.resolve();
  private unsubscribe: (() => void) | undefined;
  /** Addresses taken without an admission, per subnet: what the forecast policy's margin is learned from. */
  private readonly bypass: BypassMemory;
  /** Linger and available durations observed per subnet (since start: like the histograms of /metrics). */
  private readonly learners = new Map<string, DurationLearner>();
  /** Each subnet's jobs' run durations, learned from its active runs snapshot by snapshot. */
  private readonly runLearners = new Map<string, RunDurationLearner>();
  /** The last release forecast per subnet. */
  private readonly forecasts = new Map<string, FreeForecast>();

  constructor(private readonly deps: SnapshotHousekeepingDeps) {
    // Samples are scheduled in real time but stamped on the exporter's clock: the gap between two of them is
    // judged on that clock, or at the simulator's speed every sample would look like a gap and classify nothing.
    this.bypass = new BypassMemory({
      file: join(deps.dataDir, 'bypass.json'),
      intervalSeconds: () => deps.sampleIntervalSeconds() * (deps.clock.speed ?? 1),
    });
  }

  start(): void {
    if (this.unsubscribe) return;
    const note = this.bypass.load();
    if (note) this.deps.logger.warn(note);
    // With several targets each sample is one target's: only its subnets were sampled, so only they are judged
    // (another target's subnets keep their forecast and are not counted as watched at this sample's time).
    this.unsubscribe = this.deps.cache.onSnapshot((merged: Snapshot, changed?: Snapshot) => this.onSnapshot(merged, changed ?? merged));
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** Resolves once the housekeeping started by past snapshots is done. */
  idle(): Promise<void> {
    return this.chain;
  }

  /** A lifecycle observation (the tracker's events): the durations release prediction learns from. */
  learnDuration(subnetId: string, kind: DurationKind, seconds: number): void {
    let l = this.learners.get(subnetId);
    if (!l) this.learners.set(subnetId, (l = new DurationLearner()));
    l.observe(kind, seconds);
  }

  /** How many durations of each kind the subnet's prediction has learned from. */
  durationsLearned(subnetId: string): Record<DurationKind, number> {
    const l = this.learners.get(subnetId);
    return { linger: l?.observations('linger') ?? 0, available: l?.observations('available') ?? 0 };
  }

  /** The subnet's forecast from the last snapshot; undefined before the first one. */
  forecast(subnetId: string): FreeForecast | undefined {
    return this.forecasts.get(subnetId);
  }

  bypassHistory(subnetId: string): BypassHistory | undefined {
    return this.bypass.history(subnetId);
  }

  /** Bypass addresses seen per watched subnet since it was first watched (persisted), for /metrics. */
  bypassTotals(): { subnetId: string; subnet: string; account: string; region: string; addresses: number }[] {
    const snap = this.deps.cache.current();
    return (snap?.subnets ?? []).map((s) => ({
      subnetId: s.subnetId,
      subnet: s.name,
      account: s.account,
      region: s.region,
      addresses: this.bypass.history(s.subnetId)?.totalAddresses ?? 0,
    }));
  }

  private onSnapshot(merged: Snapshot, snap: Snapshot): void {
    const now = this.deps.clock.now();
    // Index each subnet's ENIs for the reservation accounting now, before any request reads the snapshot:
    // once per snapshot, never per decision.
    for (const s of snap.subnets) attachIndex(s.enis);
    // Forecasts too, before any request reads the snapshot; a subnet no longer watched drops its own.
    const next = new Map<string, FreeForecast>();
    for (const s of merged.subnets) {
      const kept = this.forecasts.get(s.subnetId);
      if (kept) next.set(s.subnetId, kept);
    }
    for (const s of snap.subnets) {
      const model = (this.learners.get(s.subnetId) ?? DEFAULT_LEARNER).model();
      let runs = this.runLearners.get(s.subnetId);
      if (!runs) this.runLearners.set(s.subnetId, (runs = new RunDurationLearner()));
      runs.observeSample(s.activeRuns, snap.takenAt);
      next.set(s.subnetId, predictFree(s, model, { at: snap.takenAt, runs }));
    }
    this.forecasts.clear();
    for (const [id, f] of next) this.forecasts.set(id, f);
    this.chain = this.chain.then(() => this.housekeep(snap, now));
  }

  /**
   * Per subnet, read the ledger once when a live reservation may be consumed or new ENIs are to be judged;
   * then mark consumed reservations and classify the new ENIs: covered by a reservation, or a gate bypass.
   */
  private async housekeep(snap: Snapshot, now: number): Promise<void> {
    const { store, logger } = this.deps;
    for (const s of snap.subnets) {
      const live = store.peekReservations(s.subnetId)?.some((r) => isLive(r, now)) ?? false;
      // The ENIs to classify, found a slice per turn of the event loop (50,000 ids): made once, observe reuses it.
      const scan = await runInSlices(this.bypass.scanSteps(s.subnetId, s.enis));
      const newcomers = scan.newcomers;
      let ledger: Reservation[] | undefined = [];
      if (live || newcomers.length > 0) {
        try {
          ledger = await store.reservations(s.subnetId, now);
        } catch (err) {
          logger.warn({ err: (err as Error).message, subnet_id: s.subnetId }, 'could not read reservations for the snapshot');
          // New ENIs that cannot be judged make the sample a gap in watching, not a bypass.
          ledger = undefined;
        }
      }
      if (live && ledger) await this.consume(s, ledger, now);
      const horizonMs = bypassHorizonMs(this.deps.settingsOf(s).bypassMemoryDays);
      const added = this.bypass.observe(s.subnetId, snap.takenAt, s.enis, ledger, horizonMs, scan);
      if (added > 0) logger.info({ subnet_id: s.subnetId, subnet: s.name, addresses: added }, 'addresses taken without an admission (gate bypass)');
    }
    // Written off the event loop; the next snapshot's housekeeping waits for it (idle() covers it too).
    await this.bypass.save().catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'could not save the gate-bypass memory'));
  }

  private async consume(s: SubnetView, ledger: readonly Reservation[], now: number): Promise<void> {
    try {
      for (const r of consumedBy(ledger, s.enis, now)) {
        await this.deps.store.closeReservation(r.id, 'consumed', now);
        this.deps.logger.info({ reservation: r.id, subnet_id: s.subnetId, workers: r.workers }, 'reservation consumed: its ENIs are visible');
      }
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message, subnet_id: s.subnetId }, 'could not update reservations from the snapshot');
    }
  }
}
