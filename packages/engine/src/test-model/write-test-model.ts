import { InvalidArgumentError } from '@infraxa/protocol'
import { type GgufTensor, type GgufValue, ggufBytes, writeGguf } from './gguf-writer.js'
import { quantizeQ8_0 } from './q8-0.js'
import { SeededRandom } from './seeded-random.js'
import {
  buildTestVocabulary,
  MIN_TEST_VOCABULARY_SIZE,
  TEST_VOCABULARY_SPECIAL_IDS,
} from './test-vocabulary.js'

/** Shape and weights of a generated llama-architecture test model. */
export interface TestModelConfig {
  /** Fixes every weight: the same config always gives byte-identical files. */
  seed: number
  /** Vocabulary size, at least 260 (specials, 256 byte tokens, text pieces). */
  vocab: number
  /** Embedding width; a multiple of `heads` (and of 32 for `q8_0`). */
  dim: number
  /** Number of transformer blocks. */
  layers: number
  /** Feed-forward width (a multiple of 32 for `q8_0`). */
  ff: number
  /** Weight type of the matrices; norms stay F32. The same seed gives the same weights before quantisation. */
  type: 'f32' | 'q8_0'
  /** Attention heads; default `dim / 32` (at least 1). Head size must be even (RoPE). */
  heads?: number
  /** Key/value heads (grouped-query attention); default `heads`. */
  kvHeads?: number
  /** `llama.context_length`; default 2048. */
  contextLength?: number
  /** A Jinja chat template to store as `tokenizer.chat_template`; default none (the plain template applies). */
  chatTemplate?: string
}

/** What was generated. */
export interface TestModelSummary {
  /** `general.name` written into the file. */
  name: string
  /** Total number of weights over all tensors. */
  parameterCount: number
  /** Size of the GGUF file in bytes. */
  fileSize: number
}

/**
 * A ~60M-parameter configuration (Q8_0, 32000-token vocabulary, 8 heads of 64 like real models) for the
 * benchmarks; too slow for tests.
 */
export const BENCH_TEST_MODEL_CONFIG: TestModelConfig = Object.freeze({
  seed: 60,
  vocab: 32000,
  dim: 512,
  layers: 8,
  ff: 1536,
  heads: 8,
  type: 'q8_0',
})

/**
 * A ~270M-parameter configuration (Q8_0, 32000-token vocabulary, 16 heads of 64) whose output layer is
 * 12% of the weights — nearer real llamas (2–6% from 1B up) than {@link BENCH_TEST_MODEL_CONFIG} (27%):
 * for benchmarks of what scales with the vocabulary (scoring every token costs one output row each).
 */
export const LARGE_BENCH_TEST_MODEL_CONFIG: TestModelConfig = Object.freeze({
  seed: 270,
  vocab: 32000,
  dim: 1024,
  layers: 16,
  ff: 2816,
  heads: 16,
  type: 'q8_0',
})

/** A tiny configuration (vocab 512, dim 64, 2 layers) that generates in milliseconds; used by most tests. */
export const TINY_TEST_MODEL_CONFIG: TestModelConfig = Object.freeze({
  seed: 1,
  vocab: 512,
  dim: 64,
  layers: 2,
  ff: 128,
  type: 'q8_0',
})

/**
 * Spread (in nats) of the output logits over the vocabulary. Weights are uniform with std 1/sqrt(fan-in)
 * (embeddings: 1), so attention scores have unit spread, and the output matrix is scaled so that logits
 * of the RMS-normalised state spread by this much: next-token distributions are neither flat nor one-hot.
 */
const OUTPUT_LOGIT_STD = 3
const UNIFORM_STD = 1 / Math.sqrt(3)

interface Resolved extends Required<Omit<TestModelConfig, 'chatTemplate'>> {
  chatTemplate: string | undefined
  headDim: number
  kvDim: number
}

