import { useEffect, useState } from 'react';
import type { Thread } from '../api';
import { duration } from '../format';

/**
 * The 24-hour customer service window: open with time left, or closed (templates only). The time
 * left changes every half minute, so the banner is not a live region; a hidden status announces
 * only the window opening or closing.
 */
export function WindowState({ thread }: { thread: Thread }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 30_000);
    return () => clearInterval(timer);
  }, []);
  const end = thread.customer_service_window_expires_at ? new Date(thread.customer_service_window_expires_at).getTime() : 0;
  const open = end > now;
  return (
    <>
      <p className="visually-hidden" role="status">{open ? 'Customer service window open' : 'Customer service window closed'}</p>
      <div className={`window-state ${open ? 'window-open' : 'window-closed'}`}>
        {open
          ? <>Customer service window open · <strong>{duration(end - now)} left</strong></>
          : <>Customer service window closed · only templates can be sent until the customer writes again</>}
      </div>
    </>
  );
}
