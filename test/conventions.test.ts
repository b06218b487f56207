// What every Prometheus exporter has, on the built CLI (`node dist/cli.js serve`) against the simulator: build_info,
// OpenMetrics when the scraper asks for it, and basic auth from `--web.config.file` on every endpoint.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildRevision } from '../src/version.js';
import { CLI, freePort, type RawResponse, rawRequest, ROOT, simFixture, startServe, type ServeProc, SIM_ENV, waitFor } from './hardening/helpers.js';
import { parseExposition } from './helpers/prom.js';

const f = simFixture('conventions');
const AUTH = { authorization: `Basic ${Buffer.from('prometheus:scrape-pw').toString('base64')}` };
const OPENMETRICS = 'application/openmetrics-text; version=1.0.0';
let proc: ServeProc;
let webFile: string;
let config: string;

const get = (path: string, headers: Record<string, string> = {}): Promise<RawResponse> =>
  rawRequest(proc.url, { method: 'GET', path, headers: { ...AUTH, ...headers } });

beforeAll(async () => {
  webFile = join(f.dir, 'web.yml');
  writeFileSync(webFile, `# basic auth only: plain HTTP\nbasic_auth_users:\n  prometheus: "${bcrypt.hashSync('scrape-pw', 4)}"\n`);
  config = f.config('conventions');
  proc = startServe({ config, port: await freePort(), env: { GLUE_ENI_REVISION: 'c0ffee1234' }, args: ['--web.config.file', webFile] });
  f.procs.push(proc);
  await proc.waitForLog('listening', (l) => l.msg === 'exporter listening', 20_000);
  // Ready: a first sample is in, so every AWS call it makes is counted.
  await waitFor('ready', async () => ((await get('/-/ready')).status === 200 ? true : undefined), 20_000);
}, 45_000);

describe('build_info', () => {
  it('is 1 with the version, the revision (GLUE_ENI_REVISION) and the Node.js version', async () => {
    const { samples, type } = parseExposition((await get('/metrics')).text);
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    expect(samples.filter((s) => s.name === 'glue_eni_exporter_build_info')).toEqual([
      { name: 'glue_eni_exporter_build_info', labels: { version, revision: 'c0ffee1234', nodejs_version: process.version }, value: 1 },
    ]);
    expect(type.get('glue_eni_exporter_build_info')).toBe('gauge');
  });

  it('takes the revision from the build when GLUE_ENI_REVISION is not set, else says unknown', () => {
    const written = join(ROOT, 'dist', 'revision.txt');
    const expected = existsSync(written) ? readFileSync(written, 'utf8').trim() : 'unknown';
    const out = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', `import('${join(ROOT, 'dist', 'version.js')}').then((m) => process.stdout.write(m.buildRevision({})))`],
      { encoding: 'utf8' },
    );
    expect(out).toBe(expected);
    expect(buildRevision({ GLUE_ENI_REVISION: `  ${'a'.repeat(80)}\n` })).toBe('a'.repeat(64));
  });
});

describe('/metrics content negotiation', () => {
  it('answers the Prometheus text format by default', async () => {
    for (const accept of [undefined, '*/*', 'text/plain;version=0.0.4']) {
      const r = await get('/metrics', accept ? { accept } : {});
      expect(r.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(r.text).not.toContain('# EOF');
      expect(r.text).toContain('# TYPE glue_eni_aws_requests_total counter');
    }
  });

  it('answers OpenMetrics, ending in # EOF, when the Accept header prefers it (as Prometheus sends it)', async () => {
    const prometheusAccept =
      'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
    for (const accept of [OPENMETRICS, prometheusAccept]) {
      const r = await get('/metrics', { accept });
      expect(r.headers['content-type']).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
      expect(r.headers.vary).toBe('Accept');
      expect(r.text.endsWith('\n# EOF\n')).toBe(true);
      // OpenMetrics names a counter family without _total; its samples keep it.
      expect(r.text).toContain('# TYPE glue_eni_aws_requests counter');
      expect(r.text).toMatch(/^glue_eni_aws_requests_total\{account_id="123456789012",region="us-east-1",api="DescribeSubnets"\} \d+$/m);
      expect(r.text).toMatch(/^glue_eni_exporter_build_info\{version="[^"]+",revision="c0ffee1234",nodejs_version="v[\d.]+"\} 1$/m);
    }
  });

  it('keeps the text format intact after an OpenMetrics scrape (prom-client would strip _total for good)', async () => {
    await get('/metrics', { accept: OPENMETRICS });
    const text = (await get('/metrics')).text;
    expect(text).toContain('# TYPE glue_eni_aws_requests_total counter');
    expect(text).toMatch(/^glue_eni_aws_requests_total\{account_id="123456789012",region="us-east-1",api="DescribeSubnets"\} \d+$/m);
    expect(text).not.toMatch(/^glue_eni_aws_requests\{/m);
  });
});

describe('--web.config.file on the command line', () => {
  it('asks every endpoint for basic auth', async () => {
    for (const path of ['/metrics', '/-/healthy', '/api/subnets', '/']) {
      const r = await rawRequest(proc.url, { method: 'GET', path });
      expect(r.status, path).toBe(401);
      expect(r.headers['www-authenticate']).toBe('Basic');
      expect((await get(path)).status, path).not.toBe(401);
    }
  });

  it('check-config validates the web config too, naming the field', () => {
    const ok = spawnSync(process.execPath, [CLI, 'check-config', config, '--web.config.file', webFile], {
      encoding: 'utf8',
      env: { ...process.env, ...SIM_ENV },
    });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain(`${webFile}: OK (tls off, basic auth 1 user(s))`);
    const bad = join(f.dir, 'bad-web.yml');
    writeFileSync(bad, 'basic_auth_users:\n  prometheus: plain-text-password\n');
    const r = spawnSync(process.execPath, [CLI, 'check-config', config, '--web.config.file', bad], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`${bad}: basic_auth_users.prometheus: expected a bcrypt hash ($2y$10$...)\n`);
  });

  it('refuses basic auth together with the /admit bearer token, which needs the same header', async () => {
    const both = f.config('both', { extra: [`admission: {token: "${'t'.repeat(20)}"}`] });
    const p = startServe({ config: both, port: await freePort(), args: ['--web.config.file', webFile] });
    f.procs.push(p);
    expect((await p.exited).code).toBe(1);
    expect(p.output()).toContain(`${webFile}: basic_auth_users: cannot be used with admission.token (or GLUE_ENI_ADMIT_TOKEN)`);
  });
});
