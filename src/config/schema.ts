import { z } from 'zod';
import { closest, fieldPath } from './errors.js';
import { bufferSources, policyNames } from '../admission/types.js';
import { scheduleProblem } from './schedule.js';

const subnetId = z
  .string({ error: 'expected a string like "subnet-0a1b2c"' })
  .regex(/^subnet-[0-9a-f]+$/, { message: 'expected "subnet-" followed by hex' });

/**
 * True for a string shaped like a subnet id (any case). Names never are: a key that looks like an id is only
 * ever an id, so no name can steer a lookup to another subnet.
 */
export function looksLikeSubnetId(key: string): boolean {
  return /^subnet-[0-9a-f]+$/i.test(key);
}

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

/** An integer in a range, with one message for every way to miss it. */
const intIn = (min: number, max: number) => {
  const error = `expected an integer from ${min} to ${max}`;
  return z.int({ error }).min(min, { error }).max(max, { error });
};

/** Every endpoint alike: an absolute http(s) URL with a host (`http://127.0.0.1:4566`, a VPC endpoint). */
const url = z.string({ error: 'expected an http(s) URL' }).refine(
  (v) => {
    try {
      const u = new URL(v);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
    } catch {
      return false;
    }
  },
  { error: 'expected an http(s) URL' },
);

/** Admission knobs; the same shape serves the defaults and each per-subnet override. */
const admissionPolicy = z
  .object({
    policy: z.enum(policyNames, { error: `expected one of ${policyNames.join(', ')}` }).optional(),
    lookback: intIn(1, 100).optional(),
    minBuffer: intIn(0, 65536).optional(),
    bufferSource: z.enum(bufferSources, { error: `expected one of ${bufferSources.join(', ')}` }).optional(),
    staticBuffer: intIn(0, 65536).optional(),
    bypassMemoryDays: intIn(1, 90).optional(),
    /** Waiting launches hold tickets in a fair queue and hear their ETA; false: yes/no answers only, as before. */
    queue: z.boolean({ error: 'expected true or false' }).optional(),
  })
  .strict();

const subnetName = z
  .string({ error: 'expected a string' })
  .regex(/^[A-Za-z0-9_.:-]{1,64}$/, { message: 'expected 1-64 letters, digits, "_", ".", ":" or "-"' })
  .optional();

const discover = z
  .object({ glueConnections: z.boolean({ error: 'expected true or false' }).default(false) })
  .strict()
  .default({ glueConnections: false });

const REGION_ERROR = 'expected an AWS region like us-east-1';
/** A region as a target names it: lowercase words and a number (us-east-1, us-gov-west-1, eu-central-2). */
const awsRegion = z.string({ error: REGION_ERROR }).regex(/^[a-z]{2,}(-[a-z0-9]+)*-\d{1,2}$/, { error: REGION_ERROR });

const ACCOUNT_ERROR = 'expected a 12-digit AWS account id in quotes, like "111111111111"';
const accountId = z.string({ error: ACCOUNT_ERROR }).regex(/^\d{12}$/, { error: ACCOUNT_ERROR });

const ROLE_ERROR = 'expected an IAM role ARN like arn:aws:iam::111111111111:role/glue-eni-exporter';
const roleArn = z.string({ error: ROLE_ERROR }).regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/, { error: ROLE_ERROR });

const EXTERNAL_ID_ERROR = 'expected 2-1224 letters, digits or any of + = , . @ : / -';
const externalId = z.string({ error: EXTERNAL_ID_ERROR }).regex(/^[\w+=,.@:/-]{2,1224}$/, { error: EXTERNAL_ID_ERROR });

/** One account: its role (absent: the default credential chain), its regions, and the subnets it watches there. */
const target = z
  .object({
    account: accountId,
    roleArn: roleArn.optional(),
    externalId: externalId.optional(),
    regions: z.array(awsRegion, { error: 'expected a list of AWS regions' }).min(1, { error: 'expected at least one region' }),
    subnets: z
      .array(z.object({ id: subnetId, name: subnetName, region: awsRegion.optional() }).strict(), {
        error: 'expected a list of {id, name, region}',
      })
      .default([]),
    discover,
  })
  .strict();

