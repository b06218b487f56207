// The embedded store: one append-only JSON-lines log under dataDir (src/store/append-log.ts: group commit,
// fdatasync, whole-or-nothing writes). Nothing is acknowledged before it is durable; a write that fails is
// rolled back on disk and in memory, and the caller answers 503.
//
// Bounded whatever the traffic: memory holds what decisions need (each subnet's last RECENT_KEPT observations,
// retained reservations, live queue tickets: at most MAX_TICKETS_PER_SUBNET per subnet) plus the newest
// observations up to `historyBytes` (the history). Compaction rewrites the log from memory (temp file + fsync +
// rename) when it has grown past twice its compacted size, hourly, and at open; so the log stays under about
// 2 × (history + windows + reservations + tickets). Open streams the log line by line, validating each record
// (src/store/records.ts). A disk that is full or read-only at open does not stop the exporter: the store serves
// what it read, and each write is tried again (503 until one succeeds).
//
// Tickets: a step's ticket changes (`tkt` upsert, `tkd` drop) go out in the same append as its observation and
// reservation, whole or not at all. Memory shows them at once (the next step decides on them, as it does on a
// reservation not yet durable); the queue that compaction writes is only what is durable, and a failed append
// takes its changes back by replaying the durable queue and the changes still in flight.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { AppendLog, type AppendError } from './append-log.js';
import { logRecordSchema, type LogRecord } from './records.js';
import { liveAfter, ticketChanges, type TicketChanges } from './tickets.js';
import {
  isLive,
  observationFromRecord,
  observationToRecord,
  QueueFullError,
  reservationSubnet,
  StoreUnreachableError,
  type AdmissionStore,
  type Observation,
  type ObservationRecord,
  type OpenReport,
  type Reservation,
  type ReservationClose,
  type LedgerState,
  type Ticket,
  ticketSubnet,
  type TransactPlan,
} from './types.js';

export const LOG_FILE = 'admission.jsonl';
/** Observations kept in memory per subnet: the largest lookback the config allows. */
const RECENT_KEPT = 100;
/**
 * Default cap of the history: ~16,000 observations (~250 bytes each): 2.8 hours of a hundred sensors poking
 * every minute, 58 days of one poking every five minutes. The log stays under about twice this plus what the
 * decisions need, and start-up reads (and validates) no more than that: well under a second.
 */
export const DEFAULT_HISTORY_BYTES = 4 * 1024 * 1024;
/**
 * Live tickets per subnet: far beyond any real queue (a hundred sensors is a busy subnet) and small enough that a
 * runaway client cannot grow memory and the compacted log without end (10,000 tickets: ~3 MB of log, ~5 MB of
 * memory). A step that would add one more is refused (QueueFullError, 503).
 */
export const MAX_TICKETS_PER_SUBNET = 10_000;
/** After a failed compaction (full disk), growth does not trigger another one before this. */
const COMPACT_RETRY_MS = 60_000;
/** Compaction output is written in pieces of about this size. */
const CHUNK_BYTES = 1024 * 1024;

export interface FileStoreOptions {
  dataDir: string;
  clock: Clock;
  logger: Logger;
  /** How often the log is compacted while open; 0 disables (compaction at open and on growth always run). */
  compactIntervalMs?: number;
  /** Bytes of observations kept beyond the windows, newest first (default DEFAULT_HISTORY_BYTES). */
  historyBytes?: number;
}

/** An observation held in memory, with its log line and its place in log order. */
interface Held {
  seq: number;
  line: string;
  expiresAt: number;
}

interface WindowEntry extends Held {
  obs: Observation;
}

function obsLine(o: ObservationRecord): string {
  return `${JSON.stringify({ t: 'obs', ...o })}\n`;
}

function resLine(r: Reservation): string {
  return `${JSON.stringify({ t: 'res', r })}\n`;
}

