import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import { Navigate, NavLink, Route, Routes, useLocation, useNavigate } from 'react-router';
import { SessionProvider, useSession } from './api/session';
import { LiveStatus, LiveUpdates } from './api/live';
import { FeedbackProvider, ProgressBar } from './ui/feedback';
import { LoginPage } from './pages/Login';
import { RegisterPage } from './pages/Register';
import { TasksPage } from './pages/Tasks';
import { ProfilePage } from './pages/Profile';
import { AdminPage } from './pages/admin/Admin';
import { LogoutPage } from './pages/Logout';

export function App() {
  const navigate = useNavigate();
  const onLost = useCallback(() => navigate('/login', { replace: true }), [navigate]);
  return (
    <FeedbackProvider>
      <SessionProvider onLost={onLost}>
        <ProgressBar />
        <a className="skip" href="#main">
          Skip to content
        </a>
        <LiveSession>
          <Routes>
            <Route path="/" element={<Home />} />
            <Route path="/login" element={<LoginPage />} />
            <Route path="/register" element={<RegisterPage />} />
            <Route path="/logout" element={<LogoutPage />} />
            <Route path="/tasks" element={<Authed><TasksPage /></Authed>} />
            <Route path="/profile" element={<Authed><ProfilePage /></Authed>} />
            <Route path="/admin" element={<Authed><AdminPage /></Authed>} />
            <Route path="*" element={<Authed><NotFound /></Authed>} />
          </Routes>
        </LiveSession>
      </SessionProvider>
    </FeedbackProvider>
  );
}

function Home() {
  const { profile, loading } = useSession();
  if (loading) return <Loading />;
  return <Navigate to={profile ? '/tasks' : '/login'} replace />;
}

/** The event stream runs while signed in; /logout stops it before the session is revoked. */
function LiveSession({ children }: { children: ReactNode }) {
  const { profile } = useSession();
  const { pathname } = useLocation();
  return <LiveUpdates enabled={!!profile && pathname !== '/logout'}>{children}</LiveUpdates>;
}

function Loading() {
  return (
    <main id="main" className="center" aria-busy="true">
      <p>Loading…</p>
    </main>
  );
}

function NotFound() {
  return (
    <>
      <h1>Page not found</h1>
      <p>
        There is nothing here. Go to your <NavLink to="/tasks">tasks</NavLink>.
      </p>
    </>
  );
}

/** Pages for signed-in users: the navigation bar, the shortcuts, or a redirect to /login. */
function Authed({ children }: { children: ReactNode }) {
  const { profile, loading, can } = useSession();
  const location = useLocation();
  const navigate = useNavigate();
  const [help, setHelp] = useState(false);
  const dialog = useRef<HTMLDialogElement>(null);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      const t = e.target as HTMLElement | null;
      if (t && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName))) return;
      if (document.querySelector('dialog[open]')) return;
      if (e.key === '?') {
        e.preventDefault();
        setHelp(true);
      } else if (e.key === 'n') {
        e.preventDefault();
        navigate({ pathname: '/tasks', search: mergeSearch(location, { new: '1' }) });
      } else if (e.key === '/') {
        const search = document.querySelector<HTMLInputElement>('[data-shortcut="search"]');
        if (search) {
          e.preventDefault();
          search.focus();
        }
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [navigate, location]);

  useEffect(() => {
    if (help && dialog.current && !dialog.current.open) dialog.current.showModal();
  }, [help]);

  if (loading) return <Loading />;
  if (!profile) return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  const showAdmin = can('system:admin') || can('user:read') || can('audit:read') || can('role:manage');
  return (
    <>
      <header className="topbar">
        <nav aria-label="Main" className="nav">
          <span className="brand">Taskify</span>
          <NavLink to="/tasks" data-testid="nav-tasks">Tasks</NavLink>
          <NavLink to="/profile" data-testid="nav-profile">Profile</NavLink>
          {showAdmin && <NavLink to="/admin" data-testid="nav-admin">Admin</NavLink>}
          <NavLink to="/logout" data-testid="nav-logout">Logout</NavLink>
          <span className="whoami" data-testid="whoami">{profile.username}</span>
          <LiveStatus />
          <button type="button" className="link" aria-label="Keyboard shortcuts" onClick={() => setHelp(true)}>
            ?
          </button>
        </nav>
      </header>
      <main id="main" className="page">
        {children}
      </main>
      <dialog ref={dialog} aria-labelledby="help-title" data-testid="shortcuts" onClose={() => setHelp(false)}>
        <h2 id="help-title">Keyboard shortcuts</h2>
        <dl className="shortcuts">
          <dt><kbd>n</kbd></dt><dd>New task</dd>
          <dt><kbd>/</kbd></dt><dd>Search tasks</dd>
          <dt><kbd>?</kbd></dt><dd>This list</dd>
          <dt><kbd>←</kbd> <kbd>→</kbd></dt><dd>Board: move the focused card to the previous or next status</dd>
          <dt><kbd>↑</kbd> <kbd>↓</kbd></dt><dd>Board: focus the card above or below</dd>
          <dt><kbd>Esc</kbd></dt><dd>Close a dialog or form</dd>
        </dl>
        <div className="row end">
          <button type="button" onClick={() => dialog.current?.close()} autoFocus>
            Close
          </button>
        </div>
      </dialog>
    </>
  );
}

function mergeSearch(location: { pathname: string; search: string }, extra: Record<string, string>): string {
  const params = new URLSearchParams(location.pathname === '/tasks' ? location.search : '');
  for (const [k, v] of Object.entries(extra)) params.set(k, v);
  return `?${params.toString()}`;
}
