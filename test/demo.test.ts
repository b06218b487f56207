// `npm run demo` shows every feature at its default speed, and says which flag to use when its port is taken.
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnDemo, startDemoProc, type DemoProc } from './docs/helpers.js';
import { freePort, listenAnyPort } from './helpers/net.js';
import { parseExposition, select } from './helpers/prom.js';
import { waitFor } from './helpers/wait.js';

const demos: DemoProc[] = [];
afterAll(async () => {
  for (const d of demos) await d.stop();
});

async function holdPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  return { server, port: await listenAnyPort(server) };
}

describe('demo', () => {
  it('counts gate bypasses at its default speed (the scheduled Glue runs launch without the gate)', async () => {
    // Two virtual minutes before the 07:00 batch: at the default 30x it launches four seconds in.
    const demo = await startDemoProc(['--start', '2026-04-06T06:58:00Z']);
    demos.push(demo);
    expect(demo.output()).toContain('at 30x');
    // The banner's AWS CLI line, as printed, with no AWS set-up of the caller's: v1 needs AWS_DEFAULT_REGION.
    const line = /AWS CLI \(v1 or v2\): (.+)$/m.exec(demo.output())?.[1];
    expect(line).toContain('AWS_DEFAULT_REGION=us-east-1');
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_')));
    const aws = spawnSync('bash', ['-o', 'pipefail', '-c', `${line} --query 'length(NetworkInterfaces)' --output text`], {
      env: { ...clean, AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(aws.status, aws.stderr).toBe(0);
    expect(Number(aws.stdout.trim())).toBeGreaterThan(0);
    const bypassed = await waitFor(
      'glue_eni_gate_bypass_addresses_total above 0',
      async () => {
        const { samples } = parseExposition(await (await fetch(`${demo.url}/metrics`)).text());
        const v = select(samples, 'glue_eni_gate_bypass_addresses_total', { subnet: 'shared' })[0]?.value ?? 0;
        return v > 0 ? v : undefined;
      },
      60_000,
      500,
    );
    // Four 10-worker jobs launch at 07:00, one address per ENI: at least one whole job's ENIs are counted.
    expect(bypassed).toBeGreaterThanOrEqual(10);
    expect(demo.output()).toContain('addresses taken without an admission (gate bypass)');
    expect(await demo.stop()).toBe(0);
  }, 90_000);

  it("with the exporter's port taken, exits 1 naming --listen (and --sim-listen for the simulator)", async () => {
    const held = await holdPort();
    try {
      const run = spawnDemo(['--listen', `127.0.0.1:${held.port}`]);
      expect(await run.exit).toBe(1);
      expect(run.output()).toContain(`127.0.0.1:${held.port} is already in use (EADDRINUSE): pick another with --listen`);
      expect(run.output()).toContain('--sim-listen');

      const sim = spawnDemo(['--listen', `127.0.0.1:${await freePort()}`, '--sim-listen', `127.0.0.1:${held.port}`]);
      expect(await sim.exit).toBe(1);
      expect(sim.output()).toContain(`the simulator's address 127.0.0.1:${held.port} is already in use (EADDRINUSE): pick another with --sim-listen`);
    } finally {
      held.server.close();
    }
  }, 60_000);
});
