// Writes dist/revision.txt, the git commit the build is from, for glue_eni_exporter_build_info{revision}.
// GLUE_ENI_REVISION wins (a Docker build has no .git); outside a git checkout nothing is written ("unknown").
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';

const out = new URL('../dist/revision.txt', import.meta.url);
let rev = process.env.GLUE_ENI_REVISION?.trim();
if (!rev) {
  try {
    rev = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    rev = undefined;
  }
}
mkdirSync(new URL('../dist/', import.meta.url), { recursive: true });
if (rev) writeFileSync(out, `${rev}\n`);
else rmSync(out, { force: true });
