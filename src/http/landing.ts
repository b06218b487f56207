// The landing page: one screen an operator reads in five seconds. Server-rendered, escaped, no external asset and
// no script: a meta refresh reloads it. The DOM carries the figures (data-*) so that a browser test reads them.
import type { SubnetAdmissionStatus } from '../admission/service.js';
import type { SampleFailure } from '../snapshot/cache.js';
import type { HistoryPoint } from '../snapshot/history.js';
import { targetKey, type Snapshot, type SubnetView } from '../snapshot/types.js';
import { exhaustionFailuresToday, utilizationRatio } from './views.js';

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** The field report's alert line (GlueEniSubnetUtilizationHigh fires above it). */
export const WARNING_RATIO = 0.8;
/** Nearly exhausted: the next launch of a few workers may fail. */
export const CRITICAL_RATIO = 0.95;
export const REFRESH_SECONDS = 30;

export interface LandingLinks {
  runbook?: string;
  grafana?: string;
}

export interface LandingInput {
  snap: Snapshot | undefined;
  ageSeconds: number | undefined;
  version: string;
  /** Clock time (epoch ms): "today" for the exhaustion failures. */
  now: number;
  /** `/-/ready`'s reason when the data is stale or missing. */
  staleReason: string | undefined;
  /** With several targets: those not fresh while others are (their subnets' figures are not current). */
  staleTargets?: readonly { key: string; reason: string }[];
  /** The last sample's failure while no good sample has replaced it. */
  failure: SampleFailure | undefined;
  admission: readonly SubnetAdmissionStatus[];
  history: (subnetId: string) => HistoryPoint[];
  historyWindowMs: number;
  links: LandingLinks;
}

export function utilizationLevel(ratio: number): 'ok' | 'warning' | 'critical' {
  return ratio >= CRITICAL_RATIO ? 'critical' : ratio > WARNING_RATIO ? 'warning' : 'ok';
}

const unknown = '<span class="unknown">unknown</span>';
const num = (n: number | undefined) => (n === undefined ? unknown : String(n));

function formatEta(eta: number | null | undefined): string {
  if (eta === undefined) return '—';
  if (eta === null) return 'none predicted';
  if (eta < 60) return `~${Math.round(eta)} s`;
  return `~${Math.round(eta / 60)} min`;
}

/** A sentence's own full stop dropped, so that the banner's next sentence does not double it. */
const clause = (s: string) => escapeHtml(s.replace(/[.\s]+$/, ''));

/** A banner when data is stale or missing (`stale`), or fresh but the last sample failed (`failing`). */
function banner(i: LandingInput): string {
  if (i.staleReason) {
    return `<div class="banner critical" role="alert" data-state="stale">Stale: ${clause(i.staleReason)}. The figures below are not current.</div>`;
  }
  if (i.staleTargets?.length) {
    const list = i.staleTargets.map((t) => `${escapeHtml(t.key)}: ${clause(t.reason)}`).join('; ');
    return `<div class="banner warning" role="alert" data-state="stale-targets">Stale target${i.staleTargets.length > 1 ? 's' : ''}: ${list}. Their subnets' figures are not current; the other targets' are.</div>`;
  }
  if (i.failure) {
    return `<div class="banner warning" role="alert" data-state="failing">Sampling failing: ${clause(`${i.failure.api}: ${i.failure.message}`)}. The figures below are from the last good sample.</div>`;
  }
  if (i.snap && !i.snap.glueKnown) {
    return `<div class="banner warning" role="alert" data-state="glue-unknown">Glue data unavailable${i.snap.glueError ? `: ${clause(i.snap.glueError)}` : ''}: lingering, runs and failures are unknown.</div>`;
  }
  return '';
}

/** Inline SVG of in-use, available and lingering ENIs over the history window (no script, no external asset). */
export function historyChart(points: readonly HistoryPoint[], windowMs: number, now: number): string {
  const W = 320;
  const H = 60;
  if (points.length < 2)
    return `<svg class="chart" width="${W}" height="${H}" role="img" aria-label="ENI history: not enough samples yet" data-points="${points.length}"><text x="4" y="34" font-size="11" fill="#777">collecting history…</text></svg>`;
  const t0 = Math.min(points[0]!.at, now - windowMs);
  const span = Math.max(1, now - t0);
  const max = Math.max(1, ...points.map((p) => Math.max(p.inUse, p.available, p.lingering ?? 0)));
  const x = (at: number) => ((W * (at - t0)) / span).toFixed(1);
  const y = (v: number) => (H - 2 - ((H - 4) * v) / max).toFixed(1);
  const line = (pick: (p: HistoryPoint) => number | undefined, colour: string, name: string) => {
    const pts = points.filter((p) => pick(p) !== undefined).map((p) => `${x(p.at)},${y(pick(p)!)}`);
    return pts.length < 2 ? '' : `<polyline fill="none" stroke="${colour}" stroke-width="1.5" points="${pts.join(' ')}" data-series="${name}"/>`;
  };
  const hours = Math.round(span / 360_000) / 10;
  return `<svg class="chart" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="ENIs over the last ${hours} h: in-use, available, lingering (max ${max})" data-points="${points.length}">
<title>ENIs over the last ${hours} h (max ${max})</title>
${line((p) => p.inUse, '#1f77b4', 'in-use')}${line((p) => p.available, '#2ca02c', 'available')}${line((p) => p.lingering, '#d62728', 'lingering')}
</svg>`;
}

