import { defineConfig } from 'vitest/config';

// Lighthouse against the embedded stack (e2e/lighthouse.audit.ts): `npm run lighthouse`, after `npm run build`.
export default defineConfig({
  test: {
    include: ['e2e/lighthouse.audit.ts'],
    environment: 'node',
    testTimeout: 300_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    reporters: ['default', './tests/plainReporter.ts'],
  },
});
