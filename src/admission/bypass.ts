// Gate bypasses: addresses taken in a watched subnet by ENIs that no admission reserved (a manual run, a job
// launched without the sensor, a Lambda, Glue taking more ENIs than the workers it was admitted for).
// They are the one thing a fresh sample and the reservation ledger cannot foresee, so they are what the
// forecast policy's margin is for. Remembering how large they get per subnet lets a subnet where every
// launch goes through the gate run on a small margin, and one where people launch by hand on a larger one.
//
// A new ENI is classified once, at the first sample that shows it attached (a Glue ENI is created a few
// seconds before it attaches, and only attached ENIs can be matched to a reservation): claimed by a retained
// reservation → gated; otherwise its addresses are a bypass. Samples after a gap (a restart, failed samples,
// a store that could not be read) classify nothing and do not count as watched time.
import { z } from 'zod';
import { DAY_MS, samplesContiguous } from '../clock.js';
import { runToEnd, SLICE, type Steps } from '../slices.js';
import type { EniView } from '../snapshot/types.js';
import { AtomicFileWriter, epochMs, readJsonState, validEntries, type CheckedState, type RejectedRecord } from '../state-file.js';
import { claims } from './reservations.js';
import type { BypassEvent, BypassHistory, Reservation } from './types.js';

export type { BypassEvent, BypassHistory } from './types.js';

/**
 * The margin the history supports at `now` (bypasses within the last `horizonMs`), or `learned: false` while
 * less than `trustAfterMs` (default: the whole horizon) was watched.
 */
export function learnedMargin(
  history: BypassHistory | undefined,
  now: number,
  horizonMs: number,
  exposureMs: number,
  trustAfterMs = horizonMs,
): { learned: boolean; margin: number; watchedMs: number } {
  const watchedMs = history?.watchedMs ?? 0;
  if (!history || watchedMs < Math.min(trustAfterMs, horizonMs)) return { learned: false, margin: 0, watchedMs };
  // A decision reads a sample up to one interval old and its launch attaches up to about one interval
  // later: what bypasses can take meanwhile is the most they took within any `exposureMs`.
  return { learned: true, margin: mostWithin(history.events, now - horizonMs, now, exposureMs), watchedMs };
}

/**
 * The last answer per event list: every /admit of a subnet asks again until a sample or the minute moves it.
 * Events are only appended in time order (an append within the window moves `hi`) or dropped by making a new list.
 */
const margins = new WeakMap<readonly BypassEvent[], { lo: number; hi: number; exposureMs: number; margin: number }>();

