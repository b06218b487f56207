import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AtomicFileWriter } from './state-file.js';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'state-file-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('AtomicFileWriter', () => {
  it('one write in flight; of those asked for meanwhile only the latest is made, and every caller is told', async () => {
    const file = join(tmp(), 'sub', 'state.json');
    const writer = new AtomicFileWriter(file);
    const serialized: number[] = [];
    const version = (n: number) => async () => {
      serialized.push(n);
      return [`{"n":`, `${n}}`];
    };
    const writes = [1, 2, 3, 4].map((n) => writer.write(version(n)));
    await Promise.all(writes);
    // 1 was in flight at once; 2 and 3 were overtaken by 4 before their turn came.
    expect(serialized).toEqual([1, 4]);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ n: 4 });
    await writer.write(version(5));
    expect(serialized).toEqual([1, 4, 5]);
    expect(readFileSync(file, 'utf8')).toBe('{"n":5}');
    expect(readdirSync(join(file, '..'))).toEqual(['state.json']);
    await writer.idle();
  });

  it('never leaves a torn file: a reader during rewrites of a large file reads one whole version each time', async () => {
    const file = join(tmp(), 'state.json');
    const writer = new AtomicFileWriter(file);
    // ~4 MB per version, in pieces, each version a different byte throughout.
    const text = (n: number) => [`{"v":${n},"fill":"`, ...Array.from({ length: 64 }, () => String(n % 10).repeat(64 * 1024)), '"}'];
    await writer.write(async () => text(0));
    let writing = true;
    const reads: number[] = [];
    const reader = (async () => {
      while (writing) {
        const parsed = JSON.parse(await readFile(file, 'utf8')) as { v: number; fill: string };
        expect(parsed.fill).toBe(String(parsed.v % 10).repeat(64 * 64 * 1024));
        reads.push(parsed.v);
      }
    })();
    for (let n = 1; n <= 12; n++) await writer.write(async () => text(n));
    writing = false;
    await reader;
    expect(reads.length).toBeGreaterThan(0);
    expect(JSON.parse(readFileSync(file, 'utf8')).v).toBe(12);
  });

  it('a failed write rejects its callers with the reason; the next write is made', async () => {
    const dir = tmp();
    const writer = new AtomicFileWriter(join(dir, 'state.json'));
    await expect(
      writer.write(async () => {
        throw new Error('cannot serialize');
      }),
    ).rejects.toThrow('cannot serialize');
    await writer.write(async () => ['{}']);
    expect(readFileSync(join(dir, 'state.json'), 'utf8')).toBe('{}');
  });
});
