// One append-only file of JSON lines, shared by the file store and the DynamoDB outage journal.
//
// At open the log is read back (`replay`: streamed, each line validated by src/store/records.ts); appends go
// after its last complete line, so a torn tail (a write cut short by a crash) is skipped and then cut off.
// Appends queued in the same tick are group-committed: one write at the log's last good offset + one fdatasync,
// and only then acknowledged. A write is whole or absent: a short write is continued until every byte is out,
// and any failure (ENOSPC, EFBIG, EIO, a failed fdatasync) truncates the file back to the last good offset and
// rejects the whole batch, after undoing each entry's in-memory effect. A handle that could not be opened
// (read-only disk) is opened again on the next append, so the log recovers by itself once the disk allows it.
import { constants } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { z } from 'zod';
import type { Logger } from '../log.js';
import { readRecords, type ReadReport } from './records.js';

interface Pending {
  data: string;
  resolve: () => void;
  reject: (err: Error) => void;
  undo?: () => void;
  durable?: () => void;
}

export interface ReplayReport extends ReadReport {
  /** Lines not loaded: the torn tail plus the rejected ones. */
  skipped: number;
}

/** A write that did not become durable; the message names the file and the system's reason. */
export class AppendError extends Error {
  readonly code: string | undefined;
  constructor(path: string, action: string, cause: unknown) {
    const c = cause as NodeJS.ErrnoException;
    super(`${path}: ${action} failed: ${c?.message ?? String(cause)}`, { cause });
    this.name = 'AppendError';
    this.code = c?.code;
  }
}

/** Write every byte of `buf` at `position` (pwrite may write less than asked: continue until done or an error). */
async function writeFully(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off, position + off);
    if (bytesWritten <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' });
    off += bytesWritten;
  }
}

/** fsync the directory so a rename in it is durable; some filesystems refuse it, the rename stays atomic. */
export async function syncDir(dir: string): Promise<void> {
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } catch {
    // see above
  } finally {
    await dh.close();
  }
}

export class AppendLog {
  private fh: FileHandle | undefined;
  /** End of the last durable, complete line: the next append goes here. */
  private good = 0;
  /** Bytes past `good` may exist (a torn tail, a failed write): truncate before the next write. */
  private dirty = true;
  private queue: Pending[] = [];
  private inFlight = 0;
  private scheduled = false;
  private closed = false;
  /** Serializes appends, truncation and rewrites on the handle. */
  private io: Promise<void> = Promise.resolve();
  private commitCount = 0;
  private failures = 0;
  private lastFailure: AppendError | undefined;

  constructor(
    readonly path: string,
    private readonly hooks: { onFailure?: (err: AppendError) => void; afterCommit?: () => void } = {},
  ) {}

  /**
   * Read the log back: valid records go to `onRecord` in log order (see readRecords). The next append goes after
   * the last complete line; whatever lies beyond (a torn tail) is cut at the first append.
   */
  async replay<S extends z.ZodType>(
    schema: S,
    onRecord: (rec: z.infer<S>, text: string, exact: boolean) => void,
    opts: { logger: Logger; what: string },
  ): Promise<ReplayReport> {
    const report = await readRecords(this.path, schema, onRecord, opts);
    this.good = report.goodBytes;
    this.dirty = true;
    return { ...report, skipped: report.rejected + (report.tornTail ? 1 : 0) };
  }

  /**
   * Open for appending (after what `replay` found complete). Never throws: a log that cannot be opened now is
   * opened again at the next append.
   */
  async open(): Promise<AppendError | undefined> {
    try {
      this.fh = await open(this.path, constants.O_RDWR | constants.O_CREAT, 0o644);
      return undefined;
    } catch (err) {
      return new AppendError(this.path, 'open for writing', err);
    }
  }

  /** Bytes in the log (durable, complete lines). */
  get size(): number {
    return this.good;
  }

  /** Appends accepted and not yet durable. */
  get pending(): number {
    return this.queue.length + this.inFlight;
  }

  get commits(): number {
    return this.commitCount;
  }

  get errors(): number {
    return this.failures;
  }

  /** The last failure, cleared by the next successful commit. */
  get failing(): AppendError | undefined {
    return this.lastFailure;
  }

