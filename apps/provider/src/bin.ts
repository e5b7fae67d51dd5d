#!/usr/bin/env node
import { main } from './cli.js'

const code = await main(process.argv.slice(2))
// A failed start may leave handles open (a half-started node, timers): a failure ends the process.
if (code !== 0) process.exit(code)
process.exitCode = code
