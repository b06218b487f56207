// HTTPS and basic auth from the web configuration file, on the real exporter (in this process, sampling the
// simulator through the real SDK clients), asked by Node's own https client that trusts only the test's CA.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWebConfig } from '../src/http/web-config.js';
import type { RunningExporter } from '../src/server.js';
import { parseScenario } from '../src/sim/index.js';
import { captureLogger } from './helpers/log-capture.js';
import { type SimExporter, startSimExporter } from './helpers/sim-exporter.js';
import { makeCa, makeLeaf, pem } from './helpers/tls.js';
import { waitFor } from './helpers/wait.js';

const scenario = parseScenario({
  start: '2026-04-06T06:00:00Z',
  seed: 5,
  subnets: [{ id: 'subnet-0a1', cidr: '10.0.0.0/26', availabilityZone: 'us-east-1a' }],
  lifecycle: { lingerInUseMinutes: { min: 0, max: 65 }, availableMinutes: { min: 30, max: 40 } },
});

const dir = mkdtempSync(join(tmpdir(), 'web-config-'));
const { logger, lines } = captureLogger('info');
let fx: SimExporter;
let exporter: RunningExporter;
let ca: { key: string; cert: string };
let firstSerial: string;
let client: { key: string; cert: string };
const webFile = join(dir, 'web.yml');
// Cost 4 keeps the test fast; htpasswd and Go write `$2y$`, which is what the file carries.
const hashOf = (password: string) => bcrypt.hashSync(password, 4).replace(/^\$2b\$/, '$2y$');

/** The web config, with paths relative to the file (as exporter-toolkit reads them). */
function writeWeb(users: Record<string, string>, tlsExtra: string[] = []): void {
  writeFileSync(
    webFile,
    ['tls_server_config:', '  cert_file: server.crt', '  key_file: server.key', ...tlsExtra.map((l) => `  ${l}`), 'basic_auth_users:']
      .concat(Object.entries(users).map(([u, h]) => `  ${u}: "${h}"`))
      .join('\n'),
  );
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  serial: string;
}

