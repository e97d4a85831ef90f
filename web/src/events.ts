// Live updates: reads `GET /v1/stream` (Server-Sent Events) with fetch, so every event type reaches
// the app (EventSource only delivers the names one subscribes to), and reconnects with
// `Last-Event-ID` after a drop. Events are invalidation signals: listeners refetch what changed.

export interface HubEvent {
  id: string | undefined;
  type: string;
  data: { event_type?: string; aggregate_type?: string; aggregate_id?: string; payload?: Record<string, unknown> } & Record<string, unknown>;
}

export type ConnectionState = 'connecting' | 'live' | 'offline';

export function connectEvents(onEvent: (event: HubEvent) => void, onState: (state: ConnectionState) => void): () => void {
  let lastEventId: string | undefined;
  let stopped = false;
  let controller: AbortController | undefined;
  let retryMs = 1000;

  const dispatch = (block: string) => {
    let id: string | undefined;
    let type = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (!line || line.startsWith(':')) continue;
      const index = line.indexOf(':');
      const field = index < 0 ? line : line.slice(0, index);
      const value = index < 0 ? '' : line.slice(index + 1).replace(/^ /, '');
      if (field === 'id') id = value;
      else if (field === 'event') type = value;
      else if (field === 'data') data.push(value);
    }
    if (id) lastEventId = id;
    if (data.length === 0) return;
    try {
      onEvent({ id, type, data: JSON.parse(data.join('\n')) as HubEvent['data'] });
    } catch {
      onEvent({ id, type, data: {} });
    }
  };

  const run = async () => {
    while (!stopped) {
      onState('connecting');
      controller = new AbortController();
      try {
        const headers: Record<string, string> = { accept: 'text/event-stream' };
        if (lastEventId) headers['last-event-id'] = lastEventId;
        const response = await fetch('/v1/stream', { headers, credentials: 'same-origin', signal: controller.signal });
        if (response.status === 401) return onState('offline');
        if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
        onState('live');
        retryMs = 1000;
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value.replace(/\r\n?/g, '\n');
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            dispatch(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
          }
        }
      } catch {
        if (stopped) return;
      }
      if (stopped) return;
      onState('offline');
      // Missed events are replayed from lastEventId; a refetch covers the time before the first one.
      onEvent({ id: undefined, type: 'stream.reconnected', data: {} });
      await new Promise((resolve) => setTimeout(resolve, retryMs));
      retryMs = Math.min(retryMs * 2, 15_000);
    }
  };
  void run();
  return () => {
    stopped = true;
    controller?.abort();
  };
}
