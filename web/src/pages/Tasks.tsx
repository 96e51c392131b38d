// /tasks: filters, sort, page and view live in the URL, so any view can be bookmarked and shared.

import { useEffect, useMemo, useRef, useState, type FormEvent, type ReactElement } from 'react';
import { useSearchParams } from 'react-router';
import { useQueryClient } from '@tanstack/react-query';
import { useSession } from '../api/session';
import { createTask, dueState, formatDate, useDeleteTask, useOptimisticUpdate, useTasks, type TaskQuery } from '../api/tasks';
import { PRIORITIES, PRIORITY_LABEL, STATUSES, STATUS_LABEL, type Profile, type Task } from '../api/types';
import { useConfirm, useNotify } from '../ui/feedback';
import { ErrorBanner, fieldError } from '../ui/form';
import { countText, hasNextPage, pageText } from '../ui/paging';
import { TaskForm } from './TaskForm';
import { TaskBoard } from './TaskBoard';

const SORTABLE: [string, string][] = [
  ['created_at', 'Created'],
  ['updated_at', 'Updated'],
  ['title', 'Title'],
  ['due_date', 'Due date'],
  ['priority', 'Priority'],
  ['status', 'Status'],
];
const PAGE_SIZES = [2, 10, 20, 50, 100];

export function canWrite(profile: Profile | null, task: Task): boolean {
  return !!profile && (task.user_id === profile.id || profile.roles.includes('admin'));
}

