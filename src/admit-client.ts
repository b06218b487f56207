// `glue-eni-exporter admit`: the launcher side of /admit for schedulers without an HTTP sensor. Pokes until
// admitted (exit 0, prints the reservation JSON); fails loud (exit 1) as soon as the exporter says the deadline
// cannot be met, or at its own timeout with the last reason: a wait that never ends is the worst failure mode
// there is. Between pokes it sleeps as long as the answer says (`retry_after_seconds`), which also keeps its
// ticket alive. An unreachable or restarting exporter (connection errors, 5xx, 429) is retried until the
// timeout: a restart must not fail every waiting launch. Exit 2 only on errors a retry cannot fix (400, 404, 401).
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

export interface AdmitOptions {
  /** The exporter's base URL, e.g. http://glue-eni-exporter:9858 */
  url: string;
  subnet?: string;
  workers?: number;
  job?: string;
  /** The subnet's AWS account (12 digits): checked by the exporter; picks the target of a job found in several. */
  account?: string;
  /** The subnet's AWS region: the same as account. */
  region?: string;
  dagRunId?: string;
  /** The ticket key when there is no dag_run_id; default: one derived per invocation (see defaultClientId). */
  clientId?: string;
  /** ISO 8601 time by which the launch must have started (sent as `deadline`). */
  deadline?: string;
  /** Seconds from the first poke by which the launch must have started (sent as `max_wait_seconds`). */
  maxWaitSeconds?: number;
  /** Seconds between pokes when the exporter names none (no answer, or no retry_after_seconds/Retry-After). */
  pokeIntervalSeconds?: number;
  /** Give up after this many seconds; default 600, or the time to the deadline when one is given. */
  timeoutSeconds?: number;
  token?: string;
}

export interface AdmitIo {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
  sleep: (ms: number) => Promise<void>;
  /** Monotonic milliseconds. */
  now: () => number;
  /** Wall-clock epoch milliseconds (for the deadline). */
  wallNow: () => number;
}

export const EXIT_ADMITTED = 0;
export const EXIT_TIMEOUT = 1;
export const EXIT_ERROR = 2;

const defaultIo: AdmitIo = {
  stdout: (l) => process.stdout.write(`${l}\n`),
  stderr: (l) => process.stderr.write(`${l}\n`),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  now: () => performance.now(),
  wallNow: () => Date.now(),
};

/** The shortest sleep between pokes, whatever an answer says: no hot loop against a struggling exporter. */
const MIN_SLEEP_MS = 1000;
/** The last poke before a --deadline lands at least this early (clocks and the request's own time). */
const DEADLINE_MARGIN_MS = 2000;
/** One request may take this long (bounded further by the time left). */
const REQUEST_TIMEOUT_MS = 30_000;

interface Answer {
  admit?: boolean;
  reason?: string;
  error?: string;
  field?: string;
  retry_after_seconds?: number;
  eta_seconds?: number | null;
  queue_position?: number;
  ahead?: number;
  will_miss_deadline?: boolean;
  ticket?: string;
  deadline?: string;
}

/**
 * One ticket key per invocation: its re-pokes find the same ticket (one place in the queue), and two
 * invocations on one host never share one. The host and pid say where a ticket comes from.
 */
export function defaultClientId(): string {
  const host = hostname()
    .replace(/[^A-Za-z0-9.-]/g, '')
    .slice(0, 40);
  return `admit-cli.${host || 'host'}.${process.pid}.${randomBytes(4).toString('hex')}`;
}

/** A time with a date, a clock and a zone: a zoneless time would be read in whatever zone the server runs. */
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i;

export function parseDeadline(s: string): number | string {
  if (!ISO_WITH_ZONE.test(s)) return `--deadline: expected an ISO 8601 time with a zone, e.g. 2026-04-09T09:00:00Z; got ${JSON.stringify(s)}`;
  const ms = Date.parse(s);
  if (!Number.isFinite(ms)) return `--deadline: not a valid time: ${JSON.stringify(s)}`;
  return ms;
}

const seconds = (ms: number) => Math.round(ms / 1000);

function describeEta(a: Answer): string {
  const parts: string[] = [];
  if (a.eta_seconds === null) parts.push('no admission predicted within the forecast horizon');
  else if (typeof a.eta_seconds === 'number')
    parts.push(a.eta_seconds < 90 ? `ETA ~${Math.round(a.eta_seconds)} s` : `ETA ~${Math.round(a.eta_seconds / 60)} min`);
  if (typeof a.queue_position === 'number')
    parts.push(`queue position ${a.queue_position}${typeof a.ahead === 'number' ? ` (${a.ahead} ahead)` : ''}`);
  return parts.join(', ');
}

