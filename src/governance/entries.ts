/**
 * The one home of governance entries (SPEC §6): every entry the gateway writes is built
 * here, by the proxy pipeline (viewed, denied) and the admin app (changes, reveal
 * requests) alike, from the same request facts and the same actor.
 */
import type http from 'node:http';
import type { GovernanceAction, GovernanceEntryInput, GovernanceRequestInfo } from './types.js';

/** Who acted, and through which door. */
export interface EntryActor {
  principal: string;
  /** absent for what the gateway does by itself (an expiry noticed during a request) */
  via?: NonNullable<GovernanceEntryInput['via']>;
  /** the verified token's issuer and id (reveals only) */
  token?: { iss?: string; jti?: string };
}

/** The request as the gateway saw it: its id and normalised path, query, client. */
export interface RequestSeen {
  readonly req: http.IncomingMessage;
  readonly id: string;
  readonly method: string;
  readonly path: string;
  readonly query: string;
}

/** Scope of a reveal (SPEC §10) as recorded: copies, never the caller's arrays. */
export interface ScopeFacts {
  groups: readonly string[];
  actors: readonly string[];
}

/** What a reveal was asked under: its reason, scope and approved request, each only when present. */
export interface RevealFacts {
  reason?: string;
  scope?: ScopeFacts;
  revealRequest?: string;
}

export function requestInfo(seen: RequestSeen): GovernanceRequestInfo {
  const ua = seen.req.headers['user-agent'];
  return {
    id: seen.id,
    method: seen.method,
    path: seen.path,
    query: seen.query,
    clientIp: seen.req.socket.remoteAddress ?? '',
    userAgent: typeof ua === 'string' ? ua : '',
  };
}

/** `seen` null: what happens by time (the expiry sweep) answers no request, so the entry has none. */
function base(action: GovernanceAction, actor: EntryActor, seen: RequestSeen | null): GovernanceEntryInput {
  const input: GovernanceEntryInput = { action, principal: actor.principal };
  if (actor.via !== undefined) input.via = actor.via;
  if (seen) input.request = requestInfo(seen);
  return input;
}

/** The gateway itself, as the actor of what happens by time (expiry). */
export const GATEWAY_ACTOR: EntryActor = { principal: 'apg' };

function withReveal(input: GovernanceEntryInput, facts: RevealFacts): GovernanceEntryInput {
  if (facts.reason !== undefined) input.reason = facts.reason;
  if (facts.scope !== undefined) input.scope = { groups: [...facts.scope.groups], actors: [...facts.scope.actors] };
  if (facts.revealRequest !== undefined) input.revealRequest = facts.revealRequest;
  return input;
}

function withToken(input: GovernanceEntryInput, actor: EntryActor): GovernanceEntryInput {
  if (actor.token) input.token = actor.token.jti === undefined ? { iss: actor.token.iss } : { iss: actor.token.iss, jti: actor.token.jti };
  return input;
}

/** `private-activities.viewed`: a granted reveal and the private activities it showed (SPEC §6, §10). */
export function viewedEntry(
  actor: EntryActor,
  seen: RequestSeen,
  facts: RevealFacts,
  shown: { count: number; ids: string[]; actors: ReadonlyMap<string, number> },
): GovernanceEntryInput {
  const input = base('private-activities.viewed', actor, seen);
  // actors: one item per person whose private activities were shown (SPEC §6 v3), in order of first appearance
  const actors = [...shown.actors].map(([principal, count]) => ({ principal, count }));
  input.privateActivities = { count: shown.count, ids: shown.ids, actors };
  return withToken(withReveal(input, facts), actor);
}

/** `private-activities.denied`: a refused reveal and why (SPEC §10). */
export function deniedEntry(actor: EntryActor, seen: RequestSeen, denial: { code: string; message: string }, facts: RevealFacts): GovernanceEntryInput {
  const input = withReveal(base('private-activities.denied', actor, seen), facts);
  input.denial = denial;
  return withToken(input, actor);
}

/** What an admin change records beside its target. */
export type ChangeExtra = Pick<GovernanceEntryInput, 'permission' | 'reason' | 'scope' | 'mode' | 'revealRequest'>;

/** An admin change (groups, permissions, reveal requests): written before the change is applied. */
export function changeEntry(
  action: GovernanceAction,
  actor: EntryActor,
  seen: RequestSeen | null,
  target: string,
  extra: ChangeExtra = {},
): GovernanceEntryInput {
  return { ...base(action, actor, seen), target, ...extra };
}
