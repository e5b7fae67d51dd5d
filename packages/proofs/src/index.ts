/**
 * @infraxa/proofs — verifiable inference without libp2p or an LLM runtime: RFC 6962 Merkle transcripts,
 * RFC 9381 ECVRF audit challenges, recomputable sampling, pluggable verification modes and their
 * compliance suite. Subpaths (`@infraxa/proofs/merkle`, `/transcript`, `/sampling`, `/audit`, `/modes`,
 * `/compliance`) import one part alone.
 */
export * from './audit/index.js'
export * from './compliance/index.js'
export * from './errors.js'
export * from './merkle/index.js'
export * from './modes/index.js'
export * from './sampling/index.js'
export * from './transcript/index.js'
