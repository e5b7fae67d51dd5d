import { rmSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { storiesPath, tempDir } from './support/index.js'
import { runToEnd } from './support/run-to-end.js'

const PROVIDER_BIN = resolve(import.meta.dirname, '../../provider/bin/infraxa-provider.js')
const ROUTER_BIN = resolve(import.meta.dirname, '../bin/infraxa-router.js')

/** Runs a bin to its end (killed after 60 s: a hang fails the test). */
const run = (bin: string, args: string[]) => runToEnd(process.execPath, [bin, ...args])

// A port something else holds: the apps must say so in one line and exit, not hang or print stacks.
describe('an address already in use', () => {
  const dir = tempDir('listen')
  let holder: Server
  let port: number
  beforeAll(async () => {
    holder = createServer()
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r))
    port = (holder.address() as { port: number }).port
  })
  afterAll(async () => {
    await new Promise<void>((r) => holder.close(() => r()))
    rmSync(dir, { recursive: true, force: true })
  })

  it('the router exits 1 when its HTTP port is taken, saying so (it used to keep running with no API)', async () => {
    const { code, err } = await run(ROUTER_BIN, [
      '--verify-model',
      storiesPath(),
      '--http',
      `127.0.0.1:${port}`,
      '--data-dir',
      join(dir, 'router'),
    ])
    expect(code).toBe(1)
    expect(err).toContain(`cannot serve HTTP on 127.0.0.1:${port}: the address is in use`)
    expect(err).not.toMatch(/\n\s+at /)
  }, 90_000)

  it('the provider exits 1 when its listen address is taken, naming it without a stack trace', async () => {
    const { code, err } = await run(PROVIDER_BIN, [
      '--model',
      storiesPath(),
      '--listen',
      `/ip4/127.0.0.1/tcp/${port}`,
      '--data-dir',
      join(dir, 'provider'),
      '--threads',
      '1',
    ])
    expect(code).toBe(1)
    expect(err).toContain(`cannot listen on /ip4/127.0.0.1/tcp/${port} (EADDRINUSE`)
    expect(err).not.toMatch(/\n\s+at |faultTolerance/)
    // Not a terminal: progress comes as whole lines, and the error on a line of its own.
    expect(err).not.toContain('\r')
    expect(err).toMatch(/(^|\n)infraxa-provider: cannot listen/)
  }, 90_000)
})
