// The policy backtest: the simulator's World on virtual time, driven by a sensor that asks the same admission
// code as /admit, against snapshots built by the exporter's own buildSnapshot from a sampler that runs every 60 s.
// Decisions read the last sample, not the live world: that staleness is part of what is measured. Beside the
// gate's policies, two launchers that do not ask it: blind with Airflow's retries, and a clairvoyant oracle that
// reads the live world (the limit). Every run has a deadline; what is measured is what users feel: runs missed
// (failed or never launched) and time waited. No HTTP, no timers, no sleeping.
import type { RawEni } from '../aws/types.js';
import { DAY_MS } from '../clock.js';
import { BypassMemory, bypassHorizonMs, type BypassEni } from '../admission/bypass.js';
import { defaultPolicySettings } from '../admission/policy.js';
import { DurationLearner, predictFree, RunDurationLearner, type FreeForecast } from '../admission/predict.js';
import type { QueueAnswer } from '../admission/queue.js';
import { consumedBy, planAdmission, type AdmissionPlan } from '../admission/step.js';
import {
  closeReservation,
  isLive,
  policiesByCaution,
  type Decision,
  type PolicyName,
  type PolicySettings,
  type Reservation,
  type Ticket,
  ticketIdFor,
  type WindowSample,
} from '../admission/types.js';
import { windowOf, windowSample } from '../admission/window.js';
import { addressesHeld, buildSnapshot, ownerOf } from '../snapshot/build.js';
import type { Snapshot, SubnetView } from '../snapshot/types.js';
import { adhocJobName, EXHAUSTION_MESSAGE, World, type EniTruth, type LaunchRequest } from '../sim/model.js';
import type { Scenario } from '../sim/scenario.js';
import { InformedEta } from './informed.js';
import { WorldMirror, type Capture } from './mirror.js';

const MINUTE = 60_000;
/** What a subnet forecasts from before it has taught anything: the field's durations (as the exporter). */
const DEFAULT_LEARNER = new DurationLearner();
/** The exporter's default glue.ownerDescriptionPrefixes: the simulator describes Glue ENIs as AWS does. */
const OWNER_PREFIXES = ['Attached to Glue using role', 'Glue_'];

/** The policies a gate can run (config admission.policy), from the blind launcher to the best informed. */
export const gatedPolicies = policiesByCaution.filter((p): p is Exclude<PolicyName, 'none'> => p !== 'none');
/**
 * Every policy the backtest compares: the blind launcher (`none`), blind with Airflow's retries (`blind-retry`),
 * the gate's policies, and the clairvoyant `oracle` (the limit). The last two exist only here.
 */
export const backtestPolicies = ['none', 'blind-retry', ...gatedPolicies, 'oracle'] as const;
export type BacktestPolicy = (typeof backtestPolicies)[number];
export type GatedPolicy = (typeof gatedPolicies)[number];

export function isGated(policy: BacktestPolicy): policy is GatedPolicy {
  return (gatedPolicies as readonly string[]).includes(policy);
}

/**
 * How a gated launch waits. `report`: the field report's sensor, poke every 60 s, give up 10 minutes after the
 * due time (or at the deadline, if that comes first). `eta`: keeps its ticket, pokes again after each answer's
 * retry_after, fails at once on will_miss_deadline, gives up at its deadline.
 */
export const sensorKinds = ['report', 'eta'] as const;
export type SensorKind = (typeof sensorKinds)[number];

export interface SensorSettings {
  kind: SensorKind;
  /** Seconds between pokes of a waiting launch (the report: 60). */
  pokeIntervalSeconds: number;
  /** Seconds after the due time at which the report sensor gives up (the report: 600). */
  timeoutSeconds: number;
  /** Seconds between samples (the exporter's default schedule: every minute). */
  sampleIntervalSeconds: number;
  /** Reservation TTL, as config admission.reservationTtlSeconds (default 300). */
  reservationTtlSeconds: number;
  /** blind-retry: seconds between a failed attempt and the next (Airflow's retry_delay, 5 minutes). */
  retryIntervalSeconds: number;
  /** Launch sources that bypass the gate whatever the policy (e.g. ['adhoc']: manual runs nobody gated). */
  blindSources: readonly ('schedule' | 'adhoc')[];
}

export const defaultSensorSettings: SensorSettings = {
  kind: 'report',
  pokeIntervalSeconds: 60,
  timeoutSeconds: 600,
  sampleIntervalSeconds: 60,
  reservationTtlSeconds: 300,
  retryIntervalSeconds: 300,
  blindSources: [],
};

