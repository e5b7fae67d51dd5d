/** Wire protocol version carried in protocol ids and signature domains. */
export const PROTOCOL_VERSION = '1.0.0'

/** libp2p protocol ids. */
export const PROTOCOL_IDS = {
  inference: '/infraxa/inference/1.0.0',
  audit: '/infraxa/audit/1.0.0',
  fraud: '/infraxa/fraud/1.0.0',
  capabilities: '/infraxa/capabilities/1.0.0',
  payment: '/infraxa/payment/1.0.0',
  kad: '/infraxa/kad/1.0.0',
} as const

export type ProtocolName = keyof typeof PROTOCOL_IDS
