// Pure: which job run each Glue ENI most likely belongs to, by its attach time against the runs' start and end.
import { owningRun, runOpenAt } from './build.js';
import type { EniView, RunRecord } from './types.js';

/**
 * Glue attaches a run's ENIs within minutes of StartedOn; an ENI attached much later than its run's start may be a
 * retry's or a neighbour's whose run was not read, so it is only a `low` guess.
 */
export const ATTACH_WINDOW_MS = 10 * 60_000;

export type AttributionConfidence = 'high' | 'medium' | 'low';

export interface JobRunAttribution {
  job: string;
  runId: string;
  /** high: the only run open at attach time, attached within minutes of its start; medium: several runs were open,
   * this one started last and within minutes; low: attached long after the run started. */
  confidence: AttributionConfidence;
}

/** The run one ENI most likely belongs to, or null: not Glue's, no attach time, or no run open when it attached. */
export function attributeEni(eni: Pick<EniView, 'owner' | 'attachTime'>, runs: readonly RunRecord[]): JobRunAttribution | null {
  if (eni.owner !== 'glue' || eni.attachTime === undefined) return null;
  const best = owningRun(eni.attachTime, runs);
  if (!best) return null;
  const attachTime = eni.attachTime;
  const soon = attachTime - best.startedOn! <= ATTACH_WINDOW_MS;
  const open = runs.reduce((n, r) => n + (runOpenAt(attachTime, r) ? 1 : 0), 0);
  const confidence: AttributionConfidence = !soon ? 'low' : open === 1 ? 'high' : 'medium';
  return { job: best.job, runId: best.runId, confidence };
}
