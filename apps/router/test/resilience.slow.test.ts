import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { loadModel } from '@infraxa/engine'
import { createNode } from '@infraxa/p2p'
import { createFraudProof } from '@infraxa/proofs/modes'
import {
  AuditChallengeSchema,
  create,
  decodeEnvelope,
  encodeEnvelope,
  openEnvelope,
  PROTOCOL_IDS,
  signEnvelope,
} from '@infraxa/protocol'
import { createProvider, type Provider } from '@infraxa/provider'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRouter, type Router } from '../src/index.js'
import { chat, generatedModel, noisyStories, storiesPath, summaryOf, tempDir } from './support/index.js'

const ask = (router: Router, content: string, max_tokens = 16) =>
  chat(router.url!, { model: 'stories260K', messages: [{ role: 'user', content }], max_tokens })

describe('attacks and failures: substitution, restarts, dead providers', () => {
  const dir = tempDir('resilience')
  const stopped: Array<{ stop(): Promise<void> }> = []
  let honest: Provider
  let cheaperModel: string

  beforeAll(async () => {
    cheaperModel = await generatedModel(dir, 99)
    honest = await createProvider({
      models: [{ path: storiesPath(), name: 'stories260K' }],
      dataDir: join(dir, 'honest'),
      threads: 1,
    })
    stopped.push(honest)
  })

  afterAll(async () => {
    for (const s of stopped.reverse()) await s.stop().catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  })

  // A cheater that lies about its file in full: stories260K's hash and its metadata.
  const startCheater = async (name: string, lieAboutMetadata = true) =>
    createProvider({
      models: [{ path: cheaperModel, name: 'stories260K' }],
      dataDir: join(dir, name),
      threads: 1,
      dishonest: {
        claimModelHash: honest.models[0]!.hash,
        ...(lieAboutMetadata && { claimSummary: await summaryOf(storiesPath()) }),
      },
    })

  it('a provider whose record does not describe the model it claims is never selected', async () => {
    const cheater = await startCheater('cheater-naive', false)
    stopped.push(cheater)
    const router = await createRouter({
      dataDir: join(dir, 'router-naive'),
      http: '127.0.0.1:0',
      bootstrap: cheater.node.multiaddrs.map(String),
      verifyModels: [{ path: storiesPath() }],
      threads: 1,
    })
    stopped.push(router)
    const { status, json } = await ask(router, 'Once upon a time')
    expect(status).toBe(503)
    // None was asked, and the error says so (it used to say "1 tried").
    expect(json.error.message).toMatch(/no provider of this model could be asked \(waited \d+ s for one\)/)
    expect(json.error.message).not.toMatch(/tried/)
    expect(cheater.jobsServed).toBe(0)
  })

  it('a substituted model is caught on its first audited job, banned, and nobody is left to answer', async () => {
    const cheater = await startCheater('cheater-alone')
    stopped.push(cheater)
    const router = await createRouter({
      dataDir: join(dir, 'router-alone'),
      http: '127.0.0.1:0',
      bootstrap: cheater.node.multiaddrs.map(String),
      verifyModels: [{ path: storiesPath() }],
      threads: 1,
    })
    stopped.push(router)
    const { status, json } = await ask(router, 'Once upon a time')
    expect(status).toBe(503)
    expect(json.error.code).toBe('ERR_NO_VERIFIED_ANSWER')
    expect(json.error.message).toMatch(/failed verification/)
    const rep = router.reputation.get(cheater.peerId)
    expect(rep.banned).toBe(true)
    expect(rep.banReason).toMatch(/failed_audit/)
    expect(cheater.jobsServed).toBe(1)
  })

  it('with an honest provider beside the cheater, the client still gets a verified answer; a restart keeps the ban', async () => {
    const cheater = await startCheater('cheater')
    stopped.push(cheater)
    const routerDir = join(dir, 'router')
    let router = await createRouter({
      dataDir: routerDir,
      http: '127.0.0.1:0',
      bootstrap: [...honest.node.multiaddrs, ...cheater.node.multiaddrs].map(String),
      verifyModels: [{ path: storiesPath() }],
      threads: 1,
    })
    // The honest provider has a record; the new identity gets the next job (optimism), audited.
    const first = await ask(router, 'The cat')
    expect(first.json.infraxa.verdict).toBe('verified')
    const { json } = await ask(router, 'Once upon a time')
    expect(json.infraxa).toMatchObject({ verdict: 'verified', provider: honest.peerId })
    expect(router.reputation.get(cheater.peerId).banned).toBe(true)
    const healthBefore = (await (await fetch(`${router.url}/health`)).json()) as any
    const receiptId = json.infraxa.receipt_id
    const cleanJobs = router.reputation.get(honest.peerId).cleanJobs
    await router.stop()

    router = await createRouter({
      dataDir: routerDir,
      http: '127.0.0.1:0',
      bootstrap: [...honest.node.multiaddrs, ...cheater.node.multiaddrs].map(String),
      verifyModels: [{ path: storiesPath() }],
      threads: 1,
    })
    stopped.push(router)
    expect(router.reputation.get(cheater.peerId).banned).toBe(true)
    expect(router.reputation.get(honest.peerId).cleanJobs).toBe(cleanJobs)
    expect(((await (await fetch(`${router.url}/v1/receipts/${receiptId}`)).json()) as any).verdict).toBe(
      'verified',
    )
    const healthAfter = (await (await fetch(`${router.url}/health`)).json()) as any
    expect(healthAfter.reputation.find((r: any) => r.banned)?.peer_id).toBe(
      healthBefore.reputation.find((r: any) => r.banned)?.peer_id,
    )
    const again = await ask(router, 'A bird')
    expect(again.json.infraxa).toMatchObject({ provider: honest.peerId, attempts: 1 })
  })

  it('a restarted router finds its providers from disk at once (no bootstrap, no DHT); a damaged record is not trusted', async () => {
    const routerDir = join(dir, 'router-durable')
    const options = {
      http: '127.0.0.1:0',
      verifyModels: [{ path: storiesPath() }],
      threads: 1,
      probationJobs: 0,
    }
    const first = await createRouter({
      ...options,
      dataDir: routerDir,
      bootstrap: honest.node.multiaddrs.map(String),
    })
    expect((await ask(first, 'Once upon a time')).json.infraxa.verdict).toBe('verified')
    // (Earlier tests' providers of the same model may be known too, found through the DHT.)
    const knew = first.providers.serving(honest.models[0]!.hash).map((p) => p.provider.peerId)
    expect(knew).toContain(honest.peerId)
    await first.stop()

    // Nothing to bootstrap from: the provider comes from the router's own database, before any lookup.
    const second = await createRouter({ ...options, dataDir: routerDir })
    try {
      const restored = second.providers.serving(honest.models[0]!.hash).map((p) => p.provider.peerId)
      // (One that cannot be reached drops out as soon as its background check fails.)
      expect(restored).toContain(honest.peerId)
      expect(restored.filter((p) => !knew.includes(p))).toEqual([])
      const { status, json } = await ask(second, 'Once upon a time, again')
      expect(status).toBe(200)
      expect(json.infraxa.verdict).toBe('verified')
    } finally {
      await second.stop()
    }

    // A record changed on disk no longer verifies under the provider's key: forgotten, not used.
    const { DatabaseSync } = await import('node:sqlite')
    const db = new DatabaseSync(join(routerDir, 'router.sqlite'))
    const row = db.prepare('SELECT record FROM known_providers').get() as { record: Uint8Array }
    const damaged = new Uint8Array(row.record)
    damaged[damaged.length - 10]! ^= 0xff
    db.prepare('UPDATE known_providers SET record = ?').run(damaged)
    db.close()
    // libp2p's own peer store (libp2p.sqlite) would reconnect to the provider and fetch a fresh record;
    // without it only the router's record table speaks, and its damaged rows must not.
    for (const suffix of ['', '-wal', '-shm'])
      rmSync(join(routerDir, `libp2p.sqlite${suffix}`), { force: true })
    const third = await createRouter({ ...options, dataDir: routerDir })
    try {
      expect(third.providers.all()).toEqual([])
    } finally {
      await third.stop()
    }
    const after = new DatabaseSync(join(routerDir, 'router.sqlite'))
    expect(after.prepare('SELECT COUNT(*) AS n FROM known_providers').get()).toEqual({ n: 0 })
    after.close()
  })

  it('a restarted provider still answers the audit of an earlier job', async () => {
    const dataDir = join(dir, 'restarting')
    let provider = await createProvider({
      models: [{ path: storiesPath(), name: 'stories260K' }],
      dataDir,
      threads: 1,
    })
    const router = await createRouter({
      dataDir: join(dir, 'router-restart'),
      http: '127.0.0.1:0',
      bootstrap: provider.node.multiaddrs.map(String),
      verifyModels: [{ path: storiesPath() }],
      threads: 1,
    })
    stopped.push(router)
    const { json } = await ask(router, 'Once upon a time', 32)
    expect(json.infraxa.verdict).toBe('verified')
    const peerId = provider.peerId
    const address = provider.node.multiaddrs[0]!.toString().replace(/\/p2p\/.*$/, '')
    await provider.stop()
    provider = await createProvider({
      models: [{ path: storiesPath(), name: 'stories260K' }],
      dataDir,
      threads: 1,
      listen: [address],
    })
    stopped.push(provider)
    expect(provider.peerId).toBe(peerId)
    expect(await router.auditAgain(json.infraxa.receipt_id)).toEqual({ valid: true, reason: '' })
  })

  it('when a provider dies mid-job the router retries elsewhere and still answers', async () => {
    // TEST DOUBLE around the real engine: after three decoded steps the provider's node goes away,
    // as if the process were killed mid-generation.
    const engine = await loadModel({ path: storiesPath(), threads: 1 })
    let victim: Provider | undefined
    let died = false
    const dying = new Proxy(engine, {
      get(target, prop) {
        if (prop !== 'generate') {
          const value = Reflect.get(target, prop, target)
          return typeof value === 'function' ? value.bind(target) : value
        }
        return (options: Parameters<typeof engine.generate>[0]) => {
          const generation = target.generate(options)
          return {
            promptTokens: generation.promptTokens,
            result: generation.result,
            abort: (r?: unknown) => generation.abort(r),
            async *[Symbol.asyncIterator]() {
              let n = 0
              for await (const step of generation) {
                yield step
                if (++n === 3 && !died) {
                  died = true
                  for (const c of victim!.node.libp2p.getConnections()) c.abort(new Error('provider killed'))
                  void victim!.stop()
                }
              }
            },
          }
        }
      },
    })
    victim = await createProvider({
      models: [{ engine: dying, name: 'stories260K' }],
      dataDir: join(dir, 'victim'),
      threads: 1,
    })
    const backup = await createProvider({
      models: [{ path: storiesPath(), name: 'stories260K' }],
      dataDir: join(dir, 'backup'),
      threads: 1,
    })
    stopped.push(backup, victim)
    const router = await createRouter({
      dataDir: join(dir, 'router-dies'),
      http: '127.0.0.1:0',
      bootstrap: [...victim.node.multiaddrs, ...backup.node.multiaddrs].map(String),
      verifyModels: [{ path: storiesPath() }],
      threads: 1,
    })
    stopped.push(router)
    // Give the backup a record so the never-tried victim is picked first.
    router.reputation.record(backup.peerId, 'success')
    const { status, json } = await ask(router, 'Once upon a time', 48)
    expect(died).toBe(true)
    expect(status).toBe(200)
    expect(json.infraxa).toMatchObject({ verdict: 'verified', provider: backup.peerId, attempts: 2 })
    expect(router.reputation.events(victim.peerId)[0]?.event).toMatch(/error|timeout/)
    expect(router.reputation.get(victim.peerId).banned).toBe(false)
    await engine.dispose()
  })
})

