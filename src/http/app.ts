// The read side: every route answers from the cache; none calls AWS.
import express, { type ErrorRequestHandler, type Router } from 'express';
import type { Registry } from 'prom-client';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { OFFERED_TYPES, renderMetrics } from '../metrics/exposition.js';
import type { SubnetAdmissionStatus } from '../admission/service.js';
import type { SnapshotCache } from '../snapshot/cache.js';
import type { SnapshotHistory } from '../snapshot/history.js';
import { BODY_LIMIT, BODY_LIMIT_BYTES } from './admit.js';
import { type LandingLinks, landingPage } from './landing.js';
import { admissionSummary, eniList, snapshotHeader, subnetSummary } from './views.js';

export interface AppDeps {
  cache: SnapshotCache;
  registry: Registry;
  clock: Clock;
  logger: Logger;
  /** Read at each request so that a config reload takes effect. */
  maxAgeSeconds: () => number;
  version: string;
  /** Admission state per subnet, from memory (the landing page and /api/subnets/<id>). */
  admissionStatus?: () => readonly SubnetAdmissionStatus[];
  /** ENI counts over the last hours, for the landing page's chart. */
  history?: SnapshotHistory;
  /** Read at each request so that a config reload takes effect. */
  links?: () => LandingLinks;
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
    const maxAge = deps.maxAgeSeconds();
    const reason = cache.staleReason(maxAge);
    const ageField = { age_seconds: age === undefined ? null : Number(age.toFixed(3)) };
    // Several targets: ready while one is fresh; the body names the stale ones (their subnets' /admit answers 503).
    const stale =
      cache.targets().length > 1
        ? { stale_targets: cache.staleTargets(maxAge).map((t) => ({ target: t.key, account: t.account, region: t.region, reason: t.reason })) }
        : {};
    if (reason) res.status(503).json({ status: 'not ready', reason, ...ageField, ...stale });
    else res.json({ status: 'ready', ...ageField, ...stale });
  });

  app.get('/api/subnets', (_req, res) => {
    const snap = cache.current();
    if (!snap) {
      res.status(503).json({ error: 'no successful sample yet' });
      return;
    }
    const age = cache.ageSeconds();
    const maxAge = deps.maxAgeSeconds();
    res.json({
      ...snapshotHeader(snap, age, cache.isFresh(maxAge)),
      targets: cache.targets().map((t) => ({
        target: t.key,
        account: t.account,
        region: t.region,
        age_seconds: t.ageSeconds === undefined ? null : Number(t.ageSeconds.toFixed(3)),
        fresh: t.ageSeconds !== undefined && t.ageSeconds <= maxAge,
        last_failure: t.failure ? `${t.failure.api}: ${t.failure.message}` : null,
      })),
      subnets: snap.subnets.map(subnetSummary),
    });
  });
  /** The snapshot and the subnet a request names, or undefined after answering 503 or 404. */
  const subnetOf = (req: express.Request, res: express.Response) => {
    const snap = cache.current();
    if (!snap) {
      res.status(503).json({ error: 'no successful sample yet' });
      return undefined;
    }
    const key = String(req.params.id);
    const subnet = cache.subnet(key);
    if (!subnet) {
      res.status(404).json({ error: `subnet ${JSON.stringify(key)} is not watched (no watched subnet has this id or name)`, field: 'id' });
      return undefined;
    }
    // Age and freshness of the subnet's own target.
    const age = cache.subnetAgeSeconds(subnet.subnetId);
    return { snap, subnet, header: snapshotHeader(snap, age, cache.subnetStaleReason(subnet.subnetId, deps.maxAgeSeconds()) === undefined) };
  };
  app.get('/api/subnets/:id', (req, res) => {
    const found = subnetOf(req, res);
    if (!found) return;
    const a = deps.admissionStatus?.().find((x) => x.subnetId === found.subnet.subnetId);
    // The admission preview is read from memory: this call records, reserves and enqueues nothing.
    res.json({ ...found.header, ...subnetSummary(found.subnet), admission: a ? admissionSummary(a) : null });
  });
  app.get('/api/subnets/:id/enis', (req, res) => {
    const found = subnetOf(req, res);
    if (!found) return;
    res.json({
      ...found.header,
      subnet_id: found.subnet.subnetId,
      subnet: found.subnet.name,
      account: found.subnet.account,
      region: found.subnet.region,
      enis: eniList(found.subnet, deps.clock.now()),
    });
  });
  app.all(['/api/subnets', '/api/subnets/:id', '/api/subnets/:id/enis', '/-/healthy', '/-/ready'], methodNotAllowed('GET'));

  app.get('/', (_req, res) => {
    const history = deps.history;
    const page = landingPage({
      snap: cache.current(),
      ageSeconds: cache.ageSeconds(),
      version: deps.version,
      now: deps.clock.now(),
      staleReason: cache.staleReason(deps.maxAgeSeconds()),
      staleTargets: cache.targets().length > 1 ? cache.staleTargets(deps.maxAgeSeconds()) : [],
      failure: cache.lastFailure(),
      admission: deps.admissionStatus?.() ?? [],
      history: (id) => history?.points(id) ?? [],
      historyWindowMs: history?.windowMs ?? 0,
      links: deps.links?.() ?? {},
    });
    // The page is a view of now: a cached copy would hide a stale banner.
    res.set('Cache-Control', 'no-store').type('html').send(page);
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
    const field = err instanceof URIError ? (/^\/api\/subnets\/[^/]*(\/enis)?\/?$/.test(req.path) ? 'id' : 'path') : 'request';
    res.status(status).json({ error: (err as Error).message, field });
  };
  app.use(onError);
  return app;
}
