/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The UI is served by the Taskify binary under `Content-Security-Policy: default-src 'self'`:
// no inline scripts, so module preload polyfills (which Vite injects inline) are turned off.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    modulePreload: { polyfill: false },
    cssCodeSplit: false,
    sourcemap: false,
    target: 'es2022',
  },
  server: { proxy: { '/api': 'http://127.0.0.1:8080' } },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
