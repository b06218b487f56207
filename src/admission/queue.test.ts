import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MINUTE_MS, type FreeForecast } from './predict.js';
import { capacityProfile, headEtaSeconds, planQueue, retryAfterFor, schedule, type QueueDecision, type QueueInput } from './queue.js';
import { ticketIdFor, type Ticket } from './types.js';

const T0 = Date.UTC(2024, 0, 8, 7, 0, 0);
const SUBNET = 'subnet-0a';
const MIN = MINUTE_MS;

/** A forecast whose free addresses step up at the given minutes. */
function stepped(free0: number, steps: [minute: number, addresses: number][], horizon = 120, from = T0): FreeForecast {
  const free = Array.from({ length: horizon + 1 }, (_, i) => free0 + steps.filter(([m]) => m <= i).reduce((n, [, a]) => n + a, 0));
  return { from, free };
}

const decisionOf = (free: number, reserved: number, buffer: number, workers: number): QueueDecision => ({
  free,
  reserved,
  buffer,
  admit: free - reserved >= workers + buffer,
});

function ticket(key: string, workers: number, enqueuedAt: number, over: Partial<Ticket> = {}): Ticket {
  return {
    id: ticketIdFor(SUBNET, key),
    subnetId: SUBNET,
    key,
    workers,
    enqueuedAt,
    lastPokeAt: enqueuedAt,
    expiresAt: enqueuedAt + 900_000,
    ...over,
  };
}

function input(over: Partial<QueueInput> & { workers?: number; key?: string; deadline?: number } = {}): QueueInput {
  const workers = over.workers ?? 10;
  const forecast = 'forecast' in over ? over.forecast : stepped(5, [[20, 10]]);
  const request = over.request ?? {
    workers,
    ...(over.key !== undefined ? { key: over.key, ticketId: ticketIdFor(SUBNET, over.key) } : {}),
    ...(over.deadline !== undefined ? { deadline: over.deadline } : {}),
  };
  return {
    subnetId: SUBNET,
    now: T0,
    tickets: [],
    decision: decisionOf(forecast?.free[0] ?? 5, 0, 0, workers),
    sampleIntervalSeconds: 60,
    ...over,
    request,
    ...(forecast ? { forecast } : {}),
  };
}

describe('capacityProfile', () => {
  it('is the room now at minute 0, then the forecast shifted to now, minus reservations and margin', () => {
    const f = stepped(10, [[5, 4]], 30, T0 - 2 * MIN);
    const cap = capacityProfile({ free: 10, reserved: 2, buffer: 3, admit: true }, f, T0);
    expect(cap).toHaveLength(29);
    expect(cap[0]).toBe(5);
    expect(cap[2]).toBe(5);
    expect(cap[3]).toBe(9);
  });

  it('keeps what attached since the forecast: fewer free now lowers the whole curve', () => {
    const f = stepped(10, [[5, 4]], 30);
    const cap = capacityProfile({ free: 7, reserved: 0, buffer: 0, admit: true }, f, T0);
    expect(cap[0]).toBe(7);
    expect(cap[5]).toBe(11);
  });

  it('knows only "now" without a forecast, or when the forecast is past', () => {
    expect(capacityProfile({ free: 7, reserved: 1, buffer: 2, admit: true }, undefined, T0)).toEqual([4]);
    expect(capacityProfile({ free: 7, reserved: 1, buffer: 2, admit: true }, stepped(7, [], 10), T0 + 11 * MIN)).toEqual([4]);
  });
});

