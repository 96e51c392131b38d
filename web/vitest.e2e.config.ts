import { defineConfig } from 'vitest/config';

// End-to-end tests: one Chromium, one Taskify per run (started by scripts/test-web.sh), files in
// sequence so the shared server state stays predictable.
export default defineConfig({
  test: {
    include: ['e2e/**/*.e2e.ts'],
    environment: 'node',
    testTimeout: 90_000,
    hookTimeout: 90_000,
    fileParallelism: false,
    sequence: { concurrent: false },
  },
});
