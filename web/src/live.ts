// Live-update plumbing shared by the pages: subscribe to hub events, coalesce bursts.
import { createContext, useContext, useEffect, useRef } from 'react';
import type { HubEvent } from './events';

export type EventListener = (event: HubEvent) => void;
export const EventsContext = createContext<(listener: EventListener) => () => void>(() => () => undefined);

/** Calls `listener` for every hub event while the component is mounted. */
export function useHubEvents(listener: EventListener): void {
  const subscribe = useContext(EventsContext);
  const latest = useRef(listener);
  latest.current = listener;
  useEffect(() => subscribe((event) => latest.current(event)), [subscribe]);
}

/** A function that runs `work` once after calls stop arriving for `ms` (bursts of events → one refetch). */
export function useCoalesced(work: () => void, ms = 80): () => void {
  const latest = useRef(work);
  latest.current = work;
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  return useRef(() => {
    clearTimeout(timer.current);
    timer.current = setTimeout(() => latest.current(), ms);
  }).current;
}
