import { copyFile, open } from 'node:fs/promises'
import { InvalidArgumentError } from '@infraxa/protocol'
import { GgmlType } from 'node-llama-cpp'
import { inspectGgufFile } from '../gguf-inspection.js'
import { SeededRandom } from './seeded-random.js'

/**
 * Writes a copy of a GGUF model whose F32 weight matrices (tensors of 2+ dimensions) carry added noise
 * of `noise` × each tensor's standard deviation (uniform, deterministic from `seed`): the same
 * architecture, tokenizer and metadata, slightly different weights — the "cheaper model that looks the
 * same" of the attack suite. Other tensors (norms, quantised ones) are copied as they are.
 *
 * @example
 * await perturbModelWeights({ from: 'stories260K.gguf', to: 'noisy.gguf', noise: 0.003, seed: 1 })
 */
export async function perturbModelWeights(options: {
  from: string
  to: string
  /** Noise amplitude relative to each tensor's standard deviation (uniform on ±√3·noise·std). */
  noise: number
  seed: number
}): Promise<{ tensorsChanged: number; weightsChanged: number }> {
  if (!(options.noise >= 0) || !Number.isFinite(options.noise))
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
      const weights = new Float32Array(bytes.buffer, bytes.byteOffset, count)
      let sum = 0
      let squares = 0
      for (const w of weights) {
        sum += w
        squares += w * w
      }
      const std = Math.sqrt(Math.max(0, squares / count - (sum / count) ** 2))
      const amplitude = Math.sqrt(3) * options.noise * std
      const random = new SeededRandom(options.seed, `perturb/${tensor.name}`)
      for (let i = 0; i < count; i++) weights[i] = weights[i]! + amplitude * random.nextSymmetric()
      await file.write(bytes, 0, bytes.length, at)
      tensorsChanged++
      weightsChanged += count
    }
  } finally {
    await file.close()
  }
  return { tensorsChanged, weightsChanged }
}
