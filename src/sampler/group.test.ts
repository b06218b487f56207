import { describe, expect, it } from 'vitest';
import { Slots } from './group.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('Slots', () => {
  it('grants at most the limit at once, in arrival order, and reads the limit again at each release', async () => {
    let limit = 2;
    const slots = new Slots(() => limit);
    const granted: number[] = [];
    const releases: (() => void)[] = [];
    for (let i = 0; i < 5; i++) {
      void slots.acquire().then((release) => {
        granted.push(i);
        releases[i] = release;
      });
    }
    await tick();
    expect(granted).toEqual([0, 1]);
    releases[0]!();
    releases[0]!(); // a second release of the same slot frees nothing more
    await tick();
    expect(granted).toEqual([0, 1, 2]);
    limit = 3; // a reload raised sample.concurrency
    releases[1]!();
    await tick();
    expect(granted).toEqual([0, 1, 2, 3, 4]);
  });
});