/** Index of the first event after `t` (events are in time order). */
function firstAfter(events: readonly BypassEvent[], t: number): number {
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (events[mid].at > t) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * The most addresses the events in (from, to] took within any `exposureMs`: one pass with a sliding window
 * (a scrape computes this for every subnet), none when the same events were summed for the previous call.
 */
function mostWithin(events: readonly BypassEvent[], from: number, to: number, exposureMs: number): number {
  const lo = firstAfter(events, from);
  const hi = firstAfter(events, to);
  const last = margins.get(events);
  if (last && last.lo === lo && last.hi === hi && last.exposureMs === exposureMs) return last.margin;
  let margin = 0;
  let sum = 0;
  let first = lo;
  for (let i = lo; i < hi; i++) {
    const e = events[i];
    sum += e.addresses;
    while (events[first].at <= e.at - exposureMs) sum -= events[first++].addresses;
    margin = Math.max(margin, sum);
  }
  margins.set(events, { lo, hi, exposureMs, margin });
  return margin;
}

/** What classification reads of an ENI (a snapshot's EniView has it all). */
export type BypassEni = Pick<EniView, 'id' | 'owner' | 'addresses' | 'attachTime'>;

/** Addresses of ENIs in `newcomers` that no reservation of `ledger` claims (claims are judged over all `enis`). */
export function bypassAddresses(newcomers: readonly BypassEni[], enis: readonly BypassEni[], ledger: readonly Reservation[]): number {
  const { claimed } = claims(ledger, enis);
  return newcomers.reduce((n, e) => (claimed.has(e.id) ? n : n + e.addresses), 0);
}

/** A pass over one sample's list (BypassMemory.scanSteps). */
export interface BypassScan<E extends BypassEni> {
  readonly enis: readonly E[];
  /** The ids known when the scan was made: a scan is valid only while they stand. */
  readonly known: ReadonlySet<string> | undefined;
  /** Not classified yet and ready to be (attached, or not Glue's); none before watching began. */
  readonly newcomers: E[];
  /** The ids to keep as known: known and present, or classifiable now. */
  readonly keep: Set<string>;
  /** Glue ENIs not known and not attached yet. */
  readonly waiting: readonly string[];
}

interface SubnetMemory extends BypassHistory {
  lastSampleAt?: number;
}

interface PersistedBypass {
  version: 1;
  subnets: Record<string, SubnetMemory>;
}

export interface BypassMemoryOptions {
  /** <dataDir>/bypass.json when set; memory only otherwise. */
  file?: string;
  /** Seconds between samples on the clock that stamps them, read at use (a reload may change the schedule). */
  intervalSeconds: () => number;
}

/** The most a horizon can be (config: bypassMemoryDays ≤ 90). */
const MAX_HORIZON_MS = 90 * DAY_MS;
/** One subnet's addresses at most (AWS subnets are /16 at the largest). */
const MAX_EVENT_ADDRESSES = 65_536;
/** Far beyond any account: bounds what a forged file can make us hold. */
const MAX_SUBNETS = 100_000;

/**
 * What one subnet's record in bypass.json may hold; anything else is set aside on load (a string watchedMs
 * would grow by string concatenation; events out of order would break the sliding window of learnedMargin).
 * `maxEvents`: at most one event per sample over the longest horizon.
 */
function subnetMemorySchema(maxEvents: number) {
  return z.object({
    watchedMs: z.number().min(0).max(8.64e15),
    events: z
      .array(z.object({ at: epochMs, addresses: z.int().min(1).max(MAX_EVENT_ADDRESSES) }))
      .max(maxEvents, { error: `expected at most ${maxEvents} events (one per sample over 90 days)` })
      .refine((events) => events.every((e, i) => i === 0 || events[i - 1].at <= e.at), { error: 'expected events in time order' }),
    totalAddresses: z.int().min(0).max(Number.MAX_SAFE_INTEGER),
    lastSampleAt: epochMs.optional(),
  }) satisfies z.ZodType<SubnetMemory>;
}

/** bypass.json as read from disk: the file's format must match, each subnet's record is checked on its own. */
export function checkBypassState(parsed: unknown, intervalSeconds: number): CheckedState<PersistedBypass> {
  const p = parsed as { version?: unknown; subnets?: unknown } | null;
  if (typeof p !== 'object' || p === null || Array.isArray(p) || p.version !== 1) throw new Error('unknown format');
  const rejected: RejectedRecord[] = [];
  const maxEvents = Math.ceil(MAX_HORIZON_MS / (Math.max(1, intervalSeconds) * 1000)) + 1;
  const subnets = validEntries(
    'subnets',
    p.subnets,
    { key: /^subnet-[0-9A-Za-z]{1,64}$/, schema: subnetMemorySchema(maxEvents), max: MAX_SUBNETS },
    rejected,
  );
  return { state: { version: 1, subnets }, rejected };
}

export class BypassMemory {
  private state: PersistedBypass = { version: 1, subnets: {} };
  /** Per subnet, the ENI ids already classified (or present when watching began): process memory only. */
  private readonly known = new Map<string, Set<string>>();
  /** Per subnet, the list last observed when nothing in it was left to classify (a fast path for replays). */
  private readonly settled = new Map<string, readonly BypassEni[]>();
  private dirty = false;
  /** Writes bypass.json off the event loop (temp file, fsync, rename), one write at a time, the newest state. */
  private readonly writer?: AtomicFileWriter;

  constructor(private readonly opts: BypassMemoryOptions) {
    if (opts.file) this.writer = new AtomicFileWriter(opts.file);
  }

  load(): string | undefined {
    if (!this.opts.file) return undefined;
    const { state, note } = readJsonState(this.opts.file, 'gate-bypass memory', (parsed) => checkBypassState(parsed, this.opts.intervalSeconds()));
    if (state) this.state = state;
    return note;
  }

  /**
   * Write the memory if it changed since the last save, off the event loop; settles once it is on disk (or
   * rejects with the write's error). The state is serialized when the write's turn comes: saves asked for
   * meanwhile collapse into one write of the newest.
   */
  save(): Promise<void> {
    if (!this.writer || !this.dirty) return Promise.resolve();
    this.dirty = false;
    return this.writer
      .write(async () => [JSON.stringify(this.state)])
      .catch((err: unknown) => {
        // Not on disk: the next save writes it again.
        this.dirty = true;
        throw err;
      });
  }

  /** Settles once no save is in flight. */
  saved(): Promise<void> {
    return this.writer?.idle() ?? Promise.resolve();
  }

  history(subnetId: string): BypassHistory | undefined {
    return this.state.subnets[subnetId];
  }

  /** True when the last list observed had nothing left to classify (no Glue ENI waiting to attach). */
  isSettled(subnetId: string): boolean {
    return this.settled.has(subnetId);
  }

  /** ENIs of this sample not classified yet and ready to be (attached, or not Glue's). */
  unclassified<E extends BypassEni>(subnetId: string, enis: readonly E[]): E[] {
    return runToEnd(this.scanSteps(subnetId, enis)).newcomers;
  }

  /**
   * One pass over a sample's list, yielding every SLICE ENIs: the ENIs `unclassified` returns and the ids `observe`
   * keeps. Hand it to `observe` (as long as no other sample of the subnet was observed since): at 50,000 ENIs the
   * pass is ~50-100 ms in one piece, and it was made twice per snapshot (the housekeeping asks for newcomers first).
   */
  *scanSteps<E extends BypassEni>(subnetId: string, enis: readonly E[]): Steps<BypassScan<E>> {
    const known = this.known.get(subnetId);
    const newcomers: E[] = [];
    const keep = new Set<string>();
    const waiting: string[] = [];
    for (let i = 0; i < enis.length; i++) {
      if (i > 0 && i % SLICE === 0) yield;
      const e = enis[i];
      if (known?.has(e.id)) keep.add(e.id);
      else if (e.owner !== 'glue' || e.attachTime !== undefined) {
        if (known) newcomers.push(e);
        keep.add(e.id);
      } else waiting.push(e.id);
    }
    return { enis, known, newcomers, keep, waiting };
  }

  /**
   * Fold one subnet's sample in. `ledger` is the subnet's retained reservations, needed only when
   * `unclassified` returned ENIs; `undefined` there means the ledger could not be read: the sample then
   * counts as a gap. `horizonMs` bounds what is remembered. Returns the bypass addresses this sample added.
   */
  observe(
    subnetId: string,
    takenAt: number,
    enis: readonly BypassEni[],
    ledger: readonly Reservation[] | undefined,
    horizonMs: number,
    scanned?: BypassScan<BypassEni>,
  ): number {
    const mem = (this.state.subnets[subnetId] ??= { watchedMs: 0, events: [], totalAddresses: 0 });
    const known = this.known.get(subnetId);
    const contiguous =
      known !== undefined &&
      mem.lastSampleAt !== undefined &&
      takenAt > mem.lastSampleAt &&
      samplesContiguous(takenAt - mem.lastSampleAt, this.opts.intervalSeconds());
    if (contiguous && this.settled.get(subnetId) === enis) {
      mem.watchedMs += takenAt - (mem.lastSampleAt as number);
      mem.lastSampleAt = takenAt;
      this.dirty = true;
      return 0;
    }
    // A scan of another list, or made before another sample changed what is known, is made again.
    const scan = scanned?.enis === enis && scanned.known === known ? scanned : runToEnd(this.scanSteps(subnetId, enis));
    const { newcomers } = scan;
    let addresses = 0;
    if (contiguous && (newcomers.length === 0 || ledger !== undefined)) {
      mem.watchedMs += takenAt - (mem.lastSampleAt as number);
      addresses = newcomers.length === 0 ? 0 : bypassAddresses(newcomers, enis, ledger ?? []);
      if (addresses > 0) {
        mem.events.push({ at: takenAt, addresses });
        mem.totalAddresses += addresses;
      }
    }
    // Keep what is classified now or present, minus Glue ENIs still waiting to attach (classified later), unless
    // nothing could be judged (a gap): they are taken as present when watching (re)starts.
    const next = scan.keep;
    if (!contiguous) for (const id of scan.waiting) next.add(id);
    this.known.set(subnetId, next);
    if (next.size === enis.length) this.settled.set(subnetId, enis);
    else this.settled.delete(subnetId);
    mem.lastSampleAt = takenAt;
    const cut = takenAt - horizonMs;
    if (mem.events.length > 0 && mem.events[0].at <= cut) mem.events = mem.events.filter((e) => e.at > cut);
    this.dirty = true;
    return addresses;
  }
}

export const bypassHorizonMs = (days: number): number => days * DAY_MS;