function resolve(config: TestModelConfig): Resolved {
  const heads = config.heads ?? Math.max(1, Math.floor(config.dim / 32))
  const kvHeads = config.kvHeads ?? heads
  const resolved = {
    heads,
    kvHeads,
    contextLength: 2048,
    ...config,
    chatTemplate: config.chatTemplate,
    headDim: 0,
    kvDim: 0,
  }
  const integers = ['seed', 'vocab', 'dim', 'layers', 'ff', 'heads', 'kvHeads', 'contextLength'] as const
  for (const key of integers) {
    const value = resolved[key]
    if (!Number.isSafeInteger(value) || value < (key === 'seed' ? 0 : 1)) {
      throw new InvalidArgumentError(`test model ${key} must be a positive integer, got ${value}`)
    }
  }
  if (resolved.vocab < MIN_TEST_VOCABULARY_SIZE) {
    throw new InvalidArgumentError(`test model vocab must be at least ${MIN_TEST_VOCABULARY_SIZE}`)
  }
  if (resolved.type !== 'f32' && resolved.type !== 'q8_0') {
    throw new InvalidArgumentError(`test model type must be 'f32' or 'q8_0', got ${String(resolved.type)}`)
  }
  if (resolved.dim % heads !== 0 || (resolved.dim / heads) % 2 !== 0) {
    throw new InvalidArgumentError(
      `test model dim ${resolved.dim} must split into ${heads} heads of even size`,
    )
  }
  if (heads % kvHeads !== 0) throw new InvalidArgumentError(`heads ${heads} must be a multiple of kvHeads`)
  if (resolved.type === 'q8_0' && (resolved.dim % 32 !== 0 || resolved.ff % 32 !== 0)) {
    throw new InvalidArgumentError('q8_0 test models need dim and ff to be multiples of 32')
  }
  resolved.headDim = resolved.dim / heads
  resolved.kvDim = resolved.headDim * kvHeads
  return resolved
}

function modelName(c: Resolved): string {
  return `infraxa-test-s${c.seed}-v${c.vocab}-d${c.dim}-l${c.layers}-f${c.ff}-${c.type}`
}

function metadata(c: Resolved): Array<readonly [string, GgufValue]> {
  const vocabulary = buildTestVocabulary(c.vocab)
  return [
    ['general.architecture', { type: 'string', value: 'llama' }],
    ['general.name', { type: 'string', value: modelName(c) }],
    ['general.file_type', { type: 'u32', value: c.type === 'f32' ? 0 : 7 }],
    ['llama.context_length', { type: 'u32', value: c.contextLength }],
    ['llama.embedding_length', { type: 'u32', value: c.dim }],
    ['llama.feed_forward_length', { type: 'u32', value: c.ff }],
    ['llama.block_count', { type: 'u32', value: c.layers }],
    ['llama.attention.head_count', { type: 'u32', value: c.heads }],
    ['llama.attention.head_count_kv', { type: 'u32', value: c.kvHeads }],
    ['llama.attention.layer_norm_rms_epsilon', { type: 'f32', value: 1e-5 }],
    ['llama.rope.dimension_count', { type: 'u32', value: c.headDim }],
    ['tokenizer.ggml.model', { type: 'string', value: 'llama' }],
    ['tokenizer.ggml.tokens', { type: 'array', itemType: 'string', values: vocabulary.tokens }],
    ['tokenizer.ggml.scores', { type: 'array', itemType: 'f32', values: vocabulary.scores }],
    ['tokenizer.ggml.token_type', { type: 'array', itemType: 'i32', values: vocabulary.tokenTypes }],
    ['tokenizer.ggml.unknown_token_id', { type: 'u32', value: TEST_VOCABULARY_SPECIAL_IDS.unknown }],
    ['tokenizer.ggml.bos_token_id', { type: 'u32', value: TEST_VOCABULARY_SPECIAL_IDS.bos }],
    ['tokenizer.ggml.eos_token_id', { type: 'u32', value: TEST_VOCABULARY_SPECIAL_IDS.eos }],
    ...(c.chatTemplate === undefined
      ? []
      : [['tokenizer.chat_template', { type: 'string', value: c.chatTemplate }] as const]),
  ]
}

