// Release prediction: how many addresses a subnet will have free over the next hours, as a conservative
// quantile, from each ENI's state and age and the subnet's learned linger and available durations. Pure: the
// caller passes the sample's time and the learned durations; nothing here reads a clock.
//
// An ENI gives its address back when Glue deletes it: a lingering in-use ENI first stays in-use until its
// linger ends (measured from its run's end), then `available` until deleted. So, per ENI of age a in its
// state, P(released within t | alive at a) comes from the duration distributions conditioned on the age. The
// released addresses at t are a sum of independent Bernoullis (a Poisson-binomial); the forecast is its lower
// p90 (at least this many released with 90 % probability), exact for few uncertain ENIs, normal otherwise.
// A running job's ENIs release together after its run ends (predicted from the job's past run durations,
// conditioned on how long it has run) plus the linger and available time; a job with too few past runs, or
// running longer than any of them, holds its ENIs for the whole horizon, as do non-Glue ENIs: the safe side.
// Beside the conservative curve, an optimistic one (at least this many released with only 1 % probability)
// says when a launch cannot happen any sooner: what "will miss its deadline" is judged on. (At 10 % it told
// runs to give up that would have launched in time: 12 more missed runs in 90 days of the shared /26.)
import type { ActiveRun, EniView, SubnetView } from '../snapshot/types.js';

export const MINUTE_MS = 60_000;
/** Durations are kept per minute up to this; longer ones land in the last bin and count as "not within it". */
export const DURATION_CAP_MINUTES = 360;
/** How far ahead a forecast looks: a job that just ended frees its addresses within ~140 min (linger + available). */
export const DEFAULT_HORIZON_MINUTES = 240;
/** z of the normal approximation's lower 10 % quantile (p90 conservative). */
const Z_P90 = 1.2815515655446004;
/** z of its upper 1 % quantile (the optimistic bound). */
const Z_P99 = 2.3263478740408408;
/** The optimistic bound: released at least this many with this probability. */
const OPTIMISTIC_TAIL = 0.01;
/** A job's run durations are trusted from this many observed runs on (fewer: its ENIs are held). */
export const MIN_RUN_OBSERVATIONS = 3;
/** Exact Poisson-binomial below this many uncertain ENIs (cost n² per minute); normal above. */
const EXACT_MAX_ENIS = 48;
/** Learned observations weigh against this many pseudo-observations of the field's durations. */
const PRIOR_WEIGHT = 20;

export type DurationKind = 'linger' | 'available';

/**
 * Probability mass per whole minute (a duration of d seconds counts in minute ⌈d/60⌉: late rather than early),
 * bins 0..DURATION_CAP_MINUTES, the last one holding every longer duration.
 */
export type DurationPmf = Float64Array;

export interface DurationModel {
  /** In-use time after the run ended. */
  linger: DurationPmf;
  /** Time `available` before deletion. */
  available: DurationPmf;
}

function uniformPmf(fromMin: number, toMin: number): DurationPmf {
  const pmf = new Float64Array(DURATION_CAP_MINUTES + 1);
  const n = toMin - fromMin + 1;
  for (let m = fromMin; m <= toMin; m++) pmf[Math.min(m, DURATION_CAP_MINUTES)] += 1 / n;
  return pmf;
}

/** The field's numbers until a subnet has taught better: linger 60–100 min, available 30–40 min. */
export const defaultDurationModel: DurationModel = Object.freeze({ linger: uniformPmf(60, 100), available: uniformPmf(30, 40) });

export function durationBin(seconds: number): number {
  return Math.min(DURATION_CAP_MINUTES, Math.max(0, Math.ceil(seconds / 60)));
}

/**
 * A subnet's learned linger and available durations (the same observations the duration histograms of
 * /metrics count), blended with the field's prior so that a few odd observations do not swing the forecast.
 */
