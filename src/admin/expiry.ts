/**
 * SPEC §11 v3: a reveal request or a privacy change still pending after `pendingTtlMin`
 * becomes `expired`, on the record, with the gateway as the actor. It happens before
 * anything lists or decides them (the routes), and by the gateway itself once a minute (the
 * sweep), so the governance log and the reports hold every expiry even when nobody looks.
 * `expiredAt` is the instant the time to live ran out, whenever it was noticed.
 */
import { StateConflictError } from '../state/types.js';
import { BY_TIME, type AuditContext } from './changes.js';
import type { AdminDeps, ChangeTools } from './deps.js';

type Deps = Pick<AdminDeps, 'config' | 'clock' | 'state'>;

/** How often the gateway looks for what expired (the routes look before they read). */
export const SWEEP_EVERY_MS = 60_000;

interface Expiry {
  items: ReadonlyArray<{ id: string; status: string; createdAt: string }>;
  action: 'reveal-request.expired' | 'privacy-change.expired';
  /** stores the expiry of one item, as of `at` */
  expire: (id: string, at: number) => Promise<unknown>;
}

/** Every pending reveal request past its time to live becomes `expired`, on the record. */
export const expireRequests = (deps: Deps, tools: ChangeTools, ctx: AuditContext): Promise<void> =>
  expireStale(deps, tools, ctx, {
    items: deps.state().current().revealRequests ?? [],
    action: 'reveal-request.expired',
    expire: (id, at) => deps.state().decideRevealRequest(id, { status: 'expired', at }),
  });

/** Every pending privacy change past its time to live becomes `expired`, on the record. */
export const expireChanges = (deps: Deps, tools: ChangeTools, ctx: AuditContext): Promise<void> =>
  expireStale(deps, tools, ctx, {
    items: deps.state().current().changes ?? [],
    action: 'privacy-change.expired',
    expire: (id, at) => deps.state().decideChange(id, { status: 'expired', at }),
  });

/** The sweep: both kinds, one change at a time with the admin API's own changes (no request: `BY_TIME`). */
export function sweepExpired(deps: Deps, tools: ChangeTools): Promise<void> {
  if (!deps.config().reveal.approval) return Promise.resolve();
  return tools.serialised(async () => {
    await expireRequests(deps, tools, BY_TIME);
    await expireChanges(deps, tools, BY_TIME);
  });
}

/** The instant a pending item asked at `createdAt` (ISO-8601) outlives `pendingTtlMin`. */
function expiresAt(createdAt: string, ttlMin: number): number {
  return Date.parse(createdAt) + ttlMin * 60_000;
}

/** Another replica's transition of the same item meanwhile stands (its conflict is not an error). */
async function expireStale(deps: Deps, tools: ChangeTools, ctx: AuditContext, e: Expiry): Promise<void> {
  const approval = deps.config().reveal.approval;
  if (!approval) return;
  const now = deps.clock.now();
  for (const item of e.items) {
    const at = expiresAt(item.createdAt, approval.pendingTtlMin);
    if (item.status !== 'pending' || !(at <= now)) continue;
    const change = { action: e.action, target: item.id, actor: BY_TIME.actor, apply: () => e.expire(item.id, at) };
    await tools.record(ctx, change).catch((err: unknown) => {
      if (!(err instanceof StateConflictError)) throw err;
    });
  }
}
