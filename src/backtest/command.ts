// `glue-eni-exporter simulate`: backtest admission policies over scenario files and print one row per
// (scenario, policy), as an aligned table or as JSON.
import { ConfigError } from '../config/errors.js';
import { loadScenarioFile, type Scenario } from '../sim/scenario.js';
import {
  backtestPolicies,
  isGated,
  runBacktest,
  sensorKinds,
  type BacktestPolicy,
  type BacktestResult,
  type Outcome,
  type SensorKind,
  type SensorSettings,
} from './run.js';

export interface SimulateOptions {
  /** Scenario files (--scenario, repeatable). */
  scenarios: string[];
  /** Simulated days (--days); a string is parsed as the flag's text. */
  days: number | string;
  /** Policies (--policy), each possibly comma-separated: ["none,static", "rolling-max"]. */
  policies: string[] | string;
  /** Sensors of the gated policies (--sensor), comma-separated: "report", "eta" (default: report). */
  sensors?: string[] | string;
  /** One more row per subnet or per job after each total row (--by). */
  by?: string;
  json: boolean;
  /** Launch sources that bypass the gate under every policy (--blind): "adhoc", "schedule", comma-separated. */
  blind?: string;
  out: { write(chunk: string): unknown };
  /** Where errors go (default: process.stderr). */
  err?: { write(chunk: string): unknown };
}

/** One row of `--json` output; field names are the wire contract. */
export interface SimulateRow {
  scenario: string;
  policy: BacktestPolicy;
  /** The gated policies' sensor; null for none, blind-retry and oracle, which do not ask the gate. */
  sensor: SensorKind | null;
  /** With --by subnet: the subnet's id (absent on the total row). */
  subnet?: string;
  /** With --by job: the Glue job (absent on the total row). */
  job?: string;
  runs: number;
  exhaustion_failures: number;
  failure_rate: number;
  held: number;
  held_rate: number;
  median_wait_seconds: number;
  max_wait_seconds: number;
  gave_up: number;
  peak_utilization: number;
  tail_ip_minutes: number;
  missed_runs: number;
  missed_rate: number;
  p95_wait_seconds: number;
  total_wait_hours: number;
  eta_error_p90_seconds: number | null;
  failed_attempts: number;
  eta_error_all_p90_seconds: number | null;
  eta_error_informed_p90_seconds: number | null;
  eta_error_informed_all_p90_seconds: number | null;
}

