import { z } from 'zod';
import { closest } from './errors.js';
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

export const configSchema = z
  .object({
    region: z.string({ error: 'expected an AWS region like us-east-1' }).min(1, { error: 'expected an AWS region like us-east-1' }).optional(),
    endpoints: z.object({ ec2: url.optional(), glue: url.optional(), dynamodb: url.optional() }).strict().default({}),
    subnets: z
      .array(
        z
          .object({
            id: subnetId,
            name: z
              .string({ error: 'expected a string' })
              .regex(/^[A-Za-z0-9_.:-]{1,64}$/, { message: 'expected 1-64 letters, digits, "_", ".", ":" or "-"' })
              .optional(),
          })
          .strict(),
        { error: 'expected a list of {id, name}' },
      )
      .default([]),
    discover: z
      .object({ glueConnections: z.boolean({ error: 'expected true or false' }).default(false) })
      .strict()
      .default({ glueConnections: false }),
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
      })
      .strict()
      .default({ schedule: '* * * * *' }),
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
    const seenIds = new Map<string, number>();
    const seenNames = new Map<string, number>();
    cfg.subnets.forEach((s, i) => {
      if (seenIds.has(s.id)) {
        ctx.addIssue({ code: 'custom', path: ['subnets', i, 'id'], message: `duplicate of subnets[${seenIds.get(s.id)}].id` });
      } else seenIds.set(s.id, i);
      if (s.name !== undefined) {
        if (looksLikeSubnetId(s.name)) {
          ctx.addIssue({
            code: 'custom',
            path: ['subnets', i, 'name'],
            message: 'expected a name that does not look like a subnet id ("subnet-" followed by hex)',
          });
        } else if (seenNames.has(s.name)) {
          ctx.addIssue({ code: 'custom', path: ['subnets', i, 'name'], message: `duplicate of subnets[${seenNames.get(s.name)}].name` });
        } else seenNames.set(s.name, i);
      }
    });
    // An override that names no subnet is a typo, silently ignored otherwise. With discovery on, or a configured
    // subnet whose name will be learned from Glue, a name can only be checked after a sample (the exporter warns).
    const unnamed = cfg.subnets.some((s) => s.name === undefined);
    for (const key of Object.keys(cfg.admission.subnets)) {
      if (seenIds.has(key) || seenNames.has(key) || cfg.discover.glueConnections || (unnamed && !looksLikeSubnetId(key))) continue;
      ctx.addIssue({
        code: 'custom',
        path: ['admission', 'subnets', key],
        message: unknownSubnetMessage(key, [...seenIds.keys(), ...seenNames.keys()]),
      });
    }
    if (cfg.subnets.length === 0 && !cfg.discover.glueConnections) {
      ctx.addIssue({ code: 'custom', path: ['subnets'], message: 'expected at least one subnet, or discover.glueConnections: true' });
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
