import { describe, expect, it } from 'vitest';
import type { EniView } from '../snapshot/types.js';
import { defaultPolicySettings } from './policy.js';
import { assessAdmission, consumedBy, planAdmission, type PlanInput, type SampledSubnet } from './step.js';
import { policiesByCaution, policyNames, ticketIdFor, type Reservation, type Ticket } from './types.js';

const T0 = Date.UTC(2024, 0, 8, 7, 0, 0);

const glueEni = (id: string, attachTime: number): EniView => ({
  id,
  status: 'in-use',
  owner: 'glue',
  addresses: 1,
  description: 'Attached to Glue using role x',
  lingering: false,
  attachTime,
});
/** A /26 (59 usable) holding `enis`. */
const subnetOf = (enis: EniView[]): SampledSubnet => ({ subnetId: 'subnet-0a', free: 59 - enis.length, available: 0, lingering: 0, enis });

function input(over: Partial<PlanInput> = {}): PlanInput {
  const subnet = subnetOf([]);
  return {
    snapshotAgeSeconds: 10,
    sampleIntervalSeconds: 60,
    bypass: undefined,
    subnet,
    ledger: [],
    window: [{ observedAt: T0, available: 0 }],
    settings: { ...defaultPolicySettings, policy: 'static', staticBuffer: 5 },
    workers: 10,
    reservationTtlMs: 300_000,
    reservationId: (s) => `${s}.fixed`,
    ...over,
  };
}

describe('policy names', () => {
  it('lists the same policies in both orders', () => {
    expect([...policiesByCaution].sort()).toEqual([...policyNames].sort());
  });
});

describe('planAdmission', () => {
  it('mints the reservation of an admission from the injected id source, live for the TTL and retained twice as long', () => {
    const plan = planAdmission(input({ dagRunId: 'run-1' }), T0);
    expect(plan.decision.admit).toBe(true);
    expect(plan.reservation).toEqual({
      id: 'subnet-0a.fixed',
      subnetId: 'subnet-0a',
      workers: 10,
      createdAt: T0,
      expiresAt: T0 + 300_000,
      retainUntil: T0 + 600_000,
      dagRunId: 'run-1',
    });
    // Pure: the same input gives the same plan.
    expect(planAdmission(input({ dagRunId: 'run-1' }), T0)).toEqual(plan);
  });

  it('reserves nothing on a wait', () => {
    const plan = planAdmission(input({ workers: 55 }), T0);
    expect(plan.decision.admit).toBe(false);
    expect(plan.reservation).toBeUndefined();
  });

  it('counts live reservations against the room and names those the sample shows consumed', () => {
    const live: Reservation = {
      id: 'subnet-0a.a',
      subnetId: 'subnet-0a',
      workers: 2,
      createdAt: T0 - 60_000,
      expiresAt: T0 + 240_000,
      retainUntil: T0 + 540_000,
    };
    const waiting: Reservation = { ...live, id: 'subnet-0a.b', workers: 30, createdAt: T0 - 30_000 };
    const subnet = subnetOf([glueEni('eni-1', T0 - 50_000), glueEni('eni-2', T0 - 40_000)]);
    const plan = planAdmission(input({ subnet, ledger: [live, waiting] }), T0);
    expect(plan.consumed).toEqual([live]);
    expect(plan.decision.reserved).toBe(30);
    expect(consumedBy([live, waiting], subnet.enis, T0)).toEqual([live]);
    // What /metrics reads is the same step without the reservation.
    expect(assessAdmission({ ...input({ subnet, ledger: [live, waiting] }), workers: 0 }, T0).decision.reserved).toBe(30);
  });
});

describe('planAdmission with the queue', () => {
  const SUBNET = 'subnet-0a';
  const head: Ticket = {
    id: ticketIdFor(SUBNET, 'head'),
    subnetId: SUBNET,
    key: 'head',
    workers: 40,
    enqueuedAt: T0 - 60_000,
    lastPokeAt: T0 - 60_000,
    expiresAt: T0 + 600_000,
  };
  // 59 free now (static buffer 5); 20 more back at minute 30.
  const forecast = { from: T0, free: Array.from({ length: 61 }, (_, i) => (i >= 30 ? 79 : 59)) };

  it('answers exactly as before without the queue: no ticket changes', () => {
    const plan = planAdmission(input({ workers: 55 }), T0);
    expect(plan.queue).toBeUndefined();
    expect(plan.putTickets).toEqual([]);
    expect(plan.dropTickets).toEqual([]);
    expect(plan.decision.reason).toBe(assessAdmission(input({ workers: 55 }), T0).decision.reason);
  });

  it('holds the room now for the ticket ahead: the policy admits, the queue says wait, nothing is reserved', () => {
    const plan = planAdmission(
      input({ workers: 15, queue: { tickets: [head], key: 'run-2', ticketId: ticketIdFor(SUBNET, 'run-2'), forecast } }),
      T0,
    );
    expect(assessAdmission(input({ workers: 15 }), T0).decision.admit).toBe(true);
    expect(plan.decision.admit).toBe(false);
    expect(plan.reservation).toBeUndefined();
    expect(plan.queue).toMatchObject({ etaSeconds: 1800, position: 2, ahead: 1 });
    expect(plan.decision.reason).toMatch(/; room for 15 expected in ~30 min, 1 ahead/);
    expect(plan.putTickets.map((t) => t.key)).toEqual(['run-2']);
  });

  it('backfills what fits beside the ticket ahead, reserving it and dropping its own ticket', () => {
    const own: Ticket = { ...head, id: ticketIdFor(SUBNET, 'small'), key: 'small', workers: 10, enqueuedAt: T0 - 1000 };
    const plan = planAdmission(
      input({ workers: 10, dagRunId: 'small', queue: { tickets: [head, own], key: 'small', ticketId: own.id, forecast } }),
      T0,
    );
    expect(plan.decision.admit).toBe(true);
    expect(plan.reservation?.workers).toBe(10);
    expect(plan.dropTickets).toEqual([own.id]);
    expect(plan.decision.reason).toMatch(/launches ahead of 1 waiting/);
  });
});
