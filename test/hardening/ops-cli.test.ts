// Operating the real binary: SIGHUP reloads (a good file takes effect, a bad one is refused naming the field
// and the running config is kept), and neither the admit token nor AWS secrets ever reach stdout or stderr.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, rawRequest, simFixture, sleep, startServe, waitFor, waitReady } from './helpers.js';

const f = simFixture('hardening-ops');

function configText(o: { subnets: string[]; maxAge: number; token?: string; dataDir: string; level?: string }): string {
  return [
    'region: us-east-1',
    `endpoints: {ec2: "${f.sim.url}", glue: "${f.sim.url}"}`,
    'subnets:',
    ...o.subnets.map((s) => `  - ${s}`),
    `dataDir: "${o.dataDir}"`,
    `sample: {schedule: "*/1 * * * * *", maxAgeSeconds: ${o.maxAge}}`,
    ...(o.token ? [`admission: {token: "${o.token}"}`] : []),
    `log: {level: ${o.level ?? 'info'}}`,
    '',
  ].join('\n');
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const json = async (url: string, path: string, headers: Record<string, string> = {}) => {
  const r = await rawRequest(url, { method: 'GET', path, headers });
  return { status: r.status, body: JSON.parse(r.text) as Record<string, unknown> };
};
const subnetNames = async (url: string) => ((await json(url, '/api/subnets')).body.subnets as { subnet: string }[]).map((s) => s.subnet).sort();

describe('SIGHUP through the real CLI', () => {
  it('applies a good file, refuses a bad one naming the field, and keeps running on the old config', async () => {
    const cfg = join(f.dir, 'reload.yml');
    const dataDir = join(f.dir, 'reload-data');
    const FIRST = 'first-token-0123456789';
    const SECOND = 'second-token-0123456789';
    writeFileSync(cfg, configText({ subnets: ['{id: subnet-0a1, name: critical}'], maxAge: 600, token: FIRST, dataDir }));
    const p = startServe({ config: cfg, port: await freePort() });
    f.procs.push(p);
    await waitReady(p);
    expect(await subnetNames(p.url)).toEqual(['critical']);
    expect((await json(p.url, '/admit?subnet=critical&workers=1', bearer(FIRST))).status).toBe(200);

    // A good file: a second subnet, a max age of one interval (the least a file may set), a new token.
    expect(p.logs().some((l) => l.level === 20)).toBe(false);
    writeFileSync(
      cfg,
      configText({
        subnets: ['{id: subnet-0a1, name: critical}', '{id: subnet-0b2, name: batch}'],
        maxAge: 1,
        token: SECOND,
        dataDir,
        level: 'debug',
      }),
    );
    p.child.kill('SIGHUP');
    await p.waitForLog('config reloaded', (l) => l.msg === 'config reloaded');
    // The new log level too: debug lines from the samples that follow.
    await p.waitForLog('a debug line', (l) => l.level === 20 && l.msg === 'sample done');
    await waitFor('the new subnet after the next sample', async () => ((await subnetNames(p.url)).includes('batch') ? true : undefined));
    expect(await subnetNames(p.url)).toEqual(['batch', 'critical']);
    // Samples that fail from now on: the data outlives the new max age.
    f.sim.setFaults({ serverErrorRate: 1 });
    const stale = await waitFor('readiness judged by the new max age', async () => {
      const r = await json(p.url, '/-/ready');
      return r.status === 503 ? r : undefined;
    });
    expect(stale.body.reason).toContain('(max 1 s)');
    expect((await json(p.url, '/admit?subnet=batch&workers=1', bearer(FIRST))).status).toBe(401);
    const withNew = await json(p.url, '/admit?subnet=batch&workers=1', bearer(SECOND));
    expect(withNew.status).toBe(503);
    expect(withNew.body.error).toContain('(max 1 s)');

    // A bad file: refused, the field named in a JSON log line, the running config untouched.
    writeFileSync(
      cfg,
      configText({ subnets: ['{id: subnet-0a1, name: critical}', '{id: subnet-XYZ, name: batch}'], maxAge: 600, token: FIRST, dataDir }),
    );
    p.child.kill('SIGHUP');
    const refused = await p.waitForLog('reload refused', (l) => l.msg === 'config reload rejected; keeping the running config');
    expect(refused.level).toBe(50);
    expect(String(refused.err)).toContain('subnets[1].id');
    expect(refused.file).toBe(cfg);

    // A field that needs a restart: refused by name as well.
    writeFileSync(cfg, configText({ subnets: ['{id: subnet-0a1, name: critical}'], maxAge: 600, token: FIRST, dataDir: join(f.dir, 'elsewhere') }));
    p.child.kill('SIGHUP');
    const restartOnly = await p.waitForLog(
      'restart-only refusal',
      (l) => l.msg === 'config reload rejected; keeping the running config' && String(l.err).includes('dataDir'),
    );
    expect(String(restartOnly.err)).toContain('cannot change on reload');

    // Still the second config after more samples: two subnets, max age 1 s, the second token.
    await sleep(1200);
    expect(await subnetNames(p.url)).toEqual(['batch', 'critical']);
    expect((await json(p.url, '/-/ready')).body.reason).toContain('(max 1 s)');
    expect((await json(p.url, '/admit?subnet=critical&workers=1', bearer(FIRST))).status).toBe(401);
    expect((await json(p.url, '/admit?subnet=critical&workers=1', bearer(SECOND))).status).toBe(503);
    expect(p.logs().filter((l) => l.msg === 'config reloaded')).toHaveLength(1);
    f.sim.setFaults({ serverErrorRate: 0 });

    p.child.kill('SIGTERM');
    expect(await p.exited).toEqual({ code: 0, signal: null });
  }, 60_000);
});

describe('secrets never reach the logs', () => {
  it('keeps the admit token and the AWS secrets out of stdout and stderr through requests, failures and reloads', async () => {
    const TOKEN = 'tok-SECRET-3f9a1c77e2b04d58a6';
    const AWS_SECRET = 'aws-SECRET-wJalrXUtnFEMIK7MDENGbPxRfiCY';
    const SESSION = 'sess-SECRET-FQoGZXIvYXdzEJr';
    const cfg = join(f.dir, 'secrets.yml');
    const dataDir = join(f.dir, 'secrets-data');
    writeFileSync(cfg, configText({ subnets: ['{id: subnet-0a1, name: critical}'], maxAge: 600, dataDir, level: 'debug' }));
    const p = startServe({
      config: cfg,
      port: await freePort(),
      env: { GLUE_ENI_ADMIT_TOKEN: TOKEN, AWS_SECRET_ACCESS_KEY: AWS_SECRET, AWS_SESSION_TOKEN: SESSION },
    });
    f.procs.push(p);
    await waitReady(p);

    const calls: [string, Record<string, string>, number][] = [
      ['/admit?subnet=critical&workers=1&dag_run_id=ok', bearer(TOKEN), 200],
      ['/admit?subnet=critical&workers=1', bearer(`${TOKEN}x`), 401],
      ['/admit?subnet=critical&workers=1', { authorization: `Basic ${TOKEN}` }, 401],
      ['/admit?subnet=critical&workers=1', {}, 401],
      [`/admit?subnet=critical&workers=1&token=${TOKEN}`, bearer(TOKEN), 200],
      ['/admit?subnet=critical&workers=-1', bearer(TOKEN), 400],
      ['/admit?subnet=nope&workers=1', bearer(TOKEN), 404],
      [`/nope?secret=${AWS_SECRET}`, bearer(TOKEN), 404],
    ];
    for (const [path, headers, status] of calls) {
      const r = await rawRequest(p.url, { method: 'GET', path, headers });
      expect(r.status, `${path}: ${r.text}`).toBe(status);
      expect(r.text).not.toContain(TOKEN);
    }
    const post = await rawRequest(p.url, {
      method: 'POST',
      path: '/admit',
      headers: { ...bearer(TOKEN), 'content-type': 'application/json' },
      body: `{"subnet":"critical","workers":1,"token":"${TOKEN}"`,
    });
    expect(post.status).toBe(400);

    // AWS failing: samples fail and are logged with the SDK's errors.
    f.sim.setFaults({ serverErrorRate: 1 });
    try {
      await p.waitForLog('a failed sample', (l) => l.msg === 'sample failed; keeping the last good snapshot', 20_000);
    } finally {
      f.sim.setFaults({ serverErrorRate: 0 });
    }
    // A reload refused, and one accepted.
    writeFileSync(cfg, configText({ subnets: ['{id: subnet-0a1, name: critical}'], maxAge: -1, dataDir, level: 'debug' }));
    p.child.kill('SIGHUP');
    await p.waitForLog('reload refused', (l) => l.msg === 'config reload rejected; keeping the running config');
    writeFileSync(cfg, configText({ subnets: ['{id: subnet-0a1, name: critical}'], maxAge: 600, dataDir, level: 'debug' }));
    p.child.kill('SIGHUP');
    await p.waitForLog('reload accepted', (l) => l.msg === 'config reloaded');

    p.child.kill('SIGTERM');
    expect((await p.exited).code).toBe(0);
    const out = p.output();
    // The capture is real: it holds the lines these events wrote.
    for (const msg of [
      'exporter listening',
      'sample failed; keeping the last good snapshot',
      'config reload rejected; keeping the running config',
      'exporter stopped',
    ]) {
      expect(out).toContain(msg);
    }
    for (const secret of [TOKEN, AWS_SECRET, SESSION]) expect(out.includes(secret), `${secret.slice(0, 10)}… in the logs`).toBe(false);
  }, 60_000);
});
