// Hostile input against the real exporter: the AWS simulator behind the real SDK clients, a real port, and
// 10,000 generated requests (wrong types, huge and negative numbers, unicode, repeated parameters, malformed
// and oversized bodies, odd content types and encodings, wrong methods, unknown routes). Nothing may crash,
// nothing may answer 5xx, every 4xx is JSON that says what is wrong, and a rejected request never touches
// the admission ledger.
import { mkdtempSync, rmSync } from 'node:fs';
import { METHODS } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { startExporter, type RunningExporter } from '../../src/server.js';
import { startSimulator, type RunningSimulator } from '../../src/sim/index.js';
import { LOG_FILE } from '../../src/store/file.js';
import { parseExposition } from '../helpers/prom.js';
import { pool, rawRequest, readLedger, SCENARIO, useSimCredentials, type RawRequest, type RawResponse } from './helpers.js';

const SUBNETS = ['subnet-0a1', 'subnet-0b2', 'subnet-0c3'];
// Configured name, then the names the exporter learns from the Glue connections.
const NAMES = ['critical', 'glue-noncritical', 'glue-adhoc'];
const JOBS = ['reporting', 'aggregations', 'customer-analytics-daily', 'product-metrics-daily', 'backfill'];
const CONCURRENCY = 20;

let sim: RunningSimulator;
let exporter: RunningExporter;
let dataDir: string;
const reservationIds: string[] = [];

/** Per route and status, across every request sent. */
const tally = new Map<string, number>();
let sent = 0;

// ---- generators ---------------------------------------------------------------------------------------------

/** Percent-encode every byte (lone surrogates become U+FFFD, as a browser would send them). */
const pct = (s: string) => [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');

/** A query or path value: mostly encoded, sometimes raw ASCII including malformed escapes. */
type Piece = { raw: string } | { text: string };
const render = (p: Piece) => ('raw' in p ? p.raw : /^[A-Za-z0-9._-]*$/.test(p.text) ? p.text : pct(p.text));

const hostileText = fc.oneof(
  fc.constantFrom(...SUBNETS, ...NAMES, ...JOBS, 'subnet-0dead', 'SUBNET-0A1', ' critical', 'critical\n'),
  fc.constantFrom(
    '',
    ' ',
    '0',
    '-1',
    '-0',
    '1.5',
    '1e3',
    '0x10',
    'NaN',
    'Infinity',
    '-Infinity',
    'null',
    'true',
    '[]',
    '{}',
    '１２',
    '٣',
    '5 ',
    ' 7',
  ),
  fc.integer({ min: 1, max: 12 }).map(String),
  fc.integer().map(String),
  fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }).map(String),
  fc.double().map(String),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ maxLength: 300 }),
  fc.constant('x'.repeat(3000)),
  fc.constant('\u0000\u001b[31mFAKE LOG LINE\n'),
);
const hostileValue: fc.Arbitrary<Piece> = fc.oneof(
  { weight: 6, arbitrary: hostileText.map((text) => ({ text })) },
  { weight: 1, arbitrary: fc.constantFrom('%', '%zz', '%E0%A4%A', '%C0%80', '%FF', '+', '&', '=', '==', '[', ']', '%00').map((raw) => ({ raw })) },
);
const queryKey = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('subnet', 'job', 'workers', 'dag_run_id') },
  { weight: 1, arbitrary: fc.constantFrom('subnet[]', 'workers[0]', 'subnet[a]', '__proto__', 'constructor', 'Subnet', 'WORKERS', '') },
  { weight: 1, arbitrary: fc.string({ maxLength: 10 }) },
);
const queryString = fc
  .array(fc.tuple(queryKey, hostileValue, fc.boolean()), { maxLength: 6 })
  .map((pairs) => pairs.map(([k, v, withEq]) => (withEq || !('text' in v) ? `${render({ text: k })}=${render(v)}` : render({ text: k }))).join('&'));

const jsonScalar = fc.oneof(
  hostileText,
  fc.integer(),
  fc.integer({ min: 1, max: 12 }),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom(2 ** 53 + 1, 1e308, -1e308, -0, 0.5, -5, 0),
);
const jsonField = fc.oneof({ weight: 5, arbitrary: jsonScalar }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) });
const admitObject = fc.record(
  {
    subnet: jsonField,
    job: jsonField,
    workers: jsonField,
    dag_run_id: jsonField,
    extra: fc.jsonValue({ maxDepth: 2 }),
  },
  { requiredKeys: [] },
);

