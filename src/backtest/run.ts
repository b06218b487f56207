// The policy backtest: the simulator's World on virtual time, driven by the report's sensor (poke every 60 s,
// give up after 10 minutes) that asks the same admission code as /admit, against snapshots built by the
// exporter's own buildSnapshot from a sampler that runs every 60 s. Decisions read the last sample, not the
// live world: that staleness is part of what is measured. No HTTP, no timers, no sleeping.
import type { RawEni } from '../aws/types.js';
import { DAY_MS } from '../clock.js';
import { BypassMemory, bypassHorizonMs, type BypassEni } from '../admission/bypass.js';
import { defaultPolicySettings } from '../admission/policy.js';
import { planAdmission } from '../admission/step.js';
import { closeReservation, type Decision, type PolicySettings, type Reservation, type WindowSample } from '../admission/types.js';
import { windowOf, windowSample } from '../admission/window.js';
import { addressesHeld, buildSnapshot, ownerOf } from '../snapshot/build.js';
import type { Snapshot, SubnetView } from '../snapshot/types.js';
import { EXHAUSTION_MESSAGE, World, type LaunchRequest } from '../sim/model.js';
import type { Scenario } from '../sim/scenario.js';
import { WorldMirror, type Capture } from './mirror.js';

const MINUTE = 60_000;
/** The exporter's default glue.ownerDescriptionPrefixes: the simulator describes Glue ENIs as AWS does. */
const OWNER_PREFIXES = ['Attached to Glue using role', 'Glue_'];

export const backtestPolicies = ['none', 'static', 'rolling-max', 'tail-aware', 'forecast'] as const;
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