export class DurationLearner {
  private readonly counts: Record<DurationKind, Float64Array> = {
    linger: new Float64Array(DURATION_CAP_MINUTES + 1),
    available: new Float64Array(DURATION_CAP_MINUTES + 1),
  };
  private readonly n: Record<DurationKind, number> = { linger: 0, available: 0 };
  private cached: DurationModel | undefined;

  constructor(private readonly prior: DurationModel = defaultDurationModel) {}

  observe(kind: DurationKind, seconds: number): void {
    if (!Number.isFinite(seconds) || seconds < 0) return;
    this.counts[kind][durationBin(seconds)] += 1;
    this.n[kind] += 1;
    this.cached = undefined;
  }

  observations(kind: DurationKind): number {
    return this.n[kind];
  }

  /** The blended model; the same object until the next observation (forecasts cache per-age curves on it). */
  model(): DurationModel {
    if (this.cached) return this.cached;
    const blend = (kind: DurationKind): DurationPmf => {
      const out = new Float64Array(DURATION_CAP_MINUTES + 1);
      const total = PRIOR_WEIGHT + this.n[kind];
      for (let i = 0; i <= DURATION_CAP_MINUTES; i++) out[i] = (PRIOR_WEIGHT * this.prior[kind][i] + this.counts[kind][i]) / total;
      return out;
    };
    this.cached = { linger: blend('linger'), available: blend('available') };
    return this.cached;
  }
}

/**
 * Each job's run durations, learned from the samples alone: a run seen active and missing from a later sample
 * ended by then (its duration taken at that sample: late by at most a sample, the safe side). The exporter
 * and the backtest feed it the same subnet views, sample by sample.
 */
export class RunDurationLearner {
  private readonly counts = new Map<string, { n: number; pmf: Float64Array }>();
  private readonly cached = new Map<string, DurationPmf>();
  /** Runs active at the last sample: runId → job and start. */
  private active = new Map<string, { job: string; startedOn: number }>();

  /** A sample's active runs, taken at `at`: the runs gone since the last one are observed as ended at `at`. */
  observeSample(runs: readonly ActiveRun[] | undefined, at: number): void {
    // Glue data unknown in this sample: nothing is learned, and the runs seen before stay tracked.
    if (runs === undefined) return;
    const next = new Map<string, { job: string; startedOn: number }>();
    for (const r of runs) if (r.startedOn !== undefined) next.set(r.runId, { job: r.job, startedOn: r.startedOn });
    for (const [id, r] of this.active) if (!next.has(id)) this.observe(r.job, (at - r.startedOn) / 1000);
    this.active = next;
  }

  observe(job: string, seconds: number): void {
    if (!Number.isFinite(seconds) || seconds < 0) return;
    let c = this.counts.get(job);
    if (!c) this.counts.set(job, (c = { n: 0, pmf: new Float64Array(DURATION_CAP_MINUTES + 1) }));
    c.pmf[durationBin(seconds)] += 1;
    c.n += 1;
    this.cached.delete(job);
  }

  observations(job: string): number {
    return this.counts.get(job)?.n ?? 0;
  }

  /** The job's run-duration distribution; undefined until MIN_RUN_OBSERVATIONS runs were seen. Same object until the next one. */
  pmf(job: string): DurationPmf | undefined {
    const hit = this.cached.get(job);
    if (hit) return hit;
    const c = this.counts.get(job);
    if (!c || c.n < MIN_RUN_OBSERVATIONS) return undefined;
    const out = c.pmf.map((x) => x / c.n);
    this.cached.set(job, out);
    return out;
  }
}

/** P(D ≤ x) for x in whole minutes, excluding the "longer than the cap" bin. */
function cdfOf(pmf: DurationPmf): Float64Array {
  const cdf = new Float64Array(DURATION_CAP_MINUTES + 1);
  let acc = 0;
  for (let i = 0; i < DURATION_CAP_MINUTES; i++) {
    acc += pmf[i];
    cdf[i] = acc;
  }
  cdf[DURATION_CAP_MINUTES] = acc;
  return cdf;
}

