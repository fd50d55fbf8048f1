import { useState } from 'preact/hooks';
import { adminApi, errorText, send, type SessionInfo } from './api';
import { formatTime, localToIso } from './format';
import { Confirm, Dialog, ErrorMessage, useAdminList } from './components';
import { GroupPicker } from './groupPicker';

interface Permission {
  principal: string;
  grantedAt: string;
  grantedBy: string;
  groups?: string[];
  expiresAt?: string;
}

/** Tab "Admin access": who may view private activities; "Add admin permission" (SPEC §13). */
export function AdminTab(props: { session: SessionInfo }) {
  const { items: perms, error, reload: load } = useAdminList<Permission>('privacy/permissions', 'permissions');
  const [adding, setAdding] = useState(false);
  const [removing, setRemoving] = useState<Permission | null>(null);
  return (
    <section aria-labelledby="admin-heading">
      <div class="toolbar">
        <h2 id="admin-heading">Activity privacy permissions</h2>
        <button type="button" class="primary" onClick={() => setAdding(true)}>
          Add admin permission
        </button>
      </div>
      <p class="hint">These admins may view private activities. Each time they do, an entry is written to the governance log first.</p>
      <ErrorMessage text={error} />
      {perms === null ? (
        <p>Loading…</p>
      ) : (
        <div class="table-wrap" tabIndex={0} role="region" aria-label="Permissions table">
          <table>
            <caption class="sr-only">Admins permitted to view private activities</caption>
            <thead>
              <tr>
                <th scope="col">Principal</th>
                <th scope="col">Granted by</th>
                <th scope="col">Granted at</th>
                <th scope="col">Groups</th>
                <th scope="col">Expires</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {perms.length === 0 && (
                <tr>
                  <td colSpan={6}>Nobody holds the permission.</td>
                </tr>
              )}
              {perms.map((p) => (
                <tr key={p.principal}>
                  <td>{p.principal}</td>
                  <td>{p.grantedBy}</td>
                  <td>{formatTime(p.grantedAt)}</td>
                  <td>{p.groups && p.groups.length > 0 ? p.groups.join(', ') : 'All private groups'}</td>
                  <td>{p.expiresAt ? formatTime(p.expiresAt) : 'Never'}</td>
                  <td>
                    <button type="button" aria-label={`Remove permission of ${p.principal}`} onClick={() => setRemoving(p)}>
                      Remove
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {adding && <AddPermissionDialog checked={props.session.adminMembershipChecked} onClose={() => setAdding(false)} onAdded={load} />}
      {removing && (
        <Confirm
          title="Remove permission"
          action="Remove"
          text={`${removing.principal} will no longer be able to view private activities.`}
          onConfirm={async () => {
            await send('DELETE', adminApi(`privacy/permissions/${encodeURIComponent(removing.principal)}`));
            await load();
          }}
          onClose={() => setRemoving(null)}
        />
      )}
    </section>
  );
}

function AddPermissionDialog(props: { checked: boolean; onClose: () => void; onAdded: () => Promise<void> }) {
  const [principal, setPrincipal] = useState('');
  const [groups, setGroups] = useState<string[]>([]);
  const [expires, setExpires] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const body: { principal: string; groups?: string[]; expiresAt?: string } = { principal: principal.trim() };
    if (groups.length > 0) body.groups = groups;
    const at = localToIso(expires);
    if (expires && !at) {
      setError('Expires is not a valid date and time.');
      return;
    }
    if (at) body.expiresAt = at;
    setBusy(true);
    setError(null);
    try {
      await send('POST', adminApi('privacy/permissions'), body);
      await props.onAdded();
      props.onClose();
    } catch (err) {
      // self grant, not an admin, unknown principal, unknown group…: the gateway says which
      setError(errorText(err));
      setBusy(false);
    }
  };
  return (
    <Dialog title="Add admin permission" onClose={props.onClose} wide>
      <form onSubmit={submit}>
        {props.checked ? (
          <p>Only admins can be given the permission to view private activities.</p>
        ) : (
          <p>
            Admin membership is not checked: no admin groups are configured (privacy.adminGroups), so the gateway cannot tell whether this person is an admin.
            Give the permission only to admins.
          </p>
        )}
        <label>
          UPN or email
          <input type="text" value={principal} onInput={(e) => setPrincipal(e.currentTarget.value)} autoComplete="off" required />
        </label>
        <GroupPicker
          legend="Groups"
          hint="Optional: the permission then covers only the private activities of these groups. None picked: all private groups."
          selected={groups}
          onChange={setGroups}
        />
        <label>
          Expires
          <input type="datetime-local" value={expires} onInput={(e) => setExpires(e.currentTarget.value)} aria-describedby="perm-expires-hint" />
        </label>
        <p id="perm-expires-hint" class="hint">
          Optional: the permission ends at this time (your local time).
        </p>
        <ErrorMessage text={error} />
        <div class="buttons">
          <button type="submit" class="primary" disabled={busy}>
            Add permission
          </button>
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}
