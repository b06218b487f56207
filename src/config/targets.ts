// The config as the sampler sees it: a list of targets, each one (account, region) pair with its own credentials,
// subnets and lifecycle state file. Pure: no I/O.
import type { Config } from './load.js';

/** The id of the single-account form's one implicit target (and of a cache slot nobody named). */
export const IMPLICIT_TARGET_ID = '';
/** The single-account form's lifecycle memory keeps its name: an upgrade forgets nothing. */
export const IMPLICIT_STATE_FILE = 'lifecycle.json';

export interface SampleTarget {
  /** IMPLICIT_TARGET_ID for the single-account form; else the key `${account}/${region}`. */
  id: string;
  /** '' when the single-account form names none: learned from DescribeSubnets' OwnerId. */
  account: string;
  /** Undefined only for the single-account form without `region`: the SDK resolves it. */
  region?: string;
  /** Absent: the SDK's default credential chain. */
  roleArn?: string;
  externalId?: string;
  subnets: { id: string; name?: string }[];
  discover: { glueConnections: boolean };
  /** Under dataDir. */
  stateFile: string;
}

/**
 * Targets in config order (account, then its regions in the order listed). Without `targets`, the single-account
 * form is one implicit target from the default chain, with today's state file name.
 */
export function resolveTargets(config: Pick<Config, 'targets' | 'subnets' | 'discover' | 'account' | 'region'>): SampleTarget[] {
  if (!config.targets) {
    const implicit: SampleTarget = {
      id: IMPLICIT_TARGET_ID,
      account: config.account ?? '',
      subnets: config.subnets,
      discover: config.discover,
      stateFile: IMPLICIT_STATE_FILE,
    };
    if (config.region !== undefined) implicit.region = config.region;
    return [implicit];
  }
  return config.targets.flatMap((t) =>
    t.regions.map((region) => {
      const target: SampleTarget = {
        id: `${t.account}/${region}`,
        account: t.account,
        region,
        // A subnet without a region belongs to the target's only region (the schema requires one otherwise).
        subnets: t.subnets
          .filter((s) => (s.region ?? region) === region)
          .map((s) => (s.name === undefined ? { id: s.id } : { id: s.id, name: s.name })),
        discover: t.discover,
        stateFile: `lifecycle-${t.account}-${region}.json`,
      };
      if (t.roleArn !== undefined) target.roleArn = t.roleArn;
      if (t.externalId !== undefined) target.externalId = t.externalId;
      return target;
    }),
  );
}

/** Each target in one line, for `check-config`: `111111111111/eu-west-1 (role arn:...; 2 subnets; discovery on)`. */
export function describeTargets(config: Pick<Config, 'targets' | 'subnets' | 'discover' | 'account' | 'region'>): string[] {
  return resolveTargets(config).map((t) => {
    const name = t.id === IMPLICIT_TARGET_ID ? `${t.account || '(account from DescribeSubnets)'}/${t.region ?? '(region from the SDK)'}` : t.id;
    const creds = t.roleArn ? `role ${t.roleArn}${t.externalId ? ' with external id' : ''}` : 'default credential chain';
    const parts = [creds, `${t.subnets.length} subnet(s)`];
    if (t.discover.glueConnections) parts.push('discovery on');
    return `${name} (${parts.join('; ')})`;
  });
}