/** The last minute a distribution gives mass to (below the "longer" bin); -1 when none. */
function lastBin(pmf: DurationPmf): number {
  for (let i = DURATION_CAP_MINUTES - 1; i >= 0; i--) if (pmf[i] > 0) return i;
  return -1;
}

type Curve = Float64Array;

/** Per model and horizon: the release curves by age, built on first use and kept while the model lives. */
interface CurveTools {
  model: DurationModel;
  horizon: number;
  cdfA: Float64Array;
  lastA: number;
  lastL: number;
  available: (Curve | undefined)[];
  linger: (Curve | undefined)[];
  /** Per run-duration distribution, by elapsed minute; null: ran longer than any observed run (held). */
  runs: WeakMap<DurationPmf, (Curve | null | undefined)[]>;
}

const toolsByModel = new WeakMap<DurationModel, Map<number, CurveTools>>();

function toolsFor(model: DurationModel, horizon: number): CurveTools {
  let byHorizon = toolsByModel.get(model);
  if (!byHorizon) toolsByModel.set(model, (byHorizon = new Map()));
  let t = byHorizon.get(horizon);
  if (!t) {
    t = {
      model,
      horizon,
      cdfA: cdfOf(model.available),
      lastA: lastBin(model.available),
      lastL: lastBin(model.linger),
      available: [],
      linger: [],
      runs: new WeakMap(),
    };
    byHorizon.set(horizon, t);
  }
  return t;
}

/**
 * Age (whole minutes) to condition on: an ENI older than anything the distribution has seen is conditioned on
 * the oldest age it still gives mass beyond, i.e. it is taken to end at the next observed duration.
 */
const conditionedAge = (last: number, age: number): number => Math.max(0, Math.min(age, last - 1));

/** P(deleted within t min | available for `age` min), t = 0..horizon. */
function availableCurve(tools: CurveTools, age: number): Curve {
  const a = conditionedAge(tools.lastA, age);
  const hit = tools.available[a];
  if (hit) return hit;
  const { horizon } = tools;
  const pmf = tools.model.available;
  let survive = 0;
  for (let k = a + 1; k <= DURATION_CAP_MINUTES; k++) survive += pmf[k];
  const curve = new Float64Array(horizon + 1);
  if (survive > 0) {
    let acc = 0;
    for (let t = 1; t <= horizon; t++) {
      const k = a + t;
      if (k < DURATION_CAP_MINUTES) acc += pmf[k];
      curve[t] = Math.min(1, acc / survive);
    }
  }
  tools.available[a] = curve;
  return curve;
}

/** P(deleted within t min | in-use `age` min after its run ended): the rest of the linger, then the available time. */
function lingerCurve(tools: CurveTools, age: number): Curve {
  const b = conditionedAge(tools.lastL, age);
  const hit = tools.linger[b];
  if (hit) return hit;
  const { horizon, cdfA } = tools;
  const pmf = tools.model.linger;
  let survive = 0;
  for (let k = b + 1; k <= DURATION_CAP_MINUTES; k++) survive += pmf[k];
  const curve = new Float64Array(horizon + 1);
  if (survive > 0) {
    // The linger ends s minutes from now (s ≥ 1), then the available time must end within t − s. Only the
    // minutes the linger distribution gives mass to count: a few dozen, not the whole horizon.
    const ends: number[] = [];
    for (let s = 1; s <= Math.min(horizon, DURATION_CAP_MINUTES - 1 - b); s++) if (pmf[b + s] > 0) ends.push(s);
    for (let t = 1; t <= horizon; t++) {
      let p = 0;
      for (const s of ends) {
        if (s > t) break;
        p += pmf[b + s] * cdfA[t - s];
      }
      curve[t] = Math.min(1, p / survive);
    }
  }
  tools.linger[b] = curve;
  return curve;
}