describe('planQueue', () => {
  it('tells a run whose room only the margin refuses that it will miss a deadline before the next sample', () => {
    // 12 free, margin 5: 10 workers wait although they would fit without the margin (the hopeful course).
    const forecast = stepped(12, [[30, 10]]);
    const decision = { free: 12, reserved: 0, buffer: 5, admit: false };
    // Read right at its sample: the next sample, the soonest that may show room, is a minute away.
    const soon = planQueue(input({ forecast, decision, key: 'r', deadline: T0 + 1000 }));
    expect(soon).toMatchObject({ admit: false, willMissDeadline: true });
    // Read a minute after its sample: the next one is due now, and a last poke at the deadline may read it.
    const later = planQueue(input({ forecast, decision, key: 'r', now: T0 + MIN, deadline: T0 + MIN + 1000 }));
    expect(later).toMatchObject({ admit: false, willMissDeadline: false });
  });

  it('reads the ETA without counting launches in progress twice; admission still counts them', () => {
    // 15 free in the sample, 10 of them reserved by a launch whose ENIs the sample already shows unattached:
    // the room for 10 is there at the next sample, not when the next 10 addresses come back at minute 20.
    const forecast = stepped(15, [[20, 10]]);
    const decision = { free: 15, reserved: 10, buffer: 0, admit: false };
    const twice = planQueue(input({ forecast, decision }));
    expect(twice).toMatchObject({ admit: false, etaSeconds: 20 * 60 });
    const once = planQueue(input({ forecast, decision: { ...decision, inFlight: 10 } }));
    expect(once).toMatchObject({ admit: false, etaSeconds: 60 });
    // Only what the sample shows in progress: 3 of the 10 leave 8 free of the 10 needed until minute 20.
    expect(planQueue(input({ forecast, decision: { ...decision, inFlight: 3 } })).etaSeconds).toBe(20 * 60);
  });

  it('keeps arrival order between tickets enqueued in the same millisecond: the first stays first', () => {
    // Two runs due at the same moment poke one after the other; whichever id sorts first, the one that poked
    // first keeps the head and the ETA it was told.
    for (const [a, b] of [
      ['run-a', 'run-b'],
      ['run-b', 'run-a'],
    ]) {
      const first = planQueue(input({ key: a }));
      expect(first).toMatchObject({ admit: false, position: 1, etaSeconds: 20 * 60 });
      const second = planQueue(input({ key: b, tickets: first.putTickets }));
      expect(second).toMatchObject({ position: 2, ahead: 1 });
      expect(second.ticket?.enqueuedAt).toBeGreaterThan(first.ticket?.enqueuedAt as number);
      const again = planQueue(input({ key: a, tickets: [...first.putTickets, ...second.putTickets] }));
      expect(again).toMatchObject({ position: 1, ahead: 0, etaSeconds: 20 * 60 });
    }
  });

  it('admits the head when the policy admits it now', () => {
    const a = planQueue(input({ workers: 5, key: 'run-1' }));
    expect(a).toMatchObject({ admit: true, etaSeconds: 0, ahead: 0, willMissDeadline: false, backfilled: false, putTickets: [], dropTickets: [] });
    expect(a.position).toBeUndefined();
  });

  it('makes a keyed wait a ticket with its ETA, position and expiry (3 × retry_after)', () => {
    const a = planQueue(input({ workers: 10, key: 'run-1' }));
    expect(a.admit).toBe(false);
    expect(a.etaSeconds).toBe(20 * 60);
    expect(a.position).toBe(1);
    expect(a.retryAfterSeconds).toBe(300);
    expect(a.reason).toBe('room for 10 expected in ~20 min, 0 ahead');
    expect(a.putTickets).toEqual([
      {
        id: ticketIdFor(SUBNET, 'run-1'),
        subnetId: SUBNET,
        key: 'run-1',
        workers: 10,
        enqueuedAt: T0,
        lastPokeAt: T0,
        expiresAt: T0 + 900_000,
        etaAt: T0 + 20 * MIN,
      },
    ]);
    expect(a.ticket).toEqual(a.putTickets[0]);
  });

  it('never makes a ticket of a keyless request: answered as if at the tail', () => {
    const a = planQueue(input({ workers: 10, tickets: [ticket('first', 3, T0 - MIN)] }));
    expect(a).toMatchObject({ admit: false, position: 2, ahead: 1, putTickets: [] });
    expect(a.ticket).toBeUndefined();
  });

  it('serves in arrival order: a later request waits behind the head that the room now is held for', () => {
    const head = ticket('head', 5, T0 - MIN);
    const a = planQueue(input({ workers: 5, key: 'second', tickets: [head] }));
    expect(a.admit).toBe(false);
    expect(a.ahead).toBe(1);
    expect(a.etaSeconds).toBe(20 * 60);
    expect(a.reason).toContain('1 ahead (the room free now is held for them)');
  });

  it('backfills a small request that delays nobody', () => {
    // 8 free now, 10 more at minute 20: the head (15) starts at 20; 3 now leave 8 - 3 + 10 = 15 for it then.
    const head = ticket('head', 15, T0 - MIN);
    const a = planQueue(input({ workers: 3, key: 'small', forecast: stepped(8, [[20, 10]]), tickets: [head] }));
    expect(a).toMatchObject({ admit: true, etaSeconds: 0, ahead: 1, backfilled: true });
    expect(a.reason).toBe('launches ahead of 1 waiting (delays none of them)');
    // 4 now would leave the head short at minute 20: refused.
    const b = planQueue(input({ workers: 4, key: 'small', forecast: stepped(8, [[20, 10]]), tickets: [head] }));
    expect(b.admit).toBe(false);
  });

  it('drops its own ticket when admitted, and the expired and past-deadline tickets of others', () => {
    const own = ticket('run-1', 5, T0 - 5 * MIN);
    const dead = ticket('dead', 50, T0 - 20 * MIN, { expiresAt: T0 - 1 });
    const late = ticket('late', 50, T0 - 10 * MIN, { deadline: T0 - 1 });
    const a = planQueue(input({ workers: 5, key: 'run-1', tickets: [dead, own, late] }));
    expect(a.admit).toBe(true);
    expect(a.dropTickets.sort()).toEqual([dead.id, late.id, own.id].sort());
  });

  it('says at once that a deadline cannot be met, and drops the ticket so that it blocks nobody', () => {
    const own = ticket('run-1', 10, T0 - 5 * MIN);
    const a = planQueue(input({ workers: 10, key: 'run-1', deadline: T0 + 10 * MIN, tickets: [own] }));
    expect(a.willMissDeadline).toBe(true);
    expect(a.admit).toBe(false);
    expect(a.etaSeconds).toBe(20 * 60);
    expect(a.dropTickets).toEqual([own.id]);
    expect(a.putTickets).toEqual([]);
    expect(a.reason).toContain('cannot be met');
    // A deadline past the ETA is kept.
    const b = planQueue(input({ workers: 10, key: 'run-1', deadline: T0 + 30 * MIN }));
    expect(b.willMissDeadline).toBe(false);
    expect(b.putTickets[0].deadline).toBe(T0 + 30 * MIN);
  });

  it('reads the ETA from the likely curve and judges the deadline on the optimistic one', () => {
    // Likely room at minute 30, optimistic at 10, conservative at 50.
    const f = stepped(5, [[50, 10]], 120);
    f.likely = stepped(5, [[30, 10]], 120).free;
    f.optimistic = stepped(5, [[10, 10]], 120).free;
    const a = planQueue(input({ forecast: f, workers: 10, key: 'run-1', deadline: T0 + 20 * MIN }));
    expect(a.etaSeconds).toBe(30 * 60);
    // The ETA is past the deadline, but the launch may still come in time: not a miss, the ticket is kept.
    expect(a.willMissDeadline).toBe(false);
    expect(a.ticket?.deadline).toBe(T0 + 20 * MIN);
    // Even the optimistic course starts it after the deadline: cannot be met.
    const b = planQueue(input({ forecast: f, workers: 10, key: 'run-1', deadline: T0 + 9 * MIN }));
    expect(b.willMissDeadline).toBe(true);
    expect(b.etaSeconds).toBe(30 * 60);
    // A ticket ahead (which may give up) and the margin do not make a deadline "cannot be met" on their own.
    const g = stepped(5, [[50, 20]], 120);
    g.likely = stepped(5, [[30, 20]], 120).free;
    g.optimistic = stepped(
      5,
      [
        [10, 10],
        [25, 10],
      ],
      120,
    ).free;
    const ahead = ticket('run-0', 10, T0 - MIN);
    const c = planQueue(input({ forecast: g, workers: 10, key: 'run-1', deadline: T0 + 20 * MIN, tickets: [ahead] }));
    expect(c.etaSeconds).toBe(30 * 60);
    expect(c.ahead).toBe(1);
    expect(c.willMissDeadline).toBe(false);
  });

  it('does not call a deadline missed when no start is predicted: what running jobs hold may come back', () => {
    // Running jobs are held for the whole horizon (their end is unknown), so "no start predicted" is not
    // "cannot start": the request keeps its ticket and pokes again at the longest interval.
    const never = { forecast: stepped(5, [], 60), workers: 10 };
    for (const deadline of [T0 + 59 * MIN, T0 + 61 * MIN]) {
      const a = planQueue(input({ ...never, key: 'k', deadline }));
      expect(a.willMissDeadline).toBe(false);
      expect(a.etaSeconds).toBeNull();
      expect(a.ticket?.deadline).toBe(deadline);
      expect(a.retryAfterSeconds).toBe(300);
      expect(a.reason).toBe('no room for 10 predicted within ~60 min, 0 ahead');
    }
  });

  it('does not rewrite a re-poked ticket whose ETA and expiry hold, and does when they move', () => {
    const first = planQueue(input({ key: 'run-1' })).putTickets[0];
    const again = planQueue(input({ key: 'run-1', now: T0 + 30_000, tickets: [first], forecast: stepped(5, [[20, 10]]) }));
    expect(again.putTickets).toEqual([]);
    expect(again.ticket).toBe(first);
    // Half its grace gone: rewritten to keep it alive, its arrival kept.
    const late = planQueue(input({ key: 'run-1', now: T0 + 8 * MIN, tickets: [first], forecast: stepped(5, [[20, 10]]) }));
    expect(late.putTickets).toHaveLength(1);
    expect(late.putTickets[0].enqueuedAt).toBe(T0);
    // The ETA moved by 10 min: rewritten.
    const moved = planQueue(input({ key: 'run-1', now: T0 + 30_000, tickets: [first], forecast: stepped(5, [[30, 10]]) }));
    expect(moved.putTickets[0].etaAt).toBe(T0 + 30_000 + 30 * MIN);
  });
});

