import {
  type Capability,
  CapabilitySchema,
  create,
  encodeEnvelope,
  InvalidSignatureError,
  PROTOCOL_IDS,
  signEnvelope,
  UnexpectedEnvelopeError,
} from '@infraxa/protocol'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNode, type InfraxaNode, StaleCapabilityError, signerFromPrivateKey } from '../src/index.js'

let provider: InfraxaNode
let router: InfraxaNode

/** The init of a Capability message (what `create` takes). */
type CapabilityInit = NonNullable<Parameters<typeof create<typeof CapabilitySchema>>[1]>

const capability = (fields: Partial<CapabilityInit> = {}): Capability =>
  create(CapabilitySchema, {
    models: [{ modelHash: new Uint8Array(32).fill(1), name: 'm' }],
    ...fields,
  } as CapabilityInit)

beforeAll(async () => {
  ;[provider, router] = await Promise.all([createNode({ dht: false }), createNode({ dht: false })])
  await router.connect(provider.multiaddrs[0]!)
})

afterAll(async () => {
  await Promise.all([provider?.stop(), router?.stop()])
})

describe('capabilities protocol', () => {
  it('serves the CAPABILITY signed by the node key, filling addresses and issue time', async () => {
    await provider.setCapability(capability({ maxPromptTokens: 2048 }))
    const record = await router.fetchCapability(provider.peerId)
    expect(record.peerId.equals(provider.peerId)).toBe(true)
    expect(record.capability.maxPromptTokens).toBe(2048)
    expect(record.capability.listenAddrs).toEqual(provider.multiaddrs.map(String))
    expect(record.capability.issuedAtMs).toBeGreaterThan(0n)
    expect(Buffer.from(record.envelope.publicKey).equals(Buffer.from(provider.publicKey))).toBe(true)
  })

  it('calls a function source for every request, and replaces the record when set again', async () => {
    let load = 0
    await provider.setCapability(() => {
      load += 100
      return capability({ loadPermille: load })
    })
    expect((await router.fetchCapability(provider.peerId)).capability.loadPermille).toBe(100)
    expect((await router.fetchCapability(provider.peerId)).capability.loadPermille).toBe(200)
  })

  it('refuses a record signed by another key than the peer', async () => {
    const impostor = signerFromPrivateKey(await generateKeyPair('Ed25519'))
    await provider.libp2p.unhandle(PROTOCOL_IDS.capabilities)
    await provider.handle(PROTOCOL_IDS.capabilities, () =>
      encodeEnvelope(signEnvelope('CAPABILITY', capability(), impostor)),
    )
    await expect(router.fetchCapability(provider.peerId)).rejects.toBeInstanceOf(UnexpectedEnvelopeError)
  })

  it('refuses a tampered record', async () => {
    await provider.libp2p.unhandle(PROTOCOL_IDS.capabilities)
    await provider.handle(PROTOCOL_IDS.capabilities, () => {
      const envelope = signEnvelope('CAPABILITY', capability(), provider.signer)
      envelope.payload = Uint8Array.from(envelope.payload)
      envelope.payload[envelope.payload.length - 1]! ^= 1
      return encodeEnvelope(envelope)
    })
    await expect(router.fetchCapability(provider.peerId)).rejects.toBeInstanceOf(InvalidSignatureError)
  })

  it('refuses an expired record', async () => {
    await provider.setCapability(capability({ expiresAtMs: BigInt(Date.now() - 1) }))
    await expect(router.fetchCapability(provider.peerId)).rejects.toBeInstanceOf(StaleCapabilityError)
  })
})
