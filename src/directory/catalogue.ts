/**
 * The group catalogue (SPEC §9): every group an admin may make private. The two built-in
 * groups, the keys of `directory.groups` (static), `directory.knownGroups` (known), and the
 * groups the LDAP, Graph and HTTP sources list, each source's list refreshed at most every
 * ttlSec: once a list is older, the next use starts a refresh in the background and answers
 * with the previous list while it is within staleSec (a failed refresh keeps it that long);
 * past that, the use waits for the refresh.
 *
 * An id several sources list appears once: its source is the first of builtin, ldap, graph,
 * http, known, static that lists it; its name the first that exists of the directory
 * source's name, the knownGroups name, the privacy.groups / state name, the id. Order:
 * built-ins first, then the static, known, ldap, graph and http groups, each part sorted
 * by name. Searching matches id or name case-insensitively (a linear scan over lower-cased
 * text prepared once per merge: ~ms at 50,000 groups).
 */
import { withDeadline } from './deadline.js';
import { prepare, suggest, type Prepared } from './suggest.js';
import { DirectoryError, NO_OBSERVER, reasonOf, type CatalogueEntry, type DirectoryObserver, type SourceName } from './types.js';
import { BUILTIN_APPLICATION, BUILTIN_EXTERNAL } from '../privacy/types.js';

export type CatalogueSource = 'builtin' | 'static' | 'known' | SourceName;

export interface CatalogueGroup {
  id: string;
  name: string;
  source: CatalogueSource;
}

export interface RemoteList {
  name: SourceName;
  ttlSec: number;
  staleSec: number;
  timeoutMs: number;
  list(signal: AbortSignal): Promise<CatalogueEntry[]>;
}

export interface CatalogueOptions {
  staticIds: readonly string[];
  known: ReadonlyArray<{ id: string; name?: string }>;
  /** privacy.groups and state names by id (the state's latest name wins); read on every merge */
  localNames: () => ReadonlyMap<string, string>;
  remotes: readonly RemoteList[];
  now?: () => number;
  observer?: DirectoryObserver;
}

export interface CatalogueView {
  groups: readonly CatalogueGroup[];
  byId: ReadonlyMap<string, CatalogueGroup>;
  /** sources whose list could not be loaded (and had none within staleSec) */
  failed: readonly SourceName[];
}

export type Choice = { kind: 'known'; group: CatalogueGroup } | { kind: 'unknown'; suggestions: Array<{ id: string; name: string }> } | { kind: 'unavailable' };

export const BUILTINS: readonly CatalogueGroup[] = [
  { id: BUILTIN_EXTERNAL, name: 'External users', source: 'builtin' },
  { id: BUILTIN_APPLICATION, name: 'Application', source: 'builtin' },
];

const SOURCE_PRECEDENCE: readonly CatalogueSource[] = ['builtin', 'ldap', 'graph', 'http', 'known', 'static'];
const LIST_ORDER: readonly CatalogueSource[] = ['builtin', 'static', 'known', 'ldap', 'graph', 'http'];

interface Part {
  entries: CatalogueEntry[] | undefined;
  at: number;
  pending: Promise<void> | undefined;
}

/** Pure merge of the parts (exported for tests and the 50,000-group measurement). */
export function mergeCatalogue(parts: ReadonlyMap<CatalogueSource, readonly CatalogueEntry[]>, localNames: ReadonlyMap<string, string>): CatalogueGroup[] {
  const chosen = new Map<string, CatalogueGroup>();
  for (const source of SOURCE_PRECEDENCE) {
    for (const e of parts.get(source) ?? []) {
      if (chosen.has(e.id)) continue; // the first source in precedence order keeps it
      chosen.set(e.id, { id: e.id, name: e.name, source });
    }
  }
  // names: directory source name, else knownGroups name, else privacy.groups/state name, else id
  const knownNames = new Map((parts.get('known') ?? []).filter((k) => k.name !== k.id).map((k) => [k.id, k.name]));
  for (const g of chosen.values()) {
    if (g.source === 'builtin') continue;
    const directoryName = g.source === 'ldap' || g.source === 'graph' || g.source === 'http' ? g.name : undefined;
    g.name = directoryName ?? knownNames.get(g.id) ?? localNames.get(g.id) ?? g.id;
  }
  const rank = new Map(LIST_ORDER.map((s, i) => [s, i]));
  const list = [...chosen.values()];
  const builtins = list
    .filter((g) => g.source === 'builtin')
    .sort((a, b) => BUILTINS.findIndex((x) => x.id === a.id) - BUILTINS.findIndex((x) => x.id === b.id));
  const rest = list
    .filter((g) => g.source !== 'builtin')
    .map((g) => ({ g, key: g.name.toLowerCase() }))
    .sort((a, b) => rank.get(a.g.source)! - rank.get(b.g.source)! || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) || (a.g.id < b.g.id ? -1 : 1))
    .map((x) => x.g);
  return [...builtins, ...rest];
}

