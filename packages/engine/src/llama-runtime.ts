import { getLlama, type Llama, LlamaLogLevel } from 'node-llama-cpp'
import { LlamaUnavailableError } from './errors.js'

/** Which llama.cpp backend to use: `false` for CPU, or a GPU backend whose prebuilt binary is installed. */
export type GpuBackend = false | 'auto' | 'cuda' | 'vulkan' | 'metal'

interface Shared {
  llama: Promise<Llama>
  users: number
}

const runtimes = new Map<string, Shared>()

/**
 * Acquires the process-wide llama.cpp runtime for `gpu`, loading it on first use. Never downloads or
 * builds llama.cpp (`build: 'never'`, `skipDownload`), and sets `maxThreads: 0` so a context's `threads`
 * is the exact number of threads used (thread count can change numerics). Release with
 * {@link releaseLlama}; the runtime is disposed when its last user releases it.
 */
export async function acquireLlama(gpu: GpuBackend): Promise<Llama> {
  const key = String(gpu)
  let shared = runtimes.get(key)
  if (!shared) {
    const llama = getLlama({
      gpu,
      build: 'never',
      skipDownload: true,
      usePrebuiltBinaries: true,
      progressLogs: false,
      maxThreads: 0,
      logLevel: LlamaLogLevel.error,
      logger: () => {},
    }).catch((cause: unknown) => {
      runtimes.delete(key)
      throw new LlamaUnavailableError(key === 'false' ? 'cpu' : key, { cause })
    })
    shared = { llama, users: 0 }
    runtimes.set(key, shared)
  }
  shared.users++
  try {
    return await shared.llama
  } catch (error) {
    shared.users--
    throw error
  }
}

/** Releases a runtime acquired with {@link acquireLlama}. */
export async function releaseLlama(gpu: GpuBackend): Promise<void> {
  const key = String(gpu)
  const shared = runtimes.get(key)
  if (!shared) return
  shared.users--
  if (shared.users > 0) return
  runtimes.delete(key)
  const llama = await shared.llama
  await llama.dispose()
}
