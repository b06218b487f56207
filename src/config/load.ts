import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Pair } from 'yaml';
import { defaultPolicySettings } from '../admission/policy.js';
import { ConfigError, fieldPath, formatIssues, plainErrors } from './errors.js';
import { configSchema, type ParsedConfig } from './schema.js';
import { scheduleIntervalSeconds } from './schedule.js';

export interface Config extends ParsedConfig {
  sample: ParsedConfig['sample'] & { maxAgeSeconds: number; intervalSeconds: number };
}

/** Validate an already-parsed object; env overrides come after the file (the token must not live in git). */
export function parseConfig(input: unknown, env: NodeJS.ProcessEnv = process.env, source?: string): Config {
  const result = configSchema.safeParse(input ?? {}, { error: plainErrors });
  if (!result.success) {
    const issues = formatIssues(result.error, source, configSchema);
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
    Map(_, map, ancestors) {
      const seen = new Map<unknown, Pair>();
      for (const pair of map.items) {
        const key = isScalar(pair.key) ? pair.key.value : pair.key;
        const first = seen.get(key);
        if (!first) {
          seen.set(key, pair);
          continue;
        }
        const where = (p: Pair) => (isScalar(p.key) && p.key.range ? lines.linePos(p.key.range[0]) : undefined);
        const [at, was] = [where(pair), where(first)];
        const field = fieldPath([...yamlPath([...ancestors, map]), String(key)]);
        issues.push(
          `${source}: ${field}: duplicate key${at ? ` at line ${at.line}, column ${at.col}` : ''}${was ? ` (first at line ${was.line})` : ''}`,
        );
      }
    },
  });
  return issues;
}

/** The field path (`admission.subnets`, `subnets[1]`) of a node, from its ancestors as yaml's visitor lists them. */
function yamlPath(nodes: readonly unknown[]): (string | number)[] {
  const out: (string | number)[] = [];
  nodes.forEach((node, i) => {
    if (isPair(node)) out.push(String(isScalar(node.key) ? node.key.value : node.key));
    else if (isSeq(node) && i + 1 < nodes.length) out.push(node.items.indexOf(nodes[i + 1] as never));
  });
  return out;
}

/** Parse YAML text; YAML syntax errors name the line and column. */
export function parseConfigText(text: string, source = 'config', env: NodeJS.ProcessEnv = process.env): Config {
  if (text.length > MAX_CONFIG_BYTES || Buffer.byteLength(text) > MAX_CONFIG_BYTES) throw tooLarge(source, `${Buffer.byteLength(text)} bytes`);
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: false, lineCounter: lines });
  // yaml's first line reads "<what> at line L, column C:" (then a snippet): lead with the place, as fields do.
  const issues = doc.errors.map((e) => {
    const [, what, at] = /^(.*?)(?: at (line \d+, column \d+))?:?$/.exec(e.message.split('\n')[0]) ?? [];
    return `${source}: ${at ?? '(file)'}: YAML syntax: ${what}`;
  });
  if (issues.length === 0) issues.push(...duplicateKeys(doc, lines, source));
  if (issues.length > 0) throw new ConfigError(issues.join('\n'), issues);
  const cfg = parseConfig(doc.toJS(), env, source);
  // A file an operator wrote: data older than one interval would be stale between every two samples. (Code that
  // samples by hand, as tests do, may build a config with a yearly schedule and a shorter max age.)
  if (cfg.sample.maxAgeSeconds < cfg.sample.intervalSeconds) {
    throw new ConfigError(
      `${source}: sample.maxAgeSeconds: ${cfg.sample.maxAgeSeconds} s is shorter than one sample interval (${cfg.sample.intervalSeconds} s, ` +
        `the longest gap between runs of sample.schedule "${cfg.sample.schedule}"); every sample would be stale before the next`,
    );
  }
  return cfg;
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

/**
 * The admission policy a config gives, as `check-config` prints it: the default (or the configured one), then the
 * per-subnet overrides of policy or queue, so that nobody has to know the defaults to read what a file means.
 */
export function describeAdmission(config: Config): string {
  const a = config.admission;
  const overrides = Object.entries(a.subnets ?? {})
    .filter(([, o]) => o.policy !== undefined || o.queue !== undefined)
    .map(([key, o]) => `${key}: ${[o.policy, o.queue === undefined ? undefined : `queue ${o.queue ? 'on' : 'off'}`].filter(Boolean).join(', ')}`);
  const policy = a.policy ?? defaultPolicySettings.policy;
  return `policy ${policy}${a.policy === undefined ? ' (default)' : ''}, queue ${(a.queue ?? true) ? 'on' : 'off'}${overrides.length ? ` (${overrides.join('; ')})` : ''}`;
}
