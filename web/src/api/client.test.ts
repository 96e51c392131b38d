import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

type Client = typeof import('./client');

/** localStorage shared by every "tab" of a test. */
class MemoryStorage {
  private map = new Map<string, string>();
  getItem(k: string) {
    return this.map.has(k) ? (this.map.get(k) as string) : null;
  }
  setItem(k: string, v: string) {
    this.map.set(k, v);
  }
  removeItem(k: string) {
    this.map.delete(k);
  }
}

/** An exclusive Web Lock manager, shared by every tab; records the order of holders. */
class FakeLocks {
  private tail: Promise<unknown> = Promise.resolve();
  names: string[] = [];
  request(name: string, _opts: unknown, fn: () => Promise<unknown>) {
    this.names.push(name);
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }
}

/** A server whose refresh tokens rotate and are single-use, as Taskify's are. */
class FakeServer {
  valid = new Set<string>(['rt-0']);
  counter = 0;
  refreshCalls: string[] = [];
  reused = 0;
  apiCalls: (string | null)[] = [];
  expireNext = 0;
  liveAccess = new Set<string>();
  refreshStatus: number | null = null;

  fetch = async (url: string, init: RequestInit = {}): Promise<Response> => {
    const headers = (init.headers ?? {}) as Record<string, string>;
    if (url === '/api/v1/auth/refresh') {
      const { refresh_token } = JSON.parse(String(init.body)) as { refresh_token: string };
      this.refreshCalls.push(refresh_token);
      // Let other tabs run while this refresh is "on the wire".
      await new Promise((r) => setTimeout(r, 5));
      if (this.refreshStatus) return problem(this.refreshStatus, 'invalid_token', 'Invalid or expired refresh token');
      if (!this.valid.delete(refresh_token)) {
        this.reused++;
        return problem(401, 'invalid_token', 'Invalid or expired refresh token');
      }
      this.counter++;
      const pair = { access_token: `at-${this.counter}`, refresh_token: `rt-${this.counter}` };
      this.valid.add(pair.refresh_token);
      this.liveAccess.add(pair.access_token);
      return json(200, pair);
    }
    const auth = headers.Authorization ?? null;
    this.apiCalls.push(auth);
    const token = auth?.replace('Bearer ', '') ?? '';
    if (this.expireNext > 0 || !this.liveAccess.has(token)) {
      if (this.expireNext > 0) this.expireNext--;
      return problem(401, 'expired_token', 'Token has expired');
    }
    return json(200, { ok: true, token });
  };
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}
function problem(status: number, code: string, message: string, errors?: unknown[]): Response {
  return new Response(JSON.stringify({ type: `urn:taskify:problem:${code}`, status, error: code, message, detail: message, errors }), {
    status,
    headers: { 'Content-Type': 'application/problem+json' },
  });
}

let storage: MemoryStorage;
let locks: FakeLocks;
let server: FakeServer;

async function openTab(): Promise<Client> {
  vi.resetModules();
  return import('./client');
}

beforeEach(() => {
  storage = new MemoryStorage();
  locks = new FakeLocks();
  server = new FakeServer();
  vi.stubGlobal('localStorage', storage);
  vi.stubGlobal('navigator', { locks });
  vi.stubGlobal('fetch', vi.fn(server.fetch));
  storage.setItem('taskify.refresh_token', 'rt-0');
});
afterEach(() => {
  vi.unstubAllGlobals();
});

describe('problem parsing', () => {
  it('reads message, code and errors[] from a problem+json body', async () => {
    const { parseProblem } = await openTab();
    const err = await parseProblem(problem(400, 'validation_failed', 'Request validation failed', [{ field: 'title', message: 'must be between 1 and 255 characters' }]));
    expect(err.status).toBe(400);
    expect(err.code).toBe('validation_failed');
    expect(err.message).toBe('Request validation failed');
    expect(err.fieldError('title')).toBe('must be between 1 and 255 characters');
    expect(err.fieldError('status')).toBeUndefined();
  });

  it('gives a readable message for a body that is not JSON', async () => {
    const { parseProblem } = await openTab();
    const err = await parseProblem(new Response('<html>Bad gateway</html>', { status: 502, statusText: 'Bad Gateway' }));
    expect(err.status).toBe(502);
    expect(err.code).toBe('http_502');
    expect(err.message).toContain('502');
    expect(err.errors).toEqual([]);
  });

  it('turns a problem answer of a request into a thrown ApiError with the retry hint', async () => {
    const client = await openTab();
    vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify({ error: 'rate_limited', message: 'rate limit exceeded', retry_after: 7 }), { status: 429 })));
    const err = await client.request('GET', '/tasks', { auth: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(client.ApiError);
    expect((err as InstanceType<Client['ApiError']>).retryAfter).toBe(7);
    expect((err as Error).message).toBe('rate limit exceeded');
  });
});

