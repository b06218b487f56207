export { runSimulateCommand, parseDays, parsePolicies, formatTable, toRow, UsageError, type SimulateOptions, type SimulateRow } from './command.js';
export {
  runBacktest,
  backtestPolicies,
  defaultSensorSettings,
  backtestSettings,
  type BacktestOptions,
  type BacktestPolicy,
  type BacktestResult,
  type SensorSettings,
  type SubnetResult,
} from './run.js';
export { WorldMirror, rawEniOf, rawRunOf, type Capture } from './mirror.js';
