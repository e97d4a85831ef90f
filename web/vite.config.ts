// Vite build of the operator web inbox: `web/` → `web/dist`, served by the hub at `/`.
// `npm run dev:web` proxies the API to a hub on localhost:3000 for UI work.
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
  server: {
    proxy: Object.fromEntries(['/v1', '/simulator', '/metrics-json'].map((path) => [path, 'http://127.0.0.1:3000'])),
  },
});
