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

/** Edit distance (insertions, deletions, substitutions, adjacent swaps) between two short strings. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/**
 * The candidate a typo most likely meant: the nearest by edit distance (case ignored), if it is near enough to be
 * a slip of the keyboard (a third of the word, at least one edit) rather than another word.
 */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const dist = editDistance(word.toLowerCase(), c.toLowerCase());
    if (dist < bestDistance) [best, bestDistance] = [c, dist];
  }
  return bestDistance <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}

/** `unknown field; did you mean X?`, else the fields that exist there. */
export function unknownFieldMessage(key: string, known: readonly string[]): string {
  if (known.length === 0) return 'unknown field';
  const guess = closest(key, known);
  return guess ? `unknown field; did you mean ${guess}?` : `unknown field; expected one of ${known.join(', ')}`;
}

type Def = { type: string; shape?: Record<string, z.ZodType>; innerType?: z.ZodType; element?: z.ZodType; valueType?: z.ZodType; in?: z.ZodType };
const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** The field names the object schema at `path` accepts (wrappers, lists and maps looked through); [] if none. */
export function knownFields(schema: z.ZodType | undefined, path: readonly PropertyKey[]): string[] {
  let s = schema;
  let i = 0;
  while (s) {
    const def = defOf(s);
    if (def.innerType) s = def.innerType;
    else if (def.type === 'pipe') s = def.in;
    else if (i === path.length) return def.type === 'object' && def.shape ? Object.keys(def.shape) : [];
    else if (def.type === 'object') s = def.shape?.[String(path[i++])];
    else if (def.type === 'array') (s = def.element), i++;
    else if (def.type === 'record') (s = def.valueType), i++;
    else return [];
  }
  return [];
}

/**
 * One line per problem, each `<source>: <field.path>: <message>`; an unknown field is named itself (not its
 * parent), one line each, with the known field it most likely meant when `schema` is given.
 */
export function formatIssues(error: z.ZodError, source?: string, schema?: z.ZodType): string[] {
  const line = (path: readonly PropertyKey[], message: string) => `${source ? `${source}: ` : ''}${fieldPath(path) || '(root)'}: ${message}`;
  return error.issues.flatMap((issue) => {
    if (issue.code !== 'unrecognized_keys') return [line(issue.path, issue.message)];
    const known = knownFields(schema, issue.path);
    return issue.keys.map((key) => line([...issue.path, key], unknownFieldMessage(key, known)));
  });
}

const typeNames: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'a mapping of fields',
  record: 'a mapping of fields',
  array: 'a list',
};

/** What a YAML value is, in the words of the file rather than of JavaScript. */
function describeValue(input: unknown): string {
  if (input === undefined) return 'nothing';
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object') return 'a mapping';
  if (typeof input === 'number' && !Number.isInteger(input)) return `the number ${input}`;
  return typeof input === 'string'
    ? `the string ${JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}…` : input)}`
    : `${typeof input} ${String(input)}`;
}

/**
 * Messages for every check the schema leaves to zod's defaults, in the same shape as its own (`expected ...`), so
 * that no error prints zod's raw wording. Pass as `safeParse(input, { error: plainErrors })`.
 */
export const plainErrors: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return `required; expected ${typeNames[issue.expected] ?? issue.expected}`;
      return `expected ${typeNames[issue.expected] ?? issue.expected}, got ${describeValue(issue.input)}`;
    case 'too_small':
    case 'too_big': {
      const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      const word = issue.code === 'too_small' ? 'least' : 'most';
      if (issue.origin === 'string') return `expected at ${word} ${bound} character(s)`;
      if (issue.origin === 'array') return `expected at ${word} ${bound} entr${bound === 1 ? 'y' : 'ies'}`;
      const op = issue.code === 'too_small' ? (issue.inclusive ? '≥' : '>') : issue.inclusive ? '≤' : '<';
      return `expected a number ${op} ${bound}`;
    }
    case 'invalid_value':
      return `expected one of ${issue.values.map(String).join(', ')}`;
    default:
      return undefined;
  }
};