/** A weight matrix `[fanIn, rows]` drawn uniformly with element std `std` (default 1/sqrt(fanIn)), stored as `type`. */
function matrix(
  c: Resolved,
  name: string,
  fanIn: number,
  rows: number,
  std = 1 / Math.sqrt(fanIn),
): GgufTensor {
  return {
    name,
    dims: [fanIn, rows],
    type: c.type,
    data: () => {
      const values = new SeededRandom(c.seed, name).fillSymmetric(
        new Float32Array(fanIn * rows),
        std / UNIFORM_STD,
      )
      return c.type === 'f32' ? new Uint8Array(values.buffer) : quantizeQ8_0(values)
    },
  }
}

/** An RMS-norm weight vector of ones (always F32, as llama.cpp's quantiser leaves norms alone). */
function norm(name: string, dim: number): GgufTensor {
  return { name, dims: [dim], type: 'f32', data: () => new Uint8Array(new Float32Array(dim).fill(1).buffer) }
}

function tensors(c: Resolved): GgufTensor[] {
  const list: GgufTensor[] = [
    matrix(c, 'token_embd.weight', c.dim, c.vocab, 1),
    norm('output_norm.weight', c.dim),
    matrix(c, 'output.weight', c.dim, c.vocab, OUTPUT_LOGIT_STD / Math.sqrt(c.dim)),
  ]
  for (let i = 0; i < c.layers; i++) {
    const p = `blk.${i}`
    list.push(
      matrix(c, `${p}.attn_q.weight`, c.dim, c.dim),
      matrix(c, `${p}.attn_k.weight`, c.dim, c.kvDim),
      matrix(c, `${p}.attn_v.weight`, c.dim, c.kvDim),
      matrix(c, `${p}.attn_output.weight`, c.dim, c.dim),
      norm(`${p}.attn_norm.weight`, c.dim),
      matrix(c, `${p}.ffn_gate.weight`, c.dim, c.ff),
      matrix(c, `${p}.ffn_down.weight`, c.ff, c.dim),
      matrix(c, `${p}.ffn_up.weight`, c.dim, c.ff),
      norm(`${p}.ffn_norm.weight`, c.dim),
    )
  }
  return list
}

function parameterCount(list: readonly GgufTensor[]): number {
  return list.reduce((sum, t) => sum + t.dims.reduce((a, b) => a * b, 1), 0)
}

/**
 * Generates a deterministic llama-architecture GGUF in memory. The same config always gives the same
 * bytes; the F32 and Q8_0 variants of one seed share their weights before quantisation.
 */
export function testModelBytes(config: TestModelConfig): Uint8Array {
  const c = resolve(config)
  return ggufBytes(metadata(c), tensors(c))
}

/**
 * Writes a deterministic llama-architecture GGUF (byte-fallback SentencePiece tokenizer, no chat
 * template) to `path`, streaming one tensor at a time. Tiny configs take milliseconds; the ~60M
 * {@link BENCH_TEST_MODEL_CONFIG} a few seconds.
 *
 * @example
 * await writeTestModel({ path: '/tmp/tiny.gguf', seed: 1, vocab: 512, dim: 64, layers: 2, ff: 128, type: 'q8_0' })
 */
export async function writeTestModel(
  config: TestModelConfig & { path: string },
): Promise<TestModelSummary & { path: string }> {
  const { path, ...rest } = config
  const c = resolve(rest)
  const list = tensors(c)
  const fileSize = await writeGguf(path, metadata(c), list)
  return { path, name: modelName(c), parameterCount: parameterCount(list), fileSize }
}
