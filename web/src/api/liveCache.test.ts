import { afterEach, describe, expect, it, vi } from 'vitest';
import { MutationObserver, QueryClient, type QueryKey } from '@tanstack/react-query';
import { applyLiveEvent, createRefetchBatcher } from './liveCache';
import { TASK_WRITE_KEY, type TaskInput, type TaskQuery } from './tasks';
import type { Task, TaskPage } from './types';

function task(id: string, version: number, extra: Partial<Task> = {}): Task {
  return {
    id,
    user_id: 'u1',
    title: `Task ${id}`,
    description: '',
    status: 'pending',
    priority: 'medium',
    due_date: null,
    created_at: '2026-12-01T00:00:00Z',
    updated_at: `2026-12-01T00:00:0${version}Z`,
    version,
    owner_username: 'carol',
    ...extra,
  };
}

/** A task write that stays in flight, as an optimistic update waiting for the server. */
function writeInFlight(qc: QueryClient, target: Task): void {
  const write = new MutationObserver<never, Error, { task: Task; input: TaskInput }>(qc, {
    mutationKey: TASK_WRITE_KEY,
    mutationFn: () => new Promise<never>(() => {}),
  });
  void write.mutate({ task: target, input: {} });
}

function page(tasks: Task[], extra: Partial<TaskPage> = {}): TaskPage {
  return { tasks, total: tasks.length, page: 1, page_size: 20, total_pages: 1, ...extra };
}

const LIST: QueryKey = ['tasks', { sortBy: 'created_at', order: 'desc', page: 1, pageSize: 20 } satisfies TaskQuery];
const BOARD: QueryKey = ['tasks', { sortBy: 'created_at', order: 'desc', page: 1, pageSize: 100 } satisfies TaskQuery];
const PENDING: QueryKey = ['tasks', { status: 'pending', sortBy: 'created_at', order: 'desc', page: 1, pageSize: 20 } satisfies TaskQuery];

function client(): QueryClient {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  qc.setQueryData(LIST, page([task('a', 1), task('b', 1)]));
  qc.setQueryData(BOARD, page([task('a', 1), task('b', 1)]));
  return qc;
}
const titles = (qc: QueryClient, key: QueryKey) => qc.getQueryData<TaskPage>(key)?.tasks.map((t) => `${t.id}:${t.title}:${t.version}`);

