import { useEffect, useRef, useState } from 'preact/hooks';
import { adminApi, ApiError, errorText, getJson, request, type SessionInfo } from './api';
import { encodeReason, formatTime, isPseudonym, localToIso, readPath } from './format';
import { Dialog, ErrorMessage } from './components';
import { countdown, pagingText } from './window';

const PAGE = 20;

interface Row {
  record: unknown;
  id: string;
  private: boolean;
}

interface Page {
  rows: Row[];
  total: number | null;
  hasNext: boolean;
}

/** The reveal window (SPEC §13 v3): after one confirmation every load reveals, until `until`. */
interface RevealWindow {
  until: number;
  reason: string;
  requestId: string | null;
}

/** What the current page's own reveal wrote: its entry id and how many private activities it listed. */
interface Revealed {
  entryId: string;
  count: number;
  /** the entry lists only the first ids: rows beyond them cannot be marked */
  truncated: boolean;
}

interface RevealRequest {
  id: string;
  status: string;
  requester: string;
  reason: string;
  validFrom?: string;
  validUntil?: string;
}

interface Filters {
  user: string;
  since: string;
  until: string;
}

/**
 * The open window outlives a switch to another tab (kept in memory only: a reload of the page
 * ends it, nothing is kept in the browser's storage).
 */
let keptWindow: RevealWindow | null = null;

function text(v: unknown): string {
  if (v === null || v === undefined) return '';
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
}

/** The filters as the list route's query parameters, by the names console.filters gives. */
function filterQuery(session: SessionInfo, f: Filters): string {
  const names = session.filters;
  const q = new URLSearchParams();
  if (names?.user && f.user.trim()) q.set(names.user, f.user.trim());
  const since = localToIso(f.since);
  const until = localToIso(f.until);
  if (names?.since && since) q.set(names.since, since);
  if (names?.until && until) q.set(names.until, until);
  const s = q.toString();
  return s ? `&${s}` : '';
}

/**
 * Tab "Activity log": the gateway's list route as the signed-in admin sees it, page by page,
 * with the filters User, From, To. "Activity log settings" → "Show private activities" opens a
 * reveal window after an audited confirmation: every load inside it is its own reveal with its
 * own governance entry, whose ids mark the rows "Private" (SPEC §13 v3).
 */
