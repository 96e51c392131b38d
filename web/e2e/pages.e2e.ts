// Every page, in light and dark, at desktop width and 390 px: an axe-core scan (no serious or
// critical violation) and a screenshot. Also the narrowest supported width (360 px) has no
// horizontal scrolling of the page itself.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { ADMIN_EMAIL, ADMIN_PASSWORD, PASSWORD, apiLogin, axe, call, closeBrowser, createTaskApi, ensureUser, open, screenshot, tid, uiLogin } from './harness';

const DAY = 24 * 3600 * 1000;

beforeAll(async () => {
  await ensureUser('judy', 'Design');
  const { token } = await apiLogin('judy@example.com', PASSWORD);
  if ((await call('GET', '/tasks', { token })).body.total === 0) {
    const soon = new Date(Date.now() + DAY).toISOString();
    const late = new Date(Date.now() - 2 * DAY).toISOString();
    const later = new Date(Date.now() + 9 * DAY).toISOString();
    await createTaskApi(token, { title: 'Prepare the design review', description: 'Slides and the prototype link', priority: 'high', due_date: soon });
    await createTaskApi(token, { title: 'Send the invoice to ACME', priority: 'urgent', due_date: late });
    await createTaskApi(token, { title: 'Update the icon set', status: 'in_progress', priority: 'medium', due_date: later });
    await createTaskApi(token, { title: 'Archive last year’s mockups', status: 'completed', priority: 'low' });
    await createTaskApi(token, { title: 'Evaluate the new font', status: 'cancelled', priority: 'low' });
    await createTaskApi(token, { title: 'Write the accessibility checklist', priority: 'medium', description: 'Contrast, focus, labels' });
  }
});
afterAll(closeBrowser);

interface Shot {
  name: string;
  admin?: boolean;
  signedOut?: boolean;
  path: string;
  ready: string;
  then?: (page: Page) => Promise<void>;
}

const PAGES: Shot[] = [
  { name: 'login', signedOut: true, path: '/login', ready: tid('login-email') },
  { name: 'register', signedOut: true, path: '/register', ready: tid('reg-username') },
  { name: 'tasks-list', path: '/tasks', ready: tid('task-row') },
  { name: 'tasks-board', path: '/tasks?view=board', ready: tid('board-card') },
  { name: 'task-form', path: '/tasks?new=1', ready: tid('task-form-title') },
  { name: 'tasks-empty', path: '/tasks?q=nothing-matches-this', ready: tid('task-empty') },
  { name: 'profile', path: '/profile', ready: tid('profile-view') },
  { name: 'admin-not-authorized', path: '/admin', ready: tid('admin-not-authorized') },
  { name: 'admin-users', admin: true, path: '/admin?tab=users', ready: tid('user-row') },
  { name: 'admin-user-detail', admin: true, path: '/admin?tab=users', ready: tid('user-row'), then: async (p) => { await p.click(`${tid('user-row')} >> nth=0 >> ${tid('user-manage')}`); await p.waitForSelector(tid('attr-save')); } },
  { name: 'admin-roles', admin: true, path: '/admin?tab=roles', ready: tid('role-card') },
  { name: 'admin-audit', admin: true, path: '/admin?tab=audit', ready: tid('audit-row') },
  { name: 'admin-cache', admin: true, path: '/admin?tab=cache', ready: tid('cache-stats') },
  { name: 'admin-jobs', admin: true, path: '/admin?tab=jobs', ready: tid('queue-sizes') },
];

describe('every page', () => {
  for (const dark of [false, true]) {
    for (const width of [1280, 390]) {
      const label = `${dark ? 'dark' : 'light'}-${width}`;
      it(`axe-core finds no serious or critical violation, and a screenshot is saved (${label})`, async () => {
        const violations: string[] = [];
        for (const who of ['user', 'admin', 'none'] as const) {
          const t = await open({ dark, width });
          if (who === 'user') await uiLogin(t.page, 'judy@example.com', PASSWORD);
          if (who === 'admin') await uiLogin(t.page, ADMIN_EMAIL, ADMIN_PASSWORD);
          for (const shot of PAGES.filter((s) => (who === 'none' ? s.signedOut : who === 'admin' ? s.admin : !s.signedOut && !s.admin))) {
            await t.page.goto(shot.path);
            await t.page.waitForSelector(shot.ready);
            if (shot.then) await shot.then(t.page);
            await t.page.evaluate(() => document.fonts.ready);
            for (const v of await axe(t.page)) violations.push(`${shot.name} (${label}): ${v}`);
            await screenshot(t.page, `${shot.name}-${label}`);
          }
          await t.finish();
        }
        expect(violations, violations.join('\n')).toEqual([]);
      });
    }
  }

  it('works at 360 px: the page does not scroll sideways, and the task form fits', async () => {
    const t = await open({ width: 360 });
    await uiLogin(t.page, 'judy@example.com', PASSWORD);
    for (const path of ['/tasks', '/profile', '/tasks?new=1']) {
      await t.page.goto(path);
      await t.page.waitForSelector('main');
      await t.page.waitForTimeout(50);
      const overflow = await t.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow, path).toBeLessThanOrEqual(0);
    }
    await t.finish();
  });

  it('the shell and assets: hashed names cached for a year, the shell not cached, CSP unchanged', async () => {
    const t = await open();
    const responses: { url: string; cache: string | null; csp: string | null }[] = [];
    t.page.on('response', (r) => responses.push({ url: r.url(), cache: r.headers()['cache-control'] ?? null, csp: r.headers()['content-security-policy'] ?? null }));
    await t.page.goto('/login');
    await t.page.waitForSelector(tid('login-email'));
    const shell = responses.find((r) => r.url.endsWith('/login'));
    expect(shell?.cache).toBe('no-cache');
    expect(shell?.csp).toBe("default-src 'self'");
    const assets = responses.filter((r) => r.url.includes('/assets/'));
    expect(assets.length).toBeGreaterThanOrEqual(2);
    for (const a of assets) {
      expect(a.url).toMatch(/\/assets\/[\w.-]+-[\w-]{8}\.\w+$/);
      expect(a.cache).toBe('public, max-age=31536000, immutable');
    }
    // The markup has no inline script or style.
    const inline = await t.page.evaluate(() => ({
      scripts: [...document.scripts].filter((s) => !s.src).length,
      styles: document.querySelectorAll('style').length,
      styleAttrs: document.querySelectorAll('[style]').length,
    }));
    expect(inline).toEqual({ scripts: 0, styles: 0, styleAttrs: 0 });
    await t.finish();
  });

  it('the progress bar shows on a request slower than 300 ms', async () => {
    const t = await open();
    await uiLogin(t.page, 'judy@example.com', PASSWORD);
    // Hold the next task list answer for a second (the request still goes to the server).
    await t.page.route('**/api/v1/tasks?*', async (route) => {
      await new Promise((r) => setTimeout(r, 1200));
      await route.continue();
    });
    await t.page.selectOption(tid('task-filter-priority'), 'high');
    await t.page.waitForSelector(tid('progress'));
    await t.page.waitForSelector(tid('progress'), { state: 'detached' });
    await t.page.unroute('**/api/v1/tasks?*');
    await t.finish();
  });
});
