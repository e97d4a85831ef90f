/**
 * A small Server-Sent Events client for tests: reads `GET /v1/stream` over real HTTP and yields
 * parsed frames (`id`, `event`, `data`).
 */
export interface SseFrame {
  id: string | undefined;
  event: string;
  data: any;
}

export interface SseStream {
  status: number;
  /** Resolves with the next frame matching `predicate` (frames before it are consumed). */
  next(predicate?: (frame: SseFrame) => boolean, timeoutMs?: number): Promise<SseFrame>;
  /** Frames received so far. */
  frames: SseFrame[];
  close(): void;
}

function parseFrame(block: string): SseFrame | undefined {
  let id: string | undefined;
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':') || line === '') continue;
    const index = line.indexOf(':');
    const field = index < 0 ? line : line.slice(0, index);
    const value = index < 0 ? '' : line.slice(index + 1).replace(/^ /, '');
    if (field === 'id') id = value;
    else if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0) return undefined;
  return { id, event, data: JSON.parse(data.join('\n')) };
}

export async function openStream(url: string, headers: Record<string, string>): Promise<SseStream> {
  const controller = new AbortController();
  const response = await fetch(url, { headers, signal: controller.signal });
  const frames: SseFrame[] = [];
  let consumed = 0;
  const waiters = new Set<() => void>();
  if (response.ok && response.body) {
    void (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const frame = parseFrame(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
            if (frame) frames.push(frame);
          }
          for (const wake of waiters) wake();
        }
      } catch {
        // aborted
      }
    })();
  }
  return {
    status: response.status,
    frames,
    async next(predicate = () => true, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        while (consumed < frames.length) {
          const frame = frames[consumed++]!;
          if (predicate(frame)) return frame;
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no matching SSE frame within ${timeoutMs} ms (got ${frames.length})`);
        await new Promise<void>((resolve) => {
          const wake = () => {
            waiters.delete(wake);
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(wake, left);
          waiters.add(wake);
        });
      }
    },
    close: () => controller.abort(),
  };
}
