/**
 * @infraxa/p2p — the Infraxa transport: libp2p nodes with a persistent Ed25519 identity, discovery of
 * providers by model hash (Kademlia DHT, mDNS), and framed request/response streams with size limits,
 * timeouts, back-pressure, per-peer rate limits and ERROR frames. It knows protocol ids and bytes, not
 * models or proofs.
 *
 * @packageDocumentation
 */
export * from './capabilities.js'
export * from './create-node.js'
export * from './dial-target.js'
export * from './errors.js'
export * from './frame.js'
export * from './frame-reader.js'
export * from './framed-stream.js'
export * from './identity.js'
export * from './mdns-discovery.js'
export * from './model-cid.js'
export * from './model-discovery.js'
export * from './node.js'
export * from './protocol-handler.js'
export * from './rate-limiter.js'
export * from './reachability.js'
export * from './routing-diversity.js'
export * from './signer.js'
export * from './sqlite-datastore.js'