const contentType = fc.constantFrom(
  undefined,
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=----x',
  'application/octet-stream',
  '*/*',
  'garbage;;;=',
  'application/vnd.api+json',
);
const contentEncoding = fc.oneof(
  { weight: 8, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'x-unknown') },
);

type Body = { kind: string; data: Buffer };
/** A "__proto__" key as JSON text: an object literal would set the prototype instead of sending the key. */
const withProto = (json: string, on: boolean) =>
  !on ? json : json === '{}' ? '{"__proto__":{"admit":true}}' : json.replace(/^\{/, '{"__proto__":{"admit":true},');
const postBody: fc.Arbitrary<Body> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.tuple(admitObject, fc.boolean()).map(([o, proto]) => ({ kind: 'object', data: Buffer.from(withProto(JSON.stringify(o), proto)) })),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => ({ kind: 'json', data: Buffer.from(JSON.stringify(v) ?? 'null') })) },
  { weight: 1, arbitrary: admitObject.map((o) => ({ kind: 'truncated', data: Buffer.from(JSON.stringify(o).slice(0, -1)) })) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }).map((s) => ({ kind: 'text', data: Buffer.from(s) })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => ({ kind: 'bytes', data: Buffer.from(b) })) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('', '{', '{"subnet":', '{,}', '{"workers":01}', '{"workers":1e999}', 'subnet=critical&workers=2')
      .map((s) => ({ kind: 'malformed', data: Buffer.from(s) })),
  },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 4200, max: 40_000 })
      .map((n) => ({ kind: 'oversized', data: Buffer.from(JSON.stringify({ subnet: 'critical', workers: 1, dag_run_id: 'x'.repeat(n) })) })),
  },
);

type Gen =
  | { route: 'GET /admit'; query: string }
  | { route: 'POST /admit'; body: Body | undefined; type: string | undefined; encoding: string | undefined; query: string }
  | { route: 'DELETE /admit/:id'; id: Piece | { known: number } }
  | { route: 'GET /api/subnets'; query: string }
  | { route: 'GET /api/subnets/:id/enis'; id: Piece }
  | { route: 'GET /metrics' }
  | { route: 'GET /-/ready' }
  | { route: 'wrong method'; method: string; path: string }
  | { route: 'unknown route'; method: string; path: string };

// Every method Node's parser accepts, but HEAD (no body to check) and CONNECT (a tunnel, not a request).
const methods = METHODS.filter((m) => m !== 'HEAD' && m !== 'CONNECT');
const knownPaths = ['/admit', '/admit/x', '/metrics', '/api/subnets', '/api/subnets/critical/enis', '/-/healthy', '/-/ready'];

/** Requests a real sensor could send (decisions), with a hostile dag_run_id and now and then an extra field. */
const plausible = fc.record(
  {
    target: fc.oneof(
      fc.constantFrom(...SUBNETS, ...NAMES).map((subnet) => ({ subnet })),
      fc.constantFrom(...JOBS).map((job) => ({ job })),
    ),
    workers: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined, freq: 4 }),
    dag_run_id: fc.option(fc.oneof(fc.string({ maxLength: 250 }), fc.string({ unit: 'grapheme', maxLength: 60 })), { nil: undefined }),
    asString: fc.boolean(),
  },
  { requiredKeys: ['target', 'workers', 'asString'] },
);
const plausibleGet = plausible.map((p) => {
  const q = {
    ...p.target,
    ...(p.workers !== undefined ? { workers: String(p.workers) } : {}),
    ...(p.dag_run_id !== undefined ? { dag_run_id: p.dag_run_id } : {}),
  };
  return {
    route: 'GET /admit' as const,
    query: Object.entries(q)
      .map(([k, v]) => `${k}=${render({ text: v })}`)
      .join('&'),
  };
});
const plausiblePost = plausible.map((p) => {
  const workers = p.workers === undefined ? undefined : p.asString ? String(p.workers) : p.workers;
  const body = Buffer.from(JSON.stringify({ ...p.target, workers, dag_run_id: p.dag_run_id }));
  return { route: 'POST /admit' as const, body: { kind: 'plausible', data: body }, type: 'application/json', encoding: undefined, query: '' };
});