describe('applyLiveEvent', () => {
  it('puts a newer version in every page that holds the task, in place and in order', () => {
    const qc = client();
    const refetch = applyLiveEvent(qc, { type: 'task.updated', id: 'a', version: 2, task: task('a', 2, { title: 'New', status: 'completed' }) });
    expect(titles(qc, LIST)).toEqual(['a:New:2', 'b:Task b:1']);
    expect(titles(qc, BOARD)).toEqual(['a:New:2', 'b:Task b:1']);
    // Unfiltered pages sorted by creation are exact after the patch: nothing to refetch.
    expect(refetch).toEqual([]);
  });

  it('ignores an event that is not newer than the cached version', () => {
    const qc = client();
    applyLiveEvent(qc, { type: 'task.updated', id: 'a', version: 3, task: task('a', 3, { title: 'Three' }) });
    const before = qc.getQueryData(LIST);
    expect(applyLiveEvent(qc, { type: 'task.updated', id: 'a', version: 2, task: task('a', 2, { title: 'Two' }) })).toEqual([]);
    expect(applyLiveEvent(qc, { type: 'task.updated', id: 'a', version: 3, task: task('a', 3, { title: 'Again' }) })).toEqual([]);
    expect(qc.getQueryData(LIST)).toBe(before);
    expect(titles(qc, LIST)?.[0]).toBe('a:Three:3');
  });

  it('refetches a filtered page, and a page sorted by a field that changed', () => {
    const qc = client();
    qc.setQueryData(PENDING, page([task('a', 1)]));
    const byUpdate: QueryKey = ['tasks', { sortBy: 'updated_at', order: 'desc', page: 1, pageSize: 20 }];
    qc.setQueryData(byUpdate, page([task('b', 1), task('a', 1)]));
    const refetch = applyLiveEvent(qc, { type: 'task.updated', id: 'a', version: 2, task: task('a', 2, { status: 'completed' }) });
    expect(refetch).toEqual(expect.arrayContaining([PENDING, byUpdate]));
    expect(refetch).toHaveLength(2);
    // The filtered page is patched at once too; its refetch then drops the task.
    expect(qc.getQueryData<TaskPage>(PENDING)?.tasks[0].status).toBe('completed');
  });

  it('refetches every page for a task that no page holds (created, or newly visible)', () => {
    const qc = client();
    const refetch = applyLiveEvent(qc, { type: 'task.created', id: 'c', version: 1, task: task('c', 1) });
    expect(refetch).toEqual(expect.arrayContaining([LIST, BOARD]));
    expect(titles(qc, LIST)).toEqual(['a:Task a:1', 'b:Task b:1']);
  });

  it('refetches a page when the event carries no task body', () => {
    const qc = client();
    expect(applyLiveEvent(qc, { type: 'task.updated', id: 'a', version: 2, task: null })).toEqual(expect.arrayContaining([LIST, BOARD]));
    expect(titles(qc, LIST)?.[0]).toBe('a:Task a:1');
  });

  it('removes a deleted task and refetches only pages that have a next page to pull up from', () => {
    const qc = client();
    const paged: QueryKey = ['tasks', { sortBy: 'created_at', order: 'desc', page: 1, pageSize: 2 }];
    qc.setQueryData(paged, page([task('a', 1), task('b', 1)], { total: 3, total_pages: 2, page_size: 2 }));
    const refetch = applyLiveEvent(qc, { type: 'task.deleted', id: 'a', version: 2 });
    expect(titles(qc, LIST)).toEqual(['b:Task b:1']);
    expect(qc.getQueryData<TaskPage>(LIST)?.total).toBe(1);
    expect(titles(qc, BOARD)).toEqual(['b:Task b:1']);
    expect(refetch).toEqual([paged]);
  });

  it('keeps a delete older than the cached version from removing the task', () => {
    const qc = client();
    applyLiveEvent(qc, { type: 'task.updated', id: 'a', version: 3, task: task('a', 3) });
    applyLiveEvent(qc, { type: 'task.deleted', id: 'a', version: 2 });
    expect(titles(qc, LIST)?.[0]).toBe('a:Task a:3');
  });

  it('leaves a task alone while this tab writes it (the optimistic change stays on screen)', async () => {
    const qc = client();
    // An optimistic status change of `a`, still waiting for the server.
    qc.setQueryData(LIST, page([task('a', 1, { status: 'completed' }), task('b', 1)]));
    writeInFlight(qc, task('a', 1));
    await vi.waitFor(() => expect(qc.isMutating({ mutationKey: TASK_WRITE_KEY })).toBe(1));
    expect(applyLiveEvent(qc, { type: 'task.updated', id: 'a', version: 2, task: task('a', 2, { status: 'in_progress' }) })).toEqual([]);
    expect(qc.getQueryData<TaskPage>(LIST)?.tasks[0].status).toBe('completed');
    // Another task is still updated.
    applyLiveEvent(qc, { type: 'task.updated', id: 'b', version: 2, task: task('b', 2, { title: 'B2' }) });
    expect(titles(qc, LIST)?.[1]).toBe('b:B2:2');
  });

  it('resync refetches every cached task page', () => {
    const qc = client();
    expect(applyLiveEvent(qc, { type: 'resync', reason: 'gap' })).toEqual(expect.arrayContaining([LIST, BOARD]));
  });
});

describe('createRefetchBatcher', () => {
  afterEach(() => vi.useRealTimers());

  it('invalidates each page once per batch, and not while a task write is in flight', async () => {
    vi.useFakeTimers();
    const qc = client();
    const spy = vi.spyOn(qc, 'invalidateQueries').mockResolvedValue();
    const batcher = createRefetchBatcher(qc, 250);
    for (let i = 0; i < 100; i++) batcher.add([LIST, BOARD]);
    expect(spy).not.toHaveBeenCalled();
    vi.advanceTimersByTime(250);
    expect(spy.mock.calls.map((c) => c[0]?.queryKey)).toEqual([LIST, BOARD]);

    spy.mockClear();
    writeInFlight(qc, task('a', 1));
    batcher.add([LIST]);
    vi.advanceTimersByTime(250);
    expect(spy).not.toHaveBeenCalled();

    batcher.add([LIST]);
    batcher.cancel();
    vi.advanceTimersByTime(1000);
    expect(spy).not.toHaveBeenCalled();
  });
});
