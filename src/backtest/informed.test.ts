import { describe, expect, it } from 'vitest';
import { durationBin } from '../admission/predict.js';
import { uniformMinutesPmf } from './informed.js';

describe('uniformMinutesPmf', () => {
  it('spreads a uniform span over the minute bins of the forecast (⌈minutes⌉), each by its share', () => {
    const pmf = uniformMinutesPmf({ min: 30, max: 40 });
    expect(pmf.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    // (30, 31] … (39, 40]: ten bins of 1/10; 30 itself has no width.
    expect(pmf[30]).toBe(0);
    for (let k = 31; k <= 40; k++) expect(pmf[k]).toBeCloseTo(0.1, 12);
    expect(pmf[41]).toBe(0);
    // A fractional span: (0.5, 2] gives bin 1 a third, bin 2 two thirds.
    const half = uniformMinutesPmf({ min: 0.5, max: 2 });
    expect([half[1], half[2]].map((x) => Math.round(x * 3))).toEqual([1, 2]);
  });

  it('puts a fixed duration in the bin the learners would count it in', () => {
    const fixed = uniformMinutesPmf({ min: 10, max: 10 });
    expect(fixed[durationBin(600)]).toBe(1);
    expect(fixed.reduce((a, b) => a + b, 0)).toBe(1);
  });
});
