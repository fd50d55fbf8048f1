import { systemClock, type Clock } from '../clock.js';
import { normalizePrincipal } from '../principal.js';
import { compilePolicy, makeHideBatch, type CompiledPolicy } from './decision.js';
import { permissionExpired, type PermissionFacts } from './grant.js';
import { combineMembership, isIncomplete, staticMembership } from './membership.js';
import { makeRevealBatch, type RevealBatch, type RevealLimits } from './revealFilter.js';
import type { HideBatch, Membership, MembershipSource, PolicySnapshot, PrivacyStateSource, PrivacyStateView, RevealRequest } from './types.js';

export interface EngineOptions {
  managedDomains: readonly string[];
  undecidable: 'withhold' | 'show';
  directoryGroups: Record<string, string[]>;
  /** optional dynamic membership (the LDAP/Graph/HTTP directory); resolved before the pure decision */
  directory?: MembershipSource;
}

/**
 * Joins the runtime state (private groups, permissions) with the configured
 * policy and membership sources. Recompiled when either changes, so each
 * request reads one consistent snapshot without locks.
 */
export class PrivacyEngine {
  private snapshot!: {
    policy: CompiledPolicy;
    hide: HideBatch;
    permissions: Map<string, PermissionFacts>;
    membership: Membership;
    requests: Map<string, RevealRequest>;
  };
  private unsubscribe: () => void;

  constructor(
    private opts: EngineOptions,
    private readonly state: PrivacyStateSource,
    /** the time of permission expiry (isPermitted); gateway.ts passes its one clock, tests move theirs */
    private readonly clock: Clock = systemClock,
  ) {
    this.compile(state.current());
    this.unsubscribe = state.onChange((s) => this.compile(s));
  }

  reconfigure(opts: EngineOptions): void {
    this.opts = opts;
    this.compile(this.state.current());
  }

  private compile(s: PrivacyStateView): void {
    const policy = compilePolicy({
      intervals: s.groups,
      managedDomains: this.opts.managedDomains.map((d) => d.toLowerCase()),
      undecidable: this.opts.undecidable,
    } satisfies PolicySnapshot);
    const membership = staticMembership(this.opts.directoryGroups);
    this.snapshot = {
      policy,
      membership,
      hide: makeHideBatch(policy, membership),
      permissions: new Map(s.permissions.map((p) => [normalizePrincipal(p.principal) ?? '', p])),
      requests: new Map((s.revealRequests ?? []).map((r) => [r.id, r])),
    };
  }

  /** The batch classifier for this moment's policy: true = private (or undecidable under withhold). */
  hideBatch(): HideBatch {
    const snap = this.snapshot;
    const directory = this.opts.directory;
    if (!directory) return snap.hide;
    return async (facts) => {
      const principals = [...new Set(facts.map((f) => f.actor).filter((a): a is string => !!a))];
      const dynamic = await directory.prefetch(principals);
      return makeHideBatch(snap.policy, combineMembership(snap.membership, dynamic))(facts);
    };
  }

  /**
   * The classifier of a granted reveal: which private activities it shows and which
   * stay withheld (SPEC §10 scope and scoped permission), for this moment's policy.
   */
  revealBatch(limits: RevealLimits): RevealBatch {
    const snap = this.snapshot;
    const directory = this.opts.directory;
    if (!directory) return makeRevealBatch(snap.policy, snap.membership, limits);
    return async (facts) => {
      const principals = [...new Set(facts.map((f) => f.actor).filter((a): a is string => !!a))];
      const dynamic = await directory.prefetch(principals);
      return makeRevealBatch(snap.policy, combineMembership(snap.membership, dynamic), limits)(facts);
    };
  }

  /** SPEC §11: a reveal request by id, as this instance last saw the state */
  revealRequest(id: string): RevealRequest | undefined {
    return this.snapshot.requests.get(id);
  }

  /**
   * Is the principal a member (directory, nested included) of any of these groups?
   * 'unknown' when a source failed and what answered does not settle it.
   */
  async memberOfAny(principal: string, groups: readonly string[]): Promise<boolean | 'unknown'> {
    if (groups.length === 0) return false;
    const snap = this.snapshot;
    const directory = this.opts.directory;
    let m = snap.membership;
    if (directory) {
      try {
        m = combineMembership(snap.membership, await directory.prefetch([principal]));
      } catch {
        return 'unknown';
      }
    }
    const r = m(principal);
    if (r === 'unknown') return 'unknown';
    if (groups.some((g) => r.has(g))) return true;
    return isIncomplete(r) ? 'unknown' : false;
  }

  /** The principal's permission record, expired or not (the caller decides with its clock); undefined when none. */
  permission(principal: string): PermissionFacts | undefined {
    return this.snapshot.permissions.get(normalizePrincipal(principal) ?? '');
  }

  /** On the permission list and not expired at `now` (default: the engine's clock). */
  isPermitted(principal: string, now = this.clock.now()): boolean {
    const p = this.permission(principal);
    return p !== undefined && !permissionExpired(p, now);
  }

  close(): void {
    this.unsubscribe();
  }
}
