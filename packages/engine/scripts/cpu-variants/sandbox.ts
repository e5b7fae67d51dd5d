/**
 * A private copy of node-llama-cpp whose prebuilt CPU binaries hold only one `libggml-cpu-<variant>.so`,
 * so llama.cpp loads that variant instead of the best one for this CPU. Lets the calibration measure how
 * far two CPU builds of the same llama.cpp release disagree, on one machine. Linux x64 only; the copy
 * lives in a temporary directory (the shared node_modules is never touched).
 */
import { cp, mkdir, readdir, realpath, rm, symlink } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'

const require = createRequire(import.meta.url)

/** Directory of the installed node-llama-cpp package (its real path inside the pnpm store). */
async function nodeLlamaCppDir(): Promise<string> {
  const entry = await realpath(require.resolve('node-llama-cpp'))
  let dir = dirname(entry)
  while (!(await readdir(dir)).includes('package.json')) dir = dirname(dir)
  return dir
}

/** The CPU variants the installed Linux x64 prebuilt ships, e.g. `haswell`, `x64`. */
export async function availableCpuVariants(): Promise<string[]> {
  if (process.platform !== 'linux' || process.arch !== 'x64') return []
  const bins = join(dirname(await nodeLlamaCppDir()), '@node-llama-cpp', 'linux-x64', 'bins', 'linux-x64')
  const files = await readdir(bins).catch(() => [] as string[])
  return files.flatMap((f) => /^libggml-cpu-([\w-]+)\.so$/.exec(f)?.[1] ?? [])
}

/**
 * Builds the sandbox for `variant` under `dir` and returns the file URL of its node-llama-cpp entry
 * module (what `redirect-hooks.mjs` maps the `node-llama-cpp` specifier to).
 */
export async function prepareCpuVariantSandbox(variant: string, dir: string): Promise<string> {
  const source = await nodeLlamaCppDir()
  const store = dirname(source)
  const modules = join(dir, `node-llama-cpp-${variant}`, 'node_modules')
  await rm(modules, { recursive: true, force: true })
  await mkdir(join(modules, 'node-llama-cpp'), { recursive: true })
  await mkdir(join(modules, '@node-llama-cpp'), { recursive: true })

  // node-llama-cpp itself: dist and package.json copied (so imports resolve next to the copy), the rest linked.
  for (const entry of await readdir(source)) {
    const from = join(source, entry)
    const to = join(modules, 'node-llama-cpp', entry)
    if (entry === 'dist' || entry === 'package.json') await cp(from, to, { recursive: true })
    else await symlink(from, to)
  }
  // Its dependencies, linked from the pnpm store.
  for (const entry of await readdir(store)) {
    if (entry === 'node-llama-cpp' || entry === '@node-llama-cpp') continue
    await symlink(await realpath(join(store, entry)), join(modules, entry))
  }
  // The Linux x64 prebuilt, copied without the other CPU variants.
  const prebuilt = await realpath(join(store, '@node-llama-cpp', 'linux-x64'))
  const target = join(modules, '@node-llama-cpp', 'linux-x64')
  await cp(prebuilt, target, {
    recursive: true,
    filter: (path) => {
      const match = /libggml-cpu-([\w-]+)\.so$/.exec(path)
      return !match || match[1] === variant
    },
  })
  return pathToFileURL(join(modules, 'node-llama-cpp', 'dist', 'index.js')).href
}
