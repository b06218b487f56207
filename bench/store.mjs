// The embedded admission store under a month of traffic, then a cold start on what it left.
//
//   npm run build && node bench/store.mjs [--days 30] [--sensors 100] [--subnets 10] [--runs 3] [--ticket-share 0.5]
//   GLUE_ENI_DIST=/tmp/old/dist node bench/store.mjs --days 7        # another build (the before figure)
//
// `--sensors` sensors poke every minute of a fake clock for `--days` days (30 days × 100 = 4.32 M calls),
// each through FileStore.transact with a plan like /admit's: the subnet's reservations are counted
// (reservedWorkers), the call is admitted when the simulated free addresses allow it, and an admission
// reserves its workers for 300 s (retained 600 s). A share of the sensors (`--ticket-share`, default half) hold
// queue tickets: each of their waits writes its ticket again (new, or re-poked: lastPokeAt, expiry 3 min, ETA;
// the heaviest case, every poke a ticket record), and their admission drops it in the same step; the next run of
// that sensor has a new key. The calls of one minute go out together, as sensors' requests do (one group commit +
// fdatasync). Observations are kept 30 days (store.retentionDays).
// Then, `--runs` times, a fresh process opens a copy of the store (FileStore.open, the compaction at open
// included) and reports the time it took and its RSS. Prints one JSON object; `store_mb_max_hourly` is the
// largest size of dataDir seen at the top of each simulated hour.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    days: { type: 'string', default: '30' },
    sensors: { type: 'string', default: '100' },
    subnets: { type: 'string', default: '10' },
    runs: { type: 'string', default: '3' },
    'ticket-share': { type: 'string', default: '0.5' },
    'open-only': { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const dist = resolve(process.env.GLUE_ENI_DIST ?? new URL('../dist', import.meta.url).pathname);
const { FileStore } = await import(join(dist, 'store/file.js'));
const logger = { warn() {}, error() {}, info() {}, debug() {} };
const DAY = 86_400_000;
const START = Date.parse('2026-04-01T00:00:00.000Z');

if (values['open-only']) {
  // Child: one cold open, timed, then its RSS.
  const at = Number(process.env.BENCH_NOW);
  const t0 = process.hrtime.bigint();
  const store = await FileStore.open({ dataDir: values['open-only'], clock: { now: () => at }, logger });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const rss = process.memoryUsage().rss;
  await store.close();
  console.log(JSON.stringify({ open_ms: ms, rss_mb: rss / 1048576 }));
  process.exit(0);
}

const { reservedWorkers } = await import(join(dist, 'admission/reservations.js'));
const days = Number(values.days);
const sensors = Number(values.sensors);
const ticketShare = Number(values['ticket-share']);
/** Sensors 0..holders-1 hold tickets while they wait; each sensor's run number makes its key (one per DAG run). */
const holders = Math.round(sensors * ticketShare);
const runOf = new Array(sensors).fill(0);
const subnets = Array.from({ length: Number(values.subnets) }, (_, i) => `subnet-0${(0xa0 + i).toString(16)}`);
const dataDir = mkdtempSync(join(tmpdir(), 'bench-store-'));
let now = START;
const clock = { now: () => now };
const store = await FileStore.open({ dataDir, clock, logger });

const logSize = () => {
  let n = 0;
  for (const f of readdirSync(dataDir)) n += statSync(join(dataDir, f)).size;
  return n;
};

let seq = 0;
let admitted = 0;
let ticketWrites = 0;
let maxBytes = 0;
const minutes = days * 24 * 60;
const t0 = Date.now();
for (let m = 0; m < minutes; m++) {
  now = START + m * 60_000;
  const calls = [];
  for (let s = 0; s < sensors; s++) {
    const subnetId = subnets[s % subnets.length];
    const id = seq++;
    // Free addresses drift over the day like a subnet shared by scheduled jobs.
    const free = 20 + Math.round(15 * Math.sin((m + s) / 97));
    const holds = s < holders;
    const run = runOf[s];
    const ticketId = `${subnetId}.t.${s.toString(16).padStart(6, '0')}${run.toString(16).padStart(10, '0')}`;
    calls.push(
      store.transact(subnetId, now, ({ reservations, tickets }) => {
        const { reserved } = reservedWorkers(reservations, [], now);
        const admit = free - reserved >= 2 + 10;
        const observation = {
          subnetId,
          observedAt: now,
          uniq: `b${id.toString(36)}`,
          totalEnis: 40,
          inUse: 30,
          available: free % 7,
          lingering: 2,
          dagRunId: `scheduled__2026-04-01T00:00:00+00:00_sensor_${s}`,
          decision: admit ? 'admit' : 'wait',
          expiresAt: now + 30 * DAY,
        };
        const add = admit
          ? {
              id: `${subnetId}.${id.toString(16).padStart(8, '0')}`,
              subnetId,
              workers: 2,
              createdAt: now,
              expiresAt: now + 300_000,
              retainUntil: now + 600_000,
            }
          : undefined;
        if (!holds) return { observation, add, result: admit };
        if (admit) return { observation, add, dropTickets: [ticketId], result: admit };
        const prev = tickets.find((t) => t.id === ticketId);
        const ticket = {
          id: ticketId,
          subnetId,
          key: `scheduled__run${run}_sensor_${s}`,
          workers: 2,
          enqueuedAt: prev?.enqueuedAt ?? now,
          lastPokeAt: now,
          expiresAt: now + 180_000,
          etaAt: now + 600_000,
        };
        return { observation, putTickets: [ticket], result: admit };
      }),
    );
  }
  const answers = await Promise.all(calls);
  for (let s = 0; s < sensors; s++) {
    if (answers[s]) {
      admitted++;
      runOf[s]++;
    } else if (s < holders) ticketWrites++;
  }
  if (m % 60 === 0) maxBytes = Math.max(maxBytes, logSize());
}
await store.close();
const driveSeconds = (Date.now() - t0) / 1000;
const finalBytes = logSize();
maxBytes = Math.max(maxBytes, finalBytes);

const opens = [];
for (let r = 0; r < Number(values.runs); r++) {
  // Each run opens a copy of what the month left, so every run does the same work (compaction included).
  const copy = `${dataDir}-open${r}`;
  cpSync(dataDir, copy, { recursive: true });
  const out = spawnSync(process.execPath, [new URL(import.meta.url).pathname, '--open-only', copy], {
    env: { ...process.env, BENCH_NOW: String(now) },
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  rmSync(copy, { recursive: true, force: true });
  if (out.status !== 0) {
    opens.push({ error: (out.stderr || out.stdout).trim().split('\n').slice(-3).join(' ') });
    continue;
  }
  opens.push(JSON.parse(out.stdout.trim().split('\n').pop()));
}
const median = (xs) => {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return v.length ? v[Math.floor((v.length - 1) / 2)] : null;
};
console.log(
  JSON.stringify(
    {
      dist,
      days,
      sensors,
      subnets: subnets.length,
      calls: seq,
      admitted,
      ticket_share: ticketShare,
      ticket_writes: ticketWrites,
      tickets_live_final: subnets.reduce((n, id) => n + (store.peekTickets(id)?.length ?? 0), 0),
      drive_seconds: Math.round(driveSeconds),
      store_bytes_final: finalBytes,
      store_mb_final: +(finalBytes / 1048576).toFixed(1),
      store_mb_max_hourly: +(maxBytes / 1048576).toFixed(1),
      open_ms: opens.map((o) => (o.open_ms === undefined ? o.error : Math.round(o.open_ms))),
      open_ms_median: median(opens.map((o) => o.open_ms)),
      open_rss_mb: opens.map((o) => (o.rss_mb === undefined ? null : Math.round(o.rss_mb))),
      open_rss_mb_median: median(opens.map((o) => o.rss_mb)),
    },
    null,
    1,
  ),
);
if (!values.keep) rmSync(dataDir, { recursive: true, force: true });
else console.error(`kept ${dataDir}`);
