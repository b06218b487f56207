// The policy backtest: the simulator's World on virtual time, driven by the report's sensor (poke every 60 s,
// give up after 10 minutes) that asks the same admission code as /admit, against snapshots built by the
// exporter's own buildSnapshot from a sampler that runs every 60 s. Decisions read the last sample, not the
// live world: that staleness is part of what is measured. No HTTP, no timers, no sleeping.
import type { RawEni } from '../aws/types.js';
import { DAY_MS } from '../clock.js';
import { BypassMemory, bypassHorizonMs, type BypassEni } from '../admission/bypass.js';
import { defaultPolicySettings } from '../admission/policy.js';
import { consumedBy, planAdmission } from '../admission/step.js';
import {
  closeReservation,
  isLive,
  policiesByCaution,
  type Decision,
  type PolicySettings,
  type Reservation,
  type WindowSample,
} from '../admission/types.js';
import { windowOf, windowSample } from '../admission/window.js';
import { addressesHeld, buildSnapshot, ownerOf } from '../snapshot/build.js';
import type { Snapshot, SubnetView } from '../snapshot/types.js';
import { EXHAUSTION_MESSAGE, World, type LaunchRequest } from '../sim/model.js';
import type { Scenario } from '../sim/scenario.js';
import { WorldMirror, type Capture } from './mirror.js';

const MINUTE = 60_000;
/** The exporter's default glue.ownerDescriptionPrefixes: the simulator describes Glue ENIs as AWS does. */
const OWNER_PREFIXES = ['Attached to Glue using role', 'Glue_'];

export const backtestPolicies = policiesByCaution;
export type BacktestPolicy = (typeof backtestPolicies)[number];

export interface SensorSettings {
  /** Seconds between pokes of a waiting launch (the report: 60). */
  pokeIntervalSeconds: number;
  /** Seconds after the due time at which a waiting launch gives up (the report: 600). */
  timeoutSeconds: number;
  /** Seconds between samples (the exporter's default schedule: every minute). */
  sampleIntervalSeconds: number;
  /** Reservation TTL, as config admission.reservationTtlSeconds (default 300). */
  reservationTtlSeconds: number;
  /** Launch sources that bypass the gate whatever the policy (e.g. ['adhoc']: manual runs nobody gated). */
  blindSources: readonly ('schedule' | 'adhoc')[];
}

export const defaultSensorSettings: SensorSettings = {
  pokeIntervalSeconds: 60,
  timeoutSeconds: 600,
  sampleIntervalSeconds: 60,
  reservationTtlSeconds: 300,
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
  onDecision?: (d: { at: number; jobName: string; requestId: string; subnetId: string; sampleTakenAt: number; decision: Decision }) => void;
}

export interface SubnetResult {
  subnetId: string;
  name: string;
  usable: number;
  runs: number;
  exhaustionFailures: number;
  held: number;
  gaveUp: number;
  peakUtilization: number;
  tailIpMinutes: number;
}

export interface JobResult {
  job: string;
  subnetId: string;
  runs: number;
  exhaustionFailures: number;
  held: number;
  gaveUp: number;
}

export interface BacktestResult {
  policy: BacktestPolicy;
  days: number;
  /** Launch requests that came due (scheduled and ad hoc). */
  runs: number;
  /** Launched runs that failed with the subnet-exhaustion error. */
  exhaustionFailures: number;
  failureRate: number;
  /** Launch requests refused at their first poke (they waited at least one poke). */
  held: number;
  heldRate: number;
  /** Wait from due time to launch, over held launches that did launch (0 when none). */
  medianWaitSeconds: number;
  maxWaitSeconds: number;
  /** Held launches that were still refused at the timeout: not launched, counted apart from failures. */
  gaveUp: number;
  /** Highest share of a subnet's usable addresses held at any moment (max over subnets). */
  peakUtilization: number;
  /** Address-minutes held by Glue ENIs after their run ended (lingering in-use + available), all subnets. */
  tailIpMinutes: number;
  /** Pokes answered (decisions made). */
  decisions: number;
  subnets: SubnetResult[];
  /** The same counts per Glue job, in scenario order. */
  jobs: JobResult[];
}

