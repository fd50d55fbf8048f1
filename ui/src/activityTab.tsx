import { useEffect, useRef, useState } from 'preact/hooks';
import { adminApi, errorText, getJson, request, type SessionInfo } from './api';
import { encodeReason, formatTime, isPseudonym, readPath } from './format';
import { Dialog, ErrorMessage } from './components';

const PAGE = 20;

interface Page {
  rows: { record: unknown; id: string; private: boolean }[];
  total: number | null;
  hasNext: boolean;
}

interface Revealed {
  entryId: string;
  count: number;
}

interface RevealRequest {
  id: string;
  status: string;
  requester: string;
  reason: string;
  validFrom?: string;
  validUntil?: string;
}

function text(v: unknown): string {
  if (v === null || v === undefined) return '';
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
}

/**
 * Tab "Activity log": the gateway's list route as the signed-in admin sees it, page by page.
 * "Activity log settings" → "Show private activities" reveals one load, after an audited
 * confirmation; the next load is ordinary again (SPEC §13).
 */
export function ActivityTab(props: { session: SessionInfo }) {
  const { session } = props;
  const [skip, setSkip] = useState(0);
  const [page, setPage] = useState<Page | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [revealed, setRevealed] = useState<Revealed | null>(null);
  const [menuOpen, setMenuOpen] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [resolving, setResolving] = useState<string | null>(null);
  const settingsRef = useRef<HTMLButtonElement>(null);
  const itemRef = useRef<HTMLButtonElement>(null);
  const route = session.listRoute;

  const fetchPage = async (at: number, headers?: Record<string, string>): Promise<{ page: Page; entryId: string | null; entrySeq: number | null }> => {
    const res = await request(`activities?skip=${at}&limit=${PAGE}`, headers ? { headers, csrf: true } : {});
    const body = (await res.json()) as unknown;
    const items = readPath(body, route?.items ?? 'data');
    const list = Array.isArray(items) ? items : [];
    const total = route?.total ? readPath(body, route.total) : undefined;
    const hasNext = readPath(body, 'hasNext');
    return {
      page: {
        rows: list.map((record: unknown) => ({ record, id: text(readPath(record, session.activities.id)), private: false })),
        total: typeof total === 'number' ? total : null,
        hasNext: typeof hasNext === 'boolean' ? hasNext : typeof total === 'number' ? at + PAGE < total : list.length === PAGE,
      },
      entryId: res.headers.get('x-governance-entry'),
      entrySeq: Number(res.headers.get('x-governance-entry-seq') ?? NaN) || null,
    };
  };

  const load = async (at: number) => {
    setError(null);
    setRevealed(null);
    try {
      const r = await fetchPage(at);
      setPage(r.page);
      setSkip(at);
    } catch (err) {
      setError(errorText(err));
    }
  };

  /**
   * One audited load with private activities. The rows marked "Private" are exactly the ids the
   * reveal's governance entry lists (read back by its seq), never a guess from comparing loads.
   */
  const reveal = async (reason: string, requestId: string | null): Promise<void> => {
    const headers: Record<string, string> = { [session.reveal.header]: session.reveal.value };
    if (requestId) headers['x-reveal-request'] = requestId;
    else if (reason.trim()) headers[session.reveal.reasonHeader] = encodeReason(reason.trim());
    const shown = await fetchPage(skip, headers);
    const entry = shown.entrySeq === null ? undefined : await entryAt(shown.entrySeq);
    const listed = new Set(entry?.privateActivities?.ids ?? []);
    const rows = shown.page.rows.map((r) => ({ ...r, private: listed.has(r.id) }));
    setPage({ ...shown.page, rows });
    setRevealed({ entryId: shown.entryId ?? '(none)', count: entry?.privateActivities?.count ?? 0 });
  };

  useEffect(() => {
    void load(0);
  }, []);
  useEffect(() => {
    if (menuOpen) itemRef.current?.focus();
  }, [menuOpen]);

  const actorOf = (record: unknown) => {
    for (const p of session.activities.actor) {
      const v = readPath(record, p);
      if (v !== undefined && v !== null && v !== '') return text(v);
    }
    return '';
  };

  if (!route)
    return (
      <p role="alert" class="error">
        The gateway has no list route the console can page through.
      </p>
    );

  return (
    <section aria-labelledby="activity-heading">
      <div class="toolbar">
        <h2 id="activity-heading">Activity log</h2>
        <div
          class="menu-wrap"
          onFocusOut={(e) => {
            // the menu closes when focus leaves it (Tab away, a click elsewhere)
            const next = e.relatedTarget;
            if (!(next instanceof Node) || !e.currentTarget.contains(next)) setMenuOpen(false);
          }}
        >
          <button
            type="button"
            ref={settingsRef}
            aria-haspopup="menu"
            aria-expanded={menuOpen}
            aria-controls="activity-settings-menu"
            onClick={() => setMenuOpen(!menuOpen)}
          >
            Activity log settings
          </button>
          {menuOpen && (
            <div
              role="menu"
              id="activity-settings-menu"
              aria-label="Activity log settings"
              class="menu"
              onKeyDown={(e) => {
                if (e.key === 'Escape') {
                  setMenuOpen(false);
                  settingsRef.current?.focus();
                }
              }}
            >
              <button
                type="button"
                role="menuitem"
                ref={itemRef}
                onClick={() => {
                  setMenuOpen(false);
                  setConfirming(true);
                }}
              >
                Show private activities
              </button>
            </div>
          )}
        </div>
      </div>
      {revealed && (
        <p role="status" class="notice">
          Private activities shown on this page ({revealed.count}). This view is recorded in the governance log as entry <code>{revealed.entryId}</code>. The
          next load hides them again.
        </p>
      )}
      <ErrorMessage text={error} />
      {page === null ? (
        <p>Loading…</p>
      ) : (
        <>
          <div class="table-wrap">
            <table>
              <caption class="sr-only">
                Activities {skip + 1} to {skip + page.rows.length}
              </caption>
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">User</th>
                  <th scope="col">Activity</th>
                  <th scope="col">App</th>
                  <th scope="col">Id</th>
                  <th scope="col">Privacy</th>
                </tr>
              </thead>
              <tbody>
                {page.rows.length === 0 && (
                  <tr>
                    <td colSpan={6}>No activities on this page.</td>
                  </tr>
                )}
                {page.rows.map((r, i) => (
                  <tr key={`${r.id}-${i}`} class={r.private ? 'private' : undefined}>
                    <td class="time">{formatTime(readPath(r.record, session.activities.timestamp))}</td>
                    <td>
                      <ActorCell actor={actorOf(r.record)} onResolve={setResolving} />
                    </td>
                    <td>{text(readPath(r.record, 'description') ?? readPath(r.record, 'eventTypeName'))}</td>
                    <td>{text(readPath(r.record, 'appName'))}</td>
                    <td>
                      <code>{r.id}</code>
                    </td>
                    <td>{r.private ? <span class="badge private">Private</span> : ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <nav class="pager" aria-label="Activity log pages">
            <button type="button" disabled={skip === 0} onClick={() => load(Math.max(0, skip - PAGE))}>
              Previous page
            </button>
            <span>
              Activities {page.rows.length === 0 ? 0 : skip + 1}–{skip + page.rows.length}
              {page.total !== null ? ` of ${page.total}` : ''}
            </span>
            <button type="button" disabled={!page.hasNext} onClick={() => load(skip + PAGE)}>
              Next page
            </button>
            <button type="button" onClick={() => load(skip)}>
              Refresh
            </button>
          </nav>
        </>
      )}
      {confirming && <ShowPrivateDialog session={session} onClose={() => setConfirming(false)} onConfirm={reveal} />}
      {resolving && <ResolvePseudonymDialog session={session} pseudonym={resolving} onClose={() => setResolving(null)} />}
    </section>
  );
}

/** The user cell: a pseudonym is a link-styled button that opens "Resolve pseudonym". */
function ActorCell(props: { actor: string; onResolve: (pseudonym: string) => void }) {
  if (!isPseudonym(props.actor)) return <>{props.actor}</>;
  return (
    <button type="button" class="link pseudonym" title="Resolve pseudonym" onClick={() => props.onResolve(props.actor)}>
      {props.actor}
    </button>
  );
}

/** "Resolve pseudonym": asks for the reason (and, with approval on, the approved request); shows the principal and the entry id. */
function ResolvePseudonymDialog(props: { session: SessionInfo; pseudonym: string; onClose: () => void }) {
  const { reveal } = props.session;
  const [reason, setReason] = useState('');
  const [requestId, setRequestId] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ principal: string; entryId: string } | null>(null);

  const ok = async (e: Event) => {
    e.preventDefault();
    if (reason.trim().length < reveal.minReasonLength) {
      setError(`Give a reason of at least ${reveal.minReasonLength} characters.`);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const body: Record<string, string> = { pseudonym: props.pseudonym, reason: reason.trim() };
      if (reveal.approval && requestId.trim()) body.revealRequest = requestId.trim();
      const res = await request(adminApi('pseudonyms/resolve'), { method: 'POST', body });
      const r = (await res.json()) as { principal: string };
      setResult({ principal: r.principal, entryId: res.headers.get('x-governance-entry') ?? '(none)' });
    } catch (err) {
      setError(errorText(err));
    }
    setBusy(false);
  };

  return (
    <Dialog title="Resolve pseudonym" onClose={props.onClose}>
      {result ? (
        <>
          <p>
            <code>{props.pseudonym}</code> is <strong>{result.principal}</strong>.
          </p>
          <p class="hint">
            Recorded in the governance log as entry <code>{result.entryId}</code>.
          </p>
          <div class="buttons">
            <button type="button" class="primary" onClick={props.onClose}>
              Close
            </button>
          </div>
        </>
      ) : (
        <form onSubmit={ok}>
          <p>
            <code>{props.pseudonym}</code> stands for a person in a pseudonymised group.
            <strong> This action is audited:</strong> before the name is shown, the governance log records that you resolved this pseudonym, with your name and
            your reason.
          </p>
          <label>
            Reason
            <textarea value={reason} onInput={(e) => setReason(e.currentTarget.value)} rows={3} maxLength={500} required />
          </label>
          {reveal.approval && (
            <label>
              Approved reveal request (id)
              <input type="text" value={requestId} onInput={(e) => setRequestId(e.currentTarget.value)} autoComplete="off" required />
            </label>
          )}
          <ErrorMessage text={error} />
          <div class="buttons">
            <button type="submit" class="primary" disabled={busy}>
              Resolve
            </button>
            <button type="button" onClick={props.onClose}>
              Cancel
            </button>
          </div>
        </form>
      )}
    </Dialog>
  );
}

function ShowPrivateDialog(props: { session: SessionInfo; onClose: () => void; onConfirm: (reason: string, requestId: string | null) => Promise<void> }) {
  const { reveal } = props.session;
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [requests, setRequests] = useState<RevealRequest[] | null>(null);
  const [requestId, setRequestId] = useState('');

  useEffect(() => {
    if (!reveal.approval) return;
    getJson<{ requests: RevealRequest[] }>(adminApi('reveal-requests?status=approved'))
      .then((r) => {
        const now = Date.now();
        const mine = r.requests.filter(
          (q) =>
            q.status === 'approved' &&
            q.requester === props.session.principal &&
            (!q.validUntil || Date.parse(q.validUntil) > now) &&
            (!q.validFrom || Date.parse(q.validFrom) <= now),
        );
        setRequests(mine);
        if (mine[0]) setRequestId(mine[0].id);
      })
      .catch((err: unknown) => setError(errorText(err)));
  }, []);

  const ok = async (e: Event) => {
    e.preventDefault();
    const trimmed = reason.trim();
    if (!reveal.approval && reveal.requireReason && trimmed.length < reveal.minReasonLength) {
      setError(`Give a reason of at least ${reveal.minReasonLength} characters.`);
      return;
    }
    if (reveal.approval && !requestId) {
      setError('Pick an approved reveal request (tab Reveal requests).');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await props.onConfirm(trimmed, reveal.approval ? requestId : null);
      props.onClose();
    } catch (err) {
      setError(errorText(err));
      setBusy(false);
    }
  };

  return (
    <Dialog title="Show private activities" onClose={props.onClose}>
      <form onSubmit={ok}>
        <p>
          Private activities are hidden to protect the privacy of the people in private groups.
          <strong> This action is audited:</strong> before anything is shown, the governance log records that you viewed private activities, with your name
          {reveal.approval ? ' and the approved request' : ' and your reason'}.
        </p>
        {reveal.approval ? (
          requests === null ? (
            <p>Loading your approved requests…</p>
          ) : requests.length === 0 ? (
            <p>You have no approved reveal request that is valid now. Create one in the tab Reveal requests.</p>
          ) : (
            <label>
              Approved request
              <select value={requestId} onChange={(e) => setRequestId(e.currentTarget.value)}>
                {requests.map((q) => (
                  <option value={q.id} key={q.id}>
                    {q.reason} (until {formatTime(q.validUntil)})
                  </option>
                ))}
              </select>
            </label>
          )
        ) : (
          <>
            <label>
              Reason
              <textarea
                value={reason}
                onInput={(e) => setReason(e.currentTarget.value)}
                rows={3}
                maxLength={500}
                required={reveal.requireReason}
                aria-describedby="reason-hint"
              />
            </label>
            <p id="reason-hint" class="hint">
              {reveal.requireReason ? `Required, at least ${reveal.minReasonLength} characters.` : 'Optional, recorded in the governance log.'}
            </p>
          </>
        )}
        <ErrorMessage text={error} />
        <div class="buttons">
          <button type="submit" class="primary" disabled={busy}>
            OK
          </button>
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}

interface ViewedEntry {
  id: string;
  privateActivities?: { count: number; ids: string[]; idsTruncated: boolean };
}

/** The governance entry with this seq (the reveal's own). */
async function entryAt(seq: number): Promise<ViewedEntry | undefined> {
  const page = await getJson<{ entries: ViewedEntry[] }>(adminApi(`governance?afterSeq=${seq - 1}&limit=1`));
  return page.entries[0];
}
