// The admission step: one pure function that /admit runs inside the store's transaction and the backtest runs
// at each poke, so that the two cannot drift apart. Given the subnet's sample, its reservation ledger and its
// window, it decides, mints the reservation an admission takes, and says which reservations the sample shows
// consumed. No I/O, no clock, no randomness: the caller passes the time and the reservation id source.
import type { SubnetView } from '../snapshot/types.js';
import { decide } from './policy.js';
import { reservedWorkers } from './reservations.js';
import type { BypassHistory, Decision, ForecastExtras, PolicySettings, Reservation, WindowSample } from './types.js';

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

export interface PlanInput extends AssessInput {
  dagRunId?: string;
  reservationTtlMs: number;
  /** Ids of new reservations: random in /admit, derived from the launch in the backtest (reproducible runs). */
  reservationId: (subnetId: string) => string;
}

export interface AdmissionPlan extends Assessment {
  /** The reservation an admission takes (absent on a wait). */
  reservation?: Reservation;
}

/** Decide, and on an admission mint its reservation: live for the TTL, retained for twice that (see Reservation). */
export function planAdmission(input: PlanInput, now: number): AdmissionPlan {
  const plan: AdmissionPlan = assessAdmission(input, now);
  if (plan.decision.admit) {
    const r: Reservation = {
      id: input.reservationId(input.subnet.subnetId),
      subnetId: input.subnet.subnetId,
      workers: input.workers,
      createdAt: now,
      expiresAt: now + input.reservationTtlMs,
      retainUntil: now + 2 * input.reservationTtlMs,
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
