import { describe, expect, it } from 'vitest';
import type { Reservation } from '../store/types.js';
import { eni } from '../../test/helpers/world.js';
import { coverage, reservedWorkers } from './reservations.js';
import { reservation } from '../../test/helpers/records.js';

const res = (id: string, createdAt: number, workers: number, extra: Partial<Reservation> = {}): Reservation =>
  reservation(id, createdAt, { workers, ...extra });

describe('coverage', () => {
  it('apportions Glue ENIs attached after creation, oldest reservation first', () => {
    const enis = [
      eni('e-old', 'in-use', 50), // before both: nobody's
      ...Array.from({ length: 12 }, (_, i) => eni(`e${i}`, 'in-use', 200 + i)),
      eni('e-other', 'in-use', 250, 'other'),
    ];
    const cov = coverage([res('b', 150, 10), res('a', 100, 10)], enis);
    expect(cov.get('a')).toBe(10);
    expect(cov.get('b')).toBe(2);
    const sum = reservedWorkers([res('a', 100, 10), res('b', 150, 10)], enis, 1000);
    expect(sum.reserved).toBe(8);
    expect(sum.consumed.map((r) => r.id)).toEqual(['a']);
  });

  it('closed reservations keep claiming their ENIs but reserve nothing', () => {
    const enis = Array.from({ length: 10 }, (_, i) => eni(`e${i}`, 'in-use', 200 + i));
    const all = [res('a', 100, 10, { closed: 'consumed', closedAt: 300 }), res('b', 150, 10)];
    expect(reservedWorkers(all, enis, 1000).reserved).toBe(10);
  });

  it('expired reservations reserve nothing', () => {
    expect(reservedWorkers([res('a', 0, 10)], [], 300_000).reserved).toBe(0);
    expect(reservedWorkers([res('a', 0, 10)], [], 299_999).reserved).toBe(10);
  });
});
