// The read side: every route answers from the cache; none calls AWS.
import express, { type ErrorRequestHandler, type Router } from 'express';
import type { Registry } from 'prom-client';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { OFFERED_TYPES, renderMetrics } from '../metrics/exposition.js';
import type { SnapshotCache } from '../snapshot/cache.js';
import { BODY_LIMIT, BODY_LIMIT_BYTES } from './admit.js';
import { landingPage } from './landing.js';
import { eniList, snapshotHeader, subnetSummary } from './views.js';

export interface AppDeps {
  cache: SnapshotCache;
  registry: Registry;
  clock: Clock;
  logger: Logger;
  /** Read at each request so that a config reload takes effect. */
  maxAgeSeconds: () => number;
  version: string;
  /** Extra routers (admission) mounted before the 404 fallback. */
  routers?: Router[];
}

export function createApp(deps: AppDeps): express.Express {
  const { cache } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use((req, res, next) => {
    // One line per request at debug level. The path only: a query string may carry what a caller should not have
    // put there (a token); cut short, so that a hostile path cannot flood the log.
    if (deps.logger.isLevelEnabled('debug')) {
      const t0 = performance.now();
      res.once('finish', () =>
        deps.logger.debug(
          { method: req.method, path: req.path.slice(0, 256), status: res.statusCode, ms: Math.round(performance.now() - t0) },
          'request',
        ),
      );
    }
    // No route takes a body over the limit. Refuse a larger declared one before reading a byte of it, and close the
    // connection rather than drain the rest: a client cannot hold the socket by announcing gigabytes.
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > BODY_LIMIT_BYTES) {
      res.set('Connection', 'close');
      res.status(413).json({
        error: `body of ${declared} bytes (Content-Length) is larger than the ${BODY_LIMIT} limit (${BODY_LIMIT_BYTES} bytes)`,
        field: 'body',
      });
      return;
    }
    next();
  });

  const methodNotAllowed =
    (allow: string): express.RequestHandler =>
    (req, res) => {
      res
        .status(405)
        .set('Allow', allow)
        .json({ error: `method ${req.method} not allowed on ${req.path}; use ${allow}` });
    };

  app.get('/metrics', async (req, res, next) => {
    try {
      const { contentType, body } = await renderMetrics(deps.registry, req.accepts([...OFFERED_TYPES]));
      res.vary('Accept').type(contentType).send(body);
    } catch (err) {
      next(err);
    }
  });
  app.all('/metrics', methodNotAllowed('GET'));

  app.get('/-/healthy', (_req, res) => {
    res.json({ status: 'healthy' });
  });
  app.get('/-/ready', (_req, res) => {
    const age = cache.ageSeconds();
    const reason = cache.staleReason(deps.maxAgeSeconds());
    const ageField = { age_seconds: age === undefined ? null : Number(age.toFixed(3)) };
    if (reason) res.status(503).json({ status: 'not ready', reason, ...ageField });
    else res.json({ status: 'ready', ...ageField });
  });

  app.get('/api/subnets', (_req, res) => {
    const snap = cache.current();
    if (!snap) {
      res.status(503).json({ error: 'no successful sample yet' });
      return;
    }
    const age = cache.ageSeconds();
    res.json({ ...snapshotHeader(snap, age, cache.isFresh(deps.maxAgeSeconds())), subnets: snap.subnets.map(subnetSummary) });
  });
  app.get('/api/subnets/:id/enis', (req, res) => {
    const snap = cache.current();
    if (!snap) {
      res.status(503).json({ error: 'no successful sample yet' });
      return;
    }
    const subnet = cache.subnet(req.params.id);
    if (!subnet) {
      res.status(404).json({ error: `subnet ${JSON.stringify(req.params.id)} is not watched`, field: 'id' });
      return;
    }
    res.json({
      ...snapshotHeader(snap, cache.ageSeconds(), cache.isFresh(deps.maxAgeSeconds())),
      subnet_id: subnet.subnetId,
      subnet: subnet.name,
      enis: eniList(subnet, deps.clock.now()),
    });
  });
  app.all(['/api/subnets', '/api/subnets/:id/enis', '/-/healthy', '/-/ready'], methodNotAllowed('GET'));

  app.get('/', (_req, res) => {
    res.type('html').send(landingPage(cache.current(), cache.ageSeconds(), deps.version));
  });

  for (const r of deps.routers ?? []) app.use(r);

  app.use((req, res) => {
    res.status(404).json({ error: `no route ${req.method} ${req.path}` });
  });
  const onError: ErrorRequestHandler = (err, req, res, _next) => {
    const status = typeof err?.status === 'number' && err.status >= 400 && err.status < 500 ? err.status : 500;
    if (status === 500) {
      deps.logger.error({ err: (err as Error).message, path: req.path }, 'request failed');
      res.status(500).json({ error: 'internal error' });
      return;
    }
    // A client error: name what was wrong. The router fails to decode a malformed %-escape in a path parameter.
    const field = err instanceof URIError ? (/^\/api\/subnets\/[^/]*\/enis\/?$/.test(req.path) ? 'id' : 'path') : 'request';
    res.status(status).json({ error: (err as Error).message, field });
  };
  app.use(onError);
  return app;
}