function tktLine(k: Ticket): string {
  return `${JSON.stringify({ t: 'tkt', k })}\n`;
}

function ticketLines(changes: TicketChanges, now: number): string {
  let out = '';
  for (const [id, k] of changes) out += k ? tktLine(k) : `${JSON.stringify({ t: 'tkd', id, at: now })}\n`;
  return out;
}

/** One step's ticket changes while its append is in flight. */
interface PendingTickets {
  subnetId: string;
  changes: TicketChanges;
}

/** Join lines into pieces of about CHUNK_BYTES (one Buffer per piece when written). */
function chunk(lines: Iterable<string>, out: string[]): void {
  let cur: string[] = [];
  let len = 0;
  for (const l of lines) {
    cur.push(l);
    len += l.length;
    if (len >= CHUNK_BYTES) {
      out.push(cur.join(''));
      cur = [];
      len = 0;
    }
  }
  if (cur.length > 0) out.push(cur.join(''));
}

export class FileStore implements AdmissionStore {
  readonly type = 'file' as const;
  openReport: OpenReport = { records: 0, tornTail: false, skipped: 0, rejected: 0, dropped: 0 };

  private readonly path: string;
  private readonly log: AppendLog;
  private readonly historyCap: number;
  private readonly windows = new Map<string, WindowEntry[]>();
  /** The newest observations, oldest first from `histStart`, at most `historyCap` bytes of lines. */
  private history: Held[] = [];
  private histStart = 0;
  private histBytes = 0;
  private seq = 0;
  private readonly resv = new Map<string, Map<string, Reservation>>();
  /**
   * Each subnet's retained reservations as the last decision saw them, reused while its map's members stand and
   * the decision's time is in [from, until) (no reservation's retainUntil falls in it): a 1,000-reservation copy per
   * /admit was a good part of what a decision allocated. Any change of members drops the subnet's entry.
   */
  private readonly retainedLists = new Map<string, { list: readonly Reservation[]; from: number; until: number }>();
  /** Each subnet's queue tickets by id as decisions see them: the durable ones with the changes in flight. */
  private readonly queues = new Map<string, Map<string, Ticket>>();
  /** Each subnet's tickets as the log holds them: what compaction writes. */
  private readonly durableQueues = new Map<string, Map<string, Ticket>>();
  /** Ticket changes appended but not yet durable, in append order. */
  private readonly inFlightTickets = new Set<PendingTickets>();
  /** Log size after the last compaction. */
  private compactedBytes = 0;
  private compacting: Promise<void> | undefined;
  private compactNotBefore = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(private readonly opts: FileStoreOptions) {
    this.path = join(opts.dataDir, LOG_FILE);
    this.historyCap = opts.historyBytes ?? DEFAULT_HISTORY_BYTES;
    this.log = new AppendLog(this.path, {
      onFailure: (err) => this.opts.logger.error({ err: err.message, code: err.code, path: this.path }, 'store append failed: not acknowledged'),
      afterCommit: () => this.maybeCompact(),
    });
  }

  static async open(opts: FileStoreOptions): Promise<FileStore> {
    const s = new FileStore(opts);
    await s.load();
    if (opts.compactIntervalMs && opts.compactIntervalMs > 0) {
      s.timer = setInterval(() => void s.compact().catch(() => undefined), opts.compactIntervalMs);
      s.timer.unref();
    }
    return s;
  }

