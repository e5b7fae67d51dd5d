import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { createNode, type InfraxaNode } from '@infraxa/p2p'
import {
  create,
  ed25519Signer,
  encodeEnvelope,
  InferenceRequestSchema,
  PROTOCOL_IDS,
  RemoteError,
  signEnvelope,
} from '@infraxa/protocol'
import { createProvider, type Provider } from '@infraxa/provider'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRouter, type Router } from '../src/index.js'
import { chat, storiesPath, tempDir } from './support/index.js'

describe('attack suite at the network edge', () => {
  const dir = tempDir('attacks')
  const stopped: Array<{ stop(): Promise<void> }> = []
  let provider: Provider
  let peer: InfraxaNode

  beforeAll(async () => {
    provider = await createProvider({
      models: [{ path: storiesPath(), name: 'stories260K' }],
      dataDir: join(dir, 'p'),
      threads: 1,
    })
    peer = await createNode({ dataDir: join(dir, 'attacker') })
    stopped.push(provider, peer)
  })
  afterAll(async () => {
    for (const s of stopped.reverse()) await s.stop().catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  })

  const request = (
    change: Record<string, unknown> = {},
    signer = ed25519Signer(new Uint8Array(32).fill(5)),
  ) =>
    encodeEnvelope(
      signEnvelope(
        'INFERENCE_REQUEST',
        create(InferenceRequestSchema, {
          jobId: crypto.getRandomValues(new Uint8Array(16)),
          modelHash: provider.models[0]!.hash,
          messages: [{ role: 'user', content: 'Once' }],
          sampling: { temperature: 0, seed: 0n, maxTokens: 4 },
          commitTopK: 8,
          verificationMode: 'merkle',
          routerNonce: new Uint8Array(32),
          deadlineMs: BigInt(Date.now() + 60_000),
          providerPublicKey: provider.publicKey,
          ...change,
        }),
        signer,
      ),
    )

  const expectCode = async (bytes: Uint8Array, code: string) => {
    const frames = peer.requestStream(provider.node.multiaddrs[0]!, PROTOCOL_IDS.inference, bytes, {
      readTimeoutMs: 10_000,
    })
    let error: unknown
    try {
      for await (const _ of frames) {
        // drain
      }
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(RemoteError)
    expect((error as RemoteError).code).toBe(code)
  }

  it('a provider answers malformed, forged, replayed, expired and misaddressed requests with typed ERRORs and keeps serving', async () => {
    await expectCode(new Uint8Array([1, 2, 3, 4, 5]), 'ERR_MALFORMED_MESSAGE')
    const forged = request()
    forged[forged.length - 1]! ^= 1
    await expectCode(forged, 'ERR_INVALID_SIGNATURE')
    await expectCode(request({ deadlineMs: BigInt(Date.now() - 1) }), 'ERR_DEADLINE_EXCEEDED')
    await expectCode(request({ providerPublicKey: new Uint8Array(32).fill(7) }), 'ERR_WRONG_PROVIDER')
    await expectCode(request({ modelHash: new Uint8Array(32) }), 'ERR_UNKNOWN_MODEL')
    await expectCode(request({ verificationMode: 'vibes' }), 'ERR_UNSUPPORTED_MODE')
    await expectCode(request({ commitTopK: 1000 }), 'ERR_LIMIT_EXCEEDED')
    // zk_snark proves sampled tokens only under the poseidon-gumbel rule, without top-p.
    await expectCode(
      request({ verificationMode: 'zk_snark', sampling: { temperature: 0.8, seed: 1n, maxTokens: 4 } }),
      'ERR_UNSUPPORTED_MODE',
    )
    await expectCode(
      request({
        verificationMode: 'zk_snark',
        sampling: { temperature: 0.8, seed: 1n, maxTokens: 4, rule: 1, topP: 0.9 },
      }),
      'ERR_UNSUPPORTED_MODE',
    )
    await expectCode(
      request({ sampling: { temperature: 0, seed: 0n, maxTokens: 100_000 } }),
      'ERR_LIMIT_EXCEEDED',
    )
    const once = request({ jobId: new Uint8Array(16).fill(42) })
    const frames: Uint8Array[] = []
    for await (const f of peer.requestStream(provider.node.multiaddrs[0]!, PROTOCOL_IDS.inference, once))
      frames.push(f)
    expect(frames.length).toBeGreaterThan(1)
    await expectCode(once, 'ERR_DUPLICATE_JOB')
  })

  it('an audit from anyone but the job’s router is refused', async () => {
    const frames: Uint8Array[] = []
    const jobId = new Uint8Array(16).fill(43)
    for await (const f of peer.requestStream(
      provider.node.multiaddrs[0]!,
      PROTOCOL_IDS.inference,
      request({ jobId }),
    ))
      frames.push(f)
    const { AuditChallengeSchema } = await import('@infraxa/protocol')
    const challenge = encodeEnvelope(
      signEnvelope(
        'AUDIT_CHALLENGE',
        create(AuditChallengeSchema, { jobId, steps: [0] }),
        ed25519Signer(new Uint8Array(32).fill(6)),
      ),
    )
    await expect(
      peer.request(provider.node.multiaddrs[0]!, PROTOCOL_IDS.audit, challenge),
    ).rejects.toMatchObject({
      code: 'ERR_BAD_CHALLENGE',
    })
  })

  it('a provider that refuses audits fails them and is banned; the router answers from elsewhere', async () => {
    const refuser = await createProvider({
      models: [{ path: storiesPath(), name: 'stories260K' }],
      dataDir: join(dir, 'refuser'),
      threads: 1,
    })
    stopped.push(refuser)
    await refuser.node.unhandle(PROTOCOL_IDS.audit)
    const router: Router = await createRouter({
      dataDir: join(dir, 'router'),
      http: '127.0.0.1:0',
      bootstrap: [...provider.node.multiaddrs, ...refuser.node.multiaddrs].map(String),
      verifyModels: [{ path: storiesPath() }],
      threads: 1,
    })
    stopped.push(router)
    router.reputation.record(provider.peerId, 'success')
    const { json } = await chat(router.url!, {
      model: 'stories260K',
      messages: [{ role: 'user', content: 'Hi' }],
      max_tokens: 8,
    })
    expect(json.infraxa).toMatchObject({ verdict: 'verified', provider: provider.peerId, attempts: 2 })
    const rep = router.reputation.get(refuser.peerId)
    expect(rep.banned).toBe(true)
    expect(rep.banReason).toMatch(/audit not answered/)
  })
})
