import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'

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

function run(file: string): Promise<{ code: number | null; output: string }> {
  return new Promise((done) => {
    const child = spawn(TSX, [file], {
      cwd: SCRATCH,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_LLAMA_CPP_SKIP_DOWNLOAD: 'true' },
    })
    let output = ''
    child.stdout.on('data', (b) => (output += b))
    child.stderr.on('data', (b) => (output += b))
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
    child.on('exit', (code) => {
      clearTimeout(timer)
      done({ code, output })
    })
  })
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
      const { code, output } = await run(file)
      expect(code, output).toBe(0)
      expect(output).not.toMatch(/Error|undefined is not/)
    }, 150_000)
  }
})
