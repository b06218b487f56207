// `glue-eni-exporter simulate`: backtest admission policies over scenario files and print one row per
// (scenario, policy), as an aligned table or as JSON.
import { ConfigError } from '../config/errors.js';
import { loadScenarioFile, type Scenario } from '../sim/scenario.js';
import { backtestPolicies, runBacktest, type BacktestPolicy, type BacktestResult, type SensorSettings } from './run.js';

export interface SimulateOptions {
  /** Scenario files (--scenario, repeatable). */
  scenarios: string[];
  /** Simulated days (--days); a string is parsed as the flag's text. */
  days: number | string;
  /** Policies (--policy), each possibly comma-separated: ["none,static", "rolling-max"]. */
  policies: string[] | string;
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

export function toRow(scenario: string, r: BacktestResult): SimulateRow {
  return {
    scenario,
    policy: r.policy,
    runs: r.runs,
    exhaustion_failures: r.exhaustionFailures,
    failure_rate: r.failureRate,
    held: r.held,
    held_rate: r.heldRate,
    median_wait_seconds: r.medianWaitSeconds,
    max_wait_seconds: r.maxWaitSeconds,
    gave_up: r.gaveUp,
    peak_utilization: r.peakUtilization,
    tail_ip_minutes: r.tailIpMinutes,
  };
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

/** The rows as an aligned table, like the report's Results table. */
export function formatTable(rows: SimulateRow[], days: number, blind: readonly string[] = []): string {
  const header = [
    'scenario',
    'policy',
    'runs',
    'exhaustion failures',
    'failure rate',
    'held',
    'held rate',
    'median wait',
    'max wait',
    'gave up',
    'peak util',
    'tail IP-min',
  ];
  const body = rows.map((r) => [
    r.scenario,
    r.policy,
    String(r.runs),
    String(r.exhaustion_failures),
    pct(r.failure_rate),
    String(r.held),
    pct(r.held_rate),
    `${r.median_wait_seconds} s`,
    `${r.max_wait_seconds} s`,
    String(r.gave_up),
    pct(r.peak_utilization),
    String(Math.round(r.tail_ip_minutes)),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  // Text columns flush left, numbers flush right.
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  return [
    `${days} simulated days; sensor: poke every 60 s, give up after 600 s; samples every 60 s` +
      (blind.length > 0 ? `; ${blind.join(' and ')} launches bypass the gate` : ''),
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...body.map(line),
    '',
  ].join('\n');
}

/** Validate, run every (scenario, policy) pair, print; returns the process exit code (0, 1 bad file, 2 bad flag). */
export function runSimulateCommand(opts: SimulateOptions): number {
  const err = opts.err ?? process.stderr;
  let days: number;
  let policies: BacktestPolicy[];
  let blindSources: SensorSettings['blindSources'];
  try {
    if (opts.scenarios.length === 0) throw new UsageError('--scenario: expected at least one scenario file');
    days = parseDays(opts.days);
    policies = parsePolicies(opts.policies);
    blindSources = parseBlind(opts.blind);
  } catch (e) {
    err.write(`${(e as Error).message}\n`);
    return 2;
  }
  const loaded: { path: string; scenario: Scenario }[] = [];
  for (const path of opts.scenarios) {
    try {
      loaded.push({ path, scenario: loadScenarioFile(path) });
    } catch (e) {
      // The loader's message names the file and the field (`x.yml: jobs[0].workers: expected ...`).
      err.write(`--scenario: ${e instanceof ConfigError ? e.message : (e as Error).message}\n`);
      return 1;
    }
  }
  const rows: SimulateRow[] = [];
  for (const { path, scenario } of loaded) {
    for (const policy of policies) rows.push(toRow(path, runBacktest({ scenario, days, policy, sensor: { blindSources } })));
  }
  opts.out.write(opts.json ? `${JSON.stringify({ results: rows })}\n` : formatTable(rows, days, blindSources));
  return 0;
}
