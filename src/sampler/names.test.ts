import { describe, expect, it } from 'vitest';
import { resolveSubnetNames } from './names.js';

const learned = (entries: Record<string, string>) => new Map(Object.entries(entries));

describe('resolveSubnetNames', () => {
  it('names a subnet after its configuration, else after its Glue connection, else leaves it to its id', () => {
    const { names, refused } = resolveSubnetNames(
      [{ id: 'subnet-0a1', name: 'critical' }, { id: 'subnet-0b1' }],
      learned({ 'subnet-0a1': 'glue-critical', 'subnet-0b1': 'glue-batch', 'subnet-0c1': 'glue-adhoc' }),
    );
    expect(Object.fromEntries(names)).toEqual({ 'subnet-0a1': 'critical', 'subnet-0b1': 'glue-batch', 'subnet-0c1': 'glue-adhoc' });
    expect(refused).toEqual([]);
  });

  it('refuses a learned name shaped like a subnet id, whichever subnet it names and in any case', () => {
    const { names, refused } = resolveSubnetNames(
      [{ id: 'subnet-0a1' }],
      learned({ 'subnet-0b1': 'subnet-0a1', 'subnet-0c1': 'SUBNET-0FF', 'subnet-0d1': 'subnet-a-critical' }),
    );
    expect(Object.fromEntries(names)).toEqual({ 'subnet-0d1': 'subnet-a-critical' });
    expect(refused).toEqual([
      { subnetId: 'subnet-0b1', name: 'subnet-0a1', reason: 'looks like a subnet id' },
      { subnetId: 'subnet-0c1', name: 'SUBNET-0FF', reason: 'looks like a subnet id' },
    ]);
  });

  it("takes a learned name equal to the subnet's own id as the id, without refusing it", () => {
    const { names, refused } = resolveSubnetNames([], learned({ 'subnet-0a1': 'subnet-0a1' }));
    expect(names.get('subnet-0a1')).toBeUndefined();
    expect(refused).toEqual([]);
  });

  it("refuses a learned name that is another subnet's configured name", () => {
    const { names, refused } = resolveSubnetNames([{ id: 'subnet-0a1', name: 'critical' }], learned({ 'subnet-0b1': 'critical' }));
    expect(Object.fromEntries(names)).toEqual({ 'subnet-0a1': 'critical' });
    expect(refused).toEqual([{ subnetId: 'subnet-0b1', name: 'critical', reason: 'is the configured name of subnet-0a1' }]);
  });

  it('refuses a learned name that two subnets carry, for both (neither may own it by arrival order)', () => {
    const { names, refused } = resolveSubnetNames([], learned({ 'subnet-0a1': 'etl', 'subnet-0b1': 'etl', 'subnet-0c1': 'other' }));
    expect(Object.fromEntries(names)).toEqual({ 'subnet-0c1': 'other' });
    expect(refused).toEqual([
      { subnetId: 'subnet-0a1', name: 'etl', reason: 'also names subnet-0b1' },
      { subnetId: 'subnet-0b1', name: 'etl', reason: 'also names subnet-0a1' },
    ]);
  });

  it('lets a configured subnet keep its configured name when its own connection carries another', () => {
    const { names, refused } = resolveSubnetNames([{ id: 'subnet-0a1', name: 'critical' }], learned({ 'subnet-0a1': 'subnet-0b1' }));
    expect(Object.fromEntries(names)).toEqual({ 'subnet-0a1': 'critical' });
    expect(refused).toEqual([]);
  });
});
