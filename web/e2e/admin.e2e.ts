// J6 and every administration action: users (search, filter, paginate, activate/deactivate,
// department and position, delete, roles with expiry, attributes), roles, audit, cache, jobs, DLQ.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { ADMIN_EMAIL, ADMIN_PASSWORD, PASSWORD, REDIS_URL, adminLogin, apiLogin, call, closeBrowser, ensureUser, eventually, open, redisCommand, tid, uiLogin } from './harness';

const ids: Record<string, string> = {};

beforeAll(async () => {
  for (const [name, dept] of [['bob', 'Engineering'], ['mike', 'Engineering'], ['frank', 'Sales'], ['grace', 'Sales'], ['heidi', 'Ops'], ['ivan', 'Ops']] as const) {
    ids[name] = await ensureUser(name, dept);
  }
});
afterAll(closeBrowser);

const userRow = (name: string) => `${tid('user-row')}[data-username="${name}"]`;

async function notice(page: Page, kind: 'success' | 'error', text: string | RegExp): Promise<void> {
  await eventually(async () => {
    const all = await page.$$eval(tid(`notice-${kind}`), (els) => els.map((e) => e.textContent ?? ''));
    return all.some((t) => (typeof text === 'string' ? t.includes(text) : text.test(t)));
  }, `a ${kind} notice ${String(text)}`);
}

async function searchUser(page: Page, name: string): Promise<void> {
  await page.fill(tid('user-filter-q'), name);
  await page.waitForSelector(userRow(name));
}

