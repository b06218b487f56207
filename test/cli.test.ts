// The command line as users run it: the built CLI in a child process.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startSimulator } from '../src/sim/index.js';
import { freePort } from './helpers/net.js';
import { CLI } from './helpers/paths.js';
import { parseExposition, select } from './helpers/prom.js';
import { sleep, waitFor } from './helpers/wait.js';

const tmp = mkdtempSync(join(tmpdir(), 'cli-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 20_000 });

function start(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, output: () => out };
}

describe('glue-eni-exporter CLI', () => {
  it('has a --help that lists every command', () => {
    const r = run('--help');
    expect(r.status).toBe(0);
    for (const cmd of ['serve', 'check-config', 'demo', 'sim', 'admit', 'simulate', 'init-store'])
      expect(r.stdout).toMatch(new RegExp(`^\\s+${cmd}\\b`, 'm'));
  });

  it('check-config accepts a good file and names the field of a bad one', () => {
    const good = run('check-config', 'src/config/testdata/good-full.yml');
    expect(good.status).toBe(0);
    expect(good.stdout).toContain('OK');
    expect(good.stdout).toContain('policy rolling-max, queue on (adhoc: static; subnet-0b2: forecast))');
    const bad = run('check-config', 'src/config/testdata/bad-subnet-id.yml');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('subnets[1].id: expected "subnet-" followed by hex');
  });

  it('serve samples the configured subnets and exits 0 on SIGTERM with a sample in flight', async () => {
    const sim = await startSimulator({ scenario: 'scenarios/seed-split.yml', speed: 0, startAt: '2026-04-06T07:10:00Z' });
    try {
      const port = await freePort();
      const config = join(tmp, 'serve.yml');
      writeFileSync(
        config,
        `region: us-east-1\nendpoints: {ec2: "${sim.url}", glue: "${sim.url}"}\nsubnets:\n  - {id: subnet-0a1, name: critical}\nsample: {schedule: "* * * * * *"}\ndataDir: ${join(tmp, 'data')}\n`,
      );
      const proc = start(['serve', '--config', config, '--listen', `127.0.0.1:${port}`], {
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
      });
      const ready = await waitFor(
        'ready',
        async () => ((await fetch(`http://127.0.0.1:${port}/-/ready`)).status === 200 ? true : undefined),
        15_000,
        250,
      );
      expect(ready).toBe(true);
      const { samples } = parseExposition(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
      expect(select(samples, 'glue_eni_subnet_usable_ips', { subnet_id: 'subnet-0a1', subnet: 'critical' })[0].value).toBe(59);
      // Slow AWS: the next sample is in flight when SIGTERM arrives; it finishes, then the process exits 0.
      sim.setFaults({ latencyMs: 1500 });
      await sleep(1200);
      proc.child.kill('SIGTERM');
      const [code] = (await once(proc.child, 'exit')) as [number | null];
      expect(code).toBe(0);
      expect(proc.output()).toContain('exporter stopped');
    } finally {
      await sim.close();
    }
  });

  it('demo (the default scenario) shows every scenario subnet with ENIs in both states within a minute', async () => {
    const port = await freePort();
    const proc = start(['demo', '--listen', `127.0.0.1:${port}`]);
    const subnets = await waitFor(
      'every subnet with in-use and available ENIs',
      async () => {
        const { samples } = parseExposition(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
        const info = select(samples, 'glue_eni_subnet_info');
        const both = info.filter((i) => {
          const id = i.labels.subnet_id;
          const count = (status: string) => select(samples, 'glue_eni_enis', { subnet_id: id, status }).reduce((n, s) => n + s.value, 0);
          return count('in-use') > 0 && count('available') > 0;
        });
        return info.length > 0 && both.length === info.length ? info.map((i) => i.labels.subnet) : undefined;
      },
      60_000,
      250,
    );
    expect(subnets).toEqual(['shared']);
    expect(proc.output()).toContain('/metrics');
    proc.child.kill('SIGINT');
    const [code] = (await once(proc.child, 'exit')) as [number | null];
    expect(code).toBe(0);
  }, 90_000);
});
