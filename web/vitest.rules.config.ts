import { defineConfig } from 'vitest/config';

// The production live path against Google's Firestore emulator with firestore.rules.
export default defineConfig({
  test: {
    include: ['e2e/**/*.rules.test.ts'],
    environment: 'node',
    testTimeout: 150_000, // the listener's retries give up at 120 s (e2e/firestore.rules.test.ts)
    hookTimeout: 150_000,
    reporters: ['default', './tests/plainReporter.ts'],
  },
});
