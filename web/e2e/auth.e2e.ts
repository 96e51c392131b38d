// J1, J2, the login messages, and a plain user typing admin URLs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, apiLogin, call, closeBrowser, createTaskApi, ensureUser, eventually, open, tid, uiLogin } from './harness';

beforeAll(async () => {
  const aliceId = await ensureUser('alice', 'Engineering');
  expect(aliceId).toBeTruthy();
  const { token } = await apiLogin('alice@example.com', PASSWORD);
  const list = await call('GET', '/tasks?q=Alice%20seed', { token });
  if (list.body.total === 0) {
    await createTaskApi(token, { title: 'Alice seed task one', priority: 'high' });
    await createTaskApi(token, { title: 'Alice seed task two', status: 'in_progress' });
  }
});
afterAll(closeBrowser);

describe('registration and sign-in', () => {
  it('J1: a weak password shows the missing classes; a valid one leads to /login with a notice', async () => {
    const t = await open();
    const { page } = t;
    await page.goto('/register');
    await page.fill(tid('reg-username'), 'newcomer');
    await page.fill(tid('reg-email'), 'newcomer@example.com');
    await page.fill(tid('reg-first-name'), 'New');
    await page.fill(tid('reg-last-name'), 'Comer');
    await page.fill(tid('reg-department'), 'Sales');
    await page.fill(tid('reg-position'), 'Rep');
    await page.fill(tid('reg-password'), 'weakpass');
    const missing = await page.$$eval('[data-testid="pw-checklist"] li[data-ok="false"]', (els) => els.map((e) => e.textContent ?? ''));
    expect(missing.join('|')).toContain('uppercase');
    expect(missing.join('|')).toContain('number');
    expect(missing.join('|')).toContain('special');
    expect(missing.join('|')).not.toContain('lowercase');
    // The server's answer names the missing classes next to the field.
    await page.click(tid('reg-submit'));
    const fieldErr = await page.waitForSelector(tid('reg-password-error'));
    expect(await fieldErr.textContent()).toMatch(/uppercase letter, number, special character/);
    expect(page.url()).toContain('/register');

    await page.fill(tid('reg-password'), 'Str0ng!Pass');
    expect(await page.$$(`[data-testid="pw-checklist"] li[data-ok="false"]`)).toHaveLength(0);
    await page.click(tid('reg-submit'));
    await page.waitForURL(/\/login$/);
    expect(await page.textContent(tid('login-notice'))).toMatch(/account is ready/);

    // Registering the same email again shows the 409 message.
    await page.goto('/register');
    await page.fill(tid('reg-username'), 'newcomer2');
    await page.fill(tid('reg-email'), 'newcomer@example.com');
    await page.fill(tid('reg-first-name'), 'New');
    await page.fill(tid('reg-last-name'), 'Comer');
    await page.fill(tid('reg-password'), 'Str0ng!Pass');
    await page.click(tid('reg-submit'));
    expect(await (await page.waitForSelector(tid('reg-error'))).textContent()).toContain('An account with this email already exists');
    await t.finish();
  });

  it('shows the invalid-credentials message and stays on /login', async () => {
    const t = await open();
    await t.page.goto('/');
    await t.page.waitForURL(/\/login$/);
    await t.page.fill(tid('login-email'), 'alice@example.com');
    await t.page.fill(tid('login-password'), 'Wrong!pass1');
    await t.page.click(tid('login-submit'));
    expect(await (await t.page.waitForSelector(tid('login-error'))).textContent()).toContain('Invalid email or password');
    expect(await t.page.evaluate(() => localStorage.getItem('taskify.refresh_token'))).toBeNull();
    await t.finish();
  });

  it('shows the lockout message after repeated failures, even for the right password', async () => {
    await ensureUser('lockme');
    for (let i = 0; i < 5; i++) await call('POST', '/auth/login', { body: { email: 'lockme@example.com', password: 'Wrong!pass1' } });
    const t = await open();
    await t.page.goto('/login');
    await t.page.fill(tid('login-email'), 'lockme@example.com');
    await t.page.fill(tid('login-password'), PASSWORD);
    await t.page.click(tid('login-submit'));
    expect(await (await t.page.waitForSelector(tid('login-error'))).textContent()).toContain('Too many failed login attempts');
    expect(t.page.url()).toMatch(/\/login$/);
    await t.finish();
  });

  it('J2: alice sees her tasks and no Admin link', async () => {
    const t = await open();
    await uiLogin(t.page, 'alice@example.com', PASSWORD);
    const titles = await t.page.$$eval(`${tid('task-row')} .task-title`, (els) => els.map((e) => e.textContent));
    expect(titles).toContain('Alice seed task one');
    expect(titles).toContain('Alice seed task two');
    expect(await t.page.$(tid('nav-admin'))).toBeNull();
    expect(await t.page.$(tid('nav-tasks'))).not.toBeNull();
    expect(await t.page.$(tid('nav-profile'))).not.toBeNull();
    expect(await t.page.$(tid('nav-logout'))).not.toBeNull();
    // A reload keeps the session (refresh token in localStorage, access token in memory only).
    await t.page.reload();
    await t.page.waitForSelector(tid('task-row'));
    expect(await t.page.evaluate(() => Object.keys(localStorage))).toEqual(['taskify.refresh_token']);
    await t.finish();
  });

  it('a plain user typing admin URLs sees "not authorized", and the server answers 403', async () => {
    const t = await open();
    await uiLogin(t.page, 'alice@example.com', PASSWORD);
    for (const tab of ['users', 'roles', 'audit', 'cache', 'jobs']) {
      await t.page.goto(`/admin?tab=${tab}`);
      const msg = await t.page.waitForSelector(tid('admin-not-authorized'));
      expect(await msg.textContent()).toMatch(/not authorized/i);
      expect(await t.page.$(tid(`admin-tab-${tab}`))).toBeNull();
    }
    const { token } = await apiLogin('alice@example.com', PASSWORD);
    const paths: [string, string][] = [
      ['GET', '/users'],
      ['GET', '/roles'],
      ['GET', '/audit-logs'],
      ['GET', '/cache/stats'],
      ['GET', '/cache/jobs'],
      ['GET', '/cache/jobs/dlq'],
      ['DELETE', '/cache/clear'],
    ];
    for (const [method, path] of paths) {
      const res = await call(method, path, { token });
      expect(res.status, `${method} ${path}`).toBe(403);
    }
    await t.finish();
  });

  it('sends a signed-out visitor of a private page to /login, then back after signing in', async () => {
    const t = await open();
    await t.page.goto('/profile');
    await t.page.waitForURL(/\/login$/);
    await t.page.fill(tid('login-email'), 'alice@example.com');
    await t.page.fill(tid('login-password'), PASSWORD);
    await t.page.click(tid('login-submit'));
    await t.page.waitForURL(/\/profile$/);
    await eventually(() => t.page.$(tid('profile-view')), 'the profile');
    await t.finish();
  });
});
