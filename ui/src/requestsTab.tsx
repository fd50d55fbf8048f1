import { useEffect, useState } from 'preact/hooks';
import { adminApi, errorText, getJson, send, type SessionInfo } from './api';
import { formatTime } from './format';
import { Dialog, ErrorMessage } from './components';

interface RevealRequest {
  id: string;
  status: string;
  requester: string;
  reason: string;
  durationMin: number;
  createdAt: string;
  scope?: { groups?: string[]; actors?: string[] };
  approvedBy?: string;
  validFrom?: string;
  validUntil?: string;
}

/** A change that weakens privacy, waiting for a second person (SPEC §11 v3). */
interface PrivacyChange {
  id: string;
  status: string;
  kind: string;
  target: string;
  requester: string;
  createdAt: string;
  decidedBy?: string;
}

const CHANGE_NAMES: Record<string, string> = {
  'privacy-group.remove': 'End privacy of group',
  'reveal-permission.grant': 'Grant the permission to',
};

const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');

/** Tab "Reveal requests" (four-eyes approval, SPEC §11): create, approve, deny. */
export function RequestsTab(props: { session: SessionInfo }) {
  const [requests, setRequests] = useState<RevealRequest[] | null>(null);
  const [changes, setChanges] = useState<PrivacyChange[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [reason, setReason] = useState('');
  const [duration, setDuration] = useState('60');
  const [groups, setGroups] = useState('');
  const [actors, setActors] = useState('');
  const [formError, setFormError] = useState<string | null>(null);
  const load = async () => {
    try {
      setRequests((await getJson<{ requests: RevealRequest[] }>(adminApi('reveal-requests'))).requests);
      setChanges((await getJson<{ changes: PrivacyChange[] }>(adminApi('privacy/changes?status=pending'))).changes);
      setError(null);
    } catch (err) {
      setError(errorText(err));
    }
  };
  useEffect(() => {
    void load();
  }, []);

  const create = async (e: Event) => {
    e.preventDefault();
    setFormError(null);
    const scope: { groups?: string[]; actors?: string[] } = {};
    if (list(groups).length) scope.groups = list(groups);
    if (list(actors).length) scope.actors = list(actors);
    try {
      await send('POST', adminApi('reveal-requests'), {
        reason: reason.trim(),
        durationMin: Number(duration),
        ...(Object.keys(scope).length ? { scope } : {}),
      });
      setReason('');
      await load();
    } catch (err) {
      setFormError(errorText(err));
    }
  };

  const [deciding, setDeciding] = useState<Decision | null>(null);
  const decide = (id: string, what: 'approve' | 'deny' | 'revoke', kind: 'reveal-requests' | 'privacy/changes' = 'reveal-requests', about = '') =>
    setDeciding({ id, what, kind, about });

  return (
    <section aria-labelledby="requests-heading">
      <h2 id="requests-heading">Reveal requests</h2>
      <p class="hint">With four-eyes approval, private activities are shown only inside a request that another approver approved.</p>
      <form class="filters" aria-label="New reveal request" onSubmit={create}>
        <label>
          Reason
          <input type="text" value={reason} onInput={(e) => setReason(e.currentTarget.value)} required maxLength={500} />
        </label>
        <label>
          Duration (minutes)
          <input type="number" min={1} value={duration} onInput={(e) => setDuration(e.currentTarget.value)} required />
        </label>
        <label>
          Groups
          <input type="text" value={groups} onInput={(e) => setGroups(e.currentTarget.value)} placeholder="optional, comma-separated ids" />
        </label>
        <label>
          Actors
          <input type="text" value={actors} onInput={(e) => setActors(e.currentTarget.value)} placeholder="optional, comma-separated" />
        </label>
        <div class="buttons">
          <button type="submit" class="primary">
            Create request
          </button>
        </div>
      </form>
      <ErrorMessage text={formError} />
      <ErrorMessage text={error} />
      {requests === null ? (
        <p>Loading…</p>
      ) : (
        <div class="table-wrap" tabIndex={0} role="region" aria-label="Reveal requests table">
          <table>
            <caption class="sr-only">Reveal requests, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Created</th>
                <th scope="col">Requester</th>
                <th scope="col">Reason</th>
                <th scope="col">Scope</th>
                <th scope="col">Minutes</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {requests.length === 0 && (
                <tr>
                  <td colSpan={7}>No reveal requests.</td>
                </tr>
              )}
              {requests.map((q) => (
                <tr key={q.id}>
                  <td>{formatTime(q.createdAt)}</td>
                  <td>{q.requester}</td>
                  <td>{q.reason}</td>
                  <td>{[...(q.scope?.groups ?? []).map((g) => `group:${g}`), ...(q.scope?.actors ?? []).map((a) => `actor:${a}`)].join(', ') || 'all'}</td>
                  <td>{q.durationMin}</td>
                  <td>
                    {q.status}
                    {q.approvedBy ? ` by ${q.approvedBy}` : ''}
                    {q.validUntil ? `, until ${formatTime(q.validUntil)}` : ''}
                  </td>
                  <td>
                    {q.status === 'approved' && (
                      <button type="button" onClick={() => decide(q.id, 'revoke', 'reveal-requests', `${q.requester}: ${q.reason}`)}>
                        Revoke
                      </button>
                    )}
                    {q.status === 'pending' && q.requester !== props.session.principal && (
                      <span class="buttons">
                        <button type="button" onClick={() => decide(q.id, 'approve', 'reveal-requests', `${q.requester}: ${q.reason}`)}>
                          Approve
                        </button>
                        <button type="button" onClick={() => decide(q.id, 'deny', 'reveal-requests', `${q.requester}: ${q.reason}`)}>
                          Deny
                        </button>
                      </span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h3 id="changes-heading">Pending privacy changes</h3>
      <p class="hint">Ending a group's privacy and granting the permission wait here until another approver approves them.</p>
      <div class="table-wrap" tabIndex={0} role="region" aria-label="Pending privacy changes table">
        <table aria-labelledby="changes-heading">
          <thead>
            <tr>
              <th scope="col">Asked</th>
              <th scope="col">By</th>
              <th scope="col">Change</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {changes.length === 0 && (
              <tr>
                <td colSpan={4}>No pending privacy changes.</td>
              </tr>
            )}
            {changes.map((c) => (
              <tr key={c.id}>
                <td>{formatTime(c.createdAt)}</td>
                <td>{c.requester}</td>
                <td>
                  {CHANGE_NAMES[c.kind] ?? c.kind} {c.target}
                </td>
                <td>
                  {c.requester !== props.session.principal && (
                    <span class="buttons">
                      <button
                        type="button"
                        onClick={() => decide(c.id, 'approve', 'privacy/changes', `${c.requester}: ${CHANGE_NAMES[c.kind] ?? c.kind} ${c.target}`)}
                      >
                        Approve
                      </button>
                      <button
                        type="button"
                        onClick={() => decide(c.id, 'deny', 'privacy/changes', `${c.requester}: ${CHANGE_NAMES[c.kind] ?? c.kind} ${c.target}`)}
                      >
                        Deny
                      </button>
                    </span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {deciding && <DecideDialog decision={deciding} onClose={() => setDeciding(null)} onDone={load} />}
    </section>
  );
}

interface Decision {
  id: string;
  what: 'approve' | 'deny' | 'revoke';
  kind: 'reveal-requests' | 'privacy/changes';
  about: string;
}

const VERBS = { approve: 'Approve', deny: 'Deny', revoke: 'Revoke' } as const;

/** Approve, deny or revoke with an optional comment (SPEC §11 `{"comment"?}`); a refusal is shown in the dialog. */
function DecideDialog(props: { decision: Decision; onClose: () => void; onDone: () => Promise<void> }) {
  const { decision } = props;
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const noun = decision.kind === 'reveal-requests' ? 'request' : 'change';
  const verb = VERBS[decision.what];
  const effect =
    decision.what === 'revoke'
      ? 'The approved window ends now: private activities can no longer be shown under this request.'
      : decision.what === 'approve'
        ? decision.kind === 'reveal-requests'
          ? 'The requester may show private activities within the request, from now on for its duration.'
          : 'The change takes effect now, with its own entry in the governance log.'
        : `The ${noun} is refused; nothing changes.`;
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const text = comment.trim();
      await send('POST', adminApi(`${decision.kind}/${encodeURIComponent(decision.id)}/${decision.what}`), text ? { comment: text } : {});
      await props.onDone();
      props.onClose();
    } catch (err) {
      setError(errorText(err));
      setBusy(false);
    }
  };
  return (
    <Dialog title={`${verb} ${noun}`} onClose={props.onClose}>
      <form onSubmit={submit}>
        <p>
          <strong>{decision.about}</strong>
        </p>
        <p>{effect} It is recorded in the governance log.</p>
        <label>
          Comment
          <textarea value={comment} onInput={(e) => setComment(e.currentTarget.value)} rows={3} maxLength={500} aria-describedby="decide-hint" />
        </label>
        <p id="decide-hint" class="hint">
          Optional, recorded with the decision.
        </p>
        <ErrorMessage text={error} />
        <div class="buttons">
          <button type="submit" class="primary" disabled={busy}>
            {verb}
          </button>
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}
