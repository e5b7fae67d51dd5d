/**
 * `pnpm licence-check` (run by CI): every workspace package whose licence is MIT must not pull a GPL
 * (or AGPL) package into its production dependencies, directly or through any depth — workspace packages
 * included, so an MIT package that depends on `@infraxa/zk` (GPL-3.0-or-later) fails. Dependencies are
 * read as pnpm installed them (each package's `dependencies` and `optionalDependencies`, resolved from
 * its real directory the way Node resolves them); devDependencies are not shipped and not checked.
 * LGPL is not GPL here: it allows linking from MIT code.
 */
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'

const root = resolve(import.meta.dirname, '..')

interface Manifest {
  name: string
  version?: string
  license?: string | { type?: string }
  licenses?: Array<{ type?: string }>
  private?: boolean
  dependencies?: Record<string, string>
  optionalDependencies?: Record<string, string>
}

const read = (dir: string): Manifest =>
  JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest

function licenceOf(m: Manifest): string {
  if (typeof m.license === 'string') return m.license
  if (m.license?.type) return m.license.type
  if (m.licenses?.length) return m.licenses.map((l) => l.type ?? '?').join(' OR ')
  return 'UNKNOWN'
}

/** GPL or AGPL of any version, not LGPL. */
const isGpl = (licence: string) => /(^|[^L])A?GPL/i.test(licence)

/** Where Node finds `name` from the real directory `from` (each ancestor's node_modules). */
function resolveDependency(from: string, name: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    if (basename(dir) !== 'node_modules') {
      const candidate = join(dir, 'node_modules', name)
      if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate)
    }
    if (dirname(dir) === dir) return undefined
  }
}

const workspaces = ['packages', 'apps'].flatMap((group) =>
  readdirSync(join(root, group))
    .map((name) => join(root, group, name))
    .filter((dir) => existsSync(join(dir, 'package.json'))),
)

let failed = false
for (const dir of workspaces) {
  const manifest = read(dir)
  const licence = licenceOf(manifest)
  if (licence !== 'MIT') {
    console.log(`licence-check: ${manifest.name} is ${licence}: not checked`)
    continue
  }
  // Breadth-first over production dependencies, remembering how each was reached.
  const seen = new Map<string, string[]>()
  const queue: Array<{ dir: string; path: string[] }> = [{ dir: realpathSync(dir), path: [manifest.name] }]
  const problems: string[] = []
  const missing: string[] = []
  while (queue.length > 0) {
    const { dir: at, path } = queue.shift()!
    const m = read(at)
    for (const name of Object.keys({ ...m.dependencies, ...m.optionalDependencies })) {
      const found = resolveDependency(at, name)
      if (found === undefined) {
        // An optional dependency for another platform is not installed, and not shipped here either.
        if (m.optionalDependencies?.[name] === undefined) missing.push([...path, name].join(' → '))
        continue
      }
      if (seen.has(found)) continue
      const dep = read(found)
      const chain = [...path, `${dep.name}@${dep.version ?? '?'}`]
      seen.set(found, chain)
      const depLicence = licenceOf(dep)
      if (isGpl(depLicence)) problems.push(`${chain.join(' → ')} (${depLicence})`)
      queue.push({ dir: found, path: chain })
    }
  }
  if (problems.length > 0 || missing.length > 0) {
    failed = true
    for (const p of problems) console.error(`licence-check: ${manifest.name} (MIT) pulls a GPL package: ${p}`)
    for (const p of missing) console.error(`licence-check: ${manifest.name}: dependency not installed: ${p}`)
  } else {
    console.log(`licence-check: ${manifest.name} (MIT): ${seen.size} production dependencies, none GPL`)
  }
}
if (failed) {
  console.error(
    'licence-check: failed. A package that needs GPL code must be GPL itself (see README, Licences).',
  )
  process.exit(1)
}