  private async load(): Promise<void> {
    const { logger, dataDir } = this.opts;
    try {
      await mkdir(dataDir, { recursive: true });
    } catch (err) {
      // A read-only disk without the directory: nothing to read; writes are tried (and refused) per request.
      logger.error({ err: (err as Error).message, dataDir }, 'store directory cannot be created');
    }
    const now = this.opts.clock.now();
    let dropped = 0;
    const report = await this.log.replay(
      logRecordSchema,
      (rec, text, exact) => {
        if (!this.apply(rec, now, exact ? `${text}\n` : undefined)) dropped++;
      },
      { logger, what: 'admission log' },
    );
    dropped += this.pruneReservations(now);
    this.openReport = {
      records: report.records,
      tornTail: report.tornTail,
      skipped: report.skipped,
      rejected: report.rejected,
      dropped,
    };
    const chunks = this.snapshot();
    const size = chunks.reduce((n, c) => n + Buffer.byteLength(c), 0);
    if (!report.tornTail && report.rejected === 0 && dropped === 0 && size === report.goodBytes) {
      // Already compact (the same records, nothing to drop): no rewrite, start-up reads and goes.
      this.compactedBytes = size;
      await this.appendAfter();
      return;
    }
    try {
      // Nothing else runs on the log yet: the snapshot taken above is what it holds.
      await this.log.rewrite(() => chunks);
      this.compactedBytes = this.log.size;
    } catch (err) {
      // Full disk: keep serving from what was read, and append after the log's last complete line.
      logger.error({ err: (err as Error).message, path: this.path }, 'store compaction at open failed; appending to the log as it is');
      this.compactedBytes = report.goodBytes;
      this.compactNotBefore = Date.now() + COMPACT_RETRY_MS;
      await this.appendAfter();
    }
  }

  /** Append to the log as it is, after its last complete line. */
  private async appendAfter(): Promise<void> {
    const err = await this.log.open();
    if (err) this.opts.logger.error({ err: err.message, path: this.path }, 'admission store is not writable: /admit answers 503 until it is');
  }

  /** Fold one record read at open into memory; false when it was dropped as expired. `line`: its text, if exact. */
  private apply(rec: LogRecord, now: number, line: string | undefined): boolean {
    if (rec.t === 'obs') {
      const { t: _t, ...o } = rec;
      if (o.expires_at * 1000 <= now) return false;
      this.remember(observationFromRecord(o), line ?? obsLine(o));
    } else if (rec.t === 'res') {
      this.reservationMap(rec.r.subnetId).set(rec.r.id, { ...rec.r });
      this.retainedLists.delete(rec.r.subnetId);
    } else if (rec.t === 'tkt' || rec.t === 'tkd') {
      const subnetId = rec.t === 'tkt' ? rec.k.subnetId : ticketSubnet(rec.id);
      const id = rec.t === 'tkt' ? rec.k.id : rec.id;
      if (!subnetId) return true;
      const expired = rec.t === 'tkt' && rec.k.expiresAt <= now;
      const t = rec.t === 'tkt' && !expired ? rec.k : undefined;
      for (const m of [this.ticketMap(this.queues, subnetId), this.ticketMap(this.durableQueues, subnetId)]) {
        if (t) m.set(id, t);
        else m.delete(id);
      }
      return !expired;
    } else {
      const subnet = reservationSubnet(rec.id);
      const r = subnet ? this.resv.get(subnet)?.get(rec.id) : undefined;
      if (r && r.closed === undefined) {
        r.closed = rec.how;
        r.closedAt = rec.at;
      }
    }
    return true;
  }

  /** Rewrite the log from memory without expired entries (serialized with appends). */
  compact(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.compacting ??= this.log
      .rewrite(() => this.snapshot())
      .then(
        () => {
          this.compactedBytes = this.log.size;
        },
        (err: AppendError) => {
          this.compactNotBefore = Date.now() + COMPACT_RETRY_MS;
          this.opts.logger.error({ err: err.message, path: this.path }, 'store compaction failed; the log keeps growing until it succeeds');
          throw err;
        },
      )
      .finally(() => {
        this.compacting = undefined;
      });
    return this.compacting;
  }

  private maybeCompact(): void {
    if (this.compacting || this.closed || Date.now() < this.compactNotBefore) return;
    // Grown by its compacted size, and by a quarter of the history at least (no rewrite per append when small).
    if (this.log.size < this.compactedBytes + Math.max(this.compactedBytes, this.historyCap / 4)) return;
    void this.compact().catch(() => undefined);
  }

