import { useState } from 'react';
import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/client';
import { useSession } from '../../api/session';
import { formatDate } from '../../api/tasks';
import type { User, UserPage } from '../../api/types';
import { useConfirm, useNotify } from '../../ui/feedback';
import { ErrorBanner } from '../../ui/form';
import { Pager } from '../../ui/pager';
import { UserDetail } from './UserDetail';

export function UsersTab() {
  const { can, profile } = useSession();
  const qc = useQueryClient();
  const notify = useNotify();
  const confirm = useConfirm();
  const [q, setQ] = useState('');
  const [active, setActive] = useState('');
  const [role, setRole] = useState('');
  const [department, setDepartment] = useState('');
  const [page, setPage] = useState(1);
  const [pageSize, setPageSize] = useState(20);
  const [open, setOpen] = useState<string | null>(null);
  const query = { q, is_active: active, role, department, page, pageSize };
  const users = useQuery({
    queryKey: ['admin', 'users', query],
    queryFn: async () => (await api.get<UserPage>('/users', { query })).data,
    placeholderData: keepPreviousData,
  });
  const refresh = () => qc.invalidateQueries({ queryKey: ['admin', 'users'] });
  const run = async (what: () => Promise<unknown>, done: string) => {
    try {
      await what();
      notify(done, 'success');
    } catch (err) {
      notify(err instanceof Error ? err.message : 'The request failed.', 'error');
    } finally {
      await refresh();
    }
  };
  const toggle = async (u: User) => {
    if (u.is_active && !(await confirm(`Deactivate ${u.username}? They can no longer sign in or use their tokens.`, 'Deactivate'))) return;
    await run(() => api.patch(`/users/${u.id}`, { is_active: !u.is_active }), `${u.username} is now ${u.is_active ? 'inactive' : 'active'}.`);
  };
  const remove = async (u: User) => {
    if (!(await confirm(`Delete the user ${u.username}? Their sessions end; their tasks stay.`))) return;
    await run(() => api.del(`/users/${u.id}`), `Deleted ${u.username}.`);
  };
  const openUser = users.data?.users.find((u) => u.id === open) ?? null;

  return (
    <>
      <form className="filters" role="search" aria-label="Filter users" onSubmit={(e) => e.preventDefault()}>
        <div className="field">
          <label htmlFor="u-q">Search</label>
          <input id="u-q" type="search" data-testid="user-filter-q" value={q} placeholder="Name, username or email" onChange={(e) => { setQ(e.target.value); setPage(1); }} />
        </div>
        <div className="field">
          <label htmlFor="u-active">State</label>
          <select id="u-active" data-testid="user-filter-active" value={active} onChange={(e) => { setActive(e.target.value); setPage(1); }}>
            <option value="">Any</option>
            <option value="true">Active</option>
            <option value="false">Inactive</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="u-role">Role</label>
          <select id="u-role" data-testid="user-filter-role" value={role} onChange={(e) => { setRole(e.target.value); setPage(1); }}>
            <option value="">Any</option>
            <option value="user">user</option>
            <option value="manager">manager</option>
            <option value="admin">admin</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="u-dept">Department</label>
          <input id="u-dept" data-testid="user-filter-department" value={department} onChange={(e) => { setDepartment(e.target.value); setPage(1); }} />
        </div>
      </form>
      <ErrorBanner error={users.error} />
      {users.data && users.data.users.length === 0 && <p className="empty">No user matches these filters.</p>}
      {users.data && users.data.users.length > 0 && (
        <div className="table-wrap" tabIndex={0} role="region" aria-label="User table">
          <table className="users">
            <caption className="sr-only">Users</caption>
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Department</th>
                <th scope="col">Roles</th>
                <th scope="col">State</th>
                <th scope="col">Last login</th>
                <th scope="col"><span className="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {users.data.users.map((u) => (
                <tr key={u.id} data-testid="user-row" data-username={u.username}>
                  <td data-label="User">
                    <strong>{u.username}</strong> <span className="muted">{u.email}</span>
                    <br />
                    {u.first_name} {u.last_name}
                    {u.position && <span className="muted"> · {u.position}</span>}
                  </td>
                  <td data-label="Department">{u.department ?? '—'}</td>
                  <td data-label="Roles" data-testid="user-roles">{u.roles.join(', ') || '—'}</td>
                  <td data-label="State" data-testid="user-state">{u.is_active ? 'Active' : 'Inactive'}</td>
                  <td data-label="Last login">{formatDate(u.last_login_at)}</td>
                  <td className="actions">
                    <button type="button" data-testid="user-manage" aria-label={`Manage ${u.username}`} onClick={() => setOpen(u.id)}>Manage</button>
                    {can('user:update') && u.id !== profile?.id && (
                      <button type="button" data-testid="user-toggle-active" aria-label={`${u.is_active ? 'Deactivate' : 'Activate'} ${u.username}`} onClick={() => void toggle(u)}>
                        {u.is_active ? 'Deactivate' : 'Activate'}
                      </button>
                    )}
                    {can('user:delete') && u.id !== profile?.id && (
                      <button type="button" className="danger" data-testid="user-delete" aria-label={`Delete ${u.username}`} onClick={() => void remove(u)}>Delete</button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {users.data && (
        <div className="row wrap">
          <Pager data={users.data} onPage={setPage} label="User pages" testid="user-page" />
          <label htmlFor="u-size">Per page</label>
          <select id="u-size" data-testid="user-page-size" value={pageSize} onChange={(e) => { setPageSize(Number(e.target.value)); setPage(1); }}>
            {[5, 20, 50, 100].map((n) => <option key={n} value={n}>{n}</option>)}
          </select>
        </div>
      )}
      {openUser && <UserDetail user={openUser} onClose={() => setOpen(null)} onChanged={refresh} />}
    </>
  );
}
