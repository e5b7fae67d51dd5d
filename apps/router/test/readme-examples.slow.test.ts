import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runToEnd } from './support/run-to-end.js'

const ROOT = resolve(import.meta.dirname, '../../..')
// The router app depends on every library, so an example written here resolves `@infraxa/*` (built) and
// viem as a user's project would. `.scratch/` is ignored by git.
const SCRATCH = resolve(import.meta.dirname, '../.scratch/readme-examples')
const TSX = resolve(ROOT, 'node_modules/.bin/tsx')

/** The first ```ts block of a README: each library's runnable example. */
function firstExample(readme: string): string {
  const match = /^```ts\n([\s\S]*?)^```/m.exec(readFileSync(readme, 'utf8'))
  if (!match) throw new Error(`${readme} has no \`\`\`ts block`)
  return match[1]!
}

// Every library README promises an example that runs as written (the zk one had drifted: it used
// names it never defined). The apps' READMEs show fragments of a running network instead.
describe('README examples run as written', () => {
  mkdirSync(SCRATCH, { recursive: true })
  afterAll(() => rmSync(SCRATCH, { recursive: true, force: true }))

  for (const pkg of ['protocol', 'proofs', 'engine', 'p2p', 'chain', 'zk']) {
    it(`packages/${pkg}/README.md`, async () => {
      const file = join(SCRATCH, `${pkg}.mts`)
      writeFileSync(file, firstExample(resolve(ROOT, `packages/${pkg}/README.md`)))
      const { code, out, err } = await runToEnd(TSX, [file], { cwd: SCRATCH, timeoutMs: 120_000 })
      const output = out + err
      expect(code, output).toBe(0)
      expect(output).not.toMatch(/Error|undefined is not/)
    }, 150_000)
  }
})
