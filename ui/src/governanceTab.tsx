import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { adminApi, errorText, getJson, request } from './api';
import { formatTime, localToIso, toCsv } from './format';
import { Dialog, ErrorMessage } from './components';

export const ACTIONS = [
  'private-activities.viewed',
  'private-activities.denied',
  'privacy-group.added',
  'privacy-group.removed',
  'reveal-permission.granted',
  'reveal-permission.revoked',
  'reveal-request.created',
  'reveal-request.approved',
  'reveal-request.denied',
  'reveal-request.revoked',
  'reveal-request.expired',
  'privacy-change.requested',
  'privacy-change.approved',
  'privacy-change.denied',
  'privacy-change.expired',
] as const;

interface Entry {
  seq: number;
  id: string;
  time: string;
  action: string;
  principal: string;
  via?: string;
  target?: string;
  reason?: string;
  privateActivities?: { count: number };
  request?: { id?: string };
  instance?: string;
  hash?: string;
  [field: string]: unknown;
}

interface Filters {
  action: string;
  principal: string;
  since: string;
  until: string;
}

const PAGE = 50;
/** entries read for one view at most (20 pages of 1000) */
const MAX_READ = 20_000;

function query(f: Filters, extra: Record<string, string>): string {
  const q = new URLSearchParams(extra);
  if (f.action) q.set('action', f.action);
  if (f.principal.trim()) q.set('principal', f.principal.trim().toLowerCase());
  const since = localToIso(f.since);
  const until = localToIso(f.until);
  if (since) q.set('since', since);
  if (until) q.set('until', until);
  return q.toString();
}

/** The filters again on this side: a gateway that ignores some of them still shows the right rows. */
function matches(e: Entry, f: Filters): boolean {
  if (f.action && e.action !== f.action) return false;
  if (f.principal.trim() && e.principal !== f.principal.trim().toLowerCase()) return false;
  const t = Date.parse(e.time);
  const since = localToIso(f.since);
  const until = localToIso(f.until);
  if (since && t < Date.parse(since)) return false;
  if (until && t >= Date.parse(until)) return false;
  return true;
}

function download(name: string, blob: Blob): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

const FILTER_KEYS = ['action', 'principal', 'since', 'until'] as const;

/** The filters (and the open entry) as the page's query string: a link inside the console that opens this view. */
function fromUrl(): { filters: Filters; entry: number | null } {
  const q = new URLSearchParams(location.search);
  const f: Filters = { action: '', principal: '', since: '', until: '' };
  for (const k of FILTER_KEYS) f[k] = q.get(k) ?? '';
  const entry = Number(q.get('entry'));
  return { filters: f, entry: Number.isSafeInteger(entry) && entry > 0 ? entry : null };
}

function toUrl(f: Filters, entry: number | null): void {
  const q = new URLSearchParams(location.search);
  for (const k of FILTER_KEYS) {
    if (f[k]) q.set(k, f[k]);
    else q.delete(k);
  }
  if (entry !== null) q.set('entry', String(entry));
  else q.delete('entry');
  const s = q.toString();
  history.replaceState(null, '', `${location.pathname}${s ? `?${s}` : ''}${location.hash}`);
}