/** A bad flag value; the message names the flag. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const MAX_DAYS = 3650;

export function parseDays(v: number | string): number {
  const n = typeof v === 'number' ? v : /^\s*\d+(\.\d+)?\s*$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isFinite(n) || n <= 0 || n > MAX_DAYS) {
    throw new UsageError(`--days: expected a number of days greater than 0 and at most ${MAX_DAYS}, got "${String(v)}"`);
  }
  return n;
}

export function parsePolicies(v: string[] | string): BacktestPolicy[] {
  const names = (Array.isArray(v) ? v : [v])
    .flatMap((p) => p.split(','))
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (names.length === 0) throw new UsageError(`--policy: expected one or more of ${backtestPolicies.join(', ')}`);
  const out: BacktestPolicy[] = [];
  for (const name of names) {
    if (!(backtestPolicies as readonly string[]).includes(name)) {
      throw new UsageError(`--policy: unknown policy "${name}" (expected one or more of ${backtestPolicies.join(', ')}, comma-separated)`);
    }
    if (!out.includes(name as BacktestPolicy)) out.push(name as BacktestPolicy);
  }
  return out;
}

export function parseSensors(v: string[] | string | undefined): SensorKind[] {
  const names = (Array.isArray(v) ? v : [v ?? 'report'])
    .flatMap((p) => p.split(','))
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (names.length === 0) throw new UsageError(`--sensor: expected one or more of ${sensorKinds.join(', ')}`);
  for (const name of names) {
    if (!(sensorKinds as readonly string[]).includes(name)) {
      throw new UsageError(`--sensor: unknown sensor "${name}" (expected one or more of ${sensorKinds.join(', ')}, comma-separated)`);
    }
  }
  return [...new Set(names)] as SensorKind[];
}

export const byKinds = ['subnet', 'job'] as const;
export type ByKind = (typeof byKinds)[number];

export function parseBy(v: string | undefined): ByKind | undefined {
  if (v === undefined) return undefined;
  if (!(byKinds as readonly string[]).includes(v)) throw new UsageError(`--by: expected subnet or job, got "${v}"`);
  return v as ByKind;
}

const launchSources = ['adhoc', 'schedule'] as const;

export function parseBlind(v: string | undefined): SensorSettings['blindSources'] {
  const names = (v ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  for (const name of names) {
    if (!(launchSources as readonly string[]).includes(name)) {
      throw new UsageError(`--blind: unknown launch source "${name}" (expected adhoc, schedule or both, comma-separated)`);
    }
  }
  return [...new Set(names)] as SensorSettings['blindSources'];
}

function fields(o: Outcome) {
  return {
    runs: o.runs,
    exhaustion_failures: o.exhaustionFailures,
    failure_rate: o.failureRate,
    held: o.held,
    held_rate: o.heldRate,
    median_wait_seconds: o.medianWaitSeconds,
    max_wait_seconds: o.maxWaitSeconds,
    gave_up: o.gaveUp,
    peak_utilization: o.peakUtilization,
    tail_ip_minutes: o.tailIpMinutes,
    missed_runs: o.missedRuns,
    missed_rate: o.missedRate,
    p95_wait_seconds: o.p95WaitSeconds,
    total_wait_hours: o.totalWaitHours,
    eta_error_p90_seconds: o.etaErrorP90Seconds,
    failed_attempts: o.failedAttempts,
    eta_error_all_p90_seconds: o.etaErrorAllP90Seconds,
    eta_error_informed_p90_seconds: o.etaErrorInformedP90Seconds,
    eta_error_informed_all_p90_seconds: o.etaErrorInformedAllP90Seconds,
  };
}

/** The total row of one backtest, then (with `by`) one row per subnet or per job. */
export function toRows(scenario: string, r: BacktestResult, by?: ByKind): SimulateRow[] {
  const head = { scenario, policy: r.policy, sensor: r.sensor };
  const rows: SimulateRow[] = [{ ...head, ...fields(r) }];
  if (by === 'subnet') for (const s of r.subnets) rows.push({ ...head, subnet: s.subnetId, ...fields(s) });
  if (by === 'job') for (const j of r.jobs) rows.push({ ...head, job: j.job, ...fields(j) });
  return rows;
}

