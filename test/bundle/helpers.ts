// Shared plumbing for the monitoring bundle tests: repository paths, binaries, child processes.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { repoPath, ROOT } from '../helpers/paths.js';

export { repoPath, ROOT } from '../helpers/paths.js';
export const readYaml = <T = unknown>(...p: string[]): T => parse(readFileSync(repoPath(...p), 'utf8')) as T;

export const execFileP = promisify(execFile);

/** Absolute path of an executable on PATH, or undefined. */
export function which(bin: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, bin);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

export const INSTALL_HINT = 'run scripts/install-monitoring-deps.sh';

/** Fail with the install hint instead of a spawn ENOENT. */
export function requireBin(bin: string): string {
  const p = which(bin);
  if (!p) throw new Error(`${bin} not found on PATH: ${INSTALL_HINT}`);
  return p;
}

export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export interface Proc {
  child: ChildProcess;
  /** Last output lines, for failure messages. */
  output: () => string;
  stop: () => Promise<void>;
}

export function startProc(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Proc {
  const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let buf = '';
  const keep = (d: Buffer) => {
    buf = (buf + d.toString()).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return {
    child,
    output: () => buf,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Render alertmanager/alertmanager.yml through the shipped render script, as the container does. */
export async function renderAlertmanagerConfig(out: string, env: Record<string, string>): Promise<void> {
  await execFileP('sh', [repoPath('alertmanager', 'render-config.sh'), repoPath('alertmanager', 'alertmanager.yml'), out], {
    env: { PATH: process.env.PATH, ALERTMANAGER_TEMPLATES_DIR: repoPath('alertmanager', 'templates'), ...env },
  });
}

export interface PromRule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface PromRuleFile {
  groups: Array<{ name: string; rules: PromRule[] }>;
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to dashes. */
export const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');

/** The anchors of a Markdown document's headings. */
export const headingAnchors = (md: string): Set<string> =>
  new Set(
    md
      .split('\n')
      .filter((l) => /^#{1,6} /.test(l))
      .map((l) => slug(l.replace(/^#+ /, ''))),
  );

export interface PromResult {
  status: string;
  data: { resultType: string; result: Array<{ metric: Record<string, string>; value?: [number, string]; values?: unknown[] }> };
  error?: string;
}

/** A Prometheus HTTP API call, form-encoded (long dashboard queries fit). */
export async function promCall(base: string, path: string, params: Record<string, string>): Promise<PromResult> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  });
  return (await res.json()) as PromResult;
}

/** Values of a label among the series `match` selects, as Grafana's label_values() asks for them. */
export async function promLabelValues(base: string, label: string, match: string): Promise<string[]> {
  const u = new URL(`${base}/api/v1/label/${label}/values`);
  u.searchParams.set('match[]', match);
  return ((await (await fetch(u)).json()) as { data: string[] }).data.sort();
}

/**
 * A Prometheus in `dir` on `port`: the shipped scrape job of the exporter pointed at `targets`, the shipped rules
 * with every `for:` set to `forDuration`, scrape and evaluation every second.
 */
export function startPrometheus(dir: string, port: number, opts: { targets: string[]; forDuration: string; alertmanager?: string }): Proc {
  const rulesDir = join(dir, 'rules');
  mkdirSync(rulesDir);
  for (const f of readdirSync(repoPath('prometheus', 'rules')).filter((n) => n.endsWith('.yml'))) {
    const rules = parse(readFileSync(repoPath('prometheus', 'rules', f), 'utf8')) as PromRuleFile;
    for (const g of rules.groups) for (const r of g.rules) if (r.for) r.for = opts.forDuration;
    writeFileSync(join(rulesDir, f), stringify(rules));
  }
  const shipped = readYaml<{ scrape_configs: Array<{ job_name: string }> }>('prometheus', 'prometheus.yml');
  const config = {
    global: { scrape_interval: '1s', evaluation_interval: '1s' },
    rule_files: [join(rulesDir, '*.yml')],
    ...(opts.alertmanager ? { alerting: { alertmanagers: [{ static_configs: [{ targets: [opts.alertmanager] }] }] } } : {}),
    scrape_configs: shipped.scrape_configs
      .filter((s) => s.job_name === 'glue-eni-exporter')
      .map((s) => ({ ...s, static_configs: [{ targets: opts.targets }] })),
  };
  writeFileSync(join(dir, 'prometheus.yml'), stringify(config));
  return startProc(requireBin('prometheus'), [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'prom-data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
  ]);
}

export interface DashTarget {
  panel: string;
  refId: string;
  expr: string;
  instant?: boolean;
}

/** Every query of every panel of the committed dashboard. */
export function dashboardTargets(): DashTarget[] {
  interface P {
    title: string;
    targets?: Array<{ expr: string; refId: string; instant?: boolean }>;
    panels?: P[];
  }
  const dash = JSON.parse(readFileSync(repoPath('grafana', 'dashboards', 'glue-eni.json'), 'utf8')) as { panels: P[] };
  return dash.panels
    .flatMap((p) => [p, ...(p.panels ?? [])])
    .flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, refId: t.refId, expr: t.expr, instant: t.instant })));
}

export const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\\\$&');

/** What the dashboard's variables expand to (regexes), and the range the panels read. */
export interface Selection {
  subnet: string;
  account: string;
  region: string;
}

/** A panel query as Grafana sends it for that selection. */
export function fillVariables(expr: string, sel: Selection, rangeSeconds: number): string {
  const out = expr
    .replaceAll('$subnet', sel.subnet)
    .replaceAll('$account', sel.account)
    .replaceAll('$region', sel.region)
    .replaceAll('$__rate_interval', '15s')
    .replaceAll('$__range', `${rangeSeconds}s`)
    .replaceAll('$__interval', '5s');
  const left = /\$\w+/.exec(out);
  if (left) throw new Error(`no value for ${left[0]} in ${expr}`);
  return out;
}

/** A panel query run over the test's time range, instant or range as the panel asks. */
export function runDashTarget(base: string, t: DashTarget, expr: string, start: number, end: number): Promise<PromResult> {
  if (t.instant) return promCall(base, '/api/v1/query', { query: expr, time: String(end) });
  // Steps counted back from `end`, so the last one is `end` itself: on a young Prometheus the series may be only
  // seconds old, younger than a step that falls short of `end`.
  const step = 5;
  const from = end - Math.floor((end - start) / step) * step;
  return promCall(base, '/api/v1/query_range', { query: expr, start: String(from), end: String(end), step: String(step) });
}
