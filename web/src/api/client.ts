// The one place that talks to the Taskify API and handles tokens.
//
// - The access token lives in memory only (a page reload loses it; the refresh token gets a new one).
// - The refresh token lives in localStorage under `taskify.refresh_token`, so every tab shares it.
// - Refresh tokens rotate: using one twice revokes the whole family. Tabs therefore refresh one at
//   a time, under the Web Lock `taskify.refresh`, and re-read the stored token inside the lock (the
//   tab that held the lock before may have rotated it). Within a tab, concurrent callers share one
//   refresh.
// - Without an access token, or on a 401, the client refreshes once and retries the request once.
//   When the refresh itself is refused, the session is over: tokens are cleared and `onSessionLost`
//   runs (the app sends the user to /login).

export const REFRESH_KEY = 'taskify.refresh_token';
export const REFRESH_LOCK = 'taskify.refresh';

export interface FieldError {
  field: string;
  message: string;
}

/** A problem+json answer (or a network failure) as the UI shows it. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly errors: FieldError[];
  readonly retryAfter: number | null;

  constructor(status: number, code: string, message: string, errors: FieldError[] = [], retryAfter: number | null = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.errors = errors;
    this.retryAfter = retryAfter;
  }

  /** The message for one field, if the server named it. */
  fieldError(field: string): string | undefined {
    return this.errors.find((e) => e.field === field)?.message;
  }
}

/** Turns any error response into an ApiError, whatever its body (HTML from a proxy, empty, …). */
export async function parseProblem(res: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    const text = await res.text();
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  const obj = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const code = typeof obj.error === 'string' ? obj.error : `http_${res.status}`;
  const message =
    typeof obj.message === 'string' && obj.message
      ? obj.message
      : typeof obj.detail === 'string' && obj.detail
        ? obj.detail
        : `Request failed (${res.status} ${res.statusText || 'error'})`;
  const errors: FieldError[] = Array.isArray(obj.errors)
    ? obj.errors
        .filter((e): e is Record<string, unknown> => !!e && typeof e === 'object')
        .map((e) => ({ field: String(e.field ?? ''), message: String(e.message ?? '') }))
    : [];
  const retry = typeof obj.retry_after === 'number' ? obj.retry_after : null;
  return new ApiError(res.status, code, message, errors, retry);
}

export interface TokenPair {
  access_token: string;
  refresh_token: string;
}

let accessToken: string | null = null;
let inflightRefresh: Promise<string | null> | null = null;
let onSessionLost: () => void = () => {};
let activity: (delta: number) => void = () => {};

export function setSessionLostHandler(handler: () => void): void {
  onSessionLost = handler;
}

/** Called with +1 when a request starts and -1 when it ends (drives the progress bar). */
export function setActivityHandler(handler: (delta: number) => void): void {
  activity = handler;
}

export function hasRefreshToken(): boolean {
  return !!readRefresh();
}

export function getAccessToken(): string | null {
  return accessToken;
}

/** Stores a fresh pair (login, password change, refresh). */
export function storeTokens(pair: TokenPair): void {
  accessToken = pair.access_token;
  try {
    localStorage.setItem(REFRESH_KEY, pair.refresh_token);
  } catch {
    // storage full or disabled: the session lasts as long as the access token
  }
}

export function clearTokens(): void {
  accessToken = null;
  try {
    localStorage.removeItem(REFRESH_KEY);
  } catch {
    // nothing stored
  }
}

function readRefresh(): string | null {
  try {
    return localStorage.getItem(REFRESH_KEY);
  } catch {
    return null;
  }
}

async function withRefreshLock<T>(fn: () => Promise<T>): Promise<T> {
  const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
  if (locks && typeof locks.request === 'function') {
    return locks.request(REFRESH_LOCK, { mode: 'exclusive' }, fn) as Promise<T>;
  }
  return fn();
}

/**
 * One refresh for every caller in this tab, serialised with other tabs. Resolves to the new
 * access token, or null when the session is over (tokens cleared, handler called). Network errors
 * reject and keep the tokens: the next request tries again.
 */