export interface BacktestOptions {
  scenario: Scenario;
  days: number;
  policy: BacktestPolicy;
  /** Overrides of the admission knobs (lookback, minBuffer, bufferSource, staticBuffer). */
  policySettings?: Partial<Omit<PolicySettings, 'policy'>>;
  sensor?: Partial<SensorSettings>;
  /** Called with every decision (for tracing a run). */
  onDecision?: (d: {
    at: number;
    jobName: string;
    requestId: string;
    subnetId: string;
    sampleTakenAt: number;
    decision: Decision;
    /** The queue's answer (eta sensor): ETA, position, retry_after, will_miss_deadline. */
    queue?: QueueAnswer;
  }) => void;
}

/** What users feel, over a set of launch requests (all of them, one subnet's, or one job's). */
export interface Outcome {
  /** Launch requests that came due (scheduled and ad hoc). */
  runs: number;
  /** Requests whose run was lost to the subnet-exhaustion error: the launch failed and was not retried successfully. */
  exhaustionFailures: number;
  failureRate: number;
  /** Every launch that failed with the exhaustion error, retried or not (blind-retry retries; others do not). */
  failedAttempts: number;
  /** Requests that did not launch at their due time (refused at the first poke, or their first attempt failed). */
  held: number;
  heldRate: number;
  /** Held requests that gave up (their deadline or the sensor's timeout came first): not launched. */
  gaveUp: number;
  /** Requests that never ran: exhaustion failures + gave up. */
  missedRuns: number;
  missedRate: number;
  /** Wait from due time to launch, over held requests that did launch (0 when none). */
  medianWaitSeconds: number;
  p95WaitSeconds: number;
  maxWaitSeconds: number;
  /** Time every request spent between its due time and its launch, its last failed attempt or its giving up. */
  totalWaitHours: number;
  /**
   * p90 of |actual launch − predicted launch| over held requests that launched, the prediction being the ETA of
   * the first wait answer; null when no such request had a predicted ETA (no ETA-answering sensor).
   */
  etaErrorP90Seconds: number | null;
  /**
   * The same over every wait answer that gave an ETA (each answer one error): how good the ETAs are as the
   * wait goes on, beside the first answer's (the one a user plans with). null as above.
   */
  etaErrorAllP90Seconds: number | null;
  /**
   * The same two over the same answers, the prediction being the informed reference's (informed.ts: the true
   * duration distributions and the world's exact ENI states, the same queue and course): how much of the error
   * no gate that does not know the draws could avoid. null as above, or when the reference had no ETA.
   */
  etaErrorInformedP90Seconds: number | null;
  etaErrorInformedAllP90Seconds: number | null;
  /** Highest share of the subnet's usable addresses held at any moment (max over subnets). */
  peakUtilization: number;
  /** Address-minutes held by Glue ENIs after their run ended (lingering in-use + available). */
  tailIpMinutes: number;
}

export interface SubnetResult extends Outcome {
  subnetId: string;
  name: string;
  usable: number;
}

export interface JobResult extends Outcome {
  job: string;
  subnetId: string;
}

export interface BacktestResult extends Outcome {
  policy: BacktestPolicy;
  /** The sensor of a gated policy; null for the launchers that do not ask the gate (none, blind-retry, oracle). */
  sensor: SensorKind | null;
  days: number;
  /** Pokes answered by the admission step (decisions made). */
  decisions: number;
  subnets: SubnetResult[];
  /** The same per Glue job, in scenario order. */
  jobs: JobResult[];
}

/** The knobs the exporter would use for `policy`: defaults, then the overrides. */
export function backtestSettings(policy: GatedPolicy | 'none', over: BacktestOptions['policySettings'] = {}): PolicySettings {
  return { ...defaultPolicySettings, ...over, policy };
}

/** Counts kept per subnet and per job while the backtest runs. */
interface Tally {
  runs: number;
  exhaustionFailures: number;
  failedAttempts: number;
  held: number;
  gaveUp: number;
  /** Seconds, held requests that launched. */
  waits: number[];
  waitMs: number;
  /** Seconds, |launch − first predicted launch|. */
  etaErrors: number[];
  /** Seconds, |launch − predicted launch| of every wait answer with an ETA. */
  etaErrorsAll: number[];
  /** The same two for the informed reference's ETAs at those answers. */
  etaErrorsInformed: number[];
  etaErrorsInformedAll: number[];
  peakUtilization: number;
  tailIpMinutes: number;
}

function newTally(peakUtilization = 0): Tally {
  return {
    runs: 0,
    exhaustionFailures: 0,
    failedAttempts: 0,
    held: 0,
    gaveUp: 0,
    waits: [],
    waitMs: 0,
    etaErrors: [],
    etaErrorsAll: [],
    etaErrorsInformed: [],
    etaErrorsInformedAll: [],
    peakUtilization,
    tailIpMinutes: 0,
  };
}

