// The server around the app: requests and responses born with the app's prototypes, so that express's swap of
// them (Object.setPrototypeOf on every request) changes nothing.
import express from 'express';
import { IncomingMessage, type RequestListener, ServerResponse } from 'node:http';
import { Agent, request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { captureLogger } from '../../test/helpers/log-capture.js';
import { type HttpServer, serveHttp } from './serve.js';

let running: HttpServer | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

/** An express app behind a listener that records each request's and response's prototypes as they arrive. */
function recordingApp(): { app: express.Express; listener: RequestListener; seen: { req: object | null; res: object | null }[] } {
  const app = express();
  app.get('/n/:n', (req, res) => {
    res.json({ n: Number(req.params.n), path: req.path, query: req.query });
  });
  const seen: { req: object | null; res: object | null }[] = [];
  const listener: RequestListener = (req, res) => {
    seen.push({ req: Object.getPrototypeOf(req), res: Object.getPrototypeOf(res) });
    app(req, res);
  };
  return { app, listener, seen };
}

/** `count` GETs in turn on one kept-alive connection; their statuses and bodies. */
async function getAll(port: number, count: number): Promise<{ status: number; body: unknown; sockets: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const sockets = new Set<unknown>();
  let last: { status: number; body: unknown } = { status: 0, body: null };
  try {
    for (let i = 0; i < count; i++) {
      last = await new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: `/n/${i}?q=${i}`, agent }, (res) => {
          sockets.add(res.socket);
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
        });
        req.on('error', reject);
        req.end();
      });
    }
  } finally {
    agent.destroy();
  }
  return { ...last, sockets: sockets.size };
}

describe('serveHttp', () => {
  it("hands the app requests and responses already carrying its prototypes, and they behave as Node's", async () => {
    const { app, listener, seen } = recordingApp();
    const { logger } = captureLogger('warn');
    running = await serveHttp(listener, { host: '127.0.0.1', port: 0, logger, prototypes: { request: app.request, response: app.response } });
    const port = (running.server.address() as { port: number }).port;

    const out = await getAll(port, 30);
    expect(out).toEqual({ status: 200, body: { n: 29, path: '/n/29', query: { q: '29' } }, sockets: 1 });
    expect(seen).toHaveLength(30);
    for (const s of seen) {
      expect(s.req).toBe(app.request);
      expect(s.res).toBe(app.response);
    }
    // Still Node's classes underneath: what checks `instanceof` (and express's own methods) keeps working.
    expect(Object.create(app.request)).toBeInstanceOf(IncomingMessage);
    expect(Object.create(app.response)).toBeInstanceOf(ServerResponse);
  });

  it("leaves Node's own classes without prototypes to give", async () => {
    const { listener, seen } = recordingApp();
    const { logger } = captureLogger('warn');
    running = await serveHttp(listener, { host: '127.0.0.1', port: 0, logger });
    const port = (running.server.address() as { port: number }).port;

    expect(await getAll(port, 3)).toEqual({ status: 200, body: { n: 2, path: '/n/2', query: { q: '2' } }, sockets: 1 });
    expect(seen.map((s) => [s.req, s.res])).toEqual(Array(3).fill([IncomingMessage.prototype, ServerResponse.prototype]));
  });
});
