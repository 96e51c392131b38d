// Applies live events to the TanStack Query cache in place (docs/web-ui.md#live-updates).
//
// Every cached task page (`['tasks', query]`: list pages and the board) that holds the task gets
// the new version, only when it is newer than the cached one, so an event delayed behind a fresher
// fetch changes nothing. A task with a write of this tab in flight (an optimistic change) is left
// alone: the write's own refetch when it settles brings the final state, and an older event would
// otherwise undo the change on screen. Where a page cannot be patched exactly (a filter or sort the
// change may affect, a new task, a hole left by a delete in a paged list, a resync), its key is
// returned so the caller refetches it quietly in the background.

import type { QueryClient, QueryKey } from '@tanstack/react-query';
import type { LiveEvent } from './events';
import type { Task, TaskPage } from './types';
import { TASK_WRITE_KEY, type TaskQuery } from './tasks';

/** The ids of tasks with a write of this tab in flight. */
function pendingIds(qc: QueryClient): Set<string> {
  const ids = new Set<string>();
  for (const m of qc.getMutationCache().findAll({ mutationKey: TASK_WRITE_KEY, status: 'pending' })) {
    const vars = m.state.variables as { id?: unknown; task?: { id?: unknown } } | undefined;
    const id = vars?.task?.id ?? vars?.id;
    if (typeof id === 'string') ids.add(id);
  }
  return ids;
}

function isFiltered(q: TaskQuery | undefined): boolean {
  return !!(q && (q.status || q.priority || q.q || q.due_after || q.due_before));
}

/** The page's order may change: it is sorted by a field whose value changed. */
function orderMayChange(q: TaskQuery | undefined, before: Task, after: Task): boolean {
  const field = (q?.sortBy ?? 'created_at') as keyof Task;
  return before[field] !== after[field];
}

/**
 * Applies `event` to every cached task page. Returns the keys of the pages to refetch in the
 * background (none when the in-place change is exact).
 */
export function applyLiveEvent(qc: QueryClient, event: LiveEvent): QueryKey[] {
  const pages = qc.getQueriesData<TaskPage>({ queryKey: ['tasks'] }).filter((e): e is [QueryKey, TaskPage] => !!e[1]);
  if (event.type === 'resync') return pages.map(([key]) => key);
  if (event.type === 'task.deleted') return applyDelete(qc, pages, event.id, event.version);
  if (pendingIds(qc).has(event.id)) return [];

  const refetch: QueryKey[] = [];
  let held = false;
  for (const [key, page] of pages) {
    const query = key[1] as TaskQuery | undefined;
    const index = page.tasks.findIndex((t) => t.id === event.id);
    if (index === -1) {
      // The change may bring the task into a filtered page.
      if (isFiltered(query)) refetch.push(key);
      continue;
    }
    held = true;
    const cached = page.tasks[index];
    if (event.version <= cached.version) continue;
    if (!event.task) {
      refetch.push(key);
      continue;
    }
    const tasks = page.tasks.slice();
    // Merged over the cached task, so a member the event may lack never blanks a field on screen.
    tasks[index] = { ...cached, ...event.task };
    qc.setQueryData<TaskPage>(key, { ...page, tasks });
    if (isFiltered(query) || orderMayChange(query, cached, event.task)) refetch.push(key);
  }
  // A task no page holds is new to this user (created, or newly visible): it belongs somewhere.
  if (!held) return pages.map(([key]) => key);
  return refetch;
}

function applyDelete(qc: QueryClient, pages: [QueryKey, TaskPage][], id: string, version: number): QueryKey[] {
  const refetch: QueryKey[] = [];
  for (const [key, page] of pages) {
    const cached = page.tasks.find((t) => t.id === id);
    if (!cached || version < cached.version) continue;
    const tasks = page.tasks.filter((t) => t.id !== id);
    const total = Math.max(0, page.total - 1);
    qc.setQueryData<TaskPage>(key, { ...page, tasks, total });
    // A later page has a task that now moves up into this one.
    if (page.page < page.total_pages) refetch.push(key);
  }
  return refetch;
}

/**
 * Collects the pages to refetch and refetches them together, once per `delayMs`, so a burst of
 * events costs one request per page. While a task write of this tab is in flight nothing is
 * refetched: its settling invalidates every task page anyway, and a refetch now would briefly
 * show the server's state without the optimistic change.
 */
export function createRefetchBatcher(qc: QueryClient, delayMs = 250) {
  const keys = new Map<string, QueryKey>();
  let timer: ReturnType<typeof setTimeout> | null = null;
  const flush = () => {
    timer = null;
    const batch = [...keys.values()];
    keys.clear();
    if (qc.isMutating({ mutationKey: TASK_WRITE_KEY }) > 0) return;
    for (const queryKey of batch) void qc.invalidateQueries({ queryKey, exact: true });
  };
  return {
    add(more: QueryKey[]) {
      for (const key of more) keys.set(JSON.stringify(key), key);
      if (keys.size > 0 && timer === null) timer = setTimeout(flush, delayMs);
    },
    cancel() {
      if (timer !== null) clearTimeout(timer);
      timer = null;
      keys.clear();
    },
  };
}
