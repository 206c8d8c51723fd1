import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Unit tests: `vscode` is the stub in test/vscode.ts. The wire test has its own config.
export default defineConfig({
    resolve: {
        alias: { vscode: fileURLToPath(new URL('./test/vscode.ts', import.meta.url)) },
    },
    test: {
        include: ['test/**/*.test.ts'],
        exclude: ['test/wire.test.ts', 'node_modules/**'],
        environment: 'node',
        restoreMocks: true,
    },
});
