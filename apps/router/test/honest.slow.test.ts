import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { createProvider, type Provider } from '@infraxa/provider'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRouter, type Router } from '../src/index.js'
import { generatedModel, storiesPath, tempDir } from './support/index.js'

describe('honest providers are never penalised', () => {
  const dir = tempDir('honest')
  let stories: Provider
  let generated: Provider
  let router: Router

  beforeAll(async () => {
    const path = await generatedModel(dir, 5)
    stories = await createProvider({
      models: [{ path: storiesPath(), name: 'stories260K' }],
      dataDir: join(dir, 's'),
      threads: 1,
    })
    generated = await createProvider({
      models: [{ path, name: 'generated' }],
      dataDir: join(dir, 'g'),
      threads: 1,
    })
    router = await createRouter({
      dataDir: join(dir, 'router'),
      http: false,
      bootstrap: [...stories.node.multiaddrs, ...generated.node.multiaddrs].map(String),
      verifyModels: [{ path: storiesPath() }, { path }],
      threads: 1,
      auditSteps: 8,
    })
  })

  afterAll(async () => {
    await router?.stop()
    await stories?.stop()
    await generated?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('200 audited jobs (greedy and sampled, two models) all verify', async () => {
    const words = [
      'Once',
      'The dog',
      'A girl named Lily',
      'Tom had a ball',
      'In the park',
      'One day',
      'The sun',
      'Mom said',
    ]
    const verdicts: string[] = []
    for (let i = 0; i < 200; i++) {
      const result = await router.api.complete(
        {
          model: i % 4 === 3 ? 'generated' : 'stories260K',
          messages: [{ role: 'user', content: `${words[i % words.length]} ${i}` }],
          maxTokens: 8 + (i % 5) * 6,
          temperature: [0, 0.7, 1, 1.3][i % 4]!,
          seed: BigInt(i),
          stop: [],
          verification: 'merkle',
          stream: false,
          streamMode: 'verified',
        },
        undefined,
        AbortSignal.timeout(60_000),
      )
      verdicts.push(result.receipt.verdict)
      expect(result.receipt.attempts).toBe(1)
    }
    expect(verdicts.filter((v) => v === 'verified')).toHaveLength(200)
    for (const p of [stories, generated]) {
      const rep = router.reputation.get(p.peerId)
      expect(rep.banned).toBe(false)
      expect(router.reputation.events(p.peerId, 500).filter((e) => e.event !== 'success')).toEqual([])
    }
  })
})
