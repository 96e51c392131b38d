import { useState, type FormEvent } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { api, storeTokens, type TokenPair } from '../api/client';
import { PROFILE_KEY, useSession } from '../api/session';
import type { Profile, User } from '../api/types';
import { formatDate } from '../api/tasks';
import { useNotify } from '../ui/feedback';
import { ErrorBanner, PasswordChecklist, TextField, fieldError } from '../ui/form';

export function ProfilePage() {
  const { profile } = useSession();
  const [editing, setEditing] = useState(false);
  if (!profile) return null;
  return (
    <>
      <h1>Your profile</h1>
      <section className="card-box" aria-labelledby="profile-h">
        <div className="page-head">
          <h2 id="profile-h">Details</h2>
          {!editing && (
            <button type="button" data-testid="profile-edit" onClick={() => setEditing(true)}>
              Edit
            </button>
          )}
        </div>
        {editing ? <ProfileForm profile={profile} onDone={() => setEditing(false)} /> : <ProfileView profile={profile} />}
      </section>
      <PasswordForm />
    </>
  );
}

function ProfileView({ profile }: { profile: Profile }) {
  const rows: [string, string, string][] = [
    ['Username', profile.username, 'username'],
    ['Email', profile.email, 'email'],
    ['First name', profile.first_name, 'first-name'],
    ['Last name', profile.last_name, 'last-name'],
    ['Department', profile.department ?? '—', 'department'],
    ['Position', profile.position ?? '—', 'position'],
    ['Roles', profile.roles.join(', '), 'roles'],
    ['Member since', formatDate(profile.created_at), 'created'],
  ];
  return (
    <dl className="details" data-testid="profile-view">
      {rows.map(([label, value, id]) => (
        <div key={id}>
          <dt>{label}</dt>
          <dd data-testid={`profile-${id}`}>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

function ProfileForm({ profile, onDone }: { profile: Profile; onDone: () => void }) {
  const qc = useQueryClient();
  const notify = useNotify();
  const [first, setFirst] = useState(profile.first_name);
  const [last, setLast] = useState(profile.last_name);
  const [position, setPosition] = useState(profile.position ?? '');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const { data } = await api.put<{ user: User }>('/users/profile', { first_name: first, last_name: last, position });
      qc.setQueryData<Profile>(PROFILE_KEY, (old) => (old ? { ...old, ...data.user } : old));
      notify('Profile saved.', 'success');
      onDone();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit} noValidate>
      <ErrorBanner error={error} testid="profile-error" />
      <p className="hint">Your department is set by an administrator.</p>
      <div className="grid2">
        <TextField label="First name" testid="profile-first-name" value={first} onChange={(e) => setFirst(e.target.value)} error={fieldError(error, 'first_name')} />
        <TextField label="Last name" testid="profile-last-name" value={last} onChange={(e) => setLast(e.target.value)} error={fieldError(error, 'last_name')} />
        <TextField label="Position" testid="profile-position" value={position} onChange={(e) => setPosition(e.target.value)} error={fieldError(error, 'position')} />
      </div>
      <div className="row end">
        <button type="button" onClick={onDone}>Cancel</button>
        <button type="submit" className="primary" data-testid="profile-save" disabled={busy}>Save profile</button>
      </div>
    </form>
  );
}

function PasswordForm() {
  const notify = useNotify();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const { data } = await api.put<Partial<TokenPair>>('/users/profile', { current_password: current, new_password: next });
      // The change revokes every other session; this one continues with the new pair.
      if (data.access_token && data.refresh_token) storeTokens({ access_token: data.access_token, refresh_token: data.refresh_token });
      setCurrent('');
      setNext('');
      notify('Password changed. Other sessions have been signed out.', 'success');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="card-box" aria-labelledby="pw-h">
      <h2 id="pw-h">Change password</h2>
      <form onSubmit={submit} noValidate>
        <ErrorBanner error={error} testid="pw-error" />
        <TextField label="Current password" type="password" autoComplete="current-password" testid="pw-current" value={current}
          onChange={(e) => setCurrent(e.target.value)} error={fieldError(error, 'current_password')} />
        <TextField label="New password" type="password" autoComplete="new-password" testid="pw-new" value={next}
          onChange={(e) => setNext(e.target.value)} error={fieldError(error, 'new_password')} hint={<PasswordChecklist password={next} />} />
        <div className="row end">
          <button type="submit" className="primary" data-testid="pw-save" disabled={busy}>Change password</button>
        </div>
      </form>
    </section>
  );
}
