// A local write-ahead journal for the observations DynamoDB has not taken yet: JSON lines under dataDir,
// appended through the shared append log (group commit, fdatasync, whole-or-nothing writes, torn-tail replay)
// before the write is acknowledged, and emptied once everything in it has reached DynamoDB.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../log.js';
import { AppendLog } from './append-log.js';
import { observationRecordSchema } from './records.js';
import type { ObservationRecord } from './types.js';

export interface JournalContents {
  records: ObservationRecord[];
  /** Lines not loaded: the torn tail plus the rejected ones. */
  skipped: number;
  /** Complete lines that failed validation, set aside in `<path>.rejected`. */
  rejected: number;
  /** The file did not end in a newline: the last append was cut short by a crash. */
  tornTail: boolean;
}

export class SpillJournal {
  private constructor(
    readonly path: string,
    private readonly log: AppendLog,
  ) {}

  /** Open (creating) the journal and return what an earlier process left in it, in append order. */
  static async open(path: string, logger: Logger): Promise<{ journal: SpillJournal; contents: JournalContents }> {
    await mkdir(dirname(path), { recursive: true }).catch(() => undefined);
    const records: ObservationRecord[] = [];
    const log = new AppendLog(path);
    const report = await log.replay(observationRecordSchema, (rec) => records.push(rec), { logger, what: 'DynamoDB journal' });
    // The next append cuts a torn tail off; a journal that cannot be opened now is tried again per append.
    const err = await log.open();
    if (err) logger.error({ err: err.message, path }, 'DynamoDB journal is not writable: observations DynamoDB does not take are refused (503)');
    return {
      journal: new SpillJournal(path, log),
      contents: { records, skipped: report.skipped, rejected: report.rejected, tornTail: report.tornTail },
    };
  }

  /** Resolves once the record is on disk (fdatasync); records appended in one tick share one commit. */
  append(rec: ObservationRecord): Promise<void> {
    return this.log.append(`${JSON.stringify(rec)}\n`);
  }

  /**
   * Empty the file if `empty()` still holds once every earlier append is done (checked inside the critical
   * section, so no append can land between the check and the truncation). Returns whether it truncated.
   */
  truncateIf(empty: () => boolean): Promise<boolean> {
    return this.log.truncateIf(empty);
  }

  /** Group commits done since open. */
  get commits(): number {
    return this.log.commits;
  }

  /** Bytes in the journal. */
  get size(): number {
    return this.log.size;
  }

  close(): Promise<void> {
    return this.log.close();
  }
}
