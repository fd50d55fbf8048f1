/**
 * How the admin side changes state (SPEC §7): one change at a time per instance, and
 * "check, record, apply" as one step — the governance entry is durable before the state
 * changes, and no sink means no change.
 */
import { changeEntry, GATEWAY_ACTOR, type ChangeExtra, type EntryActor, type RequestSeen } from '../governance/entries.js';
import { GovernanceUnavailableError, type GovernanceAction, type GovernanceEntry, type GovernanceSink } from '../governance/types.js';

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

/**
 * Who changes and through which request: an admin request's AdminContext, or the gateway
 * itself for what happens by time (no request: `ex` null).
 */
export interface AuditContext {
  readonly ex: RequestSeen | null;
  readonly actor: EntryActor;
}

/** The context of a change the gateway makes by itself, on time (the expiry sweep). */
export const BY_TIME: AuditContext = Object.freeze({ ex: null, actor: GATEWAY_ACTOR });

export type Audit = (ctx: AuditContext, action: GovernanceAction, target: string, extra?: ChangeExtra, actor?: EntryActor) => Promise<GovernanceEntry>;

/** Writes the change's entry (durably) or throws 503 `governance_unavailable`; the actor is the admin unless named. */
export function auditWith(governance: () => GovernanceSink | null): Audit {
  return async (ctx, action, target, extra = {}, actor = ctx.actor) => {
    const sink = governance();
    if (!sink) throw new GovernanceUnavailableError('no governance sink');
    return sink.append(changeEntry(action, actor, ctx.ex, target, extra));
  };
}

export interface Change<T> {
  action: GovernanceAction;
  target: string;
  extra?: ChangeExtra;
  /** stores the change; runs only after its entry is durable */
  apply: () => Promise<T>;
  /** who the entry names, when not the admin of the request (the gateway for an expiry, a change's requester) */
  actor?: EntryActor;
}

export type RecordChange = <T>(ctx: AuditContext, change: Change<T>) => Promise<T>;

/**
 * Record, then apply (SPEC §7 v3): the log never says a change happened when it did not.
 * When the change cannot be stored after its entry was written, `privacy-change.failed`
 * (target = that entry's id) follows before the error is answered. If even that entry
 * cannot be written, the error is still answered; the log then holds an entry whose
 * change is missing (counted and logged).
 */
export function recordWith(audit: Audit, onLost?: (err: unknown) => void): RecordChange {
  return async (ctx, change) => {
    const entry = await audit(ctx, change.action, change.target, change.extra, change.actor);
    try {
      return await change.apply();
    } catch (err) {
      await audit(ctx, 'privacy-change.failed', entry.id, {}, change.actor).catch(onLost);
      throw err;
    }
  };
}
