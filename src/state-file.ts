// Small JSON state files beside the store (lifecycle memory, gate-bypass memory): written atomically so that
// a crash mid-write leaves the previous file whole, and a file that cannot be read back is set aside, not
// trusted.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

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

/**
 * Read and check a state file. Absent → `{}`; unreadable or rejected by `check` (which throws with the
 * reason) → the file is renamed `<file>.corrupt-<ms>` and `note` says so, for the log.
 */
export function readJsonState<T>(file: string, what: string, check: (parsed: unknown) => T): { state?: T; note?: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  try {
    return { state: check(JSON.parse(text)) };
  } catch (err) {
    renameSync(file, `${file}.corrupt-${Date.now()}`);
    return { note: `${what} unreadable (${(err as Error).message}); set aside and starting fresh` };
  }
}
