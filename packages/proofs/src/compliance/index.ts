export {
  type ComplianceCase,
  type ComplianceOutcome,
  type ComplianceReport,
  runModeCompliance,
} from './suite.js'
