import { readFileSync } from 'node:fs';
import { CronExpressionParser } from 'cron-parser';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { ConfigError, fieldPath, formatIssues } from '../config/errors.js';
import { parseCidr } from './cidr.js';

/** Integer in [min, max]; one message for every way of missing it, so the field error reads the same. */
function intRange(min: number, max: number) {
  const error = `expected an integer from ${min} to ${max}`;
  return z.int({ error }).min(min, { error }).max(max, { error });
}

function numberRange(min: number, max: number, unit = '') {
  const error = `expected a number${unit} from ${min} to ${max}`;
  return z.number({ error }).min(min, { error }).max(max, { error });
}

/** `{min, max}` in some unit, with min <= max. */
function span(max: number, unit: string) {
  return z
    .object({ min: numberRange(0, max, ` of ${unit}`), max: numberRange(0, max, ` of ${unit}`) }, { error: `expected {min, max} in ${unit}` })
    .strict()
    .refine((r) => r.max >= r.min, { path: ['max'], message: 'expected max >= min' });
}

const name = z
  .string({ error: 'expected a string' })
  .regex(/^[A-Za-z0-9_.:-]{1,255}$/, { message: 'expected 1-255 letters, digits, "_", ".", ":" or "-"' });

const subnetId = z
  .string({ error: 'expected a string like "subnet-0a1b2c"' })
  .regex(/^subnet-[0-9a-f]+$/, { message: 'expected "subnet-" followed by hex' });

const cidr = z.string({ error: 'expected an IPv4 CIDR like "10.0.0.0/26"' }).superRefine((value, ctx) => {
  const problem = parseCidr(value);
  if (typeof problem === 'string') ctx.addIssue({ code: 'custom', message: problem });
});

const cron = z.string({ error: 'expected a cron expression' }).superRefine((value, ctx) => {
  const fields = value.trim().split(/\s+/).length;
  if (fields !== 5) {
    ctx.addIssue({ code: 'custom', message: `expected a 5-field cron expression (minute hour day month weekday), got ${fields} fields` });
    return;
  }
  try {
    CronExpressionParser.parse(value, { tz: 'UTC', strict: false }).next();
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `expected a cron expression: ${(err as Error).message}` });
  }
});

/** ISO 8601 with a zone; YAML may hand over a Date when the value is a bare timestamp. */
const instant = z.preprocess(
  (v) => (v instanceof Date ? v.toISOString() : v),
  z
    .string({ error: 'expected an ISO 8601 time like 2026-04-06T00:00:00Z' })
    .refine((s) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(s) && !Number.isNaN(Date.parse(s)), {
      message: 'expected an ISO 8601 time with a zone, like 2026-04-06T00:00:00Z',
    })
    .transform((s) => Date.parse(s)),
);

const rate = numberRange(0, 1);

/**
 * Minutes after its due time by which a launch must have started, or the run is lost (the backtest's measure).
 * Default 10: the field report's sensor gave up after 10 minutes.
 */
const deadlineMinutes = numberRange(1, 7 * 24 * 60, ' of minutes').default(10);

export const faultsSchema = z
  .object({
    throttleRate: rate.default(0),
    serverErrorRate: rate.default(0),
    latencyMs: numberRange(0, 60_000, ' of milliseconds').default(0),
  })
  .strict();

const accountId = z
  .string({ error: 'expected a 12-digit account id as a quoted string' })
  .regex(/^\d{12}$/, { message: 'expected a 12-digit account id' });

const regionName = z
  .string({ error: 'expected a region like us-east-1' })
  .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, { message: 'expected a region like us-east-1' });

const vpcId = z.string({ error: 'expected a string like "vpc-0a1b2c"' }).regex(/^vpc-[0-9a-f]+$/, { message: 'expected "vpc-" followed by hex' });

const subnetsSchema = z.array(
  z
    .object({
      id: subnetId,
      cidr,
      availabilityZone: z
        .string({ error: 'expected an availability zone like us-east-1a' })
        .regex(/^[a-z]{2}(-[a-z]+)+-\d[a-z]$/, { message: 'expected an availability zone like us-east-1a' }),
      name: name.optional(),
    })
    .strict(),
  { error: 'expected a list of {id, cidr, availabilityZone}' },
);

