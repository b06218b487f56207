// A step's changes to a subnet's queue, as both stores take them: validated before anything is written (a ticket
// the store could not read back must never be acknowledged), then applied by id.
import { ticketSchema } from './records.js';
import type { Ticket, TransactPlan } from './types.js';

/** A ticket the step asked the store to write that the store could not read back: a defect of the caller. */
export class InvalidTicketError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidTicketError';
  }
}

/** Ticket changes by id: the new ticket, or undefined when dropped. */
export type TicketChanges = Map<string, Ticket | undefined>;

/**
 * The plan's drops then puts (a ticket both dropped and put is put), each put validated against the schema the
 * stores read with and bound to `subnetId`. The stored ticket is the validated copy: exactly the fields the store
 * keeps, the same before and after a restart.
 */
export function ticketChanges(subnetId: string, plan: Pick<TransactPlan<unknown>, 'putTickets' | 'dropTickets'>): TicketChanges {
  const out: TicketChanges = new Map();
  for (const id of plan.dropTickets ?? []) out.set(id, undefined);
  for (const t of plan.putTickets ?? []) {
    const parsed = ticketSchema.safeParse(t);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new InvalidTicketError(`ticket ${String(t?.id)}: field ${issue?.path.join('.') || '(ticket)'}: ${issue?.message ?? 'invalid'}`);
    }
    if (parsed.data.subnetId !== subnetId) {
      throw new InvalidTicketError(`ticket ${t.id}: field subnetId: ${parsed.data.subnetId} is not the step's subnet ${subnetId}`);
    }
    out.set(parsed.data.id, parsed.data);
  }
  return out;
}

/** Live tickets after `changes`: `isLive(id)` says whether a ticket is live before them. */
export function liveAfter(liveBefore: number, isLive: (id: string) => boolean, changes: TicketChanges): number {
  let n = liveBefore;
  for (const [id, t] of changes) {
    if (t && !isLive(id)) n++;
    else if (!t && isLive(id)) n--;
  }
  return n;
}