  /**
   * Resolves once `data` (whole lines) is durable. On failure it rejects with an AppendError, after `undo` ran
   * (synchronously, before any later append or rewrite can observe the memory it restores). `durable` runs
   * synchronously once the data is on disk, before any later batch is written or undone.
   */
  append(data: string, undo?: () => void, durable?: () => void): Promise<void> {
    if (this.closed) return Promise.reject(new AppendError(this.path, 'append', new Error('log is closed')));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ data, resolve, reject, undo, durable });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.exclusive(() => this.flush()));
      }
    });
  }

  exclusive(fn: () => Promise<void>): Promise<void> {
    const p = this.io.then(fn);
    this.io = p.catch(() => undefined);
    return p;
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    this.inFlight = batch.length;
    const buf = Buffer.from(batch.length === 1 ? batch[0].data : batch.map((p) => p.data).join(''));
    let action = 'open for writing';
    try {
      if (this.closed) throw new Error('log is closed');
      if (!this.fh) {
        const err = await this.open();
        if (err) throw err.cause;
      }
      const fh = this.fh!;
      if (this.dirty) {
        action = 'truncate to the last complete record';
        await fh.truncate(this.good);
        this.dirty = false;
      }
      this.dirty = true;
      action = 'write';
      await writeFully(fh, buf, this.good);
      action = 'fdatasync';
      await fh.datasync();
      this.good += buf.length;
      this.dirty = false;
      this.commitCount++;
      this.lastFailure = undefined;
    } catch (cause) {
      const err = new AppendError(this.path, action, cause);
      this.failures++;
      this.lastFailure = err;
      // Roll back to the last good offset now; if that fails too, the next append truncates first.
      if (this.fh && this.dirty) {
        try {
          await this.fh.truncate(this.good);
          this.dirty = false;
        } catch {
          // retried before the next write
        }
      }
      for (const p of batch) p.undo?.();
      this.inFlight = 0;
      this.hooks.onFailure?.(err);
      for (const p of batch) p.reject(err);
      return;
    }
    this.inFlight = 0;
    for (const p of batch) p.durable?.();
    for (const p of batch) p.resolve();
    this.hooks.afterCommit?.();
  }

  /**
   * Replace the log's content atomically (temp file + fsync + rename). `produce` runs synchronously once every
   * queued append is durable or undone, so what it returns is exactly what was acknowledged. On failure the old
   * log stays as it was, and the temp file is removed.
   */
  rewrite(produce: () => string[]): Promise<void> {
    return this.exclusive(async () => {
      while (this.queue.length > 0) await this.flush();
      const chunks = produce();
      const tmp = `${this.path}.tmp`;
      let size = 0;
      try {
        const th = await open(tmp, 'w');
        try {
          for (const c of chunks) {
            const b = Buffer.from(c);
            await writeFully(th, b, size);
            size += b.length;
          }
          await th.sync();
        } finally {
          await th.close();
        }
        await rename(tmp, this.path);
      } catch (err) {
        await rm(tmp, { force: true }).catch(() => undefined);
        throw new AppendError(tmp, 'rewrite', err);
      }
      await syncDir(dirname(this.path)).catch(() => undefined);
      const old = this.fh;
      this.fh = undefined;
      await old?.close().catch(() => undefined);
      this.good = size;
      this.dirty = false;
      await this.open();
    });
  }

  /**
   * Empty the file if `empty()` still holds once every earlier append is done (checked inside the critical
   * section, so no append can land between the check and the truncation). Returns whether it truncated.
   */
  truncateIf(empty: () => boolean): Promise<boolean> {
    let done = false;
    return this.exclusive(async () => {
      if (this.closed || !this.fh || this.queue.length > 0 || !empty()) return;
      await this.fh.truncate(0);
      await this.fh.datasync();
      this.good = 0;
      this.dirty = false;
      done = true;
    }).then(() => done);
  }

  async close(): Promise<void> {
    // Let appends queued in this tick go out before the handle does.
    await new Promise<void>((r) => setImmediate(r));
    await this.exclusive(async () => {
      while (this.queue.length > 0) await this.flush();
      this.closed = true;
      await this.fh?.close();
      this.fh = undefined;
    });
  }
}