interface Pending {
  request: LaunchRequest;
  subnetId: string;
  seq: number;
  nextPoke: number;
  held: boolean;
  /** dueAt + the job's deadline: a launch later than this is lost. */
  deadlineAt: number;
  /** The last moment the launch may be tried: the deadline, or the report sensor's timeout if sooner. */
  lastTryAt: number;
  /** Launch time predicted by the first wait answer (undefined: none yet; null: answered without an ETA). */
  firstEtaAt?: number | null;
  /** Launch times predicted by every wait answer that gave an ETA. */
  etaAnswers?: number[];
  /** The informed reference's ETAs at the same answers (null: none within its horizon). */
  firstInformedAt?: number | null;
  informedAnswers?: number[];
  /** The eta sensor's ticket in its subnet's queue (its key is the request id, as a dag_run_id). */
  ticketId?: string;
  /** The subnet's and the job's counts. */
  tallies: readonly [Tally, Tally];
}

/** Nearest-rank percentile (q in (0, 1]) of unsorted values; 0 when there are none. */
function percentile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil(q * s.length) - 1)];
}

const p90OrNull = (xs: readonly number[]): number | null => (xs.length === 0 ? null : Math.round(percentile(xs, 0.9)));

function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** What the world told the backtest since it last looked (its listener writes here). */
interface WorldNews {
  enisCreated: boolean;
  due: LaunchRequest[];
  /** Glue ENIs that went available, and ones deleted, since the last sample (the durations the tracker learns). */
  detached: string[];
  deleted: string[];
}

/**
 * What the exporter's lifecycle tracker would observe, sample by sample, for release prediction: an ENI's linger
 * (its run's end → the first sample that shows it available) and its available time (that sample → the first
 * sample without it). Read from the world's events and ground truth at sample precision, as the tracker sees them.
 */
interface DurationFeed {
  truth: Map<string, EniTruth>;
  /** Sample that first showed each Glue ENI available. */
  seenAvailable: Map<string, number>;
  learners: Map<string, DurationLearner>;
  /** Each subnet's jobs' run durations, from its active runs sample by sample (as the exporter learns them). */
  runLearners: Map<string, RunDurationLearner>;
}

/** One backtest run: the world, the sampler's last capture, what /admit keeps per subnet, and the counts. */
interface Run {
  opts: BacktestOptions;
  policy: BacktestPolicy;
  sensor: SensorSettings;
  settings: PolicySettings;
  start: number;
  end: number;
  world: World;
  mirror: WorldMirror;
  news: WorldNews;
  names: Map<string, string>;
  subnetOfJob: Map<string, string>;
  /** Minutes from due time to deadline, per job (scheduled or ad-hoc stream). */
  deadlineOfJob: Map<string, number>;
  usable: Map<string, number>;
  stats: Map<string, Tally>;
  jobStats: Map<string, Tally>;
  /** Sampler state: the last capture and (lazily) its snapshot; decisions never read the live world. */
  capture: Capture;
  snapshot: Snapshot | undefined;
  nextSample: number;
  /** What /admit keeps per subnet: recorded observations (newest first) and the reservation ledger. */
  observations: Map<string, WindowSample[]>;
  reservations: Map<string, Reservation[]>;
  /** forecast learns its margin from gate bypasses seen sample by sample, as the exporter does on each snapshot. */
  bypass: BypassMemory | undefined;
  bypassViews: WeakMap<RawEni, BypassEni>;
  bypassEnis: Map<string, BypassEni[]>;
  decisions: number;
  seq: number;
  pending: Pending[];
  /** The eta sensor's: each subnet's queue as /admit's store keeps it, the durations learned, the forecasts. */
  tickets: Map<string, Ticket[]>;
  durations: DurationFeed | undefined;
  /** The release forecast of the last sample, per subnet: computed when a poke first needs it (pure, so the same). */
  forecasts: Map<string, FreeForecast>;
  /** The eta sensor's: the informed ETA reference, asked at every wait answer. */
  informed: InformedEta | undefined;
}

function checkOptions(opts: BacktestOptions): void {
  if (!Number.isFinite(opts.days) || opts.days <= 0) throw new RangeError(`days: expected a positive number, got ${opts.days}`);
  if (!(backtestPolicies as readonly string[]).includes(opts.policy)) {
    throw new RangeError(`policy: expected one of ${backtestPolicies.join(', ')}, got "${opts.policy}"`);
  }
  const kind = opts.sensor?.kind;
  if (kind !== undefined && !(sensorKinds as readonly string[]).includes(kind)) {
    throw new RangeError(`sensor.kind: expected one of ${sensorKinds.join(', ')}, got "${kind}"`);
  }
}