  /**
   * The log's content as memory holds it, expired entries pruned: windows older than the history, the history,
   * retained reservations, then live tickets. Runs synchronously at a point where memory is exactly what is durable.
   */
  private snapshot(): string[] {
    const now = this.opts.clock.now();
    this.pruneReservations(now);
    for (const subnetId of [...this.durableQueues.keys()]) this.pruneTickets(subnetId, now);
    const older: WindowEntry[] = [];
    const histOldest = this.histStart < this.history.length ? this.history[this.histStart].seq : Number.POSITIVE_INFINITY;
    for (const [subnet, list] of this.windows) {
      const kept = list.filter((e) => e.expiresAt > now).slice(-RECENT_KEPT);
      if (kept.length === 0) this.windows.delete(subnet);
      else this.windows.set(subnet, kept);
      for (const e of kept) if (e.seq < histOldest) older.push(e);
    }
    older.sort((a, b) => a.seq - b.seq);
    const hist = this.history.slice(this.histStart).filter((h) => h.expiresAt > now);
    this.history = hist;
    this.histStart = 0;
    this.histBytes = hist.reduce((n, h) => n + h.line.length, 0);
    const out: string[] = [];
    chunk(
      (function* (resv: Map<string, Map<string, Reservation>>, queues: Map<string, Map<string, Ticket>>) {
        for (const e of older) yield e.line;
        for (const h of hist) yield h.line;
        for (const m of resv.values()) for (const r of m.values()) yield resLine(r);
        for (const m of queues.values()) for (const k of m.values()) yield tktLine(k);
      })(this.resv, this.durableQueues),
      out,
    );
    return out;
  }

  private pruneReservations(now: number): number {
    let n = 0;
    for (const [subnet, m] of this.resv) {
      for (const [id, r] of m) {
        if (r.retainUntil <= now) {
          m.delete(id);
          this.retainedLists.delete(subnet);
          n++;
        }
      }
      if (m.size === 0) this.resv.delete(subnet);
    }
    return n;
  }

  private remember(obs: Observation, line: string): WindowEntry {
    const e: WindowEntry = { seq: this.seq++, line, expiresAt: obs.expiresAt, obs };
    let list = this.windows.get(obs.subnetId);
    if (!list) this.windows.set(obs.subnetId, (list = []));
    list.push(e);
    if (list.length > RECENT_KEPT * 2) list.splice(0, list.length - RECENT_KEPT);
    this.history.push({ seq: e.seq, line, expiresAt: e.expiresAt });
    this.histBytes += line.length;
    while (this.histBytes > this.historyCap && this.histStart < this.history.length) {
      this.histBytes -= this.history[this.histStart].line.length;
      this.histStart++;
    }
    if (this.histStart > 4096 && this.histStart * 2 > this.history.length) {
      this.history = this.history.slice(this.histStart);
      this.histStart = 0;
    }
    return e;
  }

  /** Undo `remember` of an entry whose write failed. */
  private forget(e: WindowEntry): void {
    const list = this.windows.get(e.obs.subnetId);
    const i = list ? list.lastIndexOf(e) : -1;
    if (list && i >= 0) list.splice(i, 1);
    for (let j = this.history.length - 1; j >= this.histStart; j--) {
      if (this.history[j].seq === e.seq) {
        this.histBytes -= this.history[j].line.length;
        this.history.splice(j, 1);
        break;
      }
      if (this.history[j].seq < e.seq) break;
    }
  }

