// The connection to `GET /api/v1/events` (docs/web-ui.md#live-updates): one stream per tab while
// signed in, read with fetch (the Bearer header) and the SSE parser, reconnected with backoff and
// `Last-Event-ID` whenever it ends (drain, token expiry, network), until stopped.
//
// - 401: the access token is refreshed through the client (under its Web Lock) and the stream is
//   opened again at once; a refused refresh ends the session (the client's handler sends the user
//   to /login) and the loop stops.
// - 429 / 503: waits for `Retry-After` (bounded) before the next attempt.
// - Anything else, a network error or a stream that ends: exponential backoff from the server's
//   `retry:` (2 s by default) up to 30 s, with jitter so that the tabs of a restarted instance do
//   not all come back in the same instant.
// - A stream silent for longer than three heartbeats is taken as dead and reopened.

import { SseParser, type SseEvent } from './sse';
import type { Task } from './types';

export type LiveEvent =
  | { type: 'task.created' | 'task.updated'; id: string; version: number; task: Task | null }
  | { type: 'task.deleted'; id: string; version: number }
  | { type: 'resync'; reason: string };

export type LiveState = 'connecting' | 'live' | 'reconnecting';

export const EVENTS_PATH = '/api/v1/events';
export const DEFAULT_RETRY_MS = 2_000;
export const MAX_BACKOFF_MS = 30_000;
/** The server sends a heartbeat comment every ~15 s; three missed ones mean the stream is dead. */
export const SILENCE_MS = 45_000;
/** Upper bound for a server's Retry-After, so a bad header cannot park the stream for hours. */
export const MAX_RETRY_AFTER_MS = 5 * 60_000;

/** Turns one parsed SSE event into a LiveEvent; unknown types and malformed data give null. */
export function decodeEvent(e: SseEvent): LiveEvent | null {
  let body: unknown;
  try {
    body = JSON.parse(e.data);
  } catch {
    return null;
  }
  if (!body || typeof body !== 'object') return null;
  const obj = body as Record<string, unknown>;
  if (e.event === 'resync') return { type: 'resync', reason: typeof obj.reason === 'string' ? obj.reason : '' };
  if (typeof obj.id !== 'string' || typeof obj.version !== 'number') return null;
  if (e.event === 'task.deleted') return { type: 'task.deleted', id: obj.id, version: obj.version };
  if (e.event === 'task.created' || e.event === 'task.updated') {
    const task = obj.task && typeof obj.task === 'object' ? (obj.task as Task) : null;
    return { type: e.event, id: obj.id, version: obj.version, task: task && task.id === obj.id ? task : null };
  }
  return null;
}

/** The delay before reconnection attempt `attempt` (0-based): doubling, capped, half of it random. */
export function backoffDelay(attempt: number, baseMs: number, random: () => number): number {
  const ceiling = Math.min(MAX_BACKOFF_MS, baseMs * 2 ** Math.min(attempt, 16));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** `Retry-After` in milliseconds (seconds or an HTTP date), bounded; null when absent or invalid. */
export function retryAfterMs(header: string | null, now = Date.now()): number | null {
  if (!header) return null;
  const value = header.trim();
  let ms: number;
  if (/^\d+$/.test(value)) ms = Number(value) * 1000;
  else {
    const at = Date.parse(value);
    if (Number.isNaN(at)) return null;
    ms = at - now;
  }
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms));
}

export interface StreamDeps {
  fetch: typeof fetch;
  /** The current access token (null after a reload: refresh first). */
  token: () => string | null;
  /** Refreshes through the client; null when the session is over. */
  refresh: () => Promise<string | null>;
  onEvent: (event: LiveEvent) => void;
  onState: (state: LiveState) => void;
  random?: () => number;
  /** Waits `ms`, or less when `signal` aborts. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

const defaultSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });

/** Starts the loop; the returned function stops it (and closes the open stream). */
export function startEventStream(deps: StreamDeps): () => void {
  const stop = new AbortController();
  void runEventStream(deps, stop.signal);
  return () => stop.abort();
}

/** The connection loop; resolves once `signal` aborts or the session is over. */
export async function runEventStream(deps: StreamDeps, signal: AbortSignal): Promise<void> {
  const random = deps.random ?? Math.random;
  const sleep = deps.sleep ?? defaultSleep;
  let lastEventId: string | null = null;
  let retryMs = DEFAULT_RETRY_MS;
  let attempt = 0;
  deps.onState('connecting');

  while (!signal.aborted) {
    let token = deps.token();
    let refreshed = false;
    let wait: number | null = null;
    const parser: SseParser = new SseParser(lastEventId);
    try {
      if (!token) {
        token = await deps.refresh();
        refreshed = true;
        if (!token) return;
      }
      let res = await open(deps, token, lastEventId, signal);
      if (res.status === 401 && !refreshed) {
        await discard(res);
        token = await deps.refresh();
        if (!token) return;
        res = await open(deps, token, lastEventId, signal);
      }
      if (res.ok && res.body) {
        await read(res.body, parser, signal, () => {
          attempt = 0;
          deps.onState('live');
        }, deps.onEvent);
      } else {
        wait = res.status === 429 || res.status === 503 ? retryAfterMs(res.headers.get('Retry-After')) : null;
        await discard(res);
      }
    } catch {
      // A network error or an aborted read: reconnect below (or leave, when stopped).
    }
    lastEventId = parser.lastEventId;
    if (parser.retry !== null) retryMs = Math.min(MAX_BACKOFF_MS, Math.max(500, parser.retry));
    if (signal.aborted) return;
    deps.onState('reconnecting');
    await sleep(wait ?? backoffDelay(attempt, retryMs, random), signal);
    attempt++;
  }
}

function open(deps: StreamDeps, token: string, lastEventId: string | null, signal: AbortSignal): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'text/event-stream', Authorization: `Bearer ${token}` };
  if (lastEventId !== null) headers['Last-Event-ID'] = lastEventId;
  return deps.fetch(EVENTS_PATH, { headers, signal, cache: 'no-store', credentials: 'same-origin' });
}

async function discard(res: Response): Promise<void> {
  try {
    await res.body?.cancel();
  } catch {
    // already closed
  }
}

/**
 * Reads the stream until it ends. `opened` runs once the first bytes arrive (the server starts
 * with `retry:`), so "Live" means the stream really flows, also through a proxy.
 */
async function read(
  body: ReadableStream<Uint8Array>,
  parser: SseParser,
  signal: AbortSignal,
  opened: () => void,
  onEvent: (e: LiveEvent) => void,
): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let watchdog: ReturnType<typeof setTimeout> | undefined;
  const cancel = () => void reader.cancel().catch(() => {});
  const arm = () => {
    clearTimeout(watchdog);
    watchdog = setTimeout(cancel, SILENCE_MS);
  };
  signal.addEventListener('abort', cancel);
  let first = true;
  try {
    arm();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      arm();
      if (first) {
        first = false;
        opened();
      }
      for (const e of parser.push(decoder.decode(value, { stream: true }))) {
        const event = decodeEvent(e);
        if (event) onEvent(event);
      }
    }
  } finally {
    clearTimeout(watchdog);
    signal.removeEventListener('abort', cancel);
  }
}
