import { defineConfig } from 'vitest/config';

// Unit tests: pure modules and server-rendered components, in node (no DOM emulation needed).
export default defineConfig({
  test: {
    include: ['tests/**/*.test.{ts,tsx}'],
    environment: 'node',
    reporters: ['default', './tests/plainReporter.ts'],
  },
});