const request: fc.Arbitrary<Gen> = fc.oneof(
  { weight: 3, arbitrary: plausibleGet },
  { weight: 3, arbitrary: plausiblePost },
  { weight: 6, arbitrary: queryString.map((query) => ({ route: 'GET /admit' as const, query })) },
  {
    weight: 6,
    arbitrary: fc
      .record({
        body: fc.option(postBody, { nil: undefined, freq: 10 }),
        type: contentType,
        encoding: contentEncoding,
        query: fc.oneof(fc.constant(''), queryString),
      })
      .map((r) => ({ route: 'POST /admit' as const, ...r })),
  },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        hostileValue,
        fc.nat().map((known) => ({ known })),
      )
      .map((id) => ({ route: 'DELETE /admit/:id' as const, id })),
  },
  { weight: 1, arbitrary: queryString.map((query) => ({ route: 'GET /api/subnets' as const, query })) },
  { weight: 2, arbitrary: hostileValue.map((id) => ({ route: 'GET /api/subnets/:id/enis' as const, id })) },
  { weight: 1, arbitrary: fc.constant({ route: 'GET /metrics' as const }) },
  { weight: 1, arbitrary: fc.constant({ route: 'GET /-/ready' as const }) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom(...methods), fc.constantFrom(...knownPaths))
      .filter(([m, p]) => !(m === 'GET' || (p === '/admit' && m === 'POST') || (p === '/admit/x' && m === 'DELETE')))
      .map(([method, path]) => ({ route: 'wrong method' as const, method, path })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom('GET', 'POST', 'DELETE', 'PUT'), fc.array(hostileValue, { minLength: 1, maxLength: 4 }))
      .map(([method, parts]) => ({ route: 'unknown route' as const, method, path: `/${parts.map(render).join('/')}` }))
      .filter((g) => !/^\/(admit|metrics|api|-)(\/|$)/.test(g.path) && g.path !== '/'),
  },
);

/** An /admit request bound to be rejected, whatever else it carries: an invalid `workers`. */
const badWorkers = fc.oneof(
  fc.constantFrom('0', '-1', '-12', '1.5', '1e3', 'x', 'NaN', '99999999999999999999', '100000', '0x2', 'true', '１'),
  fc.integer({ max: 0 }).map(String),
  fc.integer({ min: 60, max: 2 ** 31 }).map(String),
);
const badJsonWorkers = fc.oneof(
  badWorkers,
  fc.constantFrom(0, -1, 1.5, 2 ** 53 + 1, 1e308, true, false),
  fc.array(fc.integer(), { minLength: 1, maxLength: 2 }),
  fc.object({ maxDepth: 1 }),
);
const rejected: fc.Arbitrary<Gen> = fc.oneof(
  fc
    .tuple(queryString, badWorkers)
    // Whatever else the query holds (another workers included), this workers value alone is a 400.
    .map(([q, w]) => ({ route: 'GET /admit' as const, query: `${q}&workers=${pct(w)}` })),
  fc.tuple(admitObject, badJsonWorkers, contentType).map(([o, w, type]) => ({
    route: 'POST /admit' as const,
    body: { kind: 'bad-workers', data: Buffer.from(JSON.stringify({ ...o, workers: w })) },
    type,
    encoding: undefined,
    query: '',
  })),
  postBody
    .filter((b) => !['object', 'bytes', 'json', 'text'].includes(b.kind))
    .map((body) => ({ route: 'POST /admit' as const, body, type: 'application/json', encoding: undefined, query: '' })),
  hostileValue.map((id) => ({ route: 'DELETE /admit/:id' as const, id })),
  fc.constantFrom('PUT', 'PATCH', 'OPTIONS', 'TRACE').map((method) => ({ route: 'wrong method' as const, method, path: '/admit' })),
);

// ---- running one ------------------------------------------------------------------------------------------