/**
 * P(a running job's ENIs deleted within t min | it has run `elapsed` min): its run ends s minutes from now
 * (from its past runs' durations), then the linger and available time from that end. null when it has run
 * longer than any observed run: nothing bounds its end.
 */
function runCurve(tools: CurveTools, pmf: DurationPmf, elapsed: number): Curve | null {
  let byAge = tools.runs.get(pmf);
  if (!byAge) tools.runs.set(pmf, (byAge = []));
  const e = Math.max(0, Math.min(elapsed, DURATION_CAP_MINUTES));
  const hit = byAge[e];
  if (hit !== undefined) return hit;
  const { horizon } = tools;
  // Runs longer than the cap count as not ending within it (they stay in `survive`).
  let survive = 0;
  for (let k = e + 1; k <= DURATION_CAP_MINUTES; k++) survive += pmf[k];
  let ends = 0;
  for (let k = e + 1; k < DURATION_CAP_MINUTES; k++) ends += pmf[k];
  if (survive <= 0 || ends <= 0) {
    byAge[e] = null;
    return null;
  }
  const after = lingerCurve(tools, 0);
  const curve = new Float64Array(horizon + 1);
  const steps: number[] = [];
  for (let s = 1; s <= Math.min(horizon, DURATION_CAP_MINUTES - 1 - e); s++) if (pmf[e + s] > 0) steps.push(s);
  for (let t = 1; t <= horizon; t++) {
    let p = 0;
    for (const s of steps) {
      if (s >= t) break;
      p += pmf[e + s] * after[t - s];
    }
    curve[t] = Math.min(1, p / survive);
  }
  byAge[e] = curve;
  return curve;
}

/** What a forecast reads of a subnet's sample. */
export type PredictSubnet = Pick<SubnetView, 'subnetId' | 'free' | 'enis'> & Partial<Pick<SubnetView, 'activeRuns'>>;

/** Conservative free addresses ahead, from one sample. Reservations are NOT subtracted (see withReservations). */
export interface FreeForecast {
  /** The sample's time (epoch ms): free[i] is the prediction for from + i minutes. */
  from: number;
  /** Free addresses at least this many with 90 % probability; free[0] is the sample's free; never decreasing. */
  free: number[];
  /**
   * Free addresses at least this many with 50 % probability: the likely course, what ETAs are read from (an
   * ETA read from the p90 curve comes out late by the whole spread of the durations). Same shape as `free`,
   * never below it; absent in forecasts made without it (then `free` stands in).
   */
  likely?: number[];
  /**
   * Free addresses at least this many with only 1 % probability: sooner than this nothing fits, all but surely.
   * Never below `likely`; absent in forecasts made without it (then `likely`, else `free`, stands in).
   */
  optimistic?: number[];
  /**
   * Addresses of Glue ENIs the sample shows unattached and first seen available in that very sample: launches
   * in progress, which `free` already excludes and no reservation can claim yet (the queue's ETA counts them
   * once). A tail ENI that detached since the last sample looks the same: the rare false positive, which only
   * makes an ETA early. Counted here, once per sample: a decision never reads the ENI list.
   */
  inFlight?: number;
}

export interface PredictOptions {
  /** The sample's time (epoch ms): ages are taken at it. */
  at: number;
  horizonMinutes?: number;
  /** Past run durations per job: running jobs' ends are predicted from them (absent: their ENIs are held). */
  runs?: Pick<RunDurationLearner, 'pmf'>;
}

/** Which curve an ENI's release follows, or undefined when it is held for the horizon. */
function curveOf(eni: EniView, at: number, tools: CurveTools): Curve | undefined {
  if (eni.owner !== 'glue') return undefined;
  if (eni.status === 'available') {
    // First seen available in this very sample (age unknown): the youngest age, the latest release.
    return availableCurve(tools, eni.availableSince === undefined ? 0 : Math.floor(Math.max(0, at - eni.availableSince) / MINUTE_MS));
  }
  if (eni.status === 'in-use' && eni.lingering) {
    // Run end unknown (beyond the run lookback): taken as just ended, the latest release.
    return lingerCurve(tools, eni.jobEndedAt === undefined ? 0 : Math.floor(Math.max(0, at - eni.jobEndedAt) / MINUTE_MS));
  }
  return undefined;
}

