import { readFileSync } from 'node:fs'
import { GgmlType, getModuleVersion, type Llama, type LlamaContext } from 'node-llama-cpp'

/**
 * The engine settings that affect numerics, as they go into responses and capabilities (the fields of
 * the protobuf `EngineInfo` message of `@infraxa/protocol`). A verifier compares them before choosing
 * tolerances: log-probs are reproducible bit for bit only for the same `engineVersion`, `backend`, `build`
 * and settings.
 */
export interface EngineInfo {
  /** Always `node-llama-cpp`. */
  engine: string
  /** node-llama-cpp version and the llama.cpp release it bundles, e.g. `3.21.1+llama.cpp.v0.4.0`. */
  engineVersion: string
  /** `cpu`, `cuda`, `vulkan` or `metal`. */
  backend: string
  /** CPU build variant llama.cpp picked for this CPU (e.g. `cpu-sapphirerapids`) or the GPU name. */
  build: string
  /** Tokens per llama.cpp batch (and micro-batch): the replay chunk size. */
  batchSize: number
  flashAttention: boolean
  /** KV cache element type, e.g. `f16` (`k:<type>,v:<type>` when they differ). */
  kvCacheType: string
  /** Context window in tokens, as llama.cpp allocated it. */
  contextSize: number
  /** Exact number of CPU threads used for evaluation. */
  threads: number
  /** Sequences of the context decoded at once (batched decoding); 1: one job at a time. */
  parallel: number
}

let nodeLlamaCppVersion: string | undefined

/**
 * The CPU backend variant llama.cpp loaded (`libggml-cpu-<variant>.so`), read from the process's memory
 * map on Linux; elsewhere a summary of the CPU features llama.cpp reports.
 */
function cpuBuild(llama: Llama): string {
  try {
    const maps = readFileSync('/proc/self/maps', 'utf8')
    const variant = /libggml-cpu-([\w-]+)\.(so|dylib|dll)/.exec(maps)?.[1]
    if (variant) return `cpu-${variant}`
  } catch {
    // not Linux: fall through to the feature list
  }
  const features = [...llama.systemInfo.matchAll(/(\w+) = 1/g)].map((m) => m[1]).join(',')
  return `cpu(${features})`
}

async function gpuBuild(llama: Llama): Promise<string> {
  const names = await llama.getGpuDeviceNames().catch(() => [] as string[])
  return names.length > 0 ? names.join('+') : String(llama.gpu)
}

function ggmlTypeName(type: GgmlType): string {
  return (GgmlType[type] ?? `type${type}`).toLowerCase()
}

/** Reads the numerics-relevant settings of a live context. */
export async function describeEngine(
  llama: Llama,
  context: LlamaContext,
  settings: { flashAttention: boolean; threads: number },
): Promise<EngineInfo> {
  nodeLlamaCppVersion ??= await getModuleVersion()
  const keyType = ggmlTypeName(context.kvCacheKeyType)
  const valueType = ggmlTypeName(context.kvCacheValueType)
  return {
    engine: 'node-llama-cpp',
    engineVersion: `${nodeLlamaCppVersion}+llama.cpp.${llama.llamaCppRelease.release}`,
    backend: llama.gpu === false ? 'cpu' : llama.gpu,
    build: llama.gpu === false ? cpuBuild(llama) : await gpuBuild(llama),
    batchSize: context.batchSize,
    flashAttention: settings.flashAttention,
    kvCacheType: keyType === valueType ? keyType : `k:${keyType},v:${valueType}`,
    contextSize: context.contextSize,
    threads: settings.threads,
    parallel: context.totalSequences,
  }
}
