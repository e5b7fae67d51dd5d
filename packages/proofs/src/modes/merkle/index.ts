export { LOCAL_FAULTS, MERKLE_MODE_ID, merkleMode } from './mode.js'
