import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { isScalar, LineCounter, parseDocument, visit, type Document } from 'yaml';
import { ConfigError, formatIssues } from './errors.js';
import { configSchema, type ParsedConfig } from './schema.js';
import { scheduleIntervalSeconds } from './schedule.js';

export interface Config extends ParsedConfig {
  sample: ParsedConfig['sample'] & { maxAgeSeconds: number; intervalSeconds: number };
}

/** Validate an already-parsed object; env overrides come after the file (the token must not live in git). */
export function parseConfig(input: unknown, env: NodeJS.ProcessEnv = process.env, source?: string): Config {
  const result = configSchema.safeParse(input ?? {});
  if (!result.success) {
    const issues = formatIssues(result.error, source);
    throw new ConfigError(issues.join('\n'), issues);
  }
  const cfg = result.data;
  const intervalSeconds = scheduleIntervalSeconds(cfg.sample.schedule);
  const token = env.GLUE_ENI_ADMIT_TOKEN;
  if (token !== undefined && token.length < 16) {
    throw new ConfigError('GLUE_ENI_ADMIT_TOKEN: expected at least 16 characters');
  }
  return {
    ...cfg,
    sample: { ...cfg.sample, intervalSeconds, maxAgeSeconds: cfg.sample.maxAgeSeconds ?? 3 * intervalSeconds },
    admission: { ...cfg.admission, token: token ?? cfg.admission.token },
  };
}

/**
 * Config files larger than this are refused before parsing. A real config is a few KB; parsing cost grows with
 * the number of keys, and a reload parses on the event loop that serves /admit.
 */
export const MAX_CONFIG_BYTES = 256 * 1024;

function tooLarge(source: string, bytes: string): ConfigError {
  return new ConfigError(
    `${source}: ${bytes} is over the ${MAX_CONFIG_BYTES / 1024} KiB (${MAX_CONFIG_BYTES} bytes) limit for a config file; refused before parsing`,
  );
}

/**
 * Duplicate keys, found in one pass. yaml's own `uniqueKeys` check compares each key with every earlier key of its
 * map (a 1 MB file of 40,000 keys: 43 s on the event loop); a set per map does the same check in linear time.
 */
function duplicateKeys(doc: Document, lines: LineCounter, source: string): string[] {
  const issues: string[] = [];
  visit(doc, {
    Map(_, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        const key = isScalar(pair.key) ? pair.key.value : pair.key;
        if (!seen.has(key)) {
          seen.add(key);
          continue;
        }
        const at = isScalar(pair.key) && pair.key.range ? lines.linePos(pair.key.range[0]) : undefined;
        issues.push(`${source}: YAML Map keys must be unique${at ? ` at line ${at.line}, column ${at.col}` : ''}: ${JSON.stringify(String(key))}`);
      }
    },
  });
  return issues;
}

/** Parse YAML text; YAML syntax errors name the line and column. */
export function parseConfigText(text: string, source = 'config', env: NodeJS.ProcessEnv = process.env): Config {
  if (text.length > MAX_CONFIG_BYTES || Buffer.byteLength(text) > MAX_CONFIG_BYTES) throw tooLarge(source, `${Buffer.byteLength(text)} bytes`);
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: false, lineCounter: lines });
  const issues = doc.errors.map((e) => `${source}: YAML ${e.message.split('\n')[0]}`);
  if (issues.length === 0) issues.push(...duplicateKeys(doc, lines, source));
  if (issues.length > 0) throw new ConfigError(issues.join('\n'), issues);
  return parseConfig(doc.toJS(), env, undefined);
}

/** Read at most MAX_CONFIG_BYTES + 1 bytes: the cap holds for a file that grows, or a pipe, as well. */
function readCapped(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size > MAX_CONFIG_BYTES) throw tooLarge(path, `${size} bytes`);
    const buf = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let length = 0;
    for (let n: number; length < buf.length && (n = readSync(fd, buf, length, buf.length - length, null)) > 0; ) length += n;
    if (length > MAX_CONFIG_BYTES) throw tooLarge(path, 'the file');
    return buf.toString('utf8', 0, length);
  } finally {
    closeSync(fd);
  }
}

export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readCapped(path);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`${path}: cannot read: ${(err as Error).message}`);
  }
  return parseConfigText(text, path, env);
}
