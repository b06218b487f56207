// The admit client against a real local HTTP server: what it sends, how it waits, when it gives up. Time is
// virtual (each sleep is recorded and moves the clock), the wire is real: refused connections, status codes,
// headers and bodies go through fetch and a node:http server.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startAdmitApp } from '../test/helpers/admit-app.js';
import { freePort } from '../test/helpers/net.js';
import { CLI } from '../test/helpers/paths.js';
import { snapshotOf, subnetView } from '../test/helpers/world.js';
import { EXIT_ADMITTED, EXIT_ERROR, EXIT_TIMEOUT, runAdmit, type AdmitIo } from './admit-client.js';
import { parseConfig } from './config/load.js';
import { silentLogger } from './log.js';
import { SnapshotCache } from './snapshot/cache.js';
import { FileStore } from './store/file.js';

interface Seen {
  method: string;
  url: string;
  body: Record<string, unknown>;
  authorization?: string;
}

type Reply = (req: Seen, n: number) => { status: number; body: unknown; headers?: Record<string, string> };

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

/** A scripted exporter on 127.0.0.1 (on `port` when given): `reply` answers the n-th request (1-based). */
async function exporter(reply: Reply, port = 0): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const s: Seen = { method: req.method ?? '', url: req.url ?? '', body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
      if (req.headers.authorization) s.authorization = req.headers.authorization;
      seen.push(s);
      const r = reply(s, seen.length);
      res.writeHead(r.status, { 'content-type': 'application/json', ...r.headers }).end(JSON.stringify(r.body));
    });
  });
  servers.push(server);
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

/** Virtual time: sleeps are recorded and advance both clocks at once. */
function virtualIo(onSleep?: (ms: number) => Promise<void> | void) {
  let mono = 0;
  const wallStart = Date.parse('2026-04-09T07:00:00Z');
  const out: string[] = [];
  const err: string[] = [];
  const sleeps: number[] = [];
  const io: AdmitIo = {
    stdout: (l) => out.push(l),
    stderr: (l) => err.push(l),
    sleep: async (ms) => {
      sleeps.push(ms);
      mono += ms;
      await onSleep?.(ms);
    },
    now: () => mono,
    wallNow: () => wallStart + mono,
  };
  return { io, out, err, sleeps, wallStart };
}

const wait = (extra: Record<string, unknown> = {}) => ({
  status: 200,
  body: { admit: false, reason: 'free 17 − reserved 0 < workers 10 + buffer 10', retry_after_seconds: 60, ...extra },
});
const admitted = { status: 200, body: { admit: true, reason: 'room', reservation_id: 'subnet-0a1.r.1', expires_at: '2026-04-09T07:10:00Z' } };

