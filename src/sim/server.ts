// One loopback HTTP endpoint speaking EC2 Query, Glue JSON 1.1 and STS Query, as AWS_ENDPOINT_URL expects.
// Signatures are accepted unchecked (clients use dummy credentials); the access key and the region of the SigV4
// credential scope pick the world that answers (see router.ts).
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import type { VirtualClock } from './clock.js';
import { Ec2Error, ec2ErrorResponse, handleEc2 } from './ec2.js';
import type { FaultInjector, FaultKind } from './faults.js';
import { GlueError, glueErrorResponse, handleGlue } from './glue.js';
import type { SimRouter, SimWorld } from './router.js';
import { EXPIRED_TOKEN_MESSAGE, signingScope, StsError, stsErrorResponse } from './sts.js';
import type { WireResponse } from './wire.js';

const MAX_BODY = 1 << 20;
/** Query actions that are STS's, whatever the credential scope says (an unsigned call, say). */
const STS_ACTIONS = new Set(['AssumeRole', 'GetCallerIdentity']);

export interface SimServerDeps {
  router: SimRouter;
  clock: VirtualClock;
  /** Faults for every request, beside each world's own. */
  faults: FaultInjector;
  logger: Logger;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error('request body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, r: WireResponse): void {
  res.writeHead(r.status, { ...r.headers, 'content-length': Buffer.byteLength(r.body) });
  res.end(r.body);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Protocol = { kind: 'glue'; action: string; input: Record<string, unknown> } | { kind: 'ec2' | 'sts'; action: string; params: URLSearchParams };

function classify(req: IncomingMessage, body: string, service: string | undefined): Protocol | WireResponse {
  const target = req.headers['x-amz-target'];
  if (typeof target === 'string') {
    const m = /^AWSGlue\.(\w+)$/.exec(target);
    if (!m) return glueErrorResponse(new GlueError('UnknownOperationException', `Unknown target ${target}`), randomUUID());
    let input: unknown = {};
    if (body.trim() !== '') {
      try {
        input = JSON.parse(body);
      } catch {
        return glueErrorResponse(new GlueError('SerializationException', 'Request body is not valid JSON'), randomUUID());
      }
    }
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      return glueErrorResponse(new GlueError('SerializationException', 'Request body must be a JSON object'), randomUUID());
    }
    return { kind: 'glue', action: m[1], input: input as Record<string, unknown> };
  }
  const url = new URL(req.url ?? '/', 'http://sim');
  const params = new URLSearchParams(url.search);
  if (req.method === 'POST') for (const [k, v] of new URLSearchParams(body)) params.append(k, v);
  const action = params.get('Action');
  const sts = service === 'sts' || (action !== null && STS_ACTIONS.has(action));
  if (!action) {
    return sts
      ? stsErrorResponse(new StsError('MissingAction', 'Missing Action'), randomUUID())
      : ec2ErrorResponse(new Ec2Error('MissingAction', 'The request must contain the parameter Action'), randomUUID());
  }
  return { kind: sts ? 'sts' : 'ec2', action, params };
}

/** The error a service answers for an injected fault. */
function faultResponse(kind: Protocol['kind'], fault: FaultKind, requestId: string): WireResponse {
  const throttle = fault === 'throttle';
  switch (kind) {
    case 'ec2':
      return throttle
        ? ec2ErrorResponse(new Ec2Error('RequestLimitExceeded', 'Request limit exceeded.', 503), requestId)
        : ec2ErrorResponse(new Ec2Error('InternalError', 'An internal error has occurred', 500), requestId);
    case 'glue':
      return throttle
        ? glueErrorResponse(new GlueError('ThrottlingException', 'Rate exceeded', 400), requestId)
        : glueErrorResponse(new GlueError('InternalServiceException', 'An internal service error occurred', 500), requestId);
    case 'sts':
      return throttle
        ? stsErrorResponse(new StsError('Throttling', 'Rate exceeded', 400), requestId)
        : stsErrorResponse(new StsError('InternalFailure', 'An internal error occurred', 500, 'Receiver'), requestId);
  }
}

/** Each service's own answer to a request signed with temporary credentials past their Expiration. */
function expiredResponse(kind: 'ec2' | 'glue', requestId: string): WireResponse {
  return kind === 'ec2'
    ? ec2ErrorResponse(new Ec2Error('RequestExpired', 'Request has expired.', 400), requestId)
    : glueErrorResponse(new GlueError('ExpiredTokenException', EXPIRED_TOKEN_MESSAGE, 400), requestId);
}

function answer(
  proto: Protocol,
  target: SimWorld | undefined,
  deps: SimServerDeps,
  accessKeyId: string | undefined,
  requestId: string,
): WireResponse {
  try {
    switch (proto.kind) {
      case 'sts':
        return deps.router.sts.handle(proto.action, proto.params, accessKeyId, requestId);
      case 'ec2':
        return handleEc2(target!.world, proto.action, proto.params, requestId);
      case 'glue':
        return handleGlue(target!.world, proto.action, proto.input, requestId);
    }
  } catch (err) {
    if (err instanceof StsError) return stsErrorResponse(err, requestId);
    if (err instanceof Ec2Error) return ec2ErrorResponse(err, requestId);
    if (err instanceof GlueError) return glueErrorResponse(err, requestId);
    throw err;
  }
}

export function createSimServer(deps: SimServerDeps): Server {
  const { router, clock, faults, logger } = deps;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://sim');
    if (url.pathname.startsWith('/_sim/')) return control(req, res, url, body, deps);

    const scope = signingScope(req.headers.authorization, url.searchParams);
    const proto = classify(req, body, scope.service);
    if (!('kind' in proto)) return send(res, proto);
    const requestId = randomUUID();

    let target: SimWorld | undefined;
    if (proto.kind !== 'sts') {
      const caller = router.sts.lookup(scope.accessKeyId);
      if (caller.expired) return send(res, expiredResponse(proto.kind, requestId));
      target = router.route(caller.account, scope.region);
    }
    router.count(target?.key ?? 'sts', proto.action);
    const latency = faults.latencyMs(proto.action) + (target?.faults?.latencyMs(proto.action) ?? 0);
    if (latency > 0) await sleep(latency);
    target?.world.advanceTo(clock.now());

    const fault = target?.faults?.decide(proto.action) ?? faults.decide(proto.action);
    let response: WireResponse;
    if (fault) {
      logger.debug({ action: proto.action, world: target?.key, fault }, 'sim: injected fault');
      response = faultResponse(proto.kind, fault, requestId);
    } else response = answer(proto, target, deps, scope.accessKeyId, requestId);
    logger.debug({ protocol: proto.kind, action: proto.action, world: target?.key, status: response.status }, 'sim: request');
    send(res, response);
  };