describe('retryAfterFor', () => {
  it('is half the ETA within [max(15 s, the sample interval), 300 s]', () => {
    expect(retryAfterFor(null, 60)).toBe(300);
    expect(retryAfterFor(3600, 60)).toBe(300);
    expect(retryAfterFor(240, 60)).toBe(120);
    expect(retryAfterFor(60, 60)).toBe(60);
    expect(retryAfterFor(20, 5)).toBe(15);
    expect(retryAfterFor(60, 600)).toBe(600);
  });
});

describe('headEtaSeconds', () => {
  it('is the head ticket ETA; undefined with nobody waiting, null beyond the horizon', () => {
    const d = { free: 5, reserved: 0, buffer: 0, admit: false };
    expect(headEtaSeconds([], d, stepped(5, [[20, 10]]), T0)).toBeUndefined();
    expect(headEtaSeconds([ticket('a', 10, T0), ticket('b', 1, T0 + 1)], d, stepped(5, [[20, 10]]), T0)).toBe(1200);
    expect(headEtaSeconds([ticket('a', 100, T0)], d, stepped(5, [[20, 10]]), T0)).toBeNull();
  });
});

// Random queues on random non-decreasing forecasts.
const forecastArb = fc
  .record({
    free0: fc.integer({ min: 0, max: 30 }),
    steps: fc.array(fc.tuple(fc.integer({ min: 1, max: 90 }), fc.integer({ min: 0, max: 12 })), { maxLength: 8 }),
  })
  .map(({ free0, steps }) => stepped(free0, steps, 90));
