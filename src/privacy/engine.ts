import { normalizePrincipal } from '../principal.js';
import { compilePolicy, makeHideBatch, type CompiledPolicy } from './decision.js';
import { combineMembership, staticMembership } from './membership.js';
import type { HideBatch, Membership, MembershipSource, PolicySnapshot, PrivacyStateSource, PrivacyStateView } from './types.js';

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
  private snapshot!: { policy: CompiledPolicy; hide: HideBatch; permitted: Set<string>; membership: Membership };
  private unsubscribe: () => void;

  constructor(private opts: EngineOptions, private readonly state: PrivacyStateSource) {
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
      permitted: new Set(s.permissions.map((p) => normalizePrincipal(p.principal) ?? '')),
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

  isPermitted(principal: string): boolean {
    const p = normalizePrincipal(principal);
    return p !== undefined && this.snapshot.permitted.has(p);
  }

  close(): void {
    this.unsubscribe();
  }
}