/** One request on a new connection (no agent): each sees the certificate the server holds at that moment. */
function get(path: string, o: { auth?: string; ca?: Buffer | null; cert?: { key: string; cert: string } } = {}): Promise<Answer> {
  const port = exporter.port;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        agent: false,
        ca: o.ca === null ? undefined : (o.ca ?? pem(ca.cert)),
        ...(o.cert ? { key: pem(o.cert.key), cert: pem(o.cert.cert) } : {}),
        headers: o.auth ? { authorization: `Basic ${Buffer.from(o.auth).toString('base64')}` } : {},
        timeout: 10_000,
      },
      (res) => {
        const serial = (res.socket as TLSSocket).getPeerCertificate().serialNumber;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString(), serial }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: GET ${path}`)));
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  ca = makeCa(dir);
  firstSerial = makeLeaf(dir, ca, 'server', { cn: 'first' }).serial;
  client = makeLeaf(dir, ca, 'client', { cn: 'prometheus', client: true });
  writeWeb({ alice: hashOf('s3cret') });
  fx = await startSimExporter({
    scenario,
    logger,
    dir,
    config: { subnets: [{ id: 'subnet-0a1', name: 'critical' }] },
    // A short whole-request limit, so that the handshake cut-off shows within the test.
    options: { web: loadWebConfig(webFile), httpLimits: { requestTimeoutMs: 1500, headersTimeoutMs: 1500 } },
  });
  exporter = fx.exporter;
}, 60_000);

afterAll(() => fx?.close());

describe('HTTPS with basic auth from --web.config.file', () => {
  it('serves every endpoint over TLS to a client that trusts the CA and gives the right password', async () => {
    expect(exporter.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const metrics = await get('/metrics', { auth: 'alice:s3cret' });
    expect(metrics.status).toBe(200);
    expect(metrics.serial).toBe(firstSerial);
    expect(metrics.text).toContain('glue_eni_subnet_free_ips{subnet_id="subnet-0a1",subnet="critical",account_id="123456789012",region="us-east-1"}');
    for (const path of ['/-/healthy', '/-/ready', '/api/subnets', '/admit?subnet=critical&workers=1&dag_run_id=tls-1']) {
      expect((await get(path, { auth: 'alice:s3cret' })).status, path).toBe(200);
    }
  });

  it('answers 401 with WWW-Authenticate: Basic without credentials, on every endpoint', async () => {
    for (const path of ['/metrics', '/-/healthy', '/admit?subnet=critical&workers=1', '/no-such-route']) {
      const r = await get(path);
      expect(r.status, path).toBe(401);
      expect(r.headers['www-authenticate']).toBe('Basic');
      expect(JSON.parse(r.text)).toEqual({ error: 'authentication required (HTTP basic auth)', field: 'authorization' });
    }
  });

  it('answers 401 to a wrong password, an unknown user and a malformed header', async () => {
    for (const auth of ['alice:wrong', 'bob:s3cret', 'alice', 'alice:s3cret ']) {
      const r = await get('/metrics', { auth });
      expect(r.status, auth).toBe(401);
      expect(r.headers['www-authenticate']).toBe('Basic');
      expect(JSON.parse(r.text).error).toBe('wrong user name or password');
    }
  });

  it('is refused by a client that does not trust the CA, and speaks no plain HTTP', async () => {
    await expect(get('/metrics', { auth: 'alice:s3cret', ca: null })).rejects.toThrow(/self[- ]signed|unable to verify|local issuer/i);
    const plain = await fetch(`http://127.0.0.1:${exporter.port}/-/healthy`).then(
      (r) => r.status,
      (e: Error) => e.message,
    );
    expect(plain).not.toBe(200);
  });

  it('cuts off a connection that never starts its TLS handshake, as it does one that never sends its headers', async () => {
    const socket = connect(exporter.port, '127.0.0.1');
    const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
    const opened = Date.now();
    // Node's own default would hold it for 120 s.
    const at = await Promise.race([closed, new Promise<undefined>((r) => setTimeout(() => r(undefined), 20_000))]);
    expect(at, 'closed by the server within 20 s').toBeDefined();
    expect(at! - opened).toBeGreaterThanOrEqual(1000);
  });

  it('serves a certificate rotated on disk to the next connection, and the new users of a rewritten file', async () => {
    const rotated = makeLeaf(dir, ca, 'server', { cn: 'second' });
    expect(rotated.serial).not.toBe(firstSerial);
    const r = await waitFor('the rotated certificate', async () => {
      const a = await get('/metrics', { auth: 'alice:s3cret' });
      return a.serial === rotated.serial ? a : undefined;
    });
    expect(r.status).toBe(200);
    expect(lines.some((l) => l.msg === 'web config reloaded')).toBe(true);

    writeWeb({ alice: hashOf('n3w-password'), bob: hashOf('b0b') });
    await waitFor('the new password', async () => ((await get('/metrics', { auth: 'alice:n3w-password' })).status === 200 ? true : undefined));
    expect((await get('/metrics', { auth: 'alice:s3cret' })).status).toBe(401);
    expect((await get('/metrics', { auth: 'bob:b0b' })).status).toBe(200);
  });

  it('keeps serving the running certificate when the files on disk do not fit together, and says so once', async () => {
    const before = (await get('/metrics', { auth: 'bob:b0b' })).serial;
    // A key of another pair under the right name: the certificate on disk no longer matches it.
    const other = makeLeaf(dir, ca, 'other', { cn: 'other' });
    writeFileSync(join(dir, 'server.key'), pem(other.key));
    for (let i = 0; i < 3; i++) {
      const r = await get('/metrics', { auth: 'bob:b0b' });
      expect(r.status).toBe(200);
      expect(r.serial).toBe(before);
    }
    const rejected = lines.filter((l) => l.msg === 'web config reload rejected; keeping the running one');
    expect(rejected).toHaveLength(1);
    expect(String(rejected[0].err)).toMatch(/^.*web\.yml: tls_server_config: .*key/i);
    // The matching key back: served again.
    const fixed = makeLeaf(dir, ca, 'server', { cn: 'third' });
    await waitFor('the fixed pair', async () => ((await get('/metrics', { auth: 'bob:b0b' })).serial === fixed.serial ? true : undefined));
  });

  it('requires a client certificate the CA signed with RequireAndVerifyClientCert', async () => {
    writeWeb({ bob: hashOf('b0b') }, ['client_auth_type: RequireAndVerifyClientCert', 'client_ca_file: ca.crt']);
    await waitFor(
      'client certificates required',
      async () =>
        (await get('/metrics', { auth: 'bob:b0b' }).then(
          () => undefined,
          () => true,
        )) as true | undefined,
    );
    expect((await get('/metrics', { auth: 'bob:b0b', cert: client })).status).toBe(200);
  });
});