const ticketsArb = fc
  .array(fc.integer({ min: 1, max: 25 }), { maxLength: 8 })
  .map((ws) => ws.map((w, i) => ticket(`t${i}`, w, T0 - (ws.length - i) * MIN)));

/** The schedule minute by minute, as the rule reads: the first minute from which the workers fit until the horizon. */
function scheduleByMinute(workers: number[], capacity: number[]): (number | null)[] {
  const cap = [...capacity];
  return workers.map((w) => {
    for (let i = 0; i < cap.length; i++) {
      if (cap.slice(i).every((c) => c >= w)) {
        for (let j = i; j < cap.length; j++) cap[j] -= w;
        return i;
      }
    }
    return null;
  });
}

describe('queue properties', () => {
  it('schedules over runs of equal minutes exactly as minute by minute', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -5, max: 40 }), { minLength: 1, maxLength: 120 }),
        fc.array(fc.integer({ min: 1, max: 20 }), { maxLength: 10 }),
        (cap, ws) => {
          // Long runs of equal minutes, as forecasts have, and arbitrary steps between them (up and down).
          const capacity = cap.flatMap((c, i) => Array(1 + (i % 7)).fill(c));
          const tickets = ws.map((w) => ({ workers: w }));
          expect(schedule(tickets, capacity).starts).toEqual(scheduleByMinute(ws, capacity));
        },
      ),
      { numRuns: 300, seed: 13 },
    );
  });

  it('an admitted newcomer never delays a ticket ahead (FIFO without backfilling holes)', () => {
    fc.assert(
      fc.property(forecastArb, ticketsArb, fc.integer({ min: 1, max: 25 }), fc.integer({ min: 0, max: 5 }), (forecast, tickets, workers, buffer) => {
        const decision = decisionOf(forecast.free[0], 0, buffer, workers);
        const a = planQueue({ subnetId: SUBNET, now: T0, tickets, request: { workers }, decision, forecast, sampleIntervalSeconds: 60 });
        const cap = capacityProfile(decision, forecast, T0);
        const before = schedule(tickets, cap).starts;
        if (a.admit) {
          // The newcomer holds its workers from now on: every ticket ahead starts when it would have.
          const after = schedule(
            tickets,
            cap.map((c) => c - workers),
          ).starts;
          expect(after).toEqual(before);
          expect(decision.admit).toBe(true);
        }
        expect(a.putTickets).toEqual([]);
      }),
      { numRuns: 300, seed: 11 },
    );
  });

  it('never starves the head: a stream of small later requests does not push it past its first ETA', () => {
    fc.assert(
      fc.property(
        forecastArb,
        fc.integer({ min: 1, max: 30 }),
        fc.array(fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 4 }), { minLength: 90, maxLength: 90 }),
        (forecast, headWorkers, stream) => {
          const key = 'head';
          const id = ticketIdFor(SUBNET, key);
          let reserved = 0;
          let tickets: Ticket[] = [];
          let promised: number | undefined;
          for (let m = 0; m < 90; m++) {
            const now = T0 + m * MIN;
            const free = forecast.free[m];
            const ask = (workers: number, k?: string) =>
              planQueue({
                subnetId: SUBNET,
                now,
                tickets,
                request: k ? { workers, key: k, ticketId: id } : { workers },
                decision: decisionOf(free, reserved, 0, workers),
                forecast,
                sampleIntervalSeconds: 60,
              });
            const h = ask(headWorkers, key);
            if (h.admit) {
              if (promised !== undefined) expect(m).toBeLessThanOrEqual(promised);
              return;
            }
            if (h.etaSeconds !== null) promised ??= m + h.etaSeconds / 60;
            if (promised !== undefined) expect(m + (h.etaSeconds ?? Number.POSITIVE_INFINITY) / 60).toBeLessThanOrEqual(promised);
            tickets = h.putTickets.length > 0 ? h.putTickets : tickets;
            for (const w of stream[m]) {
              const s = ask(w);
              expect(s.putTickets).toEqual([]);
              // Admitted launches hold their addresses for good (their ENIs attach and stay).
              if (s.admit) reserved += w;
            }
          }
          if (promised !== undefined) expect(promised).toBeGreaterThanOrEqual(90);
        },
      ),
      { numRuns: 150, seed: 5 },
    );
  });

  it('keyless requests never create tickets, whatever the queue', () => {
    fc.assert(
      fc.property(
        forecastArb,
        ticketsArb,
        fc.integer({ min: 1, max: 40 }),
        fc.option(fc.integer({ min: 0, max: 200 })),
        (forecast, tickets, workers, dl) => {
          const request = dl === null ? { workers } : { workers, deadline: T0 + dl * MIN };
          const a = planQueue({
            subnetId: SUBNET,
            now: T0,
            tickets,
            request,
            decision: decisionOf(forecast.free[0], 0, 0, workers),
            forecast,
            sampleIntervalSeconds: 60,
          });
          expect(a.putTickets).toEqual([]);
          expect(a.ticket).toBeUndefined();
        },
      ),
      { numRuns: 200, seed: 3 },
    );
  });
});
