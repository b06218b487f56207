import { describe, expect, it } from 'vitest';
import { attributeEni } from './attribution.js';
import type { RunRecord } from './types.js';

const MIN = 60_000;
const T = Date.parse('2026-04-08T07:00:00Z');
const run = (job: string, runId: string, startMin: number, endMin?: number): RunRecord => ({
  job,
  runId,
  state: endMin === undefined ? 'RUNNING' : 'SUCCEEDED',
  startedOn: T + startMin * MIN,
  ...(endMin === undefined ? {} : { completedOn: T + endMin * MIN }),
});
const glue = (attachMin: number | undefined) => ({ owner: 'glue' as const, attachTime: attachMin === undefined ? undefined : T + attachMin * MIN });

describe('attributeEni', () => {
  it('names the only run open at attach time, high confidence when it attached within minutes of the start', () => {
    const runs = [run('ingest', 'jr_a', 0), run('report', 'jr_b', -120, -60)];
    expect(attributeEni(glue(2), runs)).toEqual({ job: 'ingest', runId: 'jr_a', confidence: 'high' });
  });

  it('keeps a finished run for an ENI that outlived it (a lingering ENI is matched to the run it served)', () => {
    const runs = [run('report', 'jr_b', -120, -60)];
    expect(attributeEni(glue(-118), runs)).toEqual({ job: 'report', runId: 'jr_b', confidence: 'high' });
  });

  it('with several runs open, picks the latest started, at medium confidence', () => {
    const runs = [run('long', 'jr_long', -300), run('ingest', 'jr_a', 0)];
    expect(attributeEni(glue(1), runs)).toEqual({ job: 'ingest', runId: 'jr_a', confidence: 'medium' });
  });

  it('allows the attach to precede the recorded start by up to a minute (clocks differ), not more', () => {
    expect(attributeEni(glue(-0.5), [run('ingest', 'jr_a', 0)])?.runId).toBe('jr_a');
    expect(attributeEni(glue(-2), [run('ingest', 'jr_a', 0)])).toBeNull();
  });

  it('is a low-confidence guess when the ENI attached long after the run started', () => {
    expect(attributeEni(glue(45), [run('ingest', 'jr_a', 0)])).toEqual({ job: 'ingest', runId: 'jr_a', confidence: 'low' });
  });

  it('is null for an ENI that is not Glue’s, has no attach time, or attached when no run read was open', () => {
    const runs = [run('ingest', 'jr_a', 0, 30)];
    expect(attributeEni({ owner: 'other', attachTime: T + MIN }, runs)).toBeNull();
    expect(attributeEni(glue(undefined), runs)).toBeNull();
    expect(attributeEni(glue(31), runs)).toBeNull();
    expect(attributeEni(glue(1), [])).toBeNull();
  });
});
