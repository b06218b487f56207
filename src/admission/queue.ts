// The fair queue: waiting launches served in arrival order, each as soon as it fits, a later one ahead of
// waiting tickets only when that delays none of them (backfilling, as Slurm does). Pure: no I/O, no clock.
//
// The schedule: the capacity over the next minutes is the release forecast (shifted to now and pinned to the
// free addresses the decision sees) minus the reservations and the policy's margin. Tickets are placed in
// arrival order, each at the first minute from which its workers fit until the end of the horizon (a launched
// job holds its addresses for as long as we can see), and take them from there on. The request is placed after
// the tickets ahead of it: it launches now only if it fits now beside all of them, so no ticket ahead moves.
import { MINUTE_MS, type FreeForecast } from './predict.js';
import type { TargetFields, Ticket } from './types.js';

/** How often a waiting sensor is asked to poke again, at most (it hears of a sooner ETA at its next poke). */
export const MAX_RETRY_AFTER_SECONDS = 300;
/** Never asked to poke more often than this (nor more often than a sample can change the answer). */
export const MIN_RETRY_AFTER_SECONDS = 15;
/** A ticket expires when its sensor has not poked for this many retry_after periods. */
export const TICKET_EXPIRY_RETRIES = 3;

/** What the queue reads of the policy's decision for the request now. */
export interface QueueDecision {
  admit: boolean;
  free: number;
  reserved: number;
  /** The policy's margin (its buffer). */
  buffer: number;
  /**
   * Addresses of launches in progress that `free` already excludes: Glue ENIs created but not yet attached,
   * which no reservation can claim yet, so that `reserved` counts them a second time until the next sample.
   * Only the ETA reads it (admission keeps the policy's safe double count).
   */
  inFlight?: number;
}

export interface QueueRequest {
  /** dag_run_id or client_id; absent: the request holds no ticket (answered as if at the tail). */
  key?: string;
  /** The request's ticket id (from the key); required with a key. */
  ticketId?: string;
  workers: number;
  /** Epoch ms by which the launch must start. */
  deadline?: number;
}

export interface QueueInput {
  subnetId: string;
  now: number;
  /** The subnet's tickets as the ledger holds them (expired or past-deadline ones are dropped here). */
  tickets: readonly Ticket[];
  request: QueueRequest;
  decision: QueueDecision;
  /** The subnet's last release forecast; absent: nothing is predicted to come back (only "now" is known). */
  forecast?: FreeForecast;
  sampleIntervalSeconds: number;
  /** The subnet's target, written on the ticket. */
  target?: TargetFields;
}

export interface QueueAnswer {
  admit: boolean;
  /** Seconds until the request is predicted to launch (0 when admitted), null when not within the horizon. */
  etaSeconds: number | null;
  /** 1 = head; absent when admitted. */
  position?: number;
  /** Tickets ahead of the request. */
  ahead: number;
  willMissDeadline: boolean;
  retryAfterSeconds: number;
  /** The queue's part of the reason sentence. */
  reason: string;
  /** Launched ahead of waiting tickets (delaying none). */
  backfilled: boolean;
  /** The ticket the request holds after this answer (absent when admitted, missing its deadline, or keyless). */
  ticket?: Ticket;
  putTickets: Ticket[];
  dropTickets: string[];
  /** Minutes of the schedule the answer saw (the forecast's horizon from now). */
  horizonMinutes: number;
}

