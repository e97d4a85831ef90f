// Where focus goes when the view changes under it, so it never falls back to the page body.

let composerWanted: string | null = null;

/** The next time thread `id` opens, focus its message box (opened from the keyboard, or at phone width). */
export function focusComposerOnOpen(id: string): void {
  composerWanted = id;
}

/** True once for a thread whose opening asked for the message box. */
export function takeComposerFocus(id: string): boolean {
  const wanted = composerWanted === id;
  if (wanted) composerWanted = null;
  return wanted;
}

/** Focus went nowhere (the focused element was removed or hidden). */
export const focusLost = () => document.activeElement === null || document.activeElement === document.body;
