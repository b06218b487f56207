// What the docs check reads from Markdown: which lines are commands, which are output, and the marks a doc uses.
import { describe, expect, it } from 'vitest';
import { docCommands } from './commands.js';

const md = [
  'Intro `curl -s "$EXPORTER/-/ready"` and a bare `glue-eni-exporter admit` in prose.',
  '```sh',
  'EXPORTER=http://127.0.0.1:9858   # the exporter',
  'export AWS_DEFAULT_REGION=us-east-1',
  'npm ci',
  'AWS_ENDPOINT_URL=http://127.0.0.1:4566 \\',
  '  aws ec2 describe-network-interfaces \\',
  "  --query 'x' | sort",
  'npx glue-eni-exporter sim --scenario s.yml --listen 127.0.0.1:4566 &   # serves',
  '```',
  '',
  '1. Prompted:',
  '',
  '   ```sh',
  '   $ npx glue-eni-exporter demo --listen 127.0.0.1:9858   # expect exit 1 when taken',
  '   error: curl this is output',
  '   ```',
  '<!-- docs-check: skip needs a Docker engine -->',
  '```sh',
  'curl -s http://127.0.0.1:9858/skipped',
  '```',
  '```',
  'curl -s http://127.0.0.1:9858/not-shell',
  '```',
].join('\n');

describe('docCommands', () => {
  it('reads assignments, continued commands, servers, prompts with their expected exit, and skips what is marked', () => {
    expect(docCommands(md).map(({ kind, text, expectExit, line }) => ({ kind, text, expectExit, line }))).toEqual([
      { kind: 'setup', text: 'EXPORTER=http://127.0.0.1:9858', expectExit: 0, line: 3 },
      { kind: 'setup', text: 'export AWS_DEFAULT_REGION=us-east-1', expectExit: 0, line: 4 },
      {
        kind: 'run',
        text: "AWS_ENDPOINT_URL=http://127.0.0.1:4566 \\\n  aws ec2 describe-network-interfaces \\\n  --query 'x' | sort",
        expectExit: 0,
        line: 6,
      },
      { kind: 'server', text: 'npx glue-eni-exporter sim --scenario s.yml --listen 127.0.0.1:4566', expectExit: 0, line: 9 },
      { kind: 'server', text: 'npx glue-eni-exporter demo --listen 127.0.0.1:9858', expectExit: 1, line: 15 },
    ]);
  });

  it('with inline, adds code spans that are whole commands', () => {
    const inline = docCommands(md, { inline: true }).filter((c) => c.line === 1);
    expect(inline.map((c) => c.text)).toEqual(['curl -s "$EXPORTER/-/ready"']);
  });
});
