// End to end across accounts and regions: the simulator serves scenarios/multi-account.yml (two accounts × two
// regions; discovery names a subnet `glue-staging` in both regions of 222222222222), the exporter samples each
// (account, region) through STS AssumeRole, beside a target whose role cannot be assumed (333333333333), and a
// real Prometheus with the shipped rules scrapes it. Asserts that the dashboard's variables offer the accounts, the
// regions of the chosen account and their subnets; that every panel query answers for All, for each account (with
// that account's series only) and for each subnet in its own account and region; that the recording rules keep the
// two `glue-staging` subnets apart; and that GlueEniSamplerFailing fires for the denied account alone, naming it.
//
// Test overlay (only here): scrape and evaluation every 1s, alert `for:` shortened to 10s, a sample every 2 s.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  dashboardTargets,
  escapeRegex,
  fillVariables,
  promCall,
  promLabelValues,
  repoPath,
  requireBin,
  runDashTarget,
  startPrometheus,
  startProc,
  tempDir,
  type Proc,
  type Selection,
} from './helpers.js';
import { freePort } from '../helpers/net.js';
import { SIM_ENV } from '../helpers/sim-env.js';
import { waitFor } from '../helpers/wait.js';

const PROD = '111111111111';
const STAGING = '222222222222';
const DENIED = '333333333333';
const REGIONS = ['eu-west-1', 'us-east-1'];