export function runBacktest(opts: BacktestOptions): BacktestResult {
  const { scenario, policy } = opts;
  if (!Number.isFinite(opts.days) || opts.days <= 0) throw new RangeError(`days: expected a positive number, got ${opts.days}`);
  if (!(backtestPolicies as readonly string[]).includes(policy)) {
    throw new RangeError(`policy: expected one of ${backtestPolicies.join(', ')}, got "${policy}"`);
  }
  const sensor = { ...defaultSensorSettings, ...opts.sensor };
  const settings = backtestSettings(policy, opts.policySettings);
  const pokeMs = sensor.pokeIntervalSeconds * 1000;
  const timeoutMs = sensor.timeoutSeconds * 1000;
  const sampleMs = sensor.sampleIntervalSeconds * 1000;
  const ttlMs = sensor.reservationTtlSeconds * 1000;
  const start: number = Number(scenario.start);
  const end = start + Math.round(opts.days * DAY_MS);

  const mirror = new WorldMirror();
  let enisCreated = true;
  const due: LaunchRequest[] = [];
  const world = new World(scenario, {
    autoLaunch: false,
    listener: (ev) => {
      mirror.onEvent(ev);
      if (ev.type === 'eni-created') enisCreated = true;
      if (ev.type === 'launch-due') due.push(ev.request);
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

  // Sampler state: the last capture and (lazily) its snapshot; decisions never read the live world.
  let capture: Capture = mirror.capture(start);
  let snapshot: Snapshot | undefined;
  let nextSample = start + sampleMs;
  const snapshotNow = (): Snapshot => {
    snapshot ??= buildSnapshot(capture.raw, {
      names,
      ownerDescriptionPrefixes: OWNER_PREFIXES,
      takenAt: capture.takenAt,
      completedMono: 0,
      durationMs: 0,
      availableSince: capture.availableSince,
    });
    return snapshot;
  };

  // What /admit keeps per subnet: recorded observations (newest first) and the reservation ledger.
  const observations = new Map<string, WindowSample[]>();
  const reservations = new Map<string, Reservation[]>();
  const liveLedger = (subnetId: string, t: number): Reservation[] => (reservations.get(subnetId) ?? []).filter((r) => r.retainUntil > t);

  // forecast learns its margin from gate bypasses seen sample by sample, as the exporter does on each snapshot.
  const bypass = policy === 'forecast' ? new BypassMemory({ intervalSeconds: () => sensor.sampleIntervalSeconds }) : undefined;
  const horizonMs = bypassHorizonMs(settings.bypassMemoryDays);
  // Classification reads a few fields of each raw record (the mirror keeps a record while its ENI is
  // unchanged): cheaper than building a snapshot at every sample, with the snapshot's own owner and
  // address rules.
  const bypassViews = new WeakMap<RawEni, BypassEni>();
  const bypassView = (e: RawEni): BypassEni => {
    let v = bypassViews.get(e);
    if (!v) bypassViews.set(e, (v = { id: e.id, owner: ownerOf(e.description, OWNER_PREFIXES), addresses: addressesHeld(e), attachTime: e.attachTime }));
    return v;
  };
  let bypassEnis = new Map<string, BypassEni[]>();
  const observeBypasses = (t: number): void => {
    if (!bypass) return;
    // Only a created ENI, or one that was waiting to attach, can be new to classify; otherwise the previous
    // lists stand and the memory only counts the watched time.
    if (enisCreated || [...bypassEnis.keys()].some((id) => !bypass.isSettled(id))) {
      enisCreated = false;
      bypassEnis = new Map([...stats.keys()].map((id) => [id, [] as BypassEni[]]));
      for (const e of capture.raw.enis) bypassEnis.get(e.subnetId)?.push(bypassView(e));
    }
    for (const [id, enis] of bypassEnis) bypass.observe(id, t, enis, liveLedger(id, t), horizonMs);
  };

  const waits: number[] = [];
  let decisions = 0;
  let seq = 0;
  const pending: Pending[] = [];

  const launch = (p: { request: LaunchRequest; subnetId: string }, at: number): void => {
    const run = world.launchDue(p.request.id, { at });
    const st = stats.get(p.subnetId)!;
    if (run.JobRunState === 'FAILED' && run.ErrorMessage === EXHAUSTION_MESSAGE) {
      st.exhaustionFailures++;
      jobStats.get(p.request.jobName)!.exhaustionFailures++;
    }
    const sub = world.subnet(p.subnetId)!;
    st.peakUtilization = Math.max(st.peakUtilization, (sub.usable - sub.AvailableIpAddressCount) / sub.usable);
  };

  const poke = (p: Pending, t: number): boolean => {
    const snap = snapshotNow();
    const view: SubnetView | undefined = snap.subnets.find((s) => s.subnetId === p.subnetId);
    if (!view) throw new Error(`subnet ${p.subnetId} missing from the snapshot`);
    const window = windowOf(windowSample(view, t, p.request.id), observations.get(p.subnetId) ?? [], settings.lookback);
    const ledger = liveLedger(p.subnetId, t);
    // The step /admit runs in its store transaction; the request id makes the reservation id reproducible.
    const plan = planAdmission(
      {
        snapshotAgeSeconds: (t - capture.takenAt) / 1000,
        sampleIntervalSeconds: sensor.sampleIntervalSeconds,
        bypass: bypass?.history(p.subnetId),
        subnet: view,
        ledger,
        window,
        settings,
        workers: p.request.workers,
        dagRunId: p.request.id,
        reservationTtlMs: ttlMs,
        reservationId: (subnetId) => `${subnetId}.${p.request.id}`,
      },
      t,
    );
    for (const r of plan.consumed) closeReservation(r, 'consumed', t);
    const d = plan.decision;
    decisions++;
    opts.onDecision?.({ at: t, jobName: p.request.jobName, requestId: p.request.id, subnetId: p.subnetId, sampleTakenAt: capture.takenAt, decision: d });
    observations.set(p.subnetId, window);
    if (plan.reservation) ledger.push(plan.reservation);
    reservations.set(p.subnetId, ledger);
    return d.admit;
  };

  for (;;) {
    const tEvent = world.nextEventTime() ?? Number.POSITIVE_INFINITY;
    let tPoke = Number.POSITIVE_INFINITY;
    for (const p of pending) if (p.nextPoke < tPoke) tPoke = p.nextPoke;
    const t = Math.min(tEvent, tPoke, nextSample);
    if (t >= end) break;
    if (tEvent <= t) mirror.touch();
    world.advanceTo(t);

    // New launch requests: blind ones go now; gated ones are poked from their due time.
    for (const request of due.splice(0)) {
      const subnetId = subnetOfJob.get(request.jobName)!;
      stats.get(subnetId)!.runs++;
      jobStats.get(request.jobName)!.runs++;
      if (policy === 'none' || sensor.blindSources.includes(request.source)) launch({ request, subnetId }, t);
      else pending.push({ request, subnetId, seq: seq++, nextPoke: request.dueAt, held: false });
    }

    // Pokes due now (new requests included), oldest request first; they read the last sample, taken before now.
    if (pending.some((p) => p.nextPoke <= t)) {
      const now = pending.filter((p) => p.nextPoke <= t).sort((a, b) => a.seq - b.seq);
      for (const p of now) {
        if (poke(p, t)) {
          launch(p, t);
          if (p.held) waits.push((t - p.request.dueAt) / 1000);
          pending.splice(pending.indexOf(p), 1);
          continue;
        }
        if (!p.held) {
          p.held = true;
          stats.get(p.subnetId)!.held++;
          jobStats.get(p.request.jobName)!.held++;
        }
        if (t + pokeMs - p.request.dueAt > timeoutMs) {
          world.dropDue(p.request.id);
          stats.get(p.subnetId)!.gaveUp++;
          jobStats.get(p.request.jobName)!.gaveUp++;
          pending.splice(pending.indexOf(p), 1);
        } else p.nextPoke = t + pokeMs;
      }
    }

    if (t >= nextSample) {
      capture = mirror.capture(t);
      snapshot = undefined;
      observeBypasses(t);
      nextSample += sampleMs;
    }
  }
  world.advanceTo(end);

  // The cleanup tail from ground truth: each Glue ENI's address from its run's end (or its attach, if later)
  // until deletion, within the backtest's span.
  for (const e of world.eniTruth()) {
    const ended = e.runEndedAt;
    if (e.owner !== 'glue' || ended === undefined) continue;
    const from = Math.max(ended, e.attachedAt ?? e.createdAt, start);
    const to = Math.min(e.deletedAt ?? end, end);
    if (to > from) stats.get(e.subnetId)!.tailIpMinutes += (to - from) / MINUTE;
  }

  const subnets = [...stats.values()].map((s) => ({ ...s, tailIpMinutes: round(s.tailIpMinutes, 1), peakUtilization: round(s.peakUtilization, 4) }));
  const sum = (k: 'runs' | 'exhaustionFailures' | 'held' | 'gaveUp') => subnets.reduce((n, s) => n + s[k], 0);
  const runs = sum('runs');
  return {
    policy,
    days: opts.days,
    runs,
    exhaustionFailures: sum('exhaustionFailures'),
    failureRate: runs === 0 ? 0 : round(sum('exhaustionFailures') / runs, 4),
    held: sum('held'),
    heldRate: runs === 0 ? 0 : round(sum('held') / runs, 4),
    medianWaitSeconds: median(waits),
    maxWaitSeconds: waits.reduce((m, w) => Math.max(m, w), 0),
    gaveUp: sum('gaveUp'),
    peakUtilization: subnets.reduce((m, s) => Math.max(m, s.peakUtilization), 0),
    tailIpMinutes: round(subnets.reduce((n, s) => n + s.tailIpMinutes, 0), 1),
    decisions,
    subnets,
    jobs: [...jobStats.values()],
  };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