  /** The subnet's reservations retained at `now`, in map order (see retainedLists). Read-only. */
  private retained(subnetId: string, m: Map<string, Reservation>, now: number): readonly Reservation[] {
    const kept = this.retainedLists.get(subnetId);
    if (kept && now >= kept.from && now < kept.until) return kept.list;
    const list = [...m.values()].filter((r) => r.retainUntil > now);
    let until = Number.POSITIVE_INFINITY;
    for (const r of list) until = Math.min(until, r.retainUntil);
    this.retainedLists.set(subnetId, { list, from: now, until });
    return list;
  }

  private reservationMap(subnetId: string): Map<string, Reservation> {
    let m = this.resv.get(subnetId);
    if (!m) this.resv.set(subnetId, (m = new Map()));
    return m;
  }

  /** A failed write, as the 503 its caller answers. */
  private refused(err: unknown): StoreUnreachableError {
    return new StoreUnreachableError(`admission store could not record this decision, so it is not given: ${(err as Error).message}`, { cause: err });
  }

  async recentObservations(subnetId: string, n: number, now: number): Promise<Observation[]> {
    return this.lastN(subnetId, n, now);
  }

  peekObservations(subnetId: string, n: number): Observation[] | undefined {
    return this.lastN(subnetId, n, this.opts.clock.now());
  }

  private lastN(subnetId: string, n: number, now: number): Observation[] {
    const list = this.windows.get(subnetId) ?? [];
    const out: Observation[] = [];
    for (let i = list.length - 1; i >= 0 && out.length < n; i--) if (list[i].expiresAt > now) out.push(list[i].obs);
    return out;
  }

  private ticketMap(maps: Map<string, Map<string, Ticket>>, subnetId: string): Map<string, Ticket> {
    let m = maps.get(subnetId);
    if (!m) maps.set(subnetId, (m = new Map()));
    return m;
  }

  /** Forget a subnet's expired tickets (no record needed: they are ignored on load and left out of compaction). */
  private pruneTickets(subnetId: string, now: number): void {
    // The (empty) maps stay: one per subnet that ever had a ticket, and peekTickets then says "none", not "unknown".
    for (const maps of [this.queues, this.durableQueues]) {
      const m = maps.get(subnetId);
      if (m) for (const [id, t] of m) if (t.expiresAt <= now) m.delete(id);
    }
  }

  /**
   * Show a step's ticket changes to the decisions that follow, and append their records: durable with `data`
   * or taken back. Returns the hooks for the append.
   */
  private stageTickets(subnetId: string, changes: TicketChanges): { undo: () => void; durable: () => void } {
    const pending: PendingTickets = { subnetId, changes };
    const q = this.ticketMap(this.queues, subnetId);
    for (const [id, t] of changes) {
      if (t) q.set(id, t);
      else q.delete(id);
    }
    this.inFlightTickets.add(pending);
    return {
      durable: () => {
        this.inFlightTickets.delete(pending);
        const d = this.ticketMap(this.durableQueues, subnetId);
        for (const [id, t] of changes) {
          if (t) d.set(id, t);
          else d.delete(id);
        }
      },
      undo: () => {
        // Each touched ticket becomes what the log holds plus the changes still in flight, in their order:
        // undoing in place would be wrong when a later step in flight changed the same ticket.
        this.inFlightTickets.delete(pending);
        const vis = this.ticketMap(this.queues, subnetId);
        const d = this.durableQueues.get(subnetId);
        for (const id of changes.keys()) {
          let t = d?.get(id);
          for (const p of this.inFlightTickets) if (p.subnetId === subnetId && p.changes.has(id)) t = p.changes.get(id);
          if (t) vis.set(id, t);
          else vis.delete(id);
        }
      },
    };
  }

  async tickets(subnetId: string, now: number): Promise<Ticket[]> {
    return [...(this.queues.get(subnetId)?.values() ?? [])].filter((t) => t.expiresAt > now);
  }

  peekTickets(subnetId: string): Ticket[] | undefined {
    const m = this.queues.get(subnetId);
    const now = this.opts.clock.now();
    return m ? [...m.values()].filter((t) => t.expiresAt > now) : undefined;
  }

