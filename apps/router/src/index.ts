export { AnswerStream, type AnswerStreamOptions, type Release } from './answer-stream.js'
export { main } from './cli.js'
export * from './errors.js'
export {
  type CompletionReceipt,
  type CompletionRequest,
  type CompletionResult,
  createHttpServer,
  parseCompletionRequest,
  type RouterApi,
} from './http.js'
export { type KnownProvider, ProviderTable } from './provider-table.js'
export { ReceiptStore } from './receipts.js'
export { type ProviderReputation, ReputationBook, type ReputationEvent, SEVERITY } from './reputation.js'
export { createRouter, type Router, type RouterOptions, type VerifyModelSource } from './router.js'
export { type Candidate, pickProvider, pickWithExploration, selectionScore } from './selection.js'
export { InvalidVrfKeyFileError, loadOrCreateVrfKey } from './vrf-key.js'
