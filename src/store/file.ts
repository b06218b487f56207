// The embedded store: one append-only JSON-lines log under dataDir. Writes queued in the same tick are
// group-committed (one append + one fdatasync) and only then acknowledged, so a kill -9 loses nothing that
// was answered. At open the log is replayed (a torn last line is skipped and reported) and compacted by
// rewriting to a temp file + fsync + rename, dropping expired entries; compaction also runs periodically.
import { mkdir, open, readFile, rename, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import {
  isLive,
  observationFromRecord,
  observationToRecord,
  reservationSubnet,
  type AdmissionStore,
  type Observation,
  type ObservationRecord,
  type OpenReport,
  type Reservation,
  type ReservationClose,
  type TransactPlan,
} from './types.js';

export const LOG_FILE = 'admission.jsonl';
/** Observations kept in memory per subnet: the largest lookback the config allows. */
const RECENT_KEPT = 100;

type LogRecord =
  | ({ t: 'obs' } & ObservationRecord)
  | { t: 'res'; r: Reservation }
  | { t: 'cls'; id: string; how: ReservationClose; at: number };

interface Pending {
  data: string;
  resolve: () => void;
  reject: (err: Error) => void;
}

export interface FileStoreOptions {
  dataDir: string;
  clock: Clock;
  logger: Logger;
  /** How often the log is compacted while open; 0 disables (compaction at open always runs). */
  compactIntervalMs?: number;
}

function parseLine(line: string): LogRecord | undefined {
  try {
    const v = JSON.parse(line) as LogRecord;
    if (v && v.t === 'obs' && typeof v.subnet_id === 'string' && typeof v.observed_at === 'string') return v;
    if (v && v.t === 'res' && v.r && typeof v.r.id === 'string' && typeof v.r.subnetId === 'string') return v;
    if (v && v.t === 'cls' && typeof v.id === 'string') return v;
  } catch {
    // fall through: counted as skipped
  }
  return undefined;
}

interface Folded {
  observations: ObservationRecord[];
  reservations: Map<string, Reservation>;
  skipped: number;
  tornTail: boolean;
  records: number;
  dropped: number;
}

/** Replay the log text: the state it describes, minus what has expired by `now`. */
function fold(text: string, now: number): Folded {
  const lines = text.split('\n');
  // A log that does not end in a newline was cut mid-append: its last line is torn.
  const tornTail = text.length > 0 && !text.endsWith('\n');
  let skipped = 0;
  let records = 0;
  let dropped = 0;
  const observations: ObservationRecord[] = [];
  const reservations = new Map<string, Reservation>();
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const rec = i === lines.length - 1 && tornTail ? undefined : parseLine(line);
    if (!rec) {
      skipped++;
      return;
    }
    records++;
    if (rec.t === 'obs') {
      if (rec.expires_at * 1000 > now) observations.push(stripTag(rec));
      else dropped++;
    } else if (rec.t === 'res') {
      reservations.set(rec.r.id, { ...rec.r });
    } else {
      const r = reservations.get(rec.id);
      if (r && r.closed === undefined) {
        r.closed = rec.how;
        r.closedAt = rec.at;
      }
    }
  });
  for (const [id, r] of reservations) {
    if (r.retainUntil <= now) {
      reservations.delete(id);
      dropped++;
    }
  }
  return { observations, reservations, skipped, tornTail, records, dropped };
}

function stripTag(rec: { t: 'obs' } & ObservationRecord): ObservationRecord {
  const { t: _t, ...o } = rec;
  return o;
}

function obsLine(o: ObservationRecord): string {
  return JSON.stringify({ t: 'obs', ...o }) + '\n';
}

export class FileStore implements AdmissionStore {
  readonly type = 'file' as const;
  openReport: OpenReport = { records: 0, tornTail: false, skipped: 0, dropped: 0 };

  private fh: FileHandle | undefined;
  private readonly path: string;
  private readonly recent = new Map<string, Observation[]>();
  private readonly resv = new Map<string, Map<string, Reservation>>();
  private queue: Pending[] = [];
  private inFlight = 0;
  private scheduled = false;
  /** Serializes appends and compaction on the file handle. */
  private io: Promise<void> = Promise.resolve();
  /** Set after a failed append: the next batch starts with a newline so a fragment cannot swallow it. */
  private needsNewline = false;
  private errors = 0;
  private commitCount = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(private readonly opts: FileStoreOptions) {
    this.path = join(opts.dataDir, LOG_FILE);
  }

  static async open(opts: FileStoreOptions): Promise<FileStore> {
    const s = new FileStore(opts);
    await mkdir(opts.dataDir, { recursive: true });
    await s.compactNow(true);
    if (opts.compactIntervalMs && opts.compactIntervalMs > 0) {
      s.timer = setInterval(() => {
        s.compact().catch((err: Error) => s.opts.logger.error({ err: err.message }, 'store compaction failed'));
      }, opts.compactIntervalMs);
      s.timer.unref();
    }
    return s;
  }

  /** Rewrite the log without expired entries (serialized with appends). */
  compact(): Promise<void> {
    return this.exclusive(() => this.compactNow(false));
  }

