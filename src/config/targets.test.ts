import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile, parseConfig } from './load.js';
import { IMPLICIT_STATE_FILE, IMPLICIT_TARGET_ID, resolveTargets } from './targets.js';

const testdata = (name: string) => loadConfigFile(join(import.meta.dirname, 'testdata', name), {});

describe('resolveTargets', () => {
  it('makes the single-account form one implicit target: default chain, lifecycle.json, the configured account and region', () => {
    const cfg = parseConfig({ region: 'eu-west-1', account: '123456789012', subnets: [{ id: 'subnet-0a1', name: 'critical' }] }, {});
    expect(resolveTargets(cfg)).toEqual([
      {
        id: IMPLICIT_TARGET_ID,
        account: '123456789012',
        region: 'eu-west-1',
        subnets: [{ id: 'subnet-0a1', name: 'critical' }],
        discover: { glueConnections: false },
        stateFile: IMPLICIT_STATE_FILE,
      },
    ]);
  });

  it('leaves account and region to be learned when the single-account form names neither', () => {
    const [t] = resolveTargets(parseConfig({ discover: { glueConnections: true } }, {}));
    expect(t).toEqual({ id: '', account: '', subnets: [], discover: { glueConnections: true }, stateFile: 'lifecycle.json' });
  });

  it('makes one target per account and region, each with its role, its own subnets and its own state file', () => {
    expect(resolveTargets(testdata('good-targets.yml'))).toEqual([
      {
        id: '111111111111/eu-west-1',
        account: '111111111111',
        region: 'eu-west-1',
        roleArn: 'arn:aws:iam::111111111111:role/glue-eni-exporter',
        externalId: 'shared-secret-1',
        subnets: [{ id: 'subnet-0a1', name: 'critical' }],
        discover: { glueConnections: false },
        stateFile: 'lifecycle-111111111111-eu-west-1.json',
      },
      {
        id: '111111111111/us-east-1',
        account: '111111111111',
        region: 'us-east-1',
        roleArn: 'arn:aws:iam::111111111111:role/glue-eni-exporter',
        externalId: 'shared-secret-1',
        subnets: [{ id: 'subnet-0b2', name: 'batch' }],
        discover: { glueConnections: false },
        stateFile: 'lifecycle-111111111111-us-east-1.json',
      },
      {
        // No role: the default chain. A subnet without a region belongs to the only one.
        id: '222222222222/eu-west-1',
        account: '222222222222',
        region: 'eu-west-1',
        subnets: [{ id: 'subnet-0c3' }],
        discover: { glueConnections: true },
        stateFile: 'lifecycle-222222222222-eu-west-1.json',
      },
    ]);
  });
});
