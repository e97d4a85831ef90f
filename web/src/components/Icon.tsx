// Small line icons (inline SVG: no icon font, no emoji font needed).
const PATHS: Record<string, string> = {
  image: 'M4 5h16v14H4z M4 16l5-5 4 4 3-3 4 4 M15.5 9.5a1.5 1.5 0 1 0 0-.01',
  video: 'M3 6h12v12H3z M15 10l6-3v10l-6-3',
  audio: 'M12 3a3 3 0 0 1 3 3v6a3 3 0 0 1-6 0V6a3 3 0 0 1 3-3z M5 11a7 7 0 0 0 14 0 M12 18v3',
  document: 'M6 3h8l4 4v14H6z M14 3v4h4 M9 12h6 M9 16h6',
  sticker: 'M4 4h16v10l-6 6H4z M14 20v-6h6',
  location: 'M12 21s-7-6.5-7-12a7 7 0 0 1 14 0c0 5.5-7 12-7 12z M12 11.5a2.5 2.5 0 1 0 0-5 2.5 2.5 0 0 0 0 5z',
  contact: 'M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8z M4 21a8 8 0 0 1 16 0',
  order: 'M3 4h2l2.5 11h11L21 7H6.5 M9 20a1 1 0 1 0 0-.01 M18 20a1 1 0 1 0 0-.01',
};

export function Icon({ name, size = 22 }: { name: string; size?: number }) {
  const d = PATHS[name] ?? PATHS.document!;
  return (
    <svg className="icon" viewBox="0 0 24 24" width={size} height={size} aria-hidden="true" fill="none" stroke="currentColor" strokeWidth="1.7" strokeLinecap="round" strokeLinejoin="round">
      <path d={d} />
    </svg>
  );
}
