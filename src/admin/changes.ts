/**
 * How the admin side changes state (SPEC §7): one change at a time per instance, and
 * "check, record, apply" as one step — the governance entry is durable before the state
 * changes, and no sink means no change.
 */
import { changeEntry, type ChangeExtra } from '../governance/entries.js';
import { GovernanceUnavailableError, type GovernanceAction, type GovernanceSink } from '../governance/types.js';
import type { AdminContext } from './context.js';

export type Serialise = <T>(fn: () => Promise<T>) => Promise<T>;

/** Runs changes one after another (a failed one does not stop the next). */
export function createSerialiser(): Serialise {
  let lock: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const run = lock.then(fn);
    lock = run.catch(() => undefined);
    return run;
  };
}

export type Audit = (ctx: AdminContext, action: GovernanceAction, target: string, extra?: ChangeExtra) => Promise<void>;

/** Writes the change's entry (durably) or throws 503 `governance_unavailable`. */
export function auditWith(governance: () => GovernanceSink | null): Audit {
  return async (ctx, action, target, extra = {}) => {
    const sink = governance();
    if (!sink) throw new GovernanceUnavailableError('no governance sink');
    await sink.append(changeEntry(action, ctx.actor, ctx.ex, target, extra));
  };
}
