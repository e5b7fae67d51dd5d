import type { DescMessage } from '@bufbuild/protobuf'
import { AuditChallengeSchema, AuditProofSchema } from './gen/infraxa/v1/audit_pb.js'
import { CapabilitySchema } from './gen/infraxa/v1/capability_pb.js'
import { ConsensusEvidenceSchema } from './gen/infraxa/v1/consensus_pb.js'
import { SignedEnvelopeSchema } from './gen/infraxa/v1/envelope_pb.js'
import { ErrorMessageSchema } from './gen/infraxa/v1/error_pb.js'
import { FraudProofSchema, FraudVerdictSchema } from './gen/infraxa/v1/fraud_pb.js'
import {
  InferenceFrameSchema,
  InferenceRequestSchema,
  InferenceResponseSchema,
  TokenChunkSchema,
} from './gen/infraxa/v1/inference_pb.js'
import { PaymentAckSchema, PaymentVoucherSchema } from './gen/infraxa/v1/payment_pb.js'
import { ReceiptSchema } from './gen/infraxa/v1/receipt_pb.js'
import { ZkTranscriptProofSchema } from './gen/infraxa/v1/zk_pb.js'

const KiB = 1024
const MiB = 1024 * KiB

/**
 * Every message kind of the protocol: its schema, its signature domain (for kinds that carry a claim
 * and travel signed) and the largest encoding accepted. Limits are checked before decoding.
 */
export const MESSAGE_KINDS = {
  INFERENCE_REQUEST: {
    schema: InferenceRequestSchema,
    domain: 'infraxa/v1/inference-request',
    maxBytes: 256 * KiB,
  },
  TOKEN_CHUNK: { schema: TokenChunkSchema, domain: undefined, maxBytes: 4 * KiB },
  INFERENCE_RESPONSE: {
    schema: InferenceResponseSchema,
    domain: 'infraxa/v1/inference-response',
    maxBytes: 1 * MiB,
  },
  INFERENCE_FRAME: { schema: InferenceFrameSchema, domain: undefined, maxBytes: 1 * MiB + 8 * KiB },
  AUDIT_CHALLENGE: {
    schema: AuditChallengeSchema,
    domain: 'infraxa/v1/audit-challenge',
    maxBytes: 16 * KiB,
  },
  AUDIT_PROOF: { schema: AuditProofSchema, domain: 'infraxa/v1/audit-proof', maxBytes: 1 * MiB },
  FRAUD_PROOF: { schema: FraudProofSchema, domain: 'infraxa/v1/fraud-proof', maxBytes: 3 * MiB },
  FRAUD_VERDICT: { schema: FraudVerdictSchema, domain: 'infraxa/v1/fraud-verdict', maxBytes: 8 * KiB },
  CAPABILITY: { schema: CapabilitySchema, domain: 'infraxa/v1/capability', maxBytes: 64 * KiB },
  ZK_PROOF: { schema: ZkTranscriptProofSchema, domain: 'infraxa/v1/zk-proof', maxBytes: 256 * KiB },
  RECEIPT: { schema: ReceiptSchema, domain: 'infraxa/v1/receipt', maxBytes: 6 * MiB },
  // Up to 7 other exchanges of at most ~1.3 MiB each.
  CONSENSUS_EVIDENCE: { schema: ConsensusEvidenceSchema, domain: undefined, maxBytes: 10 * MiB },
  PAYMENT_VOUCHER: {
    schema: PaymentVoucherSchema,
    domain: 'infraxa/v1/payment-voucher',
    maxBytes: 8 * KiB,
  },
  PAYMENT_ACK: { schema: PaymentAckSchema, domain: undefined, maxBytes: 1 * KiB },
  ERROR: { schema: ErrorMessageSchema, domain: undefined, maxBytes: 8 * KiB },
  SIGNED_ENVELOPE: { schema: SignedEnvelopeSchema, domain: undefined, maxBytes: 6 * MiB + 4 * KiB },
} as const satisfies Record<string, { schema: DescMessage; domain: string | undefined; maxBytes: number }>

export type MessageKind = keyof typeof MESSAGE_KINDS

/** Kinds that carry a claim and therefore only travel inside a signed envelope. */
export type SignedKind = {
  [K in MessageKind]: (typeof MESSAGE_KINDS)[K]['domain'] extends string ? K : never
}[MessageKind]

/** Size limit in bytes of one encoded message of `kind`. */
export function maxBytesOf(kind: MessageKind): number {
  return MESSAGE_KINDS[kind].maxBytes
}

/** Overhead an envelope adds around its payload: domain, type, key, signature and tags. */
export const ENVELOPE_OVERHEAD_BYTES = 512
