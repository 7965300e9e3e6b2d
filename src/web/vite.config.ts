// The UI's build: static files into dist/web, which the hub serves at /. No inline script (the
// hub's Content-Security-Policy forbids it), no source fetched from anywhere but this origin.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  base: '/',
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('../../dist/web', import.meta.url)),
    emptyOutDir: true,
    // Inlined assets would be data: URLs; keep every script a file of its own.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 2500,
  },
  worker: { format: 'es' },
  logLevel: 'warn',
});
