import type { EngineModel, TokenLogprob } from '../src/index.js'

/** Greedy, but never an end-of-generation token, so every run generates exactly the tokens asked for. */
export function noEog(model: EngineModel) {
  return (topK: readonly TokenLogprob[]) => (topK.find((e) => !model.isEndOfGeneration(e.id)) ?? topK[0]!).id
}
