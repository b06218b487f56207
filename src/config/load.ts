import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
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

/** Parse YAML text; YAML syntax errors name the line and column. */
export function parseConfigText(text: string, source = 'config', env: NodeJS.ProcessEnv = process.env): Config {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((e) => `${source}: YAML ${e.message.split('\n')[0]}`);
    throw new ConfigError(issues.join('\n'), issues);
  }
  return parseConfig(doc.toJS(), env, undefined);
}

export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${path}: cannot read: ${(err as Error).message}`);
  }
  return parseConfigText(text, path, env);
}
