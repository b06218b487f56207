// Crash safety of the real binary: `node dist/cli.js serve` against the AWS simulator, several clients poking
// /admit (GET and POST), kill -9 at a random point in every round, restart on the same dataDir. Every answer
// a client received is a promise: its observation and its reservation must be on disk after any crash, and
// the store must open again, also after a torn last record.
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { silentLogger } from '../../src/log.js';
import { FileStore, LOG_FILE } from '../../src/store/file.js';
import { freePort, killProc, rawRequest, readLedger, simFixture, sleep, startServe, waitReady, type RawResponse, type ServeProc } from './helpers.js';

const ROUNDS = 8;
const CLIENTS = 6;
/** The round after which a partial record is appended to the log by hand. */
const TEAR_AFTER = 3;
const SUBNETS = ['subnet-0a1', 'subnet-0b2', 'subnet-0c3'];
const KEYS = [...SUBNETS, 'critical'];

/** Deterministic choices (mulberry32), so that a failing run can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Ack {
  dagRunId: string;
  subnetId: string;
  observedAt: string;
  reservationId?: string;
}

const f = simFixture('hardening-crash');
let dataDir: string;
let configPath: string;
let port: number;
let current: ServeProc | undefined;

beforeAll(async () => {
  dataDir = f.dir;
  // Samples every 2 s (the fixture's schedule) keep reservation housekeeping writing while clients are poking.
  configPath = f.config('config', {
    subnets: ['{id: subnet-0a1, name: critical}', '{id: subnet-0b2}', '{id: subnet-0c3}'],
    dataDir: join(dataDir, 'data'),
    extra: ['admission: {reservationTtlSeconds: 1800}'],
  });
  port = await freePort();
});

afterAll(async () => {
  if (current) await killProc(current);
});

describe('kill -9 in a loop', () => {
  it('keeps every acknowledged observation and reservation, and opens after a torn tail', async () => {
    const random = rng(20260406);
    const acks: Ack[] = [];
    const perRound: number[] = [];
    let tornSeen = 0;
    let tornForced = 0;
    const logPath = join(dataDir, 'data', LOG_FILE);

    for (let round = 0; round < ROUNDS; round++) {
      const proc = startServe({ config: configPath, port });
      current = proc;
      const ready = await waitReady(proc, 20_000, `round ${round}: /-/ready`);
      expect(ready.status).toBe(200);
      const openedUnclean = proc.logs().find((l) => l.msg === 'store opened after an unclean stop');
      if (openedUnclean?.tornTail === true) tornSeen++;
      if (round === TEAR_AFTER + 1) {
        // The record appended by hand was reported, and the exporter serves anyway.
        expect(openedUnclean, proc.output().slice(-2000)).toMatchObject({ tornTail: true, skipped: 1 });
      }

      // Kill after a random number of acknowledged answers, while the clients still have requests in flight.
      const target = 15 + Math.floor(random() * 60);
      let acked = 0;
      let killed = false;
      const kill = () => {
        if (killed) return;
        killed = true;
        proc.child.kill('SIGKILL');
      };
      const client = async (c: number) => {
        for (let n = 0; !killed; n++) {
          const dagRunId = `r${round}-c${c}-${n}`;
          const subnet = KEYS[Math.floor(random() * KEYS.length)];
          const workers = 1 + Math.floor(random() * 3);
          const req =
            n % 2 === 0
              ? {
                  method: 'POST',
                  path: '/admit',
                  headers: { 'content-type': 'application/json' },
                  body: JSON.stringify({ subnet, workers, dag_run_id: dagRunId }),
                }
              : { method: 'GET', path: `/admit?subnet=${subnet}&workers=${workers}&dag_run_id=${dagRunId}` };
          let res: RawResponse;
          try {
            res = await rawRequest(proc.url, req, 5000);
          } catch {
            // A dead process, or a kept-alive socket from the last one: only the kill ends a client.
            if (!killed) await sleep(10);
            continue;
          }
          expect(res.status, res.text).toBe(200);
          const body = JSON.parse(res.text) as {
            admit: boolean;
            observed_at: string;
            subnet_id: string;
            dag_run_id?: string;
            reservation_id?: string;
          };
          expect(body.dag_run_id).toBe(dagRunId);
          const ack: Ack = { dagRunId, subnetId: body.subnet_id, observedAt: body.observed_at };
          if (body.admit) ack.reservationId = body.reservation_id;
          acks.push(ack);
          if (++acked >= target) kill();
        }
      };
      await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
      const exit = await proc.exited;
      expect(exit.signal).toBe('SIGKILL');
      current = undefined;
      perRound.push(acked);

      if (round === TEAR_AFTER) {
        appendFileSync(logPath, '{"t":"obs","subnet_id":"subnet-0a1","observed_at":"2026-');
        tornForced++;
      }
    }

    // The store opens; every acknowledged reservation is in it.
    const store = await FileStore.open({ dataDir: join(dataDir, 'data'), clock: systemClock, logger: silentLogger });
    const now = Date.now();
    const stored = new Set<string>();
    try {
      for (const s of SUBNETS) for (const r of await store.reservations(s, now)) stored.add(r.id);
      expect(store.openReport.tornTail).toBe(false);
    } finally {
      await store.close();
    }
    const reservations = acks.filter((a) => a.reservationId !== undefined);
    const lostReservations = reservations.filter((a) => !stored.has(a.reservationId!));
    expect(lostReservations, 'acknowledged reservations missing after the crashes').toEqual([]);

    // Every acknowledged observation is in the log, with the time and subnet the client was told.
    const ledger = readLedger(join(dataDir, 'data', LOG_FILE));
    expect(ledger.unreadable).toBe(0);
    const observed = new Map<string, { subnet_id?: string; observed_at?: string }>();
    for (const r of ledger.records) if (r.t === 'obs' && r.dag_run_id) observed.set(r.dag_run_id, r);
    const lostObservations = acks.filter((a) => {
      const o = observed.get(a.dagRunId);
      return !o || o.observed_at !== a.observedAt || o.subnet_id !== a.subnetId;
    });
    expect(lostObservations, 'acknowledged observations missing after the crashes').toEqual([]);

    console.log(
      `crash loop: ${ROUNDS} rounds (kill -9 after ${perRound.join(', ')} acknowledged answers), ` +
        `${acks.length} acknowledged observations, ${reservations.length} acknowledged reservations, ` +
        `${tornSeen} torn tails reported at restart (${tornForced} forced), ${observed.size} observations on disk`,
    );
    expect(perRound.every((n) => n >= 15)).toBe(true);
    expect(reservations.length).toBeGreaterThan(0);
    expect(tornSeen).toBeGreaterThanOrEqual(tornForced);
  }, 120_000);
});
