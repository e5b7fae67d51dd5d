import { stat } from 'node:fs/promises'
import { GgmlType, type GgufFileInfo, GgufFileType, readGgufFileInfo } from 'node-llama-cpp'
import { InvalidModelFileError, ModelNotFoundError } from './errors.js'
import { ggmlTensorByteLength } from './ggml-type-sizes.js'

/** What the GGUF metadata says about a model. */
export interface GgufSummary {
  /** `general.architecture`, e.g. `llama`. */
  architecture: string
  /** `general.name`, when present. */
  name: string | undefined
  /**
   * Weight type, e.g. `Q8_0`, `Q4_K_M`, `F32`: from `general.file_type`, else the type holding most
   * weights of the 2-D tensors.
   */
  quantization: string
  /** Total number of weights over all tensors. */
  parameterCount: number
  /** Number of tokens in the vocabulary. */
  vocabSize: number
  /** Context length the model was trained with (`<arch>.context_length`). */
  contextLength: number
  /** Embedding width (`<arch>.embedding_length`). */
  embeddingLength: number
  /** Number of transformer blocks (`<arch>.block_count`). */
  layerCount: number
  /** Whether `tokenizer.chat_template` is present. */
  hasChatTemplate: boolean
}

/** A GGUF file that passed inspection. */
export interface GgufInspection {
  path: string
  fileSize: number
  info: GgufFileInfo
  summary: GgufSummary
}

function quantization(info: GgufFileInfo, tensors: NonNullable<GgufFileInfo['tensorInfo']>): string {
  const fileType = info.metadata.general?.file_type
  if (fileType != null && GgufFileType[fileType] != null) {
    return GgufFileType[fileType].replace(/^(MOSTLY|ALL)_/, '')
  }
  const weightsByType = new Map<number, number>()
  for (const t of tensors) {
    if (t.dimensions.length < 2) continue
    const count = t.dimensions.reduce<number>((p, d) => p * Number(d), 1)
    weightsByType.set(t.ggmlType, (weightsByType.get(t.ggmlType) ?? 0) + count)
  }
  const dominant = [...weightsByType].sort((a, b) => b[1] - a[1])[0]
  return dominant ? (GgmlType[dominant[0]] ?? `type${dominant[0]}`) : 'unknown'
}

function summarize(info: GgufFileInfo): GgufSummary {
  const tensors = info.tensorInfo ?? []
  const arch = info.architectureMetadata
  const tokens = info.metadata.tokenizer?.ggml?.tokens
  const template = info.metadata.tokenizer?.chat_template
  return {
    architecture: String(info.metadata.general?.architecture ?? 'unknown'),
    name: info.metadata.general?.name,
    quantization: quantization(info, tensors),
    parameterCount: tensors.reduce(
      (sum, t) => sum + t.dimensions.reduce<number>((p, d) => p * Number(d), 1),
      0,
    ),
    vocabSize: Array.isArray(tokens) ? tokens.length : Number(arch.vocab_size ?? 0),
    contextLength: Number(arch.context_length ?? 0),
    embeddingLength: Number(arch.embedding_length ?? 0),
    layerCount: Number(arch.block_count ?? 0),
    hasChatTemplate: typeof template === 'string' && template.length > 0,
  }
}

/** Throws {@link InvalidModelFileError} when a tensor's data would end past the end of the file. */
function checkTensorBounds(path: string, info: GgufFileInfo, fileSize: number): void {
  const tensors = info.tensorInfo ?? []
  if (info.infoEndOffset == null) return
  const alignment = Number(info.metadata.general?.alignment ?? 32)
  const dataStart = Math.ceil(info.infoEndOffset / alignment) * alignment
  for (const tensor of tensors) {
    const size = ggmlTensorByteLength(tensor.ggmlType, tensor.dimensions)
    if (size == null) continue
    const end = dataStart + Number(tensor.offset) + size
    if (end > fileSize) {
      throw new InvalidModelFileError(
        path,
        `truncated: tensor ${tensor.name} ends at byte ${end} but the file has ${fileSize} bytes`,
      )
    }
  }
}

/**
 * Checks that `path` is a complete GGUF file and summarises its metadata, without loading weights.
 * Fails with {@link ModelNotFoundError} (no such file) or {@link InvalidModelFileError} (bad magic,
 * unreadable header, tensor data past the end of the file) — before llama.cpp ever sees the file.
 */
export async function inspectGgufFile(path: string): Promise<GgufInspection> {
  const stats = await stat(path).catch((cause: unknown) => {
    throw new ModelNotFoundError(path, { cause })
  })
  if (!stats.isFile()) throw new ModelNotFoundError(path)
  let info: GgufFileInfo
  try {
    info = await readGgufFileInfo(path, {
      readTensorInfo: true,
      sourceType: 'filesystem',
      logWarnings: false,
      spliceSplitFiles: false,
    })
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message.split('\n')[0]! : String(cause)
    throw new InvalidModelFileError(path, reason, { cause })
  }
  if (info.metadata.general?.architecture == null) {
    throw new InvalidModelFileError(path, 'no general.architecture in the metadata')
  }
  checkTensorBounds(path, info, stats.size)
  return { path, fileSize: stats.size, info, summary: summarize(info) }
}
