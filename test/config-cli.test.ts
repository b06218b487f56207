// The config as the real binary reads it: check-config states the schedule's interval, and files over the size
// cap are refused before parsing at start-up, by check-config and on SIGHUP, where the process must keep
// answering while it refuses (a 1 MB file of 40,000 keys used to block its event loop for 10 s).
import { spawnSync } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, freePort, rawRequest, SIM_ENV, simFixture, sleep, startServe, waitReady } from './hardening/helpers.js';

const f = simFixture('config-cli');

const run = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...SIM_ENV } });

const CAP = 'over the 256 KiB (262144 bytes) limit for a config file; refused before parsing';

function configText(extra = ''): string {
  return [
    'region: us-east-1',
    `endpoints: {ec2: "${f.sim.url}", glue: "${f.sim.url}"}`,
    'subnets:',
    '  - {id: subnet-0a1, name: critical}',
    `dataDir: "${join(f.dir, 'data')}"`,
    'sample: {schedule: "*/2 * * * * *", maxAgeSeconds: 600}',
    extra,
  ].join('\n');
}

/** A valid config of about 1 MB: 40,000 per-subnet admission overrides. */
function bigConfigText(): string {
  const keys = Array.from({ length: 40_000 }, (_, i) => `    k${String(i).padStart(5, '0')}: {lookback: 5}\n`).join('');
  return `${configText()}\nadmission:\n  subnets:\n${keys}`;
}

describe('check-config', () => {
  it('prints the interval of an uneven schedule (its longest gap) and the max age it implies', () => {
    const file = join(f.dir, 'uneven.yml');
    writeFileSync(file, 'subnets: [{id: subnet-0a1}]\nsample: {schedule: "*/50 * * * * *"}\n');
    const r = run('check-config', file);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('schedule "*/50 * * * * *", interval 50 s (longest gap between runs), max age 150 s');
    // Nothing said about admission: the default policy, named as the default, with the queue on.
    expect(r.stdout).toContain(', store file, policy forecast (default), queue on)\n');
  });

  it('lists the targets of a multi-account file: account/region, credentials, subnets, concurrency', () => {
    const r = run('check-config', join(import.meta.dirname, '..', 'src', 'config', 'testdata', 'good-targets.yml'));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(': OK (3 subnet(s), schedule "* * * * *"');
    expect(r.stdout.split('\n').slice(1)).toEqual([
      'targets (3, 2 sampled at once):',
      '  111111111111/eu-west-1 (role arn:aws:iam::111111111111:role/glue-eni-exporter with external id; 1 subnet(s))',
      '  111111111111/us-east-1 (role arn:aws:iam::111111111111:role/glue-eni-exporter with external id; 1 subnet(s))',
      '  222222222222/eu-west-1 (default credential chain; 1 subnet(s); discovery on)',
      '',
    ]);
    // The external id is a shared secret of the trust policy: never printed.
    expect(r.stdout).not.toContain('shared-secret-1');
  });

  it('refuses a file over the size cap, naming the cap; so does serve at start-up', () => {
    const file = join(f.dir, 'big.yml');
    writeFileSync(file, bigConfigText());
    expect(statSync(file).size).toBeGreaterThan(1_000_000);
    const check = run('check-config', file);
    expect(check.status).toBe(1);
    expect(check.stderr).toContain(`${file}: ${statSync(file).size} bytes is ${CAP}`);
    const serve = run('serve', '--config', file, '--listen', '127.0.0.1:0');
    expect(serve.status).toBe(1);
    expect(serve.stderr).toContain(CAP);
  });
});

describe('SIGHUP with a file over the size cap', () => {
  it('refuses it naming the cap, keeps the running config, and keeps answering /-/healthy meanwhile', async () => {
    const file = join(f.dir, 'reload.yml');
    writeFileSync(file, configText());
    const p = startServe({ config: file, port: await freePort() });
    f.procs.push(p);
    await waitReady(p, 30_000);

    writeFileSync(file, bigConfigText());
    p.child.kill('SIGHUP');
    // Probe liveness for 3 s from the signal on: every answer must come quickly. A parse that blocks the event
    // loop (10 s for this file before the cap) shows as one slow answer.
    const latencies: number[] = [];
    const until = Date.now() + 3000;
    while (Date.now() < until) {
      const t0 = Date.now();
      const r = await rawRequest(p.url, { method: 'GET', path: '/-/healthy' }, 20_000);
      latencies.push(Date.now() - t0);
      expect(r.status).toBe(200);
      await sleep(50);
    }
    const refused = await p.waitForLog('the refusal', (l) => l.msg === 'config reload rejected; keeping the running config', 5_000);
    expect(String(refused.err)).toContain(CAP);
    // Generous for a loaded 2-core machine; the blocking parse took seconds.
    expect(Math.max(...latencies)).toBeLessThan(1500);
    expect(latencies.length).toBeGreaterThan(5);

    // The running config stays: still one subnet under its name, still ready.
    const api = JSON.parse((await rawRequest(p.url, { method: 'GET', path: '/api/subnets' })).text) as { subnets: { subnet: string }[] };
    expect(api.subnets.map((s) => s.subnet)).toEqual(['critical']);
    expect((await rawRequest(p.url, { method: 'GET', path: '/-/ready' })).status).toBe(200);
    expect(p.logs().some((l) => l.msg === 'config reloaded')).toBe(false);

    p.child.kill('SIGTERM');
    expect(await p.exited).toEqual({ code: 0, signal: null });
  }, 60_000);
});