export function TasksPage() {
  const [params, setParams] = useSearchParams();
  const { profile } = useSession();
  const view = params.get('view') === 'board' ? 'board' : 'list';
  const query: TaskQuery = {
    status: params.get('status') ?? undefined,
    priority: params.get('priority') ?? undefined,
    q: params.get('q') ?? undefined,
    due_after: dayToIso(params.get('due_after')),
    due_before: dayToIso(params.get('due_before'), 1),
    sortBy: params.get('sortBy') ?? 'created_at',
    order: params.get('order') ?? 'desc',
    page: Number(params.get('page') ?? 1) || 1,
    pageSize: Number(params.get('pageSize') ?? 20) || 20,
  };
  const listQuery: TaskQuery = view === 'board' ? { ...query, status: undefined, page: 1, pageSize: 100 } : query;
  const tasks = useTasks(listQuery);
  const editId = params.get('edit');
  const creating = params.get('new') === '1';
  const editing = useMemo(() => tasks.data?.tasks.find((t) => t.id === editId) ?? null, [tasks.data, editId]);
  // An open edit dialog stays open when its task leaves the list (deleted or changed elsewhere):
  // the dialog keeps the user's edits and says so.
  const lastEditing = useRef<Task | null>(null);
  useEffect(() => {
    if (editing) lastEditing.current = editing;
  }, [editing]);
  const formTask = editing ?? (lastEditing.current?.id === editId ? lastEditing.current : null);

  const update = (changes: Record<string, string | null>, resetPage = true) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v === null || v === '') next.delete(k);
      else next.set(k, v);
    }
    if (resetPage && !('page' in changes)) next.delete('page');
    setParams(next);
  };

  const [q, setQ] = useState(query.q ?? '');
  useEffect(() => setQ(params.get('q') ?? ''), [params]);
  useEffect(() => {
    const current = params.get('q') ?? '';
    if (q === current) return;
    const t = window.setTimeout(() => update({ q: q || null }), 350);
    return () => window.clearTimeout(t);
    // Only typing starts the debounce; `params` and `update` change with every navigation.
  }, [q]);

  const data = tasks.data;
  const filtered = !!(query.status || query.priority || query.q || query.due_after || query.due_before);

  return (
    <>
      <div className="page-head">
        <h1>Tasks</h1>
        <div className="row">
          <div className="segmented" role="group" aria-label="View">
            <button type="button" aria-pressed={view === 'list'} data-testid="view-list" onClick={() => update({ view: null }, false)}>List</button>
            <button type="button" aria-pressed={view === 'board'} data-testid="view-board" onClick={() => update({ view: 'board' }, false)}>Board</button>
          </div>
          <button type="button" className="primary" data-testid="task-new" onClick={() => update({ new: '1' }, false)} aria-keyshortcuts="n">
            New task
          </button>
        </div>
      </div>
      <QuickAdd />
      <form className="filters" role="search" aria-label="Filter tasks" onSubmit={(e) => e.preventDefault()}>
        <div className="field">
          <label htmlFor="f-q">Search</label>
          <input id="f-q" type="search" data-testid="task-filter-q" data-shortcut="search" aria-keyshortcuts="/" placeholder="Title or description"
            value={q} maxLength={200} onChange={(e) => setQ(e.target.value)} />
        </div>
        {view === 'list' && (
          <div className="field">
            <label htmlFor="f-status">Status</label>
            <select id="f-status" data-testid="task-filter-status" value={query.status ?? ''} onChange={(e) => update({ status: e.target.value })}>
              <option value="">Any</option>
              {STATUSES.map((s) => <option key={s} value={s}>{STATUS_LABEL[s]}</option>)}
            </select>
          </div>
        )}
        <div className="field">
          <label htmlFor="f-priority">Priority</label>
          <select id="f-priority" data-testid="task-filter-priority" value={query.priority ?? ''} onChange={(e) => update({ priority: e.target.value })}>
            <option value="">Any</option>
            {PRIORITIES.map((p) => <option key={p} value={p}>{PRIORITY_LABEL[p]}</option>)}
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-after">Due from</label>
          <input id="f-after" type="date" data-testid="task-filter-due-after" value={params.get('due_after') ?? ''} onChange={(e) => update({ due_after: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor="f-before">Due until</label>
          <input id="f-before" type="date" data-testid="task-filter-due-before" value={params.get('due_before') ?? ''} onChange={(e) => update({ due_before: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor="f-sort">Sort by</label>
          <select id="f-sort" data-testid="task-sort" value={query.sortBy} onChange={(e) => update({ sortBy: e.target.value })}>
            {SORTABLE.map(([v, l]) => <option key={v} value={v}>{l}</option>)}
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-order">Order</label>
          <select id="f-order" data-testid="task-order" value={query.order} onChange={(e) => update({ order: e.target.value })}>
            <option value="asc">Ascending</option>
            <option value="desc">Descending</option>
          </select>
        </div>
        {filtered && (
          <button type="button" className="link" data-testid="task-filter-clear"
            onClick={() => update({ status: null, priority: null, q: null, due_after: null, due_before: null })}>
            Clear filters
          </button>
        )}
      </form>
      <ErrorBanner error={tasks.error} testid="task-list-error" />
      {tasks.error && fieldError(tasks.error, 'q') && <p className="field-error">{fieldError(tasks.error, 'q')}</p>}
      {data && view === 'list' && (
        <TaskTable tasks={data.tasks} profile={profile} sortBy={query.sortBy ?? 'created_at'} order={query.order ?? 'desc'}
          onSort={(field) => update({ sortBy: field, order: query.sortBy === field && query.order === 'asc' ? 'desc' : 'asc' })}
          onEdit={(t) => update({ edit: t.id }, false)} empty={<Empty filtered={filtered} onNew={() => update({ new: '1' }, false)} />} />
      )}
      {data && view === 'board' && <TaskBoard tasks={data.tasks} profile={profile} onEdit={(t) => update({ edit: t.id }, false)} truncated={data.total > data.tasks.length} />}
      {data && view === 'list' && (
        <nav className="pager" aria-label="Pages">
          <button type="button" data-testid="task-page-prev" disabled={data.page <= 1} onClick={() => update({ page: String(data.page - 1) }, false)}>
            Previous
          </button>
          <span data-testid="task-page-info">
            {pageText(data)} · {countText(data, 'task', 'tasks')}
          </span>
          <button type="button" data-testid="task-page-next" disabled={!hasNextPage(data)} onClick={() => update({ page: String(data.page + 1) }, false)}>
            Next
          </button>
          <label htmlFor="f-size">Per page</label>
          <select id="f-size" data-testid="task-page-size" value={String(query.pageSize)} onChange={(e) => update({ pageSize: e.target.value })}>
            {PAGE_SIZES.map((n) => <option key={n} value={n}>{n}</option>)}
          </select>
        </nav>
      )}
      {(creating || (editId && formTask)) && (
        <TaskForm key={editId ?? 'new'} task={creating ? null : formTask} latest={creating ? undefined : editing}
          onClose={() => update({ new: null, edit: null }, false)} />
      )}
    </>
  );
}

/** A YYYY-MM-DD filter value as an RFC 3339 instant at local midnight (plus `days`). */
function dayToIso(day: string | null, days = 0): string | undefined {
  if (!day) return undefined;
  const d = new Date(`${day}T00:00:00`);
  if (Number.isNaN(d.getTime())) return undefined;
  d.setDate(d.getDate() + days);
  return d.toISOString();
}

function Empty({ filtered, onNew }: { filtered: boolean; onNew: () => void }) {
  return filtered ? (
    <p className="empty" data-testid="task-empty">No task matches these filters. Change or clear them to see more.</p>
  ) : (
    <div className="empty" data-testid="task-empty">
      <p>You have no tasks yet. Type a title in “Quick add” and press Enter, or</p>
      <button type="button" className="primary" onClick={onNew}>create your first task</button>
    </div>
  );
}

function QuickAdd() {
  const qc = useQueryClient();
  const notify = useNotify();
  const [title, setTitle] = useState('');
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!title.trim()) return;
    setError(null);
    try {
      const task = await createTask({ title });
      setTitle('');
      notify(`Created “${task.title}”.`, 'success');
      await qc.invalidateQueries({ queryKey: ['tasks'] });
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form className="quick-add" onSubmit={submit}>
      <label htmlFor="quick-add">Quick add</label>
      <input id="quick-add" data-testid="task-quick-add" placeholder="Type a title and press Enter" value={title} maxLength={255}
        onChange={(e) => setTitle(e.target.value)} aria-describedby={error ? 'quick-add-err' : undefined} />
      {error instanceof Error && <span id="quick-add-err" className="field-error" role="alert">{fieldError(error, 'title') ?? error.message}</span>}
    </form>
  );
}

interface TableProps {
  tasks: Task[];
  profile: Profile | null;
  sortBy: string;
  order: string;
  onSort: (field: string) => void;
  onEdit: (task: Task) => void;
  empty: ReactElement;
}

function TaskTable({ tasks, profile, sortBy, order, onSort, onEdit, empty }: TableProps) {
  const remove = useDeleteTask();
  const move = useOptimisticUpdate();
  const confirm = useConfirm();
  if (tasks.length === 0) return empty;
  const header = (field: string, label: string) => (
    <th scope="col" aria-sort={sortBy === field ? (order === 'asc' ? 'ascending' : 'descending') : undefined}>
      <button type="button" className="sort" data-testid={`sort-${field}`} onClick={() => onSort(field)}>
        {label}
        <span aria-hidden="true">{sortBy === field ? (order === 'asc' ? ' ▲' : ' ▼') : ''}</span>
      </button>
    </th>
  );
  return (
    <div className="table-wrap" tabIndex={0} role="region" aria-label="Task table">
      <table className="tasks" data-testid="task-list">
        <caption className="sr-only">Tasks</caption>
        <thead>
          <tr>
            {header('title', 'Title')}
            {header('status', 'Status')}
            {header('priority', 'Priority')}
            {header('due_date', 'Due')}
            <th scope="col">Owner</th>
            {header('updated_at', 'Updated')}
            <th scope="col"><span className="sr-only">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          {tasks.map((t) => {
            const writable = canWrite(profile, t);
            const due = dueState(t);
            return (
              <tr key={t.id} data-testid="task-row" data-task-id={t.id} className={due ?? undefined}>
                <td data-label="Title">
                  <span className="task-title">{t.title}</span>
                  {t.description && <span className="task-desc">{t.description}</span>}
                </td>
                <td data-label="Status">
                  {writable ? (
                    <select aria-label={`Status of ${t.title}`} data-testid="task-status" value={t.status}
                      onChange={(e) => move.mutate({ task: t, input: { status: e.target.value as Task['status'] } })}>
                      {STATUSES.map((s) => <option key={s} value={s}>{STATUS_LABEL[s]}</option>)}
                    </select>
                  ) : (
                    <span className={`badge status-${t.status}`}>{STATUS_LABEL[t.status]}</span>
                  )}
                </td>
                <td data-label="Priority"><span className={`badge prio-${t.priority}`} data-testid="task-priority">{PRIORITY_LABEL[t.priority]}</span></td>
                <td data-label="Due" data-testid="task-due">
                  {formatDate(t.due_date)}
                  {due === 'overdue' && <span className="flag overdue-flag"> Overdue</span>}
                  {due === 'soon' && <span className="flag soon-flag"> Due soon</span>}
                </td>
                <td data-label="Owner" data-testid="task-owner">{t.user_id === profile?.id ? 'You' : t.owner_username}</td>
                <td data-label="Updated">{formatDate(t.updated_at)}</td>
                <td className="actions">
                  {writable && (
                    <>
                      <button type="button" data-testid="task-edit" aria-label={`Edit ${t.title}`} onClick={() => onEdit(t)}>Edit</button>
                      <button type="button" className="danger" data-testid="task-delete" aria-label={`Delete ${t.title}`}
                        onClick={async () => { if (await confirm(`Delete the task “${t.title}”? This cannot be undone.`)) remove.mutate(t); }}>
                        Delete
                      </button>
                    </>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
