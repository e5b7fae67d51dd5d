/**
 * Bench helpers: real provider and router processes started from the apps' bins (loopback only), and latency
 * statistics.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'

const PROVIDER_BIN = resolve(import.meta.dirname, '../../provider/bin/infraxa-provider.js')
const ROUTER_BIN = resolve(import.meta.dirname, '../bin/infraxa-router.js')

export interface ProviderProcess {
  readonly peerId: string
  readonly pid: number
  /** The names of the models it serves, as it printed them. */
  readonly models: string[]
  readonly multiaddrs: string[]
  readonly metricsUrl: string
  stop(): Promise<void>
  /** Sends a signal (e.g. `SIGKILL` for a crash drill) and resolves once the process has exited. */
  kill(signal: NodeJS.Signals): Promise<void>
}

/** How {@link spawnBin} starts a process. */
export interface SpawnOptions {
  nodeArgs?: string[]
  env?: Record<string, string>
  /** A network namespace to run in (`ip netns exec`; needs root). */
  netns?: string
}

/**
 * Starts one of the apps' bins (or another Node script); resolves with its stdout so far once `ready`
 * matches it (and a stop that sends SIGTERM, then SIGKILL after 5 s), rejects if it exits or takes
 * longer than `timeoutMs`. `nodeArgs` go before the script (e.g. `--import` hooks), `env` on top of ours;
 * with `netns` it runs under `ip netns exec <netns>` (which execs it: the child is the Node process).
 */
export function spawnBin(
  bin: string,
  args: string[],
  ready: RegExp,
  timeoutMs: number,
  { nodeArgs = [], env = {}, netns }: SpawnOptions = {},
): Promise<{
  out: string
  pid: number
  stop(): Promise<void>
  kill(signal: NodeJS.Signals): Promise<void>
}> {
  const command = [process.execPath, ...nodeArgs, bin, ...args]
  if (netns !== undefined) command.unshift('ip', 'netns', 'exec', netns)
  const child: ChildProcess = spawn(command[0]!, command.slice(1), {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_LLAMA_CPP_SKIP_DOWNLOAD: 'true', ...env },
  })
  let out = ''
  let err = ''
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${bin} did not start in ${timeoutMs} ms: ${err.slice(-500)}`))
    }, timeoutMs)
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString()
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${bin} exited with ${code}: ${err.slice(-500)}`))
    })
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      if (!ready.test(out)) return
      clearTimeout(timer)
      child.removeAllListeners('exit')
      resolvePromise({
        out,
        pid: child.pid!,
        kill: (signal) =>
          new Promise<void>((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done()
            child.once('exit', () => done())
            child.kill(signal)
          }),
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done()
            child.once('exit', () => done())
            child.kill('SIGTERM')
            setTimeout(() => child.kill('SIGKILL'), 5_000).unref()
          }),
      })
    })
  })
}

/** Starts `infraxa-provider` with these arguments (plus loopback `--metrics 0`); resolves once it listens. */
export async function spawnProvider(
  args: string[],
  timeoutMs = 60_000,
  options: SpawnOptions = {},
): Promise<ProviderProcess> {
  const { out, pid, stop, kill } = await spawnBin(
    PROVIDER_BIN,
    [...args, '--metrics', '0'],
    /metrics on \S+\/metrics/,
    timeoutMs,
    options,
  )
  const multiaddrs = [...out.matchAll(/listening on (\S+)/g)].map((m) => m[1]!)
  return {
    // The last /p2p/ component: a relayed address names the relay first.
    peerId: /\/p2p\/(\w+)$/.exec(multiaddrs[0] ?? '')?.[1] ?? '',
    pid,
    models: [...out.matchAll(/^serving (\S+)/gm)].map((m) => m[1]!),
    multiaddrs,
    metricsUrl: /metrics on (\S+)\/metrics/.exec(out)![1]!,
    stop,
    kill,
  }
}

export interface RouterProcess {
  readonly url: string
  /** The libp2p addresses it printed at start. */
  readonly multiaddrs: string[]
  stop(): Promise<void>
  kill(signal: NodeJS.Signals): Promise<void>
}

/** Starts `infraxa-router` with these arguments; resolves with its HTTP URL once it serves. */
export async function spawnRouter(
  args: string[],
  timeoutMs = 60_000,
  options: SpawnOptions = {},
): Promise<RouterProcess> {
  const { out, stop, kill } = await spawnBin(ROUTER_BIN, args, /HTTP API on \S+/, timeoutMs, options)
  return {
    url: /HTTP API on (\S+)/.exec(out)![1]!,
    multiaddrs: [...out.matchAll(/listening on (\S+)/g)].map((m) => m[1]!),
    stop,
    kill,
  }
}

/**
 * CPU time a process has used so far, all its threads, in ms (Linux `/proc/<pid>/stat` utime + stime,
 * at the kernel's 100 Hz clock: 10 ms resolution).
 */
export function processCpuMs(pid: number): number {
  // Fields after the command name (which is in parentheses and may hold spaces): utime is the 12th.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}

/** The q-quantile (0..1) of xs, nearest rank. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}

export const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1))