/** The knobs the exporter would use for `policy`: defaults, then the overrides. */
export function backtestSettings(policy: BacktestPolicy, over: BacktestOptions['policySettings'] = {}): PolicySettings & { policy: BacktestPolicy } {
  return { ...defaultPolicySettings, ...over, policy } as PolicySettings & { policy: BacktestPolicy };
}

interface Pending {
  request: LaunchRequest;
  subnetId: string;
  seq: number;
  nextPoke: number;
  held: boolean;
}

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
}

/** One backtest run: the world, the sampler's last capture, what /admit keeps per subnet, and the counts. */
interface Run {
  opts: BacktestOptions;
  policy: BacktestPolicy;
  sensor: SensorSettings;
  settings: PolicySettings & { policy: BacktestPolicy };
  start: number;
  end: number;
  world: World;
  mirror: WorldMirror;
  news: WorldNews;
  names: Map<string, string>;
  subnetOfJob: Map<string, string>;
  stats: Map<string, SubnetResult>;
  jobStats: Map<string, JobResult>;
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
  waits: number[];
  decisions: number;
  seq: number;
  pending: Pending[];
}

function checkOptions(opts: BacktestOptions): void {
  if (!Number.isFinite(opts.days) || opts.days <= 0) throw new RangeError(`days: expected a positive number, got ${opts.days}`);
  if (!(backtestPolicies as readonly string[]).includes(opts.policy)) {
    throw new RangeError(`policy: expected one of ${backtestPolicies.join(', ')}, got "${opts.policy}"`);
  }
}

function newRun(opts: BacktestOptions): Run {
  const { scenario, policy } = opts;
  const sensor = { ...defaultSensorSettings, ...opts.sensor };
  const start: number = Number(scenario.start);
  const mirror = new WorldMirror();
  const news: WorldNews = { enisCreated: true, due: [] };
  const world = new World(scenario, {
    autoLaunch: false,
    listener: (ev) => {
      mirror.onEvent(ev);
      if (ev.type === 'eni-created') news.enisCreated = true;
      if (ev.type === 'launch-due') news.due.push(ev.request);
    },
  });
  mirror.attach(world);

  const names = new Map(scenario.subnets.map((s) => [s.id, s.name ?? s.id] as const));
  const subnetOfJob = new Map<string, string>();
  for (const j of world.jobs()) subnetOfJob.set(j.Name, world.connection(j.Connections.Connections[0])!.PhysicalConnectionRequirements.SubnetId);
  const stats = new Map<string, SubnetResult>();
  for (const s of world.subnets()) {
    stats.set(s.SubnetId, {
      subnetId: s.SubnetId,
      name: names.get(s.SubnetId)!,
      usable: s.usable,
      runs: 0,
      exhaustionFailures: 0,
      held: 0,
      gaveUp: 0,
      peakUtilization: (s.usable - s.AvailableIpAddressCount) / s.usable,
      tailIpMinutes: 0,
    });
  }
  const jobStats = new Map<string, JobResult>();
  for (const [job, subnetId] of subnetOfJob) jobStats.set(job, { job, subnetId, runs: 0, exhaustionFailures: 0, held: 0, gaveUp: 0 });

  return {
    opts,
    policy,
    sensor,
    settings: backtestSettings(policy, opts.policySettings),
    start,
    end: start + Math.round(opts.days * DAY_MS),
    world,
    mirror,
    news,
    names,
    subnetOfJob,
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
    waits: [],
    decisions: 0,
    seq: 0,
    pending: [],
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

function launch(run: Run, p: { request: LaunchRequest; subnetId: string }, at: number): void {
  const r = run.world.launchDue(p.request.id, { at });
  const st = run.stats.get(p.subnetId)!;
  if (r.JobRunState === 'FAILED' && r.ErrorMessage === EXHAUSTION_MESSAGE) {
    st.exhaustionFailures++;
    run.jobStats.get(p.request.jobName)!.exhaustionFailures++;
  }
  const sub = run.world.subnet(p.subnetId)!;
  st.peakUtilization = Math.max(st.peakUtilization, (sub.usable - sub.AvailableIpAddressCount) / sub.usable);
}

/** One poke of the sensor: the admission step /admit runs, against the last sample. True when admitted. */
function poke(run: Run, p: Pending, t: number): boolean {
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
  });
  run.observations.set(p.subnetId, window);
  if (plan.reservation) ledger.push(plan.reservation);
  run.reservations.set(p.subnetId, ledger);
  return plan.decision.admit;
}

