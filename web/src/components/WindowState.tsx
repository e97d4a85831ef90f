import { useEffect, useState } from 'react';
import type { Thread } from '../api';
import { duration } from '../format';

/** The 24-hour customer service window: open with time left, or closed (templates only). */
export function WindowState({ thread }: { thread: Thread }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 30_000);
    return () => clearInterval(timer);
  }, []);
  const end = thread.customer_service_window_expires_at ? new Date(thread.customer_service_window_expires_at).getTime() : 0;
  const open = end > now;
  return (
    <div className={`window-state ${open ? 'window-open' : 'window-closed'}`} role="status">
      {open
        ? <>Customer service window open · <strong>{duration(end - now)} left</strong></>
        : <>Customer service window closed · only templates can be sent until the customer writes again</>}
    </div>
  );
}
