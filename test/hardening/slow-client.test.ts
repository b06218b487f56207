// Slow and hostile HTTP clients over raw sockets. Against the real binary with its default limits: a huge declared
// body is refused at once, clients that drip their headers or body are cut off by the request timeout with a 408,
// and SIGTERM with a slow body still open ends the process, exit 0, within the shutdown deadline. In process, with
// short limits: the shutdown deadline cuts connections that the request timeout would not yet.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { HTTP_LIMITS } from '../../src/http/serve.js';
import { startExporter } from '../../src/server.js';
import { captureLogger } from '../helpers/log-capture.js';
import { freePort, rawConnection, rawRequest, simFixture, sleep, startServe, waitFor, waitReady, within } from './helpers.js';

/** Room for a loaded machine (2 cores, several test files at once) on top of every limit. */
const MARGIN_MS = 6_000;

const f = simFixture('hardening-slow');

const head = (method: string, path: string, headers: string) => `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers}`;

describe('the real binary with its default HTTP limits', () => {
  it('answers a huge Content-Length with 413 at once, cuts drip-feeders with 408, and exits 0 within the deadline after SIGTERM', async () => {
    const p = startServe({ config: f.config('serve'), port: await freePort() });
    f.procs.push(p);
    await waitReady(p);

    // A body announced as ~100 GB, on the route that reads bodies and on routes that do not: refused before a byte
    // of it is read, the limit named, the connection closed.
    for (const [method, path] of [
      ['POST', '/admit'],
      ['POST', '/-/healthy'],
      ['GET', '/metrics'],
    ]) {
      const c = rawConnection(p.url, head(method, path, 'Content-Type: application/json\r\nContent-Length: 99999999999\r\n\r\n{"subnet":'));
      const r = await within(`${method} ${path} with Content-Length 99999999999`, c.closed, 5_000);
      expect(r.status, r.text).toBe(413);
      expect(r.json).toMatchObject({ field: 'body', error: expect.stringContaining('4kb limit (4096 bytes)') });
      expect(r.ms).toBeLessThan(2_000);
    }

    // Drip-feeders: a body of 100 declared bytes sent one byte every 500 ms, and headers that never end.
    const body = rawConnection(p.url, head('POST', '/admit', 'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"subnet":'));
    body.drip(' ', 500);
    const headers = rawConnection(p.url, head('GET', '/metrics', ''));
    headers.drip('X-Slow: 1\r\n', 500);
    // Meanwhile everyone else is served.
    for (let i = 0; i < 5; i++) {
      const t0 = Date.now();
      expect((await rawRequest(p.url, { method: 'GET', path: '/-/healthy' }, 3_000)).status).toBe(200);
      expect(Date.now() - t0).toBeLessThan(2_000);
      await sleep(500);
    }
    const limit = HTTP_LIMITS.requestTimeoutMs;
    for (const [what, c] of [
      ['dripped body', body],
      ['dripped headers', headers],
    ] as const) {
      const r = await within(what, c.closed, limit + MARGIN_MS);
      expect(r.status, `${what}: ${r.text}`).toBe(408);
      expect(r.json, what).toMatchObject({ field: 'request', error: `request not received within ${limit / 1000} s` });
      expect(r.ms, what).toBeGreaterThanOrEqual(limit - 100);
      console.log(`${what}: 408 after ${r.ms} ms (request timeout ${limit} ms)`);
    }

    // A slow body still open when SIGTERM arrives: the process exits 0 within the shutdown deadline.
    const slow = rawConnection(p.url, head('POST', '/admit', 'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n0123456789'));
    await sleep(300);
    const t0 = Date.now();
    p.child.kill('SIGTERM');
    const exit = await within('exit after SIGTERM', p.exited, HTTP_LIMITS.shutdownDeadlineMs + MARGIN_MS);
    const ms = Date.now() - t0;
    console.log(`SIGTERM with a slow body open: exit ${exit.code} after ${ms} ms (deadline ${HTTP_LIMITS.shutdownDeadlineMs} ms)`);
    expect(exit).toEqual({ code: 0, signal: null });
    expect((await within('slow client closed', slow.closed, 1_000)).ms).toBeGreaterThan(0);
    expect(p.output()).toContain('exporter stopped');
  }, 90_000);
});

describe('shutdown deadline (in process, short limits)', () => {
  it('closes the connections still open when the deadline passes, and close() resolves', async () => {
    const { logger, lines } = captureLogger();
    const ex = await startExporter({
      config: parseConfig(
        {
          subnets: [{ id: 'subnet-0a1', name: 'critical' }],
          endpoints: { ec2: f.sim.url, glue: f.sim.url },
          region: 'us-east-1',
          dataDir: join(f.dir, 'inproc'),
          sample: { schedule: '0 0 1 1 *', maxAgeSeconds: 86_400 },
        },
        {},
      ),
      listen: '127.0.0.1:0',
      logger,
      // The request timeout far beyond the deadline: only the deadline can end these clients.
      httpLimits: { requestTimeoutMs: 120_000, headersTimeoutMs: 120_000, shutdownDeadlineMs: 500 },
    });
    f.closers.push(ex);
    expect(await ex.firstSample).toBe(true);
    const slowBody = rawConnection(ex.url, head('POST', '/admit', 'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n0123456789'));
    const slowHeaders = rawConnection(ex.url, head('GET', '/metrics', 'X-Slow: 1\r\n'));
    // A kept-alive connection between requests is closed at once, not at the deadline.
    const idle = rawConnection(ex.url, head('GET', '/-/healthy', '\r\n'));
    await waitFor('the kept-alive answer', () => (idle.socket.bytesRead > 0 ? true : undefined), 5_000);
    await sleep(100);

    const t0 = Date.now();
    const closing = ex.close();
    await within('the idle kept-alive connection closed at once', idle.closed, 400);
    await within('close()', closing, 500 + MARGIN_MS);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(450);
    // Cut, not answered: their requests never completed.
    for (const c of [slowBody, slowHeaders]) expect((await within('slow client closed', c.closed, 1_000)).status).toBeUndefined();
    expect(lines.find((l) => l.msg === 'shutdown deadline passed: closing the connections still open')).toMatchObject({
      connections: 2,
      deadline_seconds: 0.5,
    });
    expect(lines.at(-1)?.msg).toBe('exporter stopped');
  });
});