const lifecycleSchema = z
  .object(
    {
      attachDelaySeconds: span(3600, 'seconds').default({ min: 2, max: 10 }),
      lingerInUseMinutes: span(24 * 60, 'minutes'),
      availableMinutes: span(24 * 60, 'minutes'),
      /** After a stop, ENIs detach within this bound (the runbook's "within 5 minutes of a force-stop"). */
      stopLingerMaxMinutes: numberRange(0, 24 * 60, ' of minutes').default(5),
    },
    { error: 'expected {lingerInUseMinutes: {min, max}, availableMinutes: {min, max}}' },
  )
  .strict();

/** The keys of one world (one account in one region) besides its subnets and lifecycle, shared by both forms. */
const worldFields = {
  connections: z
    .array(
      z
        .object({
          name,
          subnet: subnetId,
          securityGroups: z.array(z.string().regex(/^sg-[0-9a-f]+$/, { message: 'expected "sg-" followed by hex' })).optional(),
        })
        .strict(),
      { error: 'expected a list of {name, subnet}' },
    )
    .default([]),
  jobs: z
    .array(
      z
        .object({
          name,
          connection: name,
          workers: intRange(1, 1000),
          workerType: z.enum(['Standard', 'G.1X', 'G.2X', 'G.4X', 'G.8X', 'G.025X', 'Z.2X']).default('G.1X'),
          schedule: cron.optional(),
          durationMinutes: span(7 * 24 * 60, 'minutes'),
          deadlineMinutes,
          role: z.string().min(1).optional(),
        })
        .strict(),
      { error: 'expected a list of jobs' },
    )
    .default([]),
  adhoc: z
    .array(
      z
        .object({
          name: name.optional(),
          connection: name,
          workers: intRange(1, 1000),
          /** Mean launches per day (Poisson). */
          perDay: numberRange(0, 100),
          durationMinutes: span(7 * 24 * 60, 'minutes'),
          deadlineMinutes,
          /** UTC hours of the day in which launches fall: [from, to). */
          hours: z
            .object({ from: numberRange(0, 24, ' of hours'), to: numberRange(0, 24, ' of hours') })
            .strict()
            .refine((h) => h.to > h.from, { path: ['to'], message: 'expected to > from' })
            .default({ from: 0, to: 24 }),
        })
        .strict(),
      { error: 'expected a list of ad-hoc launch streams' },
    )
    .default([]),
  otherEnis: z
    .array(
      z
        .object({
          subnet: subnetId,
          count: intRange(1, 65536),
          addressesEach: intRange(1, 50).default(1),
          description: z.string().default('Primary network interface'),
        })
        .strict(),
    )
    .default([]),
};

/** One region of an account: the same world keys as the top-level form; vpcId, role and lifecycle default from it. */
const regionWorldSchema = z
  .object({
    vpcId: vpcId.optional(),
    role: z.string({ error: 'expected an IAM role name' }).min(1).optional(),
    subnets: subnetsSchema.min(1, { message: 'expected at least one subnet' }),
    ...worldFields,
    lifecycle: lifecycleSchema.optional(),
    /** This world's own faults, beside the scenario's (which apply to every world). */
    faults: faultsSchema.optional(),
  })
  .strict();

const iamName = z
  .string({ error: 'expected an IAM role name' })
  .regex(/^[\w+=,.@-]{1,64}$/, { message: 'expected 1-64 letters, digits or "+=,.@_-"' });

