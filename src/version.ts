import { readFileSync } from 'node:fs';

// Read once from package.json so --version and the landing page never drift from the release.
export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/**
 * The git commit this build is from: `GLUE_ENI_REVISION` when set (an image built without .git passes it), else
 * `dist/revision.txt`, which `npm run build` writes from `git rev-parse HEAD`; else "unknown". A label value, so
 * bounded: whitespace trimmed, at most 64 characters.
 */
export function buildRevision(env: NodeJS.ProcessEnv = process.env): string {
  let rev = env.GLUE_ENI_REVISION?.trim();
  if (!rev) {
    try {
      rev = readFileSync(new URL('./revision.txt', import.meta.url), 'utf8').trim();
    } catch {
      // Compiled by tsc alone, or from a tree without git: no revision to tell.
    }
  }
  return rev ? rev.slice(0, 64) : 'unknown';
}
