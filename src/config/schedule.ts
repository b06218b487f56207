import cron from 'node-cron';

/** True when node-cron (which runs the schedule) accepts the expression. */
export function isValidSchedule(expr: string): boolean {
  return cron.validate(expr);
}

/** The fields of a cron expression, the optional leading seconds first, with the values each allows. */
const CRON_FIELDS = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: 'jan-dec' },
  { name: 'day of week', min: 0, max: 7, names: 'sun-sat' },
] as const;

/**
 * Why node-cron refuses an expression, naming the field (`minute field "61" is out of range; expected 0-59`);
 * undefined when it accepts it. The field at fault is the one node-cron refuses with every other field a `*`, so
 * this never disagrees with the parser that runs the schedule.
 */
export function scheduleProblem(expr: string): string | undefined {
  if (cron.validate(expr)) return undefined;
  const parts = expr.trim().split(/\s+/).filter(Boolean);
  if (parts.length !== 5 && parts.length !== 6) {
    return `expected 5 fields (minute hour day-of-month month day-of-week) or 6 (a leading second), got ${parts.length}`;
  }
  const fields = parts.length === 6 ? CRON_FIELDS : CRON_FIELDS.slice(1);
  for (let i = 0; i < parts.length; i++) {
    if (cron.validate(parts.map((p, j) => (j === i ? p : '*')).join(' '))) continue;
    const f = fields[i];
    const allowed = `${f.min}-${f.max}${'names' in f ? ` or ${f.names}` : ''}`;
    const outOfRange = (parts[i].match(/\d+/g) ?? []).map(Number).find((n) => n < f.min || n > f.max);
    if (outOfRange !== undefined) {
      const which = String(outOfRange) === parts[i] ? '' : ` (${outOfRange})`;
      return `${f.name} field "${parts[i]}" is out of range${which}; expected ${allowed}`;
    }
    return `${f.name} field "${parts[i]}" is not a cron field; expected values ${allowed}, as *, a value, a range a-b, a step */n or a list a,b`;
  }
  return 'expected a node-cron expression';
}

const DAY = 86_400;
/** Days scanned for the days a schedule fires on: four years and a week hold every weekly, monthly and yearly cycle, leap day included. */
const SCAN_DAYS = 4 * 366 + 7;
/** A fixed Monday: the interval is a property of the expression, not of the day the config was read. */
const SCAN_FROM = Date.UTC(2026, 0, 5);

/** Largest step between consecutive values of a sorted list (0 for one value). */
function largestStep(sorted: readonly number[]): number {
  let step = 0;
  for (let i = 1; i < sorted.length; i++) step = Math.max(step, sorted[i] - sorted[i - 1]);
  return step;
}

/**
 * The longest gap between two consecutive runs of the schedule, in seconds: the interval that staleness
 * (3 intervals by default) and gap detection must allow. Two consecutive firings say nothing about an uneven
 * schedule: `*\/50 * * * * *` fires at :00 and :50, 50 s then 10 s apart. Uses node-cron's own reading of the
 * expression (it runs the schedule), in UTC.
 *
 * Bounded work for any schedule: the times of day a schedule fires at are every hour × minute × second it lists
 * (at most 86,400 of them), so the longest gap within a day follows from the largest step of each field,
 * without listing the firings; the gap across days from the days it fires on, scanned over four years.
 */
export function scheduleIntervalSeconds(expr: string): number {
  const f = cron.parse(expr);
  const [s, m, h] = [f.second, f.minute, f.hour].map((v) => [...v].sort((a, b) => a - b));
  const minuteSpan = s[s.length - 1] - s[0];
  const hourSpan = (m[m.length - 1] - m[0]) * 60 + minuteSpan;
  const daySpan = (h[h.length - 1] - h[0]) * 3600 + hourSpan;
  // Within a day: between seconds of a minute, from the last second of a minute to the first of the next listed
  // minute, from the last run of an hour to the first of the next listed hour. A field with one value has no step.
  const withinDay = Math.max(
    largestStep(s),
    m.length > 1 ? largestStep(m) * 60 - minuteSpan : 0,
    h.length > 1 ? largestStep(h) * 3600 - hourSpan : 0,
  );
  // Across days: from the last run of a day to the first run of the next day the schedule fires on.
  const acrossDays = firingDaysLargestStep(expr, f, h[0] * 3600 + m[0] * 60 + s[0]) * DAY - daySpan;
  return Math.max(1, withinDay, acrossDays);
}

/**
 * The most days between two consecutive days the schedule fires on (1 when it fires every day). Plain numeric day
 * fields are matched here as node-cron matches them (month, day of month and weekday must all match); tokens
 * (`L`, `15W`, `1#2`, `5L`) are left to node-cron's own matcher. A schedule that fires on fewer than two days in
 * the scan gets the scan's length: its gap is at least that.
 */
function firingDaysLargestStep(expr: string, f: ReturnType<typeof cron.parse>, firstRunOfDay: number): number {
  const numeric = [...f.dayOfMonth, ...f.dayOfWeek].every((v) => typeof v === 'number');
  if (numeric && f.dayOfMonth.length === 31 && f.month.length === 12 && f.dayOfWeek.length === 7) return 1;
  const task = numeric ? undefined : cron.createTask(expr, () => undefined, { timezone: 'UTC' });
  try {
    const months = new Set(f.month);
    const doms = new Set(f.dayOfMonth);
    const dows = new Set(f.dayOfWeek);
    let last: number | undefined;
    let step = 0;
    for (let day = 0; day < SCAN_DAYS; day++) {
      const at = new Date(SCAN_FROM + day * DAY * 1000);
      const fires = task
        ? task.match(new Date(at.getTime() + firstRunOfDay * 1000))
        : months.has(at.getUTCMonth() + 1) && doms.has(at.getUTCDate()) && dows.has(at.getUTCDay());
      if (!fires) continue;
      if (last !== undefined) step = Math.max(step, day - last);
      last = day;
    }
    return step > 0 ? step : SCAN_DAYS;
  } finally {
    void task?.destroy();
  }
}