/** Each job's deadline in minutes: scheduled jobs by name, ad-hoc streams by the job they launch. */
function deadlines(scenario: Scenario): Map<string, number> {
  const out = new Map<string, number>();
  for (const j of scenario.jobs) out.set(j.name, j.deadlineMinutes);
  scenario.adhoc.forEach((a, i) => {
    const name = adhocJobName(scenario, i);
    if (!out.has(name)) out.set(name, a.deadlineMinutes);
  });
  return out;
}

function newRun(opts: BacktestOptions): Run {
  const { scenario, policy } = opts;
  const sensor = { ...defaultSensorSettings, ...opts.sensor };
  const start: number = Number(scenario.start);
  const mirror = new WorldMirror();
  const news: WorldNews = { enisCreated: true, due: [], detached: [], deleted: [] };
  const eta = isGated(policy) && sensor.kind === 'eta';
  const durations: DurationFeed | undefined = eta
    ? { truth: new Map(), seenAvailable: new Map(), learners: new Map(), runLearners: new Map() }
    : undefined;
  let made: World | undefined;
  const world = new World(scenario, {
    autoLaunch: false,
    listener: (ev) => {
      mirror.onEvent(ev);
      if (ev.type === 'eni-created') {
        news.enisCreated = true;
        // The truth record just pushed (non-Glue ENIs are made while the world is built: none to learn from).
        const tr = made?.eniTruth().at(-1);
        if (durations && tr?.id === ev.eniId && tr.owner === 'glue') durations.truth.set(tr.id, tr);
      }
      if (ev.type === 'launch-due') news.due.push(ev.request);
      if (durations && ev.type === 'eni-detached') news.detached.push(ev.eniId);
      if (durations && ev.type === 'eni-deleted') news.deleted.push(ev.eniId);
    },
  });
  made = world;
  mirror.attach(world);

  const names = new Map(scenario.subnets.map((s) => [s.id, s.name ?? s.id] as const));
  const subnetOfJob = new Map<string, string>();
  for (const j of world.jobs()) subnetOfJob.set(j.Name, world.connection(j.Connections.Connections[0])!.PhysicalConnectionRequirements.SubnetId);
  const stats = new Map<string, Tally>();
  const usable = new Map<string, number>();
  for (const s of world.subnets()) {
    usable.set(s.SubnetId, s.usable);
    stats.set(s.SubnetId, newTally((s.usable - s.AvailableIpAddressCount) / s.usable));
  }
  const jobStats = new Map<string, Tally>();
  for (const job of subnetOfJob.keys()) jobStats.set(job, newTally());

  return {
    opts,
    policy,
    sensor,
    settings: backtestSettings(isGated(policy) ? policy : 'none', opts.policySettings),
    start,
    end: start + Math.round(opts.days * DAY_MS),
    world,
    mirror,
    news,
    names,
    subnetOfJob,
    deadlineOfJob: deadlines(scenario),
    usable,
    stats,
    jobStats,
    capture: mirror.capture(start),
    snapshot: undefined,
    nextSample: start + sensor.sampleIntervalSeconds * 1000,
    observations: new Map(),
    reservations: new Map(),
    bypass: policy === 'forecast' ? new BypassMemory({ intervalSeconds: () => sensor.sampleIntervalSeconds }) : undefined,
    bypassViews: new WeakMap(),
    bypassEnis: new Map(),
    decisions: 0,
    seq: 0,
    pending: [],
    tickets: new Map(),
    durations,
    forecasts: new Map(),
    informed: durations ? new InformedEta(scenario, world, durations.truth) : undefined,
  };
}

function snapshotNow(run: Run): Snapshot {
  run.snapshot ??= buildSnapshot(run.capture.raw, {
    names: run.names,
    ownerDescriptionPrefixes: OWNER_PREFIXES,
    takenAt: run.capture.takenAt,
    completedMono: 0,
    durationMs: 0,
    availableSince: run.capture.availableSince,
  });
  return run.snapshot;
}

/** The subnet's retained reservations at `t` (what the store would hand the transaction). */
function liveLedger(run: Run, subnetId: string, t: number): Reservation[] {
  return (run.reservations.get(subnetId) ?? []).filter((r) => r.retainUntil > t);
}

/**
 * Classification reads a few fields of each raw record (the mirror keeps a record while its ENI is unchanged):
 * cheaper than building a snapshot at every sample, with the snapshot's own owner and address rules.
 */
function bypassView(run: Run, e: RawEni): BypassEni {
  let v = run.bypassViews.get(e);
  if (!v)
    run.bypassViews.set(e, (v = { id: e.id, owner: ownerOf(e.description, OWNER_PREFIXES), addresses: addressesHeld(e), attachTime: e.attachTime }));
  return v;
}

