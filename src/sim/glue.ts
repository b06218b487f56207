// Glue JSON 1.1 protocol (POST, X-Amz-Target: AWSGlue.<Op>) over the simulated world. Timestamps are epoch
// seconds as JSON numbers, as the protocol carries them.
import type { Connection, Job, JobRun, World } from './model.js';
import { WorldError } from './model.js';
import type { WireResponse } from './wire.js';

export class GlueError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export function glueErrorResponse(err: GlueError, requestId: string): WireResponse {
  return {
    status: err.status,
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': err.type, 'x-amzn-requestid': requestId },
    body: JSON.stringify({ __type: err.type, message: err.message }),
  };
}

const sec = (t: number | undefined) => (t === undefined ? undefined : t / 1000);

function connectionJson(c: Connection): Record<string, unknown> {
  return {
    Name: c.Name,
    ConnectionType: c.ConnectionType,
    ConnectionProperties: c.ConnectionProperties,
    PhysicalConnectionRequirements: c.PhysicalConnectionRequirements,
    CreationTime: sec(c.CreationTime),
    LastUpdatedTime: sec(c.LastUpdatedTime),
    Status: 'READY',
  };
}

function jobJson(j: Job): Record<string, unknown> {
  return {
    Name: j.Name,
    JobMode: 'SCRIPT',
    Role: j.Role,
    Command: j.Command,
    Connections: j.Connections,
    NumberOfWorkers: j.NumberOfWorkers,
    WorkerType: j.WorkerType,
    GlueVersion: j.GlueVersion,
    MaxRetries: j.MaxRetries,
    Timeout: j.Timeout,
    ExecutionProperty: j.ExecutionProperty,
    ExecutionClass: 'STANDARD',
    CreatedOn: sec(j.CreatedOn),
    LastModifiedOn: sec(j.LastModifiedOn),
  };
}

function runJson(r: JobRun): Record<string, unknown> {
  return {
    Id: r.Id,
    Attempt: r.Attempt,
    JobName: r.JobName,
    JobMode: 'SCRIPT',
    StartedOn: sec(r.StartedOn),
    LastModifiedOn: sec(r.LastModifiedOn),
    CompletedOn: sec(r.CompletedOn),
    JobRunState: r.JobRunState,
    ErrorMessage: r.ErrorMessage,
    ExecutionTime: r.ExecutionTime,
    Timeout: r.Timeout,
    WorkerType: r.WorkerType,
    NumberOfWorkers: r.NumberOfWorkers,
    GlueVersion: r.GlueVersion,
    ExecutionClass: 'STANDARD',
  };
}

function str(input: Record<string, unknown>, field: string, required: true): string;
function str(input: Record<string, unknown>, field: string, required?: false): string | undefined;
function str(input: Record<string, unknown>, field: string, required = false): string | undefined {
  const v = input[field];
  if (v === undefined || v === null) {
    if (required) throw new GlueError('InvalidInputException', `${field}: required`);
    return undefined;
  }
  if (typeof v !== 'string' || v.length === 0) throw new GlueError('InvalidInputException', `${field}: expected a non-empty string`);
  return v;
}

function int(input: Record<string, unknown>, field: string, min: number, max: number): number | undefined {
  const v = input[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new GlueError('InvalidInputException', `${field}: expected an integer from ${min} to ${max}`);
  }
  return v;
}

/** Cursor pagination: the token names the last item returned (lists here only grow at the front or not at all). */
function paginate<T>(items: T[], key: (x: T) => string, input: Record<string, unknown>, maxLimit: number): { page: T[]; NextToken?: string } {
  const max = int(input, 'MaxResults', 1, maxLimit) ?? maxLimit;
  const token = str(input, 'NextToken');
  let start = 0;
  if (token !== undefined) {
    let after: unknown;
    try {
      after = (JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { after?: unknown }).after;
    } catch {
      after = undefined;
    }
    const i = typeof after === 'string' ? items.findIndex((x) => key(x) === after) : -1;
    if (i < 0) throw new GlueError('InvalidInputException', 'NextToken: invalid or expired continuation token');
    start = i + 1;
  }
  const page = items.slice(start, start + max);
  const more = start + max < items.length;
  return { page, ...(more ? { NextToken: Buffer.from(JSON.stringify({ after: key(page[page.length - 1]) })).toString('base64url') } : {}) };
}

