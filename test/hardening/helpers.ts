// Plumbing for the hardening tests: a raw HTTP client (any method, path and body bytes), bounded concurrency,
// the admission log read straight from disk, and the real CLI as a child process.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { SIM_ENV, useSimCredentials } from '../helpers/sim-env.js';
import { CLI, ROOT } from '../helpers/paths.js';
import { waitFor } from '../helpers/wait.js';
import { startSimulator, type RunningSimulator } from '../../src/sim/index.js';

export { CLI, ROOT } from '../helpers/paths.js';
export const SCENARIO = join(ROOT, 'scenarios', 'seed-split.yml');

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Source address (another loopback address is another client); such requests use a fresh socket. */
  localAddress?: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: 32 });

/** One request exactly as given: no normalisation of the method, the path or the body. */
export function rawRequest(base: string, r: RawRequest, timeoutMs = 10_000): Promise<RawResponse> {
  const u = new URL(base);
  return new Promise((resolvePromise, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        method: r.method,
        path: r.path,
        headers: r.headers,
        timeout: timeoutMs,
        ...(r.localAddress ? { localAddress: r.localAddress, agent: false } : { agent }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms: ${r.method} ${r.path}`)));
    req.on('error', reject);
    if (r.body !== undefined) req.end(r.body);
    else req.end();
  });
}

/** Run `fn` over `items` with at most `limit` in flight; results in input order. */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export interface RawConnection {
  socket: Socket;
  /** Send more bytes, if the server has not closed the connection yet. */
  send(bytes: string): void;
  /** Send `bytes` every `everyMs` until the server closes the connection. */
  drip(bytes: string, everyMs: number): void;
  /** Everything the server sent, the status of its first answer, and when it closed (ms after connecting). */
  closed: Promise<{ text: string; status?: number; json?: Record<string, unknown>; ms: number }>;
}

/** A bare TCP connection that writes exactly the bytes given: for clients that HTTP libraries cannot be. */
export function rawConnection(base: string, first: string): RawConnection {
  const u = new URL(base);
  const socket = connect(Number(u.port), u.hostname);
  const t0 = Date.now();
  let text = '';
  let timer: NodeJS.Timeout | undefined;
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => (text += d));
  socket.on('error', () => {});
  const send = (bytes: string) => {
    if (!socket.destroyed && socket.writable) socket.write(bytes);
  };
  const closed = new Promise<{ text: string; status?: number; json?: Record<string, unknown>; ms: number }>((resolveClosed) =>
    socket.once('close', () => {
      clearInterval(timer);
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1];
      const body = text.slice(text.indexOf('\r\n\r\n') + 4);
      let json: Record<string, unknown> | undefined;
      try {
        json = JSON.parse(body) as Record<string, unknown>;
      } catch {
        // not JSON, or no answer at all
      }
      resolveClosed({ text, status: status ? Number(status) : undefined, json, ms: Date.now() - t0 });
    }),
  );
  send(first);
  return {
    socket,
    send,
    drip(bytes, everyMs) {
      timer = setInterval(() => send(bytes), everyMs);
    },
    closed,
  };
}

// The shared pieces, for the hardening tests that import them from this kit.
export { SIM_ENV, useSimCredentials } from '../helpers/sim-env.js';
export { freePort } from '../helpers/net.js';
export { sleep, waitFor, within } from '../helpers/wait.js';

// ---- the admission log on disk ------------------------------------------------------------------------------

export interface LedgerRecord {
  t: 'obs' | 'res' | 'cls';
  subnet_id?: string;
  observed_at?: string;
  dag_run_id?: string;
  decision?: string;
  r?: { id: string; subnetId: string; workers: number; closed?: string };
  id?: string;
}

export interface Ledger {
  bytes: string;
  records: LedgerRecord[];
  /** Lines that did not parse (a torn tail). */
  unreadable: number;
  count: { obs: number; res: number; cls: number };
}

export function readLedger(path: string): Ledger {
  const bytes = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const records: LedgerRecord[] = [];
  let unreadable = 0;
  for (const line of bytes.split('\n')) {
    if (!line.trim()) continue;
    try {
      records.push(JSON.parse(line) as LedgerRecord);
    } catch {
      unreadable++;
    }
  }
  const count = { obs: 0, res: 0, cls: 0 };
  for (const r of records) count[r.t]++;
  return { bytes, records, unreadable, count };
}

// ---- the CLI as a child process ----------------------------------------------------------------------------

export interface ServeProc {
  child: ChildProcess;
  url: string;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Parsed JSON log lines so far (non-JSON lines skipped). */
  logs(): Record<string, unknown>[];
  waitForLog(what: string, pred: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The build the CLI tests run; `npm test` builds it in pretest. */
export function assertBuilt(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does it in pretest)`);
  const built = statSync(CLI).mtimeMs;
  const src = statSync(join(ROOT, 'src', 'cli.ts')).mtimeMs;
  if (src > built + 1000) throw new Error(`${CLI} is older than src/cli.ts: run npm run build`);
}

export interface ServeOptions {
  config: string;
  port: number;
  env?: NodeJS.ProcessEnv;
  /** stdout appended to this file instead of a pipe (stderr stays a pipe). */
  stdoutFile?: string;
  /** Run under `ulimit -f` in KiB, so that writes past it fail with EFBIG (output through pipes unless stdoutFile). */
  fileSizeLimitKb?: number;
  /** More arguments to `serve` (e.g. `--web.config.file`). */
  args?: string[];
}

export function startServe(opts: ServeOptions): ServeProc {
  const args = [CLI, 'serve', '--config', opts.config, '--listen', `127.0.0.1:${opts.port}`, ...(opts.args ?? [])];
  const env = { ...process.env, ...SIM_ENV, ...opts.env };
  const limit = `ulimit -f ${opts.fileSizeLimitKb ?? 'unlimited'}`;
  const child =
    opts.stdoutFile !== undefined
      ? spawn('bash', ['-c', `${limit} && exec "$0" "$@" >> "$SERVE_STDOUT_FILE"`, process.execPath, ...args], {
          cwd: ROOT,
          env: { ...env, SERVE_STDOUT_FILE: opts.stdoutFile },
          stdio: ['ignore', 'ignore', 'pipe'],
        })
      : opts.fileSizeLimitKb !== undefined
        ? spawn('bash', ['-c', `${limit} && exec "$0" "$@"`, process.execPath, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let captured = '';
  child.stdout?.on('data', (d: Buffer) => (captured += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (captured += d.toString()));
  const out = () => (opts.stdoutFile !== undefined && existsSync(opts.stdoutFile) ? `${readFileSync(opts.stdoutFile, 'utf8')}\n` : '') + captured;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  );
  const logs = () => {
    const lines: Record<string, unknown>[] = [];
    for (const l of out().split('\n')) {
      if (!l.startsWith('{')) continue;
      try {
        lines.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        // a line still being written
      }
    }
    return lines;
  };
  return {
    child,
    url: `http://127.0.0.1:${opts.port}`,
    output: out,
    logs,
    waitForLog: (what, pred, timeoutMs = 15_000) => waitFor(what, () => logs().find(pred), timeoutMs),
    exited,
  };
}

/** SIGKILL (or another signal) and wait for the exit. */
export async function killProc(p: ServeProc, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill(signal);
  await p.exited;
}

// ---- one simulator, one temp dir, every process cleaned up ------------------------------------------------

export interface ConfigOptions {
  schedule?: string;
  level?: string;
  /** YAML flow mappings, one a subnet. */
  subnets?: string[];
  dataDir?: string;
  extra?: string[];
}

export interface SimFixture {
  sim: RunningSimulator;
  dir: string;
  /** Killed after the file's tests. */
  procs: ServeProc[];
  /** Closed after the file's tests. */
  closers: { close(): Promise<void> }[];
  /**
   * A `serve` config on the simulator written to `<dir>/<name>.yml`: by default one subnet (critical), data in
   * `<dir>/<name>-data`, a sample every 2 s; `extra` lines are appended as they are.
   */
  config(name: string, o?: ConfigOptions): string;
}

/**
 * Registers the file's beforeAll/afterAll: the CLI built, credentials for the simulator, the simulator at the
 * seeds' morning (or `startAt`), a temp dir; afterwards every process in `procs` is killed and all of it removed.
 */
export function simFixture(prefix: string, opts: { startAt?: string } = {}): SimFixture {
  const f: SimFixture = {
    sim: undefined as unknown as RunningSimulator,
    dir: '',
    procs: [],
    closers: [],
    config(name, o = {}) {
      const path = join(f.dir, `${name}.yml`);
      writeFileSync(
        path,
        [
          'region: us-east-1',
          `endpoints: {ec2: "${f.sim.url}", glue: "${f.sim.url}"}`,
          'subnets:',
          ...(o.subnets ?? ['{id: subnet-0a1, name: critical}']).map((s) => `  - ${s}`),
          `dataDir: "${o.dataDir ?? join(f.dir, `${name}-data`)}"`,
          `sample: {schedule: "${o.schedule ?? '*/2 * * * * *'}", maxAgeSeconds: 3600}`,
          `log: {level: ${o.level ?? 'info'}}`,
          ...(o.extra ?? []),
          '',
        ].join('\n'),
      );
      return path;
    },
  };
  beforeAll(async () => {
    assertBuilt();
    useSimCredentials();
    f.sim = await startSimulator({ scenario: SCENARIO, startAt: opts.startAt ?? '2026-04-06T07:05:00Z' });
    f.dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  });
  afterAll(async () => {
    for (const p of f.procs) await killProc(p);
    for (const c of f.closers) await c.close();
    await f.sim?.close();
    if (f.dir) rmSync(f.dir, { recursive: true, force: true });
  });
  return f;
}

/** Poll /-/ready of a CLI child until 200 and return that answer; fail at once, with its output, if it exits. */
export async function waitReady(p: ServeProc, timeoutMs = 20_000, what = 'ready'): Promise<RawResponse> {
  const r = await waitFor(
    `${what} (output: ${p.output().slice(-300)})`,
    async () => {
      if (p.child.exitCode !== null || p.child.signalCode !== null) return 'exited' as const;
      const res = await rawRequest(p.url, { method: 'GET', path: '/-/ready' }, 2_000).catch(() => undefined);
      return res?.status === 200 ? res : undefined;
    },
    timeoutMs,
  );
  if (r === 'exited') throw new Error(`${what}: exited (${p.child.exitCode ?? p.child.signalCode}) before it was ready: ${p.output().slice(-800)}`);
  return r;
}
