// /admit across accounts and regions end to end: the exporter samples the shipped multi-account scenario through
// the real SDK (STS AssumeRole into the staging account, EC2 and Glue signed per region), and /admit answers from
// what it sampled. `nightly-etl` runs in staging's two regions; every other job and subnet in one target.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { loadScenarioFile, parseScenarioText } from '../../src/sim/index.js';
import { FileStore } from '../../src/store/file.js';
import { repoPath } from '../helpers/paths.js';
import { startSimExporter, type SimExporter } from '../helpers/sim-exporter.js';

const PROD = '111111111111';
const STAGING = '222222222222';

describe('/admit against the multi-account simulator', () => {
  let world: SimExporter;
  const admit = async (query: string) => {
    const res = await fetch(`${world.exporter.url}/admit?${query}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    const scenario = loadScenarioFile(repoPath('scenarios', 'multi-account.yml'));
    world = await startSimExporter({
      scenario,
      logger: silentLogger,
      config: {
        region: undefined,
        targets: [
          // The exporter's own account: the default credential chain (the simulator's hub keys act in it).
          {
            account: PROD,
            regions: ['eu-west-1', 'us-east-1'],
            subnets: [{ id: 'subnet-0e1a1', name: 'prod-eu-critical', region: 'eu-west-1' }],
            discover: { glueConnections: true },
          },
          {
            account: STAGING,
            roleArn: `arn:aws:iam::${STAGING}:role/glue-eni-exporter`,
            externalId: 'staging-7f3a',
            regions: ['eu-west-1', 'us-east-1'],
            subnets: [
              { id: 'subnet-0e2a1', name: 'staging-eu', region: 'eu-west-1' },
              { id: 'subnet-0c2a1', name: 'staging-us', region: 'us-east-1' },
            ],
            discover: { glueConnections: true },
          },
        ],
        admission: { policy: 'rolling-max' },
      },
    });
  }, 60_000);
  afterAll(async () => {
    await world?.close();
  });

  it('finds subnets in every target and answers with their account and region', async () => {
    for (const [subnet, id, account, region] of [
      ['prod-eu-critical', 'subnet-0e1a1', PROD, 'eu-west-1'],
      ['subnet-0c1a1', 'subnet-0c1a1', PROD, 'us-east-1'],
      ['staging-eu', 'subnet-0e2a1', STAGING, 'eu-west-1'],
      ['subnet-0c2a1', 'subnet-0c2a1', STAGING, 'us-east-1'],
    ] as const) {
      const r = await admit(`subnet=${subnet}&workers=1&dry_run=true`);
      expect(r.status, subnet).toBe(200);
      expect(r.body, subnet).toMatchObject({ subnet_id: id, account, region });
    }
    expect(await admit(`subnet=staging-us&workers=1&account=${PROD}`)).toEqual({
      status: 400,
      body: { error: `subnet "staging-us" (subnet-0c2a1) is in ${STAGING}/us-east-1, not in account ${PROD}`, field: 'account' },
    });
  });

  it('a job in two regions of one account is a 400 asking for region=; region= picks it, and the records carry the target', async () => {
    expect(await admit('job=nightly-etl')).toEqual({
      status: 400,
      body: {
        error: `job "nightly-etl" runs in ${STAGING}/eu-west-1 (subnet-0e2a1) and ${STAGING}/us-east-1 (subnet-0c2a1): add region=`,
        field: 'job',
      },
    });
    const us = await admit('job=nightly-etl&region=us-east-1&dag_run_id=nightly-us');
    expect(us.status).toBe(200);
    expect(us.body).toMatchObject({ subnet_id: 'subnet-0c2a1', workers: 5, account: STAGING, region: 'us-east-1' });
    const eu = await admit(`job=nightly-etl&account=${STAGING}&region=eu-west-1&dag_run_id=nightly-eu`);
    expect(eu.body).toMatchObject({ subnet_id: 'subnet-0e2a1', workers: 8, account: STAGING, region: 'eu-west-1' });
    expect((await admit('job=customer-analytics-daily&dry_run=true')).body).toMatchObject({ subnet_id: 'subnet-0e1a1', account: PROD });

    // What the exporter wrote, read back as a restart reads it.
    await world.exporter.close();
    const clock = { now: () => world.sim.clock.now() };
    const store = await FileStore.open({ dataDir: join(world.dir, 'data'), clock, logger: silentLogger });
    const [obs] = await store.recentObservations('subnet-0c2a1', 1, clock.now());
    expect(obs).toMatchObject({ dagRunId: 'nightly-us', account: STAGING, region: 'us-east-1' });
    await store.close();
  });
});

describe('/admit when one target cannot be sampled (its role denies AssumeRole)', () => {
  let world: SimExporter;
  beforeAll(async () => {
    const scenario = parseScenarioText(
      readFileSync(repoPath('scenarios', 'multi-account.yml'), 'utf8').replace(
        '# - {name: glue-eni-exporter-locked, deny: true}',
        '- {name: glue-eni-exporter-locked, deny: true}',
      ),
      'multi-account.yml',
    );
    world = await startSimExporter({
      scenario,
      logger: silentLogger,
      // One of the two targets fails: the first sample as a whole does not succeed.
      firstSample: false,
      config: {
        region: undefined,
        targets: [
          { account: PROD, regions: ['eu-west-1'], subnets: [{ id: 'subnet-0e1a1', name: 'prod-eu-critical' }] },
          {
            account: STAGING,
            roleArn: `arn:aws:iam::${STAGING}:role/glue-eni-exporter-locked`,
            regions: ['eu-west-1'],
            subnets: [{ id: 'subnet-0e2a1', name: 'staging-eu' }],
          },
        ],
        admission: { policy: 'rolling-max' },
      },
    });
  }, 60_000);
  afterAll(async () => {
    await world?.close();
  });

  it("answers 503 for the denied target's subnet, naming the target and AssumeRole's error, and admits in the other", async () => {
    const denied = await fetch(`${world.exporter.url}/admit?subnet=staging-eu&workers=1`);
    expect(denied.status).toBe(503);
    const { error } = (await denied.json()) as { error: string };
    expect(error).toMatch(new RegExp(`^target ${STAGING}/eu-west-1: no successful sample yet; last sample failed: .*AccessDenied.*: cannot decide$`));
    const fresh = await fetch(`${world.exporter.url}/admit?subnet=prod-eu-critical&workers=1&dry_run=true`);
    expect(fresh.status).toBe(200);
    expect(await fresh.json()).toMatchObject({ subnet_id: 'subnet-0e1a1', account: PROD, region: 'eu-west-1' });
  });
});
