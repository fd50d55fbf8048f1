import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ActivityTab } from './activityTab';
import { AdminTab } from './adminTab';
import { ApiError, errorText, getJson, request, setCsrfToken, whenSignedOut, type SessionInfo } from './api';
import { Tabs, type TabSpec } from './components';
import { GovernanceTab } from './governanceTab';
import { PrivacyTab } from './privacyTab';
import { ReportsTab } from './reportsTab';
import { RequestsTab } from './requestsTab';

type State =
  | { kind: 'loading' }
  | { kind: 'signed-out'; message: string | null; switchUser?: boolean }
  | { kind: 'error'; message: string }
  | { kind: 'signed-in'; session: SessionInfo };

function SignIn(props: { message: string | null; switchUser?: boolean }) {
  return (
    <main class="signin">
      <h1>Activity Privacy Gateway</h1>
      <p>The admin console: private user groups, admin access, the activity log and the governance log.</p>
      {props.message && (
        <p role="status" class="notice">
          {props.message}
        </p>
      )}
      {/* after a sign-out the provider is asked to let the person pick an account again */}
      <p>
        <a class="button primary" href={props.switchUser ? 'login?prompt=login' : 'login'}>
          Sign in
        </a>
      </p>
      <p class="hint">You sign in with your organisation's identity provider. Only admins get in.</p>
    </main>
  );
}

function Console(props: { session: SessionInfo; onSignedOut: (message: string) => void }) {
  const { session } = props;
  const tabs: TabSpec[] = [
    { id: 'privacy', label: 'Activity privacy' },
    { id: 'admins', label: 'Admin access' },
    { id: 'activity', label: 'Activity log' },
    { id: 'reports', label: 'Reports' },
    { id: 'governance', label: 'Governance log' },
    ...(session.reveal.approval ? [{ id: 'requests', label: 'Reveal requests' }] : []),
  ];
  const initial = tabs.some((t) => `#${t.id}` === location.hash) ? location.hash.slice(1) : 'privacy';
  const [tab, setTab] = useState(initial);
  const select = (id: string) => {
    setTab(id);
    history.replaceState(null, '', `#${id}`);
  };
  const signOut = async () => {
    try {
      await request('logout', { method: 'POST' });
    } finally {
      props.onSignedOut('You are signed out.');
    }
  };
  return (
    <>
      <header class="top">
        <h1>
          Activity Privacy Gateway <span class="sub">admin console</span>
        </h1>
        <div class="who">
          <span>
            Signed in as <strong>{session.principal}</strong>
          </span>
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main>
        <Tabs tabs={tabs} selected={tab} onSelect={select}>
          {tab === 'privacy' && <PrivacyTab />}
          {tab === 'admins' && <AdminTab session={session} />}
          {tab === 'activity' && <ActivityTab session={session} />}
          {tab === 'reports' && <ReportsTab session={session} />}
          {tab === 'governance' && <GovernanceTab />}
          {tab === 'requests' && <RequestsTab session={session} />}
        </Tabs>
      </main>
    </>
  );
}

function App() {
  const [state, setState] = useState<State>({ kind: 'loading' });
  useEffect(() => {
    whenSignedOut((message) => setState({ kind: 'signed-out', message }));
    getJson<SessionInfo>('session')
      .then((session) => {
        setCsrfToken(session.csrfToken);
        setState({ kind: 'signed-in', session });
      })
      .catch((err: unknown) => {
        if (err instanceof ApiError && err.status === 401)
          setState({ kind: 'signed-out', message: err.code === 'unauthenticated' && /expired|ended|Several/.test(err.message) ? err.message : null });
        else setState({ kind: 'error', message: errorText(err) });
      });
  }, []);
  switch (state.kind) {
    case 'loading':
      return <p class="loading">Loading the admin console…</p>;
    case 'error':
      return (
        <main>
          <h1>Activity Privacy Gateway</h1>
          <p role="alert" class="error">
            {state.message}
          </p>
        </main>
      );
    case 'signed-out':
      return <SignIn message={state.message} switchUser={state.switchUser} />;
    default:
      return (
        <Console
          session={state.session}
          onSignedOut={(m) => {
            setCsrfToken('');
            setState({ kind: 'signed-out', message: m, switchUser: true });
          }}
        />
      );
  }
}

render(<App />, document.getElementById('app')!);
