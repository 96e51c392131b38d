// Task queries and mutations. Every write of an existing task sends `If-Match` with the version
// the UI last saw, so a change made elsewhere in between answers 412 instead of being overwritten.

import { useMutation, useQuery, useQueryClient, keepPreviousData, type QueryClient } from '@tanstack/react-query';
import { api } from './client';
import type { Task, TaskPage } from './types';
import { useNotify } from '../ui/feedback';

export interface TaskQuery {
  status?: string;
  priority?: string;
  q?: string;
  due_after?: string;
  due_before?: string;
  sortBy?: string;
  order?: string;
  page?: number;
  pageSize?: number;
}

/** The mutation key of every task write, so live events can tell which tasks are in flight. */
export const TASK_WRITE_KEY = ['task-write'] as const;

export const ifMatch = (task: Pick<Task, 'version'>) => ({ 'If-Match': `"${task.version}"` });

export function useTasks(query: TaskQuery) {
  const qc = useQueryClient();
  return useQuery({
    queryKey: ['tasks', query],
    // Refreshing a page already on screen (a live update, a focus refetch) shows no progress bar.
    queryFn: async ({ signal, queryKey }) => {
      const quiet = qc.getQueryData(queryKey) !== undefined;
      return (await api.get<TaskPage>('/tasks', { query: { ...query }, signal, quiet })).data;
    },
    placeholderData: keepPreviousData,
  });
}

export type TaskInput = Partial<Pick<Task, 'title' | 'description' | 'status' | 'priority' | 'due_date'>>;

export async function fetchTask(id: string): Promise<Task> {
  return (await api.get<Task>(`/tasks/${id}`)).data;
}

export async function createTask(input: TaskInput): Promise<Task> {
  const key = typeof crypto !== 'undefined' && 'randomUUID' in crypto ? crypto.randomUUID() : undefined;
  return (await api.post<Task>('/tasks', input, { headers: key ? { 'Idempotency-Key': key } : {} })).data;
}

export async function updateTask(task: Pick<Task, 'id' | 'version'>, input: TaskInput): Promise<Task> {
  return (await api.put<{ task: Task }>(`/tasks/${task.id}`, input, { headers: ifMatch(task) })).data.task;
}

export async function deleteTask(task: Pick<Task, 'id' | 'version'>): Promise<void> {
  await api.del(`/tasks/${task.id}`, { headers: ifMatch(task) });
}

type Snapshot = [readonly unknown[], TaskPage | undefined][];

function patchCached(qc: QueryClient, id: string, patch: (t: Task) => Task | null): Snapshot {
  const snapshot = qc.getQueriesData<TaskPage>({ queryKey: ['tasks'] });
  for (const [key, page] of snapshot) {
    if (!page) continue;
    const tasks = page.tasks.map((t) => (t.id === id ? patch(t) : t)).filter((t): t is Task => t !== null);
    qc.setQueryData<TaskPage>(key, { ...page, tasks, total: page.total - (page.tasks.length - tasks.length) });
  }
  return snapshot;
}

/**
 * Moves of one task in quick succession (← → → on the board) run one after the other, each with
 * the version the previous one produced, so they do not trip over their own If-Match.
 */
const chains = new Map<string, Promise<Task>>();
function chainedUpdate(task: Task, input: TaskInput): Promise<Task> {
  const previous = chains.get(task.id);
  const run = (async () => {
    const base = previous ? await previous.catch(() => task) : task;
    return updateTask(base.version > task.version ? base : task, input);
  })();
  chains.set(task.id, run);
  const cleanup = () => {
    if (chains.get(task.id) === run) chains.delete(task.id);
  };
  run.then(cleanup, cleanup);
  return run;
}

/**
 * Status moves and other small edits, applied to the screen at once and rolled back, with the
 * server's message, when the server refuses them.
 */
export function useOptimisticUpdate() {
  const qc = useQueryClient();
  const notify = useNotify();
  return useMutation({
    mutationKey: TASK_WRITE_KEY,
    mutationFn: ({ task, input }: { task: Task; input: TaskInput }) => chainedUpdate(task, input),
    onMutate: async ({ task, input }) => {
      await qc.cancelQueries({ queryKey: ['tasks'] });
      return patchCached(qc, task.id, (t) => ({ ...t, ...input }));
    },
    onError: (err, { task }, snapshot) => {
      snapshot?.forEach(([key, page]) => qc.setQueryData(key, page));
      const reason = err instanceof Error ? err.message : 'the server refused the change';
      const prefix = (err as { status?: number }).status === 412 ? 'This task was changed elsewhere; reloaded. ' : '';
      notify(`${prefix}Could not update “${task.title}”: ${reason}`, 'error');
    },
    onSuccess: (saved) => {
      patchCached(qc, saved.id, () => saved);
    },
    onSettled: () => qc.invalidateQueries({ queryKey: ['tasks'] }),
  });
}

export function useDeleteTask() {
  const qc = useQueryClient();
  const notify = useNotify();
  return useMutation({
    mutationKey: TASK_WRITE_KEY,
    mutationFn: (task: Task) => deleteTask(task),
    onMutate: async (task) => {
      await qc.cancelQueries({ queryKey: ['tasks'] });
      return patchCached(qc, task.id, () => null);
    },
    onError: (err, task, snapshot) => {
      snapshot?.forEach(([key, page]) => qc.setQueryData(key, page));
      notify(`Could not delete “${task.title}”: ${err instanceof Error ? err.message : 'error'}`, 'error');
    },
    onSuccess: (_v, task) => notify(`Deleted “${task.title}”.`, 'success'),
    onSettled: () => qc.invalidateQueries({ queryKey: ['tasks'] }),
  });
}

/** Due-date highlighting: overdue, due within two days, or nothing special. */
export function dueState(task: Task, now = Date.now()): 'overdue' | 'soon' | null {
  if (!task.due_date || task.status === 'completed' || task.status === 'cancelled') return null;
  const due = Date.parse(task.due_date);
  if (Number.isNaN(due)) return null;
  if (due < now) return 'overdue';
  if (due - now < 48 * 3600 * 1000) return 'soon';
  return null;
}

export function formatDate(value: string | null): string {
  if (!value) return '—';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? value : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** `datetime-local` input value ↔ RFC 3339. */
export function toLocalInput(value: string | null): string {
  if (!value) return '';
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function fromLocalInput(value: string): string | null {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}