describe('token handling', () => {
  it('refreshes once at start-up (no access token) and then sends the request with the new token', async () => {
    const client = await openTab();
    const res = await client.api.get<{ token: string }>('/tasks');
    expect(res.data.token).toBe('at-1');
    expect(server.refreshCalls).toEqual(['rt-0']);
    expect(storage.getItem('taskify.refresh_token')).toBe('rt-1');
    expect(locks.names).toEqual(['taskify.refresh']);
  });

  it('on 401 expired_token refreshes once and retries once', async () => {
    const client = await openTab();
    await client.api.get('/tasks');
    server.expireNext = 1;
    const res = await client.api.get<{ token: string }>('/tasks');
    expect(res.data.token).toBe('at-2');
    expect(server.refreshCalls).toEqual(['rt-0', 'rt-1']);
    expect(server.apiCalls).toEqual(['Bearer at-1', 'Bearer at-1', 'Bearer at-2']);
  });

  it('retries only once: a second 401 ends the session instead of looping', async () => {
    const client = await openTab();
    await client.api.get('/tasks');
    const lost = vi.fn();
    client.setSessionLostHandler(lost);
    server.expireNext = 2;
    await expect(client.api.get('/tasks')).rejects.toMatchObject({ status: 401 });
    expect(server.refreshCalls).toHaveLength(2);
    expect(server.apiCalls).toHaveLength(3);
    expect(lost).toHaveBeenCalledTimes(1);
    expect(storage.getItem('taskify.refresh_token')).toBeNull();
  });

  it('shares one refresh among concurrent requests of a tab', async () => {
    const client = await openTab();
    const results = await Promise.all([client.api.get('/a'), client.api.get('/b'), client.api.get('/c')]);
    expect(results).toHaveLength(3);
    expect(server.refreshCalls).toEqual(['rt-0']);
    expect(server.reused).toBe(0);
  });

  it('serialises refreshes across tabs, each re-reading the rotated token inside the lock', async () => {
    const tabA = await openTab();
    const tabB = await openTab();
    expect(tabA).not.toBe(tabB);
    const [a, b] = await Promise.all([tabA.api.get<{ token: string }>('/tasks'), tabB.api.get<{ token: string }>('/tasks')]);
    expect(server.reused).toBe(0);
    expect(server.refreshCalls).toEqual(['rt-0', 'rt-1']);
    expect(new Set([a.data.token, b.data.token])).toEqual(new Set(['at-1', 'at-2']));
    expect(storage.getItem('taskify.refresh_token')).toBe('rt-2');
  });

  it('clears the tokens and reports a lost session when the refresh is refused', async () => {
    const client = await openTab();
    const lost = vi.fn();
    client.setSessionLostHandler(lost);
    server.refreshStatus = 401;
    await expect(client.api.get('/tasks')).rejects.toMatchObject({ code: 'session_expired' });
    expect(lost).toHaveBeenCalledTimes(1);
    expect(storage.getItem('taskify.refresh_token')).toBeNull();
    expect(server.apiCalls).toHaveLength(0);
  });

  it('keeps the tokens when the network fails, and says the server cannot be reached', async () => {
    const client = await openTab();
    await client.api.get('/tasks');
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))));
    await expect(client.api.get('/tasks')).rejects.toMatchObject({ code: 'network_error' });
    expect(storage.getItem('taskify.refresh_token')).toBe('rt-1');
    expect(client.getAccessToken()).toBe('at-1');
  });

  it('does not refresh or send a token for the public auth endpoints', async () => {
    const client = await openTab();
    await client.request('POST', '/auth/login', { auth: false, body: { email: 'a@b.c', password: 'x' } }).catch(() => undefined);
    expect(server.refreshCalls).toEqual([]);
    expect(server.apiCalls).toEqual([null]);
  });
});