function observeBypasses(run: Run, t: number): void {
  const { bypass } = run;
  if (!bypass) return;
  // Only a created ENI, or one that was waiting to attach, can be new to classify; otherwise the previous
  // lists stand and the memory only counts the watched time.
  if (run.news.enisCreated || [...run.bypassEnis.keys()].some((id) => !bypass.isSettled(id))) {
    run.news.enisCreated = false;
    run.bypassEnis = new Map([...run.stats.keys()].map((id) => [id, [] as BypassEni[]]));
    for (const e of run.capture.raw.enis) run.bypassEnis.get(e.subnetId)?.push(bypassView(run, e));
  }
  const horizonMs = bypassHorizonMs(run.settings.bypassMemoryDays);
  for (const [id, enis] of run.bypassEnis) bypass.observe(id, t, enis, liveLedger(run, id, t), horizonMs);
}

/** One launch attempt now; true when the run started (false: it failed with the exhaustion error). */
function attempt(run: Run, p: Pending, t: number, first: boolean): boolean {
  // The first attempt is the held request's own; a retry starts a new run of the job (Airflow's retry).
  const r = first
    ? run.world.launchDue(p.request.id, { at: t })
    : run.world.startJobRun(p.request.jobName, { at: t, workers: p.request.workers, source: p.request.source });
  const st = run.stats.get(p.subnetId)!;
  const usable = run.usable.get(p.subnetId)!;
  st.peakUtilization = Math.max(st.peakUtilization, (usable - run.world.freeAddresses(p.subnetId)) / usable);
  const failed = r.JobRunState === 'FAILED' && r.ErrorMessage === EXHAUSTION_MESSAGE;
  if (failed) for (const x of p.tallies) x.failedAttempts++;
  return !failed;
}

/** The request waited: counted once as held. */
function hold(p: Pending): void {
  if (p.held) return;
  p.held = true;
  for (const x of p.tallies) x.held++;
}

/** The request's end: launched, lost to exhaustion, or given up. */
function settle(p: Pending, t: number, how: 'launched' | 'failed' | 'gave-up'): void {
  const waitMs = t - p.request.dueAt;
  for (const x of p.tallies) {
    x.waitMs += waitMs;
    if (how === 'failed') x.exhaustionFailures++;
    else if (how === 'gave-up') x.gaveUp++;
    else if (p.held) {
      x.waits.push(waitMs / 1000);
      if (typeof p.firstEtaAt === 'number') x.etaErrors.push(Math.abs(t - p.firstEtaAt) / 1000);
      for (const at of p.etaAnswers ?? []) x.etaErrorsAll.push(Math.abs(t - at) / 1000);
      if (typeof p.firstInformedAt === 'number') x.etaErrorsInformed.push(Math.abs(t - p.firstInformedAt) / 1000);
      for (const at of p.informedAnswers ?? []) x.etaErrorsInformedAll.push(Math.abs(t - at) / 1000);
    }
  }
}

/** One poke of the sensor: the admission step /admit runs, against the last sample. */
function poke(run: Run, p: Pending, t: number): AdmissionPlan {
  const view: SubnetView | undefined = snapshotNow(run).subnets.find((s) => s.subnetId === p.subnetId);
  if (!view) throw new Error(`subnet ${p.subnetId} missing from the snapshot`);
  const window = windowOf(windowSample(view, t, p.request.id), run.observations.get(p.subnetId) ?? [], run.settings.lookback);
  const ledger = liveLedger(run, p.subnetId, t);
  // The step /admit runs in its store transaction; the request id makes the reservation id reproducible.
  const plan = planAdmission(
    {
      snapshotAgeSeconds: (t - run.capture.takenAt) / 1000,
      sampleIntervalSeconds: run.sensor.sampleIntervalSeconds,
      bypass: run.bypass?.history(p.subnetId),
      subnet: view,
      ledger,
      window,
      settings: run.settings,
      workers: p.request.workers,
      dagRunId: p.request.id,
      reservationTtlMs: run.sensor.reservationTtlSeconds * 1000,
      reservationId: (subnetId) => `${subnetId}.${p.request.id}`,
      ...(p.ticketId !== undefined
        ? {
            queue: {
              tickets: run.tickets.get(p.subnetId) ?? [],
              key: p.request.id,
              ticketId: p.ticketId,
              deadline: p.deadlineAt,
              forecast: forecastOf(run, view),
            },
          }
        : {}),
    },
    t,
  );
  run.decisions++;
  run.opts.onDecision?.({
    at: t,
    jobName: p.request.jobName,
    requestId: p.request.id,
    subnetId: p.subnetId,
    sampleTakenAt: run.capture.takenAt,
    decision: plan.decision,
    ...(plan.queue ? { queue: plan.queue } : {}),
  });
  run.observations.set(p.subnetId, window);
  if (plan.reservation) ledger.push(plan.reservation);
  run.reservations.set(p.subnetId, ledger);
  if (plan.putTickets.length > 0 || plan.dropTickets.length > 0) applyTickets(run, p.subnetId, plan.putTickets, plan.dropTickets, t);
  return plan;
}

