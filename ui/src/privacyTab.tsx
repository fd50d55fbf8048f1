import { useState } from 'preact/hooks';
import { adminApi, ApiError, errorText, send } from './api';
import { useCatalogue, type CatalogueGroup } from './groupPicker';
import { formatTime } from './format';
import { Confirm, Dialog, ErrorMessage, useAdminList } from './components';

interface GroupRow {
  id: string;
  name: string;
  privateSince: string;
  privateUntil: string | null;
  /** SPEC §14: hide (removed) or pseudonymise (kept, the person replaced by a pseudonym) */
  mode?: 'hide' | 'pseudonymise';
}
type GroupMode = 'hide' | 'pseudonymise';

/** Tab "Activity privacy": the private groups, "Add user groups" and "Remove" (SPEC §13). */
export function PrivacyTab() {
  const { items: groups, error, reload: load } = useAdminList<GroupRow>('privacy/groups', 'groups');
  const [adding, setAdding] = useState(false);
  const [removing, setRemoving] = useState<GroupRow | null>(null);
  const active = (groups ?? []).filter((g) => g.privateUntil === null);
  return (
    <section aria-labelledby="privacy-heading">
      <div class="toolbar">
        <h2 id="privacy-heading">Private user groups</h2>
        <button type="button" class="primary" onClick={() => setAdding(true)}>
          Add user groups
        </button>
      </div>
      <p class="hint">
        Activities of members of these groups are hidden from the activity log from the moment a group is added; earlier activities are not affected. Only
        permitted admins can show them, and every time they do it is recorded in the governance log.
      </p>
      <ErrorMessage text={error} />
      {groups === null ? (
        <p>Loading…</p>
      ) : (
        <div class="table-wrap" tabIndex={0} role="region" aria-label="Private user groups table">
          <table>
            <caption class="sr-only">Private user groups, current and past</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Id</th>
                <th scope="col">Private since</th>
                <th scope="col">Until</th>
                <th scope="col">Mode</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {groups.length === 0 && (
                <tr>
                  <td colSpan={7}>No private groups.</td>
                </tr>
              )}
              {groups.map((g) => (
                <tr key={`${g.id}-${g.privateSince}`}>
                  <td>{g.name}</td>
                  <td>
                    <code>{g.id}</code>
                  </td>
                  <td>{formatTime(g.privateSince)}</td>
                  <td>{g.privateUntil === null ? '—' : formatTime(g.privateUntil)}</td>
                  <td>{g.mode === 'pseudonymise' ? 'Pseudonymise' : 'Hide'}</td>
                  <td>{g.privateUntil === null ? 'Active' : 'Ended'}</td>
                  <td>
                    {g.privateUntil === null && (
                      <button type="button" aria-label={`Remove ${g.name}`} onClick={() => setRemoving(g)}>
                        Remove
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {adding && <AddGroupsDialog activeIds={new Set(active.map((g) => g.id))} onClose={() => setAdding(false)} onAdded={load} />}
      {removing && (
        <Confirm
          title="Remove group"
          action="Remove"
          text={`Stop hiding the activities of ${removing.name} (${removing.id}) from now on? Activities from while it was private stay private.`}
          onConfirm={async () => {
            await send('DELETE', adminApi(`privacy/groups/${encodeURIComponent(removing.id)}`));
            await load();
          }}
          onClose={() => setRemoving(null)}
        />
      )}
    </section>
  );
}

function AddGroupsDialog(props: { activeIds: Set<string>; onClose: () => void; onAdded: () => Promise<void> }) {
  const [search, setSearch] = useState('');
  const [selected, setSelected] = useState<Map<string, CatalogueGroup>>(new Map());
  const [freeId, setFreeId] = useState('');
  const [freeName, setFreeName] = useState('');
  const [error, setError] = useState<string | null>(null);
  // null: not loaded yet; 'unavailable': the gateway has no catalogue endpoint (free-text id)
  const catalogue = useCatalogue(search, setError);
  const [suggestions, setSuggestions] = useState<CatalogueGroup[]>([]);
  const [busy, setBusy] = useState(false);
  const [mode, setMode] = useState<GroupMode>('hide');

  const toggle = (g: CatalogueGroup, on: boolean) => {
    const next = new Map(selected);
    if (on) next.set(g.id, g);
    else next.delete(g.id);
    setSelected(next);
  };

  const add = async () => {
    const chosen: { id: string; name?: string }[] =
      catalogue === 'unavailable'
        ? freeId.trim()
          ? [{ id: freeId.trim(), ...(freeName.trim() ? { name: freeName.trim() } : {}) }]
          : []
        : [...selected.values()].map((g) => ({ id: g.id, name: g.name }));
    // hide is the default: the body names the mode only when it pseudonymises
    const wanted = chosen.map((g) => (mode === 'pseudonymise' ? { ...g, mode } : g));
    if (wanted.length === 0) {
      setError('Select at least one group.');
      return;
    }
    setBusy(true);
    setError(null);
    setSuggestions([]);
    const failed: string[] = [];
    for (const g of wanted) {
      try {
        await send('POST', adminApi('privacy/groups'), g);
        selected.delete(g.id);
      } catch (err) {
        failed.push(`${g.id}: ${errorText(err)}`);
        const s = err instanceof ApiError ? err.details?.suggestions : undefined;
        if (Array.isArray(s))
          setSuggestions(
            s.filter((x: unknown): x is CatalogueGroup => typeof x === 'object' && x !== null && 'id' in x && typeof x.id === 'string').slice(0, 5),
          );
      }
    }
    setBusy(false);
    await props.onAdded();
    if (failed.length === 0) props.onClose();
    else {
      setSelected(new Map(selected));
      setError(`Not added: ${failed.join('; ')}`);
    }
  };

  return (
    <Dialog title="Add user groups" onClose={props.onClose} wide>
      <p>Select the groups whose activities become private from now on. Existing activities are not affected.</p>
      {catalogue === 'unavailable' ? (
        <>
          <p class="hint">This gateway has no group catalogue: type the group's id as the directory names it.</p>
          <label>
            Group id
            <input type="text" value={freeId} onInput={(e) => setFreeId(e.currentTarget.value)} autoComplete="off" required />
          </label>
          <label>
            Display name (optional)
            <input type="text" value={freeName} onInput={(e) => setFreeName(e.currentTarget.value)} autoComplete="off" />
          </label>
        </>
      ) : (
        <>
          <label>
            Search groups
            <input type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} autoComplete="off" />
          </label>
          <fieldset>
            <legend>Select user groups</legend>
            {catalogue === null ? (
              <p>Loading the group catalogue…</p>
            ) : catalogue.length === 0 ? (
              <p>No group matches.</p>
            ) : (
              <ul class="checklist">
                {catalogue.map((g) => {
                  const already = props.activeIds.has(g.id);
                  return (
                    <li key={g.id}>
                      <label class="check">
                        <input
                          type="checkbox"
                          checked={already || selected.has(g.id)}
                          disabled={already}
                          onChange={(e) => toggle(g, e.currentTarget.checked)}
                        />
                        <span>{g.name === g.id ? g.name : `${g.name} (${g.id})`}</span>
                        {already && <span class="badge">already private</span>}
                        {g.source && <span class="source">{g.source}</span>}
                      </label>
                    </li>
                  );
                })}
              </ul>
            )}
          </fieldset>
        </>
      )}
      <fieldset>
        <legend>What happens to their activities</legend>
        <label class="check">
          <input type="radio" name="group-mode" value="hide" checked={mode === 'hide'} onChange={() => setMode('hide')} />
          <span>Hide — removed from the activity log and every export</span>
        </label>
        <label class="check">
          <input type="radio" name="group-mode" value="pseudonymise" checked={mode === 'pseudonymise'} onChange={() => setMode('pseudonymise')} />
          <span>Pseudonymise — kept, the person replaced by a stable pseudonym that only an audited re-identification resolves</span>
        </label>
      </fieldset>
      <ErrorMessage text={error} />
      {suggestions.length > 0 && <p>Did you mean: {suggestions.map((s) => `${s.name} (${s.id})`).join(', ')}?</p>}
      <div class="buttons">
        <button type="button" class="primary" disabled={busy} onClick={add}>
          Add
        </button>
        <button type="button" onClick={props.onClose}>
          Cancel
        </button>
      </div>
    </Dialog>
  );
}
