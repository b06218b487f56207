// Reads Prometheus text exposition into samples, so tests assert by name, labels and value.
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

// `[^]` and not `.`: label values may hold U+2028/U+2029, which `.` does not match.
const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^]*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/g;

export function parseExposition(text: string): { samples: PromSample[]; help: Map<string, string>; type: Map<string, string> } {
  const samples: PromSample[] = [];
  const help = new Map<string, string>();
  const type = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      (meta[1] === 'HELP' ? help : type).set(meta[2], meta[3]);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) throw new Error(`unparseable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]] = l[2].replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
    const raw = m[3];
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    samples.push({ name: m[1], labels, value });
  }
  return { samples, help, type };
}

/** The samples of one metric whose labels include `match`. */
export function select(samples: PromSample[], name: string, match: Record<string, string> = {}): PromSample[] {
  return samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
}

/** The single value of one series; throws when there is none or more than one. */
export function value(samples: PromSample[], name: string, match: Record<string, string> = {}): number {
  const found = select(samples, name, match);
  if (found.length !== 1) throw new Error(`${name}${JSON.stringify(match)}: expected 1 series, found ${found.length}`);
  return found[0].value;
}