function subnetRow(s: SubnetView, a: SubnetAdmissionStatus | undefined, i: LandingInput): string {
  const ratio = utilizationRatio(s);
  const level = utilizationLevel(ratio);
  const pct = (100 * ratio).toFixed(0);
  const id = encodeURIComponent(s.subnetId);
  const failures = exhaustionFailuresToday(s, i.now);
  const eta = a?.headEtaSeconds;
  const bar = Math.min(100, Math.max(0, 100 * ratio)).toFixed(1);
  const target = s.account || s.region ? ` · ${escapeHtml([s.account, s.region].filter(Boolean).join(' / '))}` : '';
  const stale = i.staleTargets?.some((t) => t.key === targetKey(s)) ? ' data-stale="true"' : '';
  return `<tr data-subnet-id="${escapeHtml(s.subnetId)}" data-account="${escapeHtml(s.account)}" data-region="${escapeHtml(s.region)}"${stale} data-utilization="${ratio}" data-level="${level}" data-free="${s.free}" data-used="${s.used}" data-usable="${s.usable}"${a ? ` data-headroom="${a.headroom}" data-queue-length="${a.queueLength}"` : ''}${failures === undefined ? '' : ` data-exhaustion-failures-today="${failures}"`}>
<td class="name"><a href="api/subnets/${id}">${escapeHtml(s.name)}</a><br><small><a href="api/subnets/${id}/enis">${escapeHtml(s.subnetId)}</a> · ${escapeHtml(s.cidr)} · ${escapeHtml(s.availabilityZone)}${target}</small></td>
<td class="util ${level}"><span class="pct">${pct} %</span><div class="meter" title="80 % line"><div class="fill ${level}" style="width:${bar}%"></div><div class="line80"></div></div></td>
<td>${s.free}</td><td>${s.used}</td><td>${s.usable}</td>
<td>${s.inUse}</td><td>${s.available}</td><td>${num(s.lingering)}</td>
<td>${a ? a.buffer : '—'}</td><td class="headroom">${a ? a.headroom : '—'}</td>
<td>${a ? a.queueLength : '—'}</td><td data-head-eta="${eta === undefined ? '' : eta === null ? 'none' : Math.round(eta)}">${formatEta(eta)}</td>
<td class="${failures ? 'critical' : ''}">${num(failures)}</td>
<td>${historyChart(i.history(s.subnetId), i.historyWindowMs, i.now)}</td></tr>`;
}

export function landingPage(i: LandingInput): string {
  const byId = new Map(i.admission.map((a) => [a.subnetId, a]));
  const rows = (i.snap?.subnets ?? []).map((s) => subnetRow(s, byId.get(s.subnetId), i)).join('\n');
  const state = i.snap ? `Last sample ${new Date(i.snap.takenAt).toISOString()} (${(i.ageSeconds ?? 0).toFixed(0)} s ago).` : 'No sample yet.';
  const links = [
    `<a href="api/subnets">/api</a>`,
    `<a href="metrics">/metrics</a>`,
    i.links.runbook ? `<a href="${escapeHtml(i.links.runbook)}" rel="noopener" data-link="runbook">runbook</a>` : '',
    i.links.grafana ? `<a href="${escapeHtml(i.links.grafana)}" rel="noopener" data-link="grafana">Grafana</a>` : '',
    `<a href="-/ready">/-/ready</a>`,
  ]
    .filter(Boolean)
    .join(' · ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="${REFRESH_SECONDS}">
<title>glue-eni-exporter</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:4px 8px;text-align:right;vertical-align:middle}
td.name,th:first-child{text-align:left}th{background:#f4f4f4;font-weight:600}
.banner{padding:.6em 1em;margin:0 0 1em;border-radius:4px;font-weight:600}
.banner.critical{background:#fde2e1;color:#8a1c13;border:1px solid #d62728}.banner.warning{background:#fff3cd;color:#6b4e00;border:1px solid #e0a800}
.util .pct{font-weight:700}.util.warning .pct,td.warning{color:#b26b00}.util.critical .pct,td.critical{color:#c0392b}
.meter{position:relative;width:120px;height:8px;background:#eee;margin-top:3px}.fill{height:100%;background:#2ca02c}
.fill.warning{background:#e0a800}.fill.critical{background:#d62728}.line80{position:absolute;left:80%;top:-2px;bottom:-2px;width:2px;background:#333}
.unknown{color:#999}small{color:#666}.legend span{margin-right:1em}
</style>
</head><body>
<h1>glue-eni-exporter</h1>
${banner(i)}
<p>${escapeHtml(state)} Version ${escapeHtml(i.version)}. Refreshes every ${REFRESH_SECONDS} s. ${links}</p>
<table><thead><tr><th>subnet</th><th>utilization (80 % line)</th><th>free</th><th>used</th><th>usable</th>
<th>in-use</th><th>available</th><th>lingering</th><th>buffer</th><th>headroom (workers now)</th>
<th>queue</th><th>head ETA</th><th>exhaustion failures today</th><th>ENIs, last hours</th></tr></thead>
<tbody>
${rows}
</tbody></table>
<p class="legend"><small><span style="color:#1f77b4">— in-use</span><span style="color:#2ca02c">— available</span><span style="color:#d62728">— lingering</span>
Addresses: free/used/usable. Headroom: the most workers admitted now. <code>/admit?subnet=&lt;id or name&gt;&amp;workers=&lt;n&gt;&amp;dry_run=true</code> previews a launch without recording anything.</small></p>
</body></html>
`;
}