export function toRow(scenario: string, r: BacktestResult): SimulateRow {
  return toRows(scenario, r)[0];
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

const minutes = (seconds: number) => `${Math.round(seconds / 60)} min`;

/** The rows as an aligned table, like the report's Results table. */
export function formatTable(rows: SimulateRow[], days: number, blind: readonly string[] = [], by?: ByKind): string {
  const columns: [string, (r: SimulateRow) => string][] = [
    ['scenario', (r) => r.scenario],
    ['policy', (r) => r.policy],
    ['sensor', (r) => r.sensor ?? '-'],
    ...(by ? [[by, (r: SimulateRow) => (by === 'subnet' ? r.subnet : r.job) ?? '(all)'] as [string, (r: SimulateRow) => string]] : []),
    ['runs', (r) => String(r.runs)],
    ['missed', (r) => String(r.missed_runs)],
    ['missed rate', (r) => pct(r.missed_rate)],
    ['exhaustion failures', (r) => String(r.exhaustion_failures)],
    ['failed attempts', (r) => String(r.failed_attempts)],
    ['held', (r) => String(r.held)],
    ['gave up', (r) => String(r.gave_up)],
    ['median wait', (r) => minutes(r.median_wait_seconds)],
    ['p95 wait', (r) => minutes(r.p95_wait_seconds)],
    ['max wait', (r) => minutes(r.max_wait_seconds)],
    ['total wait', (r) => `${r.total_wait_hours.toFixed(1)} h`],
    ['ETA p90 error', (r) => (r.eta_error_p90_seconds === null ? '-' : minutes(r.eta_error_p90_seconds))],
    ['ETA p90 error, every answer', (r) => (r.eta_error_all_p90_seconds === null ? '-' : minutes(r.eta_error_all_p90_seconds))],
    ['informed ETA p90 error', (r) => (r.eta_error_informed_p90_seconds === null ? '-' : minutes(r.eta_error_informed_p90_seconds))],
    ['informed, every answer', (r) => (r.eta_error_informed_all_p90_seconds === null ? '-' : minutes(r.eta_error_informed_all_p90_seconds))],
    ['peak util', (r) => pct(r.peak_utilization)],
    ['tail IP-min', (r) => String(Math.round(r.tail_ip_minutes))],
  ];
  const text = by ? 4 : 3; // scenario, policy, sensor (and subnet or job) flush left
  const header = columns.map(([h]) => h);
  const body = rows.map((r) => columns.map(([, f]) => f(r)));
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  // Text columns flush left, numbers flush right.
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i < text ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  return [
    `${days} simulated days; samples every 60 s; report sensor: poke every 60 s, give up 10 min after the due time or at the deadline if sooner; ` +
      `eta sensor: poke after each retry_after, give up at the deadline; blind-retry: every 5 min until the deadline` +
      (blind.length > 0 ? `; ${blind.join(' and ')} launches bypass the gate` : ''),
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...body.map(line),
    '',
  ].join('\n');
}

/** Validate, run every (scenario, policy, sensor), print; returns the process exit code (0, 1 bad file, 2 bad flag). */
export function runSimulateCommand(opts: SimulateOptions): number {
  const err = opts.err ?? process.stderr;
  let days: number;
  let policies: BacktestPolicy[];
  let sensors: SensorKind[];
  let by: ByKind | undefined;
  let blindSources: SensorSettings['blindSources'];
  try {
    if (opts.scenarios.length === 0) throw new UsageError('--scenario: expected at least one scenario file');
    days = parseDays(opts.days);
    policies = parsePolicies(opts.policies);
    sensors = parseSensors(opts.sensors);
    by = parseBy(opts.by);
    blindSources = parseBlind(opts.blind);
  } catch (e) {
    err.write(`${(e as Error).message}\n`);
    return 2;
  }
  const loaded: { path: string; scenario: Scenario }[] = [];
  for (const path of opts.scenarios) {
    try {
      const scenario = loadScenarioFile(path);
      // The backtest replays one world; a scenario whose worlds all sit under `accounts` has none at the top.
      if (scenario.subnets.length === 0) {
        throw new ConfigError(`${path}: subnets: simulate replays the top-level world, which has none (this scenario's worlds are under accounts)`);
      }
      loaded.push({ path, scenario });
    } catch (e) {
      // The loader's message names the file and the field (`x.yml: jobs[0].workers: expected ...`).
      err.write(`--scenario: ${e instanceof ConfigError ? e.message : (e as Error).message}\n`);
      return 1;
    }
  }
  const rows: SimulateRow[] = [];
  for (const { path, scenario } of loaded) {
    for (const policy of policies) {
      // The sensor only matters to the gate: the other launchers run once.
      for (const kind of isGated(policy) ? sensors : [sensors[0]]) {
        rows.push(...toRows(path, runBacktest({ scenario, days, policy, sensor: { kind, blindSources } }), by));
      }
    }
  }
  opts.out.write(opts.json ? `${JSON.stringify({ results: rows })}\n` : formatTable(rows, days, blindSources, by));
  return 0;
}