export const configSchema = z
  .object({
    region: z.string({ error: REGION_ERROR }).min(1, { error: REGION_ERROR }).optional(),
    /** The single-account form's `account_id` label; otherwise learned from DescribeSubnets' OwnerId. */
    account: accountId.optional(),
    endpoints: z.object({ ec2: url.optional(), glue: url.optional(), dynamodb: url.optional(), sts: url.optional() }).strict().default({}),
    subnets: z.array(z.object({ id: subnetId, name: subnetName }).strict(), { error: 'expected a list of {id, name}' }).default([]),
    discover,
    /** Several accounts and regions, each with its own credentials; replaces `subnets` and `discover`. */
    targets: z
      .array(target, { error: 'expected a list of targets ({account, roleArn, regions, subnets})' })
      .min(1, { error: 'expected at least one target' })
      .optional(),
    sample: z
      .object({
        schedule: z
          .string({ error: 'expected a cron expression in quotes, like "* * * * *"' })
          .superRefine((expr, ctx) => {
            const problem = scheduleProblem(expr);
            if (problem) ctx.addIssue({ code: 'custom', message: problem });
          })
          .default('* * * * *'),
        maxAgeSeconds: z.number({ error: 'expected a positive number of seconds' }).positive().optional(),
        /** Targets (account × region) sampled at once. */
        concurrency: intIn(1, 64).default(4),
      })
      .strict()
      .default({ schedule: '* * * * *', concurrency: 4 }),
    glue: z
      .object({
        ownerDescriptionPrefixes: z
          .array(z.string({ error: 'expected a non-empty string' }).min(1, { error: 'expected a non-empty string' }), {
            error: 'expected a list of description prefixes',
          })
          .min(1, { error: 'expected at least one description prefix' })
          .default(['Attached to Glue using role', 'Glue_']),
        /** How far back GetJobRuns is read for exhaustion failures and linger attribution. */
        runLookbackHours: z
          .number({ error: 'expected hours from 1 to 720' })
          .min(1, { error: 'expected hours from 1 to 720' })
          .max(720, { error: 'expected hours from 1 to 720' })
          .default(24),
      })
      .strict()
      .default({ ownerDescriptionPrefixes: ['Attached to Glue using role', 'Glue_'], runLookbackHours: 24 }),
    dataDir: z.string({ error: 'expected a directory path' }).min(1, { error: 'expected a directory path' }).default('./data'),
    admission: admissionPolicy
      .extend({
        reservationTtlSeconds: intIn(1, 86400).default(300),
        retryAfterSeconds: intIn(1, 3600).default(60),
        token: z.string().min(16, { message: 'expected at least 16 characters' }).optional(),
        /** Per-subnet overrides, keyed by subnet id or configured name. */
        subnets: z.record(z.string(), admissionPolicy).default({}),
        rateLimit: z
          .object({
            requestsPerMinute: intIn(1, 1_000_000),
          })
          .strict()
          .optional(),
      })
      .strict()
      .default({ reservationTtlSeconds: 300, retryAfterSeconds: 60, subnets: {} }),
    store: z
      .object({
        type: z.enum(['file', 'dynamodb'], { error: 'expected file or dynamodb' }).default('file'),
        table: z
          .string({ error: 'expected a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -)' })
          .regex(/^[A-Za-z0-9_.-]{3,255}$/, { error: 'expected a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -)' })
          .default('glue-eni-observations'),
        retentionDays: intIn(1, 3650).default(30),
      })
      .strict()
      .default({ type: 'file', table: 'glue-eni-observations', retentionDays: 30 }),
    log: z
      .object({ level: z.enum(logLevels, { error: `expected one of ${logLevels.join(', ')}` }).default('info') })
      .strict()
      .default({ level: 'info' }),
    /** Links the landing page shows; each absent one is not shown. http(s) only: a link is never a script. */
    links: z.object({ runbookUrl: url.optional(), grafanaUrl: url.optional() }).strict().default({}),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    // Ids and names are unique across every target: /admit and the labels find a subnet by either alone.
    const seenIds = new Map<string, string>();
    const seenNames = new Map<string, string>();
    const checkSubnet = (s: { id: string; name?: string | undefined }, at: (string | number)[]) => {
      const where = fieldPath(at);
      if (seenIds.has(s.id)) issue([...at, 'id'], `duplicate of ${seenIds.get(s.id)}.id`);
      else seenIds.set(s.id, where);
      if (s.name === undefined) return;
      if (looksLikeSubnetId(s.name)) issue([...at, 'name'], 'expected a name that does not look like a subnet id ("subnet-" followed by hex)');
      else if (seenNames.has(s.name)) issue([...at, 'name'], `duplicate of ${seenNames.get(s.name)}.name`);
      else seenNames.set(s.name, where);
    };
    cfg.subnets.forEach((s, i) => {
      checkSubnet(s, ['subnets', i]);
    });
    let discovers = cfg.discover.glueConnections;
    let unnamed = cfg.subnets.some((s) => s.name === undefined);
    if (cfg.targets) {
      if (cfg.subnets.length > 0) issue(['subnets'], 'expected no top-level subnets with targets; list them under their target (targets[].subnets)');
      if (cfg.discover.glueConnections) issue(['discover', 'glueConnections'], 'expected false with targets; set it per target (targets[].discover)');
      if (cfg.account !== undefined) issue(['account'], 'expected no top-level account with targets; each target names its account');
      const seenTargets = new Map<string, string>();
      cfg.targets.forEach((t, i) => {
        const at = ['targets', i];
        if (t.externalId !== undefined && t.roleArn === undefined)
          issue([...at, 'externalId'], 'expected only with roleArn (an external id is sent with AssumeRole)');
        const roleAccount = t.roleArn?.split(':')[4];
        if (roleAccount !== undefined && roleAccount !== t.account) {
          issue([...at, 'roleArn'], `expected a role of account ${t.account} (the target's account), got one of account ${roleAccount}`);
        }
        t.regions.forEach((region, j) => {
          const key = `${t.account}/${region}`;
          const first = seenTargets.get(key);
          if (first) issue([...at, 'regions', j], `duplicate of ${first} (target ${key} listed twice)`);
          else seenTargets.set(key, fieldPath([...at, 'regions', j]));
        });
        t.subnets.forEach((s, j) => {
          const sat = [...at, 'subnets', j];
          if (s.region === undefined && t.regions.length > 1) {
            issue([...sat, 'region'], `required when the target has several regions; expected one of ${t.regions.join(', ')}`);
          } else if (s.region !== undefined && !t.regions.includes(s.region)) {
            issue([...sat, 'region'], `expected one of the target's regions: ${t.regions.join(', ')}`);
          }
          checkSubnet(s, sat);
        });
        if (t.subnets.length === 0 && !t.discover.glueConnections) {
          issue([...at, 'subnets'], 'expected at least one subnet, or discover.glueConnections: true');
        }
        discovers ||= t.discover.glueConnections;
        unnamed ||= t.subnets.some((s) => s.name === undefined);
      });
    } else if (cfg.subnets.length === 0 && !cfg.discover.glueConnections) {
      issue(['subnets'], 'expected at least one subnet, or discover.glueConnections: true');
    }
    // An override that names no subnet is a typo, silently ignored otherwise. With discovery on, or a configured
    // subnet whose name will be learned from Glue, a name can only be checked after a sample (the exporter warns).
    for (const key of Object.keys(cfg.admission.subnets)) {
      if (seenIds.has(key) || seenNames.has(key) || discovers || (unnamed && !looksLikeSubnetId(key))) continue;
      issue(['admission', 'subnets', key], unknownSubnetMessage(key, [...seenIds.keys(), ...seenNames.keys()]));
    }
  });

/** `no subnet has this id or name; did you mean critical? (known: subnet-0a1, critical)`. */
export function unknownSubnetMessage(key: string, known: readonly string[]): string {
  // Ids one digit apart are different subnets, not typos: guess names only.
  const guess = looksLikeSubnetId(key) ? undefined : closest(key, known);
  return `no watched subnet has this id or name${guess ? `; did you mean ${guess}?` : ''} (known: ${known.join(', ') || 'none'})`;
}

/**
 * Override keys that name none of the subnets a sample watched (after discovery): each a typo or a subnet no longer
 * watched, with the message that says so.
 */
export function unmatchedOverrides(
  overrides: Record<string, unknown>,
  subnets: readonly { subnetId: string; name: string }[],
): { key: string; message: string }[] {
  const known = new Set(subnets.flatMap((s) => [s.subnetId, s.name]));
  return Object.keys(overrides)
    .filter((key) => !known.has(key))
    .map((key) => ({ key, message: unknownSubnetMessage(key, [...known]) }));
}

export type RawConfig = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
export type AdmissionPolicyConfig = z.output<typeof admissionPolicy>;
