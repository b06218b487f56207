// The shell commands a Markdown document shows, as the docs check runs them: fenced `sh`/`bash`/`shell` blocks
// (also indented in lists) and inline code spans that start with a checked program.
//
// What the doc can say to the check, without a reader noticing:
// - `<!-- docs-check: skip <why> -->` on the line before a fence: the block is not run (say why);
// - a trailing `# expect exit N` on a command: it is meant to fail with that status.
// In a block where commands carry a `$ ` prompt, the other lines are their output.

export interface DocCommand {
  /** The command as the doc shows it (continuations joined, heredoc included). */
  text: string;
  /** 1-based line of the doc where it starts. */
  line: number;
  kind: 'run' | 'server' | 'setup' | 'file';
  expectExit: number;
}

/** Programs the check runs; anything else (npm, docker, git, kill) is left to the reader. */
const CHECKED = /^(?:npx\s+)?(?:curl|aws|glue-eni-exporter)\b/;
const SERVER = /^(?:npx\s+)?glue-eni-exporter\s+(?:sim|serve|demo)\b/;
const ENV_PREFIX = /^(?:[A-Za-z_][A-Za-z0-9_]*=(?:'[^']*'|"[^"]*"|\S*)(?:\s+|$))*/;
const EXPECT = /\s+#\s*expect exit (\d+)\b.*$/;

function classify(text: string): DocCommand['kind'] | undefined {
  if (/^export\s/.test(text)) return 'setup';
  const body = text.replace(/\\\n\s*/g, ' ').replace(ENV_PREFIX, '');
  if (body === '') return 'setup';
  if (/^cat\s+>\s*\S+\s+<</.test(body)) return 'file';
  if (SERVER.test(body)) return 'server';
  if (CHECKED.test(body)) return 'run';
  return undefined;
}

/** The first line without its trailing comment (a `#` after a blank, outside quotes). */
function withoutComment(raw: string): string {
  const nl = raw.indexOf('\n');
  const first = nl < 0 ? raw : raw.slice(0, nl);
  let quote = '';
  for (let i = 0; i < first.length; i++) {
    const ch = first[i];
    if (quote) {
      if (ch === quote) quote = '';
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === '#' && /\s/.test(first[i - 1] ?? '')) return first.slice(0, i).trimEnd() + (nl < 0 ? '' : raw.slice(nl));
  }
  return raw;
}

function command(raw: string, line: number): DocCommand | undefined {
  const m = EXPECT.exec(raw.split('\n')[0]);
  // A trailing comment is the reader's, not the shell's (and `&` backgrounds what the check starts itself).
  const text = withoutComment(raw.replace(EXPECT, ''))
    .replace(/\s*&\s*$/, '')
    .trim();
  const kind = classify(text);
  return kind && { text, line, kind, expectExit: m ? Number(m[1]) : 0 };
}

/** The commands of one fenced block's lines (indent removed). */
function blockCommands(lines: string[], firstLine: number): DocCommand[] {
  const prompted = lines.some((l) => l.startsWith('$ '));
  const out: DocCommand[] = [];
  for (let i = 0; i < lines.length; i++) {
    let l = lines[i];
    if (prompted) {
      if (!l.startsWith('$ ')) continue;
      l = l.slice(2);
    }
    if (l.trim() === '' || l.trim().startsWith('#')) continue;
    const start = i;
    let text = l;
    const heredoc = /<<-?\s*'?(\w+)'?/.exec(l);
    if (heredoc) {
      while (i + 1 < lines.length && lines[i + 1].trim() !== heredoc[1]) text += `\n${lines[++i]}`;
      if (i + 1 < lines.length) text += `\n${lines[++i]}`;
    } else {
      // Continued by a backslash, or by a pipe at the end of the line or the start of the next.
      while (i + 1 < lines.length && (/\\$/.test(text) || /\|\s*$/.test(text) || /^\s*\|/.test(lines[i + 1]))) {
        text += `\n${lines[++i]}`;
      }
    }
    const c = command(text, firstLine + start);
    if (c) out.push(c);
  }
  return out;
}

/** Every command of a Markdown document, in document order. */
export function docCommands(markdown: string, opts: { inline?: boolean } = {}): DocCommand[] {
  const lines = markdown.split('\n');
  const out: DocCommand[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^(\s*)```(\w*)\s*$/.exec(lines[i]);
    if (fence) {
      const indent = fence[1].length;
      const start = i + 1;
      let end = start;
      while (end < lines.length && !/^\s*```\s*$/.test(lines[end])) end++;
      const skip = /<!--\s*docs-check:\s*skip\b/.test(lines[i - 1] ?? '') || /<!--\s*docs-check:\s*skip\b/.test(lines[i - 2] ?? '');
      if (['sh', 'bash', 'shell'].includes(fence[2]) && !skip) {
        out.push(
          ...blockCommands(
            lines.slice(start, end).map((l) => l.slice(Math.min(indent, l.length - l.trimStart().length))),
            start + 1,
          ),
        );
      }
      i = end;
      continue;
    }
    if (opts.inline) {
      for (const m of lines[i].matchAll(/`([^`]+)`/g)) {
        const c = command(m[1], i + 1);
        // A bare program and subcommand in prose names a tool, it is not a command to run.
        if (c && (c.kind === 'run' || c.kind === 'server') && c.text.split(/\s+/).length >= 3) out.push(c);
      }
    }
  }
  return out;
}