describe('fraud_proof mode end to end', () => {
  const dir = tempDir('optimistic')
  const stopped: Array<{ stop(): Promise<void> }> = []
  afterAll(async () => {
    for (const s of stopped.reverse()) await s.stop().catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  })

  it('answers at once (pending), then the watcher settles honest answers verified and proves fraud on a cheater', async () => {
    const honest = await createProvider({
      models: [{ path: storiesPath(), name: 'stories260K' }],
      dataDir: join(dir, 'honest'),
      threads: 1,
    })
    stopped.push(honest)
    const cheater = await createProvider({
      // Same tokenizer as stories260K (so the prompt check passes), other weights: only re-execution tells.
      models: [{ path: await noisyStories(dir, 0.5), name: 'stories260K' }],
      dataDir: join(dir, 'cheater'),
      threads: 1,
      dishonest: { claimModelHash: honest.models[0]!.hash },
    })
    stopped.push(cheater)
    const router = await createRouter({
      dataDir: join(dir, 'router'),
      http: '127.0.0.1:0',
      bootstrap: [...honest.node.multiaddrs, ...cheater.node.multiaddrs].map(String),
      verifyModels: [{ path: storiesPath() }],
      threads: 1,
    })
    stopped.push(router)
    const body = (content: string) => ({
      model: 'stories260K',
      messages: [{ role: 'user', content }],
      max_tokens: 16,
      verification: 'fraud_proof',
    })
    const seen = new Map<string, string>()
    for (const content of ['Once upon a time', 'The cat', 'A dog']) {
      const { status, json } = await chat(router.url!, body(content))
      expect(status).toBe(200)
      expect(json.infraxa.verdict).toBe('pending')
      seen.set(json.infraxa.provider, json.infraxa.receipt_id)
      const settled = await router.whenSettled(json.infraxa.receipt_id)
      const receipt = (await (
        await fetch(`${router.url}/v1/receipts/${json.infraxa.receipt_id}`)
      ).json()) as any
      expect(receipt.verdict).toBe(settled.verdict)
      // The settled receipt holds what the watcher's verdict rests on, for anyone to check again.
      expect(receipt.audit.steps.length).toBeGreaterThan(0)
      expect(receipt.envelopes.challenge.length).toBeGreaterThan(100)
      expect(receipt.envelopes.audit_proof.length).toBeGreaterThan(100)
      if (json.infraxa.provider === cheater.peerId) {
        expect(settled.verdict).toBe('failed')
        expect(settled.reason).toMatch(/fraud proven/)
      } else {
        expect(settled.verdict).toBe('verified')
        // Past the opened steps, every replayed token was scored too.
        expect(receipt.token_check.steps).toBeGreaterThan(0)
      }
    }
    expect(seen.has(cheater.peerId)).toBe(true)
    expect(router.reputation.get(cheater.peerId)).toMatchObject({ banned: true })
    expect(router.reputation.events(cheater.peerId)[0]?.event).toBe('fraud')
    expect(router.reputation.get(honest.peerId).banned).toBe(false)

    // A second router, which never dealt with the cheater, adjudicates a fraud proof submitted by a
    // watcher over /infraxa/fraud/1.0.0 and bans the cheater too; a false accusation is rejected.
    const cheaterReceipt = router.api.receipt(seen.get(cheater.peerId)!) as any
    const honestReceipt = router.api.receipt(seen.get(honest.peerId)!) as any
    const other = await createRouter({
      dataDir: join(dir, 'router-2'),
      http: false,
      bootstrap: honest.node.multiaddrs.map(String),
      verifyModels: [{ path: storiesPath() }],
      threads: 1,
    })
    stopped.push(other)
    const watcher = await createNode({ dataDir: join(dir, 'watcher') })
    stopped.push(watcher)
    const engine = await loadModel({ path: storiesPath(), threads: 1 })
    const accuse = async (receipt: any, provider: Provider) => {
      const request = decodeEnvelope(Buffer.from(receipt.envelopes.request, 'base64'))
      const response = decodeEnvelope(Buffer.from(receipt.envelopes.response, 'base64'))
      const res = openEnvelope('INFERENCE_RESPONSE', response).message
      // The watcher asks the provider to open step 0 as the job's router would, then recomputes it.
      const challenge = create(AuditChallengeSchema, {
        jobId: res.jobId,
        transcriptRoot: res.transcriptRoot,
        steps: [0],
      })
      const challengeEnvelope = signEnvelope('AUDIT_CHALLENGE', challenge, router.node.signer)
      const proof = openEnvelope(
        'AUDIT_PROOF',
        decodeEnvelope(
          await router.node.request(provider.peerId, PROTOCOL_IDS.audit, encodeEnvelope(challengeEnvelope)),
        ),
      ).message
      const [recomputed] = await engine.replay({
        promptTokens: res.promptTokens,
        outputTokens: res.outputTokens,
        positions: [0],
        topK: 8,
      })
      const fraudProof = createFraudProof({
        request,
        response,
        opening: proof.openings[0]!,
        siblings: proof.siblings,
        recomputed: recomputed!,
        bond: 10n,
        challenger: watcher.signer,
      })
      const verdictBytes = await watcher.request(
        other.node.multiaddrs[0]!,
        PROTOCOL_IDS.fraud,
        encodeEnvelope(fraudProof),
      )
      return openEnvelope('FRAUD_VERDICT', decodeEnvelope(verdictBytes), { signer: other.node.publicKey })
        .message
    }
    const proven = await accuse(cheaterReceipt, cheater)
    expect(proven.fraud).toBe(true)
    expect(other.reputation.get(cheater.peerId).banned).toBe(true)
    const rejected = await accuse(honestReceipt, honest)
    expect(rejected.fraud).toBe(false)
    expect(rejected.reason).toMatch(/false accusation/)
    expect(other.reputation.get(honest.peerId).banned).toBe(false)
    await engine.dispose()
  })
})
