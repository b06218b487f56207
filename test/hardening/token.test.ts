// The /admit bearer token: every wrong token, whatever its length, gets the same 401 by the same code path,
// a constant-time comparison of two SHA-256 digests (so neither the token nor its length leaks through
// timing); and log redaction covers the places a token or an AWS secret could be passed to the logger.
import { readFileSync } from 'node:fs';
import { timingSafeEqual } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { snapshotOf, subnetView } from '../helpers/world.js';
import { parseConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { SnapshotCache } from '../../src/snapshot/cache.js';
import { FileStore } from '../../src/store/file.js';
import { startAdmitApp } from '../helpers/admit-app.js';
import { captureLogger } from '../helpers/log-capture.js';
import { rawRequest, ROOT } from './helpers.js';

// Wrap the real function: every call still compares, and the test sees the arguments.
vi.mock('node:crypto', async (importOriginal) => {
  const orig = await importOriginal<typeof import('node:crypto')>();
  return { ...orig, timingSafeEqual: vi.fn(orig.timingSafeEqual) };
});
const spy = vi.mocked(timingSafeEqual);

const TOKEN = 'the-right-token-7c1e9a55d0b3';
let dir: string;
let server: Server;
let store: FileStore;
let url: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hardening-token-'));
  const config = parseConfig(
    { subnets: [{ id: 'subnet-0a', name: 'critical' }], sample: { maxAgeSeconds: 3600 }, dataDir: dir, admission: { token: TOKEN } },
    {},
  );
  const cache = new SnapshotCache();
  cache.set(snapshotOf([subnetView({ subnetId: 'subnet-0a', name: 'critical', inUse: 3, available: 1, lingering: 0 })], { takenAt: Date.now() }));
  store = await FileStore.open({ dataDir: dir, clock: { now: () => Date.now() }, logger: silentLogger });
  ({ server, url } = await startAdmitApp({ cache, config, store }));
});

afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

// A block body: a function returned from beforeEach would be run as a cleanup hook.
beforeEach(() => {
  spy.mockClear();
});

const admit = (authorization?: string) =>
  rawRequest(url, { method: 'GET', path: '/admit?subnet=critical&workers=1', headers: authorization === undefined ? {} : { authorization } });

describe('bearer token comparison', () => {
  const wrong = [
    'x',
    'short',
    'a'.repeat(15),
    'a'.repeat(TOKEN.length),
    `${TOKEN.slice(0, -1)}X`,
    TOKEN.slice(0, -1),
    `${TOKEN}x`,
    'a'.repeat(64),
    'a'.repeat(4000),
    'tökèn-ünïcødé-latin1',
  ];

  it('answers every wrong token, of any length, with the same 401, after one digest comparison', async () => {
    const answers = new Set<string>();
    for (const token of wrong) {
      spy.mockClear();
      const res = await admit(`Bearer ${token}`);
      expect(res.status, token).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="admit"');
      expect(JSON.parse(res.text)).toEqual({ error: 'wrong bearer token', field: 'authorization' });
      answers.add(`${res.status} ${res.text} ${res.headers['content-length']}`);
      // Exactly one comparison, always of two 32-byte SHA-256 digests: the work does not depend on the input.
      expect(spy, token).toHaveBeenCalledTimes(1);
      const [a, b] = spy.mock.calls[0] as [Buffer, Buffer];
      expect([a.length, b.length]).toEqual([32, 32]);
      expect(spy.mock.results[0]).toEqual({ type: 'return', value: false });
    }
    expect(answers.size).toBe(1);
  });

  it('lets the right token through by the same comparison', async () => {
    const res = await admit(`Bearer ${TOKEN}`);
    expect(res.status).toBe(200);
    expect(spy).toHaveBeenCalledTimes(1);
    expect(spy.mock.results[0]).toEqual({ type: 'return', value: true });
    // Scheme case and surrounding blanks do not matter.
    expect((await admit(`bearer   ${TOKEN}  `)).status).toBe(200);
  });

  it('answers a missing or non-bearer credential with one 401 and compares nothing', async () => {
    const answers = new Set<string>();
    for (const header of [undefined, '', 'Bearer', 'Bearer ', `Basic ${TOKEN}`, TOKEN]) {
      spy.mockClear();
      const res = await admit(header);
      expect(res.status).toBe(401);
      expect(JSON.parse(res.text)).toEqual({ error: 'missing bearer token (Authorization: Bearer <token>)', field: 'authorization' });
      expect(spy).not.toHaveBeenCalled();
      answers.add(res.text);
    }
    expect(answers.size).toBe(1);
  });

  it('compares digests in the source too: timingSafeEqual over SHA-256, never == on the presented token', () => {
    const src = readFileSync(join(ROOT, 'src', 'http', 'admit.ts'), 'utf8');
    expect(src).toMatch(/import \{[^}]*\btimingSafeEqual\b[^}]*\} from 'node:crypto'/);
    expect(src).toMatch(/createHash\('sha256'\)/);
    expect(src).toMatch(/timingSafeEqual\(digest\(/);
    // The presented credential (the regex match m[1]) only ever goes into digest().
    const uses = [...src.matchAll(/m\[1\][^\n;]*/g)].map((x) => x[0]);
    expect(uses.length).toBeGreaterThan(0);
    for (const u of uses) expect(u).toMatch(/^m\[1\]\.trim\(\)\), expected\)/);
  });
});

describe('log redaction', () => {
  it('censors tokens, authorization headers and AWS secrets wherever a caller puts them', () => {
    const { logger: log, text } = captureLogger();
    const SECRET = 'SECRET-c9f1e2d3b4a5';
    log.info({ config: { admission: { token: SECRET } } }, 'config');
    log.info({ admission: { token: SECRET } }, 'admission');
    log.info({ token: SECRET, authorization: `Bearer ${SECRET}` }, 'top');
    log.info({ req: { headers: { authorization: `Bearer ${SECRET}`, Authorization: `Bearer ${SECRET}` } } }, 'req');
    log.info({ headers: { Authorization: `Bearer ${SECRET}` } }, 'headers');
    log.info({ credentials: { accessKeyId: 'AKID', secretAccessKey: SECRET, sessionToken: SECRET } }, 'creds');
    log.info({ env: { GLUE_ENI_ADMIT_TOKEN: SECRET, AWS_SECRET_ACCESS_KEY: SECRET, AWS_SESSION_TOKEN: SECRET } }, 'env');
    const out = text();
    const lines = out.trim().split('\n');
    expect(lines).toHaveLength(7);
    expect(out).not.toContain(SECRET);
    expect(out.match(/\[redacted\]/g)?.length).toBeGreaterThanOrEqual(11);
  });
});
