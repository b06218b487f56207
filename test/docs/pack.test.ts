// The tarball `npm pack` makes, as the README installs it on Airflow workers: it holds the build and the
// scenarios, and the command its package.json names runs from it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, repoPath } from '../helpers/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'pack-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('npm pack', () => {
  it('packs dist/ and scenarios/, and the bin it names runs from the unpacked tarball (--help, simulate on a packed scenario)', () => {
    // --ignore-scripts: the build under test is the one `npm test` made (pretest); `npm pack` alone would rebuild.
    const pack = spawnSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(pack.status, pack.stderr).toBe(0);
    const [info] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
    const { version } = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { version: string };
    expect(info.filename).toBe(`glue-eni-exporter-${version}.tgz`);
    const paths = info.files.map((f) => f.path);
    for (const p of ['dist/cli.js', 'dist/demo.js', 'scenarios/seed-shared.yml', 'README.md', 'package.json']) expect(paths).toContain(p);
    expect(paths.some((p) => p.startsWith('src/') || p.startsWith('test/'))).toBe(false);

    // Unpacked as npm installs it; its dependencies come from the registry on a worker, here from the clone
    // (no registry is reached by tests).
    expect(spawnSync('tar', ['-xzf', join(tmp, info.filename), '-C', tmp]).status).toBe(0);
    const pkg = join(tmp, 'package');
    symlinkSync(repoPath('node_modules'), join(pkg, 'node_modules'));
    const { bin } = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(Object.keys(bin)).toEqual(['glue-eni-exporter']);
    const cli = join(pkg, bin['glue-eni-exporter']);
    expect(readFileSync(cli, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);

    const help = spawnSync(process.execPath, [cli, '--help'], { cwd: tmp, encoding: 'utf8', timeout: 20_000 });
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^\s+admit\b/m);
    const sim = spawnSync(
      process.execPath,
      [cli, 'simulate', '--scenario', join(pkg, 'scenarios', 'seed-shared.yml'), '--days', '1', '--policy', 'none'],
      {
        cwd: tmp,
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    expect(sim.status, sim.stderr).toBe(0);
    expect(sim.stdout).toMatch(/seed-shared\.yml\s+none\s+-\s+\d+/);
  });
});
