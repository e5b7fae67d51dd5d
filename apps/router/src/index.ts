export { AnswerStream, type AnswerStreamOptions, type Release } from './answer-stream.js'
export { main } from './cli.js'
export * from './errors.js'
export { createHttpServer, type HttpLimits, type RouterApi } from './http.js'
export {
  CHAT_PARAMETERS,
  type CompletionRequest,
  type ParameterSupport,
  parseCompletionRequest,
  parseTextCompletionRequest,
  TEXT_COMPLETION_PARAMETERS,
} from './openai-request.js'
export {
  type CompletionReceipt,
  type CompletionResult,
  completionBody,
  textCompletionBody,
  textLogprobs,
} from './openai-response.js'
export { Payer, type RouterPaymentOptions } from './payer.js'
export { type KnownProvider, ProviderTable } from './provider-table.js'
export { ReceiptStore } from './receipts.js'
export { type ProviderReputation, ReputationBook, type ReputationEvent, SEVERITY } from './reputation.js'
export { createRouter, type Router, type RouterOptions, type VerifyModelSource } from './router.js'
export { type Candidate, pickProvider, pickWithExploration, selectionScore } from './selection.js'
export { type LedgerEvent, type RouterChainOptions, StakeLedger } from './stake-ledger.js'
export { TokenEvidence } from './token-evidence.js'
export { InvalidVrfKeyFileError, loadOrCreateVrfKey } from './vrf-key.js'
