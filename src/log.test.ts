// Log destinations that fail or stall drop lines and count them; they never throw, block or grow without bound.
import { closeSync, openSync } from 'node:fs';
import { Writable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { createLogger, FdLogDestination, StreamLogDestination } from './log.js';

const line = (i: number) => `${JSON.stringify({ level: 30, i, msg: 'x'.repeat(200) })}\n`;
/** How long a destination may take to drain, polled often: the waits below are on in-process timers. */
const DRAIN = { timeout: 5_000, interval: 10 };

describe('FdLogDestination', () => {
  it('drops and counts every line a failing device refuses (/dev/full: ENOSPC), with one notice, within its backlog', async () => {
    const fd = openSync('/dev/full', 'w');
    const notices: string[] = [];
    const dest = new FdLogDestination(fd, { maxBufferedBytes: 16 * 1024, retryMs: 20, notify: (l) => notices.push(l) });
    try {
      const logger = createLogger('info', dest);
      for (let i = 0; i < 2_000; i++) {
        logger.info({ i, pad: 'x'.repeat(200) }, 'line');
        expect(dest.bufferedBytes).toBeLessThanOrEqual(16 * 1024);
      }
      // Every line is accounted for once the retries have run through the backlog.
      await vi.waitFor(() => expect(dest.dropped).toBe(2_000), DRAIN);
      // The burst outran the first write (backlog full), then the write failed: one notice per cause, the failure reported.
      expect(dest.failing).toBe('ENOSPC');
      expect(notices.map((n) => JSON.parse(n) as Record<string, unknown>)).toEqual([
        expect.objectContaining({ level: 40, cause: 'backlog full', msg: expect.stringContaining('dropping log lines') }),
        expect.objectContaining({ level: 40, cause: 'ENOSPC', msg: expect.stringContaining('dropping log lines') }),
      ]);
    } finally {
      await vi.waitFor(() => expect((dest as unknown as { writing: boolean }).writing).toBe(false), DRAIN);
      closeSync(fd);
    }
  });
});

describe('StreamLogDestination', () => {
  it('keeps at most its backlog for a reader that stopped reading, drops the rest, and says so once back', async () => {
    // A pipe whose reader stopped: writes are accepted into the stream's buffer and never complete.
    const stalled: (() => void)[] = [];
    const out: string[] = [];
    const stream = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _enc, cb) {
        out.push(chunk.toString());
        stalled.push(cb);
      },
    });
    const notices: string[] = [];
    const dest = new StreamLogDestination(stream, { maxBufferedBytes: 64 * 1024, notify: (l) => notices.push(l) });
    for (let i = 0; i < 10_000; i++) {
      dest.write(line(i));
      expect(dest.bufferedBytes).toBeLessThanOrEqual(64 * 1024);
    }
    const kept = 10_000 - dest.dropped;
    expect(dest.dropped).toBeGreaterThan(9_000);
    expect(dest.failing).toBe('backlog full');
    expect(notices).toHaveLength(1);

    // The reader resumes: everything kept arrives, then the notice of the gap, in the log itself.
    while (stalled.length > 0) {
      stalled.shift()!();
      await new Promise((r) => setImmediate(r));
    }
    await vi.waitFor(() => expect(out.some((l) => l.includes('accepts writes again'))).toBe(true), DRAIN);
    const lines = out.join('').split('\n').filter(Boolean);
    expect(lines).toHaveLength(kept + 1);
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ cause: 'backlog full', log_lines_dropped_total: dest.dropped });
    expect(dest.failing).toBeUndefined();
  });

  it('counts the lines a broken pipe (EPIPE) lost and every line after, without throwing', async () => {
    let fail: ((err: Error) => void) | undefined;
    const stream = new Writable({
      write(_chunk, _enc, cb) {
        fail ??= cb;
      },
    });
    const notices: string[] = [];
    const dest = new StreamLogDestination(stream, { notify: (l) => notices.push(l) });
    for (let i = 0; i < 5; i++) dest.write(line(i));
    fail!(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 5; i++) expect(dest.write(line(i))).toBe(false);
    expect(dest.dropped).toBe(10);
    expect(notices).toHaveLength(1);
    expect(JSON.parse(notices[0])).toMatchObject({ cause: 'EPIPE' });
  });
});
