// /admit over HTTP: GET with a query string (a plain HTTP sensor can poke it), POST with JSON, DELETE to
// release a reservation. A wait is a 200 with admit:false; bad input is a 4xx naming the field; data too old
// to trust is a 503. Only this router checks the token: /metrics and health stay open.
import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type ErrorRequestHandler, type RequestHandler, type Response, type Router } from 'express';
import { rateLimit } from 'express-rate-limit';
import { AdmitError } from '../admission/errors.js';
import type { AdmissionService, AdmitInput, AdmitResult } from '../admission/service.js';
import type { Config } from '../config/load.js';
import { ticketSubnet } from '../admission/types.js';
import { ADMIT_FIELDS, admitFields, parseAdmitRequest, type AdmitRequest } from './admit-input.js';
import type { Logger } from '../log.js';
import type { SnapshotCache } from '../snapshot/cache.js';

export interface AdmitRouterDeps {
  cache: SnapshotCache;
  config: Pick<Config, 'admission'>;
  service: AdmissionService;
  logger: Logger;
}

/** Requests are a handful of short fields; anything bigger is a mistake or an attack. */
export const BODY_LIMIT_BYTES = 4 * 1024;
export const BODY_LIMIT = `${BODY_LIMIT_BYTES / 1024}kb`;

const iso = (ms: number): string => new Date(ms).toISOString();
const round3 = (x: number): number => Math.round(x * 1000) / 1000;

