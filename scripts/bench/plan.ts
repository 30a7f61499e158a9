// How long and how hard each phase runs: the full plan (for a quiet machine, about
// 15 minutes) and the --quick plan (a smoke run well under 2 minutes).
import type { Plan } from './results.js';

export const FULL_PLAN: Plan = {
  quick: false,
  rounds: 3,
  connections: 50,
  warmupS: 2,
  singleS: 10,
  batchS: 10,
  batchSize: 64,
  rawLines: 1_000_000,
  coldStartRepeats: 3,
  memoryContenders: ['service-cached', 'service', 'peer'],
  memoryStages: 5,
  memoryStageS: 20,
  memoryIdleS: 15,
  overloadMultiple: 10,
  overloadS: 20,
  overloadConnections: 1000,
  sweepMultiples: [0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 3, 5, 10],
  sweepS: 6,
  sweepSettleS: 1,
  sweepConnections: 500,
  probeIntervalMs: 100,
  probeTimeoutMs: 2000,
  profileS: 10,
  requestTimeoutS: 10,
};

export const QUICK_PLAN: Plan = {
  ...FULL_PLAN,
  quick: true,
  rounds: 1,
  warmupS: 1,
  singleS: 3,
  batchS: 3,
  rawLines: 200_000,
  coldStartRepeats: 1,
  memoryContenders: ['service-cached', 'peer'],
  memoryStageS: 1.5,
  memoryIdleS: 2,
  overloadS: 3,
  sweepMultiples: [0.5, 1, 2, 10],
  sweepS: 2,
  sweepSettleS: 0.5,
  profileS: 0,
};
