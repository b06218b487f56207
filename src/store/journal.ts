// A local write-ahead journal for the observations DynamoDB has not taken yet: JSON lines under dataDir,
// group-committed (one append + one fdatasync per tick) before the write is acknowledged, replayed at open,
// and emptied once everything in it has reached DynamoDB.
import { mkdir, open, readFile, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ObservationRecord } from './types.js';

interface Pending {
  data: string;
  resolve: () => void;
  reject: (err: Error) => void;
}

export interface JournalContents {
  records: ObservationRecord[];
  /** Unparseable lines skipped, a torn last line included. */
  skipped: number;
  /** The file did not end in a newline: the last append was cut short by a crash. */
  tornTail: boolean;
}

function parseRecord(line: string): ObservationRecord | undefined {
  try {
    const v = JSON.parse(line) as ObservationRecord;
    if (v && typeof v.subnet_id === 'string' && typeof v.observed_at === 'string' && typeof v.uniq === 'string') return v;
  } catch {
    // counted as skipped
  }
  return undefined;
}

export class SpillJournal {
  private fh: FileHandle | undefined;
  private batch: Pending[] = [];
  private scheduled = false;
  /** Serializes appends and truncation on the handle. */
  private io: Promise<void> = Promise.resolve();
  /** Set after a failed append: the next one starts with a newline so a fragment cannot swallow it. */
  private needsNewline = false;
  private closed = false;
  private commitCount = 0;

  private constructor(readonly path: string) {}

  /** Open (creating) the journal and return what an earlier process left in it, in append order. */
  static async open(path: string): Promise<{ journal: SpillJournal; contents: JournalContents }> {
    await mkdir(dirname(path), { recursive: true });
    let text = '';
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const tornTail = text.length > 0 && !text.endsWith('\n');
    const lines = text.split('\n');
    const records: ObservationRecord[] = [];
    let skipped = 0;
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      const rec = i === lines.length - 1 && tornTail ? undefined : parseRecord(line);
      if (rec) records.push(rec);
      else skipped++;
    });
    const j = new SpillJournal(path);
    j.fh = await open(path, 'a');
    j.needsNewline = tornTail;
    return { journal: j, contents: { records, skipped, tornTail } };
  }

  /** Resolves once the record is on disk (fdatasync); records appended in one tick share one commit. */
  append(rec: ObservationRecord): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`journal ${this.path} is closed`));
    return new Promise<void>((resolve, reject) => {
      this.batch.push({ data: JSON.stringify(rec) + '\n', resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.exclusive(() => this.flush()));
      }
    });
  }

  /**
   * Empty the file if `empty()` still holds once every earlier append is done (checked inside the critical
   * section, so no append can land between the check and the truncation). Returns whether it truncated.
   */
  truncateIf(empty: () => boolean): Promise<boolean> {
    let done = false;
    return this.exclusive(async () => {
      if (this.closed || !this.fh || this.batch.length > 0 || !empty()) return;
      await this.fh.truncate(0);
      await this.fh.datasync();
      this.needsNewline = false;
      done = true;
    }).then(() => done);
  }

  /** Group commits done since open. */
  get commits(): number {
    return this.commitCount;
  }

  async close(): Promise<void> {
    // Let appends queued in this tick finish before the handle goes.
    await new Promise<void>((r) => setImmediate(r));
    await this.exclusive(async () => {
      this.closed = true;
      await this.fh?.close();
      this.fh = undefined;
    });
  }

  private exclusive(fn: () => Promise<void>): Promise<void> {
    const p = this.io.then(fn);
    this.io = p.catch(() => undefined);
    return p;
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.batch;
    this.batch = [];
    if (batch.length === 0) return;
    try {
      if (!this.fh) throw new Error(`journal ${this.path} is closed`);
      await this.fh.write((this.needsNewline ? '\n' : '') + batch.map((p) => p.data).join(''));
      await this.fh.datasync();
      this.commitCount++;
      this.needsNewline = false;
      for (const p of batch) p.resolve();
    } catch (err) {
      this.needsNewline = true;
      for (const p of batch) p.reject(err as Error);
    }
  }
}