function toRaw(g: Gen): RawRequest {
  switch (g.route) {
    case 'GET /admit':
      return { method: 'GET', path: `/admit?${g.query}` };
    case 'POST /admit': {
      const headers: Record<string, string> = {};
      if (g.type) headers['content-type'] = g.type;
      let data = g.body?.data;
      if (g.encoding) {
        headers['content-encoding'] = g.encoding;
        // A real gzip body half the time; the other half is bytes that claim to be compressed.
        if (g.encoding === 'gzip' && data && data.length % 2 === 0) data = gzipSync(data);
      }
      return { method: 'POST', path: `/admit${g.query ? `?${g.query}` : ''}`, headers, body: data };
    }
    case 'DELETE /admit/:id': {
      const id = 'known' in g.id ? (reservationIds.length ? reservationIds[g.id.known % reservationIds.length] : 'none') : render(g.id);
      return { method: 'DELETE', path: `/admit/${id}` };
    }
    case 'GET /api/subnets':
      return { method: 'GET', path: `/api/subnets?${g.query}` };
    case 'GET /api/subnets/:id/enis':
      return { method: 'GET', path: `/api/subnets/${render(g.id) || 'x'}/enis` };
    case 'GET /metrics':
      return { method: 'GET', path: '/metrics' };
    case 'GET /-/ready':
      return { method: 'GET', path: '/-/ready' };
    default:
      return { method: g.method, path: g.path };
  }
}

interface Outcome {
  gen: Gen;
  raw: RawRequest;
  res: RawResponse;
  json?: Record<string, unknown>;
}

async function send(g: Gen): Promise<Outcome> {
  const raw = toRaw(g);
  const res = await rawRequest(exporter.url, raw);
  sent++;
  const key = `${g.route} ${res.status}`;
  tally.set(key, (tally.get(key) ?? 0) + 1);
  let json: Record<string, unknown> | undefined;
  if (String(res.headers['content-type'] ?? '').includes('application/json')) json = JSON.parse(res.text) as Record<string, unknown>;
  if (json && (g.route === 'GET /admit' || g.route === 'POST /admit') && json.admit === true) reservationIds.push(String(json.reservation_id));
  return { gen: g, raw, res, json };
}

/**
 * The server keeps state, so a failing batch is not shrunk; the failure is reported by the request that broke
 * the rule (the assertion message), not by a dump of the whole batch.
 */
function runOptions<T>(numRuns: number): fc.Parameters<T> {
  return {
    numRuns,
    endOnFailure: true,
    reporter: (details) => {
      if (details.failed) throw details.errorInstance instanceof Error ? details.errorInstance : new Error(String(details.errorInstance));
    },
  };
}

const show = (o: Outcome) =>
  `${o.raw.method} ${o.raw.path.slice(0, 200)} [${o.raw.headers?.['content-type'] ?? ''}] → ${o.res.status} ${o.res.text.slice(0, 300)}`;

/** A sample line (values parse as Go floats: NaN in any case): name, labels whose values escape only \\, \" and \n (any other character is allowed raw), value. */
const EXPOSITION_LINE =
  /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*\})? (?:[-+]?(?:[0-9.eE+-]+|[Ii]nf)|[Nn]a[Nn])$/u;

/** What every answer must satisfy, whatever was asked. */
function checkAnswer(o: Outcome): void {
  const { status } = o.res;
  // The only 5xx allowed is the documented "data too old / missing" 503; the snapshot here is always fresh.
  expect(status < 500, show(o)).toBe(true);
  if (status >= 400) {
    expect(o.json, `4xx without a JSON body: ${show(o)}`).toBeDefined();
    expect(typeof o.json!.error, show(o)).toBe('string');
    expect((o.json!.error as string).length, show(o)).toBeGreaterThan(0);
    const admitRoute =
      o.gen.route === 'GET /admit' ||
      o.gen.route === 'POST /admit' ||
      o.gen.route === 'DELETE /admit/:id' ||
      o.gen.route === 'GET /api/subnets/:id/enis';
    const inputError = [400, 413, 415, 422].includes(status) || (status === 404 && admitRoute);
    if (inputError) expect(typeof o.json!.field, `input error without a field: ${show(o)}`).toBe('string');
    if (status === 405) expect(o.res.headers.allow, show(o)).toBeTruthy();
  }
  if (status === 200 && (o.gen.route === 'GET /admit' || o.gen.route === 'POST /admit')) {
    expect(typeof o.json?.admit, show(o)).toBe('boolean');
    expect(Number.isFinite(Date.parse(String(o.json?.observed_at))), show(o)).toBe(true);
    expect(SUBNETS, show(o)).toContain(o.json?.subnet_id);
    expect(Number.isSafeInteger(o.json?.workers) && (o.json?.workers as number) >= 1, show(o)).toBe(true);
  }
  if (status === 200 && o.gen.route === 'GET /metrics') {
    // Client text (dag_run_id) reaches label values: every sample line must still be well-formed and escaped.
    for (const line of o.res.text.split('\n')) {
      if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
      expect(EXPOSITION_LINE.test(line), `malformed exposition line: ${JSON.stringify(line)}`).toBe(true);
    }
    expect(parseExposition(o.res.text.replace(/[\u2028\u2029]/g, ' ')).samples.length).toBeGreaterThan(0);
  }
}

