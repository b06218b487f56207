// Several accounts and regions from one exporter, through the real SDK against the simulator: STS AssumeRole into
// each account's role (fromTemporaryCredentials), EC2 and Glue clients per target, samples in parallel.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { startExporter, type RunningExporter } from '../src/server.js';
import { parseScenarioText, startSimulator, type RunningSimulator } from '../src/sim/index.js';
import { captureLogger } from './helpers/log-capture.js';
import { repoPath } from './helpers/paths.js';
import { parseExposition, select, value } from './helpers/prom.js';
import { useSimCredentials } from './helpers/sim-env.js';
import { sleep, waitFor } from './helpers/wait.js';

const PROD = '111111111111';
const STAGING = '222222222222';
const role = (account: string, name = 'glue-eni-exporter') => `arn:aws:iam::${account}:role/${name}`;

/** The shipped two-account scenario, with its denied role switched on and credentials capped as asked. */
function scenario(maxCredentialSeconds = 3600) {
  const text = readFileSync(repoPath('scenarios', 'multi-account.yml'), 'utf8')
    .replace('# - {name: glue-eni-exporter-locked, deny: true}', '- {name: glue-eni-exporter-locked, deny: true}')
    .replace('maxCredentialSeconds: 3600', `maxCredentialSeconds: ${maxCredentialSeconds}`);
  return parseScenarioText(text, 'multi-account.yml');
}

const prodTarget = {
  account: PROD,
  roleArn: role(PROD),
  regions: ['eu-west-1', 'us-east-1'],
  subnets: [
    { id: 'subnet-0e1a1', name: 'prod-eu-critical', region: 'eu-west-1' },
    { id: 'subnet-0e1b1', name: 'prod-eu-batch', region: 'eu-west-1' },
    { id: 'subnet-0c1a1', name: 'prod-us-shared', region: 'us-east-1' },
  ],
};
const stagingTarget = {
  account: STAGING,
  roleArn: role(STAGING),
  externalId: 'staging-7f3a',
  regions: ['eu-west-1', 'us-east-1'],
  subnets: [
    { id: 'subnet-0e2a1', name: 'staging-eu', region: 'eu-west-1' },
    { id: 'subnet-0c2a1', name: 'staging-us', region: 'us-east-1' },
  ],
};

