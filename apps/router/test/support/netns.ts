import { execFileSync, spawnSync } from 'node:child_process'

/**
 * Network namespaces for the NAT drills, made and removed by the test itself: they are joined to each
 * other by veth pairs and never to the host, so nothing they send can leave this machine.
 */

function has(tool: string, probe: string[]): boolean {
  return spawnSync(tool, probe, { stdio: 'ignore' }).status === 0
}

/** Installs a Debian package with apt-get when `tool` is missing (CI machines start bare). */
export function ensureTool(tool: string, probe: string[], debianPackage: string): boolean {
  if (has(tool, probe)) return true
  if (!has('apt-get', ['--version'])) return false
  console.warn(`[netns] \`${tool}\` is missing: installing ${debianPackage} with apt-get`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env, timeout: 180_000 })
  spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', debianPackage], {
    stdio: 'ignore',
    env,
    timeout: 180_000,
  })
  return has(tool, probe)
}

/**
 * Why namespace tests cannot run here, or undefined when they can. Only a missing privilege (or
 * platform) is a reason to skip: a missing tool that apt-get cannot install fails the test instead.
 */
export function namespaceSkipReason(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`
  if (process.getuid?.() !== 0)
    return 'creating network namespaces needs root (run the tests as root to include it)'
  if (!ensureTool('ip', ['-V'], 'iproute2')) return undefined
  const probe = `ixa-probe-${process.pid}`
  const added = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' })
  if (added.status !== 0) return `cannot create network namespaces here: ${added.stderr.trim()}`
  spawnSync('ip', ['netns', 'del', probe])
  return undefined
}

export function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] })
}

/** Runs a command inside a namespace and returns its stdout. */
export function inNamespace(ns: string, command: string[], input?: string): string {
  return execFileSync('ip', ['netns', 'exec', ns, ...command], {
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(input !== undefined && { input }),
  })
}

/** Creates namespaces, with `lo` up in each. */
export function addNamespaces(names: readonly string[]): void {
  for (const ns of names) {
    ip('netns', 'add', ns)
    ip('-n', ns, 'link', 'set', 'lo', 'up')
  }
}

/** Deletes namespaces (their veth ends go with them); returns those still listed afterwards. */
export function deleteNamespaces(names: readonly string[]): string[] {
  for (const ns of names) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' })
  const listed = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout
  return names.filter((ns) => listed.includes(ns))
}

/** A veth pair between two namespaces, with an IPv6 address on each end (no duplicate detection). */
export function link(
  [nsA, ifA, addrA]: readonly [string, string, string],
  [nsB, ifB, addrB]: readonly [string, string, string],
): void {
  ip('link', 'add', ifA, 'netns', nsA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB)
  for (const [ns, iface, address] of [
    [nsA, ifA, addrA],
    [nsB, ifB, addrB],
  ] as const) {
    ip('-n', ns, 'addr', 'add', address, 'dev', iface, 'nodad')
    ip('-n', ns, 'link', 'set', iface, 'up')
  }
}

/** Turns IPv6 forwarding on in a namespace (it is off in a new one). */
export function forwardIpv6(ns: string): void {
  inNamespace(ns, ['sh', '-c', 'echo 1 > /proc/sys/net/ipv6/conf/all/forwarding'])
}
