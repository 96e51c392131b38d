import { describe, expect, it } from 'vitest';
import { MAX_LINE, SseParser, type SseEvent } from './sse';

/** Feeds `text` in pieces of `size` characters and collects every event. */
function feed(parser: SseParser, text: string, size: number): SseEvent[] {
  const out: SseEvent[] = [];
  for (let i = 0; i < text.length; i += size) out.push(...parser.push(text.slice(i, i + size)));
  return out;
}

const STREAM =
  'retry: 2000\n\n' +
  ': heartbeat\n\n' +
  'id: 1-0\nevent: task.created\ndata: {"id":"a","version":1}\n\n' +
  'id: 2-0\r\nevent: task.updated\r\ndata: {"id":"a",\r\ndata: "version":2}\r\n\r\n' +
  'event: resync\rdata:{"reason":"gap"}\r\r';

describe('SseParser', () => {
  it('gives the same events whatever the chunk boundaries (CRLF pairs and lines split)', () => {
    const whole = new SseParser().push(STREAM);
    expect(whole).toEqual([
      { event: 'task.created', data: '{"id":"a","version":1}', id: '1-0' },
      { event: 'task.updated', data: '{"id":"a",\n"version":2}', id: '2-0' },
      { event: 'resync', data: '{"reason":"gap"}', id: '2-0' },
    ]);
    for (const size of [1, 2, 3, 5, 7, 13]) {
      const parser = new SseParser();
      expect(feed(parser, STREAM, size), `chunks of ${size}`).toEqual(whole);
      expect(parser.retry).toBe(2000);
      expect(parser.lastEventId).toBe('2-0');
    }
  });

  it('does not turn a CR at the end of a chunk and the LF that follows into an empty line', () => {
    const parser = new SseParser();
    expect(parser.push('data: x\r')).toEqual([]);
    // The LF completes the CRLF; only the next blank line ends the event.
    expect(parser.push('\ndata: y\r')).toEqual([]);
    expect(parser.push('\n\r\n')).toEqual([{ event: 'message', data: 'x\ny', id: null }]);
  });

  it('ignores comments, unknown fields, a bad retry and blank lines without data', () => {
    const parser = new SseParser();
    const events = parser.push(': hello\n\nfoo: bar\nretry: soon\n\nevent: task.deleted\n\ndata\n\n');
    // `event` alone dispatches nothing; `data` without a colon is an empty data line.
    expect(events).toEqual([{ event: 'message', data: '', id: null }]);
    expect(parser.retry).toBeNull();
  });

  it('keeps the last id across events and takes a new id over only when its event is complete', () => {
    const parser = new SseParser('7-0');
    expect(parser.push('data: a\n\n')).toEqual([{ event: 'message', data: 'a', id: '7-0' }]);
    parser.push('id: 8-0\ndata: cut off');
    // The connection drops here: the event with id 8-0 never completed, so 7-0 is resent.
    expect(parser.lastEventId).toBe('7-0');
    parser.push('\n\n');
    expect(parser.lastEventId).toBe('8-0');
    expect(parser.push('id\ndata: b\n\n')).toEqual([{ event: 'message', data: 'b', id: '' }]);
  });

  it('drops a line longer than MAX_LINE instead of buffering it forever', () => {
    const parser = new SseParser();
    parser.push(`data: ${'x'.repeat(MAX_LINE)}`);
    parser.push('y'.repeat(1000));
    expect(parser.push('\ndata: after\n\n')).toEqual([{ event: 'message', data: 'after', id: null }]);
  });
});
