// Live updates (docs/web-ui.md#live-updates): changes made in one tab, or by another user on
// another instance, appear in an open list or board without a reload; an unsaved edit is never
// overwritten; the header says "Live", and "Reconnecting…" once the server is gone.
//
// The latencies printed here ("live latency: …") are the numbers BENCHMARKS.md reports; the test
// only requires them to stay under a generous deadline.
import { afterAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { BASE, PASSWORD, adminLogin, apiLogin, call, closeBrowser, createTaskApi, ensureUser, eventually, open, tid, uiLogin } from './harness';

const SECOND = process.env.TASKIFY_SECOND_URL ?? '';
const PROXY = process.env.TASKIFY_PROXY_URL ?? '';
const STOPPABLE = process.env.TASKIFY_STOPPABLE_URL ?? '';
const STOPPABLE_PID = Number(process.env.TASKIFY_STOPPABLE_PID ?? 0);
/** Generous: the issue asks for 1 s, which is measured and reported, not asserted. */
const DEADLINE = 5_000;

afterAll(closeBrowser);

const rowOf = (title: string) => `${tid('task-row')}:has(.task-title:text-is("${title}"))`;
const cardIn = (status: string, title: string) => `${tid(`board-column-${status}`)} ${tid('board-card')}:has(.task-title:text-is("${title}"))`;

async function waitLive(page: Page): Promise<void> {
  await page.waitForSelector(`${tid('live-status')}[data-state="live"]`, { timeout: 15_000 });
  expect(await page.textContent(tid('live-status'))).toBe('Live');
}

/** Marks the document, so that a reload (which would lose the mark) is detected. */
async function markDocument(page: Page): Promise<void> {
  await page.evaluate(() => document.documentElement.setAttribute('data-e2e-mark', 'kept'));
}
async function stillSameDocument(page: Page): Promise<boolean> {
  return (await page.evaluate(() => document.documentElement.getAttribute('data-e2e-mark'))) === 'kept';
}

/** Waits for `selector` on `page` and prints the time since `since`. */
async function seen(page: Page, selector: string, what: string, since: number): Promise<number> {
  await page.waitForSelector(selector, { timeout: DEADLINE });
  const ms = Date.now() - since;
  console.log(`live latency: ${what}: ${ms} ms`);
  return ms;
}

describe('live updates', () => {
  it('tab B creates, changes and deletes; tab A shows it without reload and keeps its unsaved edit', async () => {
    await ensureUser('lena', 'Live');
    const { token } = await apiLogin('lena@example.com', PASSWORD);
    await createTaskApi(token, { title: 'Live edited', description: 'as created', priority: 'low' });
    const t = await open();
    const a = t.page;
    await uiLogin(a, 'lena@example.com', PASSWORD);
    await waitLive(a);
    const b = await t.newTab();
    await b.goto('/tasks');
    await waitLive(b);
    await markDocument(a);

    // Create in B: the row appears in A.
    let since = Date.now();
    await b.fill(tid('task-quick-add'), 'Live created');
    await b.press(tid('task-quick-add'), 'Enter');
    await seen(a, rowOf('Live created'), 'one instance, created in tab B, row in tab A', since);

    // Change in B: A's row follows.
    since = Date.now();
    await b.waitForSelector(rowOf('Live created'));
    await b.selectOption(`${rowOf('Live created')} ${tid('task-status')}`, 'completed');
    await eventually(async () => (await a.inputValue(`${rowOf('Live created')} ${tid('task-status')}`)) === 'completed', 'the status in tab A', DEADLINE);
    console.log(`live latency: one instance, status changed in tab B, shown in tab A: ${Date.now() - since} ms`);

    // An unsaved edit in A is kept when B changes the same task; A is told quietly.
    await a.click(`${rowOf('Live edited')} ${tid('task-edit')}`);
    await a.fill(tid('task-form-description'), 'my unsaved words');
    await b.selectOption(`${rowOf('Live edited')} ${tid('task-status')}`, 'in_progress');
    const note = await a.waitForSelector(`${tid('task-remote-change')}[data-remote="changed"]`, { timeout: DEADLINE });
    expect(await note.textContent()).toMatch(/changed elsewhere.*In progress.*Your edits are kept/);
    expect(await a.inputValue(tid('task-form-description'))).toBe('my unsaved words');
    expect(await a.inputValue(tid('task-form-status'))).toBe('pending');
    // Saving goes through the 412 flow: the user sees the latest version before overwriting it.
    await a.click(tid('task-save'));
    await a.waitForSelector(tid('task-conflict'));
    expect(await a.inputValue(tid('task-form-description'))).toBe('my unsaved words');
    await a.click(tid('task-save'));
    await a.waitForSelector(tid('task-form'), { state: 'detached' });
    // B's list shows A's save in turn.
    await eventually(async () => (await b.textContent(rowOf('Live edited')))?.includes('my unsaved words'), 'A’s save in tab B', DEADLINE);

    // Without unsaved edits, the open form takes the change over.
    await a.click(`${rowOf('Live edited')} ${tid('task-edit')}`);
    // The form must be open before B's change, or A simply opens it on the new values.
    await a.waitForSelector(tid('task-form-status'));
    await b.selectOption(`${rowOf('Live edited')} ${tid('task-status')}`, 'completed');
    await a.waitForSelector(`${tid('task-remote-change')}[data-remote="taken"]`, { timeout: DEADLINE });
    expect(await a.inputValue(tid('task-form-status'))).toBe('completed');
    await a.keyboard.press('Escape');
    await a.waitForSelector(tid('task-form'), { state: 'detached' });

    // Delete in B: the row leaves A.
    since = Date.now();
    await b.click(`${rowOf('Live created')} ${tid('task-delete')}`);
    await b.click(tid('confirm-yes'));
    await a.waitForSelector(rowOf('Live created'), { state: 'detached', timeout: DEADLINE });
    console.log(`live latency: one instance, deleted in tab B, gone from tab A: ${Date.now() - since} ms`);

    expect(await stillSameDocument(a)).toBe(true);
    const streams = t.requests.filter((r) => new URL(r.url).pathname === '/api/v1/events');
    expect(streams.length).toBeGreaterThanOrEqual(2);
    for (const r of streams) {
      expect(r.headers.authorization).toMatch(/^Bearer /);
      expect(r.headers.accept).toBe('text/event-stream');
    }
    await t.finish();
  });

  it.skipIf(!STOPPABLE || !STOPPABLE_PID)('the header says Reconnecting… once the server is gone', async () => {
    await ensureUser('remy', undefined, STOPPABLE);
    const t = await open({ base: STOPPABLE });
    await uiLogin(t.page, 'remy@example.com', PASSWORD);
    await waitLive(t.page);
    process.kill(STOPPABLE_PID, 'SIGTERM');
    await t.page.waitForSelector(`${tid('live-status')}[data-state="reconnecting"]`, { timeout: 30_000 });
    expect(await t.page.textContent(tid('live-status'))).toBe('Reconnecting…');
    // The reconnection attempts to the stopped server fail, as they should; nothing else may.
    const refused = /ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|ERR_EMPTY_RESPONSE|ERR_INCOMPLETE_CHUNKED_ENCODING/;
    const rest = t.problems.filter((p) => !(refused.test(p) && p.includes('/api/v1/')));
    t.problems.length = 0;
    t.problems.push(...rest);
    await t.finish();
  });

  it.skipIf(!SECOND)('two users on two instances (and through nginx): a status change by one appears on the other’s open board', async () => {
    // mona manages the department "Live Ops", so she reads milo's tasks.
    const admin = await adminLogin();
    const mona = await ensureUser('mona', 'Live Ops');
    await ensureUser('milo', 'Live Ops');
    const assign = await call('POST', `/users/${mona}/roles`, { token: admin.token, body: { role: 'manager' } });
    expect([201, 409], JSON.stringify(assign.body)).toContain(assign.status);
    const milo = await apiLogin('milo@example.com', PASSWORD, SECOND);
    const title = `Shared card ${Date.now()}`;
    await createTaskApi(milo.token, { title, status: 'pending' }, SECOND);

    // A: mona's board on instance 1. B: milo's list on instance 2.
    const a = await open({ base: BASE });
    await uiLogin(a.page, 'mona@example.com', PASSWORD);
    await a.page.goto('/tasks?view=board');
    await a.page.waitForSelector(cardIn('pending', title));
    await waitLive(a.page);
    await markDocument(a.page);
    const b = await open({ base: SECOND });
    await uiLogin(b.page, 'milo@example.com', PASSWORD);
    await b.page.waitForSelector(rowOf(title));

    // The time of B's click and of the answer to B's PUT (the commit), to when A's board shows it.
    const change = async (viewers: [Page, string][], status: string) => {
      const clicked = Date.now();
      const answered = b.page
        .waitForResponse((r) => r.request().method() === 'PUT' && new URL(r.url()).pathname.startsWith('/api/v1/tasks/'))
        .then(() => Date.now());
      await b.page.selectOption(`${rowOf(title)} ${tid('task-status')}`, status);
      const shown = viewers.map(async ([page, who]) => {
        await page.waitForSelector(cardIn(status, title), { timeout: DEADLINE });
        return [who, Date.now()] as const;
      });
      const committed = await answered;
      for (const [who, at] of await Promise.all(shown)) {
        console.log(`live latency: ${who}: ${at - clicked} ms after B's click, ${Math.max(0, at - committed)} ms after B's PUT was answered`);
      }
    };
    await change([[a.page, 'instance 2 → instance 1 (A)']], 'in_progress');
    // The event carried the task as GET returns it: the card still names its owner.
    expect(await a.page.textContent(cardIn('in_progress', title))).toContain('milo');

    // C: mona's board through nginx (either instance behind it): the proxy passes the stream
    // through unbuffered, or the change would not show within the deadline.
    if (PROXY) {
      const c = await open({ base: PROXY });
      await uiLogin(c.page, 'mona@example.com', PASSWORD);
      await c.page.goto('/tasks?view=board');
      await c.page.waitForSelector(cardIn('in_progress', title));
      await waitLive(c.page);
      await change([[c.page, 'instance 2 → nginx (C)'], [a.page, 'instance 2 → instance 1 (A)']], 'completed');
      await c.finish();
    } else {
      console.log('live latency: nginx is not installed, the proxy check was skipped');
    }

    expect(await stillSameDocument(a.page)).toBe(true);
    await b.finish();
    await a.finish();
  });
});
