// /admit's input: the query string or JSON body fields, checked and typed before admission sees them.
// Each refusal names its field with the words the API has always used (clients and tests match on them).
import { z } from 'zod';
import { AdmitError } from '../admission/errors.js';
import type { AdmitInput } from '../admission/service.js';

/** Raw request fields (query string or JSON body). */
export interface AdmitRequest {
  subnet?: unknown;
  job?: unknown;
  workers?: unknown;
  dag_run_id?: unknown;
}

const MAX_KEY = 128;
const MAX_DAG_RUN_ID = 250;

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

// Field order is the order of the checks: the first bad field is the one named.
const admitRequestSchema = z.object({
  subnet: optionalText('subnet', MAX_KEY),
  job: optionalText('job', MAX_KEY),
  dag_run_id: optionalText('dag_run_id', MAX_DAG_RUN_ID),
  workers: workersField,
});

/** The checked input, or an AdmitError (400) naming the first bad field. */
export function parseAdmitRequest(req: AdmitRequest): AdmitInput {
  const parsed = admitRequestSchema.safeParse({ subnet: req.subnet, job: req.job, dag_run_id: req.dag_run_id, workers: req.workers });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AdmitError(400, issue.message, String(issue.path[0]));
  }
  const { subnet, job, dag_run_id: dagRunId, workers } = parsed.data;
  if (subnet === undefined && job === undefined) {
    throw new AdmitError(400, 'subnet is required (a subnet id or configured name), or job (a Glue job name)', 'subnet');
  }
  const input: AdmitInput = {};
  if (subnet !== undefined) input.subnet = subnet;
  if (job !== undefined) input.job = job;
  if (workers !== undefined) input.workers = workers;
  if (dagRunId !== undefined) input.dagRunId = dagRunId;
  return input;
}
