import { type KeyboardEvent, useEffect, useId, useRef, useState } from 'react';

const FOCUSABLE = 'button:not([disabled]), select:not([disabled]), input:not([disabled]), textarea:not([disabled]), a[href]';

/**
 * The one popover pattern of the inbox (Actions, Quick replies): a disclosure button
 * (`aria-expanded`, `aria-controls`) and a panel of ordinary controls. Opening moves focus to the
 * panel's first control, or to the panel while it has none (`focusKey` changes when its content
 * arrives); Escape
 * closes and returns focus to the button; a click outside closes without moving focus.
 */
export function useDisclosure(focusKey?: unknown) {
  const [open, setOpen] = useState(false);
  const root = useRef<HTMLDivElement | null>(null);
  const trigger = useRef<HTMLButtonElement | null>(null);
  const panel = useRef<HTMLDivElement | null>(null);
  const panelId = useId();

  useEffect(() => {
    if (!open) return;
    const closeOutside = (event: MouseEvent) => { if (!root.current?.contains(event.target as Node)) setOpen(false); };
    document.addEventListener('mousedown', closeOutside);
    return () => document.removeEventListener('mousedown', closeOutside);
  }, [open]);
  useEffect(() => {
    const active = document.activeElement;
    if (!open || (active !== panel.current && panel.current?.contains(active))) return;
    (panel.current?.querySelector<HTMLElement>(FOCUSABLE) ?? panel.current)?.focus();
  }, [open, focusKey]);

  /** Closes; `restoreFocus` puts focus back on the button (keyboard closes). */
  const close = (restoreFocus = true) => {
    setOpen(false);
    if (restoreFocus) trigger.current?.focus();
  };
  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key !== 'Escape' || !open) return;
    event.stopPropagation();
    close();
  };
  return {
    open, close, root, panel, onKeyDown,
    triggerProps: { ref: trigger, 'aria-expanded': open, 'aria-controls': panelId, onClick: () => setOpen(!open) },
    panelProps: { ref: panel, id: panelId, tabIndex: -1 },
  };
}