/** New launch requests: blind ones go now; gated ones are poked from their due time. */
function takeDue(run: Run, t: number): void {
  for (const request of run.news.due.splice(0)) {
    const subnetId = run.subnetOfJob.get(request.jobName)!;
    run.stats.get(subnetId)!.runs++;
    run.jobStats.get(request.jobName)!.runs++;
    if (run.policy === 'none' || run.sensor.blindSources.includes(request.source)) launch(run, { request, subnetId }, t);
    else run.pending.push({ request, subnetId, seq: run.seq++, nextPoke: request.dueAt, held: false });
  }
}

/** Pokes due now (new requests included), oldest request first; they read the last sample, taken before now. */
function pokeDue(run: Run, t: number): void {
  const { pending } = run;
  if (!pending.some((p) => p.nextPoke <= t)) return;
  const pokeMs = run.sensor.pokeIntervalSeconds * 1000;
  const now = pending.filter((p) => p.nextPoke <= t).sort((a, b) => a.seq - b.seq);
  for (const p of now) {
    if (poke(run, p, t)) {
      launch(run, p, t);
      if (p.held) run.waits.push((t - p.request.dueAt) / 1000);
      pending.splice(pending.indexOf(p), 1);
      continue;
    }
    if (!p.held) {
      p.held = true;
      run.stats.get(p.subnetId)!.held++;
      run.jobStats.get(p.request.jobName)!.held++;
    }
    if (t + pokeMs - p.request.dueAt > run.sensor.timeoutSeconds * 1000) {
      run.world.dropDue(p.request.id);
      run.stats.get(p.subnetId)!.gaveUp++;
      run.jobStats.get(p.request.jobName)!.gaveUp++;
      pending.splice(pending.indexOf(p), 1);
    } else p.nextPoke = t + pokeMs;
  }
}

/** The sampler's turn: a new capture, and the gate-bypass memory fed from it. */
function sample(run: Run, t: number): void {
  run.capture = run.mirror.capture(t);
  run.snapshot = undefined;
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
    if (to > from) run.stats.get(e.subnetId)!.tailIpMinutes += (to - from) / MINUTE;
  }
}

function summarize(run: Run): BacktestResult {
  const subnets = [...run.stats.values()].map((s) => ({
    ...s,
    tailIpMinutes: round(s.tailIpMinutes, 1),
    peakUtilization: round(s.peakUtilization, 4),
  }));
  const sum = (k: 'runs' | 'exhaustionFailures' | 'held' | 'gaveUp') => subnets.reduce((n, s) => n + s[k], 0);
  const runs = sum('runs');
  return {
    policy: run.policy,
    days: run.opts.days,
    runs,
    exhaustionFailures: sum('exhaustionFailures'),
    failureRate: runs === 0 ? 0 : round(sum('exhaustionFailures') / runs, 4),
    held: sum('held'),
    heldRate: runs === 0 ? 0 : round(sum('held') / runs, 4),
    medianWaitSeconds: median(run.waits),
    maxWaitSeconds: run.waits.reduce((m, w) => Math.max(m, w), 0),
    gaveUp: sum('gaveUp'),
    peakUtilization: subnets.reduce((m, s) => Math.max(m, s.peakUtilization), 0),
    tailIpMinutes: round(
      subnets.reduce((n, s) => n + s.tailIpMinutes, 0),
      1,
    ),
    decisions: run.decisions,
    subnets,
    jobs: [...run.jobStats.values()],
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
    if (t >= run.nextSample) sample(run, t);
  }
  run.world.advanceTo(run.end);
  countTail(run);
  return summarize(run);
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