/** The admission state a rejected request must not change: the log bytes, the store's reservations, `reserved`. */
async function ledgerState() {
  const now = exporter.clock.now();
  const reservations = await Promise.all(SUBNETS.map((s) => exporter.store.reservations(s, now)));
  return {
    bytes: readLedger(join(dataDir, LOG_FILE)).bytes,
    reservations: reservations
      .flat()
      .map((r) => JSON.stringify(r))
      .sort(),
    reserved: exporter.admission.status().map((s) => [s.subnetId, s.reserved]),
  };
}

beforeAll(async () => {
  useSimCredentials();
  dataDir = mkdtempSync(join(tmpdir(), 'hardening-fuzz-'));
  sim = await startSimulator({ scenario: SCENARIO, startAt: '2026-04-06T07:05:00Z' });
  const config = parseConfig(
    {
      subnets: [{ id: 'subnet-0a1', name: 'critical' }, { id: 'subnet-0b2' }, { id: 'subnet-0c3' }],
      endpoints: { ec2: sim.url, glue: sim.url },
      region: 'us-east-1',
      dataDir,
      // One sample at start (the yearly schedule never fires during the test); fresh for a day.
      sample: { schedule: '0 0 1 1 *', maxAgeSeconds: 86_400 },
      admission: { reservationTtlSeconds: 3600 },
    },
    {},
  );
  exporter = await startExporter({ config, listen: '127.0.0.1:0', logger: silentLogger });
  expect(await exporter.firstSample).toBe(true);
});