  private async compactNow(atOpen: boolean): Promise<void> {
    const now = this.opts.clock.now();
    let text = '';
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const f = fold(text, now);
    if (atOpen) {
      this.openReport = { records: f.records, tornTail: f.tornTail, skipped: f.skipped, dropped: f.dropped };
      if (f.tornTail || f.skipped > 0) {
        this.opts.logger.warn(
          { path: this.path, skipped: f.skipped, tornTail: f.tornTail },
          'store log had unreadable lines (a write cut short by a crash); skipped them',
        );
      }
      for (const o of f.observations) this.remember(observationFromRecord(o));
      for (const r of f.reservations.values()) this.reservationMap(r.subnetId).set(r.id, r);
    }
    const body = f.observations.map(obsLine).join('') + [...f.reservations.values()].map((r) => JSON.stringify({ t: 'res', r }) + '\n').join('');
    const tmp = `${this.path}.tmp`;
    const th = await open(tmp, 'w');
    try {
      await th.writeFile(body);
      await th.sync();
    } finally {
      await th.close();
    }
    if (this.fh) {
      await this.fh.close();
      this.fh = undefined;
    }
    await rename(tmp, this.path);
    await this.syncDir();
    this.fh = await open(this.path, 'a');
    this.needsNewline = false;
    if (!atOpen) this.pruneMemory(now);
  }

  private async syncDir(): Promise<void> {
    // The rename is durable only once the directory entry is.
    const dh = await open(this.opts.dataDir, 'r');
    try {
      await dh.sync();
    } catch {
      // Some filesystems refuse fsync on directories; the rename is still atomic.
    } finally {
      await dh.close();
    }
  }

  private pruneMemory(now: number): void {
    for (const [subnet, m] of this.resv) {
      for (const [id, r] of m) if (r.retainUntil <= now) m.delete(id);
      if (m.size === 0) this.resv.delete(subnet);
    }
    for (const [subnet, list] of this.recent) {
      const kept = list.filter((o) => o.expiresAt > now);
      if (kept.length === 0) this.recent.delete(subnet);
      else this.recent.set(subnet, kept);
    }
  }

  private exclusive(fn: () => Promise<void>): Promise<void> {
    const p = this.io.then(fn);
    this.io = p.catch(() => undefined);
    return p;
  }

  private append(data: string): Promise<void> {
    if (this.closed) return Promise.reject(new Error('store is closed'));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ data, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // Everything queued in this tick goes out in one append + one fdatasync.
        setImmediate(() => {
          void this.exclusive(() => this.flush());
        });
      }
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    this.inFlight = batch.length;
    const data = (this.needsNewline ? '\n' : '') + batch.map((p) => p.data).join('');
    try {
      if (!this.fh) throw new Error('store is not open');
      await this.fh.write(data);
      await this.fh.datasync();
      this.commitCount++;
      this.needsNewline = false;
      for (const p of batch) p.resolve();
    } catch (err) {
      this.errors++;
      this.needsNewline = true;
      this.opts.logger.error({ err: (err as Error).message, path: this.path }, 'store append failed');
      for (const p of batch) p.reject(err as Error);
    } finally {
      this.inFlight = 0;
    }
  }

  private remember(o: Observation): void {
    let list = this.recent.get(o.subnetId);
    if (!list) this.recent.set(o.subnetId, (list = []));
    list.push(o);
    if (list.length > RECENT_KEPT * 2) list.splice(0, list.length - RECENT_KEPT);
  }

  private forget(o: Observation): void {
    const list = this.recent.get(o.subnetId);
    const i = list ? list.lastIndexOf(o) : -1;
    if (list && i >= 0) list.splice(i, 1);
  }

  private reservationMap(subnetId: string): Map<string, Reservation> {
    let m = this.resv.get(subnetId);
    if (!m) this.resv.set(subnetId, (m = new Map()));
    return m;
  }

  async recentObservations(subnetId: string, n: number, now: number): Promise<Observation[]> {
    return this.lastN(subnetId, n, now);
  }

  peekObservations(subnetId: string, n: number): Observation[] | undefined {
    return this.lastN(subnetId, n, this.opts.clock.now());
  }

  private lastN(subnetId: string, n: number, now: number): Observation[] {
    const list = this.recent.get(subnetId) ?? [];
    const out: Observation[] = [];
    for (let i = list.length - 1; i >= 0 && out.length < n; i--) if (list[i].expiresAt > now) out.push(list[i]);
    return out;
  }

  async transact<T>(subnetId: string, now: number, plan: (reservations: readonly Reservation[]) => TransactPlan<T>): Promise<T> {
    // The decision and the in-memory apply run synchronously, so no other request can slip between them;
    // a request deciding after this one already sees its reservation, even before it is durable.
    const m = this.reservationMap(subnetId);
    const retained = [...m.values()].filter((r) => r.retainUntil > now);
    const p = plan(retained);
    let data = obsLine(observationToRecord(p.observation));
    if (p.add) {
      m.set(p.add.id, p.add);
      data += JSON.stringify({ t: 'res', r: p.add }) + '\n';
    }
    this.remember(p.observation);
    try {
      await this.append(data);
    } catch (err) {
      // Not durable, so not granted: take it back (a decision made meanwhile only over-counted).
      if (p.add) m.delete(p.add.id);
      this.forget(p.observation);
      throw err;
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
      await this.append(JSON.stringify({ t: 'cls', id, how, at: now }) + '\n');
    } catch (err) {
      delete r.closed;
      delete r.closedAt;
      throw err;
    }
    return { ...r };
  }

  pendingWrites(): number {
    return this.queue.length + this.inFlight;
  }

  errorCount(): number {
    return this.errors;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    // Let queued writes finish before the handle goes.
    await new Promise<void>((r) => setImmediate(r));
    await this.exclusive(async () => {
      this.closed = true;
      await this.fh?.close();
      this.fh = undefined;
    });
  }

  /** Group commits (append + fdatasync) done since open. */
  get commits(): number {
    return this.commitCount;
  }

  /** The log's path. */
  get logPath(): string {
    return this.path;
  }
}