/** The exact quantiles' working distribution, reused across calls (synchronous: never shared by two). */
let scratch = new Float64Array(256);

/** Released addresses: at least `low` with 90 % probability, `mid` with 50 %, `high` with 1 %. */
export interface ReleasedBounds {
  low: number;
  mid: number;
  high: number;
}

/**
 * Σ wᵢ·Bernoulli(pᵢ), each term repeated countsᵢ times (1 when absent), at its two tails: `low` the largest x
 * with P(X ≥ x) ≥ 0.9, `high` the largest x with P(X ≥ x) ≥ 0.01.
 */
export function releasedBounds(ps: readonly number[], weights: readonly number[], counts?: readonly number[]): ReleasedBounds {
  let sure = 0;
  let n = 0;
  let total = 0;
  let mean = 0;
  let variance = 0;
  for (let i = 0; i < ps.length; i++) {
    const c = counts?.[i] ?? 1;
    const w = weights[i];
    if (ps[i] >= 1 - 1e-12) sure += c * w;
    else if (ps[i] > 1e-12) {
      n += c;
      total += c * w;
      mean += c * w * ps[i];
      variance += c * w * w * ps[i] * (1 - ps[i]);
    }
  }
  if (n === 0) return { low: sure, mid: sure, high: sure };
  if (n <= EXACT_MAX_ENIS && total <= 4 * EXACT_MAX_ENIS) {
    // One buffer convolved in place (from the top down, each cell read before it is overwritten): the same sums
    // as a fresh array per ENI, without the allocations (a forecast makes one of these per minute).
    if (scratch.length < total + 1) scratch = new Float64Array(Math.max(total + 1, 2 * scratch.length));
    const dist = scratch;
    dist.fill(0, 0, total + 1);
    dist[0] = 1;
    let reach = 0;
    for (let i = 0; i < ps.length; i++) {
      const p = ps[i];
      if (p >= 1 - 1e-12 || p <= 1e-12) continue;
      const w = weights[i];
      for (let c = counts?.[i] ?? 1; c > 0; c--) {
        for (let x = reach; x >= 0; x--) {
          const d = dist[x];
          if (d === 0) continue;
          dist[x + w] += d * p;
          dist[x] = d * (1 - p);
        }
        reach += w;
      }
    }
    let tail = 0;
    let high = -1;
    let mid = -1;
    for (let x = total; x >= 0; x--) {
      tail += dist[x];
      // Rounding slack: a tail of 0.8999999999 is 0.9.
      if (high < 0 && tail >= OPTIMISTIC_TAIL - 1e-9) high = x;
      if (mid < 0 && tail >= 0.5 - 1e-9) mid = x;
      if (tail >= 0.9 - 1e-9) return { low: sure + x, mid: sure + mid, high: sure + high };
    }
    return { low: sure, mid: sure + Math.max(0, mid), high: sure + Math.max(0, high) };
  }
  const sd = Math.sqrt(variance);
  const clamp = (x: number): number => sure + Math.max(0, Math.min(total, Math.floor(x)));
  return { low: clamp(mean + 0.5 - Z_P90 * sd), mid: clamp(mean + 0.5), high: clamp(mean + 0.5 + Z_P99 * sd) };
}

/** Lower 10 % quantile of Σ wᵢ·Bernoulli(pᵢ): the largest x with P(X ≥ x) ≥ 0.9 (see releasedBounds). */
export function lowerQuantileP90(ps: readonly number[], weights: readonly number[], counts?: readonly number[]): number {
  return releasedBounds(ps, weights, counts).low;
}

