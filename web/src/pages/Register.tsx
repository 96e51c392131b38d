import { useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router';
import { api } from '../api/client';
import { ErrorBanner, PasswordChecklist, TextField, fieldError } from '../ui/form';

const EMPTY = { username: '', email: '', password: '', first_name: '', last_name: '', department: '', position: '' };

export function RegisterPage() {
  const navigate = useNavigate();
  const [form, setForm] = useState(EMPTY);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const set = (k: keyof typeof EMPTY) => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value });

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body: Record<string, string> = { ...form };
      if (!body.department) delete body.department;
      if (!body.position) delete body.position;
      await api.post('/auth/register', body, { auth: false });
      navigate('/login', { state: { notice: 'Your account is ready. Sign in with your email and password.' } });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const err = (f: string) => fieldError(error, f);
  return (
    <main id="main" className="auth">
      <h1>Create your Taskify account</h1>
      <form onSubmit={submit} noValidate>
        <ErrorBanner error={error} testid="reg-error" />
        <TextField label="Username" testid="reg-username" autoComplete="username" value={form.username} onChange={set('username')} error={err('username')}
          hint="3 to 50 letters, digits or underscores" required />
        <TextField label="Email" type="email" testid="reg-email" autoComplete="email" value={form.email} onChange={set('email')} error={err('email')} required />
        <TextField label="Password" type="password" testid="reg-password" autoComplete="new-password" value={form.password} onChange={set('password')}
          error={err('password')} hint={<PasswordChecklist password={form.password} />} required />
        <div className="grid2">
          <TextField label="First name" testid="reg-first-name" autoComplete="given-name" value={form.first_name} onChange={set('first_name')} error={err('first_name')} required />
          <TextField label="Last name" testid="reg-last-name" autoComplete="family-name" value={form.last_name} onChange={set('last_name')} error={err('last_name')} required />
          <TextField label="Department (optional)" testid="reg-department" value={form.department} onChange={set('department')} error={err('department')} />
          <TextField label="Position (optional)" testid="reg-position" value={form.position} onChange={set('position')} error={err('position')} />
        </div>
        <button type="submit" className="primary" data-testid="reg-submit" disabled={busy}>
          {busy ? 'Creating…' : 'Create account'}
        </button>
      </form>
      <p>
        Already registered? <Link to="/login">Sign in</Link>.
      </p>
    </main>
  );
}
