export { main } from './cli.js'
export * from './errors.js'
export { type HeldVoucher, PaymentInbox, type ProviderPaymentOptions } from './payments.js'
export {
  createProvider,
  type DishonestBehaviour,
  type ModelSource,
  type Provider,
  type ProviderLimits,
  type ProviderOptions,
} from './provider.js'
export { type BondedStake, bondStake, type ProviderChainOptions } from './stake.js'
export { type StoredJob, TranscriptStore } from './transcript-store.js'
