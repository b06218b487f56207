// /admit's input: the query string or JSON body fields, checked and typed before admission sees them.
// Each refusal names its field with the words the API has always used (clients and tests match on them).
import { z } from 'zod';
import { AdmitError } from '../admission/errors.js';
import type { AdmitInput } from '../admission/service.js';
import { ACCOUNT_ID_PATTERN, REGION_PATTERN } from '../admission/types.js';

/** Raw request fields (query string or JSON body). */
export interface AdmitRequest {
  subnet?: unknown;
  job?: unknown;
  workers?: unknown;
  dag_run_id?: unknown;
  client_id?: unknown;
  deadline?: unknown;
  max_wait_seconds?: unknown;
  dry_run?: unknown;
  account?: unknown;
  region?: unknown;
}

/** Every field /admit reads (a repeated query parameter is refused by name). */
export const ADMIT_FIELDS = [
  'subnet',
  'job',
  'workers',
  'dag_run_id',
  'client_id',
  'deadline',
  'max_wait_seconds',
  'dry_run',
  'account',
  'region',
] as const;

/** The fields of a query string or JSON body, as /admit reads them. */
export function admitFields(o: Record<string, unknown>): AdmitRequest {
  const out: AdmitRequest = {};
  for (const k of ADMIT_FIELDS) out[k] = o[k];
  return out;
}

const MAX_KEY = 128;
const MAX_DAG_RUN_ID = 250;
/** A week: a launch that may wait longer than that has no deadline worth the name. */
const MAX_WAIT_SECONDS = 7 * 24 * 3600;
/** ISO 8601 date and time with a zone (a time without one means different instants on different hosts). */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

const absent = (v: unknown): boolean => v === undefined || v === null || v === '';

/** An optional id: a string of at most `max` characters without control characters ('' and null = absent). */
const optionalText = (field: string, max: number) =>
  z.unknown().transform((v, ctx): string | undefined => {
    if (absent(v)) return undefined;
    const fail = (message: string) => (ctx.addIssue({ code: 'custom', message }), z.NEVER);
    if (typeof v !== 'string') return fail(`${field} must be a string`);
    if (v.length > max) return fail(`${field} must be at most ${max} characters`);
    // Control characters have no business in ids and would forge log lines.
    if (/[\u0000-\u001f\u007f]/.test(v)) return fail(`${field} must not contain control characters`);
    return v;
  });

/**
 * An integer from a JSON number or a decimal string; NaN when it is neither (the range, which depends on the
 * subnet, is admission's to check). Digits beyond what a count can be read as the largest safe integer.
 */
const workersField = z.unknown().transform((v): number | undefined => {
  if (absent(v)) return undefined;
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : Number.NaN;
  if (typeof v === 'string' && /^[0-9]{1,9}$/.test(v.trim())) return Number(v.trim());
  if (typeof v === 'string' && /^[0-9]+$/.test(v.trim())) return Number.MAX_SAFE_INTEGER;
  return Number.NaN;
});

const deadlineField = z.unknown().transform((v, ctx): number | undefined => {
  if (absent(v)) return undefined;
  const ms = typeof v === 'string' && ISO_TIME.test(v.trim()) ? Date.parse(v.trim()) : Number.NaN;
  if (Number.isNaN(ms)) {
    ctx.addIssue({ code: 'custom', message: 'deadline must be an ISO 8601 time with a zone, e.g. 2024-01-08T07:30:00Z' });
    return z.NEVER;
  }
  return ms;
});

const maxWaitField = z.unknown().transform((v, ctx): number | undefined => {
  if (absent(v)) return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^[0-9]{1,9}$/.test(v.trim()) ? Number(v.trim()) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_WAIT_SECONDS) {
    ctx.addIssue({ code: 'custom', message: `max_wait_seconds must be an integer from 1 to ${MAX_WAIT_SECONDS}` });
    return z.NEVER;
  }
  return n;
});

const dryRunField = z.unknown().transform((v, ctx): boolean | undefined => {
  if (absent(v)) return undefined;
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  ctx.addIssue({ code: 'custom', message: 'dry_run must be true or false' });
  return z.NEVER;
});

/** An optional value of a fixed shape ('' and null = absent); refused with `message` otherwise. */
const shaped = (pattern: RegExp, message: string) =>
  z.unknown().transform((v, ctx): string | undefined => {
    if (absent(v)) return undefined;
    if (typeof v === 'string' && pattern.test(v)) return v;
    ctx.addIssue({ code: 'custom', message });
    return z.NEVER;
  });

// Field order is the order of the checks: the first bad field is the one named.
const admitRequestSchema = z.object({
  subnet: optionalText('subnet', MAX_KEY),
  job: optionalText('job', MAX_KEY),
  dag_run_id: optionalText('dag_run_id', MAX_DAG_RUN_ID),
  client_id: optionalText('client_id', MAX_DAG_RUN_ID),
  workers: workersField,
  deadline: deadlineField,
  max_wait_seconds: maxWaitField,
  dry_run: dryRunField,
  account: shaped(ACCOUNT_ID_PATTERN, 'account must be a 12-digit AWS account id, e.g. 111111111111'),
  region: shaped(REGION_PATTERN, 'region must be an AWS region, e.g. eu-west-1'),
});

/** The checked input, or an AdmitError (400) naming the first bad field. */
export function parseAdmitRequest(req: AdmitRequest): AdmitInput {
  const parsed = admitRequestSchema.safeParse(admitFields(req as Record<string, unknown>));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AdmitError(400, issue.message, String(issue.path[0]));
  }
  const {
    subnet,
    job,
    dag_run_id: dagRunId,
    workers,
    client_id: clientId,
    deadline,
    max_wait_seconds: maxWaitSeconds,
    dry_run: dryRun,
    account,
    region,
  } = parsed.data;
  if (subnet === undefined && job === undefined) {
    throw new AdmitError(400, 'subnet is required (a subnet id or configured name), or job (a Glue job name)', 'subnet');
  }
  // A job stands for its subnet: with both, which one the caller meant is a guess, and a wrong guess launches
  // into the wrong subnet's room.
  if (subnet !== undefined && job !== undefined) {
    throw new AdmitError(400, 'subnet and job both given: give one of them (a job stands for the subnet it lands in)', 'subnet');
  }
  if (deadline !== undefined && maxWaitSeconds !== undefined) {
    throw new AdmitError(400, 'deadline and max_wait_seconds both given: give one of them', 'deadline');
  }
  const input: AdmitInput = {};
  if (subnet !== undefined) input.subnet = subnet;
  if (job !== undefined) input.job = job;
  if (workers !== undefined) input.workers = workers;
  if (dagRunId !== undefined) input.dagRunId = dagRunId;
  if (clientId !== undefined) input.clientId = clientId;
  if (deadline !== undefined) input.deadline = deadline;
  if (maxWaitSeconds !== undefined) input.maxWaitSeconds = maxWaitSeconds;
  if (dryRun) input.dryRun = true;
  if (account !== undefined) input.account = account;
  if (region !== undefined) input.region = region;
  return input;
}
