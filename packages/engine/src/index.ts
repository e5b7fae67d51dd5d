export { AnswerText, type AnswerTokenizer } from './answer-text.js'
export {
  CALIBRATED_TOLERANCE,
  CROSS_BUILD_TOLERANCE,
  type DistributionTolerance,
  EXACT_REPLAY_TOLERANCE,
  FLOAT_WEIGHTS_TOLERANCE,
  isFloatWeights,
  OTHER_CPU_BUILD_QUANTISED_TOLERANCE,
  STEPWISE_AUDIT_TRIGGER,
  toleranceForOtherCpuBuild,
  toleranceForQuantization,
} from './calibrated-tolerance.js'
export { type DistributionDistance, distributionDistance } from './distribution-distance.js'
export type { EngineInfo } from './engine-info.js'
export {
  DEFAULT_MAX_TOKENS,
  DEFAULT_TOP_K,
  EngineModel,
  type GenerateOptions,
  type GenerationPrompt,
} from './engine-model.js'
export * from './errors.js'
export {
  type FinishReason,
  Generation,
  type GenerationResult,
  type GenerationTimings,
} from './generation.js'
export { type ChooseToken, chooseGreedy, type GenerationStep } from './generation-step.js'
export type { GgufSummary } from './gguf-inspection.js'
export type { GpuBackend } from './llama-runtime.js'
export { type LoadModelOptions, loadModel, type ModelLocation } from './load-model.js'
export { type ModelIdentity, modelIdentity, sha256File } from './model-identity.js'
export type { DownloadOptions, LoadProgress } from './model-source.js'
export { defaultThreads, PINNED_NUMERIC_SETTINGS } from './numeric-settings.js'
export { type ChatMessage, plainPromptText } from './prompt-template.js'
export type { ReplayRequest } from './replay-positions.js'
export { perturbModelWeights, type WeightChange } from './test-model/perturb-weights.js'
export { quantizeModel } from './test-model/quantize-model.js'
export {
  BENCH_TEST_MODEL_CONFIG,
  LARGE_BENCH_TEST_MODEL_CONFIG,
  type TestModelConfig,
  type TestModelSummary,
  TINY_TEST_MODEL_CONFIG,
  testModelBytes,
  writeTestModel,
} from './test-model/write-test-model.js'
export {
  BATCHED_STEPWISE_MAX_MARGIN,
  batchedStepwiseNoise,
  EXACT_REPLAY_MISMATCH_RATE,
  type HardwareClass,
  OTHER_BUILD_MISMATCH_RATE,
  SAME_BUILD_MISMATCH_RATE,
  type TokenNoiseModel,
  tokenNoiseFor,
} from './token-noise.js'
export { compareTokenLogprobs, MIN_LOGPROB, type TokenLogprob } from './top-k.js'
