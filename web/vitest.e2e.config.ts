import { defineConfig } from 'vitest/config';

// End to end: headless Chromium against the embedded stack (e2e/app.e2e.test.ts). Steps share one
// page, so tests run in order in one file.
export default defineConfig({
  test: {
    include: ['e2e/**/*.e2e.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 150_000,
    fileParallelism: false,
    reporters: ['default', './tests/plainReporter.ts'],
  },
});
