// The admission step: one pure function that /admit runs inside the store's transaction and the backtest runs
// at each poke, so that the two cannot drift apart. Given the subnet's sample, its reservation ledger and its
// window, it decides, mints the reservation an admission takes, and says which reservations the sample shows
// consumed. No I/O, no clock, no randomness: the caller passes the time and the reservation id source.
import type { SubnetView } from '../snapshot/types.js';
import { decide } from './policy.js';
import type { FreeForecast } from './predict.js';
import { planQueue, type QueueAnswer } from './queue.js';
import { reservedWorkers } from './reservations.js';
import type { BypassHistory, Decision, ForecastExtras, PolicySettings, Reservation, TargetFields, Ticket, WindowSample } from './types.js';

/** What the step reads of the subnet's sample. */
export type SampledSubnet = Pick<SubnetView, 'subnetId' | 'free' | 'available' | 'lingering' | 'enis'>;

/** What the caller knows beside the sample and the ledger: the sample's age, the schedule, the bypass memory. */
export interface StepContext {
  /** Seconds since the sample was taken. */
  snapshotAgeSeconds: number | undefined;
  sampleIntervalSeconds: number;
  bypass: BypassHistory | undefined;
}

export interface AssessInput extends StepContext {
  subnet: SampledSubnet;
  /** The subnet's retained reservations (live, closed and expired until retainUntil). */
  ledger: readonly Reservation[];
  /** This admission's sample and the recorded ones, newest first. */
  window: readonly WindowSample[];
  settings: PolicySettings;
  workers: number;
}

export interface Assessment {
  decision: Decision;
  /** Live reservations whose workers are all visible in the sample: to be closed as consumed. */
  consumed: Reservation[];
}

/** The decision for `workers` now, reserving nothing: /admit's step without the reservation, /metrics' view. */
export function assessAdmission(input: AssessInput, now: number): Assessment {
  const { subnet, ledger } = input;
  const { reserved, consumed } = reservedWorkers(ledger, subnet.enis, now);
  const extras: ForecastExtras = {
    snapshotAgeSeconds: input.snapshotAgeSeconds,
    sampleIntervalSeconds: input.sampleIntervalSeconds,
    reservations: ledger,
    enis: subnet.enis,
    now,
  };
  if (input.bypass) extras.bypass = input.bypass;
  const decision = decide({
    settings: input.settings,
    workers: input.workers,
    free: subnet.free,
    reserved,
    current: subnet,
    window: input.window,
    ...extras,
  });
  return { decision, consumed };
}

/** The queue's part of the step: absent, the gate answers as it did before the queue (no tickets). */
export interface QueueStepInput {
  /** The subnet's tickets as the ledger holds them (LedgerState.tickets). */
  tickets: readonly Ticket[];
  /** dag_run_id or client_id: the request's ticket key. Absent: no ticket, answered as if at the tail. */
  key?: string;
  /** The key's ticket id (`<subnetId>.t.<digest>`); required with a key. */
  ticketId?: string;
  /** Epoch ms by which the launch must start. */
  deadline?: number;
  /** The subnet's last release forecast. */
  forecast?: FreeForecast;
}

export interface PlanInput extends AssessInput {
  dagRunId?: string;
  reservationTtlMs: number;
  /** Ids of new reservations: random in /admit, derived from the launch in the backtest (reproducible runs). */
  reservationId: (subnetId: string) => string;
  queue?: QueueStepInput;
  /** The subnet's target, written on the reservation and the ticket the step mints. */
  target?: TargetFields;
}

export interface AdmissionPlan extends Assessment {
  /** The reservation an admission takes (absent on a wait). */
  reservation?: Reservation;
  /** The queue's answer (with `queue` in the input): the decision's admit and reason already include it. */
  queue?: QueueAnswer;
  /** Tickets to create or replace, and ids to drop, in the same transaction (empty without `queue`). */
  putTickets: Ticket[];
  dropTickets: string[];
}

/**
 * Decide, queue, and on an admission mint its reservation: live for the TTL, retained for twice that (see
 * Reservation). With `queue`, the policy's "room now" is only the first word: tickets ahead keep their turn.
 */
export function planAdmission(input: PlanInput, now: number): AdmissionPlan {
  const assessed = assessAdmission(input, now);
  const plan: AdmissionPlan = { ...assessed, putTickets: [], dropTickets: [] };
  if (input.queue) {
    const q = input.queue;
    const d = assessed.decision;
    const answer = planQueue({
      subnetId: input.subnet.subnetId,
      now,
      tickets: q.tickets,
      request: {
        workers: input.workers,
        ...(q.key !== undefined ? { key: q.key } : {}),
        ...(q.ticketId !== undefined ? { ticketId: q.ticketId } : {}),
        ...(q.deadline !== undefined ? { deadline: q.deadline } : {}),
      },
      decision: q.forecast?.inFlight !== undefined ? { ...d, inFlight: q.forecast.inFlight } : d,
      ...(q.forecast ? { forecast: q.forecast } : {}),
      sampleIntervalSeconds: input.sampleIntervalSeconds,
      ...(input.target ? { target: input.target } : {}),
    });
    plan.queue = answer;
    plan.putTickets = answer.putTickets;
    plan.dropTickets = answer.dropTickets;
    plan.decision = { ...d, admit: answer.admit, reason: answer.reason ? `${d.reason}; ${answer.reason}` : d.reason };
  }
  if (plan.decision.admit) {
    const r: Reservation = {
      id: input.reservationId(input.subnet.subnetId),
      subnetId: input.subnet.subnetId,
      workers: input.workers,
      createdAt: now,
      expiresAt: now + input.reservationTtlMs,
      retainUntil: now + 2 * input.reservationTtlMs,
      ...input.target,
    };
    if (input.dagRunId !== undefined) r.dagRunId = input.dagRunId;
    plan.reservation = r;
  }
  return plan;
}

/** Live reservations whose workers a sample shows all attached: what each snapshot closes as consumed. */
export function consumedBy(ledger: readonly Reservation[], enis: SampledSubnet['enis'], now: number): Reservation[] {
  return reservedWorkers(ledger, enis, now).consumed;
}