/**
 * The subnet's conservative free addresses, minute by minute, from the sample at `at` to the horizon, assuming
 * nothing new attaches. Each ENI's release is judged on its own age; ENIs of equal state, age and size share
 * a curve, so the cost grows with the distinct ages, not with the ENIs.
 */
export function predictFree(subnet: PredictSubnet, model: DurationModel, opts: PredictOptions): FreeForecast {
  const horizon = Math.max(0, Math.floor(opts.horizonMinutes ?? DEFAULT_HORIZON_MINUTES));
  const tools = toolsFor(model, horizon);
  // Group by curve and size: a Map per curve is cheap, there are at most a few hundred curves.
  const groups = new Map<Curve, Map<number, number>>();
  let lastCurve: Curve | undefined;
  let lastBySize: Map<number, number> | undefined;
  let inFlight = 0;
  for (const eni of subnet.enis) {
    if (
      eni.owner === 'glue' &&
      eni.attachTime === undefined &&
      eni.status !== 'in-use' &&
      eni.availableSince !== undefined &&
      eni.availableSince >= opts.at - 1000
    ) {
      inFlight += eni.addresses;
    }
    const curve = curveOf(eni, opts.at, tools);
    if (!curve || eni.addresses <= 0) continue;
    // ENIs of one job come together in the list: skip the lookup while the curve repeats.
    let bySize = curve === lastCurve ? lastBySize : groups.get(curve);
    if (!bySize) groups.set(curve, (bySize = new Map()));
    lastCurve = curve;
    lastBySize = bySize;
    bySize.set(eni.addresses, (bySize.get(eni.addresses) ?? 0) + 1);
  }
  // Running jobs: each run's workers release together (one term of weight `workers`), after its predicted end.
  for (const run of opts.runs ? (subnet.activeRuns ?? []) : []) {
    const pmf = run.startedOn === undefined ? undefined : opts.runs?.pmf(run.job);
    if (!pmf || run.startedOn === undefined || run.workers <= 0) continue;
    const curve = runCurve(tools, pmf, Math.floor(Math.max(0, opts.at - run.startedOn) / MINUTE_MS));
    if (!curve) continue;
    let bySize = groups.get(curve);
    if (!bySize) groups.set(curve, (bySize = new Map()));
    bySize.set(run.workers, (bySize.get(run.workers) ?? 0) + 1);
  }
  // Flattened groups: one (curve, size, count) per distinct curve and ENI size.
  const curves: Curve[] = [];
  const ws: number[] = [];
  const ns: number[] = [];
  for (const [curve, bySize] of groups) {
    for (const [size, count] of bySize) {
      curves.push(curve);
      ws.push(size);
      ns.push(count);
    }
  }
  const free: number[] = [subnet.free];
  const likely: number[] = [subnet.free];
  const optimistic: number[] = [subnet.free];
  const ps: number[] = new Array<number>(curves.length);
  for (let t = 1; t <= horizon; t++) {
    for (let g = 0; g < curves.length; g++) ps[g] = curves[g][t];
    const b = releasedBounds(ps, ws, ns);
    // Released-by-t only grows with t, so its true quantiles do: the running max corrects the approximation.
    free.push(Math.max(free[t - 1], subnet.free + b.low));
    likely.push(Math.max(likely[t - 1], free[t], subnet.free + b.mid));
    optimistic.push(Math.max(optimistic[t - 1], likely[t], subnet.free + b.high));
  }
  return { from: opts.at, free, likely, optimistic, inFlight };
}

/** The forecast's value at `minutes` after its sample (the last one beyond the horizon), reservations subtracted. */
export function predictedFreeAt(forecast: FreeForecast, minutes: number, reserved = 0): number {
  const i = Math.max(0, Math.min(forecast.free.length - 1, Math.floor(minutes)));
  return forecast.free[i] - reserved;
}

/** The whole curve with reservations subtracted: what admission may hand out. */
export function withReservations(forecast: FreeForecast, reserved: number): number[] {
  return forecast.free.map((f) => f - reserved);
}
