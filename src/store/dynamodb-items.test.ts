// The table layout on its own: records ↔ DynamoDB items, without DynamoDB.
import { describe, expect, it } from 'vitest';
import { createLogger } from '../log.js';
import { itemBytes, ledgerFromItem, ledgerItem, ledgerKey, observationFromItem, observationItem, observationSortKey } from './dynamodb-items.js';
import { observationToRecord, type Observation, type Reservation } from './types.js';
import { observation, reservation, ticket } from '../../test/helpers/records.js';

const now = Date.parse('2026-04-12T07:00:00.000Z');
const obs: Observation = observation(now, {
  uniq: 'u1',
  available: 5,
  lingering: 2,
  dagRunId: 'run-1',
  decision: 'admit',
  expiresAt: now + 86_400_000,
});
const resv: Reservation = reservation('subnet-0a.0000aaaa', now, { workers: 4 });

describe('DynamoDB items', () => {
  it('an observation survives the round trip, optional fields included or left out; its range key sorts by time', () => {
    const item = observationItem(observationToRecord(obs));
    expect(item).toMatchObject({
      subnet_id: { S: 'subnet-0a' },
      observed_at: { S: '2026-04-12T07:00:00.000Z#u1' },
      tail: { N: '7' },
      expires_at: { N: String((now + 86_400_000) / 1000) },
    });
    expect(observationFromItem(item)).toEqual(obs);
    const { lingering: _l, dagRunId: _d, ...bare } = obs;
    const bareItem = observationItem(observationToRecord(bare));
    expect(Object.keys(bareItem)).not.toContain('lingering');
    expect(Object.keys(bareItem)).not.toContain('dag_run_id');
    expect(observationFromItem(bareItem)).toEqual(bare);
    expect(observationSortKey(obs)).toBe(item.observed_at.S);
  });

  it('a ledger item carries its version and reservations; an invalid one reads as the empty ledger, logged', () => {
    const lines: string[] = [];
    const logger = createLogger('info', { write: (l: string) => lines.push(l) } as unknown as NodeJS.WritableStream);
    expect(ledgerItem('subnet-0a', 3, [resv])).toEqual({
      ...ledgerKey('subnet-0a'),
      version: { N: '3' },
      reservations: { S: JSON.stringify([resv]) },
    });
    expect(ledgerKey('subnet-0a')).toEqual({ subnet_id: { S: 'ledger#subnet-0a' }, observed_at: { S: 'ledger' } });
    expect(ledgerFromItem('subnet-0a', ledgerItem('subnet-0a', 3, [resv]), logger)).toEqual({ version: 3, reservations: [resv], tickets: [] });
    expect(ledgerFromItem('subnet-0a', undefined, logger)).toEqual({ version: 0, reservations: [], tickets: [] });
    expect(ledgerFromItem('subnet-0a', { ...ledgerKey('subnet-0a'), version: { N: '2' }, reservations: { S: '[{' } }, logger)).toEqual({
      version: 2,
      reservations: [],
      tickets: [],
    });
    expect(lines.some((l) => l.includes('ledger is not JSON'))).toBe(true);
  });

  it('tickets ride in the ledger item without their subnetId; an invalid one is ignored and logged; the size is counted as DynamoDB does', () => {
    const lines: string[] = [];
    const logger = createLogger('info', { write: (l: string) => lines.push(l) } as unknown as NodeJS.WritableStream);
    const t = ticket('scheduled__2026-04-12T07:00:00+00:00', now, { deadline: now + 600_000, etaAt: now + 300_000 });
    const item = ledgerItem('subnet-0a', 4, [resv], [t]);
    expect(item.tickets?.S).not.toContain('subnetId');
    expect(ledgerFromItem('subnet-0a', item, logger)).toEqual({ version: 4, reservations: [resv], tickets: [t] });
    expect(Object.keys(ledgerItem('subnet-0a', 4, [resv], []))).not.toContain('tickets');
    const bad = {
      ...item,
      tickets: {
        S: JSON.stringify([
          { ...t, subnetId: undefined },
          { ...t, id: 'subnet-0b.t.0123456789abcdef' },
        ]),
      },
    };
    expect(ledgerFromItem('subnet-0a', bad, logger).tickets).toEqual([t]);
    expect(lines.some((l) => l.includes('invalid ticket ignored') && l.includes('"field":"id"'))).toBe(true);
    // Names and UTF-8 values; a number counts at most its digits + 1.
    expect(itemBytes({ ab: { S: 'é' }, n: { N: '123' } })).toBe(2 + 2 + 1 + 4);
  });

  it('the target rides as attributes: on each observation, and once on the ledger item for the entries that share it', () => {
    const lines: string[] = [];
    const logger = createLogger('info', { write: (l: string) => lines.push(l) } as unknown as NodeJS.WritableStream);
    const target = { account: '222222222222', region: 'us-east-1' };
    const placed = { ...obs, ...target };
    const item = observationItem(observationToRecord(placed));
    // Attributes, not keys: the subnet id stays the key.
    expect(item).toMatchObject({ subnet_id: { S: 'subnet-0a' }, account: { S: '222222222222' }, region: { S: 'us-east-1' } });
    expect(observationFromItem(item)).toEqual(placed);
    // A malformed target attribute (the table is shared input) is left out; the observation still counts.
    expect(observationFromItem({ ...item, account: { S: '22' }, region: { S: 'Mars' } })).toEqual(obs);

    const r = { ...resv, ...target };
    const t = { ...ticket('run-9', now), ...target };
    const ledger = ledgerItem('subnet-0a', 5, [r], [t]);
    expect(ledger).toMatchObject({ account: { S: '222222222222' }, region: { S: 'us-east-1' } });
    expect(ledger.reservations?.S).not.toContain('222222222222');
    expect(ledger.tickets?.S).not.toContain('us-east-1');
    expect(ledgerFromItem('subnet-0a', ledger, logger)).toEqual({ version: 5, reservations: [r], tickets: [t] });
    // A ledger written before there were targets reads as it always did.
    expect(ledgerFromItem('subnet-0a', ledgerItem('subnet-0a', 6, [resv], []), logger).reservations).toEqual([resv]);
    expect(Object.keys(ledgerItem('subnet-0a', 6, [resv], []))).not.toContain('account');
  });
});
