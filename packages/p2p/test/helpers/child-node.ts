import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const packageRoot = fileURLToPath(new URL('../..', import.meta.url))
const tsconfig = fileURLToPath(new URL('../fixtures/tsconfig.json', import.meta.url))

/** One JSON line a fixture printed. */
export type ChildEvent = Record<string, unknown> & { event: string }

/** A fixture script running in its own Node.js process (optionally inside a network namespace). */
export interface ChildNode {
  readonly process: ChildProcess
  /** Everything printed so far (stdout events and stderr lines), for failure messages. */
  readonly log: string[]
  /** The first event (already printed or still to come) that matches. */
  waitFor(predicate: (event: ChildEvent) => boolean, timeoutMs: number): Promise<ChildEvent>
  /** Closes stdin, sends SIGTERM, and SIGKILL after 3 s. Safe to call twice. */
  stop(): Promise<void>
}

/**
 * Starts `test/fixtures/<fixture>` with `node --import tsx`, passing `config` as JSON in
 * `INFRAXA_TEST_CONFIG`. With `netns`, it runs under `ip netns exec <netns>`.
 */
export function spawnChildNode(
  fixture: string,
  config: unknown,
  options: { netns?: string } = {},
): ChildNode {
  const script = fileURLToPath(new URL(`../fixtures/${fixture}`, import.meta.url))
  const node = [process.execPath, '--import', 'tsx', script]
  const [command, ...args] =
    options.netns === undefined ? node : ['ip', 'netns', 'exec', options.netns, ...node]
  const child = spawn(command!, args, {
    cwd: packageRoot,
    env: { ...process.env, TSX_TSCONFIG_PATH: tsconfig, INFRAXA_TEST_CONFIG: JSON.stringify(config) },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  const events: ChildEvent[] = []
  const log: string[] = []
  const waiters = new Set<() => void>()
  createInterface({ input: child.stdout! }).on('line', (line) => {
    log.push(line)
    try {
      events.push(JSON.parse(line) as ChildEvent)
    } catch {
      return
    }
    for (const wake of waiters) wake()
  })
  createInterface({ input: child.stderr! }).on('line', (line) => log.push(`stderr: ${line}`))
  const exited = once(child, 'exit')
  child.on('exit', () => {
    for (const wake of waiters) wake()
  })

  return {
    process: child,
    log,
    async waitFor(predicate, timeoutMs) {
      const deadline = Date.now() + timeoutMs
      while (true) {
        const found = events.find(predicate)
        if (found !== undefined) return found
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`${fixture} exited (${child.exitCode ?? child.signalCode}):\n${log.join('\n')}`)
        }
        const left = deadline - Date.now()
        if (left <= 0)
          throw new Error(`${fixture}: no matching event within ${timeoutMs} ms:\n${log.join('\n')}`)
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, left)
          function done(): void {
            clearTimeout(timer)
            waiters.delete(done)
            resolve()
          }
          waiters.add(done)
        })
      }
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.stdin?.end()
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 3_000)
      await exited
      clearTimeout(timer)
    },
  }
}
