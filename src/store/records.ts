// What the store reads back from disk is untrusted input: every line of the admission log and of the DynamoDB
// outage journal is parsed and validated here, line by line from a stream (never the whole file in one string).
// A line that fails is set aside in `<file>.rejected` (bounded), counted and logged with its line number and
// the field that failed; it never reaches a decision or a metric.
import { createReadStream } from 'node:fs';
import { appendFile, stat } from 'node:fs/promises';
import { z } from 'zod';
import { ACCOUNT_ID_PATTERN, REGION_PATTERN } from '../admission/types.js';
import type { Logger } from '../log.js';

const subnetId = z.string().regex(/^subnet-[0-9a-f]{1,32}$/, 'expected "subnet-" followed by hex');
/** ENI and worker counts: a /16 holds 65,531 usable addresses. */
const count = z.number().int().min(0).max(1_000_000);
/** Epoch milliseconds up to the year 9999. */
const epochMs = z.number().int().min(0).max(253_402_300_799_999);
const label = z.string().max(250);
/** The subnet's target: optional, records written before there were several targets have neither. */
const account = z.string().regex(ACCOUNT_ID_PATTERN, 'expected a 12-digit AWS account id').optional();
const region = z.string().regex(REGION_PATTERN, 'expected an AWS region like eu-west-1').optional();

export const observationRecordSchema = z.object({
  subnet_id: subnetId,
  observed_at: z.iso.datetime(),
  uniq: z.string().min(1).max(64),
  total_enis: count,
  in_use: count,
  available: count,
  lingering: count.optional(),
  tail: count,
  dag_run_id: label.optional(),
  decision: z.enum(['admit', 'wait', 'error']),
  /** Epoch seconds. */
  expires_at: z.number().int().min(0).max(253_402_300_799),
  account,
  region,
});

export const reservationSchema = z
  .object({
    id: z.string().regex(/^subnet-[0-9a-f]{1,32}\.[0-9a-f-]{8,64}$/, 'expected "<subnet id>.<uuid>"'),
    subnetId,
    workers: z.number().int().min(1).max(1_000_000),
    createdAt: epochMs,
    expiresAt: epochMs,
    retainUntil: epochMs,
    dagRunId: label.optional(),
    closed: z.enum(['released', 'consumed']).optional(),
    closedAt: epochMs.optional(),
    account,
    region,
  })
  .refine((r) => r.id.startsWith(`${r.subnetId}.`), { message: 'id does not carry subnetId', path: ['id'] });

/** The key a ticket's pokes present (dag_run_id or client_id): the same bound as an observation's dag_run_id. */
export const TICKET_KEY_MAX = 250;

/** A queue ticket (src/admission/types.ts `Ticket`), as both stores write it and read it back. */
export const ticketSchema = z
  .object({
    id: z.string().regex(/^subnet-[0-9a-f]{1,32}\.t\.[0-9a-f]{8,64}$/, 'expected "<subnet id>.t.<hex digest>"'),
    subnetId,
    key: z.string().min(1).max(TICKET_KEY_MAX),
    workers: z.number().int().min(1).max(1_000_000),
    enqueuedAt: epochMs,
    deadline: epochMs.optional(),
    lastPokeAt: epochMs,
    expiresAt: epochMs,
    etaAt: epochMs.optional(),
    account,
    region,
  })
  .refine((t) => t.id.startsWith(`${t.subnetId}.t.`), { message: 'id does not carry subnetId', path: ['id'] });

/**
 * One line of the admission log. `t` says the kind; a new kind is one more member here, one more case in the
 * file store's fold and one more writer in its snapshot. Tickets: `tkt` creates or replaces one (by id), `tkd`
 * drops one (admitted, withdrawn, past its deadline); an expired ticket needs no record, it is ignored on load.
 */
export const logRecordSchema = z.discriminatedUnion('t', [
  observationRecordSchema.extend({ t: z.literal('obs') }),
  z.object({ t: z.literal('res'), r: reservationSchema }),
  z.object({ t: z.literal('cls'), id: reservationSchema.shape.id, how: z.enum(['released', 'consumed']), at: epochMs }),
  z.object({ t: z.literal('tkt'), k: ticketSchema }),
  z.object({ t: z.literal('tkd'), id: ticketSchema.shape.id, at: epochMs }),
]);

export type LogRecord = z.infer<typeof logRecordSchema>;

/** Longest line accepted: a record is ~250 bytes; anything this long is not one. */
export const MAX_LINE_BYTES = 64 * 1024;
/** Cap of a `.rejected` file: a flood of bad lines is counted, not copied without end. */
export const REJECTED_MAX_BYTES = 1024 * 1024;
/** Rejected lines named one by one in the log; the rest are summed up. */
const REJECTS_LOGGED = 20;

