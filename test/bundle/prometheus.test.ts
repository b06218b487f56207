// Prometheus config, rules and their unit tests, checked by the real promtool; alert metadata and runbook anchors.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { execFileP, headingAnchors, readYaml, repoPath, requireBin, type PromRuleFile } from './helpers.js';

const ruleFiles = readdirSync(repoPath('prometheus', 'rules'))
  .filter((f) => f.endsWith('.yml'))
  .map((f) => `prometheus/rules/${f}`);
const testFiles = readdirSync(repoPath('prometheus', 'tests'))
  .filter((f) => f.endsWith('.yml'))
  .map((f) => `prometheus/tests/${f}`);
const alerts = ruleFiles.flatMap((f) => readYaml<PromRuleFile>(f).groups.flatMap((g) => g.rules.filter((r) => r.alert)));

describe('prometheus bundle', () => {
  it('promtool check config accepts prometheus.yml and the rule files it loads', async () => {
    const { stdout } = await execFileP(requireBin('promtool'), ['check', 'config', 'prometheus/prometheus.yml'], { cwd: repoPath() });
    expect(stdout).toContain('SUCCESS');
    for (const f of ruleFiles) expect(stdout).toContain(f.replace('prometheus/', ''));
  });

  it('promtool check rules accepts every rule file', async () => {
    const { stdout } = await execFileP(requireBin('promtool'), ['check', 'rules', ...ruleFiles], { cwd: repoPath() });
    expect(stdout.match(/SUCCESS/g)).toHaveLength(ruleFiles.length);
  });

  it('promtool test rules passes every unit test file', async () => {
    const { stdout } = await execFileP(requireBin('promtool'), ['test', 'rules', ...testFiles], { cwd: repoPath() });
    expect(stdout).not.toContain('FAILED');
    expect(stdout.match(/SUCCESS/g)).toHaveLength(testFiles.length);
  });

  it('ships the alerts an on-call needs, each with severity, summary, description and runbook_url', () => {
    expect(alerts.map((a) => a.alert).sort()).toEqual(
      [
        'GlueEniExhaustionFailures',
        'GlueEniExporterDown',
        'GlueEniLaunchesHeld',
        'GlueEniLaunchWillMissDeadline',
        'GlueEniLingeringTooLong',
        'GlueEniSamplerFailing',
        'GlueEniSamplerStale',
        'GlueEniSubnetUtilizationHigh',
      ].sort(),
    );
    for (const a of alerts) {
      expect(['critical', 'warning'], a.alert).toContain(a.labels?.severity);
      expect(a.annotations?.summary, a.alert).toMatch(/\{\{.*\}\}/);
      expect(a.annotations?.description, a.alert).toMatch(/\{\{.*\$(value|labels).*\}\}/);
      expect(a.annotations?.runbook_url, a.alert).toMatch(/^https:\/\/.+\/docs\/runbook\.md#[a-z0-9-]+$/);
    }
    const util = alerts.find((a) => a.alert === 'GlueEniSubnetUtilizationHigh');
    expect(util?.expr.trim()).toBe('glue_eni_subnet_utilization_ratio > 0.8');
    expect(util?.for).toBe('2m');
    expect(util?.labels?.severity).toBe('critical');
    expect(alerts.find((a) => a.alert === 'GlueEniExporterDown')?.expr.trim()).toBe('up{job="glue-eni-exporter"} == 0');
    const miss = alerts.find((a) => a.alert === 'GlueEniLaunchWillMissDeadline');
    expect(miss?.expr.trim()).toBe('sum by (job, subnet_id, subnet, account_id, region) (increase(glue_eni_deadline_misses_total[15m])) > 0');
    expect(miss?.annotations?.runbook_url).toMatch(/#glueenilaunchwillmissdeadline$/);
  });

  it('every aggregation or join over subnets or AWS APIs keeps account_id and region, and the alerts name them', () => {
    const rules = ruleFiles.flatMap((f) => readYaml<PromRuleFile>(f).groups.flatMap((g) => g.rules));
    let lists = 0;
    for (const r of rules) {
      for (const m of r.expr.matchAll(/\b(by|on|ignoring|without)\s*\(([^)]*)\)/g)) {
        const labels = m[2]!.split(',').map((l) => l.trim());
        // Per subnet or per AWS API means per target: two accounts may name a subnet alike.
        if (!labels.some((l) => ['subnet_id', 'subnet', 'api'].includes(l))) continue;
        lists++;
        expect(labels, `${r.alert ?? r.record}: ${m[0]}`).toEqual(expect.arrayContaining(['account_id', 'region']));
      }
    }
    expect(lists).toBeGreaterThan(8);
    // Every alert on a per-subnet or per-target series names the account and region it is about (when present).
    for (const a of alerts.filter((x) => x.alert !== 'GlueEniExporterDown')) {
      for (const k of ['summary', 'description'] as const) {
        expect(a.annotations?.[k], `${a.alert} ${k}`).toContain('{{ with $labels.account_id }}');
        expect(a.annotations?.[k], `${a.alert} ${k}`).toContain('{{ with $labels.region }}');
      }
      // A query in an annotation looks the subnet up in its own account and region.
      for (const q of (a.annotations?.description ?? '').matchAll(/printf "(\w+)\{([^}]*)\}/g))
        expect(q[2], `${a.alert}: ${q[1]}`).toBe("subnet_id='%s',account_id='%s',region='%s'");
    }
    const tests = testFiles.map((f) => readFileSync(repoPath(f), 'utf8')).join('\n');
    for (const a of alerts.filter((x) => x.alert !== 'GlueEniExporterDown'))
      expect(tests, `two-account unit test for ${a.alert}`).toMatch(
        new RegExp(`alertname: ${a.alert}\\n\\s+exp_alerts:\\n\\s+- exp_labels:\\n(\\s+\\w+: .*\\n)*?\\s+account_id: '\\d{12}'`),
      );
  });

  it('every alert has a unit test and every runbook_url anchor exists in docs/runbook.md', () => {
    const tests = testFiles.map((f) => readFileSync(repoPath(f), 'utf8')).join('\n');
    const anchors = headingAnchors(readFileSync(repoPath('docs', 'runbook.md'), 'utf8'));
    for (const a of alerts) {
      expect(tests, `unit test for ${a.alert}`).toContain(`alertname: ${a.alert}`);
      const anchor = a.annotations!.runbook_url!.split('#')[1]!;
      expect(anchors.has(anchor), `docs/runbook.md heading for #${anchor}`).toBe(true);
    }
  });

  it('prometheus.yml scrapes the exporter as job glue-eni-exporter and sends to the compose Alertmanager', () => {
    const cfg = readYaml<{
      rule_files: string[];
      scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }>;
      alerting: { alertmanagers: Array<{ static_configs: Array<{ targets: string[] }> }> };
    }>('prometheus', 'prometheus.yml');
    expect(cfg.rule_files).toContain('rules/*.yml');
    const job = cfg.scrape_configs.find((s) => s.job_name === 'glue-eni-exporter');
    expect(job?.static_configs[0]?.targets).toEqual(['exporter:9858']);
    expect(cfg.alerting.alertmanagers[0]?.static_configs[0]?.targets).toEqual(['alertmanager:9093']);
  });
});
