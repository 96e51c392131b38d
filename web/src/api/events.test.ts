import { describe, expect, it } from 'vitest';
import { MAX_BACKOFF_MS, backoffDelay, decodeEvent, retryAfterMs, runEventStream, type LiveEvent, type LiveState } from './events';

const enc = new TextEncoder();

function stream(chunks: string[]): Response {
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      for (const chunk of chunks) c.enqueue(enc.encode(chunk));
      c.close();
    },
  });
  return new Response(body, { status: 200, headers: { 'Content-Type': 'text/event-stream' } });
}

const status = (code: number, headers: Record<string, string> = {}) => new Response('{}', { status: code, headers });

interface Call {
  auth: string | undefined;
  lastEventId: string | undefined;
}

/**
 * Runs the loop against scripted answers (one per connection attempt); stops it once the script
 * is used up. Sleeps resolve at once and are recorded.
 */
async function run(answers: (() => Response | Promise<Response>)[], opts: { token?: string | null; refresh?: () => Promise<string | null> } = {}) {
  const calls: Call[] = [];
  const sleeps: number[] = [];
  const events: LiveEvent[] = [];
  const states: LiveState[] = [];
  const stop = new AbortController();
  let token = opts.token === undefined ? 'at-1' : opts.token;
  let refreshes = 0;
  await runEventStream(
    {
      fetch: async (_url, init) => {
        const headers = init?.headers as Record<string, string>;
        calls.push({ auth: headers.Authorization, lastEventId: headers['Last-Event-ID'] });
        const next = answers.shift();
        if (!next) {
          stop.abort();
          throw new DOMException('aborted', 'AbortError');
        }
        return next();
      },
      token: () => token,
      refresh:
        opts.refresh ??
        (async () => {
          refreshes++;
          token = `at-refreshed-${refreshes}`;
          return token;
        }),
      onEvent: (e) => events.push(e),
      onState: (s) => states.push(s),
      random: () => 0.5,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    },
    stop.signal,
  );
  return { calls, sleeps, events, states };
}

const updated = (id: string, version: number) => `event: task.updated\ndata: {"id":"${id}","version":${version},"task":null}\n\n`;

describe('the event stream loop', () => {
  it('reconnects after the stream ends and resumes with Last-Event-ID', async () => {
    const r = await run([
      () => stream(['retry: 2000\n\n', `id: 5-0\n${updated('a', 2)}`, `id: 6-0\n${updated('a', 3)}`]),
      () => stream([`id: 7-0\n${updated('a', 4)}`, 'id: 8-0\nevent: task.updated\ndata: {"id":"a",']),
      () => stream([': heartbeat\n\n']),
    ]);
    expect(r.calls.map((c) => c.lastEventId)).toEqual([undefined, '6-0', '7-0', '7-0']);
    expect(r.calls.every((c) => c.auth === 'Bearer at-1')).toBe(true);
    expect(r.events.map((e) => (e.type === 'task.updated' ? e.version : e.type))).toEqual([2, 3, 4]);
    expect(r.states.slice(0, 3)).toEqual(['connecting', 'live', 'reconnecting']);
    // Each stream that opened resets the backoff: the delay stays around the server's retry.
    expect(r.sleeps.slice(0, 3)).toEqual([1500, 1500, 1500]);
  });

  it('refreshes the token once on 401 and reopens at once with the new token', async () => {
    const r = await run([() => status(401), () => stream([updated('a', 2)])]);
    expect(r.calls.map((c) => c.auth)).toEqual(['Bearer at-1', 'Bearer at-refreshed-1', 'Bearer at-refreshed-1']);
    expect(r.sleeps[0]).toBe(1500);
    expect(r.events).toHaveLength(1);
  });

  it('refreshes first when there is no access token (after a reload)', async () => {
    const r = await run([() => stream([])], { token: null });
    expect(r.calls[0].auth).toBe('Bearer at-refreshed-1');
  });

  it('stops for good when the session is over (the refresh is refused)', async () => {
    const r = await run([() => status(401), () => stream([updated('a', 2)])], { refresh: async () => null });
    expect(r.calls).toHaveLength(1);
    expect(r.events).toEqual([]);
  });

  it('waits for Retry-After on 429 and 503, and backs off with growing, capped delays otherwise', async () => {
    const r = await run([
      () => status(429, { 'Retry-After': '3' }),
      () => status(503, { 'Retry-After': '7' }),
      () => status(500),
      () => status(502),
      () => Promise.reject(new TypeError('network')),
      () => status(404),
      () => status(500),
      () => status(500),
    ]);
    expect(r.sleeps.slice(0, 2)).toEqual([3000, 7000]);
    const backoff = r.sleeps.slice(2, 8);
    for (let i = 1; i < backoff.length; i++) expect(backoff[i]).toBeGreaterThanOrEqual(backoff[i - 1]);
    expect(Math.max(...r.sleeps)).toBeLessThanOrEqual(MAX_BACKOFF_MS);
    expect(r.states.includes('live')).toBe(false);
  });
});

describe('helpers', () => {
  it('backoff doubles from the base, is capped, and is jittered within its upper half', () => {
    expect(backoffDelay(0, 2000, () => 0)).toBe(1000);
    expect(backoffDelay(0, 2000, () => 1)).toBe(2000);
    expect(backoffDelay(3, 2000, () => 1)).toBe(16000);
    expect(backoffDelay(10, 2000, () => 1)).toBe(MAX_BACKOFF_MS);
    expect(backoffDelay(50, 2000, () => 0)).toBe(MAX_BACKOFF_MS / 2);
  });

  it('reads Retry-After as seconds or a date, bounded', () => {
    expect(retryAfterMs('5')).toBe(5000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(retryAfterMs('999999')).toBe(5 * 60_000);
    expect(retryAfterMs('soon')).toBeNull();
    expect(retryAfterMs(null)).toBeNull();
  });

  it('decodes the events of the contract and drops malformed ones', () => {
    const task = { id: 'a', version: 3, title: 'T' };
    expect(decodeEvent({ event: 'task.created', data: JSON.stringify({ id: 'a', version: 3, task }), id: '1' })).toEqual({
      type: 'task.created',
      id: 'a',
      version: 3,
      task,
    });
    expect(decodeEvent({ event: 'task.updated', data: '{"id":"a","version":2,"task":{"id":"b"}}', id: null })).toMatchObject({ task: null });
    expect(decodeEvent({ event: 'task.deleted', data: '{"id":"a","version":4}', id: null })).toEqual({ type: 'task.deleted', id: 'a', version: 4 });
    expect(decodeEvent({ event: 'resync', data: '{"reason":"gap"}', id: null })).toEqual({ type: 'resync', reason: 'gap' });
    expect(decodeEvent({ event: 'task.updated', data: '{"id":"a"}', id: null })).toBeNull();
    expect(decodeEvent({ event: 'task.updated', data: 'not json', id: null })).toBeNull();
    expect(decodeEvent({ event: 'something.else', data: '{"id":"a","version":1}', id: null })).toBeNull();
  });
});