export interface ReadReport {
  /** Valid records read. */
  records: number;
  /** Lines set aside (unparseable, invalid or too long), the torn tail excluded. */
  rejected: number;
  /** The file did not end in a newline: the last append was cut short. That fragment is skipped, not set aside. */
  tornTail: boolean;
  /** Bytes up to the end of the last complete line: where the next append belongs. */
  goodBytes: number;
  /** Bytes read in all. */
  bytes: number;
}

function describeIssue(err: z.ZodError): { field: string; error: string } {
  const issue = err.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.join('.') : '(record)';
  return { field, error: issue?.message ?? 'invalid' };
}

/**
 * Stream `path` line by line through `schema`; valid records go to `onRecord` in file order, with their text.
 * A missing file
 * reads as empty. Memory stays bounded by the chunk size and MAX_LINE_BYTES, whatever the file's size.
 */
export async function readRecords<S extends z.ZodType>(
  path: string,
  schema: S,
  onRecord: (rec: z.infer<S>, text: string, exact: boolean) => void,
  opts: { logger: Logger; what: string },
): Promise<ReadReport> {
  const report: ReadReport = { records: 0, rejected: 0, tornTail: false, goodBytes: 0, bytes: 0 };
  const rejectedPath = `${path}.rejected`;
  let rejectedBytes: number | undefined;
  let rejectedOut = '';

  const reject = (lineNo: number, field: string, error: string, text: string) => {
    report.rejected++;
    if (report.rejected <= REJECTS_LOGGED) {
      opts.logger.warn({ path, line: lineNo, field, error }, `${opts.what}: invalid record set aside`);
    }
    rejectedOut += `${JSON.stringify({ line: lineNo, field, error, text: text.slice(0, 4096) })}\n`;
  };

  const handle = (text: string, lineNo: number) => {
    if (text.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      reject(lineNo, '(json)', (err as Error).message, text);
      return;
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      const { field, error } = describeIssue(parsed.error);
      reject(lineNo, field, error, text);
      return;
    }
    report.records++;
    // `exact`: no top-level field was stripped, so the text can be written back as it is.
    const exact = typeof value === 'object' && value !== null && Object.keys(value).length === Object.keys(parsed.data as object).length;
    onRecord(parsed.data, text, exact);
  };

  let lineNo = 0;
  let pieces: Buffer[] = [];
  let pieceBytes = 0;
  let oversized = false;
  try {
    const stream = createReadStream(path, { highWaterMark: 1024 * 1024 });
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf(10, start);
        if (nl < 0) break;
        lineNo++;
        if (oversized || pieceBytes + (nl - start) > MAX_LINE_BYTES) {
          reject(lineNo, '(line)', `longer than ${MAX_LINE_BYTES} bytes`, '');
        } else if (pieces.length === 0) {
          handle(chunk.toString('utf8', start, nl), lineNo);
        } else {
          pieces.push(chunk.subarray(start, nl));
          handle(Buffer.concat(pieces).toString('utf8'), lineNo);
        }
        pieces = [];
        pieceBytes = 0;
        oversized = false;
        report.bytes += nl + 1 - start;
        report.goodBytes = report.bytes;
        start = nl + 1;
      }
      const rest = chunk.length - start;
      if (rest > 0) {
        report.bytes += rest;
        if (!oversized && pieceBytes + rest <= MAX_LINE_BYTES) {
          // Copied: the stream may reuse the chunk's memory.
          pieces.push(Buffer.from(chunk.subarray(start)));
          pieceBytes += rest;
        } else {
          pieces = [];
          oversized = true;
        }
      }
      if (rejectedOut.length > 64 * 1024) {
        rejectedBytes = await flushRejected(rejectedPath, rejectedOut, rejectedBytes, opts.logger);
        rejectedOut = '';
      }
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  report.tornTail = report.bytes > report.goodBytes;
  if (rejectedOut) await flushRejected(rejectedPath, rejectedOut, rejectedBytes, opts.logger);
  if (report.rejected > 0) {
    opts.logger.warn({ path, rejected: report.rejected, setAsideIn: rejectedPath }, `${opts.what}: invalid records set aside; they are not used`);
  }
  return report;
}

/** Append to the `.rejected` file while it is under its cap; returns its size. A failure is logged, not thrown. */
async function flushRejected(path: string, text: string, known: number | undefined, logger: Logger): Promise<number | undefined> {
  let size = known;
  try {
    size ??= await stat(path).then(
      (s) => s.size,
      () => 0,
    );
    if (size >= REJECTED_MAX_BYTES) return size;
    const room = REJECTED_MAX_BYTES - size;
    const out = text.length <= room ? text : text.slice(0, text.lastIndexOf('\n', room) + 1);
    if (out) await appendFile(path, out);
    return size + Buffer.byteLength(out);
  } catch (err) {
    logger.warn({ path, err: (err as Error).message }, 'could not copy rejected records aside');
    return size;
  }
}