  async withdrawTicket(id: string, now: number): Promise<Ticket | undefined> {
    const subnetId = ticketSubnet(id);
    const t = subnetId ? this.queues.get(subnetId)?.get(id) : undefined;
    if (!subnetId || !t || t.expiresAt <= now) return undefined;
    const changes: TicketChanges = new Map([[id, undefined]]);
    const hooks = this.stageTickets(subnetId, changes);
    try {
      await this.log.append(ticketLines(changes, now), hooks.undo, hooks.durable);
    } catch (err) {
      throw this.refused(err);
    }
    return { ...t };
  }

  async transact<T>(subnetId: string, now: number, plan: (state: LedgerState) => TransactPlan<T>): Promise<T> {
    // The decision and the in-memory apply run synchronously, so no other request can slip between them;
    // a request deciding after this one already sees its reservation and tickets, even before they are durable.
    const m = this.reservationMap(subnetId);
    const retained = this.retained(subnetId, m, now);
    this.pruneTickets(subnetId, now);
    const q = this.queues.get(subnetId);
    const p = plan({ reservations: retained, tickets: q ? [...q.values()] : [] });
    const changes = ticketChanges(subnetId, p);
    if (changes.size > 0) {
      const before = q?.size ?? 0;
      const after = liveAfter(before, (id) => q?.has(id) === true, changes);
      if (after > MAX_TICKETS_PER_SUBNET && after > before) {
        throw new QueueFullError(
          `queue of ${subnetId} is full: ${before} live tickets, the file store keeps at most ${MAX_TICKETS_PER_SUBNET} per subnet; this wait is not recorded`,
        );
      }
    }
    const line = obsLine(observationToRecord(p.observation));
    let data = line;
    if (p.add) {
      m.set(p.add.id, p.add);
      this.retainedLists.delete(subnetId);
      data += resLine(p.add);
    }
    const tickets = changes.size > 0 ? this.stageTickets(subnetId, changes) : undefined;
    if (tickets) data += ticketLines(changes, now);
    const held = this.remember(p.observation, line);
    try {
      await this.log.append(
        data,
        () => {
          // Not durable, so not granted: take it back (a decision made meanwhile only over-counted).
          if (p.add) {
            m.delete(p.add.id);
            this.retainedLists.delete(subnetId);
          }
          this.forget(held);
          tickets?.undo();
        },
        tickets?.durable,
      );
    } catch (err) {
      throw this.refused(err);
    }
    return p.result;
  }

  async reservations(subnetId: string, now: number): Promise<Reservation[]> {
    return [...(this.resv.get(subnetId)?.values() ?? [])].filter((r) => r.retainUntil > now);
  }

  peekReservations(subnetId: string): Reservation[] | undefined {
    const m = this.resv.get(subnetId);
    return m ? [...m.values()] : undefined;
  }

  async closeReservation(id: string, how: ReservationClose, now: number): Promise<Reservation | undefined> {
    const subnet = reservationSubnet(id);
    const r = subnet ? this.resv.get(subnet)?.get(id) : undefined;
    if (!r || !isLive(r, now)) return undefined;
    r.closed = how;
    r.closedAt = now;
    try {
      await this.log.append(`${JSON.stringify({ t: 'cls', id, how, at: now })}\n`, () => {
        delete r.closed;
        delete r.closedAt;
      });
    } catch (err) {
      throw this.refused(err);
    }
    return { ...r };
  }

  pendingWrites(): number {
    return this.log.pending;
  }

  errorCount(): number {
    return this.log.errors;
  }

  storeBytes(): number {
    return this.log.size;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.compacting?.catch(() => undefined);
    this.closed = true;
    await this.log.close();
  }

  /** Group commits (append + fdatasync) done since open. */
  get commits(): number {
    return this.log.commits;
  }

  /** The log's path. */
  get logPath(): string {
    return this.path;
  }
}
