import { CronExpressionParser } from 'cron-parser';
import cron from 'node-cron';

/** True when node-cron (which runs the schedule) accepts the expression. */
export function isValidSchedule(expr: string): boolean {
  return cron.validate(expr);
}

/** Seconds between two consecutive firings: the nominal sample interval. */
export function scheduleIntervalSeconds(expr: string, from = new Date('2026-01-05T00:00:00Z')): number {
  const it = CronExpressionParser.parse(expr, { currentDate: from, tz: 'UTC' });
  const a = it.next().getTime();
  const b = it.next().getTime();
  return Math.max(1, Math.round((b - a) / 1000));
}
