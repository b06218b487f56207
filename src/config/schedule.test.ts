import { CronExpressionParser } from 'cron-parser';
import cron from 'node-cron';
import { describe, expect, it } from 'vitest';
import { scheduleIntervalSeconds } from './schedule.js';

const DAY = 86_400;

/** The longest gap found by listing every run over `days` days (an independent parser, for schedules whose day fields cron-parser reads as node-cron does). */
function longestGapByListing(expr: string, days: number): number {
  const from = new Date('2026-01-05T00:00:00Z');
  const it = CronExpressionParser.parse(expr, { currentDate: new Date(from.getTime() - 1000), tz: 'UTC' });
  const end = from.getTime() + days * DAY * 1000;
  let prev = it.next().getTime();
  let longest = 0;
  for (let n = 0; n < 200_000; n++) {
    const t = it.next().getTime();
    if (t > end) break;
    longest = Math.max(longest, t - prev);
    prev = t;
  }
  return longest / 1000;
}

describe('scheduleIntervalSeconds: the longest gap between consecutive runs', () => {
  it('takes the long gap of an uneven schedule, not the gap after the first run', () => {
    // Runs at :00 and :50: 50 s, then 10 s.
    expect(scheduleIntervalSeconds('*/50 * * * * *')).toBe(50);
    // Minutes 0 and 10 of every hour: 10 min, then 50 min.
    expect(scheduleIntervalSeconds('0,10 * * * *')).toBe(50 * 60);
    // Every 7 minutes: 0, 7, ... 56, then 4 minutes to the next hour.
    expect(scheduleIntervalSeconds('0 */7 * * * *')).toBe(7 * 60);
    // Office hours: every 15 minutes from 09:00 to 17:45, then 15 h 15 min overnight.
    expect(scheduleIntervalSeconds('*/15 9-17 * * *')).toBe(15 * 3600 + 15 * 60);
  });

  it('is the period of an even schedule', () => {
    expect(scheduleIntervalSeconds('* * * * * *')).toBe(1);
    expect(scheduleIntervalSeconds('*/30 * * * * *')).toBe(30);
    expect(scheduleIntervalSeconds('* * * * *')).toBe(60);
    expect(scheduleIntervalSeconds('*/5 * * * *')).toBe(300);
    expect(scheduleIntervalSeconds('0 * * * *')).toBe(3600);
    expect(scheduleIntervalSeconds('0 3 * * *')).toBe(DAY);
  });

  it('spans days when the schedule skips days: weekdays, weekly, monthly, yearly', () => {
    // Friday 07:00 to Monday 07:00.
    expect(scheduleIntervalSeconds('0 7 * * 1-5')).toBe(3 * DAY);
    // Weekdays every hour from 08:00 to 18:00: Friday 18:00 to Monday 08:00.
    expect(scheduleIntervalSeconds('0 8-18 * * 1-5')).toBe(2 * DAY + 14 * 3600);
    expect(scheduleIntervalSeconds('0 0 * * 1')).toBe(7 * DAY);
    expect(scheduleIntervalSeconds('@weekly')).toBe(7 * DAY);
    expect(scheduleIntervalSeconds('0 0 1 * *')).toBe(31 * DAY);
    expect(scheduleIntervalSeconds('0 0 1 1 *')).toBe(366 * DAY);
  });

  it("reads day fields as node-cron runs them: tokens through node-cron's matcher, day of month AND weekday", () => {
    // The last day of each month: 31 days at most (Feb 28 to Mar 31).
    expect(scheduleIntervalSeconds('0 0 L * *')).toBe(31 * DAY);
    // node-cron fires on Friday the 13th only (both fields must match): up to 14 months apart.
    expect(scheduleIntervalSeconds('0 0 13 * 5')).toBe(427 * DAY);
  });

  it('agrees with every run listed over eight days, for assorted sub-daily schedules', () => {
    for (const expr of [
      '*/50 * * * * *',
      '7,8,59 */2 * * * *',
      '0 5,20 */3 * * *',
      '*/13 9-11,15 * * *',
      '30 0 0,6,7 * * 1-5',
      '0 */20 22-23,1 * * *',
    ]) {
      expect(scheduleIntervalSeconds(expr), expr).toBe(longestGapByListing(expr, 8));
    }
  });

  it('leaves no node-cron task behind', () => {
    const before = cron.getTasks().size;
    scheduleIntervalSeconds('0 0 L * *');
    expect(cron.getTasks().size).toBe(before);
  });
});
