import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshotOf, subnetView } from '../test/helpers/world.js';
import { runAdmit, type AdmitIo } from './admit-client.js';
import { parseConfig } from './config/load.js';
import { silentLogger } from './log.js';
import { SnapshotCache } from './snapshot/cache.js';
import { startAdmitApp } from '../test/helpers/admit-app.js';
import { freePort } from '../test/helpers/net.js';
import { FileStore } from './store/file.js';

const TOKEN = 'a-token-of-sixteen-chars';
const A = 'subnet-0a';
let dir: string;
let server: Server;
let url: string;
let store: FileStore;
const cache = new SnapshotCache();
let t = 0;

const full = () => cache.set(snapshotOf([subnetView({ subnetId: A, name: 'critical', inUse: 45, lingering: 0 })]));
const roomy = () => cache.set(snapshotOf([subnetView({ subnetId: A, name: 'critical', inUse: 5, lingering: 0 })]));

function io(onSleep: (n: number) => void = () => undefined): AdmitIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  let sleeps = 0;
  return {
    out,
    err,
    stdout: (l) => out.push(l),
    stderr: (l) => err.push(l),
    // Virtual time: each poke interval passes instantly.
    sleep: async (ms) => {
      t += ms;
      onSleep(++sleeps);
    },
    now: () => t,
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'glue-eni-admit-cli-'));
  const config = parseConfig({ subnets: [{ id: A, name: 'critical' }], dataDir: dir, admission: { token: TOKEN } }, {});
  store = await FileStore.open({ dataDir: dir, clock: { now: () => Date.now() }, logger: silentLogger });
  ({ server, url } = await startAdmitApp({ cache, config, store }));
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('runAdmit', () => {
  it('pokes until admitted, then prints the reservation and exits 0', async () => {
    full();
    const o = io((n) => n === 2 && roomy());
    const code = await runAdmit(
      { url, subnet: 'critical', workers: 10, dagRunId: 'd1', token: TOKEN, pokeIntervalSeconds: 60, timeoutSeconds: 600 },
      o,
    );
    expect(code).toBe(0);
    expect(o.err.filter((l) => l.includes('waiting'))).toHaveLength(2);
    const printed = JSON.parse(o.out[0]);
    expect(printed).toMatchObject({ admit: true, subnet_id: A, workers: 10, dag_run_id: 'd1' });
    expect(printed.reservation_id).toMatch(/^subnet-0a\./);
  });

  it('gives up loud at the timeout with the last reason (exit 1)', async () => {
    full();
    const o = io();
    const code = await runAdmit({ url, subnet: A, workers: 10, token: TOKEN, pokeIntervalSeconds: 60, timeoutSeconds: 600 }, o);
    expect(code).toBe(1);
    const last = o.err.at(-1) ?? '';
    expect(last).toMatch(/not admitted after 600 s and 11 pokes \(timeout 600 s\); last answer: free 14 − reserved 10 < workers 10 \+ buffer 10/);
  });

  it('exits 2 on a 4xx and when the exporter is unreachable', async () => {
    roomy();
    const bad = io();
    expect(await runAdmit({ url, subnet: 'nope', workers: 1, token: TOKEN }, bad)).toBe(2);
    expect(bad.err[0]).toMatch(/HTTP 404: subnet "nope" is not watched \(field subnet\)/);
    const noToken = io();
    expect(await runAdmit({ url, subnet: A, workers: 1 }, noToken)).toBe(2);
    expect(noToken.err[0]).toMatch(/HTTP 401/);

    const port = await freePort();
    const down = io();
    expect(await runAdmit({ url: `http://127.0.0.1:${port}`, subnet: A, workers: 1 }, down)).toBe(2);
    expect(down.err[0]).toMatch(/unreachable/);
  });
});
