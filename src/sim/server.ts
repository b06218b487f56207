// One loopback HTTP endpoint speaking both EC2 Query and Glue JSON 1.1, as AWS_ENDPOINT_URL expects.
// Signatures are accepted unchecked: clients use dummy credentials.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import type { VirtualClock } from './clock.js';
import { Ec2Error, ec2ErrorResponse, handleEc2 } from './ec2.js';
import type { FaultInjector } from './faults.js';
import { GlueError, glueErrorResponse, handleGlue } from './glue.js';
import type { World } from './model.js';
import type { WireResponse } from './wire.js';

const MAX_BODY = 1 << 20;

export interface SimServerDeps {
  world: World;
  clock: VirtualClock;
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

type Protocol = { kind: 'glue'; action: string; input: Record<string, unknown> } | { kind: 'ec2'; action: string; params: URLSearchParams };

function classify(req: IncomingMessage, body: string): Protocol | WireResponse {
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
  if (!action) return ec2ErrorResponse(new Ec2Error('MissingAction', 'The request must contain the parameter Action'), randomUUID());
  return { kind: 'ec2', action, params };
}

export function createSimServer(deps: SimServerDeps): Server {
  const { world, clock, faults, logger } = deps;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://sim');
    if (url.pathname.startsWith('/_sim/')) return control(req, res, url.pathname, body, deps);

    const proto = classify(req, body);
    if (!('kind' in proto)) return send(res, proto);
    const requestId = randomUUID();
    const latency = faults.latencyMs(proto.action);
    if (latency > 0) await sleep(latency);
    world.advanceTo(clock.now());

    const fault = faults.decide(proto.action);
    let response: WireResponse;
    if (fault) {
      logger.debug({ action: proto.action, fault }, 'sim: injected fault');
      if (proto.kind === 'ec2') {
        response =
          fault === 'throttle'
            ? ec2ErrorResponse(new Ec2Error('RequestLimitExceeded', 'Request limit exceeded.', 503), requestId)
            : ec2ErrorResponse(new Ec2Error('InternalError', 'An internal error has occurred', 500), requestId);
      } else {
        response =
          fault === 'throttle'
            ? glueErrorResponse(new GlueError('ThrottlingException', 'Rate exceeded', 400), requestId)
            : glueErrorResponse(new GlueError('InternalServiceException', 'An internal service error occurred', 500), requestId);
      }
    } else if (proto.kind === 'ec2') {
      try {
        response = handleEc2(world, proto.action, proto.params, requestId);
      } catch (err) {
        if (!(err instanceof Ec2Error)) throw err;
        response = ec2ErrorResponse(err, requestId);
      }
    } else {
      try {
        response = handleGlue(world, proto.action, proto.input, requestId);
      } catch (err) {
        if (!(err instanceof GlueError)) throw err;
        response = glueErrorResponse(err, requestId);
      }
    }
    logger.debug({ protocol: proto.kind, action: proto.action, status: response.status }, 'sim: request');
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

/** Small JSON control surface: state for people and scripts, faults switchable at runtime. */
function control(req: IncomingMessage, res: ServerResponse, path: string, body: string, deps: SimServerDeps): void {
  const json = (status: number, value: unknown) =>
    send(res, { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) });
  deps.world.advanceTo(deps.clock.now());
  if (path === '/_sim/state' && req.method === 'GET') {
    const enis = deps.world.networkInterfaces();
    return json(200, {
      now: new Date(deps.world.now()).toISOString(),
      speed: deps.clock.speed,
      faults: deps.faults.get(),
      subnets: deps.world.subnets().map((s) => ({
        id: s.SubnetId,
        name: s.name,
        cidr: s.CidrBlock,
        usable: s.usable,
        free: s.AvailableIpAddressCount,
        inUse: enis.filter((e) => e.SubnetId === s.SubnetId && e.Status === 'in-use').length,
        available: enis.filter((e) => e.SubnetId === s.SubnetId && e.Status === 'available').length,
      })),
      dueLaunches: deps.world.dueLaunches(),
    });
  }
  if (path === '/_sim/faults' && req.method === 'POST') {
    try {
      return json(200, deps.faults.set(JSON.parse(body || '{}')));
    } catch (err) {
      return json(400, { error: (err as Error).message });
    }
  }
  return json(404, { error: `no such control endpoint: ${req.method} ${path}` });
}