describe('administration', () => {
  it('J6 users: search, filter, paginate, deactivate/activate, edit, roles with expiry, attributes, delete', async () => {
    const t = await open();
    const { page } = t;
    await uiLogin(page, ADMIN_EMAIL, ADMIN_PASSWORD);
    await page.click(tid('nav-admin'));
    for (const tab of ['users', 'roles', 'audit', 'cache', 'jobs']) await page.waitForSelector(tid(`admin-tab-${tab}`));
    await page.waitForSelector(tid('user-row'));

    // Paginate with 5 per page.
    await page.selectOption(tid('user-page-size'), '5');
    await eventually(async () => (await page.$$(tid('user-row'))).length === 5, 'five rows');
    const firstPage = await page.$$eval(tid('user-row'), (els) => els.map((e) => e.getAttribute('data-username')));
    await page.click(tid('user-page-next'));
    await eventually(async () => {
      const names = await page.$$eval(tid('user-row'), (els) => els.map((e) => e.getAttribute('data-username')));
      return names.length > 0 && names.every((n) => !firstPage.includes(n));
    }, 'the second page of users');
    await page.selectOption(tid('user-page-size'), '50');

    // Filter by department, then search.
    await page.fill(tid('user-filter-department'), 'Sales');
    await eventually(async () => {
      const names = await page.$$eval(tid('user-row'), (els) => els.map((e) => e.getAttribute('data-username')));
      return names.length === 2 && names.includes('frank') && names.includes('grace');
    }, 'the Sales users');
    await page.fill(tid('user-filter-department'), '');

    // Deactivate bob (after confirmation); he then sees the disabled message at login.
    await searchUser(page, 'bob');
    await page.click(`${userRow('bob')} ${tid('user-toggle-active')}`);
    await page.click(tid('confirm-yes'));
    await eventually(async () => (await page.textContent(`${userRow('bob')} ${tid('user-state')}`)) === 'Inactive', 'bob inactive');
    await page.selectOption(tid('user-filter-active'), 'false');
    await eventually(async () => (await page.$$(tid('user-row'))).length === 1, 'only bob among the inactive');
    const bob = await open();
    await bob.page.goto('/login');
    await bob.page.fill(tid('login-email'), 'bob@example.com');
    await bob.page.fill(tid('login-password'), PASSWORD);
    await bob.page.click(tid('login-submit'));
    expect(await (await bob.page.waitForSelector(tid('login-error'))).textContent()).toContain('disabled');
    await bob.finish();
    await page.click(`${userRow('bob')} ${tid('user-toggle-active')}`);
    await eventually(async () => (await page.$(userRow('bob'))) === null, 'bob to leave the inactive filter');
    await page.selectOption(tid('user-filter-active'), '');
    await eventually(async () => (await page.textContent(`${userRow('bob')} ${tid('user-state')}`)) === 'Active', 'bob active again');

    // mike: department and position, manager role with an expiry, revoke, assign for good.
    await searchUser(page, 'mike');
    await page.click(`${userRow('mike')} ${tid('user-manage')}`);
    await page.waitForSelector(tid('user-detail'));
    await page.fill(tid('user-department'), 'Platform');
    await page.fill(tid('user-position'), 'Staff engineer');
    await page.click(tid('user-save'));
    await notice(page, 'success', 'Saved mike');
    await eventually(async () => (await page.textContent(userRow('mike')))?.includes('Platform'), 'the new department in the row');

    await page.selectOption(tid('role-name'), 'manager');
    await page.fill(tid('role-expires'), '2031-01-01T09:00');
    await page.click(tid('role-assign'));
    await notice(page, 'success', 'Assigned manager to mike');
    await page.waitForSelector(`${tid('user-role')}[data-role="manager"]`);
    expect(await page.textContent(`${tid('user-role')}[data-role="manager"]`)).toContain('until');
    let server = await call('GET', '/users?q=mike', { token: (await adminLogin()).token });
    expect(server.body.users[0].role_assignments.find((a: any) => a.role === 'manager').expires_at).toMatch(/^2031-01-01/);
    // Assigning it twice shows the 409 message.
    await page.click(tid('role-assign'));
    expect(await (await page.waitForSelector(tid('role-error'))).textContent()).toContain('User already has this role');

    await page.click(`${tid('role-revoke')}[data-role="manager"]`);
    await page.click(tid('confirm-yes'));
    await notice(page, 'success', 'Revoked manager from mike');
    await eventually(async () => (await page.$(`${tid('user-role')}[data-role="manager"]`)) === null, 'the manager chip to go');
    await page.fill(tid('role-expires'), '');
    await page.click(tid('role-assign'));
    await page.waitForSelector(`${tid('user-role')}[data-role="manager"]`);
    server = await call('GET', '/users?q=mike', { token: (await adminLogin()).token });
    expect(server.body.users[0].roles).toContain('manager');
    expect(server.body.users[0]).toMatchObject({ department: 'Platform', position: 'Staff engineer' });

    // Attributes: the registration ones are listed; add, edit, delete.
    await page.waitForSelector(`${tid('attr-row')}[data-key="clearance_level"]`);
    await page.waitForSelector(`${tid('attr-row')}[data-key="account_type"]`);
    await page.fill(tid('attr-key'), 'team');
    await page.fill(tid('attr-value-input'), 'payments');
    await page.click(tid('attr-save'));
    await page.waitForSelector(`${tid('attr-row')}[data-key="team"]`);
    await page.click(`${tid('attr-row')}[data-key="clearance_level"] ${tid('attr-edit')}`);
    expect(await page.inputValue(tid('attr-type'))).toBe('number');
    await page.fill(tid('attr-value-input'), '11');
    await page.click(tid('attr-save'));
    await page.waitForSelector(tid('attr-error'));
    await page.fill(tid('attr-value-input'), '4');
    await page.click(tid('attr-save'));
    await eventually(async () => (await page.textContent(`${tid('attr-row')}[data-key="clearance_level"] ${tid('attr-value')}`)) === '4', 'clearance 4');
    await page.click(`${tid('attr-row')}[data-key="team"] ${tid('attr-delete')}`);
    await page.click(tid('confirm-yes'));
    await eventually(async () => (await page.$(`${tid('attr-row')}[data-key="team"]`)) === null, 'the team attribute to go');
    const attrs = await call('GET', `/users/${ids.mike}/attributes`, { token: (await adminLogin()).token });
    expect(attrs.body.attributes.find((a: any) => a.key === 'clearance_level').value).toBe(4);
    expect(attrs.body.attributes.find((a: any) => a.key === 'team')).toBeUndefined();
    await page.keyboard.press('Escape');
    await page.waitForSelector(tid('user-detail'), { state: 'detached' });

    // Delete ivan after confirmation.
    await searchUser(page, 'ivan');
    await page.click(`${userRow('ivan')} ${tid('user-delete')}`);
    await page.click(tid('confirm-yes'));
    await notice(page, 'success', 'Deleted ivan');
    await eventually(async () => (await page.$(userRow('ivan'))) === null, 'ivan to go');
    expect((await call('POST', '/auth/login', { body: { email: 'ivan@example.com', password: PASSWORD } })).status).toBe(401);
    await t.finish();
  });

  it('roles and audit: the role list with permissions; the audit log filtered to denied, by user, resource and time, paginated', async () => {
    // A denied request to find: heidi asks for the user list.
    const heidi = await apiLogin('heidi@example.com', PASSWORD);
    for (let i = 0; i < 3; i++) expect((await call('GET', '/users', { token: heidi.token })).status).toBe(403);
    const t = await open();
    const { page } = t;
    await uiLogin(page, ADMIN_EMAIL, ADMIN_PASSWORD);
    await page.goto('/admin?tab=roles');
    await page.waitForSelector(`${tid('role-card')}[data-role="admin"]`);
    expect(await page.$$(`${tid('role-card')}[data-role="admin"] ${tid('role-permission')}`)).toHaveLength(23);
    expect(await page.$$(`${tid('role-card')}[data-role="user"] ${tid('role-permission')}`)).toHaveLength(6);
    expect(await page.textContent(`${tid('role-card')}[data-role="manager"]`)).toContain('department');

    await page.click(tid('admin-tab-audit'));
    await page.selectOption(tid('audit-filter-decision'), 'denied');
    await eventually(async () => {
      const decisions = await page.$$eval(tid('audit-row'), (els) => els.map((e) => e.getAttribute('data-decision')));
      return decisions.length > 0 && decisions.every((d) => d === 'denied');
    }, 'denied entries only');
    await page.fill(tid('audit-filter-user'), heidi.user.id);
    await page.selectOption(tid('audit-filter-resource'), 'user');
    await eventually(async () => (await page.$$(tid('audit-row'))).length === 3, "heidi's three denials");
    // A time range that ends before the denials hides them.
    await page.fill(tid('audit-filter-to'), '2020-01-01T00:00');
    await page.waitForSelector(tid('audit-empty'));
    await page.fill(tid('audit-filter-to'), '');
    await page.fill(tid('audit-filter-from'), '2020-01-01T00:00');
    await eventually(async () => (await page.$$(tid('audit-row'))).length === 3, 'the denials again');
    // Paginate the unfiltered log (20 per page; this run has produced more than 20 entries).
    await page.fill(tid('audit-filter-user'), '');
    await page.selectOption(tid('audit-filter-resource'), '');
    await page.selectOption(tid('audit-filter-decision'), '');
    await page.waitForSelector(tid('audit-row'));
    const info = await page.textContent(tid('audit-page-info'));
    if (!/Page 1 of 1 /.test(info ?? '')) {
      const first = await page.$$eval(tid('audit-row'), (els) => els.map((e) => e.textContent).join());
      await page.click(tid('audit-page-next'));
      await eventually(async () => (await page.textContent(tid('audit-page-info')))?.startsWith('Page 2'), 'audit page 2');
      expect(await page.$$eval(tid('audit-row'), (els) => els.map((e) => e.textContent).join())).not.toBe(first);
    }
    await t.finish();
  });

  it('cache: stats, health, warm, evict a key and a pattern, clear after confirmation', async () => {
    const t = await open();
    const { page } = t;
    await uiLogin(page, ADMIN_EMAIL, ADMIN_PASSWORD);
    await page.goto('/admin?tab=cache');
    await page.waitForSelector(tid('cache-stats'));
    expect(await page.textContent(tid('cache-health-status'))).toMatch(/healthy|degraded/);
    await page.click(tid('cache-warm'));
    await notice(page, 'success', 'Cache warming triggered successfully');
    await page.fill(tid('cache-evict-key'), 'task:00000000-0000-0000-0000-000000000000');
    await page.click(tid('cache-evict'));
    await notice(page, 'success', 'Cache key evicted successfully');
    await page.fill(tid('cache-evict-key'), 'tasks_paginated:*');
    await page.click(tid('cache-evict'));
    await notice(page, 'success', 'Cache pattern evicted successfully');
    await page.click(tid('cache-clear'));
    await page.click(tid('confirm-no'));
    expect(await page.$$(tid('notice-success'))).toHaveLength(3);
    await page.click(tid('cache-clear'));
    await page.click(tid('confirm-yes'));
    await notice(page, 'success', 'cache cleared successfully');
    await t.finish();
  });

  it('jobs: enqueue each of the five types; queue sizes and contents; the DLQ with retry and purge', async () => {
    if (REDIS_URL) {
      // Four dead jobs of an unknown type, as the workers leave them after their last failure.
      for (let i = 0; i < 4; i++) {
        const now = new Date().toISOString();
        const job = { id: crypto.randomUUID(), type: 'bogus', payload: { key: `bogus:${i}` }, attempts: 3, max_tries: 3, priority: 5, created_at: now, process_at: now, last_error: 'unknown job type bogus', failed_at: now };
        await redisCommand(REDIS_URL, 'LPUSH', 'cache_jobs_dlq', JSON.stringify(job));
      }
    }
    const t = await open();
    const { page } = t;
    await uiLogin(page, ADMIN_EMAIL, ADMIN_PASSWORD);
    await page.goto('/admin?tab=jobs');
    await page.waitForSelector(tid('queue-sizes'));

    const enqueue = async (type: string, fill: () => Promise<void>, message: string) => {
      await page.selectOption(tid('job-type'), type);
      await fill();
      await page.click(tid('job-enqueue'));
      await notice(page, 'success', message);
    };
    await enqueue('warmup', async () => {
      await page.fill(tid('job-key'), 'e2e:warm');
      await page.fill(tid('job-data'), '{"hello":"world"}');
      await page.fill(tid('job-ttl'), '10m');
    }, 'Warmup job enqueued successfully');
    await enqueue('batch', async () => {
      await page.fill(tid('job-keys'), 'e2e:a, e2e:b e2e:c');
    }, 'Batch job enqueued successfully');
    await enqueue('scheduled', async () => {
      await page.fill(tid('job-key'), 'e2e:later');
      await page.fill(tid('job-process-at'), '2031-01-01T00:00');
    }, 'Scheduled job enqueued successfully');
    await enqueue('validation', async () => {
      await page.fill(tid('job-key'), 'e2e:warm');
      await page.fill(tid('job-data'), '{"hello":"world"}');
    }, 'Validation job enqueued successfully');
    await enqueue('eviction', async () => {
      await page.fill(tid('job-key'), '');
      await page.fill(tid('job-pattern'), 'e2e:*');
    }, 'Eviction job enqueued successfully');
    // A reserved prefix: the server's field error is shown next to the key.
    await page.selectOption(tid('job-type'), 'warmup');
    await page.fill(tid('job-key'), 'task:nope');
    await page.click(tid('job-enqueue'));
    expect(await (await page.waitForSelector(tid('job-error'))).textContent()).toContain('Request validation failed');
    expect(await page.textContent('.field-error')).toContain('reserved prefix');

    await page.click(tid('jobs-refresh'));
    expect(await page.textContent(tid('queue-sizes'))).toMatch(/\d/);
    if (REDIS_URL) {
      // The scheduled job waits in the delayed queue until 2031.
      await page.click(`${tid('queue-delayed')} summary`);
      await eventually(async () => (await page.textContent(tid('queue-delayed')))?.includes('cache_scheduled'), 'the scheduled job in the delayed list');
      await eventually(async () => (await page.textContent(tid('dlq-total'))) === '4', 'four dead jobs');
      await page.click(`${tid('dlq-row')} >> nth=0 >> ${tid('dlq-retry-one')}`);
      await notice(page, 'success', 'Retried 1 job');
      await eventually(async () => (await page.textContent(tid('dlq-total'))) === '3', 'three dead jobs');
      await page.click(`${tid('dlq-row')} >> nth=0 >> ${tid('dlq-purge-one')}`);
      await page.click(tid('confirm-yes'));
      await notice(page, 'success', 'Purged 1 job');
      await eventually(async () => (await page.textContent(tid('dlq-total'))) === '2', 'two dead jobs');
      await page.click(tid('dlq-retry'));
      await notice(page, 'success', 'Retried 2 jobs');
      await eventually(async () => (await page.textContent(tid('dlq-total'))) === '0', 'an empty DLQ');
      // The retried jobs fail again (unknown type) and come back after their retries; purge them all.
      await eventually(async () => {
        await page.click(tid('jobs-refresh'));
        return (await page.textContent(tid('dlq-total'))) !== '0';
      }, 'the retried jobs to fail again', 60_000);
      await page.click(tid('dlq-purge'));
      await page.click(tid('confirm-yes'));
      await notice(page, 'success', /Purged \d+ job/);
      await page.waitForSelector(tid('dlq-empty'));
    } else {
      // Without Redis the DLQ is the local one and starts empty: the actions are disabled.
      await page.waitForSelector(tid('dlq-empty'));
      expect(await page.isDisabled(tid('dlq-retry'))).toBe(true);
      expect(await page.isDisabled(tid('dlq-purge'))).toBe(true);
    }
    await t.finish();
  });

  it('a manager sees the tasks of the department read-only, with the owner shown', async () => {
    const kate = await ensureUser('kate', 'QA');
    await ensureUser('leo', 'QA');
    const admin = await adminLogin();
    expect((await call('POST', `/users/${kate}/roles`, { token: admin.token, body: { role: 'manager' } })).status).toBe(201);
    const leo = await apiLogin('leo@example.com', PASSWORD);
    await call('POST', '/tasks', { token: leo.token, body: { title: 'Leo’s QA plan' } });
    const t = await open();
    await uiLogin(t.page, 'kate@example.com', PASSWORD);
    const row = `${tid('task-row')}:has(.task-title:text-is("Leo’s QA plan"))`;
    await t.page.waitForSelector(row);
    expect(await t.page.textContent(`${row} ${tid('task-owner')}`)).toBe('leo');
    expect(await t.page.$(`${row} ${tid('task-edit')}`)).toBeNull();
    expect(await t.page.$(`${row} ${tid('task-delete')}`)).toBeNull();
    expect(await t.page.$(`${row} ${tid('task-status')}`)).toBeNull();
    // Her own task stays editable.
    await t.page.fill(tid('task-quick-add'), 'Kate’s own');
    await t.page.press(tid('task-quick-add'), 'Enter');
    await t.page.waitForSelector(`${tid('task-row')}:has(.task-title:text-is("Kate’s own")) ${tid('task-edit')}`);
    await t.finish();
  });
});
