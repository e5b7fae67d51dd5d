import { existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { loadModel, perturbModelWeights, writeTestModel } from '@infraxa/engine'

/**
 * The real tiny model the app tests run: `INFRAXA_TEST_MODEL`, else `../shared/models/stories260K.gguf`
 * beside the repository. Missing, it fails loudly (never a silent skip in CI).
 */
export function storiesPath(): string {
  const path =
    process.env.INFRAXA_TEST_MODEL ??
    resolve(import.meta.dirname, '../../../../../shared/models/stories260K.gguf')
  if (!existsSync(path)) {
    throw new Error(
      `stories260K.gguf not found at ${path}. Put it there (hf:ggml-org/models/tinyllamas/stories260K.gguf, ` +
        'MIT, sha256 270cba1b…3bd256d) or set INFRAXA_TEST_MODEL to its path.',
    )
  }
  return path
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `infraxa-${prefix}-`))
}

/** A generated llama model with stories260K's vocabulary size (512), different weights per seed. */
export async function generatedModel(dir: string, seed: number): Promise<string> {
  const path = join(dir, `generated-${seed}.gguf`)
  await writeTestModel({ path, seed, vocab: 512, dim: 64, layers: 2, ff: 128, type: 'q8_0' })
  return path
}

/**
 * stories260K with noise of `noise` × each weight matrix's std added: same tokenizer and architecture, so
 * it passes every check that does not re-execute the model (a test double of a cheaper look-alike).
 */
export async function noisyStories(dir: string, noise: number, seed = 1): Promise<string> {
  const path = join(dir, `stories-noise-${noise}-${seed}.gguf`)
  await perturbModelWeights({ from: storiesPath(), to: path, noise, seed })
  return path
}

/** What a provider advertises about a model file (for cheaters that copy another model's record). */
export async function summaryOf(path: string) {
  const model = await loadModel({ path, threads: 1 })
  try {
    const { architecture, quantization, parameterCount } = model.summary
    return { architecture, quantization, parameterCount, vocabSize: model.vocabSize }
  } finally {
    await model.dispose()
  }
}

export async function chat(
  url: string,
  body: Record<string, unknown>,
): Promise<{ status: number; json: any }> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  return { status: res.status, json: await res.json() }
}

/** Wilson score interval (95%) of k successes in n trials, in percent. */
export function wilson(k: number, n: number): string {
  if (n === 0) return '—'
  const z = 1.96
  const p = k / n
  const centre = (p + (z * z) / (2 * n)) / (1 + (z * z) / n)
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / (1 + (z * z) / n)
  return `${(100 * Math.max(0, centre - half)).toFixed(1)}–${(100 * Math.min(1, centre + half)).toFixed(1)}`
}
