import { copyFile, open } from 'node:fs/promises'
import { InvalidArgumentError } from '@infraxa/protocol'
import { GgmlType } from 'node-llama-cpp'
import { inspectGgufFile } from '../gguf-inspection.js'
import { float16Bits, float16Value } from './float16.js'
import { dequantizeQ4_0, quantizeQ4_0 } from './q4-0.js'
import { dequantizeQ8_0, quantizeQ8_0 } from './q8-0.js'
import { SeededRandom } from './seeded-random.js'

/**
 * What is done to each F32 weight matrix: added noise, or rounding to what a cheaper weight type holds
 * (`f16`; `q8_0` and `q4_0` per block of 32, as ggml's reference quantisers), stored back as F32.
 */
export type WeightChange = { noise: number; seed: number } | { roundTo: 'f16' | 'q8_0' | 'q4_0' }

function changeWeights(weights: Float32Array, name: string, change: WeightChange): void {
  if ('noise' in change) {
    let sum = 0
    let squares = 0
    for (const w of weights) {
      sum += w
      squares += w * w
    }
    const count = weights.length
    const std = Math.sqrt(Math.max(0, squares / count - (sum / count) ** 2))
    const amplitude = Math.sqrt(3) * change.noise * std
    const random = new SeededRandom(change.seed, `perturb/${name}`)
    for (let i = 0; i < count; i++) weights[i] = weights[i]! + amplitude * random.nextSymmetric()
  } else if (change.roundTo === 'f16') {
    for (let i = 0; i < weights.length; i++) weights[i] = float16Value(float16Bits(weights[i]!))
  } else if (change.roundTo === 'q8_0') {
    const usable = weights.length - (weights.length % 32)
    weights.set(dequantizeQ8_0(quantizeQ8_0(weights.subarray(0, usable))), 0)
  } else {
    const usable = weights.length - (weights.length % 32)
    weights.set(dequantizeQ4_0(quantizeQ4_0(weights.subarray(0, usable))), 0)
  }
}

/**
 * Writes a copy of a GGUF model whose F32 weight matrices (tensors of 2+ dimensions) are changed: noise
 * of `noise` × each tensor's standard deviation added (uniform, deterministic from `seed`), or rounded to
 * what F16, Q8_0 or Q4_0 weights would hold. Same architecture, tokenizer and metadata, still "F32" in
 * the header — the cheaper model that looks the same, a test double of the attack suite. (Rounded weights
 * are a cheaper model's values; llama.cpp's quantised kernels would also round activations, so a real
 * swap differs a little more.) Other tensors are copied as they are.
 *
 * @example
 * await perturbModelWeights({ from: 'stories260K.gguf', to: 'noisy.gguf', noise: 0.003, seed: 1 })
 * await perturbModelWeights({ from: 'stories260K.gguf', to: 'as-q8.gguf', roundTo: 'q8_0' })
 */
export async function perturbModelWeights(
  options: { from: string; to: string } & WeightChange,
): Promise<{ tensorsChanged: number; weightsChanged: number }> {
  if ('noise' in options && (!(options.noise >= 0) || !Number.isFinite(options.noise)))
    throw new InvalidArgumentError(`noise must be a finite number ≥ 0, got ${options.noise}`)
  const { info } = await inspectGgufFile(options.from)
  await copyFile(options.from, options.to)
  const alignment = Number(info.metadata.general?.alignment ?? 32)
  const dataStart = Math.ceil(info.infoEndOffset! / alignment) * alignment
  const file = await open(options.to, 'r+')
  let tensorsChanged = 0
  let weightsChanged = 0
  try {
    for (const tensor of info.tensorInfo ?? []) {
      if (tensor.ggmlType !== GgmlType.F32 || tensor.dimensions.length < 2) continue
      const count = tensor.dimensions.reduce<number>((p, d) => p * Number(d), 1)
      const bytes = Buffer.alloc(count * 4)
      const at = dataStart + Number(tensor.offset)
      await file.read(bytes, 0, bytes.length, at)
      changeWeights(new Float32Array(bytes.buffer, bytes.byteOffset, count), tensor.name, options)
      await file.write(bytes, 0, bytes.length, at)
      tensorsChanged++
      weightsChanged += count
    }
  } finally {
    await file.close()
  }
  return { tensorsChanged, weightsChanged }
}