describe('admit client against a scripted exporter', () => {
  it('keeps trying through a refused connection and a 503, then prints the admission and exits 0', async () => {
    const port = await freePort();
    let server: Promise<{ url: string; seen: Seen[] }> | undefined;
    // Nothing listens at first: the exporter comes up during the client's first sleep.
    const v = virtualIo(async () => {
      server ??= exporter(
        (_req, n) =>
          n === 1
            ? { status: 503, body: { error: 'data is 400 s old (max 180 s)' }, headers: { 'retry-after': '30' } }
            : n === 2
              ? wait({ retry_after_seconds: 45, eta_seconds: 1380, queue_position: 3, ahead: 2, ticket: 'subnet-0a1.t.abcdef12' })
              : admitted,
        port,
      );
      await server;
    });
    const code = await runAdmit(
      { url: `http://127.0.0.1:${port}`, subnet: 'critical', workers: 10, dagRunId: 'scheduled__1', pokeIntervalSeconds: 20, token: 't0k' },
      v.io,
    );
    expect(code).toBe(EXIT_ADMITTED);
    expect(JSON.parse(v.out[0]!)).toMatchObject({ admit: true, reservation_id: 'subnet-0a1.r.1' });
    // Refused: the poke interval; 503: its Retry-After; a wait: the answer's retry_after_seconds.
    expect(v.sleeps).toEqual([20_000, 30_000, 45_000]);
    expect(v.err[0]).toMatch(
      /^admit: poke 1 failed: http:\/\/127\.0\.0\.1:\d+\/admit unreachable \(ECONNREFUSED\); 1 failed so far, trying again in 20 s/,
    );
    expect(v.err[1]).toMatch(/^admit: poke 2 failed: HTTP 503: data is 400 s old \(max 180 s\); 2 failed so far, trying again in 30 s/);
    expect(v.err[2]).toBe(
      'admit: waiting (poke 3, 2 failed): ETA ~23 min, queue position 3 (2 ahead); next poke in 45 s: free 17 − reserved 0 < workers 10 + buffer 10',
    );
    const { seen } = await server!;
    expect(seen).toHaveLength(3);
    for (const s of seen) {
      expect(s.method).toBe('POST');
      expect(s.authorization).toBe('Bearer t0k');
      expect(s.body).toMatchObject({ subnet: 'critical', workers: 10, dag_run_id: 'scheduled__1' });
    }
    // One ticket key for the whole invocation.
    expect(seen[0]!.body.client_id).toEqual(expect.stringMatching(/^admit-cli\./));
    expect(seen[2]!.body.client_id).toBe(seen[0]!.body.client_id);
    expect(seen[1]!.body.client_id).toBe(seen[0]!.body.client_id);
  });

  it('exits 1 at once with the reason when the exporter answers will_miss_deadline', async () => {
    const srv = await exporter(() =>
      wait({
        will_miss_deadline: true,
        deadline: '2026-04-09T07:30:00.000Z',
        eta_seconds: 4200,
        reason: 'room for 10 expected in ~70 min, after the deadline',
      }),
    );
    const v = virtualIo();
    const code = await runAdmit({ url: srv.url, subnet: 'critical', workers: 10, deadline: '2026-04-09T07:30:00Z' }, v.io);
    expect(code).toBe(EXIT_TIMEOUT);
    expect(srv.seen).toHaveLength(1);
    expect(v.sleeps).toEqual([]);
    expect(v.out).toEqual([]);
    expect(v.err).toEqual([
      'admit: will miss the deadline 2026-04-09T07:30:00.000Z, giving up now: room for 10 expected in ~70 min, after the deadline',
    ]);
  });

  it('sends the deadline as ISO time, or the max wait as the seconds still left, and a new client_id per invocation', async () => {
    const srv = await exporter((_req, n) => (n % 3 === 0 ? admitted : wait({ retry_after_seconds: 100, eta_seconds: 150 })));
    const a = virtualIo();
    expect(await runAdmit({ url: srv.url, subnet: 'critical', workers: 4, deadline: '2026-04-09T10:00:00+02:00' }, a.io)).toBe(EXIT_ADMITTED);
    const b = virtualIo();
    expect(await runAdmit({ url: srv.url, job: 'nightly', maxWaitSeconds: 900 }, b.io)).toBe(EXIT_ADMITTED);
    const [a1, a2, a3, b1, b2, b3] = srv.seen.map((s) => s.body);
    for (const x of [a1, a2, a3]) {
      expect(x!.deadline).toBe('2026-04-09T08:00:00.000Z');
      expect(x!.max_wait_seconds).toBeUndefined();
    }
    // 900 s from the first poke, whatever the exporter makes of each poke's "now".
    expect([b1, b2, b3].map((x) => x!.max_wait_seconds)).toEqual([900, 800, 700]);
    expect(b1).toMatchObject({ job: 'nightly' });
    expect(b1!.deadline).toBeUndefined();
    expect(new Set([a1, a2, a3].map((x) => x!.client_id)).size).toBe(1);
    expect(new Set([b1, b2, b3].map((x) => x!.client_id)).size).toBe(1);
    expect(b1!.client_id).not.toBe(a1!.client_id);
    expect(a.err[0]).toContain('ETA ~3 min;');
  });

  it('gives up at the deadline, never sleeping past it, and withdraws its ticket', async () => {
    const srv = await exporter((req) =>
      req.method === 'DELETE'
        ? { status: 200, body: { withdrawn: true } }
        : wait({ retry_after_seconds: 600, eta_seconds: null, ticket: 'subnet-0a1.t.0123abcd' }),
    );
    const v = virtualIo();
    // The deadline is 15 minutes away: it, not the 600 s default timeout, bounds the wait.
    const code = await runAdmit({ url: srv.url, subnet: 'critical', workers: 58, deadline: '2026-04-09T07:15:00Z' }, v.io);
    expect(code).toBe(EXIT_TIMEOUT);
    expect(v.sleeps).toEqual([600_000, 298_000]); // the last poke 2 s before the deadline
    expect(v.err[0]).toContain('no admission predicted within the forecast horizon');
    expect(v.err.at(-2)).toMatch(/^admit: not admitted after 898 s and 3 pokes \(deadline 2026-04-09T07:15:00\.000Z\); last answer: free 17/);
    expect(v.err.at(-1)).toBe('admit: withdrew ticket subnet-0a1.t.0123abcd');
    expect(srv.seen.map((s) => `${s.method} ${s.url}`)).toEqual(['POST /admit', 'POST /admit', 'POST /admit', 'DELETE /admit/subnet-0a1.t.0123abcd']);
  });

  it('a deadline the exporter calls past while waiting (its clock ahead) is "not in time" (1), not an error (2)', async () => {
    const srv = await exporter((req, n) =>
      req.method === 'DELETE'
        ? { status: 200, body: { withdrawn: true } }
        : n === 1
          ? wait({ retry_after_seconds: 60, eta_seconds: 600, ticket: 'subnet-0a1.t.99aa' })
          : { status: 400, body: { error: 'deadline 2026-04-09T07:05:00.000Z is in the past', field: 'deadline' } },
    );
    const v = virtualIo();
    const code = await runAdmit({ url: srv.url, subnet: 'critical', workers: 10, deadline: '2026-04-09T07:05:00Z' }, v.io);
    expect(code).toBe(EXIT_TIMEOUT);
    expect(v.err.at(-2)).toMatch(
      /^admit: not admitted after 60 s and 2 pokes \(deadline 2026-04-09T07:05:00\.000Z\); last answer: HTTP 400: deadline .* is in the past$/,
    );
    expect(v.err.at(-1)).toBe('admit: withdrew ticket subnet-0a1.t.99aa');
  });

  it('gives up at its timeout when the exporter stays unreachable, saying how many pokes failed', async () => {
    const port = await freePort();
    const v = virtualIo();
    const code = await runAdmit(
      { url: `http://127.0.0.1:${port}`, subnet: 'critical', workers: 10, pokeIntervalSeconds: 60, timeoutSeconds: 150 },
      v.io,
    );
    expect(code).toBe(EXIT_TIMEOUT);
    // Pokes at 0, 60 and 120 s: the next (180 s) would land past the timeout, so none is squeezed in at 150 s.
    expect(v.sleeps).toEqual([60_000, 60_000]);
    expect(v.err.at(-1)).toMatch(
      /^admit: not admitted after 120 s and 3 pokes \(timeout 150 s\); 3 poke\(s\) failed \(exporter unreachable or unavailable\); last answer: .*unreachable \(ECONNREFUSED\)$/,
    );
  });

  it("pokes as often as docs/backtest.md's sensor: every 60 s for 600 s is 11 pokes, the last at 600 s", async () => {
    const srv = await exporter(() => wait({ retry_after_seconds: 60 }));
    const v = virtualIo();
    const code = await runAdmit({ url: srv.url, subnet: 'critical', workers: 10, timeoutSeconds: 600 }, v.io);
    expect(code).toBe(EXIT_TIMEOUT);
    expect(srv.seen).toHaveLength(11);
    expect(v.sleeps).toEqual(Array(10).fill(60_000));
    expect(v.err.at(-1)).toMatch(/^admit: not admitted after 600 s and 11 pokes \(timeout 600 s\); last answer: free 17/);
  });

  it('exits 2 without a request on --workers 0 and on --subnet with --job (which one was meant is a guess)', async () => {
    const srv = await exporter(() => admitted);
    const zero = virtualIo();
    expect(await runAdmit({ url: srv.url, subnet: 'critical', workers: 0 }, zero.io)).toBe(EXIT_ERROR);
    expect(zero.err).toEqual(['admit: --workers must be a positive integer, got 0']);
    const both = virtualIo();
    expect(await runAdmit({ url: srv.url, subnet: 'critical', job: 'nightly' }, both.io)).toBe(EXIT_ERROR);
    expect(both.err).toEqual(['admit: give --subnet or --job, not both (a job stands for the subnet it lands in)']);
    expect(srv.seen).toHaveLength(0);
  });

  it('as a command: --workers 0 is bad input, exit 2 (1 would mean "gave up at the timeout")', async () => {
    const srv = await exporter(() => admitted);
    const child = spawn(process.execPath, [CLI, 'admit', '--url', srv.url, '--subnet', 'critical', '--workers', '0'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(EXIT_ERROR);
    expect(err).toContain('--workers must be a positive integer');
    expect(srv.seen).toHaveLength(0);
  }, 20_000);

  it('exits 2 at once on errors a retry cannot fix: a 400 naming the field, an unknown subnet, both deadline forms', async () => {
    const srv = await exporter((req) =>
      req.body.subnet === 'nope'
        ? { status: 404, body: { error: 'unknown subnet "nope"' } }
        : { status: 400, body: { error: 'workers must be a positive integer', field: 'workers' } },
    );
    const bad = virtualIo();
    expect(await runAdmit({ url: srv.url, subnet: 'critical', workers: 10 }, bad.io)).toBe(EXIT_ERROR);
    expect(bad.err).toEqual(['admit: HTTP 400: workers must be a positive integer (field workers)']);
    const unknown = virtualIo();
    expect(await runAdmit({ url: srv.url, subnet: 'nope', workers: 10 }, unknown.io)).toBe(EXIT_ERROR);
    expect(unknown.err).toEqual(['admit: HTTP 404: unknown subnet "nope"']);
    expect(bad.sleeps.length + unknown.sleeps.length).toBe(0);
    expect(srv.seen).toHaveLength(2);

    const both = virtualIo();
    expect(await runAdmit({ url: srv.url, subnet: 'critical', workers: 1, deadline: '2026-04-09T09:00:00Z', maxWaitSeconds: 60 }, both.io)).toBe(
      EXIT_ERROR,
    );
    expect(both.err).toEqual(['admit: give --deadline or --max-wait, not both']);
    const zoneless = virtualIo();
    expect(await runAdmit({ url: srv.url, subnet: 'critical', workers: 1, deadline: '2026-04-09T09:00:00' }, zoneless.io)).toBe(EXIT_ERROR);
    expect(zoneless.err[0]).toContain('--deadline: expected an ISO 8601 time with a zone');
    expect(srv.seen).toHaveLength(2);
  });

  it('as a command: waits per retry_after_seconds with the ETA on stderr, then prints the admission (dist/cli.js)', async () => {
    const srv = await exporter((_req, n) => (n === 1 ? wait({ retry_after_seconds: 1, eta_seconds: 30, queue_position: 1, ahead: 0 }) : admitted));
    const child = spawn(
      process.execPath,
      [CLI, 'admit', '--url', srv.url, '--subnet', 'critical', '--workers', '10', '--max-wait', '120', '--client-id', 'shell-42'],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GLUE_ENI_ADMIT_TOKEN: 'sekret' } },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(err).toContain('admit: waiting (poke 1): ETA ~30 s, queue position 1 (0 ahead); next poke in 1 s');
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ admit: true });
    expect(srv.seen.map((s) => s.body.client_id)).toEqual(['shell-42', 'shell-42']);
    expect(srv.seen[0]!.body.max_wait_seconds).toBe(120);
    expect(srv.seen[0]!.authorization).toBe('Bearer sekret');
  }, 20_000);
});

