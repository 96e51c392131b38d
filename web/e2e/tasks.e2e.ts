// J3, J4, the board (mouse and keyboard), quick add, inline status with rollback, shortcuts, and
// two tabs refreshing at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { PASSWORD, apiLogin, call, closeBrowser, createTaskApi, ensureUser, eventually, open, tid, uiLogin, type Tracked } from './harness';

const EMAIL = 'carol@example.com';
let token = '';

beforeAll(async () => {
  await ensureUser('carol', 'Engineering');
  token = (await apiLogin(EMAIL, PASSWORD)).token;
});
afterAll(closeBrowser);

async function rowTitles(page: Page): Promise<string[]> {
  return page.$$eval(`${tid('task-row')} .task-title`, (els) => els.map((e) => e.textContent ?? ''));
}
const rowOf = (title: string) => `${tid('task-row')}:has(.task-title:text-is("${title}"))`;
const putsWithIfMatch = (t: Tracked) => t.requests.filter((r) => r.method === 'PUT' && r.url.includes('/api/v1/tasks/'));

async function serverTask(title: string): Promise<any> {
  const res = await call('GET', `/tasks?q=${encodeURIComponent(title)}`, { token });
  return res.body.tasks.find((t: any) => t.title === title);
}

describe('tasks', () => {
  it('J3: create with every field, edit with If-Match, filter, sort, page by 2, delete after confirmation', async () => {
    const t = await open();
    const { page } = t;
    await uiLogin(page, EMAIL, PASSWORD);
    await page.click(tid('task-new'));
    await page.fill(tid('task-form-title'), 'Write the quarterly report');
    await page.fill(tid('task-form-description'), 'Numbers from finance, charts from ops');
    await page.selectOption(tid('task-form-status'), 'in_progress');
    await page.selectOption(tid('task-form-priority'), 'urgent');
    await page.fill(tid('task-form-due'), '2031-05-17T14:30');
    await page.click(tid('task-save'));
    await page.waitForSelector(rowOf('Write the quarterly report'));
    const created = await serverTask('Write the quarterly report');
    expect(created).toMatchObject({ description: 'Numbers from finance, charts from ops', status: 'in_progress', priority: 'urgent', version: 1 });
    expect(new Date(created.due_date).getFullYear()).toBe(2031);

    // Edit: the PUT carries If-Match with the version that was loaded.
    await page.click(`${rowOf('Write the quarterly report')} ${tid('task-edit')}`);
    await page.fill(tid('task-form-title'), 'Write the Q3 report');
    await page.click(tid('task-save'));
    await page.waitForSelector(rowOf('Write the Q3 report'));
    const put = putsWithIfMatch(t).at(-1);
    expect(put?.headers['if-match']).toBe('"1"');
    expect((await serverTask('Write the Q3 report')).version).toBe(2);

    // More tasks, through the API, for filtering, sorting and paging.
    for (const [title, priority, status] of [
      ['Low one', 'low', 'pending'],
      ['High one', 'high', 'completed'],
      ['Medium one', 'medium', 'pending'],
    ]) {
      await createTaskApi(token, { title, priority, status });
    }
    await page.reload();
    await page.selectOption(tid('task-filter-status'), 'pending');
    await eventually(async () => {
      const titles = await rowTitles(page);
      return titles.includes('Low one') && !titles.includes('High one') && !titles.includes('Write the Q3 report');
    }, 'the status filter');
    expect(page.url()).toContain('status=pending');
    await page.selectOption(tid('task-filter-status'), '');

    // The due range: only the report (due in May 2031) is inside it; tasks without a due date drop out.
    await page.fill(tid('task-filter-due-after'), '2031-05-01');
    await page.fill(tid('task-filter-due-before'), '2031-05-31');
    await eventually(async () => (await rowTitles(page)).join() === 'Write the Q3 report', 'the due range filter');
    expect(page.url()).toMatch(/due_after=2031-05-01.*due_before=2031-05-31/);
    await page.fill(tid('task-filter-due-before'), '2031-05-16');
    await page.waitForSelector(tid('task-empty'));
    expect(await page.textContent(tid('task-empty'))).toContain('No task matches these filters');
    await page.click(tid('task-filter-clear'));
    await eventually(async () => (await rowTitles(page)).length === 4, 'all tasks again');

    await page.selectOption(tid('task-sort'), 'priority');
    await page.selectOption(tid('task-order'), 'desc');
    await eventually(async () => (await rowTitles(page))[0] === 'Write the Q3 report', 'urgent first');
    const prios = await page.$$eval(tid('task-priority'), (els) => els.map((e) => e.textContent));
    const rank = ['Low', 'Medium', 'High', 'Urgent'];
    expect(prios.map((p) => rank.indexOf(p ?? ''))).toEqual([...prios.map((p) => rank.indexOf(p ?? ''))].sort((a, b) => b - a));
    // The sortable column header flips the order.
    await page.click(tid('sort-priority'));
    await eventually(async () => (await rowTitles(page))[0] === 'Low one', 'low first after the header click');
    expect(page.url()).toMatch(/sortBy=priority/);
    expect(page.url()).toMatch(/order=asc/);

    await page.selectOption(tid('task-page-size'), '2');
    await eventually(async () => (await rowTitles(page)).length === 2, 'two rows per page');
    const first = await rowTitles(page);
    await page.click(tid('task-page-next'));
    await eventually(async () => page.url().includes('page=2'), 'page 2 in the URL');
    await eventually(async () => (await rowTitles(page)).join() !== first.join(), 'the second page');
    // The view is in the URL: a reload shows the same page.
    const second = await rowTitles(page);
    await page.reload();
    await eventually(async () => (await rowTitles(page)).join() === second.join(), 'the same page after a reload');
    await page.click(tid('task-page-prev'));
    await eventually(async () => (await rowTitles(page)).join() === first.join(), 'back to page 1');

    // Delete after confirmation: Cancel keeps it, confirm removes it.
    await page.goto('/tasks?q=Medium%20one');
    await page.click(`${rowOf('Medium one')} ${tid('task-delete')}`);
    await page.click(tid('confirm-no'));
    expect(await page.$(rowOf('Medium one'))).not.toBeNull();
    await page.click(`${rowOf('Medium one')} ${tid('task-delete')}`);
    await page.click(tid('confirm-yes'));
    await eventually(async () => (await page.$(rowOf('Medium one'))) === null, 'the row to go');
    await eventually(async () => (await serverTask('Medium one')) === undefined, 'the server to delete it');
    const del = t.requests.find((r) => r.method === 'DELETE' && r.url.includes('/api/v1/tasks/'));
    expect(del?.headers['if-match']).toBe('"1"');
    await t.finish();
  });

  it('J4: editing a task changed elsewhere says so, reloads, keeps the edits, and then saves', async () => {
    const task = await createTaskApi(token, { title: 'Conflict target', description: 'original' });
    const t = await open();
    const { page } = t;
    await uiLogin(page, EMAIL, PASSWORD);
    await page.goto('/tasks?q=Conflict');
    await page.click(`${rowOf('Conflict target')} ${tid('task-edit')}`);
    await page.fill(tid('task-form-description'), 'my careful edit');
    // Meanwhile, someone changes it through the API.
    const other = await call('PUT', `/tasks/${task.id}`, { token, body: { priority: 'high' }, headers: { 'If-Match': '"1"' } });
    expect(other.status).toBe(200);
    await page.click(tid('task-save'));
    const warning = await page.waitForSelector(tid('task-conflict'));
    expect(await warning.textContent()).toMatch(/changed elsewhere/);
    expect(await page.inputValue(tid('task-form-description'))).toBe('my careful edit');
    await page.click(tid('task-save'));
    await page.waitForSelector(tid('task-form'), { state: 'detached' });
    const saved = (await call('GET', `/tasks/${task.id}`, { token })).body;
    expect(saved).toMatchObject({ description: 'my careful edit', priority: 'medium', version: 3 });
    const ifMatches = putsWithIfMatch(t).map((r) => r.headers['if-match']);
    expect(ifMatches).toEqual(['"1"', '"2"']);
    await t.finish();
  });

  it('quick add, inline status change, and its rollback with the server message', async () => {
    const t = await open();
    const { page } = t;
    // The rollback needs the tab to hold an outdated version when it writes. Live updates would
    // bring the new version in first (which is their point), so this tab's event stream is held
    // back: the request stays unanswered.
    await page.route('**/api/v1/events', () => {});
    await uiLogin(page, EMAIL, PASSWORD);
    await page.fill(tid('task-quick-add'), 'Quickly added');
    await page.press(tid('task-quick-add'), 'Enter');
    await page.waitForSelector(rowOf('Quickly added'));
    expect(await page.inputValue(tid('task-quick-add'))).toBe('');

    // The list refetch that follows the status change must be over before the task changes
    // elsewhere, or the UI would already hold the new version and no 412 would come.
    let putAnswered = false;
    page.on('response', (r) => {
      if (r.request().method() === 'PUT' && new URL(r.url()).pathname.startsWith('/api/v1/tasks/')) putAnswered = true;
    });
    const refetch = new Promise<import('playwright-core').Request>((resolve) => {
      page.on('request', (r) => {
        if (putAnswered && r.method() === 'GET' && new URL(r.url()).pathname === '/api/v1/tasks') resolve(r);
      });
    });
    await page.selectOption(`${rowOf('Quickly added')} ${tid('task-status')}`, 'completed');
    await eventually(async () => (await serverTask('Quickly added'))?.status === 'completed', 'the inline status change');
    await (await refetch).response();

    // Changed elsewhere: the optimistic change is rolled back and the server's message is shown.
    const task = await serverTask('Quickly added');
    expect((await call('PUT', `/tasks/${task.id}`, { token, body: { title: 'Quickly added' } })).status).toBe(200);
    await page.selectOption(`${rowOf('Quickly added')} ${tid('task-status')}`, 'cancelled');
    const notice = await page.waitForSelector(tid('notice-error'));
    expect(await notice.textContent()).toMatch(/changed elsewhere.*Resource version does not match If-Match/);
    await eventually(async () => (await page.inputValue(`${rowOf('Quickly added')} ${tid('task-status')}`)) === 'completed', 'the rollback');
    expect((await serverTask('Quickly added')).status).toBe('completed');
    await t.finish();
  });

  it('board: moves by drag and drop and by keyboard, with If-Match', async () => {
    await createTaskApi(token, { title: 'Board mouse', status: 'pending' });
    await createTaskApi(token, { title: 'Board keys', status: 'pending' });
    const t = await open();
    const { page } = t;
    await uiLogin(page, EMAIL, PASSWORD);
    await page.click(tid('view-board'));
    await page.waitForSelector(tid('task-board'));
    expect(page.url()).toContain('view=board');
    const card = (title: string) => `${tid('board-card')}:has(.task-title:text-is("${title}"))`;
    await page.dragAndDrop(card('Board mouse'), tid('board-column-in_progress'));
    await page.waitForSelector(`${tid('board-column-in_progress')} ${card('Board mouse')}`);
    await eventually(async () => (await serverTask('Board mouse'))?.status === 'in_progress', 'the drop to be saved');

    await page.focus(card('Board keys'));
    const focused = () => page.evaluate(() => document.activeElement?.textContent?.includes('Board keys'));
    for (const [key, status] of [['ArrowRight', 'in_progress'], ['ArrowRight', 'completed'], ['ArrowLeft', 'in_progress']]) {
      await page.keyboard.press(key);
      await page.waitForSelector(`${tid(`board-column-${status}`)} ${card('Board keys')}`);
      await eventually(async () => (await serverTask('Board keys'))?.status === status, `the ${key} move to ${status}`);
      // The focus follows the card, so it can keep moving.
      await eventually(focused, 'focus on the moved card');
    }
    const puts = putsWithIfMatch(t);
    expect(puts.length).toBeGreaterThanOrEqual(4);
    for (const r of puts) expect(r.headers['if-match']).toMatch(/^"\d+"$/);
    await t.finish();
  });

  it('keyboard shortcuts: n opens a new task, / focuses search, ? lists them', async () => {
    const t = await open();
    const { page } = t;
    await uiLogin(page, EMAIL, PASSWORD);
    await page.keyboard.press('/');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('task-filter-q');
    await page.keyboard.press('Escape');
    await page.click('h1');
    await page.keyboard.press('n');
    await page.waitForSelector(tid('task-form'));
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('task-form-title');
    await page.keyboard.press('Escape');
    await page.waitForSelector(tid('task-form'), { state: 'detached' });
    await page.keyboard.press('?');
    const help = await page.waitForSelector(`${tid('shortcuts')}[open]`);
    expect(await help.textContent()).toContain('New task');
    await page.keyboard.press('Escape');
    await t.finish();
  });

  it('two tabs refreshing at once both keep the session (one refresh at a time, no token reuse)', async () => {
    const t = await open();
    await uiLogin(t.page, EMAIL, PASSWORD);
    const second = await t.newTab();
    await second.goto('/tasks');
    await second.waitForSelector(tid('task-row'));
    // Both tabs lose their in-memory access token and refresh at the same moment.
    const before = t.requests.filter((r) => r.url.endsWith('/auth/refresh')).length;
    await Promise.all([t.page.reload(), second.reload()]);
    await Promise.all([t.page.waitForSelector(tid('task-row')), second.waitForSelector(tid('task-row'))]);
    const refreshes = t.requests.filter((r) => r.url.endsWith('/auth/refresh')).slice(before);
    expect(refreshes.length).toBe(2);
    // Both tabs still work, and the stored token is still valid (no reuse revoked the family).
    const stored = await t.page.evaluate(() => localStorage.getItem('taskify.refresh_token'));
    await Promise.all([t.page.reload(), second.reload()]);
    await Promise.all([t.page.waitForSelector(tid('task-row')), second.waitForSelector(tid('task-row'))]);
    expect(await t.page.evaluate(() => localStorage.getItem('taskify.refresh_token'))).not.toBe(stored);
    expect(t.page.url()).toContain('/tasks');
    expect(second.url()).toContain('/tasks');
    await t.finish();
  });
});
