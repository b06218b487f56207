// Alertmanager: the rendered config passes amtool, routes by severity, and a real Alertmanager applies the
// inhibitions (exporter down / sampler stale silence the subnet alerts they make meaningless).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { execFileP, renderAlertmanagerConfig, repoPath, requireBin, startProc, tempDir, type Proc } from './helpers.js';
import { freePort } from '../helpers/net.js';
import { waitFor } from '../helpers/wait.js';

const tmp = tempDir('glue-eni-am');
const rendered = join(tmp.path, 'alertmanager.yml');
const PAGE = 'http://127.0.0.1:9/page?routing_key=a&b=c\\d';
const CHAT = 'https://chat.example.invalid/hooks/T000/B000/XXXX';

beforeAll(async () => {
  await renderAlertmanagerConfig(rendered, { ALERTMANAGER_PAGE_WEBHOOK_URL: PAGE, ALERTMANAGER_CHAT_WEBHOOK_URL: CHAT });
});
afterAll(() => tmp.remove());

describe('alertmanager config', () => {
  it('renders the environment into the template verbatim and amtool check-config accepts it', async () => {
    const cfg = parse(readFileSync(rendered, 'utf8'));
    expect(cfg.receivers.find((r: { name: string }) => r.name === 'page').webhook_configs[0].url).toBe(PAGE);
    expect(cfg.receivers.find((r: { name: string }) => r.name === 'chat').slack_configs[0].api_url).toBe(CHAT);
    const { stdout } = await execFileP(requireBin('amtool'), ['check-config', rendered]);
    expect(stdout).toContain('SUCCESS');
    expect(stdout).toMatch(/3 inhibit rules/);
    expect(stdout).toMatch(/1 templates/);
  });

  it('refuses to render when a webhook URL is missing, naming the variable', async () => {
    const err = await renderAlertmanagerConfig(join(tmp.path, 'missing.yml'), { ALERTMANAGER_PAGE_WEBHOOK_URL: PAGE }).then(
      () => undefined,
      (e: { stderr: string }) => e,
    );
    expect(err?.stderr).toContain('ALERTMANAGER_CHAT_WEBHOOK_URL is not set');
  });

  it('routes critical alerts to page and chat, warnings to chat, grouped by alertname, account, region and subnet', async () => {
    const route = async (...labels: string[]) =>
      (await execFileP(requireBin('amtool'), ['config', 'routes', 'test', `--config.file=${rendered}`, ...labels])).stdout.trim();
    expect(await route('alertname=GlueEniSubnetUtilizationHigh', 'severity=critical', 'subnet=critical')).toBe('page,chat');
    expect(await route('alertname=GlueEniLingeringTooLong', 'severity=warning', 'subnet=batch')).toBe('chat');
    const cfg = parse(readFileSync(rendered, 'utf8'));
    expect(cfg.route.group_by).toEqual(['alertname', 'account_id', 'region', 'subnet']);
  });
});

