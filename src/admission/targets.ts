// Which target a request means. A subnet is found by id or name in whichever target holds it (ids and names are
// unique across targets); `account` / `region`, when given, must be that subnet's. A job is found through its
// connections' subnets: in one target it is that target's, in several the request must say which. Pure.
import { targetKey, type SubnetView } from '../snapshot/types.js';
import { AdmitError } from './errors.js';

/** The request's `account` and `region` parameters. */
export interface TargetWanted {
  account?: string;
  region?: string;
}

type Placed = Pick<SubnetView, 'subnetId' | 'account' | 'region'>;

const TARGET_FIELDS = ['account', 'region'] as const;

/** `account/region` as a person reads it; an account the single-account form does not know says so. */
export function targetLabel(t: Pick<SubnetView, 'account' | 'region'>): string {
  return `${t.account || '(account unknown)'}/${t.region || '(region unknown)'}`;
}

/** Whether a subnet or target is one the request's account and region leave in scope. */
export const inScope = (s: Pick<SubnetView, 'account' | 'region'>, want: TargetWanted): boolean =>
  TARGET_FIELDS.every((f) => want[f] === undefined || s[f] === want[f]);

/** A 400 naming the parameter when the subnet is not in the target the request names. */
export function checkTarget(subnet: Placed, want: TargetWanted, asked: string): void {
  for (const field of TARGET_FIELDS) {
    const v = want[field];
    if (v === undefined || subnet[field] === v) continue;
    const which = asked === subnet.subnetId ? '' : ` (${subnet.subnetId})`;
    throw new AdmitError(400, `subnet ${JSON.stringify(asked)}${which} is in ${targetLabel(subnet)}, not in ${field} ${v}`, field);
  }
}

export type JobLookup =
  | { kind: 'found'; subnet: SubnetView; workers?: number }
  | { kind: 'none' }
  /** Subnets of the targets in scope whose Glue data is unknown: the job may run there, so nothing is decided. */
  | { kind: 'glue-unknown'; subnets: SubnetView[] }
  /** Targets in scope without any good sample yet: the same. */
  | { kind: 'unsampled'; targets: Pick<SubnetView, 'account' | 'region'>[] };

/** "A, B and C". */
function listed(parts: string[]): string {
  return parts.length <= 1 ? parts.join('') : `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`;
}

/**
 * The subnet a job lands in, among the targets `want` leaves in scope: in each target the first subnet (in
 * snapshot order) one of its connections binds. A job in several targets is a 400 naming them; a job found only
 * outside the targets the request names is a 400 naming the parameter and where the job runs.
 */
export function findJob(
  subnets: readonly SubnetView[],
  job: string,
  want: TargetWanted,
  unsampled: readonly Pick<SubnetView, 'account' | 'region'>[] = [],
): JobLookup {
  const found = new Map<string, { subnet: SubnetView; workers?: number }>();
  const elsewhere = new Map<string, SubnetView>();
  const unknown: SubnetView[] = [];
  for (const s of subnets) {
    const scoped = inScope(s, want);
    // Glue data unknown (a failed Glue read): no bindings to look at.
    if (s.jobs === undefined) {
      if (scoped) unknown.push(s);
      continue;
    }
    const b = s.jobs.find((j) => j.job === job);
    if (!b) continue;
    const key = targetKey(s);
    if (!scoped) {
      if (!elsewhere.has(key)) elsewhere.set(key, s);
    } else if (!found.has(key)) found.set(key, b.workers === undefined ? { subnet: s } : { subnet: s, workers: b.workers });
  }
  // A guess between a target that binds the job and one that cannot say is still a guess.
  if (unknown.length > 0) return { kind: 'glue-unknown', subnets: unknown };
  const blind = unsampled.filter((t) => inScope(t, want));
  if (blind.length > 0) return { kind: 'unsampled', targets: blind };
  // In target order (account, then region): the same message whatever order the subnets come in.
  const byTarget = (x: [string, unknown], y: [string, unknown]) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0);
  const matches = [...found].sort(byTarget).map(([, m]) => m);
  if (matches.length > 1) {
    const where = listed(matches.map((m) => `${targetLabel(m.subnet)} (${m.subnet.subnetId})`));
    const sameAccount = matches.every((m) => m.subnet.account === matches[0].subnet.account);
    const sameRegion = matches.every((m) => m.subnet.region === matches[0].subnet.region);
    const add = sameAccount ? 'region=' : sameRegion ? 'account=' : 'account= and/or region=';
    throw new AdmitError(400, `job ${JSON.stringify(job)} runs in ${where}: add ${add}`, 'job');
  }
  if (matches.length === 1) return { kind: 'found', ...matches[0] };
  if (elsewhere.size > 0) {
    const others = [...elsewhere].sort(byTarget).map(([, s]) => s);
    const field = want.account !== undefined && !others.some((s) => s.account === want.account) ? 'account' : 'region';
    const where = listed(others.map((s) => `${targetLabel(s)} (${s.subnetId})`));
    throw new AdmitError(400, `job ${JSON.stringify(job)} runs in ${where}, not in ${field} ${want[field]}`, field);
  }
  return { kind: 'none' };
}
