// Shared end-to-end machinery: one headless Debian Chromium, a Taskify started by
// scripts/test-web.sh (TASKIFY_URL), API helpers for setup, and the checks every test ends with:
// no request left the origin, no CSP violation, no console error.

import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';

export const BASE = process.env.TASKIFY_URL ?? 'http://127.0.0.1:8080';
export const SHORT_TTL_BASE = process.env.TASKIFY_SHORT_TTL_URL ?? '';
export const ADMIN_EMAIL = process.env.ADMIN_EMAIL ?? 'admin@taskify.local';
export const ADMIN_PASSWORD = process.env.ADMIN_PASSWORD ?? '';
export const REDIS_URL = process.env.TASKIFY_E2E_REDIS_URL ?? '';
export const RUN = process.env.TASKIFY_E2E_RUN ?? 'sqlite';
export const SCREENSHOTS = process.env.TASKIFY_SCREENSHOTS ?? join(process.cwd(), 'screenshots');
export const PASSWORD = 'Passw0rd!e2e';

/** Polls `fn` until it returns a truthy value, or fails after `ms`. */
export async function eventually<T>(fn: () => Promise<T> | T, what: string, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---- API (setup and server-side assertions) --------------------------------------------------
export interface ApiAnswer {
  status: number;
  // The tests read whatever the API answered; its shapes are checked by the assertions.
  body: any;
  headers: Headers;
}

export async function call(method: string, path: string, opts: { token?: string; body?: unknown; headers?: Record<string, string>; base?: string } = {}): Promise<ApiAnswer> {
  const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers };
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${opts.base ?? BASE}/api/v1${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  return { status: res.status, body, headers: res.headers };
}

export async function apiLogin(email: string, password: string, base = BASE): Promise<{ token: string; refresh: string; user: any }> {
  const res = await call('POST', '/auth/login', { body: { email, password }, base });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return { token: res.body.access_token, refresh: res.body.refresh_token, user: res.body.user };
}

export const adminLogin = (base = BASE) => apiLogin(ADMIN_EMAIL, ADMIN_PASSWORD, base);

/** Registers `username` (idempotent within a run: a 409 is fine) and returns its id. */
export async function ensureUser(username: string, department?: string, base = BASE): Promise<string> {
  const email = `${username}@example.com`;
  const res = await call('POST', '/auth/register', {
    base,
    body: { username, email, password: PASSWORD, first_name: username[0].toUpperCase() + username.slice(1), last_name: 'Tester', department },
  });
  if (res.status !== 201 && res.status !== 409) throw new Error(`register ${username}: ${res.status} ${JSON.stringify(res.body)}`);
  const { user } = await apiLogin(email, PASSWORD, base);
  return user.id;
}

export async function createTaskApi(token: string, body: Record<string, unknown>, base = BASE): Promise<any> {
  const res = await call('POST', '/tasks', { token, body, base });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

/** LPUSH through a bare RESP connection (no Redis client dependency). */
export async function redisCommand(url: string, ...args: string[]): Promise<string> {
  const u = new URL(url);
  const db = u.pathname.replace('/', '') || '0';
  const encode = (parts: string[]) => `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`;
  return new Promise((resolve, reject) => {
    const socket = connect(Number(u.port || 6379), u.hostname, () => {
      socket.write(encode(['SELECT', db]) + encode(args));
    });
    let data = '';
    socket.on('data', (chunk) => {
      data += chunk.toString();
      if (data.split('\r\n').filter(Boolean).length >= 2) {
        socket.end();
        resolve(data);
      }
    });
    socket.on('error', reject);
    setTimeout(() => {
      socket.destroy();
      reject(new Error('redis timeout'));
    }, 5000);
  });
}

// ---- browser ----------------------------------------------------------------------------------
let browser: Browser | null = null;
let profileDir = '';

export async function getBrowser(): Promise<Browser> {
  if (browser) return browser;
  profileDir = mkdtempSync(join(tmpdir(), 'taskify-chromium-'));
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--disk-cache-dir=${join(profileDir, 'cache')}`,
    ],
  });
  return browser;
}

export async function closeBrowser(): Promise<void> {
  await browser?.close();
  browser = null;
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
}

export interface Tracked {
  context: BrowserContext;
  page: Page;
  problems: string[];
  requests: { method: string; url: string; headers: Record<string, string> }[];
  /** Opens another tab in the same context (shares localStorage and Web Locks). */
  newTab: () => Promise<Page>;
  /** Asserts the clean-run rules and closes the context. */
  finish: () => Promise<void>;
}

/** A fresh browser context whose every page is watched. */
export async function open(opts: { dark?: boolean; width?: number; base?: string } = {}): Promise<Tracked> {
  const b = await getBrowser();
  const origin = new URL(opts.base ?? BASE).origin;
  const context = await b.newContext({
    baseURL: opts.base ?? BASE,
    viewport: { width: opts.width ?? 1280, height: 860 },
    colorScheme: opts.dark ? 'dark' : 'light',
    reducedMotion: 'reduce',
  });
  const problems: string[] = [];
  const requests: Tracked['requests'] = [];
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  const watch = (page: Page) => {
    page.on('console', (msg) => {
      if (msg.type() !== 'error') return;
      const text = msg.text();
      const url = msg.location().url ?? '';
      // The browser logs every 4xx answer of fetch() as an error. Those are API answers the UI
      // expects and shows (401 on a wrong password, 412, 403…); anything else counts.
      if (/^Failed to load resource: the server responded with a status of 4\d\d/.test(text) && url.startsWith(`${origin}/api/`)) return;
      problems.push(`console error on ${page.url()}: ${text} (${url})`);
    });
    page.on('pageerror', (err) => problems.push(`page error on ${page.url()}: ${err.message}`));
    page.on('request', (req) => {
      const url = req.url();
      requests.push({ method: req.method(), url, headers: req.headers() });
      if (!url.startsWith(`${origin}/`) && !url.startsWith('data:') && url !== 'about:blank') problems.push(`request left the origin: ${url}`);
    });
    page.on('dialog', (d) => {
      problems.push(`native dialog opened (${d.type()}): ${d.message()}`);
      void d.dismiss();
    });
  };
  context.on('page', watch);
  const page = await context.newPage();
  return {
    context,
    page,
    problems,
    requests,
    newTab: () => context.newPage(),
    finish: async () => {
      await context.close();
      expect(problems, problems.join('\n')).toEqual([]);
    },
  };
}

export const tid = (id: string) => `[data-testid="${id}"]`;

/** Signs in through the form and waits for the task list. */
export async function uiLogin(page: Page, email: string, password: string): Promise<void> {
  await page.goto('/login');
  await page.fill(tid('login-email'), email);
  await page.fill(tid('login-password'), password);
  await page.click(tid('login-submit'));
  await page.waitForURL(/\/tasks/);
  await page.waitForSelector(`${tid('task-list')}, ${tid('task-empty')}`);
}

// ---- accessibility and screenshots ----------------------------------------------------------
const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** Runs axe-core in the page (through the DevTools protocol, so the CSP is untouched). */
export async function axe(page: Page): Promise<string[]> {
  const result = (await page.evaluate(`${AXE}\n;axe.run(document, { resultTypes: ['violations'] }).then(r => r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5) })))`)) as {
    id: string;
    impact: string;
    help: string;
    nodes: string[];
  }[];
  return result.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.join(', ')}`);
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}
