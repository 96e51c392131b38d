// J5 (profile), J7 (silent refresh with a 5 s access token, logout, Back).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, SHORT_TTL_BASE, call, closeBrowser, ensureUser, eventually, open, tid, uiLogin } from './harness';

beforeAll(async () => {
  await ensureUser('dave', 'Support');
});
afterAll(closeBrowser);

describe('profile', () => {
  it('J5: edits the names and changes the password; the next login needs the new one', async () => {
    const t = await open();
    const { page } = t;
    await uiLogin(page, 'dave@example.com', PASSWORD);
    await page.click(tid('nav-profile'));
    const view = await page.waitForSelector(tid('profile-view'));
    for (const text of ['dave', 'dave@example.com', 'Support', 'user']) expect(await view.textContent()).toContain(text);
    expect(await page.textContent(tid('profile-created'))).not.toBe('—');

    await page.click(tid('profile-edit'));
    await page.fill(tid('profile-first-name'), 'David');
    await page.fill(tid('profile-last-name'), 'Jones');
    await page.fill(tid('profile-position'), 'Lead');
    await page.click(tid('profile-save'));
    await page.waitForSelector(tid('profile-view'));
    expect(await page.textContent(tid('profile-first-name'))).toBe('David');
    await page.reload();
    expect(await (await page.waitForSelector(tid('profile-last-name'))).textContent()).toBe('Jones');
    expect(await page.textContent(tid('profile-position'))).toBe('Lead');

    // A field error from the server is shown next to its field.
    await page.click(tid('profile-edit'));
    await page.fill(tid('profile-first-name'), '');
    await page.click(tid('profile-save'));
    expect(await (await page.waitForSelector(tid('profile-error'))).textContent()).toContain('Request validation failed');
    expect(await page.$eval(tid('profile-first-name'), (el) => el.getAttribute('aria-invalid'))).toBe('true');
    await page.click('text=Cancel');

    // Wrong current password: the error sits next to the field.
    await page.fill(tid('pw-current'), 'Not!theRight1');
    await page.fill(tid('pw-new'), 'N3w!Password');
    await page.click(tid('pw-save'));
    expect(await (await page.waitForSelector(tid('pw-error'))).textContent()).toContain('Request validation failed');
    expect(await page.textContent('.field-error')).toContain('is incorrect');

    await page.fill(tid('pw-current'), PASSWORD);
    await page.fill(tid('pw-new'), 'N3w!Password');
    expect(await page.$$(`[data-testid="pw-checklist"] li[data-ok="false"]`)).toHaveLength(0);
    await page.click(tid('pw-save'));
    await page.waitForSelector(tid('notice-success'));
    // This session continues with the new tokens.
    await page.reload();
    await page.waitForSelector(tid('profile-view'));

    expect((await call('POST', '/auth/login', { body: { email: 'dave@example.com', password: PASSWORD } })).status).toBe(401);
    const t2 = await open();
    await t2.page.goto('/login');
    await t2.page.fill(tid('login-email'), 'dave@example.com');
    await t2.page.fill(tid('login-password'), PASSWORD);
    await t2.page.click(tid('login-submit'));
    await t2.page.waitForSelector(tid('login-error'));
    await uiLogin(t2.page, 'dave@example.com', 'N3w!Password');
    await t2.finish();
    await t.finish();
  });
});

describe('short access tokens', () => {
  it.skipIf(!SHORT_TTL_BASE)('J7: after the access token expires a task is still created (silent refresh); logout; Back goes to /login and the old refresh token is dead', async () => {
    const base = SHORT_TTL_BASE;
    await ensureUser('erin', undefined, base);
    const t = await open({ base });
    const { page } = t;
    await uiLogin(page, 'erin@example.com', PASSWORD);
    const refreshBefore = await page.evaluate(() => localStorage.getItem('taskify.refresh_token'));
    // Poll the server until a token issued at login time has expired (ACCESS_TOKEN_TTL=5s).
    const probe = await call('POST', '/auth/login', { base, body: { email: 'erin@example.com', password: PASSWORD } });
    await eventually(async () => (await call('GET', '/tasks', { base, token: probe.body.access_token })).status === 401, 'the access token to expire', 20_000);
    const refreshes = () => t.requests.filter((r) => r.url.endsWith('/auth/refresh')).length;
    const before = refreshes();
    await page.fill(tid('task-quick-add'), 'Created after expiry');
    await page.press(tid('task-quick-add'), 'Enter');
    await page.waitForSelector(`${tid('task-row')}:has(.task-title:text-is("Created after expiry"))`);
    expect(refreshes()).toBeGreaterThan(before);
    expect(page.url()).toContain('/tasks');
    const rotated = await page.evaluate(() => localStorage.getItem('taskify.refresh_token'));
    expect(rotated).not.toBe(refreshBefore);

    await page.click(tid('nav-logout'));
    await page.waitForURL(/\/login$/);
    expect(await page.evaluate(() => localStorage.getItem('taskify.refresh_token'))).toBeNull();
    await page.goBack();
    await page.waitForURL(/\/login$/);
    await page.waitForSelector(tid('login-email'));
    const reuse = await call('POST', '/auth/refresh', { base, body: { refresh_token: rotated } });
    expect(reuse.status).toBe(401);
    expect(reuse.body.error).toBe('invalid_token');
    await t.finish();
  });
});
