/**
 * Bench helpers: real provider processes started from the provider's bin (loopback only), and latency
 * statistics.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { resolve } from 'node:path'

const PROVIDER_BIN = resolve(import.meta.dirname, '../../provider/bin/infraxa-provider.js')

export interface ProviderProcess {
  readonly peerId: string
  readonly multiaddrs: string[]
  readonly metricsUrl: string
  stop(): Promise<void>
}

/** Starts `infraxa-provider` with these arguments (plus loopback `--metrics 0`); resolves once it listens. */
export function spawnProvider(args: string[], timeoutMs = 60_000): Promise<ProviderProcess> {
  const child: ChildProcess = spawn(process.execPath, [PROVIDER_BIN, ...args, '--metrics', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_LLAMA_CPP_SKIP_DOWNLOAD: 'true' },
  })
  let out = ''
  let err = ''
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`provider did not start in ${timeoutMs} ms: ${err.slice(-500)}`))
    }, timeoutMs)
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString()
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`provider exited with ${code}: ${err.slice(-500)}`))
    })
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const metrics = /metrics on (\S+)\/metrics/.exec(out)
      if (metrics === null) return
      clearTimeout(timer)
      child.removeAllListeners('exit')
      const multiaddrs = [...out.matchAll(/listening on (\S+)/g)].map((m) => m[1]!)
      resolvePromise({
        peerId: /\/p2p\/(\w+)/.exec(multiaddrs[0] ?? '')?.[1] ?? '',
        multiaddrs,
        metricsUrl: metrics[1]!,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done()
            child.once('exit', () => done())
            child.kill('SIGTERM')
            setTimeout(() => child.kill('SIGKILL'), 5_000).unref()
          }),
      })
    })
  })
}

/** The q-quantile (0..1) of xs, nearest rank. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}

export const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1))
