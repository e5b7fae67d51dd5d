export {
  adjudicateFraudProof,
  createFraudProof,
  type FraudRuling,
  fraudProofConcerns,
} from './fraud-proof.js'
export { FRAUD_PROOF_MODE_ID, fraudProofMode } from './mode.js'
