import { useEffect, useRef } from 'react';
import { useNavigate } from 'react-router';
import { useSession } from '../api/session';

/** Revokes the session on the server, clears the tokens and goes to /login. */
export function LogoutPage() {
  const { logout } = useSession();
  const navigate = useNavigate();
  const started = useRef(false);
  useEffect(() => {
    if (started.current) return;
    started.current = true;
    void logout().finally(() => navigate('/login', { replace: true, state: { notice: 'You are signed out.' } }));
  }, [logout, navigate]);
  return (
    <main id="main" className="center" aria-busy="true">
      <h1>Signing out…</h1>
    </main>
  );
}