const accountSchema = z
  .object({
    id: accountId,
    /** Roles that AssumeRole can take in this account (arn:aws:iam::<id>:role/<name>). */
    roles: z
      .array(
        z
          .object({
            name: iamName,
            /** Required by the role's trust policy: AssumeRole without it, or with another, is AccessDenied. */
            externalId: z
              .string({ error: 'expected a string' })
              .regex(/^[\w+=,.@:/-]{2,1224}$/, { message: 'expected 2-1224 letters, digits or "+=,.@:/_-"' })
              .optional(),
            /** The trust policy does not let the caller in: every AssumeRole is AccessDenied. */
            deny: z.boolean({ error: 'expected true or false' }).default(false),
            /** The role's MaxSessionDuration: a longer DurationSeconds is a ValidationError. */
            maxSessionSeconds: intRange(3600, 43200).default(3600),
          })
          .strict(),
        { error: 'expected a list of {name, externalId?, deny?}' },
      )
      .default([]),
    regions: z.record(regionName, regionWorldSchema, { error: 'expected a mapping of region → {subnets, jobs, ...}' }).default({}),
  })
  .strict();

export const scenarioSchema = z
  .object({
    start: instant,
    /** Where `demo` starts the clock by default: the world is run up to it first, so it opens mid-story. */
    demoStart: instant.optional(),
    seed: intRange(0, 2 ** 31 - 1),
    account: accountId.default('123456789012'),
    region: regionName.default('us-east-1'),
    vpcId: vpcId.default('vpc-0e1d2c3b4a5968778'),
    /** IAM role named in the Glue ENI descriptions, unless a job names its own. */
    role: z.string({ error: 'expected an IAM role name' }).min(1).default('AWSGlueServiceRole-etl'),
    /** The top-level world's subnets: at least one, unless `accounts` holds the worlds. */
    subnets: subnetsSchema.default([]),
    ...worldFields,
    lifecycle: lifecycleSchema,
    faults: faultsSchema.default({ throttleRate: 0, serverErrorRate: 0, latencyMs: 0 }),
    /** More accounts, each with its roles and its worlds by region. */
    accounts: z.array(accountSchema, { error: 'expected a list of {id, roles, regions}' }).default([]),
    sts: z
      .object({
        /** Caps every issued credential's lifetime (real seconds), below DurationSeconds: refresh within a test. */
        maxCredentialSeconds: intRange(1, 43200).optional(),
      })
      .strict()
      .default({}),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.demoStart !== undefined && s.demoStart < s.start) {
      ctx.addIssue({ code: 'custom', path: ['demoStart'], message: 'expected a time at or after start' });
    }
    if (s.subnets.length === 0 && s.accounts.every((a) => Object.keys(a.regions).length === 0))
      ctx.addIssue({ code: 'custom', path: ['subnets'], message: 'expected at least one subnet' });
    // Subnet ids are unique across every world, as AWS's are.
    const subnetPaths = new Map<string, string>();
    checkWorld(s, [], ctx, subnetPaths);
    const accounts = new Map<string, number>();
    s.accounts.forEach((a, i) => {
      if (accounts.has(a.id))
        ctx.addIssue({ code: 'custom', path: ['accounts', i, 'id'], message: `duplicate of accounts[${accounts.get(a.id)}].id` });
      else accounts.set(a.id, i);
      const roles = new Set<string>();
      a.roles.forEach((r, j) => {
        if (roles.has(r.name)) ctx.addIssue({ code: 'custom', path: ['accounts', i, 'roles', j, 'name'], message: `duplicate role "${r.name}"` });
        roles.add(r.name);
      });
      for (const [region, w] of Object.entries(a.regions)) {
        const at = ['accounts', i, 'regions', region];
        if (a.id === s.account && region === s.region && s.subnets.length > 0) {
          ctx.addIssue({ code: 'custom', path: at, message: `duplicate of the top-level world (account ${s.account}, region ${s.region})` });
        }
        w.subnets.forEach((sub, j) => {
          if (!sub.availabilityZone.startsWith(region) || !/^[a-z]$/.test(sub.availabilityZone.slice(region.length))) {
            ctx.addIssue({
              code: 'custom',
              path: [...at, 'subnets', j, 'availabilityZone'],
              message: `expected an availability zone of ${region}, like ${region}a`,
            });
          }
        });
        checkWorld(w, at, ctx, subnetPaths);
      }
    });
  });

type WorldKeys = Pick<z.output<typeof regionWorldSchema>, 'subnets' | 'connections' | 'jobs' | 'adhoc' | 'otherEnis'>;

