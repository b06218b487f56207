import type { z } from 'zod';

/** A config or input error whose message names the field: `subnets[1].id: expected ...`. */
export class ConfigError extends Error {
  constructor(
    message: string,
    readonly issues: string[] = [message],
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** `['subnets', 1, 'id']` → `subnets[1].id`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

/** One line per zod issue, each led by the field it is about. */
export function formatIssues(error: z.ZodError, source?: string): string[] {
  return error.issues.map((issue) => {
    let path = [...issue.path];
    let message = issue.message;
    if (issue.code === 'unrecognized_keys') {
      // Name the unknown key itself, not its parent.
      const keys = (issue as { keys: string[] }).keys;
      path = [...path, keys[0]];
      message = `unknown field${keys.length > 1 ? ` (also: ${keys.slice(1).join(', ')})` : ''}`;
    }
    const field = fieldPath(path) || '(root)';
    return `${source ? `${source}: ` : ''}${field}: ${message}`;
  });
}
