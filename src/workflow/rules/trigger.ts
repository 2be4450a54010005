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

/** Problem with a cron pattern, or undefined. */
export function cronProblem(pattern: string, timezone?: string): { code: 'cron-invalid' | 'cron-never'; message: string } | undefined {
  let job: Cron;
  try {
    job = new Cron(pattern, { paused: true, timezone, legacyMode: true });
  } catch (err) {
    return { code: 'cron-invalid', message: `invalid cron pattern ${JSON.stringify(pattern)}: ${(err as Error).message.replace(/^CronPattern: /, '')}; expected 5 fields (minute hour day month weekday) or 6 with seconds first` };
  }
  const next = job.nextRun();
  job.stop();
  if (!next) return { code: 'cron-never', message: `cron pattern ${JSON.stringify(pattern)} never fires (no matching date exists)` };
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
