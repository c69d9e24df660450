import { asyncScheduler, exhaustMap, from, throttleTime, type ObservableInput, type OperatorFunction, type SchedulerLike } from 'rxjs';

/**
 * Turns trigger samples into re-plans: at most one per `intervalMs` (leading and trailing, so the
 * latest load is never lost), and never two at once (a sample arriving while a plan runs is dropped).
 *
 * @example
 * hot$.pipe(replan(50, (s) => scheduler.planAndApply(s)))
 */
export function replan<T, R>(intervalMs: number, plan: (sample: T) => ObservableInput<R>, scheduler: SchedulerLike = asyncScheduler): OperatorFunction<T, R> {
  return (source$) =>
    source$.pipe(
      throttleTime(intervalMs, scheduler, { leading: true, trailing: true }),
      exhaustMap((s) => from(plan(s))),
    );
}
