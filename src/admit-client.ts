// `glue-eni-exporter admit`: the launcher side of /admit for schedulers without an HTTP sensor. Pokes until
// admitted (exit 0, prints the reservation JSON), fails loud at the timeout with the last reason (exit 1):
// a wait that never ends is the worst failure mode there is. Exit 2 on errors a retry cannot fix.
export interface AdmitOptions {
  /** The exporter's base URL, e.g. http://glue-eni-exporter:9858 */
  url: string;
  subnet?: string;
  workers?: number;
  job?: string;
  dagRunId?: string;
  pokeIntervalSeconds?: number;
  timeoutSeconds?: number;
  token?: string;
}

export interface AdmitIo {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
  sleep: (ms: number) => Promise<void>;
  /** Monotonic milliseconds. */
  now: () => number;
}

export const EXIT_ADMITTED = 0;
export const EXIT_TIMEOUT = 1;
export const EXIT_ERROR = 2;

const defaultIo: AdmitIo = {
  stdout: (l) => process.stdout.write(`${l}\n`),
  stderr: (l) => process.stderr.write(`${l}\n`),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  now: () => performance.now(),
};

interface Answer {
  admit?: boolean;
  reason?: string;
  error?: string;
  field?: string;
  retry_after_seconds?: number;
}

export async function runAdmit(opts: AdmitOptions, io: AdmitIo = defaultIo): Promise<number> {
  const interval = (opts.pokeIntervalSeconds ?? 60) * 1000;
  const timeout = (opts.timeoutSeconds ?? 600) * 1000;
  if (!opts.subnet && !opts.job) {
    io.stderr('admit: --subnet or --job is required');
    return EXIT_ERROR;
  }
  let endpoint: URL;
  try {
    endpoint = new URL('admit', opts.url.endsWith('/') ? opts.url : `${opts.url}/`);
  } catch {
    io.stderr(`admit: --url: not a URL: ${opts.url}`);
    return EXIT_ERROR;
  }
  const body: Record<string, unknown> = {};
  if (opts.subnet) body.subnet = opts.subnet;
  if (opts.job) body.job = opts.job;
  if (opts.workers !== undefined) body.workers = opts.workers;
  if (opts.dagRunId) body.dag_run_id = opts.dagRunId;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;

  const start = io.now();
  let last = 'no answer yet';
  for (let poke = 1; ; poke++) {
    let status: number;
    let answer: Answer;
    try {
      const res = await fetch(endpoint, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
      status = res.status;
      const text = await res.text();
      try {
        answer = JSON.parse(text) as Answer;
      } catch {
        answer = { error: `non-JSON answer: ${text.slice(0, 200)}` };
      }
      if (status === 200 && answer.admit === true) {
        io.stdout(JSON.stringify(answer));
        return EXIT_ADMITTED;
      }
    } catch (err) {
      io.stderr(`admit: ${endpoint.href} unreachable: ${(err as Error).message}`);
      return EXIT_ERROR;
    }
    if (status === 200) {
      last = answer.reason ?? 'wait';
    } else if (status === 503 || status === 429) {
      // Stale data or rate limited: a condition that passes, so keep poking within the timeout.
      last = `HTTP ${status}: ${answer.error ?? ''}`;
    } else {
      io.stderr(`admit: HTTP ${status}: ${answer.error ?? 'error'}${answer.field ? ` (field ${answer.field})` : ''}`);
      return EXIT_ERROR;
    }
    const elapsed = io.now() - start;
    if (elapsed + interval > timeout) {
      io.stderr(`admit: not admitted after ${Math.round(elapsed / 1000)} s and ${poke} pokes (timeout ${timeout / 1000} s); last answer: ${last}`);
      return EXIT_TIMEOUT;
    }
    io.stderr(`admit: waiting (poke ${poke}): ${last}`);
    await io.sleep(interval);
  }
}
