import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const appsDir = resolve(import.meta.dirname, '../..')
/** Every bin of every app, as its package.json declares it. */
const bins = readdirSync(appsDir).flatMap((app) => {
  const manifest = JSON.parse(readFileSync(join(appsDir, app, 'package.json'), 'utf8')) as {
    bin?: Record<string, string>
  }
  return Object.entries(manifest.bin ?? {}).map(([name, path]) => ({ name, path: join(appsDir, app, path) }))
})

/** Runs a bin on this Node, made to report another version before anything else loads. */
function runAs(version: string, bin: string, args: string[]) {
  const pretend = `data:text/javascript,Object.defineProperty(process.versions,'node',{value:'${version}'})`
  return spawnSync(process.execPath, ['--import', pretend, bin, ...args], {
    encoding: 'utf8',
    timeout: 20_000,
  })
}

describe('bins on a too-old Node', () => {
  it('finds the three bins', () => {
    expect(bins.map((b) => b.name).sort()).toEqual(['infraxa', 'infraxa-provider', 'infraxa-router'])
  })

  for (const version of ['18.19.1', '20.20.2']) {
    it.each(bins)(
      `$name on Node ${version} says in one line which Node it needs and exits 1`,
      ({ name, path }) => {
        const run = runAs(version, path, ['--help'])
        expect(run.status).toBe(1)
        expect(run.stdout).toBe('')
        const lines = run.stderr.trimEnd().split('\n')
        expect(lines).toHaveLength(1)
        expect(lines[0]).toContain(`${name}: needs Node >= 22`)
        expect(lines[0]).toContain(`this is Node ${version}`)
        expect(lines[0]).toContain(`pnpm exec ${name}`)
      },
    )
  }

  it.each(bins)('$name on this Node gets past the check', ({ name, path }) => {
    const run = runAs(process.versions.node, path, ['--help'])
    expect(run.stderr).not.toContain('needs Node')
    // Built: the help; not built yet (a fresh clone before `pnpm build`): one line saying so.
    if (run.status === 0) expect(run.stdout).toMatch(/Usage|usage/)
    else expect(run.stderr.trim()).toBe(`${name}: not built yet: run \`pnpm build\` in the repository first.`)
  })
})
