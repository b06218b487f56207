// Waiting in tests. A wait on a condition that can be stated as an assertion uses vitest's vi.waitFor directly
// (its failure is the last assertion's); waitFor below is for waits that return a value and must name what
// they waited for when they time out.
import { vi } from 'vitest';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

class NotYet extends Error {}

/**
 * Poll `fn` every `everyMs` until it returns a value other than undefined, and return that value. A throw
 * counts as "not yet"; after `timeoutMs` the error names `what` and the last throw.
 */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000, everyMs = 50): Promise<T> {
  let lastErr: unknown;
  try {
    return await vi.waitFor(
      async () => {
        let v: T | undefined;
        try {
          v = await fn();
        } catch (err) {
          lastErr = err;
          throw err;
        }
        if (v === undefined) throw new NotYet();
        return v;
      },
      { timeout: timeoutMs, interval: everyMs },
    );
  } catch {
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${(lastErr as Error).message}` : ''}`);
  }
}

/** `p`, or a rejection naming `what` after `ms`. */
export function within<T>(what: string, p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms);
    }),
  ]);
}