export function admitResponse(r: AdmitResult): Record<string, unknown> {
  const d = r.decision;
  const body: Record<string, unknown> = {
    admit: d.admit,
    reason: d.reason,
    subnet_id: r.subnet.subnetId,
    subnet: r.subnet.name,
    // The subnet's target; null when the single-account form does not know its account.
    account: r.subnet.account || null,
    region: r.subnet.region || null,
    workers: d.workers,
    free: d.free,
    reserved: d.reserved,
    buffer: d.buffer,
    buffer_source: d.bufferSource,
    policy: d.policy,
    headroom_workers: d.headroom,
    window: d.window.map((e) => ({ observed_at: iso(e.observedAt), dag_run_id: e.dagRunId ?? null, value: e.value })),
    observed_at: iso(r.observation.observedAt),
    snapshot_age_seconds: round3(r.snapshotAgeSeconds),
  };
  if (r.observation.dagRunId !== undefined) body.dag_run_id = r.observation.dagRunId;
  if (r.reservation) {
    body.reservation_id = r.reservation.id;
    body.expires_at = iso(r.reservation.expiresAt);
  } else if (!d.admit) {
    body.retry_after_seconds = r.retryAfterSeconds;
  }
  const q = r.queue;
  if (q) {
    body.eta_seconds = q.etaSeconds;
    body.will_miss_deadline = q.willMissDeadline;
    body.ahead = q.ahead;
    if (q.position !== undefined) body.queue_position = q.position;
    if (q.ticket) body.ticket = q.ticket.id;
  }
  if (r.deadline !== undefined) body.deadline = iso(r.deadline);
  if (r.dryRun) body.dry_run = true;
  return body;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function sendError(res: Response, err: AdmitError, retryAfterSeconds = 60): void {
  if (err.status === 401) res.set('WWW-Authenticate', 'Bearer realm="admit"');
  if (err.status === 503) res.set('Retry-After', String(retryAfterSeconds));
  res.status(err.status).json({ error: err.message, ...(err.field ? { field: err.field } : {}), ...err.extra });
}

export function createAdmitRouter(deps: AdmitRouterDeps): Router {
  const { service, logger } = deps;
  const router = express.Router();
  // The token and the rate limit are read per request: a SIGHUP reload changes them in place.
  let cached: { token: string; digest: Buffer } | undefined;
  const expectedDigest = (): Buffer | undefined => {
    const token = deps.config.admission.token;
    if (token === undefined) return undefined;
    if (cached?.token !== token) cached = { token, digest: digest(token) };
    return cached.digest;
  };

  const auth: RequestHandler = (req, res, next) => {
    const expected = expectedDigest();
    if (!expected) return next();
    const header = req.get('authorization') ?? '';
    const m = /^Bearer\s+(.+)$/i.exec(header);
    // Equal-length digests, compared in constant time: neither the token nor its length leaks through timing.
    if (m && timingSafeEqual(digest(m[1].trim()), expected)) return next();
    service.countDecision('error');
    sendError(res, new AdmitError(401, m ? 'wrong bearer token' : 'missing bearer token (Authorization: Bearer <token>)', 'authorization'));
  };

  const perMinute = () => deps.config.admission.rateLimit?.requestsPerMinute;
  const limiter = rateLimit({
    windowMs: 60_000,
    limit: () => perMinute() ?? Number.MAX_SAFE_INTEGER,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    handler: (_req, res) => {
      service.countDecision('error');
      res.status(429).json({ error: `rate limit: at most ${perMinute()} /admit requests per minute per client` });
    },
  });
  // Off unless configured; ahead of the token check so that guessing tokens is limited too.
  const limit: RequestHandler = (req, res, next) => (perMinute() === undefined ? next() : limiter(req, res, next));

  const handlers: RequestHandler[] = [limit, auth];

  const decideAndAnswer = async (fields: AdmitRequest, res: Response): Promise<void> => {
    try {
      let input: AdmitInput;
      try {
        input = parseAdmitRequest(fields);
      } catch (err) {
        service.countDecision('error');
        throw err;
      }
      const out = await service.admit(input);
      if (!out.decision.admit) res.set('Retry-After', String(out.retryAfterSeconds));
      // A preview's answer is the same, but no cache may keep it for the real thing.
      if (out.dryRun) res.set('Cache-Control', 'no-store');
      res.status(200).json(admitResponse(out));
    } catch (err) {
      if (err instanceof AdmitError) return sendError(res, err, deps.config.admission.retryAfterSeconds);
      logger.error({ err: (err as Error).message }, '/admit failed');
      res.status(500).json({ error: 'internal error' });
    }
  };

  router.get('/admit', ...handlers, async (req, res) => {
    const q = req.query as Record<string, unknown>;
    // A repeated parameter arrives as an array: name it rather than pick one.
    for (const k of ADMIT_FIELDS) {
      if (Array.isArray(q[k])) {
        service.countDecision('error');
        return sendError(res, new AdmitError(400, `${k} must be given once`, k));
      }
    }
    await decideAndAnswer(admitFields(q), res);
  });

  router.post('/admit', ...handlers, express.json({ limit: BODY_LIMIT, type: () => true }), async (req, res) => {
    const b: unknown = req.body;
    if (b === null || typeof b !== 'object' || Array.isArray(b)) {
      service.countDecision('error');
      return sendError(res, new AdmitError(400, 'body must be a JSON object {subnet|job, workers, dag_run_id}', 'body'));
    }
    const o = b as Record<string, unknown>;
    await decideAndAnswer(admitFields(o), res);
  });

  router.delete('/admit/:reservation_id', ...handlers, async (req, res) => {
    const id = String(req.params.reservation_id);
    try {
      if (ticketSubnet(id) !== undefined) {
        const t = await service.withdraw(id);
        if (!t) return sendError(res, new AdmitError(404, `ticket ${JSON.stringify(id)} is unknown or no longer waiting`, 'ticket'));
        return res.json({ withdrawn: true, ticket: t.id, subnet_id: t.subnetId, workers: t.workers, enqueued_at: iso(t.enqueuedAt) });
      }
      const r = await service.release(id);
      if (!r) {
        return sendError(res, new AdmitError(404, `reservation ${JSON.stringify(id)} is unknown or no longer live`, 'reservation_id'));
      }
      res.json({
        released: true,
        reservation_id: r.id,
        subnet_id: r.subnetId,
        workers: r.workers,
        released_at: r.closedAt !== undefined ? iso(r.closedAt) : null,
      });
    } catch (err) {
      if (err instanceof AdmitError) return sendError(res, err);
      res.status(500).json({ error: 'internal error' });
    }
  });

  router.all(['/admit', '/admit/:reservation_id'], (req, res) => {
    const allow = req.path === '/admit' ? 'GET, POST' : 'DELETE';
    res
      .status(405)
      .set('Allow', allow)
      .json({ error: `method ${req.method} not allowed on ${req.path}; use ${allow}` });
  });

  // Body-parser and path-decoding failures, answered as JSON naming what was wrong.
  const onError: ErrorRequestHandler = (err, _req, res, next) => {
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.too.large') {
      service.countDecision('error');
      return sendError(res, new AdmitError(413, `body larger than ${BODY_LIMIT}`, 'body'));
    }
    if (e.type === 'entity.parse.failed') {
      service.countDecision('error');
      return sendError(res, new AdmitError(400, `body is not valid JSON: ${e.message ?? ''}`.trim(), 'body'));
    }
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      service.countDecision('error');
      // A malformed %-escape in /admit/<id>; an unsupported charset or content encoding; else the body itself.
      const field =
        err instanceof URIError
          ? 'reservation_id'
          : e.type === 'charset.unsupported'
            ? 'content-type'
            : e.type === 'encoding.unsupported'
              ? 'content-encoding'
              : 'body';
      return sendError(res, new AdmitError(e.status, e.message ?? 'bad request', field));
    }
    next(err);
  };
  router.use(onError);
  return router;
}