/** Seconds from a Retry-After header (delta-seconds only; an HTTP date is not worth the parsing here). */
function retryAfterHeader(v: string | null): number | undefined {
  if (v === null || !/^\s*\d+(\.\d+)?\s*$/.test(v)) return undefined;
  return Number(v);
}

/** Statuses that say "not now" rather than "never": a restart, an overloaded or stale exporter, a proxy. */
const retryableStatus = (s: number) => s >= 500 || s === 429 || s === 408;

export async function runAdmit(opts: AdmitOptions, io: AdmitIo = defaultIo): Promise<number> {
  const interval = (opts.pokeIntervalSeconds ?? 60) * 1000;
  if (!opts.subnet && !opts.job) {
    io.stderr('admit: --subnet or --job is required');
    return EXIT_ERROR;
  }
  // A job stands for its subnet: with both, which one was meant is a guess (the exporter refuses it too).
  if (opts.subnet && opts.job) {
    io.stderr('admit: give --subnet or --job, not both (a job stands for the subnet it lands in)');
    return EXIT_ERROR;
  }
  if (opts.workers !== undefined && !(Number.isSafeInteger(opts.workers) && opts.workers > 0)) {
    io.stderr(`admit: --workers must be a positive integer, got ${opts.workers}`);
    return EXIT_ERROR;
  }
  if (opts.deadline !== undefined && opts.maxWaitSeconds !== undefined) {
    io.stderr('admit: give --deadline or --max-wait, not both');
    return EXIT_ERROR;
  }
  let deadlineMs: number | undefined;
  if (opts.deadline !== undefined) {
    const d = parseDeadline(opts.deadline);
    if (typeof d === 'string') {
      io.stderr(`admit: ${d}`);
      return EXIT_ERROR;
    }
    deadlineMs = d;
  }
  let base: URL;
  let endpoint: URL;
  try {
    base = new URL(opts.url.endsWith('/') ? opts.url : `${opts.url}/`);
    endpoint = new URL('admit', base);
  } catch {
    io.stderr(`admit: --url: not a URL: ${opts.url}`);
    return EXIT_ERROR;
  }
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const clientId = opts.clientId ?? defaultClientId();

  const start = io.now();
  // The wait ends at the timeout or the deadline, whichever comes first: past the deadline the run is lost anyway.
  // The last poke lands a little before a --deadline: the exporter refuses a deadline already past (400).
  const untilDeadline =
    deadlineMs !== undefined
      ? deadlineMs - DEADLINE_MARGIN_MS - io.wallNow()
      : opts.maxWaitSeconds !== undefined
        ? opts.maxWaitSeconds * 1000
        : undefined;
  const budget = Math.max(
    0,
    Math.min(opts.timeoutSeconds !== undefined ? opts.timeoutSeconds * 1000 : (untilDeadline ?? 600_000), untilDeadline ?? Infinity),
  );
  const endAt = start + budget;
  const bound =
    untilDeadline !== undefined && (opts.timeoutSeconds === undefined || untilDeadline < opts.timeoutSeconds * 1000) ? 'deadline' : 'timeout';

  const body = (): string => {
    const b: Record<string, unknown> = {};
    if (opts.subnet) b.subnet = opts.subnet;
    if (opts.job) b.job = opts.job;
    if (opts.account) b.account = opts.account;
    if (opts.region) b.region = opts.region;
    if (opts.workers !== undefined) b.workers = opts.workers;
    if (opts.dagRunId) b.dag_run_id = opts.dagRunId;
    b.client_id = clientId;
    if (deadlineMs !== undefined) b.deadline = new Date(deadlineMs).toISOString();
    // The time left, not the original: the deadline the exporter derives stays put however often it is poked.
    if (opts.maxWaitSeconds !== undefined) b.max_wait_seconds = Math.max(1, Math.round((opts.maxWaitSeconds * 1000 - (io.now() - start)) / 1000));
    return JSON.stringify(b);
  };

  let last = 'no answer yet';
  let failed = 0;
  let ticket: string | undefined;
  let lastRetryMs: number | undefined;
  let poke = 0;
  for (;;) {
    poke++;
    const left = endAt - io.now();
    let status = 0;
    let answer: Answer = {};
    let retryHeader: number | undefined;
    let unreachable: string | undefined;
    try {
      const res = await fetch(endpoint, {
        method: 'POST',
        headers,
        body: body(),
        // An integer: AbortSignal.timeout refuses a fractional delay (left is on the monotonic clock).
        signal: AbortSignal.timeout(Math.floor(Math.min(REQUEST_TIMEOUT_MS, Math.max(2000, left)))),
      });
      status = res.status;
      retryHeader = retryAfterHeader(res.headers.get('retry-after'));
      const text = await res.text();
      try {
        answer = JSON.parse(text) as Answer;
      } catch {
        answer = { error: `non-JSON answer: ${text.slice(0, 200)}` };
      }
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      unreachable = e.cause?.code ?? e.cause?.message ?? e.message;
    }

    let nextMs: number;
    if (unreachable !== undefined || retryableStatus(status)) {
      failed++;
      last = unreachable !== undefined ? `${endpoint.href} unreachable (${unreachable})` : `HTTP ${status}: ${answer.error ?? ''}`;
      nextMs = (retryHeader ?? 0) * 1000 || lastRetryMs || interval;
      if (!nextPokeFits(nextMs)) break;
      io.stderr(`admit: poke ${poke} failed: ${last}; ${failed} failed so far, trying again in ${seconds(sleepFor(nextMs))} s until the ${bound}`);
    } else if (status === 200 && answer.admit === true) {
      io.stdout(JSON.stringify(answer));
      return EXIT_ADMITTED;
    } else if (status === 200 && answer.admit === false) {
      if (answer.ticket) ticket = answer.ticket;
      last = answer.reason ?? 'wait';
      if (answer.will_miss_deadline === true) {
        // The exporter dropped the ticket already: nothing to withdraw.
        io.stderr(`admit: will miss the deadline${answer.deadline ? ` ${answer.deadline}` : ''}, giving up now: ${last}`);
        return EXIT_TIMEOUT;
      }
      nextMs = (answer.retry_after_seconds ?? retryHeader ?? 0) * 1000 || interval;
      lastRetryMs = nextMs;
      if (!nextPokeFits(nextMs)) break;
      const eta = describeEta(answer);
      io.stderr(
        `admit: waiting (poke ${poke}${failed ? `, ${failed} failed` : ''}): ${eta ? `${eta}; ` : ''}next poke in ${seconds(sleepFor(nextMs))} s: ${last}`,
      );
    } else if (status === 400 && answer.field === 'deadline' && poke > 1) {
      // Accepted before, refused now: the deadline passed while waiting (a clock ahead of ours). Not in time.
      last = `HTTP 400: ${answer.error ?? ''}`;
      break;
    } else {
      io.stderr(`admit: HTTP ${status}: ${answer.error ?? 'unexpected answer'}${answer.field ? ` (field ${answer.field})` : ''}`);
      return EXIT_ERROR;
    }
    await io.sleep(sleepFor(nextMs));
  }

  const elapsed = io.now() - start;
  const limit =
    bound === 'timeout'
      ? `timeout ${seconds(budget)} s`
      : deadlineMs !== undefined
        ? `deadline ${new Date(deadlineMs).toISOString()}`
        : `max wait ${opts.maxWaitSeconds} s`;
  io.stderr(
    `admit: not admitted after ${seconds(elapsed)} s and ${poke} pokes (${limit})${failed ? `; ${failed} poke(s) failed (exporter unreachable or unavailable)` : ''}; last answer: ${last}`,
  );
  if (ticket) await withdraw(ticket);
  return EXIT_TIMEOUT;

  /** The next sleep, cut to the time left (a last poke lands on the limit rather than after it). */
  function sleepFor(ms: number): number {
    return Math.max(0, Math.min(Math.max(ms, MIN_SLEEP_MS), endAt - io.now()));
  }
  /**
   * The poke rule, the same as docs/backtest.md's sensor: pokes land at the start and then one sleep apart, and a
   * poke is made only if it lands within the timeout; so with a fixed interval, floor(timeout / interval) + 1 pokes
   * (600 s every 60 s: 11, at 0, 60, …, 600 s). No extra poke is squeezed in at the limit. A deadline is different:
   * the last poke lands just before it (cut short), since a launch admitted then still starts in time.
   */
  function nextPokeFits(ms: number): boolean {
    const left = endAt - io.now();
    if (left <= 0) return false;
    return bound === 'deadline' || Math.max(ms, MIN_SLEEP_MS) <= left;
  }
  /** Giving up: free the place in the queue now rather than when the ticket expires. Best effort. */
  async function withdraw(id: string): Promise<void> {
    try {
      const res = await fetch(new URL(`admit/${encodeURIComponent(id)}`, base), {
        method: 'DELETE',
        headers,
        signal: AbortSignal.timeout(5000),
      });
      await res.arrayBuffer();
      io.stderr(res.ok ? `admit: withdrew ticket ${id}` : `admit: could not withdraw ticket ${id} (HTTP ${res.status}); it expires on its own`);
    } catch (err) {
      io.stderr(`admit: could not withdraw ticket ${id} (${(err as Error).message}); it expires on its own`);
    }
  }
}
