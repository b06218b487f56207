// docs/airflow.md is copied into DAG files: its Python must compile, import nothing it does not use, and call the
// CLI only with flags the CLI has; its links and the runbook's must land on headings that exist.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { execFileP, headingAnchors, repoPath, requireBin, tempDir } from './helpers.js';
import { CLI } from '../helpers/paths.js';

const doc = readFileSync(repoPath('docs', 'airflow.md'), 'utf8');
const blocks = [...doc.matchAll(/```python\n([\s\S]*?)```/g)].map((m) => m[1]!);
const tmp = tempDir('airflow-doc');
afterAll(() => tmp.remove());

/** Imported names that the rest of the module never reads, by Python's own parser. */
const UNUSED_IMPORTS = `
import ast, sys
tree = ast.parse(open(sys.argv[1]).read())
imported = {}
for node in ast.walk(tree):
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        for a in node.names:
            imported[(a.asname or a.name).split(".")[0]] = node.lineno
used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
print(" ".join(sorted(name for name in imported if name not in used)))
`;

describe('docs/airflow.md', () => {
  it('has Python examples that compile (python3 -m py_compile) and import nothing unused', async () => {
    const python = requireBin('python3');
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    const checker = join(tmp.path, 'unused_imports.py');
    writeFileSync(checker, UNUSED_IMPORTS);
    for (const [i, code] of blocks.entries()) {
      const file = join(tmp.path, `example_${i}.py`);
      writeFileSync(file, code);
      await execFileP(python, ['-m', 'py_compile', file]).catch((e: Error & { stderr?: string }) => {
        throw new Error(`docs/airflow.md python block ${i + 1} does not compile:\n${e.stderr ?? e.message}\n${code}`);
      });
      const { stdout } = await execFileP(python, [checker, file]);
      expect(stdout.trim(), `unused imports in python block ${i + 1}`).toBe('');
    }
  });

  it('the ETA-aware sensor fails loud on will_miss_deadline and sends dag_run_id and a deadline', () => {
    const sensor = blocks.find((b) => b.includes('HttpSensor('))!;
    expect(sensor).toMatch(/if answer\.get\("will_miss_deadline"\):\s+#.*\n\s+raise AirflowFailException/);
    expect(sensor).toContain('"dag_run_id": "{{ run_id }}"');
    expect(sensor).toMatch(/"deadline": "\{\{ .*isoformat\(\) \}\}"/);
    expect(sensor).toContain('mode="reschedule"');
    expect(sensor).toContain('deferrable=False');
  });

  it('calls the admit CLI only with flags it has', async () => {
    const { stdout: help } = await execFileP(process.execPath, [CLI, 'admit', '--help']);
    const used = new Set(
      [...doc.matchAll(/glue-eni-exporter admit[\s\S]*?\)/g)].flatMap((m) => [...m[0].matchAll(/\s(--[a-z-]+)/g)].map((f) => f[1]!)),
    );
    for (const flag of ['--url', '--job', '--dag-run-id', '--deadline']) expect(used).toContain(flag);
    for (const flag of used) expect(help, `admit --help lists ${flag}`).toContain(flag);
  });

  it("links (its own and the runbook's) land on headings that exist", () => {
    const runbook = readFileSync(repoPath('docs', 'runbook.md'), 'utf8');
    const files: Record<string, string> = { 'airflow.md': doc, 'runbook.md': runbook };
    for (const [name, md] of Object.entries(files)) {
      for (const m of md.matchAll(/\]\(((?:airflow|runbook)\.md)?#([a-z0-9-]+)\)/g)) {
        const target = m[1] ?? name;
        expect(headingAnchors(files[target]!).has(m[2]!), `${name} links to ${target}#${m[2]}`).toBe(true);
      }
    }
  });
});