/** Cross-references inside one world (connections → subnets, jobs → connections, addresses held), under `at`. */
function checkWorld(s: WorldKeys, at: (string | number)[], ctx: z.RefinementCtx, subnetPaths: Map<string, string>): void {
  const field = (...rest: (string | number)[]) => fieldPath([...at, ...rest]);
  const issue = (rest: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path: [...at, ...rest], message });
  const subnets = new Map<string, number>();
  s.subnets.forEach((sub, i) => {
    const seen = subnetPaths.get(sub.id);
    if (seen !== undefined) issue(['subnets', i, 'id'], `duplicate of ${seen}`);
    else subnetPaths.set(sub.id, field('subnets', i, 'id'));
    if (!subnets.has(sub.id)) subnets.set(sub.id, i);
  });
  const connections = new Map<string, number>();
  s.connections.forEach((c, i) => {
    if (connections.has(c.name)) issue(['connections', i, 'name'], `duplicate of ${field('connections', connections.get(c.name)!, 'name')}`);
    else connections.set(c.name, i);
    if (!subnets.has(c.subnet)) issue(['connections', i, 'subnet'], `unknown subnet "${c.subnet}" (not in subnets[].id)`);
  });
  const jobs = new Map<string, string>();
  s.jobs.forEach((j, i) => {
    if (jobs.has(j.name)) issue(['jobs', i, 'name'], `duplicate of ${jobs.get(j.name)}.name`);
    else jobs.set(j.name, field('jobs', i));
    if (!connections.has(j.connection)) issue(['jobs', i, 'connection'], `unknown connection "${j.connection}" (not in connections[].name)`);
  });
  s.adhoc.forEach((a, i) => {
    if (!connections.has(a.connection)) issue(['adhoc', i, 'connection'], `unknown connection "${a.connection}" (not in connections[].name)`);
    if (a.name !== undefined && jobs.has(a.name)) issue(['adhoc', i, 'name'], `duplicate of ${jobs.get(a.name)}.name`);
    else if (a.name !== undefined) jobs.set(a.name, field('adhoc', i));
  });
  const held = new Map<string, number>();
  s.otherEnis.forEach((o, i) => {
    const sub = subnets.get(o.subnet);
    if (sub === undefined) {
      issue(['otherEnis', i, 'subnet'], `unknown subnet "${o.subnet}" (not in subnets[].id)`);
      return;
    }
    const total = (held.get(o.subnet) ?? 0) + o.count * o.addressesEach;
    held.set(o.subnet, total);
    const parsed = parseCidr(s.subnets[sub].cidr);
    if (typeof parsed !== 'string' && total > parsed.usable) {
      issue(['otherEnis', i, 'count'], `expected at most ${parsed.usable} addresses in ${o.subnet}, got ${total}`);
    }
  });
}

export type ScenarioInput = z.input<typeof scenarioSchema>;
export type Scenario = z.output<typeof scenarioSchema>;
export type ScenarioJob = Scenario['jobs'][number];
export type ScenarioAdhoc = Scenario['adhoc'][number];
export type Faults = z.output<typeof faultsSchema>;
export type ScenarioAccount = Scenario['accounts'][number];
export type ScenarioRole = ScenarioAccount['roles'][number];
export type RegionWorld = z.output<typeof regionWorldSchema>;
export type Span = { min: number; max: number };

/** Validate an already-parsed object; every error names its field (`jobs[0].workers: ...`). */
export function parseScenario(input: unknown, source?: string): Scenario {
  const result = scenarioSchema.safeParse(input ?? {});
  if (!result.success) {
    const issues = formatIssues(result.error, source);
    throw new ConfigError(issues.join('\n'), issues);
  }
  return result.data;
}

export function parseScenarioText(text: string, source = 'scenario'): Scenario {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((e) => `${source}: YAML ${e.message.split('\n')[0]}`);
    throw new ConfigError(issues.join('\n'), issues);
  }
  return parseScenario(doc.toJS(), source);
}

export function loadScenarioFile(path: string): Scenario {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${path}: cannot read: ${(err as Error).message}`);
  }
  return parseScenarioText(text, path);
}