afterAll(async () => {
  const rows = [...tally.entries()].sort(([a], [b]) => a.localeCompare(b));
  console.log(`hostile input: ${sent} requests\n${rows.map(([k, n]) => `  ${k.padEnd(34)} ${n}`).join('\n')}`);
  await exporter?.close();
  await sim?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('hostile input against the real exporter', () => {
  it('names the field for each kind of malformed request', async () => {
    const cases: [RawRequest, number, string][] = [
      [{ method: 'DELETE', path: '/admit/%zz' }, 400, 'reservation_id'],
      [{ method: 'GET', path: '/api/subnets/%E0%A4%A/enis' }, 400, 'id'],
      [{ method: 'GET', path: '/admit?subnet=critical&workers=1&workers=2' }, 400, 'workers'],
      [{ method: 'GET', path: '/admit?subnet=critical&subnet=batch&workers=1' }, 400, 'subnet'],
      [{ method: 'GET', path: '/admit?subnet=critical&workers=1.5' }, 400, 'workers'],
      [{ method: 'GET', path: '/admit?subnet=critical&workers=99999999999999999999' }, 400, 'workers'],
      [{ method: 'GET', path: '/admit?subnet=critical&workers=2&dag_run_id=%0Afake' }, 400, 'dag_run_id'],
      [{ method: 'POST', path: '/admit', headers: { 'content-type': 'application/json; charset=latin1' }, body: '{}' }, 415, 'content-type'],
      [
        { method: 'POST', path: '/admit', headers: { 'content-type': 'application/json', 'content-encoding': 'x-unknown' }, body: '{}' },
        415,
        'content-encoding',
      ],
      [
        {
          method: 'POST',
          path: '/admit',
          headers: { 'content-type': 'application/json' },
          body: `{"subnet":"critical","workers":1,"dag_run_id":"${'x'.repeat(5000)}"}`,
        },
        413,
        'body',
      ],
      [{ method: 'POST', path: '/admit', headers: { 'content-type': 'application/json' }, body: '{"subnet":' }, 400, 'body'],
      [{ method: 'POST', path: '/admit', headers: { 'content-type': 'application/json' }, body: '[1]' }, 400, 'body'],
      [
        { method: 'POST', path: '/admit', headers: { 'content-type': 'application/json' }, body: '{"subnet":"critical","workers":-0.5}' },
        400,
        'workers',
      ],
      [
        { method: 'POST', path: '/admit', headers: { 'content-type': 'application/json' }, body: '{"subnet":["critical"],"workers":1}' },
        400,
        'subnet',
      ],
      [{ method: 'GET', path: '/admit?subnet=subnet-0dead&workers=1' }, 404, 'subnet'],
      [{ method: 'GET', path: '/admit?job=no-such-job' }, 404, 'job'],
      [{ method: 'DELETE', path: '/admit/subnet-0a1.00000000-0000-0000-0000-000000000000' }, 404, 'reservation_id'],
    ];
    for (const [req, status, field] of cases) {
      const res = await rawRequest(exporter.url, req);
      const what = `${req.method} ${req.path.slice(0, 80)} → ${res.status} ${res.text.slice(0, 200)}`;
      expect(res.status, what).toBe(status);
      expect(JSON.parse(res.text).field, what).toBe(field);
    }
  });

  it('8,000 mixed requests: no crash, no 5xx, JSON 4xx naming the field, and the log records exactly the 200s', async () => {
    const log = join(dataDir, LOG_FILE);
    await fc.assert(
      fc.asyncProperty(fc.array(request, { minLength: 100, maxLength: 100 }), async (batch) => {
        const before = readLedger(log).count;
        const outcomes = await pool(batch, CONCURRENCY, send);
        outcomes.forEach(checkAnswer);
        const after = readLedger(log);
        expect(after.unreadable).toBe(0);
        const decided = outcomes.filter((o) => o.res.status === 200 && (o.gen.route === 'GET /admit' || o.gen.route === 'POST /admit'));
        const released = outcomes.filter((o) => o.res.status === 200 && o.gen.route === 'DELETE /admit/:id');
        // One observation per answered decision, one reservation per admit, one close per release: nothing else.
        expect(after.count.obs - before.obs).toBe(decided.length);
        expect(after.count.res - before.res).toBe(decided.filter((o) => o.json?.admit === true).length);
        expect(after.count.cls - before.cls).toBe(released.length);
      }),
      runOptions(80),
    );
    const healthy = await rawRequest(exporter.url, { method: 'GET', path: '/-/healthy' });
    expect(healthy.status).toBe(200);
    // The mix did reach every outcome that matters.
    const seen = (re: RegExp) => [...tally.entries()].filter(([k]) => re.test(k)).reduce((n, [, c]) => n + c, 0);
    expect(seen(/^(GET|POST) \/admit 200$/)).toBeGreaterThan(100);
    expect(reservationIds.length).toBeGreaterThan(10);
    expect(seen(/^DELETE \/admit\/:id 200$/)).toBeGreaterThan(0);
    expect(seen(/ 400$/)).toBeGreaterThan(500);
    expect(seen(/ 413$/)).toBeGreaterThan(0);
    expect(seen(/ 415$/)).toBeGreaterThan(0);
    expect(seen(/ 405$/)).toBeGreaterThan(0);
  }, 120_000);

  it('2,000 rejected-only requests leave the ledger byte for byte as it was', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(rejected, { minLength: 50, maxLength: 50 }), async (batch) => {
        const before = await ledgerState();
        const outcomes = await pool(batch, CONCURRENCY, send);
        for (const o of outcomes) {
          checkAnswer(o);
          expect(o.res.status >= 400 && o.res.status < 500, show(o)).toBe(true);
        }
        expect(await ledgerState()).toEqual(before);
      }),
      runOptions(40),
    );
    expect((await rawRequest(exporter.url, { method: 'GET', path: '/-/healthy' })).status).toBe(200);
    expect(sent).toBe(10_000);
  }, 60_000);
});
