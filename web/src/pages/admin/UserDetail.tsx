// One user, in a dialog: department and position, roles (assign with an optional expiry, revoke)
// and attributes (view, add, edit, delete).

import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/client';
import { useSession } from '../../api/session';
import { formatDate, fromLocalInput } from '../../api/tasks';
import type { Attribute, User } from '../../api/types';
import { useConfirm, useNotify } from '../../ui/feedback';
import { ErrorBanner, SelectField, TextField, fieldError } from '../../ui/form';

interface Props {
  user: User;
  onClose: () => void;
  onChanged: () => Promise<unknown>;
}

export function UserDetail({ user, onClose, onChanged }: Props) {
  const { can } = useSession();
  const dialog = useRef<HTMLDialogElement>(null);
  const notify = useNotify();
  const confirm = useConfirm();
  useEffect(() => {
    if (dialog.current && !dialog.current.open) dialog.current.showModal();
  }, []);

  const [department, setDepartment] = useState(user.department ?? '');
  const [position, setPosition] = useState(user.position ?? '');
  const [detailsError, setDetailsError] = useState<unknown>(null);
  const saveDetails = async (e: FormEvent) => {
    e.preventDefault();
    setDetailsError(null);
    try {
      await api.patch(`/users/${user.id}`, { department, position });
      notify(`Saved ${user.username}.`, 'success');
      await onChanged();
    } catch (err) {
      setDetailsError(err);
    }
  };

  const [role, setRole] = useState('manager');
  const [expires, setExpires] = useState('');
  const [roleError, setRoleError] = useState<unknown>(null);
  const assign = async (e: FormEvent) => {
    e.preventDefault();
    setRoleError(null);
    try {
      const expires_at = fromLocalInput(expires);
      await api.post(`/users/${user.id}/roles`, expires_at ? { role, expires_at } : { role });
      notify(`Assigned ${role} to ${user.username}.`, 'success');
      await onChanged();
    } catch (err) {
      setRoleError(err);
    }
  };
  const revoke = async (name: string) => {
    if (!(await confirm(`Revoke the role ${name} from ${user.username}?`, 'Revoke'))) return;
    setRoleError(null);
    try {
      await api.del(`/users/${user.id}/roles/${encodeURIComponent(name)}`);
      notify(`Revoked ${name} from ${user.username}.`, 'success');
      await onChanged();
    } catch (err) {
      setRoleError(err);
    }
  };
  const assignments = user.role_assignments ?? user.roles.map((r) => ({ role: r, expires_at: null, assigned_at: '', assigned_by: null }));

  return (
    <dialog ref={dialog} className="wide" aria-labelledby="user-detail-title" onClose={onClose} data-testid="user-detail">
      <div className="page-head">
        <h2 id="user-detail-title">{user.username}</h2>
        <button type="button" onClick={() => dialog.current?.close()}>Close</button>
      </div>
      <p className="muted">{user.email} · {user.first_name} {user.last_name} · member since {formatDate(user.created_at)}</p>

      {can('user:update') && (
        <form onSubmit={saveDetails} noValidate aria-labelledby="ud-details">
          <h3 id="ud-details">Department and position</h3>
          <ErrorBanner error={detailsError} />
          <div className="grid2">
            <TextField label="Department" testid="user-department" value={department} onChange={(e) => setDepartment(e.target.value)} error={fieldError(detailsError, 'department')} />
            <TextField label="Position" testid="user-position" value={position} onChange={(e) => setPosition(e.target.value)} error={fieldError(detailsError, 'position')} />
          </div>
          <button type="submit" data-testid="user-save">Save details</button>
        </form>
      )}

      <h3>Roles</h3>
      <ErrorBanner error={roleError} testid="role-error" />
      <ul className="chips">
        {assignments.map((a) => (
          <li key={a.role} data-testid="user-role" data-role={a.role}>
            {a.role}
            {a.expires_at && <span className="muted"> until {formatDate(a.expires_at)}</span>}
            {can('user:revoke_role') && (
              <button type="button" className="link danger" data-testid="role-revoke" data-role={a.role} aria-label={`Revoke ${a.role}`} onClick={() => void revoke(a.role)}>
                Revoke
              </button>
            )}
          </li>
        ))}
      </ul>
      {can('user:assign_role') && (
        <form onSubmit={assign} className="row wrap" noValidate>
          <SelectField label="Role" testid="role-name" value={role} onChange={(e) => setRole(e.target.value)} error={fieldError(roleError, 'role')}>
            <option value="user">user</option>
            <option value="manager">manager</option>
            <option value="admin">admin</option>
          </SelectField>
          <TextField label="Expires (optional)" type="datetime-local" testid="role-expires" value={expires} onChange={(e) => setExpires(e.target.value)} error={fieldError(roleError, 'expires_at')} />
          <button type="submit" data-testid="role-assign">Assign role</button>
        </form>
      )}

      <Attributes user={user} />
    </dialog>
  );
}

