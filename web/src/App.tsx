import { useCallback, useEffect, useState } from 'react';
import { api, get, type Operator, setUnauthorizedHandler } from './api';
import { connectEvents, type ConnectionState, type HubEvent } from './events';
import { EventsContext, type EventListener } from './live';
import { InboxPage } from './pages/Inbox';
import { LoginPage } from './pages/Login';
import { NumbersPage } from './pages/Numbers';
import { OpsPage } from './pages/Ops';
import { navigate, usePath } from './router';

interface SessionInfo {
  operator: Operator;
  sandbox: boolean;
}

const NAV = [
  { path: '/', label: 'Inbox', match: (p: string) => p === '/' || p.startsWith('/threads/') },
  { path: '/numbers', label: 'Numbers', match: (p: string) => p === '/numbers' },
  { path: '/ops', label: 'Ops', match: (p: string) => p === '/ops' },
];

export function App() {
  const [session, setSession] = useState<SessionInfo | null | undefined>(undefined);
  const path = usePath();

  useEffect(() => {
    setUnauthorizedHandler(() => setSession(null));
    // No CSRF cookie means no session: show the login page without a request (and a 401 in the console).
    if (!/(?:^|;\s*)wahub_csrf=/.test(document.cookie)) return setSession(null);
    get<SessionInfo>('/v1/session').then(setSession, () => setSession(null));
  }, []);

  if (session === undefined) return <div className="splash" aria-busy="true">Loading…</div>;
  if (session === null) return <LoginPage onLoggedIn={(info) => setSession(info)} />;
  return <Shell session={session} path={path} onLoggedOut={() => setSession(null)} />;
}

function Shell({ session, path, onLoggedOut }: { session: SessionInfo; path: string; onLoggedOut: () => void }) {
  const [listeners] = useState(() => new Set<EventListener>());
  const [state, setState] = useState<ConnectionState>('connecting');

  useEffect(() => connectEvents((event: HubEvent) => listeners.forEach((listener) => listener(event)), setState), [listeners]);
  const subscribe = useCallback((listener: EventListener) => {
    listeners.add(listener);
    return () => void listeners.delete(listener);
  }, [listeners]);

  const logout = async () => {
    await api('DELETE', '/v1/session').catch(() => undefined);
    onLoggedOut();
    navigate('/');
  };

  const { operator } = session;
  let page;
  if (path === '/numbers') page = <NumbersPage operator={operator} sandbox={session.sandbox} />;
  else if (path === '/ops') page = <OpsPage operator={operator} />;
  else page = <InboxPage operator={operator} threadId={path.startsWith('/threads/') ? path.slice('/threads/'.length) : null} />;

  return (
    <EventsContext.Provider value={subscribe}>
      <div className="shell">
        <header className="topbar">
          <a className="brand" href="/" onClick={(e) => { e.preventDefault(); navigate('/'); }}>
            <span className="brand-mark" aria-hidden="true">wa</span>
            <span className="brand-name" aria-hidden="true">hub</span>
            {/* The logo's name at every width (at phone width only the mark shows). */}
            <span className="visually-hidden">wahub</span>
          </a>
          <nav aria-label="Main">
            <ul className="nav">
              {NAV.map((item) => (
                <li key={item.path}>
                  <a
                    href={item.path}
                    aria-current={item.match(path) ? 'page' : undefined}
                    onClick={(e) => { e.preventDefault(); navigate(item.path); }}
                  >{item.label}</a>
                </li>
              ))}
            </ul>
          </nav>
          <div className="topbar-right">
            <span className={`live live-${state}`} role="status" aria-label={`Live updates ${state}`} title={`Live updates: ${state}`}>
              <span className="live-dot" aria-hidden="true" />
              <span className="live-text">{state === 'live' ? 'Live' : state === 'connecting' ? 'Connecting' : 'Offline'}</span>
            </span>
            <span className="whoami" title={operator.email}>
              <span className="whoami-name">{operator.name || operator.email}</span>
              <span className="whoami-meta">{operator.org_name} · {operator.role}</span>
            </span>
            <button type="button" className="btn btn-ghost" onClick={() => void logout()}>Log out</button>
          </div>
        </header>
        <main className="main" id="main">{page}</main>
      </div>
    </EventsContext.Provider>
  );
}
