// /admin: one tab per area, each shown only when the session holds its permission. A user with
// none of them sees "not authorized" (the server would answer 403 anyway).

import { useRef, type KeyboardEvent } from 'react';
import { useSearchParams } from 'react-router';
import { useSession } from '../../api/session';
import { UsersTab } from './Users';
import { AuditTab, RolesTab } from './RolesAudit';
import { CacheTab } from './Cache';
import { JobsTab } from './Jobs';

const TABS = [
  { id: 'users', label: 'Users', perm: 'user:read' },
  { id: 'roles', label: 'Roles', perm: 'role:manage' },
  { id: 'audit', label: 'Audit', perm: 'audit:read' },
  { id: 'cache', label: 'Cache', perm: 'system:admin' },
  { id: 'jobs', label: 'Jobs', perm: 'system:admin' },
] as const;

export function AdminPage() {
  const { can } = useSession();
  const [params, setParams] = useSearchParams();
  const tabs = TABS.filter((t) => can(t.perm));
  const list = useRef<HTMLDivElement>(null);
  if (tabs.length === 0) {
    return (
      <>
        <h1>Administration</h1>
        <p className="error-banner" role="alert" data-testid="admin-not-authorized">
          You are not authorized to use the administration pages. Ask an administrator if you need access.
        </p>
      </>
    );
  }
  const wanted = params.get('tab');
  const active = tabs.find((t) => t.id === wanted) ?? tabs[0];
  const select = (id: string) => setParams({ tab: id });
  const onKey = (e: KeyboardEvent) => {
    const i = tabs.findIndex((t) => t.id === active.id);
    const delta = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
    if (!delta) return;
    e.preventDefault();
    const next = tabs[(i + delta + tabs.length) % tabs.length];
    select(next.id);
    window.setTimeout(() => list.current?.querySelector<HTMLElement>(`#tab-${next.id}`)?.focus(), 0);
  };
  return (
    <>
      <h1>Administration</h1>
      <div className="tabs" role="tablist" aria-label="Administration" ref={list} onKeyDown={onKey}>
        {tabs.map((t) => (
          <button key={t.id} id={`tab-${t.id}`} type="button" role="tab" aria-selected={t.id === active.id} aria-controls={`panel-${t.id}`}
            tabIndex={t.id === active.id ? 0 : -1} data-testid={`admin-tab-${t.id}`} onClick={() => select(t.id)}>
            {t.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${active.id}`} aria-labelledby={`tab-${active.id}`} className="tabpanel">
        {active.id === 'users' && <UsersTab />}
        {active.id === 'roles' && <RolesTab />}
        {active.id === 'audit' && <AuditTab />}
        {active.id === 'cache' && <CacheTab />}
        {active.id === 'jobs' && <JobsTab />}
      </div>
    </>
  );
}