function ok(requestId: string, body: unknown): WireResponse {
  return { status: 200, headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': requestId }, body: JSON.stringify(body) };
}

function mustJob(world: World, name: string): Job {
  const job = world.job(name);
  if (!job) throw new GlueError('EntityNotFoundException', `Job with name: ${name} not found`);
  return job;
}

/** Answer one Glue request. Throws GlueError for client errors (the caller renders them). */
export function handleGlue(world: World, op: string, input: Record<string, unknown>, requestId: string): WireResponse {
  switch (op) {
    case 'GetConnections': {
      const filter = input.Filter as { ConnectionType?: unknown } | undefined;
      let items = world.connections().sort((a, b) => (a.Name < b.Name ? -1 : 1));
      if (filter && typeof filter.ConnectionType === 'string') items = items.filter((c) => c.ConnectionType === filter.ConnectionType);
      const { page, NextToken } = paginate(items, (c) => c.Name, input, 1000);
      return ok(requestId, { ConnectionList: page.map(connectionJson), NextToken });
    }
    case 'GetConnection': {
      const name = str(input, 'Name', true);
      const c = world.connection(name);
      if (!c) throw new GlueError('EntityNotFoundException', `Connection ${name} not found`);
      return ok(requestId, { Connection: connectionJson(c) });
    }
    case 'GetJobs': {
      const items = world.jobs().sort((a, b) => (a.Name < b.Name ? -1 : 1));
      const { page, NextToken } = paginate(items, (j) => j.Name, input, 1000);
      return ok(requestId, { Jobs: page.map(jobJson), NextToken });
    }
    case 'GetJob':
      return ok(requestId, { Job: jobJson(mustJob(world, str(input, 'JobName', true))) });
    case 'GetJobRuns': {
      const name = str(input, 'JobName', true);
      mustJob(world, name);
      const { page, NextToken } = paginate(world.jobRuns(name), (r) => r.Id, input, 200);
      return ok(requestId, { JobRuns: page.map(runJson), NextToken });
    }
    case 'GetJobRun': {
      const name = str(input, 'JobName', true);
      const runId = str(input, 'RunId', true);
      const run = world.jobRun(runId);
      if (!run || run.JobName !== name) throw new GlueError('EntityNotFoundException', `Job Run with id: ${runId} not found`);
      return ok(requestId, { JobRun: runJson(run) });
    }
    case 'StartJobRun': {
      const name = str(input, 'JobName', true);
      mustJob(world, name);
      const workers = int(input, 'NumberOfWorkers', 1, 1000);
      const run = world.startJobRun(name, { workers, source: 'api' });
      return ok(requestId, { JobRunId: run.Id });
    }
    case 'BatchStopJobRun': {
      const name = str(input, 'JobName', true);
      mustJob(world, name);
      const ids = input.JobRunIds;
      if (!Array.isArray(ids) || ids.length < 1 || ids.length > 25 || ids.some((x) => typeof x !== 'string')) {
        throw new GlueError('InvalidInputException', 'JobRunIds: expected a list of 1 to 25 run ids');
      }
      const SuccessfulSubmissions: unknown[] = [];
      const Errors: unknown[] = [];
      for (const id of ids as string[]) {
        try {
          world.stopJobRun(name, id);
          SuccessfulSubmissions.push({ JobName: name, JobRunId: id });
        } catch (err) {
          if (!(err instanceof WorldError)) throw err;
          Errors.push({
            JobName: name,
            JobRunId: id,
            ErrorDetail: { ErrorCode: err.kind === 'not-found' ? 'EntityNotFoundException' : 'InvalidInputException', ErrorMessage: err.message },
          });
        }
      }
      return ok(requestId, { SuccessfulSubmissions, Errors });
    }
    default:
      throw new GlueError('UnknownOperationException', `Operation AWSGlue.${op} is not supported by this endpoint`);
  }
}
