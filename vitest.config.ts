import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const root = fileURLToPath(new URL('.', import.meta.url))

// Tests run against the TypeScript sources of sibling packages (no build step):
// `@infraxa/<pkg>` and `@infraxa/<pkg>/<subpath>` resolve to `packages/<pkg>/src`.
const alias = [
  {
    find: /^@infraxa\/(provider|router|cli)$/,
    replacement: resolve(root, 'apps/$1/src/index.ts'),
  },
  {
    find: /^@infraxa\/([a-z0-9-]+)$/,
    replacement: resolve(root, 'packages/$1/src/index.ts'),
  },
  {
    find: /^@infraxa\/([a-z0-9-]+)\/([a-z0-9-]+)$/,
    replacement: resolve(root, 'packages/$1/src/$2/index.ts'),
  },
]

export default defineConfig({
  resolve: { alias },
  test: {
    reporters: ['default', resolve(root, 'scripts/summary-reporter.ts')],
    projects: [
      {
        resolve: { alias },
        test: {
          name: 'unit',
          include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'circuits/test/**/*.test.ts'],
          exclude: ['**/*.slow.test.ts', '**/node_modules/**'],
          testTimeout: 30_000,
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'slow',
          include: [
            'packages/*/test/**/*.slow.test.ts',
            'apps/*/test/**/*.slow.test.ts',
            'circuits/test/**/*.slow.test.ts',
          ],
          exclude: ['**/node_modules/**'],
          pool: 'forks',
          maxWorkers: 1,
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
})