/** Tab "Governance log": entries newest first, filters kept in the URL, "Entry details", "Verify chain", "Download CSV" (SPEC §13). */
export function GovernanceTab() {
  const empty: Filters = { action: '', principal: '', since: '', until: '' };
  const start = fromUrl();
  const [draft, setDraft] = useState<Filters>(start.filters);
  const [filters, setFiltersState] = useState<Filters>(start.filters);
  const [detailSeq, setDetailSeqState] = useState<number | null>(start.entry);
  const setFilters = (f: Filters) => {
    setFiltersState(f);
    toUrl(f, detailSeq);
  };
  const setDetailSeq = (seq: number | null) => {
    setDetailSeqState(seq);
    toUrl(filters, seq);
  };
  const [entries, setEntries] = useState<Entry[] | null>(null);
  const [truncated, setTruncated] = useState(false);
  const [pageIndex, setPageIndex] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const [verify, setVerify] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const readAll = async (f: Filters): Promise<{ entries: Entry[]; truncated: boolean }> => {
    const all: Entry[] = [];
    let after = 0;
    for (;;) {
      const r = await getJson<{ entries: Entry[]; nextAfterSeq: number }>(adminApi(`governance?${query(f, { afterSeq: String(after), limit: '1000' })}`));
      all.push(...r.entries.filter((e) => matches(e, f)));
      if (r.entries.length < 1000 || r.nextAfterSeq <= after) return { entries: all, truncated: false };
      if (all.length >= MAX_READ) return { entries: all, truncated: true };
      after = r.nextAfterSeq;
    }
  };

  const load = async (f: Filters) => {
    setError(null);
    try {
      const r = await readAll(f);
      setEntries(r.entries.sort((a, b) => b.seq - a.seq));
      setTruncated(r.truncated);
      setPageIndex(0);
    } catch (err) {
      setError(errorText(err));
    }
  };
  useEffect(() => {
    void load(filters);
  }, [filters]);

  const verifyChain = async () => {
    setVerify('Verifying…');
    try {
      const r = await getJson<{ ok: boolean; count: number; brokenAtSeq?: number }>(adminApi('governance/verify'));
      setVerify(r.ok ? `Chain verified: ${r.count} entries` : `Chain broken at entry ${r.brokenAtSeq ?? '?'} (of ${r.count} entries)`);
    } catch (err) {
      setVerify(`Verification failed: ${errorText(err)}`);
    }
  };

  const downloadCsv = async () => {
    setBusy(true);
    setError(null);
    try {
      const res = await request(adminApi(`governance?${query(filters, { format: 'csv' })}`), { headers: { accept: 'text/csv' } });
      if ((res.headers.get('content-type') ?? '').startsWith('text/csv')) {
        download('governance-log.csv', await res.blob());
      } else {
        // a gateway without the CSV export: the same columns, made here from the entries
        const r = await readAll(filters);
        download('governance-log.csv', new Blob([toCsv(r.entries.sort((a, b) => a.seq - b.seq))], { type: 'text/csv' }));
      }
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  const shown = entries ? entries.slice(pageIndex * PAGE, (pageIndex + 1) * PAGE) : [];
  const pages = entries ? Math.max(1, Math.ceil(entries.length / PAGE)) : 1;

  return (
    <section aria-labelledby="governance-heading">
      <div class="toolbar">
        <h2 id="governance-heading">Governance log</h2>
        <div class="buttons">
          <button type="button" onClick={verifyChain}>
            Verify chain
          </button>
          <button type="button" disabled={busy} onClick={downloadCsv}>
            Download CSV
          </button>
        </div>
      </div>
      {verify && (
        <p role="status" class="notice">
          {verify}
        </p>
      )}
      <form
        class="filters"
        aria-label="Filters"
        onSubmit={(e) => {
          e.preventDefault();
          setFilters({ ...draft });
        }}
      >
        <label>
          Action
          <select value={draft.action} onChange={(e) => setDraft({ ...draft, action: e.currentTarget.value })}>
            <option value="">All actions</option>
            {ACTIONS.map((a) => (
              <option value={a} key={a}>
                {a}
              </option>
            ))}
          </select>
        </label>
        <label>
          Principal
          <input type="text" value={draft.principal} onInput={(e) => setDraft({ ...draft, principal: e.currentTarget.value })} autoComplete="off" />
        </label>
        <label>
          From
          <input type="datetime-local" value={draft.since} onInput={(e) => setDraft({ ...draft, since: e.currentTarget.value })} />
        </label>
        <label>
          To
          <input type="datetime-local" value={draft.until} onInput={(e) => setDraft({ ...draft, until: e.currentTarget.value })} />
        </label>
        <div class="buttons">
          <button type="submit" class="primary">
            Apply filters
          </button>
          <button
            type="button"
            onClick={() => {
              setDraft(empty);
              setFilters(empty);
            }}
          >
            Clear
          </button>
        </div>
      </form>
      <ErrorMessage text={error} />
      {entries === null ? (
        <p>Loading…</p>
      ) : (
        <>
          {truncated && <p class="hint">Only the first {MAX_READ} matching entries were read; narrow the filters.</p>}
          <div class="table-wrap" tabIndex={0} role="region" aria-label="Governance log entries table">
            <table>
              <caption class="sr-only">Governance log entries, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Seq</th>
                  <th scope="col">Time</th>
                  <th scope="col">Action</th>
                  <th scope="col">Principal</th>
                  <th scope="col">Via</th>
                  <th scope="col">Target or count</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Entry id</th>
                  <th scope="col">
                    <span class="sr-only">Details</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {shown.length === 0 && (
                  <tr>
                    <td colSpan={9}>No entries.</td>
                  </tr>
                )}
                {shown.map((e) => (
                  <tr key={e.id}>
                    <td>{e.seq}</td>
                    <td class="time">{formatTime(e.time)}</td>
                    <td>{e.action}</td>
                    <td>{e.principal}</td>
                    <td>{e.via ?? ''}</td>
                    <td>{e.target ?? (e.privateActivities ? `${e.privateActivities.count} private` : '')}</td>
                    <td>{e.reason ?? ''}</td>
                    <td>
                      <code>{e.id}</code>
                    </td>
                    <td>
                      <button type="button" aria-label={`Entry details of entry ${e.seq}`} onClick={() => setDetailSeq(e.seq)}>
                        Details
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <nav class="pager" aria-label="Governance log pages">
            <button type="button" disabled={pageIndex === 0} onClick={() => setPageIndex(pageIndex - 1)}>
              Newer entries
            </button>
            <span>
              Page {pageIndex + 1} of {pages} ({truncated ? `the first ${entries.length}` : entries.length} entries)
            </span>
            <button type="button" disabled={pageIndex + 1 >= pages} onClick={() => setPageIndex(pageIndex + 1)}>
              Older entries
            </button>
          </nav>
        </>
      )}
      {detailSeq !== null && entries !== null && (
        <EntryDetails entry={entries.find((e) => e.seq === detailSeq) ?? null} seq={detailSeq} onClose={() => setDetailSeq(null)} />
      )}
    </section>
  );
}

/** Every field of one entry, in the entry's own order; objects and lists pretty-printed. */
function EntryDetails(props: { entry: Entry | null; seq: number; onClose: () => void }) {
  const [entry, setEntry] = useState<Entry | null>(props.entry);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    // an entry outside the current filters (a shared link): read it by its seq
    if (props.entry) return;
    getJson<{ entries: Entry[] }>(adminApi(`governance?afterSeq=${props.seq - 1}&limit=1`))
      .then((r) => (r.entries[0]?.seq === props.seq ? setEntry(r.entries[0]) : setError(`There is no entry ${props.seq}.`)))
      .catch((err: unknown) => setError(errorText(err)));
  }, [props.seq]);
  return (
    <Dialog title="Entry details" onClose={props.onClose} wide focusTitle>
      <ErrorMessage text={error} />
      {entry === null && !error && <p>Loading…</p>}
      {entry && (
        <dl class="fields">
          {Object.entries(entry).map(([k, v]) => (
            <Fragment key={k}>
              <dt>{k}</dt>
              <dd>
                {v !== null && typeof v === 'object' ? <pre>{JSON.stringify(v, null, 2)}</pre> : k === 'time' ? `${String(v)} (${formatTime(v)})` : String(v)}
              </dd>
            </Fragment>
          ))}
        </dl>
      )}
      <div class="buttons">
        <button type="button" onClick={props.onClose}>
          Close
        </button>
      </div>
    </Dialog>
  );
}