describe("admit client against the exporter's own /admit", () => {
  const TOKEN = 'a-token-of-sixteen-chars';
  const A = 'subnet-0a';
  const cache = new SnapshotCache();
  let dir: string;
  let store: FileStore;
  let app: Awaited<ReturnType<typeof startAdmitApp>>;
  const full = () => cache.set(snapshotOf([subnetView({ subnetId: A, name: 'critical', inUse: 45, lingering: 0 })]));
  const roomy = () => cache.set(snapshotOf([subnetView({ subnetId: A, name: 'critical', inUse: 5, lingering: 0 })]));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'glue-eni-admit-cli-'));
    const config = parseConfig({ subnets: [{ id: A, name: 'critical' }], dataDir: dir, admission: { token: TOKEN } }, {});
    store = await FileStore.open({ dataDir: dir, clock: { now: () => Date.now() }, logger: silentLogger });
    app = await startAdmitApp({ cache, config, store });
  });
  afterAll(async () => {
    await app.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('pokes until admitted, then prints the reservation and exits 0', async () => {
    full();
    let n = 0;
    const v = virtualIo(() => {
      if (++n === 2) roomy();
    });
    const code = await runAdmit({ url: app.url, subnet: 'critical', workers: 10, dagRunId: 'd1', token: TOKEN, timeoutSeconds: 600 }, v.io);
    expect(code).toBe(EXIT_ADMITTED);
    expect(v.err.filter((l) => l.includes('waiting'))).toHaveLength(2);
    // The exporter's queue answers: one ticket (the dag_run_id's), at the head.
    expect(v.err[0]).toMatch(
      /^admit: waiting \(poke 1\): (ETA ~\d+ (s|min)|no admission predicted within the forecast horizon), queue position 1 \(0 ahead\); next poke in \d+ s: /,
    );
    const printed = JSON.parse(v.out[0]!) as Record<string, unknown>;
    expect(printed).toMatchObject({ admit: true, subnet_id: A, workers: 10, dag_run_id: 'd1' });
    expect(printed.reservation_id).toMatch(/^subnet-0a\./);
  });

  it('gives up loud at the timeout with the last reason (exit 1)', async () => {
    full();
    const v = virtualIo();
    const code = await runAdmit({ url: app.url, subnet: A, workers: 10, token: TOKEN, timeoutSeconds: 600 }, v.io);
    expect(code).toBe(EXIT_TIMEOUT);
    expect(v.err.at(-2)).toMatch(
      /not admitted after 600 s and \d+ pokes \(timeout 600 s\); last answer: free 14 − reserved 10 < workers 10 \+ buffer 10/,
    );
    // Its place in the queue is given back through the exporter's own DELETE.
    expect(v.err.at(-1)).toMatch(/^admit: withdrew ticket subnet-0a\.t\.[0-9a-f]+$/);
    expect(v.sleeps.reduce((a, b) => a + b, 0)).toBe(600_000);
  });

  it('exits 2 on an unknown subnet and on a missing token', async () => {
    roomy();
    const bad = virtualIo();
    expect(await runAdmit({ url: app.url, subnet: 'nope', workers: 1, token: TOKEN }, bad.io)).toBe(EXIT_ERROR);
    expect(bad.err[0]).toMatch(/HTTP 404: subnet "nope" is not watched \(field subnet\)/);
    const noToken = virtualIo();
    expect(await runAdmit({ url: app.url, subnet: A, workers: 1 }, noToken.io)).toBe(EXIT_ERROR);
    expect(noToken.err[0]).toMatch(/HTTP 401/);
  });
});
