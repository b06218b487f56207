import { fstatSync, write as fsWrite, writeSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { isatty } from 'node:tty';
import { pino, type Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';

export type { Logger };

// Credentials and the admit token never reach a log line, whatever object a caller passes.
// Header names keep the case their caller gave them; environment variables keep their own names.
const redact = {
  paths: [
    'token',
    '*.token',
    '*.admission.token',
    'config.admission.token',
    'authorization',
    'Authorization',
    '*.authorization',
    '*.Authorization',
    '*.headers.authorization',
    '*.headers.Authorization',
    'accessKeyId',
    'secretAccessKey',
    'sessionToken',
    '*.secretAccessKey',
    '*.sessionToken',
    ...['GLUE_ENI_ADMIT_TOKEN', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'].flatMap((k) => [k, `*.${k}`]),
  ],
  censor: '[redacted]',
};

const NAME = 'glue-eni-exporter';

// ---- where log lines go -----------------------------------------------------------------------------------
//
// Logging must never stop serving. pino's default destination (sonic-boom) does not guarantee that: its buffer is
// unbounded while the destination does not keep up, and its exit flush retries a failed write every 100 ms for
// ever (a full disk, a file at `ulimit -f`: the process hangs, /-/healthy with it). These destinations hold at most
// a bounded backlog, drop lines beyond it or when a write fails, count every dropped line
// (glue_eni_log_lines_dropped_total) and say so once per episode on stderr.

export interface LogDestinationOptions {
  /** Backlog kept while the destination is slow or failing; lines beyond it are dropped. */
  maxBufferedBytes?: number;
  /** After a failed write, wait this long before the next attempt. */
  retryMs?: number;
  /** Where a notice about dropped lines goes (a JSON line); stderr by default. */
  notify?: (line: string) => void;
}

export const LOG_BUFFER_BYTES = 1024 * 1024;
const MAX_WRITE_BYTES = 64 * 1024;
const RETRY_MS = 1000;
/** The destination does not keep up (a slow disk, a reader that stopped reading). */
const BACKLOG_FULL = 'backlog full';

/** A JSON line shaped like pino's, for notices written beside (or into) the log. */
function noticeLine(level: number, msg: string, fields: Record<string, unknown>): string {
  return `${JSON.stringify({ level, time: Date.now(), name: NAME, ...fields, msg })}\n`;
}

let stderrGuarded = false;
function toStderr(line: string): void {
  if (!stderrGuarded) {
    stderrGuarded = true;
    // stderr may be the very file that is full: its failure is not worth a crash.
    process.stderr.on('error', () => {});
  }
  try {
    process.stderr.write(line);
  } catch {
    // A regular-file stderr writes synchronously and throws on a full disk; nothing more to do.
  }
}

const countNewlines = (b: Buffer): number => {
  let n = 0;
  for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) n++;
  return n;
};

const errCode = (err: unknown): string => (err as NodeJS.ErrnoException)?.code ?? 'write failed';

/** What every destination shares: the drop count and the notices around a failing episode. */
export abstract class LogDestination {
  /** Lines that never reached the destination. */
  dropped = 0;
  /** Why lines are being dropped right now; undefined while writes succeed. */
  failing?: string;
  /** Causes already noticed in this episode: one notice each, not one per line. */
  private readonly causes = new Set<string>();
  protected readonly max: number;
  protected readonly retryMs: number;
  private readonly notify: (line: string) => void;

  constructor(opts: LogDestinationOptions = {}) {
    this.max = opts.maxBufferedBytes ?? LOG_BUFFER_BYTES;
    this.retryMs = opts.retryMs ?? RETRY_MS;
    this.notify = opts.notify ?? toStderr;
  }

  /** pino calls this with one serialized line. */
  abstract write(line: string): boolean;

  /** Best effort at exit: one attempt, never a wait. */
  flushSync(): void {}

  protected drop(lines: number, cause: string): void {
    this.dropped += lines;
    if (this.causes.has(cause)) return;
    this.causes.add(cause);
    // A failed write says more than a full backlog: it is the cause to report.
    if (this.failing === undefined || this.failing === BACKLOG_FULL) this.failing = cause;
    this.notify(
      noticeLine(40, 'log destination failing: dropping log lines until it accepts writes again', { cause, log_lines_dropped_total: this.dropped }),
    );
  }

  /** The line that marks the gap in the log itself: whoever reads it sees what is missing. */
  protected gapNotice(): string {
    return noticeLine(40, 'log destination accepts writes again; lines were dropped', {
      cause: [...this.causes].join(', '),
      log_lines_dropped_total: this.dropped,
    });
  }

  protected endEpisode(): void {
    this.failing = undefined;
    this.causes.clear();
  }
}

/**
 * Lines to a file descriptor that never blocks for long (a regular file, /dev/null): asynchronous writes, a
 * bounded queue. A failed write (EFBIG, ENOSPC, EIO) drops its lines and the queue, and the next attempt waits
 * `retryMs`, so a disk that frees up (logrotate) gets the log back.
 */
export class FdLogDestination extends LogDestination {
  private queue: string[] = [];
  private queuedChars = 0;
  private writing = false;
  private retry?: NodeJS.Timeout;
  /** The last write failed: the next one is the gap notice alone. */
  private afterError = false;
  /** The write in flight is that notice. */
  private probing = false;

  constructor(
    private readonly fd: number,
    opts?: LogDestinationOptions,
  ) {
    super(opts);
  }

  get bufferedBytes(): number {
    return this.queuedChars;
  }

  write(line: string): boolean {
    if (this.queuedChars + line.length > this.max) {
      this.drop(1, BACKLOG_FULL);
      return false;
    }
    this.queue.push(line);
    this.queuedChars += line.length;
    if (!this.writing && !this.retry) this.next();
    return true;
  }

  private next(): void {
    this.retry = undefined;
    // Once failing: after a failed write, or once the backlog is written, the gap notice goes first and alone.
    // If it lands, the destination takes writes again and the episode is over; if not, nothing more was lost.
    if (this.failing !== undefined && (this.afterError || this.queue.length === 0)) {
      this.afterError = false;
      this.probing = true;
      this.writeOut(Buffer.from(this.gapNotice()), 0);
      return;
    }
    if (this.queue.length === 0) return;
    let n = 0;
    let chars = 0;
    while (n < this.queue.length && (n === 0 || chars + this.queue[n].length <= MAX_WRITE_BYTES)) chars += this.queue[n++].length;
    const buf = Buffer.from(this.queue.splice(0, n).join(''));
    this.queuedChars -= chars;
    this.writeOut(buf, n);
  }

  private writeOut(buf: Buffer, lines: number): void {
    this.writing = true;
    fsWrite(this.fd, buf, 0, buf.length, null, (err, written) => {
      this.writing = false;
      if (err) {
        // A destination that refuses a write will not take the backlog either: drop it all now, so that the
        // count is prompt and, once writes succeed again, the log resumes with fresh lines and the gap noted.
        this.drop(lines + this.queue.length, errCode(err));
        this.queue = [];
        this.queuedChars = 0;
        this.afterError = true;
        this.probing = false;
        this.retry = setTimeout(() => this.next(), this.retryMs);
        this.retry.unref();
        return;
      }
      if (written < buf.length) {
        const rest = buf.subarray(written);
        // The gap notice is no log line: losing its tail loses none.
        this.writeOut(rest, this.probing ? 0 : countNewlines(rest));
        return;
      }
      if (this.probing) {
        this.probing = false;
        this.endEpisode();
      }
      this.next();
    });
  }

  override flushSync(): void {
    if (this.queue.length === 0) return;
    const lines = this.queue.length;
    const text = this.queue.join('');
    this.queue = [];
    this.queuedChars = 0;
    if (this.failing !== undefined) {
      this.dropped += lines;
      return;
    }
    try {
      writeSync(this.fd, text);
    } catch {
      this.dropped += lines;
    }
  }
}

/**
 * Lines to a pipe, socket or terminal through Node's stream for it (non-blocking for pipes and sockets: a reader
 * that stops reading never blocks the event loop). The stream's own buffer is the backlog, bounded here.
 */
export class StreamLogDestination extends LogDestination {
  constructor(
    private readonly stream: Writable,
    opts?: LogDestinationOptions,
  ) {
    super(opts);
    // EPIPE and friends: the stream is done; count what it still held and everything after.
    stream.on('error', (err) => this.drop(0, errCode(err)));
    stream.on('drain', () => {
      if (this.failing === undefined) return;
      this.stream.write(this.gapNotice());
      this.endEpisode();
    });
  }

  get bufferedBytes(): number {
    return this.stream.writableLength;
  }

  write(line: string): boolean {
    if (this.stream.destroyed || !this.stream.writable) {
      this.drop(1, this.failing ?? 'closed');
      return false;
    }
    if (this.stream.writableLength + line.length > this.max) {
      this.drop(1, BACKLOG_FULL);
      return false;
    }
    try {
      this.stream.write(line, (err) => {
        if (err) this.drop(1, errCode(err));
      });
    } catch (err) {
      // A stream over a regular file writes synchronously and may throw (a full disk).
      this.drop(1, errCode(err));
    }
    return true;
  }
}

let stdoutDestination: LogDestination | undefined;

/** The one destination for this process's stdout, chosen by what stdout is. */
export function stdoutLogDestination(): LogDestination {
  if (stdoutDestination) return stdoutDestination;
  let direct = false;
  try {
    const st = fstatSync(1);
    direct = st.isFile() || (st.isCharacterDevice() && !isatty(1));
  } catch {
    // fd 1 closed: Node's stream for it discards.
  }
  const dest = direct ? new FdLogDestination(1) : new StreamLogDestination(process.stdout);
  process.on('exit', () => dest.flushSync());
  stdoutDestination = dest;
  return dest;
}

/** Lines this process's stdout log dropped so far (0 when nothing was logged to stdout). */
export function droppedLogLines(): number {
  return stdoutDestination?.dropped ?? 0;
}

export function registerLogMetrics(registry: Registry): void {
  new Counter({
    name: 'glue_eni_log_lines_dropped_total',
    help: 'Log lines dropped because stdout failed (full disk, file size limit, closed pipe) or did not keep up (a reader that stopped reading); the exporter serves on regardless.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(droppedLogLines());
    },
  });
}

export function createLogger(level = 'info', destination?: NodeJS.WritableStream | LogDestination): Logger {
  return pino({ level, base: { name: NAME }, redact }, (destination ?? stdoutLogDestination()) as pino.DestinationStream);
}

/** A logger that drops everything: for tests and for library use. */
export const silentLogger: Logger = pino({ level: 'silent' });
