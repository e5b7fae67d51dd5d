import { resolveModelFile } from 'node-llama-cpp'
import { ModelDownloadError } from './errors.js'

/** Progress of a model load: first the download of an `hf:` model (if not cached), then llama.cpp's load. */
export type LoadProgress =
  | { phase: 'download'; downloadedBytes: number; totalBytes: number }
  | { phase: 'load'; fraction: number }

/** How an `hf:` URI is fetched. */
export interface DownloadOptions {
  /** Where downloaded models are cached; default `~/.cache/infraxa/models`. */
  directory?: string
  /** How long the reachability check of the download endpoint may take; default 5000 ms. */
  connectTimeoutMs?: number
  /** Abort when no bytes arrive for this long; default 60000 ms. */
  stallTimeoutMs?: number
  onProgress?: (progress: LoadProgress) => void
  signal?: AbortSignal
}

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000
const DEFAULT_STALL_TIMEOUT_MS = 60_000

/** Whether `source` is a remote model URI (`hf:`, `huggingface:` or a Hugging Face URL) rather than a path. */
export function isRemoteModelUri(source: string): boolean {
  return /^(hf:|huggingface:|https?:\/\/)/.test(source)
}

/** The Hugging Face endpoint node-llama-cpp downloads from (honours `HF_ENDPOINT`). */
function downloadEndpoint(uri: string): string {
  if (/^https?:\/\//.test(uri)) return new URL(uri).origin
  return process.env.HF_ENDPOINT || 'https://huggingface.co/'
}

async function checkReachable(uri: string, timeoutMs: number): Promise<void> {
  const endpoint = downloadEndpoint(uri)
  try {
    await fetch(endpoint, { method: 'HEAD', signal: AbortSignal.timeout(timeoutMs) })
  } catch (cause) {
    const reason =
      cause instanceof Error && cause.name === 'TimeoutError'
        ? `${endpoint} did not answer within ${timeoutMs} ms (offline?)`
        : `${endpoint} is unreachable (offline?)`
    throw new ModelDownloadError(uri, reason, { cause })
  }
}

/**
 * Resolves a model URI to a local GGUF path. A cached file is used without touching the network;
 * otherwise the endpoint is probed first (so offline fails in seconds with {@link ModelDownloadError}
 * instead of hanging in retries), then node-llama-cpp downloads the file, watched for stalls.
 */
export async function resolveRemoteModel(uri: string, options: DownloadOptions = {}): Promise<string> {
  const directory = options.directory ?? defaultModelDirectory()
  try {
    return await resolveModelFile(uri, { directory, download: false, cli: false })
  } catch {
    // not cached: download below
  }
  await checkReachable(uri, options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS)

  const stallMs = options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS
  const abort = new AbortController()
  const onCallerAbort = () => abort.abort(options.signal?.reason)
  options.signal?.addEventListener('abort', onCallerAbort, { once: true })
  let rejectStall: (error: Error) => void = () => {}
  const stalled = new Promise<never>((_, reject) => {
    rejectStall = reject
  })
  let watchdog: NodeJS.Timeout | undefined
  const arm = () => {
    clearTimeout(watchdog)
    watchdog = setTimeout(() => {
      const error = new ModelDownloadError(uri, `no data for ${stallMs} ms`)
      abort.abort(error)
      rejectStall(error)
    }, stallMs)
    watchdog.unref()
  }
  arm()
  try {
    return await Promise.race([
      resolveModelFile(uri, {
        directory,
        download: 'auto',
        cli: false,
        signal: abort.signal,
        onProgress: ({ downloadedSize, totalSize }) => {
          arm()
          options.onProgress?.({ phase: 'download', downloadedBytes: downloadedSize, totalBytes: totalSize })
        },
      }),
      stalled,
    ])
  } catch (cause) {
    if (cause instanceof ModelDownloadError) throw cause
    throw new ModelDownloadError(
      uri,
      cause instanceof Error ? cause.message.split('\n')[0]! : String(cause),
      {
        cause,
      },
    )
  } finally {
    clearTimeout(watchdog)
    options.signal?.removeEventListener('abort', onCallerAbort)
  }
}

function defaultModelDirectory(): string {
  const home = process.env.HOME ?? process.env.USERPROFILE ?? '.'
  return `${home}/.cache/infraxa/models`
}
