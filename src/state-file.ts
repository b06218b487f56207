// Small JSON state files beside the store (lifecycle memory, gate-bypass memory): written atomically so that
// a crash mid-write leaves the previous file whole, and never trusted when read back. A file that cannot be
// read at all is set aside; otherwise every record is checked against its schema, and a bad one is set aside
// (named, counted) while the good ones are kept: one bad ENI must not cost the memory of all the others, and
// must never reach a decision or a metric.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, open, rename } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { z } from 'zod';

/** Far above any real state file (100,000 ENIs is ~15 MB): larger is not read into memory. */
const MAX_STATE_FILE_BYTES = 64 * 1024 * 1024;
/** Bad records named one by one in the log line; the rest are counted. */
const NAMED_IN_LOG = 10;
const MAX_KEY_IN_LOG = 80;

export function writeJsonAtomic(file: string, value: unknown): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(value));
  const fd = openSync(tmp, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/** `writeJsonAtomic` off the event loop, for text already serialized (in pieces, written in order). */
export async function writeTextAtomic(file: string, pieces: readonly string[]): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    for (const piece of pieces) await fh.write(piece);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
}

/**
 * Rewrites one state file again and again without holding the event loop: each write is `writeTextAtomic`
 * (temp file, fsync, rename: a crash leaves the previous file whole, never a torn one). One write is in flight
 * at a time; writes asked for meanwhile wait, and only the latest of them is made (the state it serializes
 * then is the newest). Each caller's promise settles with the write that covers its state.
 */
export class AtomicFileWriter {
  private next?: { serialize: () => Promise<readonly string[]>; waiters: { resolve: () => void; reject: (err: unknown) => void }[] };
  private draining?: Promise<void>;

  constructor(readonly file: string) {}

  /** Write what `serialize` gives when this write's turn comes (it is called then, not now). */
  write(serialize: () => Promise<readonly string[]>): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.next) {
        this.next.serialize = serialize;
        this.next.waiters.push({ resolve, reject });
      } else this.next = { serialize, waiters: [{ resolve, reject }] };
      this.draining ??= this.drain();
    });
  }

  /** Settles once no write is in flight or waiting. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    // Cleared in the same turn as the last look at `next`: a write asked for after that starts a new drain.
    try {
      for (let job = this.next; job; job = this.next) {
        this.next = undefined;
        try {
          await writeTextAtomic(this.file, await job.serialize());
          for (const w of job.waiters) w.resolve();
        } catch (err) {
          for (const w of job.waiters) w.reject(err);
        }
      }
    } finally {
      this.draining = undefined;
    }
  }
}

/** A record read from disk that failed its schema. */
export interface RejectedRecord {
  /** Where it was, e.g. `enis.eni-0abc`. */
  record: string;
  /** The offending field within it, e.g. `availableSince`; empty when the record as a whole is wrong. */
  field: string;
  problem: string;
}

/** What a state file's check returns: the state to use, and the records it set aside. */
export interface CheckedState<T> {
  state: T;
  rejected: RejectedRecord[];
}

/** Epoch milliseconds as state files hold them: finite, not before 1970, within what a Date can hold. */
export const epochMs = z
  .number({ error: 'expected a time in epoch ms' })
  .min(0, { error: 'expected a time in epoch ms, not negative' })
  .max(8.64e15, { error: 'expected a time in epoch ms, within the range of a Date' });

const rejectedByFile = new Map<string, number>();

/** Records set aside since the process started, by state file name (`lifecycle.json`, `bypass.json`). */
export function rejectedStateRecords(): ReadonlyMap<string, number> {
  return rejectedByFile;
}

const short = (s: string) => (s.length > MAX_KEY_IN_LOG ? `${s.slice(0, MAX_KEY_IN_LOG)}…` : s);

function kindOf(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}

/** The first issue of a failed parse, as field and problem. */
export function firstIssue(error: z.ZodError): { field: string; problem: string } {
  const issue = error.issues[0];
  return { field: issue ? issue.path.join('.') : '', problem: issue?.message ?? 'invalid' };
}

/**
 * The entries of a map of records (`{ [key]: record }`) that pass `schema` and whose key matches `key`; the
 * others, and everything past `max` entries, go to `rejected`. A value that is not such a map is rejected
 * whole (named `where`) and yields no entries.
 */
export function validEntries<T>(
  where: string,
  value: unknown,
  opts: { key: RegExp; schema: z.ZodType<T>; max: number },
  rejected: RejectedRecord[],
): Record<string, T> {
  const out: Record<string, T> = {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    rejected.push({ record: where, field: '', problem: `expected an object of records, got ${kindOf(value)}` });
    return out;
  }
  let kept = 0;
  let overflow = 0;
  for (const [k, v] of Object.entries(value)) {
    // `__proto__` would set the prototype of `out` rather than add a record.
    if (!opts.key.test(k) || k === '__proto__') {
      rejected.push({ record: `${where}.${short(k)}`, field: 'key', problem: `unexpected key, expected ${opts.key}` });
      continue;
    }
    const parsed = opts.schema.safeParse(v);
    if (!parsed.success) {
      rejected.push({ record: `${where}.${short(k)}`, ...firstIssue(parsed.error) });
      continue;
    }
    if (kept >= opts.max) {
      overflow++;
      continue;
    }
    out[k] = parsed.data;
    kept++;
  }
  if (overflow > 0) rejected.push({ record: where, field: '', problem: `${overflow} record(s) beyond the ${opts.max} kept` });
  return out;
}

/**
 * Read and check a state file. Absent → `{}`. Unreadable, or refused whole by `check` (which throws with the
 * reason) → the file is renamed `<file>.corrupt-<ms>` and `note` says so. Some records rejected → the same
 * rename keeps the original for inspection, the checked state is written in its place (a crash before the
 * next save must not bring the bad records back), and `note` names each bad record and field.
 */
export function readJsonState<T>(file: string, what: string, check: (parsed: unknown) => CheckedState<T>): { state?: T; note?: string } {
  let text: string;
  try {
    const size = statSync(file).size;
    if (size > MAX_STATE_FILE_BYTES) {
      const aside = setAside(file);
      return { note: `${what} unreadable (${size} bytes, more than ${MAX_STATE_FILE_BYTES}); set aside as ${aside} and starting fresh` };
    }
    text = readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  let checked: CheckedState<T>;
  try {
    checked = check(JSON.parse(text));
  } catch (err) {
    setAside(file);
    return { note: `${what} unreadable (${(err as Error).message}); set aside and starting fresh` };
  }
  const { state, rejected } = checked;
  if (rejected.length === 0) return { state };
  const name = basename(file);
  rejectedByFile.set(name, (rejectedByFile.get(name) ?? 0) + rejected.length);
  const aside = setAside(file);
  writeJsonAtomic(file, state);
  const named = rejected
    .slice(0, NAMED_IN_LOG)
    .map((r) => `${r.record}${r.field ? ` (${r.field})` : ''}: ${r.problem}`)
    .join('; ');
  const more = rejected.length > NAMED_IN_LOG ? `; and ${rejected.length - NAMED_IN_LOG} more` : '';
  return {
    state,
    note: `${what}: set aside ${rejected.length} bad record(s), kept the rest (original kept as ${aside}): ${named}${more}`,
  };
}

function setAside(file: string): string {
  const aside = `${file}.corrupt-${Date.now()}`;
  renameSync(file, aside);
  return basename(aside);
}
