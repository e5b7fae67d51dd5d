import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/**
 * Path of the real tiny model used by tests, benchmarks and calibration: `INFRAXA_TEST_MODEL`, or
 * `stories260K.gguf` in the `shared/models` folder next to the repository (`../shared/models` from the
 * repository root). Throws (never skips) when the file is missing, saying where to get it.
 */
export function testModelPath(): string {
  const path =
    process.env.INFRAXA_TEST_MODEL ||
    fileURLToPath(new URL('../../../../../shared/models/stories260K.gguf', import.meta.url))
  if (!existsSync(path)) {
    throw new Error(
      `Test model not found at ${path}.\n` +
        'Download stories260K.gguf (1.2 MB, TinyStories llama) from ' +
        'https://huggingface.co/ggml-org/models/blob/main/tinyllamas/stories260K.gguf ' +
        'into ../shared/models/ relative to the repository root, or set INFRAXA_TEST_MODEL to its path.',
    )
  }
  return path
}
