// deploy/iam/*.json are the README's IAM documents, as code: parsed and compared, so neither drifts from the other.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { repoPath } from '../bundle/helpers.js';

const readme = readFileSync(repoPath('README.md'), 'utf8');
const readJson = (...p: string[]) => JSON.parse(readFileSync(repoPath(...p), 'utf8')) as unknown;

/** The first ```json block after the heading `heading` (exact line), parsed. */
function jsonAfterHeading(heading: string): unknown {
  const lines = readme.split('\n');
  const at = lines.indexOf(heading);
  expect(at, `README.md has the heading "${heading}"`).toBeGreaterThanOrEqual(0);
  const open = lines.indexOf('```json', at);
  const close = lines.indexOf('```', open + 1);
  expect(open, `a json block after "${heading}"`).toBeGreaterThan(at);
  const next = lines.findIndex((l, i) => i > at && /^#{1,6} /.test(l));
  expect(next === -1 || open < next, `the json block belongs to "${heading}"`).toBe(true);
  return JSON.parse(lines.slice(open + 1, close).join('\n'));
}

interface Statement {
  Effect: string;
  Action: string | string[];
  Principal?: { AWS?: string };
  Condition?: Record<string, Record<string, string>>;
}

describe('IAM documents in deploy/iam', () => {
  it("exporter-policy.json is the README's least-privilege policy", () => {
    expect(readJson('deploy', 'iam', 'exporter-policy.json')).toEqual(jsonAfterHeading('### Least-privilege IAM policy'));
  });

  it("assume-role-trust-policy.json is the README's per-account trust policy", () => {
    expect(readJson('deploy', 'iam', 'assume-role-trust-policy.json')).toEqual(jsonAfterHeading('#### Trust policy of a per-account role'));
  });

  it('the trust policy lets one role assume, and only with an external id', () => {
    const doc = readJson('deploy', 'iam', 'assume-role-trust-policy.json') as { Version: string; Statement: Statement[] };
    expect(doc.Version).toBe('2012-10-17');
    expect(doc.Statement).toHaveLength(1);
    const [s] = doc.Statement;
    expect(s!.Effect).toBe('Allow');
    expect(s!.Action).toBe('sts:AssumeRole');
    expect(s!.Principal?.AWS).toMatch(/^arn:aws:iam::\d{12}:role\/[\w+=,.@/-]+$/);
    expect(s!.Condition?.StringEquals?.['sts:ExternalId']).toMatch(/\S{8,}/);
  });
});
