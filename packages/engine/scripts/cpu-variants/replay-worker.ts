/**
 * Child process of the calibration: replays committed generations with the engine loaded from a
 * CPU-variant sandbox (node-llama-cpp redirected by register-redirect.mjs). Reads a job as JSON from
 * stdin, writes `{ build, distributions }` as JSON to stdout.
 */
import { text } from 'node:stream/consumers'
import { loadModel } from '../../src/index.js'

interface Job {
  path: string
  threads: number
  contextSize: number
  topK: number
  replays: Array<{ promptTokens: number[]; outputTokens: number[] }>
}

const job = JSON.parse(await text(process.stdin)) as Job
const model = await loadModel({ path: job.path, threads: job.threads, contextSize: job.contextSize })
const distributions = []
for (const { promptTokens, outputTokens } of job.replays) {
  const positions = outputTokens.map((_, t) => t)
  distributions.push(await model.replay({ promptTokens, outputTokens, positions, topK: job.topK }))
}
process.stdout.write(JSON.stringify({ build: model.engineInfo.build, distributions }))
await model.dispose()