  return createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      logger.error({ err }, 'sim: request failed');
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error');
      } else res.destroy();
    });
  });
}

/**
 * Small JSON control surface: state for people and scripts, faults switchable at runtime. `?account=&region=`
 * picks a world (each defaults to the top level's); without them, the top-level world and the global faults.
 */
function control(req: IncomingMessage, res: ServerResponse, url: URL, body: string, deps: SimServerDeps): void {
  const json = (status: number, value: unknown) =>
    send(res, { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) });
  const { router } = deps;
  const account = url.searchParams.get('account');
  const region = url.searchParams.get('region');
  const picked = account !== null || region !== null;
  const target = router.find(account, region);
  if (!target) {
    return json(404, {
      error: `no world for account ${account ?? router.scenario.account}, region ${region ?? router.scenario.region}; worlds: ${[...router.worlds.keys()].join(', ')}`,
    });
  }
  const path = url.pathname;
  router.advanceAll(deps.clock.now());
  if (path === '/_sim/state' && req.method === 'GET') {
    const world = target.world;
    const enis = world.networkInterfaces();
    return json(200, {
      now: new Date(world.now()).toISOString(),
      speed: deps.clock.speed,
      account: target.account,
      region: target.region,
      faults: picked ? router.faultsOf(target).get() : deps.faults.get(),
      subnets: world.subnets().map((s) => ({
        id: s.SubnetId,
        name: s.name,
        cidr: s.CidrBlock,
        usable: s.usable,
        free: s.AvailableIpAddressCount,
        inUse: enis.filter((e) => e.SubnetId === s.SubnetId && e.Status === 'in-use').length,
        available: enis.filter((e) => e.SubnetId === s.SubnetId && e.Status === 'available').length,
      })),
      dueLaunches: world.dueLaunches(),
      worlds: [...router.worlds.values()].map((w) => ({ key: w.key, account: w.account, region: w.region })),
      sts: { assumeRole: router.sts.assumeRoleCount },
      requests: router.requestCounts(),
    });
  }
  if (path === '/_sim/faults' && req.method === 'POST') {
    try {
      const update = JSON.parse(body || '{}');
      return json(200, picked ? router.faultsOf(target).set(update) : deps.faults.set(update));
    } catch (err) {
      return json(400, { error: (err as Error).message });
    }
  }
  return json(404, { error: `no such control endpoint: ${req.method} ${path}` });
}
