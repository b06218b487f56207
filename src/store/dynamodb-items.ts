// Records ↔ DynamoDB items: the one place that knows how the store lays out its table (the seeds'
// glue-eni-observations, key subnet_id + observed_at).
//   observation: subnet_id = <subnet>,          observed_at = <ISO ms>#<uniq>, expires_at = TTL (epoch s),
//                account, region (S; absent when unknown, and in items written before there were several targets)
//   ledger:      subnet_id = ledger#<subnet>,   observed_at = "ledger", version (N), reservations (S, JSON),
//                tickets (S, JSON; absent when the queue is empty), account, region (S: the target its entries
//                share, written once on the item rather than in each entry)
import { targetFieldsOf, type TargetFields } from '../admission/types.js';
import type { AttributeValue } from '../aws/sdk.js';
import type { Logger } from '../log.js';
import { reservationSchema, ticketSchema } from './records.js';
import { observationFromRecord, type Observation, type ObservationRecord, type Reservation, type Ticket } from './types.js';

export type Item = Record<string, AttributeValue>;

const LEDGER_SORT = 'ledger';

/** A key no item ever has: reading it tells whether DynamoDB answers, nothing more. */
export const PROBE_KEY: Item = { subnet_id: { S: 'probe' }, observed_at: { S: 'probe' } };

export function observationItem(rec: ObservationRecord): Item {
  const item: Item = {
    subnet_id: { S: rec.subnet_id },
    observed_at: { S: `${rec.observed_at}#${rec.uniq}` },
    total_enis: { N: String(rec.total_enis) },
    in_use: { N: String(rec.in_use) },
    available: { N: String(rec.available) },
    tail: { N: String(rec.tail) },
    decision: { S: rec.decision },
    expires_at: { N: String(rec.expires_at) },
  };
  if (rec.lingering !== undefined) item.lingering = { N: String(rec.lingering) };
  if (rec.dag_run_id !== undefined) item.dag_run_id = { S: rec.dag_run_id };
  putTarget(item, rec);
  return item;
}

function putTarget(item: Item, t: TargetFields): void {
  if (t.account !== undefined) item.account = { S: t.account };
  if (t.region !== undefined) item.region = { S: t.region };
}

/** An item's target attributes, those well formed (the table is shared input: a malformed one is left out). */
function itemTarget(item: Item): TargetFields {
  return targetFieldsOf({ account: item.account?.S, region: item.region?.S });
}

export function observationFromItem(item: Item): Observation {
  const sort = item.observed_at?.S ?? '';
  const hash = sort.indexOf('#');
  const num = (k: string): number => Number(item[k]?.N ?? '0');
  const rec: ObservationRecord = {
    subnet_id: item.subnet_id?.S ?? '',
    observed_at: hash >= 0 ? sort.slice(0, hash) : sort,
    uniq: hash >= 0 ? sort.slice(hash + 1) : '',
    total_enis: num('total_enis'),
    in_use: num('in_use'),
    available: num('available'),
    tail: num('tail'),
    decision: (item.decision?.S ?? 'wait') as ObservationRecord['decision'],
    expires_at: num('expires_at'),
  };
  if (item.lingering?.N !== undefined) rec.lingering = Number(item.lingering.N);
  if (item.dag_run_id?.S !== undefined) rec.dag_run_id = item.dag_run_id.S;
  return observationFromRecord({ ...rec, ...itemTarget(item) });
}

/** Sort key of an observation: the same order as the table's range key. */
export function observationSortKey(o: Observation): string {
  return `${new Date(o.observedAt).toISOString()}#${o.uniq}`;
}

/** One subnet's ledger (reservations and queue tickets) and the version its conditional writes check. */
export interface Ledger {
  version: number;
  reservations: Reservation[];
  tickets: Ticket[];
}

export function ledgerKey(subnetId: string): Item {
  return { subnet_id: { S: `ledger#${subnetId}` }, observed_at: { S: LEDGER_SORT } };
}

/**
 * Tickets are stored without their subnetId (the item's key says it), and entries without the target they share
 * (a subnet lives in one target: the item's `account` and `region` say it): more of them fit in an item.
 */
export function ledgerItem(subnetId: string, version: number, reservations: readonly Reservation[], tickets: readonly Ticket[] = []): Item {
  const shared = sharedTarget([...reservations, ...tickets]);
  const item: Item = {
    ...ledgerKey(subnetId),
    version: { N: String(version) },
    reservations: { S: JSON.stringify(reservations.map((r) => withoutShared(r, shared))) },
  };
  if (tickets.length > 0) item.tickets = { S: JSON.stringify(tickets.map(({ subnetId: _s, ...rest }) => withoutShared(rest, shared))) };
  putTarget(item, shared);
  return item;
}

/** The target of the first entry that names one: every entry of a subnet's ledger names the same, or none. */
function sharedTarget(entries: readonly TargetFields[]): TargetFields {
  const named = entries.find((e) => e.account !== undefined || e.region !== undefined);
  return named ? targetFieldsOf(named) : {};
}

function withoutShared<T extends TargetFields>(e: T, shared: TargetFields): T {
  const out = { ...e };
  if (shared.account !== undefined && out.account === shared.account) delete out.account;
  if (shared.region !== undefined && out.region === shared.region) delete out.region;
  return out;
}

/** DynamoDB's limit on an item's size (names and values of its attributes). */
export const ITEM_MAX_BYTES = 400 * 1024;

/**
 * An item's size as DynamoDB counts it: the UTF-8 bytes of each attribute's name and value (a number counts at
 * most its digits + 1). Only the types the store writes (S, N).
 */
export function itemBytes(item: Item): number {
  let n = 0;
  for (const [name, v] of Object.entries(item)) {
    n += Buffer.byteLength(name);
    if (v.S !== undefined) n += Buffer.byteLength(v.S);
    else if (v.N !== undefined) n += v.N.length + 1;
  }
  return n;
}

/** A ledger item read back (none: the empty ledger, version 0). The table is shared input: see `validList`. */
export function ledgerFromItem(subnetId: string, item: Item | undefined, logger: Logger): Ledger {
  if (!item) return { version: 0, reservations: [], tickets: [] };
  const shared = itemTarget(item);
  return {
    version: Number(item.version?.N ?? '0'),
    reservations: validList(subnetId, item.reservations?.S ?? '[]', 'reservation', logger, (r) =>
      reservationSchema.safeParse({ ...shared, ...(r as object) }),
    ),
    tickets: validList(subnetId, item.tickets?.S ?? '[]', 'ticket', logger, (t) => ticketSchema.safeParse({ ...shared, ...(t as object), subnetId })),
  };
}

/** The ledger's entries that pass the schema; the others are logged and left out of every decision. */
function validList<T>(
  subnetId: string,
  text: string,
  what: string,
  logger: Logger,
  parse: (raw: unknown) => { success: true; data: T } | { success: false; error: { issues: { path: PropertyKey[] }[] } },
): T[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    logger.warn({ subnet_id: subnetId, err: (err as Error).message }, `DynamoDB ${what} ledger is not JSON: ignored`);
    return [];
  }
  const out: T[] = [];
  (Array.isArray(raw) ? raw : []).forEach((r, index) => {
    const p = parse(r);
    if (p.success) out.push(p.data);
    else logger.warn({ subnet_id: subnetId, index, field: p.error.issues[0]?.path.join('.') }, `DynamoDB ${what} ledger: invalid ${what} ignored`);
  });
  return out;
}
