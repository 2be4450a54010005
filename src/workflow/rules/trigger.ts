// Trigger checks: schedule present exactly with `schedule`, cron patterns that parse and fire,
// IANA time zones.
import { Cron } from 'croner';
import type { WorkflowRule } from '../context.js';

/** True when `tz` is a time zone the runtime knows. */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const CRON_FIELDS = 'minute hour day-of-month month day-of-week';
const CRON_RANGES: Record<string, string> = {
  second: 'second is 0-59',
  minute: 'minute is 0-59',
  hour: 'hour is 0-23',
  day: 'day of month is 1-31',
  dayOfMonth: 'day of month is 1-31',
  month: 'month is 1-12 or JAN-DEC',
  dayOfWeek: 'day of week is 0-7 or SUN-SAT',
};

/** Problem with a cron pattern, or undefined. */
export function cronProblem(pattern: string, timezone?: string): { code: 'cron-invalid' | 'cron-never'; message: string } | undefined {
  const shown = JSON.stringify(pattern);
  const parts = pattern.trim().split(/\s+/);
  if (!pattern.trim().startsWith('@') && parts.length !== 5 && parts.length !== 6) {
    // A GUI's schedule word (Hourly, Daily): croner has a nickname for most.
    const word = /^(hourly|daily|weekly|monthly|yearly|annually)$/i.exec(pattern.trim())?.[1];
    const hint = word ? `; for ${word.toLowerCase()} write "@${word.toLowerCase()}"` : '';
    return { code: 'cron-invalid', message: `invalid cron pattern ${shown}: it has ${parts.length} field${parts.length === 1 ? '' : 's'}; expected 5 (${CRON_FIELDS}) or 6 with seconds first${hint}` };
  }
  let job: Cron;
  try {
    job = new Cron(pattern, { paused: true, timezone, legacyMode: true });
  } catch (err) {
    const raw = (err as Error).message.replace(/^Cron\w*: /, '').replace(/\.$/, '');
    const field = /^Invalid value for (\w+)/.exec(raw)?.[1];
    const hint = field && CRON_RANGES[field] ? ` (${CRON_RANGES[field]})` : ` (fields: ${CRON_FIELDS})`;
    return { code: 'cron-invalid', message: `invalid cron pattern ${shown}: ${raw.charAt(0).toLowerCase()}${raw.slice(1)}${hint}` };
  }
  const next = job.nextRun();
  job.stop();
  if (!next) return { code: 'cron-never', message: `cron pattern ${shown} never fires: no date matches it (check the day of month against the month)` };
  return undefined;
}

export const checkTrigger: WorkflowRule = (ctx) => {
  const t = ctx.wf.trigger;
  const scheduled = t.on.includes('schedule');
  if (scheduled && t.schedule === undefined) {
    ctx.error('schedule-missing', 'trigger.on has schedule but no `schedule:` pattern is given (e.g. schedule: "0 6 * * 1-5")', ['trigger', 'on']);
  }
  if (!scheduled && t.schedule !== undefined) {
    ctx.error('schedule-unused', '`schedule:` is set but trigger.on does not list schedule; add schedule to trigger.on or remove the pattern', ['trigger', 'schedule'], 'key');
  }
  let tzOk = true;
  if (t.timezone !== undefined && !isTimeZone(t.timezone)) {
    tzOk = false;
    ctx.error('timezone-invalid', `unknown time zone ${JSON.stringify(t.timezone)}; use an IANA name such as Europe/Berlin or America/New_York`, ['trigger', 'timezone']);
  }
  if (t.schedule !== undefined) {
    const p = cronProblem(t.schedule, tzOk ? t.timezone : undefined);
    if (p) ctx.error(p.code, p.message, ['trigger', 'schedule']);
  }
};
