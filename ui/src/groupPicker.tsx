import { useEffect, useState } from 'preact/hooks';
import { adminApi, ApiError, errorText, getJson } from './api';
import { ErrorMessage } from './components';

export interface CatalogueGroup {
  id: string;
  name: string;
  source?: string;
}

/** What the catalogue search shows: not loaded yet, no catalogue endpoint (404: free-text ids), or the groups found. */
export type CatalogueState = CatalogueGroup[] | 'unavailable' | null;

/**
 * The group catalogue (GET api/directory/groups, SPEC §9) searched as `search` changes (250 ms
 * after typing stops); errors other than a missing endpoint go to `onError`.
 */
export function useCatalogue(search: string, onError: (message: string) => void): CatalogueState {
  const [catalogue, setCatalogue] = useState<CatalogueState>(null);
  useEffect(() => {
    if (catalogue === 'unavailable') return;
    let stale = false;
    const t = setTimeout(
      async () => {
        try {
          const r = await getJson<{ groups: CatalogueGroup[] }>(adminApi(`directory/groups?search=${encodeURIComponent(search)}&limit=100`));
          if (!stale) setCatalogue(r.groups);
        } catch (err) {
          if (stale) return;
          if (err instanceof ApiError && err.status === 404) setCatalogue('unavailable');
          else {
            setCatalogue([]);
            onError(errorText(err));
          }
        }
      },
      catalogue === null ? 0 : 250,
    );
    return () => {
      stale = true;
      clearTimeout(t);
    };
  }, [search]);
  return catalogue;
}

/**
 * Groups picked from the catalogue (GET api/directory/groups, SPEC §9), as in "Add user groups":
 * a search box and checkboxes in a fieldset named by `legend`. Without a catalogue endpoint
 * (404) a text box of comma-separated ids stands in.
 */
export function GroupPicker(props: { legend: string; hint: string; selected: string[]; onChange: (ids: string[]) => void }) {
  const [search, setSearch] = useState('');
  const [error, setError] = useState<string | null>(null);
  const catalogue = useCatalogue(search, setError);
  const [free, setFree] = useState('');

  if (catalogue === 'unavailable')
    return (
      <>
        <label>
          {props.legend}
          <input
            type="text"
            value={free}
            autoComplete="off"
            aria-describedby="picker-hint"
            onInput={(e) => {
              setFree(e.currentTarget.value);
              props.onChange(
                e.currentTarget.value
                  .split(',')
                  .map((g) => g.trim())
                  .filter((g) => g !== ''),
              );
            }}
          />
        </label>
        <p id="picker-hint" class="hint">
          {props.hint} This gateway has no group catalogue: type group ids separated by commas.
        </p>
      </>
    );

  const toggle = (id: string, on: boolean) => props.onChange(on ? [...props.selected.filter((g) => g !== id), id] : props.selected.filter((g) => g !== id));
  return (
    <fieldset aria-describedby="picker-hint">
      <legend>{props.legend}</legend>
      <p id="picker-hint" class="hint">
        {props.hint}
        {props.selected.length > 0 ? ` Selected: ${props.selected.join(', ')}.` : ''}
      </p>
      <label>
        Search groups
        <input type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} autoComplete="off" />
      </label>
      <ErrorMessage text={error} />
      {catalogue === null ? (
        <p>Loading the group catalogue…</p>
      ) : catalogue.length === 0 ? (
        <p>No group matches.</p>
      ) : (
        <ul class="checklist">
          {catalogue.map((g) => (
            <li key={g.id}>
              <label class="check">
                <input type="checkbox" checked={props.selected.includes(g.id)} onChange={(e) => toggle(g.id, e.currentTarget.checked)} />
                <span>{g.name === g.id ? g.name : `${g.name} (${g.id})`}</span>
                {g.source && <span class="source">{g.source}</span>}
              </label>
            </li>
          ))}
        </ul>
      )}
    </fieldset>
  );
}
