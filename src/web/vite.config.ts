// The dashboard's build: src/web -> dist/web, served by Glimpse at /dashboard/.
import { fileURLToPath } from 'node:url';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/dashboard/',
  plugins: [preact()],
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../../dist/web', import.meta.url)),
    emptyOutDir: true,
    // Served with a strict Content-Security-Policy: no inline module preload polyfill.
    modulePreload: { polyfill: false },
  },
});