/** What the store does with a step's ticket changes (and with tickets not poked before they expired). */
function applyTickets(run: Run, subnetId: string, put: readonly Ticket[], drop: readonly string[], t: number): void {
  const gone = new Set([...drop, ...put.map((x) => x.id)]);
  const kept = (run.tickets.get(subnetId) ?? []).filter((x) => !gone.has(x.id) && x.expiresAt > t);
  run.tickets.set(subnetId, [...kept, ...put]);
}

/** The subnet's release forecast from the last sample, as the exporter computes it once per sample. */
function forecastOf(run: Run, view: SubnetView): FreeForecast {
  let f = run.forecasts.get(view.subnetId);
  if (!f) {
    const learner = run.durations?.learners.get(view.subnetId);
    const runs = run.durations?.runLearners.get(view.subnetId);
    f = predictFree(view, (learner ?? DEFAULT_LEARNER).model(), { at: run.capture.takenAt, ...(runs ? { runs } : {}) });
    run.forecasts.set(view.subnetId, f);
  }
  return f;
}

/** At a sample: the durations the lifecycle tracker would observe since the last one. */
function learnDurations(run: Run, t: number): void {
  const d = run.durations;
  if (!d) return;
  for (const view of snapshotNow(run).subnets) {
    let l = d.runLearners.get(view.subnetId);
    if (!l) d.runLearners.set(view.subnetId, (l = new RunDurationLearner()));
    l.observeSample(view.activeRuns, t);
  }
  for (const id of run.news.detached.splice(0)) {
    const tr = d.truth.get(id);
    if (tr?.runEndedAt === undefined) continue;
    d.seenAvailable.set(id, t);
    learner(d, tr.subnetId).observe('linger', (t - tr.runEndedAt) / 1000);
  }
  for (const id of run.news.deleted.splice(0)) {
    const tr = d.truth.get(id);
    d.truth.delete(id);
    const since = d.seenAvailable.get(id);
    d.seenAvailable.delete(id);
    // Gone before any sample showed it available: the tracker saw no available time.
    if (tr && since !== undefined && since < t) learner(d, tr.subnetId).observe('available', (t - since) / 1000);
  }
}

function learner(d: DurationFeed, subnetId: string): DurationLearner {
  let l = d.learners.get(subnetId);
  if (!l) d.learners.set(subnetId, (l = new DurationLearner()));
  return l;
}

/** blind-retry: try now; after a failure, again every retry interval until the deadline. */
function blindTry(run: Run, p: Pending, t: number, first: boolean): void {
  const ok = attempt(run, p, t, first);
  if (!ok) hold(p);
  const next = t + run.sensor.retryIntervalSeconds * 1000;
  if (!ok && next <= p.deadlineAt) {
    p.nextPoke = next;
    if (first) run.pending.push(p);
    return;
  }
  if (!first) run.pending.splice(run.pending.indexOf(p), 1);
  settle(p, t, ok ? 'launched' : 'failed');
}

/** New launch requests: blind ones go now; the others wait for their first poke at the due time. */
function takeDue(run: Run, t: number): void {
  for (const request of run.news.due.splice(0)) {
    const subnetId = run.subnetOfJob.get(request.jobName)!;
    const tallies = [run.stats.get(subnetId)!, run.jobStats.get(request.jobName)!] as const;
    for (const x of tallies) x.runs++;
    const deadlineAt = request.dueAt + run.deadlineOfJob.get(request.jobName)! * MINUTE;
    const gated = isGated(run.policy) && !run.sensor.blindSources.includes(request.source);
    const lastTryAt = gated && run.sensor.kind === 'report' ? Math.min(deadlineAt, request.dueAt + run.sensor.timeoutSeconds * 1000) : deadlineAt;
    const p: Pending = { request, subnetId, seq: run.seq++, nextPoke: request.dueAt, held: false, deadlineAt, lastTryAt, tallies };
    // The eta sensor presents its dag_run_id (here the request id): the key of its ticket.
    if (gated && run.sensor.kind === 'eta') p.ticketId = ticketIdFor(subnetId, request.id);
    if (run.policy === 'blind-retry') blindTry(run, p, t, true);
    else if (gated || run.policy === 'oracle') run.pending.push(p);
    else settle(p, t, attempt(run, p, t, true) ? 'launched' : 'failed');
  }
}