describe('monitoring bundle across accounts and regions (simulator → exporter with targets → Prometheus)', () => {
  const tmp = tempDir('glue-eni-e2e-targets');
  const procs: Proc[] = [];
  let promUrl = '';
  let promStartedAt = 0;
  const prom = (path: string, params: Record<string, string>) => promCall(promUrl, path, params);

  beforeAll(async () => {
    requireBin('prometheus');
    const [simPort, exporterPort, promPort] = [await freePort(), await freePort(), await freePort()];
    promUrl = `http://127.0.0.1:${promPort}`;
    const sim = `http://127.0.0.1:${simPort}`;
    const env = { ...process.env, ...SIM_ENV };

    procs.push(
      startProc(
        process.execPath,
        [
          repoPath('dist', 'cli.js'),
          'sim',
          '--scenario',
          'scenarios/multi-account.yml',
          '--listen',
          `127.0.0.1:${simPort}`,
          '--speed',
          '60',
          '--start',
          '2026-04-06T06:40:00Z',
        ],
        { env },
      ),
    );
    const config = {
      endpoints: { ec2: sim, glue: sim, sts: sim },
      dataDir: join(tmp.path, 'data'),
      sample: { schedule: '*/2 * * * * *', concurrency: 2 },
      targets: [
        { account: PROD, roleArn: `arn:aws:iam::${PROD}:role/glue-eni-exporter`, regions: REGIONS, discover: { glueConnections: true } },
        {
          account: STAGING,
          roleArn: `arn:aws:iam::${STAGING}:role/glue-eni-exporter`,
          externalId: 'staging-7f3a',
          regions: REGIONS,
          discover: { glueConnections: true },
        },
        // No such account in the scenario: every AssumeRole is AccessDenied.
        {
          account: DENIED,
          roleArn: `arn:aws:iam::${DENIED}:role/glue-eni-exporter`,
          regions: ['eu-west-1'],
          subnets: [{ id: 'subnet-0d3a1', name: 'dr-critical' }],
        },
      ],
    };
    writeFileSync(join(tmp.path, 'exporter.yml'), stringify(config));
    const exporter = startProc(
      process.execPath,
      [repoPath('dist', 'cli.js'), 'serve', '--config', join(tmp.path, 'exporter.yml'), '--listen', `127.0.0.1:${exporterPort}`],
      { env },
    );
    procs.push(exporter);
    const prometheus = startPrometheus(tmp.path, promPort, { targets: [`127.0.0.1:${exporterPort}`], forDuration: '10s' });
    procs.push(prometheus);
    promStartedAt = Date.now();

    const ready = async (name: string, p: Proc, url: string) =>
      waitFor(`${name} at ${url}`, async () => ((await fetch(url)).ok ? true : undefined), 30_000, 250).catch((e: Error) => {
        throw new Error(`${e.message}\n--- ${name} output ---\n${p.output()}`);
      });
    await ready('exporter', exporter, `http://127.0.0.1:${exporterPort}/-/healthy`);
    await ready('prometheus', prometheus, `${promUrl}/-/ready`);
    // Every subnet of the four sampled targets, scraped a few times (rates and recording rules need history).
    await waitFor(
      'the five subnets of both accounts in Prometheus, scraped 10 times',
      async () => {
        const r = await prom('/api/v1/query', { query: 'count_over_time(glue_eni_subnet_info[1m]) >= 10' });
        return r.data?.result.length === 5 ? true : undefined;
      },
      60_000,
      500,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n--- exporter output ---\n${exporter.output()}`);
    });
  }, 120_000);

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    tmp.remove();
  });

  it("the variables offer the accounts, the chosen account's regions and their subnets", async () => {
    const values = (label: string, match: string) => promLabelValues(promUrl, label, match);
    expect(await values('account_id', 'glue_eni_subnet_info')).toEqual([PROD, STAGING]);
    expect(await values('region', `glue_eni_subnet_info{account_id=~"${STAGING}"}`)).toEqual(REGIONS);
    expect(await values('region', `glue_eni_subnet_info{account_id=~"(${PROD}|${STAGING})"}`)).toEqual(REGIONS);
    expect(await values('subnet', `glue_eni_subnet_info{account_id=~"${PROD}",region=~"eu-west-1"}`)).toEqual(['glue-batch', 'glue-critical']);
    expect(await values('subnet', `glue_eni_subnet_info{account_id=~"${PROD}",region=~"us-east-1"}`)).toEqual(['glue-shared']);
    expect(await values('subnet', `glue_eni_subnet_info{account_id=~"${STAGING}",region=~".*"}`)).toEqual(['glue-staging']);
  });

  it('every panel query answers for All, for each account (its series only) and for each subnet in its account and region', async () => {
    const info = await prom('/api/v1/query', { query: 'glue_eni_subnet_info' });
    const subnets = info.data.result.map((r) => ({ name: r.metric.subnet!, account: r.metric.account_id!, region: r.metric.region! }));
    const anyOf = (xs: string[]) => `(${[...new Set(xs)].map(escapeRegex).join('|')})`;
    const selections: Array<Selection & { account_id?: string; region_is?: string }> = [
      { subnet: anyOf(subnets.map((s) => s.name)), account: '.*', region: '.*' },
      ...[PROD, STAGING].map((a) => ({
        subnet: anyOf(subnets.filter((s) => s.account === a).map((s) => s.name)),
        account: a,
        region: '.*',
        account_id: a,
      })),
      ...subnets.map((s) => ({ subnet: escapeRegex(s.name), account: s.account, region: s.region, account_id: s.account, region_is: s.region })),
    ];
    const now = Date.now() / 1000;
    const start = promStartedAt / 1000;
    const failures: string[] = [];
    for (const t of dashboardTargets()) {
      for (const sel of selections) {
        const expr = fillVariables(t.expr, sel, Math.max(60, Math.floor(now - start)));
        const r = await runDashTarget(promUrl, t, expr, start, now);
        const where = `${t.panel} [${t.refId}] ${expr}`;
        if (r.status !== 'success') {
          failures.push(`${where}: ${r.error}`);
          continue;
        }
        for (const x of r.data.result) {
          if (sel.account_id && x.metric.account_id !== undefined && x.metric.account_id !== sel.account_id)
            failures.push(`${where}: a series of account ${x.metric.account_id}`);
          if (sel.region_is && x.metric.region !== undefined && x.metric.region !== sel.region_is)
            failures.push(`${where}: a series of region ${x.metric.region}`);
        }
        // The IP figures exist for every subnet from the first sample: never empty.
        if (/glue_eni_subnet_(utilization_ratio|used_ips|usable_ips)\{/.test(t.expr) && r.data.result.length === 0)
          failures.push(`${where}: empty result`);
      }
    }
    expect(failures, failures.join('\n')).toEqual([]);

    // Under All, the utilization stat keeps the two `glue-staging` subnets apart and the legend can name each.
    const util = dashboardTargets().find((t) => t.panel.startsWith('Utilization') && t.refId === 'A')!;
    const r = await runDashTarget(promUrl, util, fillVariables(util.expr, { subnet: 'glue-staging', account: '.*', region: '.*' }, 60), start, now);
    expect(r.data.result.map((x) => `${x.metric.account_id}/${x.metric.region}`).sort()).toEqual([`${STAGING}/eu-west-1`, `${STAGING}/us-east-1`]);
  }, 120_000);

  it('the recording rules keep subnets of one name in two regions apart', async () => {
    const rec = await waitFor(
      'subnet:glue_eni_enis:sum for both glue-staging subnets',
      async () => {
        const r = await prom('/api/v1/query', { query: 'subnet:glue_eni_enis:sum{subnet="glue-staging"}' });
        return r.data.result.length === 2 ? r.data.result : undefined;
      },
      20_000,
      500,
    );
    const raw = await prom('/api/v1/query', { query: 'sum by (account_id, region) (glue_eni_enis{subnet="glue-staging"})' });
    const byTarget = (rs: typeof rec) => Object.fromEntries(rs.map((x) => [`${x.metric.account_id}/${x.metric.region}`, x.metric.subnet_id]));
    expect(Object.keys(byTarget(rec)).sort()).toEqual([`${STAGING}/eu-west-1`, `${STAGING}/us-east-1`]);
    expect(new Set(rec.map((x) => x.metric.subnet_id)).size).toBe(2);
    expect(raw.data.result).toHaveLength(2);
  });

  it('GlueEniSamplerFailing fires for the account whose role cannot be assumed, and for no other', async () => {
    const firing = await waitFor(
      `GlueEniSamplerFailing firing for ${DENIED}`,
      async () => {
        const r = (await (await fetch(`${promUrl}/api/v1/alerts`)).json()) as {
          data: { alerts: Array<{ labels: Record<string, string>; annotations: Record<string, string>; state: string }> };
        };
        const f = r.data.alerts.filter((a) => a.labels.alertname === 'GlueEniSamplerFailing' && a.state === 'firing');
        return f.some((a) => a.labels.account_id === DENIED && a.labels.api === undefined) ? f : undefined;
      },
      60_000,
      1000,
    );
    for (const a of firing) {
      expect(a.labels.account_id, JSON.stringify(a.labels)).toBe(DENIED);
      expect(a.labels.region).toBe('eu-west-1');
      expect(a.annotations.summary).toContain(`of account ${DENIED} in eu-west-1`);
    }
    // The others sample on: every one of their last samples succeeded.
    const ok = await prom('/api/v1/query', { query: `glue_eni_sample_success{account_id!="${DENIED}"}` });
    expect(ok.data.result.map((x) => `${x.metric.account_id}/${x.metric.region}:${x.value?.[1]}`).sort()).toEqual([
      `${PROD}/eu-west-1:1`,
      `${PROD}/us-east-1:1`,
      `${STAGING}/eu-west-1:1`,
      `${STAGING}/us-east-1:1`,
    ]);
  }, 90_000);
});
