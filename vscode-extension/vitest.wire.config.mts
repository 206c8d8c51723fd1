import { defineConfig } from 'vitest/config';

// The LSP wire test: starts the real Python server (CODEQUEST_PYTHON, default python3).
export default defineConfig({
    test: {
        include: ['test/wire.test.ts'],
        environment: 'node',
        testTimeout: 180_000,
        hookTimeout: 60_000,
    },
});