/** The answer to a waiting request: the oracle reads the live world, a gated sensor asks the admission step. */
function ask(run: Run, p: Pending, t: number): { admit: boolean; plan?: AdmissionPlan } {
  if (run.policy === 'oracle') {
    // In queue order: at its due time a request goes only if nobody older waits in its subnet (they are served
    // at the next minute, in arrival order, each that fits going: backfilling).
    const fits = run.world.freeAddresses(p.subnetId) >= p.request.workers;
    const first = t !== p.request.dueAt || !run.pending.some((o) => o.subnetId === p.subnetId && o.seq < p.seq);
    return { admit: fits && first };
  }
  const plan = poke(run, p, t);
  return { admit: plan.decision.admit, plan };
}

/** When a refused request pokes again; undefined: it gives up now. */
function nextPokeOf(run: Run, p: Pending, t: number, plan: AdmissionPlan | undefined): number | undefined {
  const q = plan?.queue;
  if (p.ticketId === undefined || !q) {
    const every = run.sensor.pokeIntervalSeconds * 1000;
    // The oracle looks at whole minutes of the run, all waiting requests together.
    const next = run.policy === 'oracle' ? run.start + (Math.floor((t - run.start) / every) + 1) * every : t + every;
    return next > p.lastTryAt ? undefined : next;
  }
  // The eta sensor: fails at once when told the deadline cannot be met, else pokes after retry_after, and a
  // last time at its deadline.
  if (q.willMissDeadline || t >= p.deadlineAt) return undefined;
  return Math.min(t + q.retryAfterSeconds * 1000, p.deadlineAt);
}

/** Pokes due now (new requests included), oldest request first; they read the last sample, taken before now. */
function pokeDue(run: Run, t: number): void {
  const { pending } = run;
  if (!pending.some((p) => p.nextPoke <= t)) return;
  const now = pending.filter((p) => p.nextPoke <= t).sort((a, b) => a.seq - b.seq);
  for (const p of now) {
    if (run.policy === 'blind-retry') {
      blindTry(run, p, t, false);
      continue;
    }
    const { admit, plan } = ask(run, p, t);
    if (admit) {
      pending.splice(pending.indexOf(p), 1);
      settle(p, t, attempt(run, p, t, true) ? 'launched' : 'failed');
      continue;
    }
    hold(p);
    const q = plan?.queue;
    // The informed reference answers where the gate gave an ETA, behind the same tickets (the ledger after the answer).
    const informed =
      q && q.etaSeconds !== null && plan && run.informed
        ? run.informed.etaAt(p.subnetId, t, run.tickets.get(p.subnetId) ?? [], p.ticketId, p.request.workers, plan.decision.buffer)
        : undefined;
    if (q && p.firstEtaAt === undefined) {
      p.firstEtaAt = q.etaSeconds === null ? null : t + q.etaSeconds * 1000;
      p.firstInformedAt = informed ?? null;
    }
    if (q && q.etaSeconds !== null) (p.etaAnswers ??= []).push(t + q.etaSeconds * 1000);
    if (typeof informed === 'number') (p.informedAnswers ??= []).push(informed);
    const next = nextPokeOf(run, p, t, plan);
    if (next === undefined) {
      run.world.dropDue(p.request.id);
      // A sensor that gives up withdraws its ticket (DELETE /admit/<ticket>): it blocks nobody after it.
      if (p.ticketId !== undefined) applyTickets(run, p.subnetId, [], [p.ticketId], t);
      settle(p, t, 'gave-up');
      pending.splice(pending.indexOf(p), 1);
    } else p.nextPoke = next;
  }
}

/** The sampler's turn: a new capture, and the gate-bypass memory fed from it. */
function sample(run: Run, t: number): void {
  run.capture = run.mirror.capture(t);
  run.snapshot = undefined;
  run.forecasts.clear();
  learnDurations(run, t);
  // As the exporter's snapshot housekeeping: close the reservations this sample shows consumed.
  for (const [id, ledger] of run.reservations) {
    if (!ledger.some((r) => isLive(r, t))) continue;
    const view = snapshotNow(run).subnets.find((s) => s.subnetId === id);
    if (view) for (const r of consumedBy(liveLedger(run, id, t), view.enis, t)) closeReservation(r, 'consumed', t);
  }
  observeBypasses(run, t);
  run.nextSample += run.sensor.sampleIntervalSeconds * 1000;
}

