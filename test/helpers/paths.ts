// Where the repository and the built CLI are, for tests that read shipped files or run `node dist/cli.js`.
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const repoPath = (...p: string[]) => join(ROOT, ...p);
/** The build the CLI tests run; `npm test` builds it in pretest. */
export const CLI = repoPath('dist', 'cli.js');
