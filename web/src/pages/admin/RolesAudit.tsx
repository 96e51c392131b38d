import { useState } from 'react';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { api } from '../../api/client';
import { formatDate, fromLocalInput } from '../../api/tasks';
import type { AuditPage, Role } from '../../api/types';
import { ErrorBanner, fieldError } from '../../ui/form';
import { Pager } from '../../ui/pager';

export function RolesTab() {
  const roles = useQuery({ queryKey: ['admin', 'roles'], queryFn: async () => (await api.get<{ roles: Role[] }>('/roles')).data.roles });
  return (
    <>
      <ErrorBanner error={roles.error} />
      {roles.data?.map((r) => (
        <section key={r.id} className="card-box" data-testid="role-card" data-role={r.name} aria-labelledby={`role-${r.name}`}>
          <h2 id={`role-${r.name}`}>{r.name}</h2>
          <p className="muted">{r.description}</p>
          <table className="compact">
            <caption className="sr-only">Permissions of {r.name}</caption>
            <thead>
              <tr><th scope="col">Permission</th><th scope="col">Scope</th><th scope="col">Description</th></tr>
            </thead>
            <tbody>
              {r.permissions.map((p) => (
                <tr key={p.id} data-testid="role-permission">
                  <td><code>{p.resource}:{p.action}</code></td>
                  <td>{p.scope}</td>
                  <td>{p.description}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ))}
    </>
  );
}

export function AuditTab() {
  const [userId, setUserId] = useState('');
  const [resource, setResource] = useState('');
  const [decision, setDecision] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [page, setPage] = useState(1);
  const query = { user_id: userId.trim(), resource: resource.trim(), decision, from: fromLocalInput(from), to: fromLocalInput(to), page, pageSize: 20 };
  const audit = useQuery({
    queryKey: ['admin', 'audit', query],
    queryFn: async () => (await api.get<AuditPage>('/audit-logs', { query })).data,
    placeholderData: keepPreviousData,
  });
  const reset = <T,>(set: (v: T) => void) => (v: T) => { set(v); setPage(1); };
  return (
    <>
      <form className="filters" role="search" aria-label="Filter the audit log" onSubmit={(e) => e.preventDefault()}>
        <div className="field">
          <label htmlFor="a-user">User ID</label>
          <input id="a-user" data-testid="audit-filter-user" value={userId} onChange={(e) => reset(setUserId)(e.target.value)} placeholder="UUID" />
        </div>
        <div className="field">
          <label htmlFor="a-res">Resource</label>
          <select id="a-res" data-testid="audit-filter-resource" value={resource} onChange={(e) => reset(setResource)(e.target.value)}>
            <option value="">Any</option>
            {['task', 'user', 'profile', 'role', 'audit', 'system'].map((r) => <option key={r} value={r}>{r}</option>)}
          </select>
        </div>
        <div className="field">
          <label htmlFor="a-dec">Decision</label>
          <select id="a-dec" data-testid="audit-filter-decision" value={decision} onChange={(e) => reset(setDecision)(e.target.value)}>
            <option value="">Any</option>
            <option value="allowed">Allowed</option>
            <option value="denied">Denied</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="a-from">From</label>
          <input id="a-from" type="datetime-local" data-testid="audit-filter-from" value={from} onChange={(e) => reset(setFrom)(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="a-to">To</label>
          <input id="a-to" type="datetime-local" data-testid="audit-filter-to" value={to} onChange={(e) => reset(setTo)(e.target.value)} />
        </div>
      </form>
      <ErrorBanner error={audit.error} testid="audit-error" />
      {fieldError(audit.error, 'user_id') && <p className="field-error">User ID: {fieldError(audit.error, 'user_id')}</p>}
      {audit.data && audit.data.audit_logs.length === 0 && <p className="empty" data-testid="audit-empty">No audit entries match. Widen the time range or clear a filter.</p>}
      {audit.data && audit.data.audit_logs.length > 0 && (
        <div className="table-wrap" tabIndex={0} role="region" aria-label="Audit log table">
          <table className="compact" data-testid="audit-list">
            <caption className="sr-only">Audit log</caption>
            <thead>
              <tr><th scope="col">Time</th><th scope="col">User</th><th scope="col">Action</th><th scope="col">Decision</th><th scope="col">Request</th><th scope="col">Reason</th></tr>
            </thead>
            <tbody>
              {audit.data.audit_logs.map((a) => (
                <tr key={a.id} data-testid="audit-row" data-decision={a.decision}>
                  <td>{formatDate(a.timestamp)}</td>
                  <td><code className="small">{a.user_id ?? '—'}</code></td>
                  <td><code>{a.action}</code></td>
                  <td><span className={`badge ${a.decision}`}>{a.decision}</span></td>
                  <td>{a.method} <code className="small">{a.path}</code></td>
                  <td>{a.reason}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {audit.data && <Pager data={audit.data} onPage={setPage} label="Audit pages" testid="audit-page" />}
      {audit.data?.total_capped && <p className="hint">More than 10 000 entries match; narrow the filters to see them all.</p>}
    </>
  );
}
