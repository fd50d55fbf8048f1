/**
 * What the admin application is built from: one object, made once by gateway.ts. Each
 * route module takes only the part it uses (`Pick<AdminDeps, …>`), so its tests build it
 * from real modules with in-memory stores.
 */
import type { Clock } from '../clock.js';
import type { GatewayConfig } from '../config/index.js';
import type { ConsoleParts } from '../console/index.js';
import type { Directory } from '../directory/index.js';
import type { KnownGroups } from '../directory/knownGroups.js';
import type { BucketKind, Summary } from '../governance/reports.js';
import type { GovernanceSink, QueryFilter } from '../governance/types.js';
import type { Pseudonymiser } from '../privacy/pseudonym.js';
import type { ExchangeHandler } from '../http/dispatch.js';
import type { IdentityVerifier } from '../identity/index.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { RevealRequest } from '../privacy/approval.js';
import type { PermissionFacts } from '../privacy/grant.js';
import type { PrivacyChange, PrivacyChangeKind, StateStore } from '../state/types.js';
import type { RecordChange, Serialise } from './changes.js';
import type { AdminContext } from './context.js';

export type RequestEvent = 'created' | 'approved' | 'denied';

export interface AdminDeps {
  clock: Clock;
  /** the live configuration (reveal, privacy, directory.groups, server.adminPrefix, identity) */
  config: () => GatewayConfig;
  state: () => StateStore;
  governance: () => GovernanceSink | null;
  identity: () => IdentityVerifier | null;
  /** the directory of the current configuration (membership checks, the group catalogue) */
  directory: () => Directory;
  /** SPEC §9/§10 catalogue check for scopes and scoped permissions */
  knownGroups: KnownGroups;
  /** the compiled policy's view of permissions and memberships */
  permission: (principal: string) => PermissionFacts | undefined;
  memberOfAny: (principal: string, groups: readonly string[]) => Promise<boolean | 'unknown'>;
  /** SPEC §9 v3: whether two principals are one person (one directory entry); 'unknown' when the directory cannot tell */
  samePerson: (a: string, b: string) => Promise<boolean | 'unknown'>;
  /** SPEC §11 notifications; never blocks */
  notify: (event: RequestEvent, request: RevealRequest) => void;
  metrics: Metrics;
  logger: Logger;
  /** readiness of every part the gateway needs (config, state, governance, JWKS) */
  ready: () => Promise<{ ready: boolean; checks: Record<string, boolean> }>;
  /** a fresh signed checkpoint of the chain head (SPEC §12); null when none is configured */
  checkpoint: () => Promise<string> | null;
  /** the admin console (SPEC §13), when configured */
  console: ConsoleParts | null;
  /** SPEC §14: the pseudonyms of the live configuration's keys; null without a key */
  pseudonymiser: () => Pseudonymiser | null;
  /** the proxy journey: the console's activity log is a request to it with the session's identity */
  proxy: ExchangeHandler;
  /** the metrics exposition when it is not this process's registry alone (server.workers: the sum) */
  scrape?: () => Promise<string>;
  /** one change at a time when several processes change state (server.workers); default: this process's */
  serialise?: Serialise;
  /** the summary report counted beside the sink (server.workers: in the primary); default: in this process */
  summarise?: Summarise;
}

/** The summary report of the entries a filter matches (SPEC §15). */
export type Summarise = (filter: QueryFilter, kind: BucketKind) => Promise<Summary>;

/** What the API's change routes share: the serialiser and the record-then-apply of the one admin app. */
export interface ChangeTools {
  serialised: Serialise;
  record: RecordChange;
}

/** SPEC §11 v3: how a route asks for a change that must wait for a second person. */
export interface PendingChanges {
  /** Records and stores a pending change asked by the request's admin. */
  ask(ctx: AdminContext, kind: PrivacyChangeKind, target: string, body: Record<string, unknown>): Promise<PrivacyChange>;
}