describe('targets: several accounts and regions through the simulator', () => {
  let sim: RunningSimulator | undefined;
  let exporter: RunningExporter | undefined;
  let dir: string;
  const log = captureLogger('warn');

  beforeAll(() => useSimCredentials());
  afterEach(async () => {
    await exporter?.close();
    await sim?.close();
    exporter = sim = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(targets: unknown[], opts: { maxCredentialSeconds?: number; concurrency?: number } = {}) {
    dir = mkdtempSync(join(tmpdir(), 'targets-'));
    sim = await startSimulator({ scenario: scenario(opts.maxCredentialSeconds), speed: 0 });
    const config = parseConfig(
      {
        endpoints: { ec2: sim.url, glue: sim.url, sts: sim.url },
        // Samples happen when the test asks; data stays fresh for an hour.
        sample: { schedule: '0 0 1 1 *', maxAgeSeconds: 3600, concurrency: opts.concurrency ?? 4 },
        dataDir: join(dir, 'data'),
        targets,
      },
      {},
    );
    exporter = await startExporter({ config, listen: '127.0.0.1:0', logger: log.logger, clock: sim.clock });
    return { sim, exporter, firstSample: await exporter.firstSample };
  }

  const metrics = async (e: RunningExporter) => parseExposition(await (await fetch(`${e.url}/metrics`)).text()).samples;
  const get = async (e: RunningExporter, path: string) => {
    const res = await fetch(`${e.url}${path}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('samples two accounts × two regions, each with its own role, and labels every series with its account and region', async () => {
    const { sim, exporter, firstSample } = await start([prodTarget, stagingTarget]);
    expect(firstSample).toBe(true);
    const samples = await metrics(exporter);
    const usable = select(samples, 'glue_eni_subnet_usable_ips').map((s) => [s.labels.subnet, s.labels.account_id, s.labels.region, s.value]);
    expect(usable.sort()).toEqual([
      ['prod-eu-batch', PROD, 'eu-west-1', 123],
      ['prod-eu-critical', PROD, 'eu-west-1', 59],
      ['prod-us-shared', PROD, 'us-east-1', 59],
      ['staging-eu', STAGING, 'eu-west-1', 27],
      ['staging-us', STAGING, 'us-east-1', 27],
    ]);
    // Every per-subnet series starts subnet_id, subnet, account_id, region.
    const text = await (await fetch(`${exporter.url}/metrics`)).text();
    expect(text).toMatch(
      /^glue_eni_subnet_free_ips\{subnet_id="subnet-0c2a1",subnet="staging-us",account_id="222222222222",region="us-east-1"\} \d+$/m,
    );
    expect(text).toMatch(
      /^glue_eni_cleanup_buffer\{subnet_id="subnet-0e1a1",subnet="prod-eu-critical",account_id="111111111111",region="eu-west-1"\} \d+$/m,
    );
    for (const [account, region] of [
      [PROD, 'eu-west-1'],
      [PROD, 'us-east-1'],
      [STAGING, 'eu-west-1'],
      [STAGING, 'us-east-1'],
    ]) {
      const labels = { account_id: account!, region: region! };
      expect(value(samples, 'glue_eni_sample_success', labels)).toBe(1);
      expect(value(samples, 'glue_eni_sample_duration_seconds', labels)).toBeGreaterThan(0);
      // Each target's own provider assumed its role once, and read its own world once.
      expect(value(samples, 'glue_eni_aws_requests_total', { ...labels, api: 'AssumeRole' })).toBe(1);
      expect(value(samples, 'glue_eni_aws_requests_total', { ...labels, api: 'DescribeSubnets' })).toBe(1);
      expect(sim.requestCounts()[`${account}/${region}`]?.DescribeSubnets).toBe(1);
      // A lifecycle memory per target.
      expect(existsSync(join(dir, 'data', `lifecycle-${account}-${region}.json`))).toBe(true);
    }
    expect(existsSync(join(dir, 'data', 'lifecycle.json'))).toBe(false);
    expect(sim.assumeRoleCount()).toBe(4);

    const api = await get(exporter, '/api/subnets');
    expect(
      (api.body.subnets as { subnet: string; account: string; region: string }[]).map((s) => `${s.subnet} ${s.account} ${s.region}`).sort(),
    ).toEqual([
      'prod-eu-batch 111111111111 eu-west-1',
      'prod-eu-critical 111111111111 eu-west-1',
      'prod-us-shared 111111111111 us-east-1',
      'staging-eu 222222222222 eu-west-1',
      'staging-us 222222222222 us-east-1',
    ]);
    expect(await get(exporter, '/-/ready')).toMatchObject({ status: 200, body: { status: 'ready', stale_targets: [] } });
    const page = await (await fetch(`${exporter.url}/`)).text();
    expect(page).toContain('data-subnet-id="subnet-0c2a1" data-account="222222222222" data-region="us-east-1"');
  });

  it('a role that cannot be assumed fails its target alone: the others stay fresh, /-/ready lists it, its subnets answer 503', async () => {
    const locked = {
      account: STAGING,
      roleArn: role(STAGING, 'glue-eni-exporter-locked'),
      regions: ['eu-west-1'],
      subnets: [{ id: 'subnet-0e2a1', name: 'staging-eu' }],
    };
    const { exporter, firstSample } = await start([prodTarget, locked]);
    expect(firstSample).toBe(false);
    const samples = await metrics(exporter);
    expect(value(samples, 'glue_eni_sample_success', { account_id: STAGING, region: 'eu-west-1' })).toBe(0);
    expect(value(samples, 'glue_eni_sample_errors_total', { account_id: STAGING, region: 'eu-west-1', api: 'AssumeRole' })).toBe(1);
    expect(value(samples, 'glue_eni_sample_success', { account_id: PROD, region: 'eu-west-1' })).toBe(1);
    expect(value(samples, 'glue_eni_sample_success', { account_id: PROD, region: 'us-east-1' })).toBe(1);
    expect(select(samples, 'glue_eni_sample_errors_total', { account_id: PROD })).toEqual([]);
    // No read was tried in the denied account: its world saw no request.
    expect(select(samples, 'glue_eni_aws_requests_total', { account_id: STAGING }).map((s) => s.labels.api)).toEqual(['AssumeRole']);
    expect(
      select(samples, 'glue_eni_subnet_usable_ips')
        .map((s) => s.labels.subnet)
        .sort(),
    ).toEqual(['prod-eu-batch', 'prod-eu-critical', 'prod-us-shared']);

    const ready = await get(exporter, '/-/ready');
    expect(ready.status).toBe(200);
    const stale = ready.body.stale_targets as { target: string; reason: string }[];
    expect(stale.map((t) => t.target)).toEqual(['222222222222/eu-west-1']);
    expect(stale[0]!.reason).toMatch(
      /^no successful sample yet; last sample failed: AssumeRole: AssumeRole failed: AccessDenied: User: .* is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::222222222222:role\/glue-eni-exporter-locked$/,
    );

    const denied = await get(exporter, '/admit?subnet=staging-eu&workers=1&dag_run_id=run-1');
    expect(denied.status).toBe(503);
    expect(String(denied.body.error)).toContain('target 222222222222/eu-west-1: no successful sample yet; last sample failed: AssumeRole');
    const fresh = await get(exporter, '/admit?subnet=prod-us-shared&workers=1&dag_run_id=run-2');
    expect(fresh.status).toBe(200);
    expect(fresh.body).toMatchObject({ subnet_id: 'subnet-0c1a1' });
    const page = await (await fetch(`${exporter.url}/`)).text();
    expect(page).toContain('data-state="stale-targets"');
    expect(page).toContain('222222222222/eu-west-1');
  });

  it("one target's throttling and slowness back off that target alone: the others' samples finish while it is still retrying", async () => {
    const { sim, exporter } = await start([prodTarget, stagingTarget]);
    const slow = { account: STAGING, region: 'us-east-1' };
    sim.setFaults({ throttleRate: 1, latencyMs: 400 }, slow);
    const before = await metrics(exporter);
    const requests = (labels: Record<string, string>, api: string, s = before) =>
      select(s, 'glue_eni_aws_requests_total', { account_id: labels.account_id!, region: labels.region!, api })[0]?.value ?? 0;
    const group = exporter.sampler;
    const slowSampler = group.samplers.find((s) => s.targetId === '222222222222/us-east-1')!;
    const others = group.samplers.filter((s) => s !== slowSampler);
    const doneBefore = others.map((s) => s.status.lastGoodAt);
    const round = group.sampleOnce();
    // Every other target has a new good sample while the throttled one is still waiting out its retries.
    await waitFor('the other targets sampled', () => (others.every((s, i) => s.status.lastGoodAt !== doneBefore[i]) ? true : undefined));
    expect(slowSampler.busy).toBe(true);
    expect(await round).toBe(false);
    const after = await metrics(exporter);
    const slowLabels = { account_id: STAGING, region: 'us-east-1' };
    expect(value(after, 'glue_eni_sample_success', slowLabels)).toBe(0);
    // Its own retries: three attempts of its first read, in its own counters.
    expect(requests(slowLabels, 'GetConnections', after) - requests(slowLabels, 'GetConnections')).toBe(3);
    for (const s of others) {
      const ref = s.targetRef();
      const labels = { account_id: ref.account, region: ref.region };
      expect(value(after, 'glue_eni_sample_success', labels)).toBe(1);
      // No retry anywhere else: one DescribeSubnets each.
      expect(requests(labels, 'DescribeSubnets', after) - requests(labels, 'DescribeSubnets')).toBe(1);
    }
  });

  it('samples at most sample.concurrency targets at once', async () => {
    const { sim, exporter } = await start([prodTarget, stagingTarget], { concurrency: 1 });
    for (const [account, region] of [
      [PROD, 'eu-west-1'],
      [PROD, 'us-east-1'],
      [STAGING, 'eu-west-1'],
      [STAGING, 'us-east-1'],
    ]) {
      sim.setFaults({ latencyMs: 150 }, { account: account!, region: region! });
    }
    let most = 0;
    const timer = setInterval(() => {
      most = Math.max(most, exporter.sampler.samplers.filter((s) => s.sampling).length);
    }, 5);
    try {
      expect(await exporter.sampler.sampleOnce()).toBe(true);
    } finally {
      clearInterval(timer);
    }
    expect(most).toBe(1);
  });

  it('asks STS again when the assumed credentials come near their expiry', async () => {
    // Credentials that live 5 min + 8 s: the clients treat them as good for 8 s, then refresh.
    const { sim, exporter, firstSample } = await start([{ ...prodTarget, regions: ['eu-west-1'], subnets: prodTarget.subnets.slice(0, 2) }], {
      maxCredentialSeconds: 308,
    });
    expect(firstSample).toBe(true);
    const assumed = async () =>
      value(await metrics(exporter), 'glue_eni_aws_requests_total', { account_id: PROD, region: 'eu-west-1', api: 'AssumeRole' });
    const t0 = Date.now();
    expect(await exporter.sampler.sampleOnce()).toBe(true);
    // Still valid beyond the refresh margin (unless this loaded machine took 8 s): no new AssumeRole.
    if (Date.now() - t0 < 7000) expect(await assumed()).toBe(1);
    await sleep(Math.max(0, 8500 - (Date.now() - t0)));
    expect(await exporter.sampler.sampleOnce()).toBe(true);
    expect(await assumed()).toBe(2);
    expect(sim.assumeRoleCount()).toBe(2);
  }, 30_000);
});
