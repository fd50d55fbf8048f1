/**
 * "Is this group id in the catalogue?" (SPEC §9) — what a reveal scope and a
 * scoped permission check their `group:` ids against.
 *
 * INTERIM: the full catalogue (LDAP, Graph, HTTP `groupsUrl`, `knownGroups`) is
 * built on the `directory` branch. Until it is merged, the known ids are the
 * built-in groups, the keys of `directory.groups`, and every group the privacy
 * state has ever recorded (seeded or added). Swap `interimKnownGroups` for the
 * catalogue once both are on main; callers only see the interface.
 */
import { BUILTIN_APPLICATION, BUILTIN_EXTERNAL } from '../privacy/types.js';
import type { PrivacyState } from '../state/types.js';

export interface KnownGroups {
  /** rejects (fail closed) when the catalogue cannot be consulted */
  isKnownGroup(id: string): Promise<boolean>;
}

export function interimKnownGroups(sources: { directoryGroups: () => Record<string, unknown>; state: () => PrivacyState }): KnownGroups {
  return {
    async isKnownGroup(id) {
      if (id === BUILTIN_EXTERNAL || id === BUILTIN_APPLICATION) return true;
      if (Object.prototype.hasOwnProperty.call(sources.directoryGroups(), id)) return true;
      return sources.state().groups.some((g) => g.id === id);
    },
  };
}

/** The ids of `ids` that are not in the catalogue, in their order. */
export async function unknownGroups(catalogue: KnownGroups, ids: readonly string[]): Promise<string[]> {
  const known = await Promise.all(ids.map((id) => catalogue.isKnownGroup(id)));
  return ids.filter((_, i) => !known[i]);
}
