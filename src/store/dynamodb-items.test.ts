// The table layout on its own: records ↔ DynamoDB items, without DynamoDB.
import { describe, expect, it } from 'vitest';
import { createLogger } from '../log.js';
import { ledgerFromItem, ledgerItem, ledgerKey, observationFromItem, observationItem, observationSortKey } from './dynamodb-items.js';
import { observationToRecord, type Observation, type Reservation } from './types.js';
import { observation, reservation } from '../../test/helpers/records.js';

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
    expect(ledgerFromItem('subnet-0a', ledgerItem('subnet-0a', 3, [resv]), logger)).toEqual({ version: 3, reservations: [resv] });
    expect(ledgerFromItem('subnet-0a', undefined, logger)).toEqual({ version: 0, reservations: [] });
    expect(ledgerFromItem('subnet-0a', { ...ledgerKey('subnet-0a'), version: { N: '2' }, reservations: { S: '[{' } }, logger)).toEqual({
      version: 2,
      reservations: [],
    });
    expect(lines.some((l) => l.includes('ledger is not JSON'))).toBe(true);
  });
});
