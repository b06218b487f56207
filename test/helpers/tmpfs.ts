// A real small filesystem for disk-full tests: a tmpfs mounted at `path` (needs root; where it cannot be mounted,
// the caller skips and says why).
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';

/** Mounts a tmpfs of `size` (e.g. `128k`) at `path`; undefined when mounted, else the first line of the failure. */
export function tryMount(path: string, size: string): string | undefined {
  try {
    mkdirSync(path, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', path], { stdio: 'pipe' });
    return undefined;
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  }
}