/** The next moment anything happens: a world event, a poke or a sample. */
function nextTime(run: Run): { t: number; tEvent: number } {
  const tEvent = run.world.nextEventTime() ?? Number.POSITIVE_INFINITY;
  let tPoke = Number.POSITIVE_INFINITY;
  for (const p of run.pending) if (p.nextPoke < tPoke) tPoke = p.nextPoke;
  return { t: Math.min(tEvent, tPoke, run.nextSample), tEvent };
}

/**
 * The cleanup tail from ground truth: each Glue ENI's address from its run's end (or its attach, if later)
 * until deletion, within the backtest's span.
 */
function countTail(run: Run): void {
  for (const e of run.world.eniTruth()) {
    const ended = e.runEndedAt;
    if (e.owner !== 'glue' || ended === undefined) continue;
    const from = Math.max(ended, e.attachedAt ?? e.createdAt, run.start);
    const to = Math.min(e.deletedAt ?? run.end, run.end);
    if (to <= from) continue;
    run.stats.get(e.subnetId)!.tailIpMinutes += (to - from) / MINUTE;
    if (e.jobName !== undefined) {
      const j = run.jobStats.get(e.jobName);
      if (j) j.tailIpMinutes += (to - from) / MINUTE;
    }
  }
}

function merge(tallies: readonly Tally[]): Tally {
  const m = newTally();
  for (const x of tallies) {
    for (const k of ['runs', 'exhaustionFailures', 'failedAttempts', 'held', 'gaveUp', 'waitMs', 'tailIpMinutes'] as const) m[k] += x[k];
    m.waits.push(...x.waits);
    m.etaErrors.push(...x.etaErrors);
    m.etaErrorsAll.push(...x.etaErrorsAll);
    m.etaErrorsInformed.push(...x.etaErrorsInformed);
    m.etaErrorsInformedAll.push(...x.etaErrorsInformedAll);
    m.peakUtilization = Math.max(m.peakUtilization, x.peakUtilization);
  }
  return m;
}

function outcome(x: Tally): Outcome {
  const rate = (n: number) => (x.runs === 0 ? 0 : round(n / x.runs, 4));
  const missed = x.exhaustionFailures + x.gaveUp;
  return {
    runs: x.runs,
    exhaustionFailures: x.exhaustionFailures,
    failureRate: rate(x.exhaustionFailures),
    failedAttempts: x.failedAttempts,
    held: x.held,
    heldRate: rate(x.held),
    gaveUp: x.gaveUp,
    missedRuns: missed,
    missedRate: rate(missed),
    medianWaitSeconds: median(x.waits),
    p95WaitSeconds: percentile(x.waits, 0.95),
    maxWaitSeconds: x.waits.reduce((m, w) => Math.max(m, w), 0),
    totalWaitHours: round(x.waitMs / 3_600_000, 2),
    etaErrorP90Seconds: p90OrNull(x.etaErrors),
    etaErrorAllP90Seconds: p90OrNull(x.etaErrorsAll),
    etaErrorInformedP90Seconds: p90OrNull(x.etaErrorsInformed),
    etaErrorInformedAllP90Seconds: p90OrNull(x.etaErrorsInformedAll),
    peakUtilization: round(x.peakUtilization, 4),
    tailIpMinutes: round(x.tailIpMinutes, 1),
  };
}

function summarize(run: Run): BacktestResult {
  const subnets: SubnetResult[] = [...run.stats].map(([subnetId, x]) => ({
    subnetId,
    name: run.names.get(subnetId)!,
    usable: run.usable.get(subnetId)!,
    ...outcome(x),
  }));
  const jobs: JobResult[] = [...run.jobStats].map(([job, x]) => {
    const subnetId = run.subnetOfJob.get(job)!;
    // A job's peak is its subnet's: utilization is a subnet's, whoever fills it.
    return { job, subnetId, ...outcome({ ...x, peakUtilization: run.stats.get(subnetId)!.peakUtilization }) };
  });
  return {
    policy: run.policy,
    sensor: isGated(run.policy) ? run.sensor.kind : null,
    days: run.opts.days,
    ...outcome(merge([...run.stats.values()])),
    decisions: run.decisions,
    subnets,
    jobs,
  };
}

export function runBacktest(opts: BacktestOptions): BacktestResult {
  checkOptions(opts);
  const run = newRun(opts);
  for (;;) {
    const { t, tEvent } = nextTime(run);
    if (t >= run.end) break;
    if (tEvent <= t) run.mirror.touch();
    run.world.advanceTo(t);
    takeDue(run, t);
    pokeDue(run, t);
    // Only the gate reads samples; the blind launchers and the oracle need none.
    if (t >= run.nextSample) {
      if (isGated(run.policy)) sample(run, t);
      else run.nextSample = Number.POSITIVE_INFINITY;
    }
  }
  run.world.advanceTo(run.end);
  countTail(run);
  return summarize(run);
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