describe('alertmanager inhibitions (real Alertmanager)', () => {
  let am: Proc;
  let base: string;
  const data = tempDir('glue-eni-am-data');

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    am = startProc(requireBin('prometheus-alertmanager'), [
      `--config.file=${rendered}`,
      `--storage.path=${data.path}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
    ]);
    await waitFor('alertmanager ready', async () => ((await fetch(`${base}/-/ready`)).ok ? true : undefined), 20_000, 200).catch((e: Error) => {
      throw new Error(`${e.message}\n${am.output()}`);
    });
  });
  afterAll(async () => {
    await am?.stop();
    data.remove();
  });

  const post = async (alerts: Array<Record<string, string>>) => {
    const now = new Date().toISOString();
    const res = await fetch(`${base}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(
        alerts.map((labels) => ({ labels, annotations: { summary: labels.alertname }, startsAt: now, generatorURL: 'http://127.0.0.1/' })),
      ),
    });
    expect(res.status).toBe(200);
  };
  interface AmAlert {
    labels: Record<string, string>;
    status: { state: string; inhibitedBy: string[] };
  }
  const alertsByName = async () => {
    const list = (await (await fetch(`${base}/api/v2/alerts`)).json()) as AmAlert[];
    return new Map(list.map((a) => [`${a.labels.alertname}/${a.labels.job}/${a.labels.subnet ?? ''}`, a]));
  };

  it('GlueEniExporterDown and GlueEniSamplerStale suppress the subnet alerts of the same job, not of another', async () => {
    await post([
      { alertname: 'GlueEniExporterDown', severity: 'critical', job: 'glue-eni-exporter', instance: 'exporter:9858' },
      { alertname: 'GlueEniSamplerStale', severity: 'critical', job: 'glue-eni-exporter', instance: 'exporter:9858' },
      { alertname: 'GlueEniSubnetUtilizationHigh', severity: 'critical', job: 'glue-eni-exporter', subnet: 'critical', subnet_id: 'subnet-0a' },
      { alertname: 'GlueEniLaunchesHeld', severity: 'warning', job: 'glue-eni-exporter', subnet: 'critical', subnet_id: 'subnet-0a' },
      // Another exporter deployment (another scrape job) keeps alerting.
      { alertname: 'GlueEniSubnetUtilizationHigh', severity: 'critical', job: 'glue-eni-exporter-eu', subnet: 'critical', subnet_id: 'subnet-0e' },
      // Facts about failed job runs stay visible.
      { alertname: 'GlueEniExhaustionFailures', severity: 'critical', job: 'glue-eni-exporter', subnet: 'critical', subnet_id: 'subnet-0a' },
    ]);
    const got = await waitFor(
      'inhibitions applied',
      async () => {
        const m = await alertsByName();
        return m.get('GlueEniSubnetUtilizationHigh/glue-eni-exporter/critical')?.status.state === 'suppressed' ? m : undefined;
      },
      10_000,
      200,
    );
    const state = (k: string) => got.get(k)?.status.state;
    expect(state('GlueEniSubnetUtilizationHigh/glue-eni-exporter/critical')).toBe('suppressed');
    expect(state('GlueEniLaunchesHeld/glue-eni-exporter/critical')).toBe('suppressed');
    expect(state('GlueEniSamplerStale/glue-eni-exporter/')).toBe('suppressed');
    expect(state('GlueEniExporterDown/glue-eni-exporter/')).toBe('active');
    expect(state('GlueEniSubnetUtilizationHigh/glue-eni-exporter-eu/critical')).toBe('active');
    expect(state('GlueEniExhaustionFailures/glue-eni-exporter/critical')).toBe('active');
  });

  it('a stale account and region silences its own subnet alerts only; a staleness without account labels the whole job', async () => {
    const job = 'glue-eni-exporter-multi';
    const subnetAlert = (alertname: string, severity: string, account_id: string, region: string) => ({
      alertname,
      severity,
      job,
      subnet: 'critical',
      subnet_id: 'subnet-0a',
      account_id,
      region,
    });
    await post([
      { alertname: 'GlueEniSamplerStale', severity: 'critical', job, instance: 'exporter:9858', account_id: '222222222222', region: 'eu-west-1' },
      subnetAlert('GlueEniSubnetUtilizationHigh', 'critical', '222222222222', 'eu-west-1'),
      subnetAlert('GlueEniLaunchesHeld', 'warning', '222222222222', 'eu-west-1'),
      // Same subnet name (and id) in another account, and the same account in another region: not stale.
      subnetAlert('GlueEniSubnetUtilizationHigh', 'critical', '111111111111', 'eu-west-1'),
      subnetAlert('GlueEniSubnetUtilizationHigh', 'critical', '222222222222', 'us-east-1'),
      // An exporter-wide staleness (no account labels) of another job silences all of that job's subnet alerts.
      { alertname: 'GlueEniSamplerStale', severity: 'critical', job: 'glue-eni-exporter-old', instance: 'old:9858' },
      { ...subnetAlert('GlueEniSubnetUtilizationHigh', 'critical', '333333333333', 'eu-west-1'), job: 'glue-eni-exporter-old' },
    ]);
    const key = (a: { labels: Record<string, string> }) =>
      `${a.labels.alertname}/${a.labels.job}/${a.labels.account_id ?? ''}/${a.labels.region ?? ''}`;
    const got = await waitFor(
      'per-target inhibitions applied',
      async () => {
        const list = (await (await fetch(`${base}/api/v2/alerts`)).json()) as AmAlert[];
        const m = new Map(list.map((a) => [key(a), a.status.state]));
        return m.get(`GlueEniSubnetUtilizationHigh/${job}/222222222222/eu-west-1`) === 'suppressed' &&
          m.get('GlueEniSubnetUtilizationHigh/glue-eni-exporter-old/333333333333/eu-west-1') === 'suppressed'
          ? m
          : undefined;
      },
      10_000,
      200,
    );
    expect(got.get(`GlueEniLaunchesHeld/${job}/222222222222/eu-west-1`)).toBe('suppressed');
    expect(got.get(`GlueEniSubnetUtilizationHigh/${job}/111111111111/eu-west-1`)).toBe('active');
    expect(got.get(`GlueEniSubnetUtilizationHigh/${job}/222222222222/us-east-1`)).toBe('active');
    expect(got.get(`GlueEniSamplerStale/${job}/222222222222/eu-west-1`)).toBe('active');
  });

  it('the message template names the runbook (template file is loaded by the running Alertmanager)', async () => {
    const status = (await (await fetch(`${base}/api/v2/status`)).json()) as { config: { original: string } };
    expect(status.config.original).toContain(repoPath('alertmanager', 'templates'));
    const tmpl = readFileSync(repoPath('alertmanager', 'templates', 'glue-eni.tmpl'), 'utf8');
    expect(tmpl).toContain('.Annotations.runbook_url');
  });
});
