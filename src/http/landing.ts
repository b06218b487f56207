import type { Snapshot } from '../snapshot/types.js';

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** The landing page: what this is, where the endpoints are, and each subnet at a glance. */
export function landingPage(snap: Snapshot | undefined, ageSeconds: number | undefined, version: string): string {
  const rows = (snap?.subnets ?? [])
    .map((s) => {
      const pct = s.usable > 0 ? ((100 * s.used) / s.usable).toFixed(0) : '100';
      const id = encodeURIComponent(s.subnetId);
      return `<tr><td>${escapeHtml(s.name)}</td><td><a href="api/subnets/${id}/enis">${escapeHtml(s.subnetId)}</a></td>
<td>${escapeHtml(s.cidr)}</td><td>${escapeHtml(s.availabilityZone)}</td><td>${s.used} / ${s.usable}</td><td>${pct} %</td>
<td>${s.inUse}</td><td>${s.available}</td><td>${s.lingering ?? 'unknown'}</td><td>${s.activeWorkers ?? 'unknown'}</td></tr>`;
    })
    .join('\n');
  const state = snap
    ? `Last sample ${new Date(snap.takenAt).toISOString()} (${(ageSeconds ?? 0).toFixed(0)} s ago)${snap.glueKnown ? '' : ' — Glue data unavailable'}`
    : 'No sample yet.';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>glue-eni-exporter</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}</style>
</head><body>
<h1>glue-eni-exporter</h1>
<p>Version ${escapeHtml(version)}. ${escapeHtml(state)}</p>
<ul>
<li><a href="metrics">/metrics</a> — Prometheus metrics</li>
<li><a href="api/subnets">/api/subnets</a> — the cache as JSON</li>
<li><code>/admit?subnet=&lt;id or name&gt;&amp;workers=&lt;n&gt;&amp;dag_run_id=&lt;id&gt;</code> — launch now or wait</li>
<li><a href="-/healthy">/-/healthy</a>, <a href="-/ready">/-/ready</a></li>
</ul>
<table><thead><tr><th>subnet</th><th>id (ENIs)</th><th>CIDR</th><th>AZ</th><th>used / usable</th><th>utilization</th>
<th>in-use</th><th>available</th><th>lingering</th><th>active workers</th></tr></thead>
<tbody>
${rows}
</tbody></table>
</body></html>
`;
}