function Attributes({ user }: { user: User }) {
  const { can } = useSession();
  const qc = useQueryClient();
  const notify = useNotify();
  const confirm = useConfirm();
  const key = ['admin', 'attrs', user.id];
  const attrs = useQuery({
    queryKey: key,
    queryFn: async () => (await api.get<{ attributes: Attribute[] }>(`/users/${user.id}/attributes`)).data.attributes,
  });
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const [type, setType] = useState<Attribute['data_type']>('string');
  const [expires, setExpires] = useState('');
  const [error, setError] = useState<unknown>(null);

  const edit = (a: Attribute) => {
    setName(a.key);
    setValue(String(a.value));
    setType(a.data_type);
    setExpires('');
  };
  const save = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    let typed: unknown = value;
    if (type === 'number') typed = Number(value);
    if (type === 'boolean') typed = value === 'true';
    try {
      await api.put(`/users/${user.id}/attributes/${encodeURIComponent(name)}`, { value: typed, data_type: type, expires_at: fromLocalInput(expires) });
      notify(`Saved the attribute ${name}.`, 'success');
      setName('');
      setValue('');
      await qc.invalidateQueries({ queryKey: key });
    } catch (err) {
      setError(err);
    }
  };
  const remove = async (a: Attribute) => {
    if (!(await confirm(`Delete the attribute ${a.key} of ${user.username}?`))) return;
    try {
      await api.del(`/users/${user.id}/attributes/${encodeURIComponent(a.key)}`);
      notify(`Deleted the attribute ${a.key}.`, 'success');
    } catch (err) {
      notify(err instanceof Error ? err.message : 'The request failed.', 'error');
    }
    await qc.invalidateQueries({ queryKey: key });
  };

  return (
    <section aria-labelledby="ud-attrs">
      <h3 id="ud-attrs">Attributes</h3>
      <ErrorBanner error={attrs.error} />
      {attrs.data && attrs.data.length === 0 && <p className="empty">No attributes.</p>}
      {attrs.data && attrs.data.length > 0 && (
        <table className="compact">
          <caption className="sr-only">Attributes of {user.username}</caption>
          <thead>
            <tr><th scope="col">Key</th><th scope="col">Value</th><th scope="col">Type</th><th scope="col">Source</th><th scope="col">Expires</th><th scope="col"><span className="sr-only">Actions</span></th></tr>
          </thead>
          <tbody>
            {attrs.data.map((a) => (
              <tr key={a.key} data-testid="attr-row" data-key={a.key} className={a.active ? undefined : 'inactive'}>
                <td>{a.key}</td>
                <td data-testid="attr-value">{String(a.value)}</td>
                <td>{a.data_type}</td>
                <td>{a.source}</td>
                <td>{a.expires_at ? formatDate(a.expires_at) : 'never'}{a.active ? '' : ' (expired)'}</td>
                <td className="actions">
                  {can('user:update') && (
                    <>
                      <button type="button" data-testid="attr-edit" aria-label={`Edit ${a.key}`} onClick={() => edit(a)}>Edit</button>
                      <button type="button" className="danger" data-testid="attr-delete" aria-label={`Delete ${a.key}`} onClick={() => void remove(a)}>Delete</button>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {can('user:update') && (
        <form onSubmit={save} noValidate aria-label="Add or replace an attribute">
          <ErrorBanner error={error} testid="attr-error" />
          <div className="grid4">
            <TextField label="Key" testid="attr-key" value={name} onChange={(e) => setName(e.target.value)} placeholder="e.g. clearance_level" />
            <TextField label="Value" testid="attr-value-input" value={value} onChange={(e) => setValue(e.target.value)} error={fieldError(error, 'value')} />
            <SelectField label="Type" testid="attr-type" value={type} onChange={(e) => setType(e.target.value as Attribute['data_type'])}>
              <option value="string">string</option>
              <option value="number">number</option>
              <option value="boolean">boolean</option>
              <option value="datetime">datetime</option>
            </SelectField>
            <TextField label="Expires (optional)" type="datetime-local" testid="attr-expires" value={expires} onChange={(e) => setExpires(e.target.value)} error={fieldError(error, 'expires_at')} />
          </div>
          <button type="submit" data-testid="attr-save">Save attribute</button>
        </form>
      )}
    </section>
  );
}
