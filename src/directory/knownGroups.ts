/**
 * "Is this group id in the catalogue?" (SPEC §9) — what a reveal scope (SPEC §10)
 * and a reveal request's scope (SPEC §11) check their `group:` ids against. The
 * gateway backs it by the directory's Catalogue (catalogue.ts, `isKnownGroup`),
 * which rejects when a source that might list the id cannot be loaded (fail closed).
 */
export interface KnownGroups {
  /** rejects (fail closed) when the catalogue cannot be consulted */
  isKnownGroup(id: string): Promise<boolean>;
}

/** The ids of `ids` that are not in the catalogue, in their order. */
export async function unknownGroups(catalogue: KnownGroups, ids: readonly string[]): Promise<string[]> {
  const known = await Promise.all(ids.map((id) => catalogue.isKnownGroup(id)));
  return ids.filter((_, i) => !known[i]);
}