/** Arrival order: enqueuedAt, then id. */
export function byArrival(a: Pick<Ticket, 'enqueuedAt' | 'id'>, b: Pick<Ticket, 'enqueuedAt' | 'id'>): number {
  return a.enqueuedAt - b.enqueuedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Tickets that still wait at `now`: not expired, deadline not passed. */
export function ticketAlive(t: Ticket, now: number): boolean {
  return now < t.expiresAt && (t.deadline === undefined || now <= t.deadline);
}

/**
 * What may be handed out at each minute from now: the forecast shifted to `now`, never below the free
 * addresses the decision sees, lowered by what has attached since the forecast's sample, minus the
 * reservations and the margin. capacity[0] is exactly the policy's room now.
 */
export function capacityProfile(
  decision: QueueDecision,
  forecast: FreeForecast | undefined,
  now: number,
  bound: 'conservative' | 'likely' | 'optimistic' = 'conservative',
): number[] {
  const out: number[] = [];
  eachCapacity(decision, forecast, now, bound, (v) => out.push(v));
  return out;
}

/** capacityProfile's minutes in order, handed to `visit` (no list made: /admit reads them as runs). */
function eachCapacity(
  decision: QueueDecision,
  forecast: FreeForecast | undefined,
  now: number,
  bound: 'conservative' | 'likely' | 'optimistic',
  visit: (capacity: number) => void,
): void {
  const room0 = decision.free - decision.reserved - decision.buffer;
  visit(room0);
  if (!forecast || forecast.free.length === 0) return;
  const likely = forecast.likely ?? forecast.free;
  const curve = bound === 'optimistic' ? (forecast.optimistic ?? likely) : bound === 'likely' ? likely : forecast.free;
  const shift = Math.max(0, Math.floor((now - forecast.from) / MINUTE_MS));
  const last = forecast.free.length - 1;
  if (shift >= last) return;
  // Addresses taken since the forecast's sample stay taken; addresses freed early are not counted twice.
  const drift = Math.min(0, decision.free - curve[shift]);
  for (let i = 1; i <= last - shift; i++) {
    visit(Math.max(room0, curve[shift + i] + drift - decision.reserved - decision.buffer));
  }
}

/**
 * The capacity as runs of equal minutes (a forecast changes at a few dozen minutes, not at every one): placing a
 * ticket costs the number of runs, and a poke with a hundred tickets ahead stays cheap.
 */
class Runs {
  /** First minute of each run, ascending; run r spans starts[r] .. starts[r + 1] − 1. */
  readonly starts: number[] = [];
  readonly values: number[] = [];
  /** Minutes covered (the profile's length). */
  minutes = 0;

  static of(capacity: readonly number[]): Runs {
    const runs = new Runs();
    for (const c of capacity) runs.add(c);
    return runs;
  }

  /** capacityProfile's runs, made without the list: a poke read 240 minutes into a fresh list up to three times. */
  static profile(decision: QueueDecision, forecast: FreeForecast | undefined, now: number, bound: 'conservative' | 'likely' | 'optimistic'): Runs {
    const runs = new Runs();
    eachCapacity(decision, forecast, now, bound, (c) => runs.add(c));
    return runs;
  }

  add(capacity: number): void {
    const n = this.values.length;
    if (n === 0 || this.values[n - 1] !== capacity) {
      this.starts.push(this.minutes);
      this.values.push(capacity);
    }
    this.minutes++;
  }

  /** Place `workers` at the first minute from which they fit until the horizon, and take them from there on. */
  place(workers: number): number | null {
    const { starts, values } = this;
    // The first run from which every later run has room: scan back while the suffix keeps it.
    let first = -1;
    for (let r = values.length - 1; r >= 0 && values[r] >= workers; r--) first = r;
    if (first < 0) return null;
    for (let r = first; r < values.length; r++) values[r] -= workers;
    return starts[first];
  }
}

/**
 * Each ticket's predicted start (minutes from now, null: not within the horizon), in arrival order, then the
 * start of `workers` placed after them.
 */
export function schedule(
  ordered: readonly Pick<Ticket, 'workers'>[],
  capacity: readonly number[],
  workers?: number,
): { starts: (number | null)[]; start?: number | null } {
  const runs = Runs.of(capacity);
  const starts = ordered.map((t) => runs.place(t.workers));
  return workers === undefined ? { starts } : { starts, start: runs.place(workers) };
}

/** Where `workers` placed after `ordered` would start (schedule's `start`), listing no ticket's start. */
function startAfter(ordered: readonly Pick<Ticket, 'workers'>[], runs: Runs, workers: number): number | null {
  for (const t of ordered) runs.place(t.workers);
  return runs.place(workers);
}

/** When to poke again: half the ETA, within [max(15 s, the sample interval), 300 s]. */
export function retryAfterFor(etaSeconds: number | null, sampleIntervalSeconds: number): number {
  const floor = Math.max(MIN_RETRY_AFTER_SECONDS, Math.ceil(sampleIntervalSeconds));
  const want = etaSeconds === null ? MAX_RETRY_AFTER_SECONDS : Math.min(MAX_RETRY_AFTER_SECONDS, Math.ceil(etaSeconds / 2));
  return Math.max(floor, want);
}

/** Whether a re-poke must rewrite its ticket: a store write per poke is what this avoids. */
function mustRewrite(old: Ticket, next: Ticket, now: number): boolean {
  if (old.workers !== next.workers || old.deadline !== next.deadline) return true;
  if ((old.etaAt === undefined) !== (next.etaAt === undefined)) return true;
  if (old.etaAt !== undefined && next.etaAt !== undefined) {
    // Material: a minute, or a tenth of the wait left.
    const left = Math.max(0, next.etaAt - now);
    if (Math.abs(next.etaAt - old.etaAt) >= Math.max(MINUTE_MS, left / 10)) return true;
  }
  // Keep it alive: rewrite once more than half of its grace is used up.
  return old.expiresAt - now < (next.expiresAt - now) / 2;
}

const minutesText = (seconds: number): string => {
  const m = Math.max(1, Math.ceil(seconds / 60));
  return m < 120 ? `~${m} min` : `~${(m / 60).toFixed(1)} h`;
};

/**
 * The queue's answer to one request: admit now or wait, with the ETA, the place in the queue and the ticket
 * changes to make in the same transaction.
 */
export function planQueue(input: QueueInput): QueueAnswer {
  const { now, request, decision } = input;
  const dropTickets: string[] = [];
  const putTickets: Ticket[] = [];
  let own: Ticket | undefined;
  const waiting: Ticket[] = [];
  for (const t of input.tickets) {
    if (!ticketAlive(t, now)) dropTickets.push(t.id);
    else if (request.ticketId !== undefined && t.id === request.ticketId) own = t;
    else waiting.push(t);
  }
  waiting.sort(byArrival);
  const ahead = own ? waiting.filter((t) => byArrival(t, own) < 0) : waiting;

  // The ETA follows the likely course of the releases (p50): read from the conservative p90 curve it comes out
  // late by the spread of the durations. Admission itself is the policy's, on what is free now.
  const capacity = Runs.profile(decision, input.forecast, now, 'likely');
  const horizonMinutes = capacity.minutes - 1;
  const start = startAfter(ahead, capacity, request.workers);
  // The policy has the last word on "now"; the profile's minute 0 is its room, so they agree.
  const admit = start === 0 && decision.admit;
  // The ETA does not count launches in progress twice: read with them, every answer in the minute after a
  // launch came out late by a whole release (the next run's end) where the room was there at the next sample.
  const inFlight = Math.min(decision.reserved, decision.inFlight ?? 0);
  const etaStart =
    admit || inFlight === 0
      ? start
      : startAfter(ahead, Runs.profile({ ...decision, reserved: decision.reserved - inFlight }, input.forecast, now, 'likely'), request.workers);
  const etaSeconds = admit ? 0 : etaStart === null ? null : Math.max(etaStart, 1) * 60;
  const deadline = request.deadline ?? own?.deadline;
  // "Cannot be met" is judged on the most hopeful course (the ETA stays the likely one): the optimistic (p99)
  // releases, no margin, and the tickets ahead taken as gone (they may give up). A run told to give up must not
  // be one that would have launched in time: the backtest loses runs to any bound stricter than this. With no
  // start predicted even so (a running job longer than any seen holds its addresses) the launch may still fit
  // in time: not a miss. Room the policy refuses now comes with a later sample at the soonest: the next one,
  // which a last poke at the deadline may still read.
  let willMissDeadline = false;
  if (!admit && deadline !== undefined && etaSeconds !== null && now + etaSeconds * 1000 > deadline) {
    const soonest = Runs.profile({ ...decision, buffer: 0 }, input.forecast, now, 'optimistic').place(request.workers);
    const intervalMs = input.sampleIntervalSeconds * 1000;
    const from = input.forecast?.from;
    const nextSample = from === undefined ? now + intervalMs : from + Math.max(1, Math.ceil((now - from) / intervalMs)) * intervalMs;
    const earliest = soonest === 0 ? nextSample : now + (soonest ?? 0) * MINUTE_MS;
    willMissDeadline = soonest !== null && earliest > deadline;
  }
  const retryAfterSeconds = retryAfterFor(etaSeconds, input.sampleIntervalSeconds);
  const n = ahead.length;

  const answer: QueueAnswer = {
    admit,
    etaSeconds,
    ahead: n,
    willMissDeadline,
    retryAfterSeconds,
    reason: '',
    backfilled: admit && n > 0,
    putTickets,
    dropTickets,
    horizonMinutes,
  };
  if (admit) {
    answer.reason = n > 0 ? `launches ahead of ${n} waiting (delays none of them)` : '';
    if (own) dropTickets.push(own.id);
    return answer;
  }
  answer.position = n + 1;
  const when =
    etaSeconds === null
      ? `no room for ${request.workers} predicted within ${minutesText(horizonMinutes * 60)}`
      : `room for ${request.workers} expected in ${minutesText(etaSeconds)}`;
  answer.reason = `${when}, ${n} ahead${n > 0 && decision.admit ? ' (the room free now is held for them)' : ''}`;
  if (willMissDeadline) {
    answer.reason += `; the deadline ${new Date(deadline as number).toISOString()} cannot be met`;
    if (own) dropTickets.push(own.id);
    return answer;
  }
  if (request.key === undefined || request.ticketId === undefined) return answer;

  const next: Ticket = {
    id: request.ticketId,
    subnetId: input.subnetId,
    key: request.key,
    workers: request.workers,
    // A newcomer goes after every ticket already waiting, even one enqueued in the same millisecond: with equal
    // times the id would decide, and a ticket told it was first could find itself second at its next poke.
    enqueuedAt: own?.enqueuedAt ?? waiting.reduce((m, t) => Math.max(m, t.enqueuedAt + 1), now),
    lastPokeAt: now,
    expiresAt: now + TICKET_EXPIRY_RETRIES * retryAfterSeconds * 1000,
    ...input.target,
  };
  if (deadline !== undefined) next.deadline = deadline;
  if (etaSeconds !== null) next.etaAt = now + etaSeconds * 1000;
  if (!own || mustRewrite(own, next, now)) {
    putTickets.push(next);
    answer.ticket = next;
  } else {
    answer.ticket = own;
  }
  return answer;
}

/**
 * The head ticket's ETA in seconds (null: not within the horizon), for /metrics; undefined when nobody waits.
 */
export function headEtaSeconds(
  tickets: readonly Ticket[],
  decision: QueueDecision,
  forecast: FreeForecast | undefined,
  now: number,
): number | null | undefined {
  const head = tickets.filter((t) => ticketAlive(t, now)).sort(byArrival)[0];
  if (!head) return undefined;
  const start = Runs.profile(decision, forecast, now, 'likely').place(head.workers);
  return start === null ? null : start * 60;
}
