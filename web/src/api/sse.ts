// A small Server-Sent Events parser for streams read with fetch (EventSource cannot send the
// Authorization header). It follows the event-stream format of the HTML standard: lines end with
// CRLF, LF or CR; `field: value` lines (one optional space after the colon); lines starting with
// `:` are comments (the server's heartbeats); an event is dispatched at a blank line when it has
// data. Chunks may split a line, a CRLF pair, or a multi-byte character (decode with a streaming
// TextDecoder before pushing). docs/web-ui.md#live-updates describes how the UI uses it.

export interface SseEvent {
  /** The `event:` field, `message` when absent. */
  event: string;
  /** The `data:` lines joined with `\n`. */
  data: string;
  /** The last `id:` seen on the stream so far (ids persist across events, as in EventSource). */
  id: string | null;
}

/** The longest line kept while waiting for its end; a longer one is dropped, so memory stays bounded. */
export const MAX_LINE = 1 << 20;

export class SseParser {
  private buffer = '';
  private skipLeadingLf = false;
  private dropping = false;
  private eventType = '';
  private data: string[] = [];
  private hasData = false;
  private idBuffer: string | null = null;
  /**
   * The id sent with `Last-Event-ID` on a reconnection: taken over from the `id:` field only when
   * its event is complete, so an event cut off by a dropped connection is asked for again.
   */
  lastEventId: string | null = null;
  /** The reconnection delay the server asked for with `retry:`, in milliseconds. */
  retry: number | null = null;

  /** `lastEventId`: the id the previous connection ended with, kept until a new one arrives. */
  constructor(lastEventId: string | null = null) {
    this.lastEventId = lastEventId;
    this.idBuffer = lastEventId;
  }

  /** Feeds decoded text; returns the events completed by it, in order. */
  push(chunk: string): SseEvent[] {
    const out: SseEvent[] = [];
    let text = chunk;
    if (this.skipLeadingLf && text.startsWith('\n')) text = text.slice(1);
    this.skipLeadingLf = false;
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      const line = this.buffer + text.slice(start, i);
      this.buffer = '';
      if (this.dropping) this.dropping = false;
      else this.line(line, out);
      if (c === 13) {
        if (i + 1 < text.length) {
          if (text.charCodeAt(i + 1) === 10) i++;
        } else {
          this.skipLeadingLf = true;
        }
      }
      start = i + 1;
    }
    if (!this.dropping) {
      this.buffer += text.slice(start);
      if (this.buffer.length > MAX_LINE) {
        this.buffer = '';
        this.dropping = true;
      }
    }
    return out;
  }

  private line(line: string, out: SseEvent[]): void {
    if (line === '') {
      this.lastEventId = this.idBuffer;
      if (this.hasData) out.push({ event: this.eventType || 'message', data: this.data.join('\n'), id: this.lastEventId });
      this.eventType = '';
      this.data = [];
      this.hasData = false;
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.eventType = value;
        break;
      case 'data':
        this.data.push(value);
        this.hasData = true;
        break;
      case 'id':
        if (!value.includes('\0')) this.idBuffer = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
      default:
        // Unknown fields are ignored, as the format requires.
        break;
    }
  }
}
