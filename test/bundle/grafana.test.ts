// The committed dashboard JSON is what grafana/dashboard.ts generates, and it is structurally sound.
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { execFileP, readYaml, repoPath } from './helpers.js';

interface Target {
  expr?: string;
  refId?: string;
  legendFormat?: string;
  format?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  repeat?: string;
  panels?: Panel[];
  timeFrom?: string;
  fieldConfig?: { overrides?: Array<{ matcher: { id: string; options: string } }> };
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: {
    list: Array<{ name: string; type: string; query?: unknown; multi?: boolean; includeAll?: boolean; allValue?: string }>;
  };
}

const committedPath = repoPath('grafana', 'dashboards', 'glue-eni.json');
const dash = JSON.parse(readFileSync(committedPath, 'utf8')) as Dashboard;
const allPanels = dash.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const queryPanels = allPanels.filter((p) => p.type !== 'row' && p.type !== 'alertlist');

// Compiled into the repository (.tmp/) so the SDK resolves from node_modules.
const outDir = repoPath('.tmp', `grafana-check-${process.pid}`);
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

describe('grafana dashboard', () => {
  it('regenerating from grafana/dashboard.ts gives exactly the committed JSON', async () => {
    mkdirSync(outDir, { recursive: true });
    await execFileP(
      process.execPath,
      [repoPath('node_modules', 'typescript', 'bin', 'tsc'), '-p', repoPath('grafana', 'tsconfig.json'), '--outDir', outDir],
      {
        cwd: repoPath(),
      },
    );
    const out = join(outDir, 'glue-eni.json');
    await execFileP(process.execPath, [join(outDir, 'dashboard.js'), out], { cwd: repoPath() });
    const regenerated = readFileSync(out, 'utf8');
    expect(regenerated, 'grafana/dashboards/glue-eni.json is stale: run the dashboards build').toBe(readFileSync(committedPath, 'utf8'));
  }, 60_000);

  it('has multi-value `account`, `region` and `subnet` variables with All, each chained on the ones before it', () => {
    // Grafana resolves variables in list order: a chained one must come after those it reads.
    expect(dash.templating.list.map((t) => t.name)).toEqual(['datasource', 'account', 'region', 'subnet']);
    const v = (name: string) => dash.templating.list.find((t) => t.name === name)!;
    const queries: Record<string, string> = {
      account: 'label_values(glue_eni_subnet_info, account_id)',
      region: 'label_values(glue_eni_subnet_info{account_id=~"$account"}, region)',
      subnet: 'label_values(glue_eni_subnet_info{account_id=~"$account",region=~"$region"}, subnet)',
    };
    for (const [name, q] of Object.entries(queries)) {
      expect(v(name).type, name).toBe('query');
      expect((v(name).query as { query?: string }).query, name).toBe(q);
      expect(v(name).multi, name).toBe(true);
      expect(v(name).includeAll, name).toBe(true);
    }
    // All is `.*`, which matches a series without the label too (an exporter older than the labels).
    expect(v('account').allValue).toBe('.*');
    expect(v('region').allValue).toBe('.*');
    expect(v('datasource').type).toBe('datasource');
  });

  it('every series a panel reads is filtered by the chosen accounts and regions, and per-subnet legends name them', () => {
    // Metric names of the exporter and of the recording rules, each with its selector if any.
    const selectorRe = /\b((?:glue_eni_|subnet:|subnet_status:|subnet_decision:|target:|job:)[\w:]*)(\{[^}]*\})?/g;
    let selectors = 0;
    for (const p of queryPanels) {
      for (const t of p.targets!) {
        for (const m of t.expr!.matchAll(selectorRe)) {
          selectors++;
          const where = `${p.title} [${t.refId}] ${m[1]}`;
          expect(m[2], where).toBeDefined();
          expect(m[2], where).toContain('account_id=~"$account"');
          expect(m[2], where).toContain('region=~"$region"');
          // Everything per subnet is per subnet of the chosen accounts and regions.
          if (!/^(target|job):|sample|last_sample/.test(m[1]!)) expect(m[2], where).toContain('subnet=~"$subnet"');
        }
        // A per-subnet breakdown keeps account and region apart (two accounts may name a subnet alike),
        // and its legend says which is which.
        for (const by of t.expr!.matchAll(/\bby \(([^)]*)\)/g)) {
          const labels = by[1]!.split(',').map((l) => l.trim());
          if (labels.includes('subnet')) expect(labels, `${p.title} [${t.refId}] ${by[0]}`).toEqual(expect.arrayContaining(['account_id', 'region']));
        }
        if (/\bby \(subnet, account_id, region/.test(t.expr!) && t.format !== 'table')
          expect(t.legendFormat, `${p.title} [${t.refId}] legend`).toMatch(/\{\{account_id\}\} \{\{region\}\}/);
      }
    }
    expect(selectors).toBeGreaterThan(30);
  });

  it('overrides by series name still find their series once the legend names the account and region', () => {
    let checked = 0;
    for (const p of queryPanels) {
      const legends = p.targets!.map((t) => t.legendFormat ?? '');
      for (const o of p.fieldConfig?.overrides ?? []) {
        if (o.matcher.id === 'byName') throw new Error(`${p.title}: override by exact name ${o.matcher.options} misses legends with an account`);
        if (o.matcher.id !== 'byRegexp') continue;
        const re = new RegExp(o.matcher.options);
        // As Grafana shows them: with the labels of a labelled series, and empty for an older exporter's.
        const shown = legends.flatMap((l) => [
          l.replaceAll('{{account_id}}', '111111111111').replaceAll('{{region}}', 'eu-west-1').replaceAll('{{horizon}}', '15m'),
          l.replaceAll('{{account_id}}', '').replaceAll('{{region}}', '').replaceAll('{{horizon}}', '15m'),
        ]);
        const hits = shown.filter((l) => re.test(l));
        expect(hits, `${p.title}: override ${o.matcher.options}`).toHaveLength(2);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(5);
  });

  it('panels have unique ids, a gridPos inside 24 columns, a datasource, and targets with expr and refId', () => {
    const ids = allPanels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of allPanels) {
      expect(Number.isInteger(p.id), p.title).toBe(true);
      const g = p.gridPos;
      expect(g, p.title).toBeDefined();
      expect(g.x >= 0 && g.y >= 0 && g.w > 0 && g.h > 0 && g.x + g.w <= 24, `${p.title} gridPos ${JSON.stringify(g)}`).toBe(true);
      if (p.type === 'row') continue;
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
    }
    for (const p of queryPanels) {
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      const refIds = p.targets!.map((t) => t.refId);
      expect(new Set(refIds).size, `${p.title} refIds`).toBe(refIds.length);
      for (const t of p.targets!) {
        expect(t.expr, `${p.title} ${t.refId}`).toMatch(/glue_eni|subnet:|job:/);
        expect(t.datasource, `${p.title} ${t.refId}`).toEqual({ type: 'prometheus', uid: '${datasource}' });
        // Balanced brackets: a cheap guard against broken string building.
        for (const [o, c] of [
          ['(', ')'],
          ['{', '}'],
          ['[', ']'],
        ] as const) {
          expect(t.expr!.split(o).length, `${p.title} ${t.refId} ${o}${c}`).toBe(t.expr!.split(c).length);
        }
      }
    }
    // Panels do not overlap (repeated panels expand to the right/below at runtime, the template layout must be clean).
    const cells = new Set<string>();
    for (const p of allPanels) {
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++)
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          const k = `${x},${y}`;
          expect(cells.has(k), `${p.title} overlaps at ${k}`).toBe(false);
          cells.add(k);
        }
    }
  });

  it('covers the report: utilization, sensor holds, exhaustion, ENI counts with buffer and 80 % line, alerts, window, per-subnet stats', () => {
    const exprs = (re: RegExp) => queryPanels.filter((p) => re.test(p.title)).flatMap((p) => p.targets!.map((t) => t.expr!));
    expect(allPanels.find((p) => p.title.startsWith('Utilization'))?.repeat).toBe('subnet');
    expect(exprs(/^Utilization/).join()).toMatch(/utilization_ratio.*used_ips.*usable_ips/);
    expect(exprs(/Sensor holds/).join()).toContain('decision="wait"');
    expect(exprs(/exhaustion/).join()).toContain('glue_eni_exhaustion_failures_total');
    const eni = exprs(/ENI count over time/).join('\n');
    for (const s of ['status="in-use"', 'status="available"', 'glue_eni_lingering_enis', 'glue_eni_cleanup_buffer', '0.8 * '])
      expect(eni).toContain(s);
    expect(allPanels.some((p) => p.type === 'alertlist')).toBe(true);
    expect(exprs(/^Admission window/).join()).toContain('glue_eni_admission_window_enis');
    expect(exprs(/peak today/).join()).toContain('max_over_time');
    expect(exprs(/cleanup tail/).join()).toContain('glue_eni_available_duration_seconds_sum');
    expect(exprs(/jobs running/).join()).toMatch(/job_runs_active[\s\S]*workers_active/);
    expect(exprs(/— queue$/).join('\n')).toMatch(/glue_eni_queue_length[\s\S]*glue_eni_deadline_misses_total/);
    expect(exprs(/head of the queue: ETA/).join()).toContain('glue_eni_queue_head_eta_seconds');
    expect(exprs(/predicted free addresses/).join()).toContain('max by (subnet, account_id, region, horizon) (glue_eni_predicted_free_ips');
    const row = dash.panels.find((p) => p.type === 'row');
    expect(row?.repeat).toBe('subnet');
    expect(row?.panels).toEqual([]);
  });

  it('provisioning defines the data sources the dashboard and alert list expect, and loads the dashboards folder', () => {
    const ds = readYaml<{ datasources: Array<{ uid: string; type: string; url: string; jsonData?: Record<string, unknown> }> }>(
      'grafana',
      'provisioning',
      'datasources',
      'glue-eni.yml',
    ).datasources;
    const prom = ds.find((d) => d.type === 'prometheus');
    expect(prom?.uid).toBe('prometheus');
    expect(prom?.url).toBe('http://prometheus:9090');
    expect(prom?.jsonData?.alertmanagerUid).toBe('alertmanager');
    expect(ds.find((d) => d.type === 'alertmanager')).toMatchObject({ uid: 'alertmanager', url: 'http://alertmanager:9093' });
    expect(dash.templating.list.find((t) => t.name === 'datasource')).toMatchObject({ current: { value: 'prometheus' } });
    const providers = readYaml<{ providers: Array<{ type: string; options: { path: string } }> }>(
      'grafana',
      'provisioning',
      'dashboards',
      'glue-eni.yml',
    ).providers;
    expect(providers[0]?.options.path).toBe('/etc/grafana/dashboards');
  });
});