export function ActivityTab(props: { session: SessionInfo }) {
  const [session, setSession] = useState(props.session);
  const [skip, setSkip] = useState(0);
  const [page, setPage] = useState<Page | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [revealed, setRevealed] = useState<Revealed | null>(null);
  const [windowState, setWindowStateRaw] = useState<RevealWindow | null>(keptWindow !== null && keptWindow.until > Date.now() ? keptWindow : null);
  const setWindowState = (w: RevealWindow | null) => {
    keptWindow = w;
    setWindowStateRaw(w);
  };
  const [now, setNow] = useState(Date.now());
  const [menuOpen, setMenuOpen] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [resolving, setResolving] = useState<string | null>(null);
  const [detail, setDetail] = useState<Row | null>(null);
  const empty: Filters = { user: '', since: '', until: '' };
  const [draft, setDraft] = useState<Filters>(empty);
  const [filters, setFilters] = useState<Filters>(empty);
  const [loading, setLoading] = useState(false);
  const settingsRef = useRef<HTMLButtonElement>(null);
  const itemRef = useRef<HTMLButtonElement>(null);
  const route = session.listRoute;
  const perm = session.permission ?? { canReveal: true };
  const hasFilters = !!(session.filters?.user || session.filters?.since || session.filters?.until);

  const fetchPage = async (at: number, f: Filters, headers?: Record<string, string>) => {
    const res = await request(`activities?skip=${at}&limit=${PAGE}${filterQuery(session, f)}`, headers ? { headers, csrf: true } : {});
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

  /**
   * One load. Inside the reveal window it is an audited reveal: the rows marked "Private" are
   * exactly the ids this load's governance entry lists (read back by its seq), never a guess.
   */
  const load = async (at: number, f: Filters = filters, w: RevealWindow | null = windowState, first = false) => {
    setError(null);
    setLoading(true);
    const open = w !== null && w.until > Date.now() ? w : null;
    if (w !== null && open === null) setWindowState(null);
    try {
      if (open === null) {
        const r = await fetchPage(at, f);
        setRevealed(null);
        setPage(r.page);
      } else {
        const headers: Record<string, string> = { [session.reveal.header]: session.reveal.value };
        if (open.requestId) headers['x-reveal-request'] = open.requestId;
        else if (open.reason) headers[session.reveal.reasonHeader] = encodeReason(open.reason);
        const shown = await fetchPage(at, f, headers);
        const entry = shown.entrySeq === null ? undefined : await entryAt(shown.entrySeq);
        const listed = new Set(entry?.privateActivities?.ids ?? []);
        setPage({ ...shown.page, rows: shown.page.rows.map((r) => ({ ...r, private: listed.has(r.id) })) });
        setRevealed({
          entryId: shown.entryId ?? entry?.id ?? '(none)',
          count: entry?.privateActivities?.count ?? 0,
          truncated: entry?.privateActivities?.idsTruncated === true,
        });
      }
      setSkip(at);
    } catch (err) {
      if (open !== null && !first && err instanceof ApiError && err.status === 403) {
        // the permission or the approved request ended: the window closes, the page is ordinary again
        setWindowState(null);
        setRevealed(null);
        setLoading(false);
        await load(at, f, null);
        setError(`${errorText(err)} Private activities are hidden again.`);
        return;
      }
      throw err;
    } finally {
      setLoading(false);
    }
  };
  const safeLoad = (at: number, f: Filters = filters, w: RevealWindow | null = windowState) => load(at, f, w).catch((err: unknown) => setError(errorText(err)));

  /** OK in the dialog: the window opens and this page is loaded again as its first reveal. */
  const openWindow = async (reason: string, requestId: string | null, validUntil: number | null): Promise<void> => {
    const minutes = session.reveal.windowMin ?? 10;
    const until = requestId && validUntil !== null ? validUntil : Date.now() + minutes * 60_000;
    const w: RevealWindow = { until, reason, requestId };
    await load(skip, filters, w, true);
    setWindowState(w);
    setNow(Date.now());
  };

  const hide = () => {
    setWindowState(null);
    // the button that hid them goes away: keep the keyboard user's place
    settingsRef.current?.focus();
    void safeLoad(skip, filters, null);
  };

  useEffect(() => {
    void safeLoad(0);
    // the permission may have changed since sign-in: the menu says what holds now
    getJson<SessionInfo>('session')
      .then((s) => setSession({ ...props.session, ...s }))
      .catch(() => undefined);
  }, []);
  useEffect(() => {
    if (menuOpen) itemRef.current?.focus();
  }, [menuOpen]);
  // the menu item that opened the dialog is gone with the menu: focus returns to the settings button
  const wasConfirming = useRef(false);
  useEffect(() => {
    if (wasConfirming.current && !confirming) settingsRef.current?.focus();
    wasConfirming.current = confirming;
  }, [confirming]);
  // the countdown; at the end of the window the page is loaded again without private activities
  useEffect(() => {
    if (!windowState) return;
    const t = setInterval(() => {
      const n = Date.now();
      setNow(n);
      if (n >= windowState.until) {
        setWindowState(null);
        void safeLoad(skip, filters, null);
      }
    }, 1000);
    return () => clearInterval(t);
  }, [windowState, skip, filters]);

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

  const disabledWhy = perm.canReveal ? null : revealRefusal(perm.why, perm.message);

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
              {windowState ? (
                <button
                  type="button"
                  role="menuitem"
                  ref={itemRef}
                  onClick={() => {
                    setMenuOpen(false);
                    hide();
                  }}
                >
                  Hide private activities
                </button>
              ) : (
                <button
                  type="button"
                  role="menuitem"
                  ref={itemRef}
                  aria-disabled={disabledWhy ? 'true' : undefined}
                  aria-describedby={disabledWhy ? 'reveal-disabled-why' : 'reveal-hint'}
                  onClick={() => {
                    if (disabledWhy) return;
                    setMenuOpen(false);
                    setConfirming(true);
                  }}
                >
                  Show private activities
                </button>
              )}
              {!windowState &&
                (disabledWhy ? (
                  <p id="reveal-disabled-why" class="menu-note">
                    {disabledWhy}
                  </p>
                ) : (
                  <p id="reveal-hint" class="menu-note">
                    {session.reveal.approval
                      ? 'Needs an approved reveal request of yours; you pick it in the next step.'
                      : `Audited. Shown for ${session.reveal.windowMin ?? 10} minutes, every page load recorded.`}
                    {perm.groups && perm.groups.length > 0 ? ` Your permission covers the groups ${perm.groups.join(', ')}.` : ''}
                    {perm.expiresAt ? ` It ends ${formatTime(perm.expiresAt)}.` : ''}
                  </p>
                ))}
            </div>
          )}
        </div>
      </div>
      {hasFilters && (
        <form
          class="filters"
          aria-label="Activity filters"
          onSubmit={(e) => {
            e.preventDefault();
            const f = { ...draft };
            setFilters(f);
            void safeLoad(0, f);
          }}
        >
          {session.filters?.user && (
            <label>
              User
              <input type="text" value={draft.user} onInput={(e) => setDraft({ ...draft, user: e.currentTarget.value })} autoComplete="off" />
            </label>
          )}
          {session.filters?.since && (
            <label>
              From
              <input type="datetime-local" value={draft.since} onInput={(e) => setDraft({ ...draft, since: e.currentTarget.value })} />
            </label>
          )}
          {session.filters?.until && (
            <label>
              To
              <input type="datetime-local" value={draft.until} onInput={(e) => setDraft({ ...draft, until: e.currentTarget.value })} />
            </label>
          )}
          <div class="buttons">
            <button type="submit" class="primary">
              Apply filters
            </button>
            <button
              type="button"
              onClick={() => {
                setDraft(empty);
                setFilters(empty);
                void safeLoad(0, empty);
              }}
            >
              Clear
            </button>
          </div>
        </form>
      )}
      {windowState && (
        <div class="notice window">
          <p role="timer" aria-live="off" class="countdown">
            Private activities are shown for <strong>{countdown(windowState.until - now)}</strong> more (until {formatTime(windowState.until)}).
          </p>
          <button type="button" onClick={hide}>
            Hide private activities
          </button>
        </div>
      )}
      {revealed && (
        <p role="status" class="notice">
          Private activities shown on this page ({revealed.count}). This page load is recorded in the governance log as entry <code>{revealed.entryId}</code>;
          every further load is recorded too.
          {revealed.truncated && ' The entry lists only the first ids of the private activities: only the rows it lists are marked "Private".'}
        </p>
      )}
      <ErrorMessage text={error} />
      {page === null ? (
        <p>Loading…</p>
      ) : (
        <>
          <div class="table-wrap" tabIndex={0} role="region" aria-label="Activities table">
            <table class="activities">
              <caption class="sr-only">Activities, page {Math.floor(skip / PAGE) + 1}</caption>
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Privacy</th>
                  <th scope="col">User</th>
                  <th scope="col">Activity</th>
                  <th scope="col">App</th>
                  <th scope="col">Id</th>
                  <th scope="col">
                    <span class="sr-only">Details</span>
                  </th>
                </tr>
              </thead>
              <tbody aria-busy={loading}>
                {page.rows.length === 0 && (
                  <tr>
                    <td colSpan={7}>No activities on this page.</td>
                  </tr>
                )}
                {page.rows.map((r, i) => (
                  <tr key={`${r.id}-${i}`} class={r.private ? 'private' : undefined}>
                    <td class="time">{formatTime(readPath(r.record, session.activities.timestamp))}</td>
                    <td>{r.private ? <span class="badge private">Private</span> : ''}</td>
                    <td class="user">
                      <ActorCell actor={actorOf(r.record)} onResolve={setResolving} />
                    </td>
                    <td class="what">{text(readPath(r.record, 'description') ?? readPath(r.record, 'eventTypeName'))}</td>
                    <td>{text(readPath(r.record, 'appName'))}</td>
                    <td>
                      <code>{r.id}</code>
                    </td>
                    <td>
                      <button type="button" aria-label={`Details of activity ${r.id}`} onClick={() => setDetail(r)}>
                        Details
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <nav class="pager" aria-label="Activity log pages">
            <button type="button" disabled={skip === 0 || loading} onClick={() => safeLoad(Math.max(0, skip - PAGE))}>
              Previous page
            </button>
            <span>{pagingText(Math.floor(skip / PAGE) + 1, page.rows.length, page.total, page.hasNext)}</span>
            <button type="button" disabled={!page.hasNext || loading} onClick={() => safeLoad(skip + PAGE)}>
              Next page
            </button>
            <button type="button" disabled={loading} onClick={() => safeLoad(skip)}>
              Refresh
            </button>
          </nav>
        </>
      )}
      {confirming && <ShowPrivateDialog session={session} onClose={() => setConfirming(false)} onConfirm={openWindow} />}
      {resolving && <ResolvePseudonymDialog session={session} pseudonym={resolving} onClose={() => setResolving(null)} />}
      {detail && (
        <Dialog title="Activity details" onClose={() => setDetail(null)} wide focusTitle>
          <p>
            {detail.private ? (
              <>
                <span class="badge private">Private</span> Listed as private in governance entry <code>{revealed?.entryId}</code>.
              </>
            ) : (
              'Not marked private.'
            )}
          </p>
          <pre class="json" tabIndex={0} aria-label="The activity record">
            {JSON.stringify(detail.record, null, 2)}
          </pre>
          <div class="buttons">
            <button type="button" onClick={() => setDetail(null)}>
              Close
            </button>
          </div>
        </Dialog>
      )}
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

/** Why "Show private activities" is disabled, in words (the gateway's reason for a 403). */
function revealRefusal(why: string | undefined, message: string | undefined): string {
  if (why === 'expired') return 'Disabled: your permission to view private activities has expired. Ask an administrator to grant it again.';
  if (why === 'no_admin_role') return 'Disabled: showing private activities needs an admin role.';
  if (why === 'not_permitted') return 'Disabled: you are not on the permission list for viewing private activities (tab Admin access).';
  return `Disabled: ${message ?? 'you may not view private activities.'}`;
}

function ShowPrivateDialog(props: {
  session: SessionInfo;
  onClose: () => void;
  onConfirm: (reason: string, requestId: string | null, validUntil: number | null) => Promise<void>;
}) {
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
      const picked = requests?.find((q) => q.id === requestId);
      await props.onConfirm(trimmed, reveal.approval ? requestId : null, picked?.validUntil ? Date.parse(picked.validUntil) : null);
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
        <p>
          {reveal.approval
            ? 'They stay shown on every page until the approved request ends or you hide them; every page load is recorded.'
            : `They stay shown on every page for ${reveal.windowMin ?? 10} minutes or until you hide them; every page load is recorded.`}
        </p>
        {reveal.approval ? (
          requests === null ? (
            <p>Loading your approved requests…</p>
          ) : requests.length === 0 ? (
            <p>You have no approved reveal request that is valid now. Create one on the tab Reveal requests; another approver has to approve it.</p>
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
