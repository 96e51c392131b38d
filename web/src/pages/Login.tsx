import { useState, type FormEvent } from 'react';
import { Link, Navigate, useLocation, useNavigate } from 'react-router';
import { takeSessionProblem } from '../api/client';
import { useSession } from '../api/session';
import { ErrorBanner, TextField, fieldError } from '../ui/form';

export function LoginPage() {
  const { profile, login } = useSession();
  const navigate = useNavigate();
  const location = useLocation();
  const state = (location.state ?? {}) as { notice?: string; from?: string };
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(() => takeSessionProblem());
  const [busy, setBusy] = useState(false);

  const target = state.from && state.from !== '/logout' ? state.from : '/tasks';
  if (profile && !busy) return <Navigate to={target} replace />;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(email, password);
      // `busy` stays true: the page is left, and the redirect above must not race this one.
      navigate(target, { replace: true });
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <main id="main" className="auth">
      <h1>Sign in to Taskify</h1>
      {state.notice && (
        <p className="success" role="status" data-testid="login-notice">
          {state.notice}
        </p>
      )}
      <form onSubmit={submit} noValidate>
        <ErrorBanner error={error} testid="login-error" />
        <TextField label="Email" type="email" autoComplete="email" testid="login-email" value={email}
          onChange={(e) => setEmail(e.target.value)} error={fieldError(error, 'email')} required />
        <TextField label="Password" type="password" autoComplete="current-password" testid="login-password"
          value={password} onChange={(e) => setPassword(e.target.value)} error={fieldError(error, 'password')} required />
        <button type="submit" className="primary" data-testid="login-submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <p>
        No account yet? <Link to="/register" data-testid="go-register">Create one</Link>.
      </p>
    </main>
  );
}