export function refreshAccessToken(): Promise<string | null> {
  if (!inflightRefresh) {
    inflightRefresh = withRefreshLock(async () => {
      const stored = readRefresh();
      if (!stored) return null;
      const res = await fetch('/api/v1/auth/refresh', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ refresh_token: stored }),
        credentials: 'same-origin',
      });
      if (res.ok) {
        const pair = (await res.json()) as TokenPair;
        storeTokens(pair);
        return pair.access_token;
      }
      if (res.status === 401 || res.status === 403) {
        const problem = await parseProblem(res);
        lastSessionProblem = problem;
        clearTokens();
        return null;
      }
      throw await parseProblem(res);
    }).then(
      (token) => {
        inflightRefresh = null;
        if (token === null) onSessionLost();
        return token;
      },
      (err: unknown) => {
        inflightRefresh = null;
        throw err;
      },
    );
  }
  return inflightRefresh;
}

let lastSessionProblem: ApiError | null = null;

/** Why the last session ended (e.g. the account was disabled), for the login page. */
export function takeSessionProblem(): ApiError | null {
  const p = lastSessionProblem;
  lastSessionProblem = null;
  return p;
}

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | null | undefined>;
  headers?: Record<string, string>;
  /** false for the public auth endpoints: no token, no refresh. */
  auth?: boolean;
  signal?: AbortSignal;
  /** A background refresh of data already on screen: no progress bar. */
  quiet?: boolean;
}

export interface ApiResponse<T> {
  data: T;
  status: number;
  etag: string | null;
}

export function buildUrl(path: string, query?: RequestOptions['query']): string {
  const url = `/api/v1${path}`;
  if (!query) return url;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  }
  const qs = params.toString();
  return qs ? `${url}?${qs}` : url;
}

async function send(method: string, path: string, opts: RequestOptions, token: string | null): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  const track = opts.quiet ? () => {} : activity;
  track(1);
  try {
    return await fetch(buildUrl(path, opts.query), {
      method,
      headers,
      body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
      credentials: 'same-origin',
      signal: opts.signal,
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'network_error', 'Taskify cannot be reached. Check your connection and try again.');
  } finally {
    track(-1);
  }
}

/** Sends one API request, refreshing the session once and retrying once when needed. */
export async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<ApiResponse<T>> {
  const auth = opts.auth !== false;
  let token = auth ? accessToken : null;
  let refreshed = false;
  if (auth && !token) {
    token = await refreshAccessToken();
    refreshed = true;
    if (!token) throw new ApiError(401, 'session_expired', 'Your session has ended. Please sign in again.');
  }
  let res = await send(method, path, opts, token);
  if (auth && res.status === 401 && !refreshed) {
    token = await refreshAccessToken();
    if (!token) throw new ApiError(401, 'session_expired', 'Your session has ended. Please sign in again.');
    res = await send(method, path, opts, token);
  }
  if (!res.ok) {
    const problem = await parseProblem(res);
    if (auth && res.status === 401) {
      clearTokens();
      onSessionLost();
    }
    throw problem;
  }
  const etag = res.headers.get('ETag');
  let data: unknown = null;
  if (res.status !== 204) {
    const text = await res.text();
    data = text ? JSON.parse(text) : null;
  }
  return { data: data as T, status: res.status, etag };
}

export const api = {
  get: <T>(path: string, opts?: RequestOptions) => request<T>('GET', path, opts),
  post: <T>(path: string, body?: unknown, opts?: RequestOptions) => request<T>('POST', path, { ...opts, body }),
  put: <T>(path: string, body?: unknown, opts?: RequestOptions) => request<T>('PUT', path, { ...opts, body }),
  patch: <T>(path: string, body?: unknown, opts?: RequestOptions) => request<T>('PATCH', path, { ...opts, body }),
  del: <T>(path: string, opts?: RequestOptions) => request<T>('DELETE', path, opts),
};

/** For tests only: forget the in-memory state. */
export function resetClientForTests(): void {
  accessToken = null;
  inflightRefresh = null;
  lastSessionProblem = null;
}