/** Case-insensitive search over id and name; `haystack` holds `${id}\n${name}` lower-cased per group. */
export function searchCatalogue(groups: readonly CatalogueGroup[], haystack: readonly string[], search: string, limit: number): CatalogueGroup[] {
  const q = search.trim().toLowerCase();
  if (q === '') return groups.slice(0, limit);
  const out: CatalogueGroup[] = [];
  for (let i = 0; i < groups.length && out.length < limit; i++) if (haystack[i].includes(q)) out.push(groups[i]);
  return out;
}

export class Catalogue {
  private readonly parts = new Map<SourceName, Part>();
  private readonly now: () => number;
  private readonly observer: DirectoryObserver;
  private merged: { key: unknown[]; view: CatalogueView; haystack: string[]; prepared: Prepared[] | undefined } | undefined;

  constructor(private readonly opts: CatalogueOptions) {
    this.now = opts.now ?? (() => performance.now());
    this.observer = opts.observer ?? NO_OBSERVER;
    for (const r of opts.remotes) this.parts.set(r.name, { entries: undefined, at: -Infinity, pending: undefined });
  }

  private refresh(r: RemoteList, part: Part): Promise<void> {
    part.pending ??= withDeadline(r.timeoutMs, (signal) => r.list(signal))
      .then(
        (entries) => {
          part.entries = entries;
          part.at = this.now();
          this.observer.catalogue(r.name, 'ok');
        },
        (err: unknown) => {
          this.observer.catalogue(r.name, 'failure');
          this.observer.failed(r.name, reasonOf(err));
        },
      )
      .finally(() => {
        part.pending = undefined;
      });
    return part.pending;
  }

  /** The current catalogue; remote lists older than ttlSec are refreshed first. */
  async view(): Promise<CatalogueView> {
    const failed: SourceName[] = [];
    await Promise.all(
      this.opts.remotes.map(async (r) => {
        const part = this.parts.get(r.name)!;
        const age = this.now() - part.at;
        if (age < r.ttlSec * 1000) return;
        const refreshing = this.refresh(r, part);
        // a list still within staleSec answers now while the refresh runs; otherwise wait for it
        if (part.entries === undefined || age >= (r.ttlSec + r.staleSec) * 1000) await refreshing;
      }),
    );
    const lists = new Map<CatalogueSource, readonly CatalogueEntry[]>();
    lists.set('builtin', BUILTINS);
    lists.set(
      'static',
      this.opts.staticIds.map((id) => ({ id, name: id })),
    );
    lists.set(
      'known',
      this.opts.known.map((k) => ({ id: k.id, name: k.name ?? k.id })),
    );
    for (const r of this.opts.remotes) {
      const part = this.parts.get(r.name)!;
      const usable = part.entries !== undefined && this.now() - part.at < (r.ttlSec + r.staleSec) * 1000;
      if (usable) lists.set(r.name, part.entries!);
      else failed.push(r.name);
    }
    const names = this.opts.localNames();
    const key = [names, ...this.opts.remotes.map((r) => lists.get(r.name))];
    if (!this.merged || this.merged.key.length !== key.length || this.merged.key.some((k, i) => k !== key[i])) {
      const groups = mergeCatalogue(lists, names);
      this.merged = {
        key,
        view: { groups, byId: new Map(groups.map((g) => [g.id, g])), failed: [] },
        haystack: groups.map((g) => `${g.id}\n${g.name}`.toLowerCase()),
        prepared: undefined, // made on the first unknown id
      };
    }
    return { ...this.merged.view, failed };
  }

  async search(search: string, limit: number): Promise<{ groups: CatalogueGroup[]; failed: readonly SourceName[] }> {
    const v = await this.view();
    return { groups: searchCatalogue(v.groups, this.merged!.haystack, search, limit), failed: v.failed };
  }

  /**
   * "Is this id in the catalogue?" for reveal scopes and scoped permissions (SPEC §10):
   * true / false, and rejects (fail closed) when a source that might list it cannot be loaded.
   */
  async isKnownGroup(id: string): Promise<boolean> {
    const c = await this.choose(id);
    if (c.kind === 'unavailable') throw new DirectoryError('the group catalogue cannot be loaded');
    return c.kind === 'known';
  }

  /** Is `id` a catalogue group? Found in any loaded part is enough; otherwise a failed part makes it undecidable. */
  async choose(id: string): Promise<Choice> {
    const v = await this.view();
    const group = v.byId.get(id);
    if (group) return { kind: 'known', group };
    if (v.failed.length > 0) return { kind: 'unavailable' };
    const m = this.merged!;
    m.prepared ??= m.view.groups.map(prepare);
    return { kind: 'unknown', suggestions: suggest(id, m.view.groups, 5, m.prepared).map((g) => ({ id: g.id, name: g.name })) };
  }
}
